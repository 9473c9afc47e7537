"""The benchmark scripts run and write valid JSON (smoke mode: nothing is timed meaningfully)."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("script, key", [("bench_sampling.py", "sampling"), ("bench_training.py", "training"), ("bench_sampler_quality.py", "quality")])
def test_benchmark_smoke_mode_writes_json(tmp_path, script, key):
    out = tmp_path / "result.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "benchmarks", script), "--smoke", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data[key] and "device" in data["machine"]
    assert all(row[k] > 0 for row in data[key] for k in row if k.endswith(("_per_s", "_s")))
