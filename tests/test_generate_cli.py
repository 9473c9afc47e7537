"""``sssd-ecg generate`` end to end with a tiny saved pipeline (and the bundled one where it matters)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import wfdb

from sssd_hf.cli import main
from sssd_hf.export import read_dicom_ecg, read_edf_ecg, read_npz
from sssd_hf.leads import STANDARD_LEADS

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def model_dir(tiny_pipeline, tmp_path):
    path = tmp_path / "model"
    tiny_pipeline.save_pretrained(path)
    return str(path)


def _metadata(out):
    return json.loads((out / "metadata.json").read_text())


def test_generate_writes_wfdb_records_readable_by_wfdb(model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["generate", "--model", model_dir, "--labels", "NORM,SR", "--num", "2", "--out", str(out),
                 "--steps", "3", "--plot"])
    assert code == 0, capsys.readouterr().err
    record = wfdb.rdrecord(str(out / "ecg_0000"))
    assert record.sig_name == list(STANDARD_LEADS)
    assert record.fs == 100 and record.units == ["mV"] * 12 and record.p_signal.shape == (64, 12)
    assert any("NORM" in c and "SR" in c for c in record.comments)
    assert (out / "ecg_0001.hea").is_file() and (out / "ecg_0001.png").is_file()
    assert not [n for n in os.listdir(out) if n.startswith(".tmp")]
    meta = _metadata(out)
    assert meta["complete"] is True and [e["record"] for e in meta["ecgs"]] == ["ecg_0000", "ecg_0001"]


def test_generate_npy_and_csv_formats_and_determinism(model_dir, tmp_path):
    for fmt in ("npy", "csv"):
        assert main(["generate", "--model", model_dir, "--labels", "AFIB", "--out", str(tmp_path / fmt),
                     "--format", fmt, "--steps", "3", "--scheduler", "ddim", "--seed", "7"]) == 0
    data = read_npz(tmp_path / "npy" / "ecgs.npz")
    csv = np.loadtxt(tmp_path / "csv" / "ecg_0000.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(csv[:, 1:].T, data["ecgs"][0], atol=1e-5)
    assert data["labels"] == [["AFIB"]]
    assert data["metadata"]["settings"]["sampler"] == "ddim"


def test_batches_are_written_as_they_come_and_match_one_pipeline_call(model_dir, tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--model", model_dir, "--labels", "SR", "--num", "5", "--batch-size", "2",
                 "--out", str(out), "--format", "npz", "--steps", "4", "--scheduler", "dpm", "--seed", "3"]) == 0
    written = read_npz(out / "ecgs.npz")
    from sssd_hf.schedulers.samplers import make_scheduler

    tiny_pipeline.scheduler = make_scheduler("dpm", tiny_pipeline.scheduler.config)
    direct = tiny_pipeline(labels=["SR"] * 5, num_inference_steps=4, batch_size=2,
                           generator=torch.Generator().manual_seed(3))
    np.testing.assert_allclose(written["ecgs"], direct.ecgs, atol=1e-6)
    assert _metadata(out)["num_ecgs"] == 5 and written["metadata"]["ecgs"][4]["record"] == "ecg_0004"


def test_dicom_and_edf_formats(model_dir, tmp_path):
    for fmt in ("dicom", "edf"):
        assert main(["generate", "--model", model_dir, "--labels", "NORM", "--num", "2", "--out", str(tmp_path / fmt),
                     "--format", fmt, "--steps", "2", "--scheduler", "dpm"]) == 0
    assert main(["generate", "--model", model_dir, "--labels", "NORM", "--num", "2", "--out", str(tmp_path / "npz"),
                 "--format", "npz", "--steps", "2", "--scheduler", "dpm"]) == 0
    ecgs = read_npz(tmp_path / "npz" / "ecgs.npz")["ecgs"]
    dicom = read_dicom_ecg(tmp_path / "dicom" / "ecg_0001.dcm")
    assert dicom["lead_names"] == list(STANDARD_LEADS) and dicom["sampling_rate"] == 200.0
    assert np.abs(dicom["ecg"][:, ::2] - ecgs[1]).max() <= 5e-4 + 1e-9
    edf = read_edf_ecg(tmp_path / "edf" / "ecg_0000.edf")
    assert edf["ecg"].shape == (12, 64) and np.abs(edf["ecg"] - ecgs[0]).max() < 1e-3
    assert "statement: NORM" in edf["annotations"]


def test_pipeline_default_steps_are_honoured_for_ddpm(tiny_pipeline, tmp_path):
    tiny_pipeline.register_to_config(default_num_inference_steps=2)
    tiny_pipeline.save_pretrained(tmp_path / "model")
    assert main(["generate", "--model", str(tmp_path / "model"), "--labels", "SR", "--out", str(tmp_path / "a")]) == 0
    assert _metadata(tmp_path / "a")["settings"]["num_inference_steps"] == 2
    assert main(["generate", "--model", str(tmp_path / "model"), "--labels", "SR", "--out", str(tmp_path / "b"),
                 "--scheduler", "unipc"]) == 0
    assert _metadata(tmp_path / "b")["settings"]["num_inference_steps"] == 20  # the sampler registry's default


def test_an_older_run_is_refused_then_replaced_with_overwrite(model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["generate", "--model", model_dir, "--labels", "SR", "--steps", "2", "--scheduler", "dpm",
            "--out", str(out)]
    assert main(base + ["--num", "3", "--plot"]) == 0
    before = sorted(os.listdir(out))
    capsys.readouterr()
    assert main(base + ["--num", "1"]) == 2
    assert "is not empty" in capsys.readouterr().err and sorted(os.listdir(out)) == before
    assert main(base + ["--num", "1", "--overwrite"]) == 0
    assert sorted(os.listdir(out)) == ["ecg_0000.dat", "ecg_0000.hea", "metadata.json"]
    assert _metadata(out)["num_ecgs"] == 1
    (out / "notes.txt").write_text("mine")
    assert main(base + ["--num", "1", "--overwrite"]) == 2
    assert "did not write (notes.txt)" in capsys.readouterr().err and (out / "ecg_0000.hea").is_file()


def test_bad_output_is_refused_before_the_model_loads(tmp_path, capsys):
    missing_model = str(tmp_path / "nowhere")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    # A broken model folder would fail to load: each error below comes first.
    broken = tmp_path / "broken"
    broken.mkdir()
    assert main(["generate", "--model", missing_model, "--labels", "NORM", "--out", str(tmp_path / "y")]) == 2
    assert "No pipeline folder" in capsys.readouterr().err
    assert main(["generate", "--labels", "SR", "--out", str(a_file)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["generate", "--labels", "SR", "--out", str(a_file / "sub")]) == 2
    assert "cannot be written" in capsys.readouterr().err
    assert a_file.read_text() == "x"


def test_label_step_and_number_errors_come_before_loading_weights(model_dir, tmp_path, capsys):
    # Corrupt weights: any error that is reported instead of the load error was found before loading.
    weights = os.path.join(model_dir, "model", "diffusion_pytorch_model.safetensors")
    with open(weights, "r+b") as f:
        f.truncate(100)
    base = ["generate", "--model", model_dir, "--out", str(tmp_path / "x")]
    cases = [
        (["--labels", "CLBBB"], "Unknown ECG statement code(s) ['CLBBB']"),
        (["--labels", "NORM", "--steps", "0"], "--steps must be at least 1, got 0"),
        (["--labels", "NORM", "--steps", "500"], "steps must be an integer from 1 to 200, got 500"),
        (["--labels", "NORM", "--num", "0"], "--num must be from 1 to 100000, got 0"),
        (["--labels", "NORM", "--num", "1000000000"], "build-dataset"),
        (["--labels", "NORM", "--num", "30000", "--format", "npy"], "--num must be from 1 to 20000"),
        (["--labels", "NORM", "--batch-size", "0"], "--batch-size"),
        (["--steps", "2"], "--labels"),
        (["--labels", "NORM", "--unconditional"], "not both"),
        (["--labels", "NORM", "--device", "quantum"], "not a device name"),
        (["--labels", "NORM"], "cannot load the pipeline"),
    ]
    if not torch.cuda.is_available():
        cases.append((["--labels", "NORM", "--device", "cuda"], "sees no CUDA GPU"))
    for extra, message in cases:
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (extra, err)
    assert not (tmp_path / "x").exists()  # a failed run leaves no empty folder behind


def test_pickled_or_missing_weights_are_refused(model_dir, tmp_path, capsys):
    folder = os.path.join(model_dir, "model")
    weights = os.path.join(folder, "diffusion_pytorch_model.safetensors")
    os.replace(weights, os.path.join(folder, "diffusion_pytorch_model.bin"))
    assert main(["generate", "--model", model_dir, "--labels", "NORM", "--out", str(tmp_path / "x")]) == 2
    assert "only pickled weights (diffusion_pytorch_model.bin)" in capsys.readouterr().err
    os.unlink(os.path.join(folder, "diffusion_pytorch_model.bin"))
    assert main(["generate", "--model", model_dir, "--labels", "NORM", "--out", str(tmp_path / "x")]) == 2
    assert "holds no weights" in capsys.readouterr().err
    shutil.rmtree(os.path.join(model_dir, "scheduler"))
    assert main(["generate", "--model", model_dir, "--labels", "NORM", "--out", str(tmp_path / "x")]) == 2
    assert "scheduler_config.json" in capsys.readouterr().err


def test_interrupted_run_keeps_its_finished_records(model_dir, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "sssd_hf.cli", "generate", "--model", model_dir, "--labels", "SR",
                             "--num", "400", "--batch-size", "1", "--steps", "20", "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (out / "ecg_002.hea").exists() and not (out / "ecg_0002.hea").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "--overwrite" in err
    meta = _metadata(out)
    on_disk = sorted(n[:-4] for n in os.listdir(out) if n.endswith(".hea"))
    assert meta["complete"] is False and meta["num_requested"] == 400
    assert [e["record"] for e in meta["ecgs"]] == on_disk and 3 <= len(on_disk) < 400
    for name in on_disk:
        assert wfdb.rdrecord(str(out / name)).p_signal.shape == (64, 12)
    assert not [n for n in os.listdir(out) if n.startswith(".tmp")]


def test_bundled_pipeline_is_the_default_and_few_steps_work(tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--labels", "SR", "--out", str(out), "--scheduler", "dpm", "--steps", "3"]) == 0
    meta = _metadata(out)
    assert meta["settings"]["model"].endswith("default_pipeline") and meta["num_samples"] == 1000
    assert main(["generate", "--labels", "NORM", "--out", str(tmp_path / "x"), "--steps", "3"]) == 2
