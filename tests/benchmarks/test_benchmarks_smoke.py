"""The benchmark scripts run and write valid JSON (smoke mode: nothing is timed meaningfully), and they take
their sampler names from the one registry, sssd_hf.schedulers.samplers."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from sssd_hf.schedulers.samplers import SAMPLERS
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("script, key", [("bench_sampling.py", "sampling"), ("bench_training.py", "training"),
                                         ("bench_sampler_quality.py", "quality")])
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


def _load_benchmark(name):
    sys.path.insert(0, os.path.join(REPO_ROOT, "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO_ROOT, "benchmarks", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quality_benchmark_rejects_bad_runs_and_references(tmp_path):
    bench = _load_benchmark("bench_sampler_quality")
    assert bench.parse_run("ddim:20") == ("ddim", 20, "fp32")
    assert bench.parse_run("ddpm:200:bf16") == ("ddpm", 200, "bf16")
    for bad in ("euler:20", "dpmsolver++:20", "ddim", "ddim:twenty", "ddpm:200:fp8", "ddim:20:bf16:x"):
        with pytest.raises(ValueError, match="run"):
            bench.parse_run(bad)
    with pytest.raises(SystemExit):  # argparse: --reference is required outside --smoke
        bench.main(["--runs", "ddim:2", "--out", str(tmp_path / "q.json")])
    with pytest.raises(FileNotFoundError):
        bench.load_reference(str(tmp_path / "missing"))
    assert not (tmp_path / "q.json").exists()


def test_quality_benchmark_uses_the_sampler_registry():
    bench = _load_benchmark("bench_sampler_quality")
    for name, sampler in SAMPLERS.items():
        assert bench.parse_run(f"{name}:10")[0] == name
        assert type(bench.make_scheduler(name)).__name__ == (sampler.scheduler_class or "SSSDECGScheduler")
    assert all(bench.parse_run(run)[0] in SAMPLERS for run in bench.DEFAULT_RUNS)


def test_sampling_benchmark_accepts_exactly_the_registry_names(tmp_path, capsys):
    bench = _load_benchmark("bench_sampling")
    with pytest.raises(SystemExit):
        bench.main(["--smoke", "--schedulers", "dpmsolver++", "--out", str(tmp_path / "s.json")])
    assert "invalid choice" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()
