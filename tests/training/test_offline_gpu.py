"""training/offline_gpu/run.sh refuses a machine it cannot train on, in one line, before any work.

(The training it starts is the trainer's own, tested in this folder; the script was run end to end
on CPU in a virtual environment holding only the GPU machine's packages plus the packed wheels:
training/runs/ptbxl-default/README.md.)
"""

import os
import subprocess

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "training", "offline_gpu", "run.sh")


def run_script(cwd, *args):
    return subprocess.run(
        ["bash", os.path.abspath(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**os.environ, "OUT": str(cwd / "out")},
    )


def test_run_needs_a_time_limit(tmp_path):
    result = run_script(tmp_path)
    assert result.returncode != 0
    assert "usage: run.sh SECONDS" in result.stderr


def test_run_refuses_without_the_packed_data(tmp_path):
    result = run_script(tmp_path, "10")
    assert result.returncode == 2
    assert result.stdout.strip() == "error: .device/ptbxl100.tar.xz missing (run pack.sh and carry .device)"


def test_run_refuses_without_wheels(tmp_path):
    (tmp_path / ".device").mkdir()
    (tmp_path / ".device" / "ptbxl100.tar.xz").write_bytes(b"")
    result = run_script(tmp_path, "10")
    assert result.returncode == 2
    assert result.stdout.strip() == "error: no wheels in .whl (run pack.sh and carry .whl)"
    assert not (tmp_path / "out" / "train.log").exists()
