"""training/sinus_rhythm_check.py: sinus-rhythm regularity per sampler, and its autoguidance."""

import importlib.util
import json
import os

import pytest
import torch

from sssd_hf.defaults import default_pipeline_path

from .conftest import REPO_ROOT


@pytest.fixture(scope="module")
def check():
    path = os.path.join(REPO_ROOT, "training", "sinus_rhythm_check.py")
    spec = importlib.util.spec_from_file_location("sinus_rhythm_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measures_the_default_and_writes_json(check, tmp_path):
    out = tmp_path / "rhythm.json"
    assert check.main(["--pipeline", default_pipeline_path(), "--runs", "dpm-sde:3", "--num", "2",
                       "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    run = results["runs"][0]
    assert (run["sampler"], run["steps"], results["num"]) == ("dpm-sde", 3, 2)
    assert run["sinus_rr"]["irregular"]["n"] + run["heart_rate"]["bpm"]["n"] >= 1  # beats were found
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_autoguidance_with_the_model_itself_is_no_guidance(check, tmp_path):
    """``eps_bad + w (eps - eps_bad)`` with ``bad = good`` is the unguided network's estimate."""
    from sssd_hf import SSSDECGPipeline
    from sssd_hf.schedulers.samplers import make_scheduler

    pipe = SSSDECGPipeline.from_pretrained(default_pipeline_path())
    pipe.scheduler = make_scheduler("dpm", pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    ema = tmp_path / "ema.pkl"
    torch.save({"shadow_params": [p.detach().clone() for p in pipe.model.parameters()]}, ema)
    latents = torch.randn(1, len(pipe.model.config.generated_leads), pipe.model.config.sample_length,
                          generator=torch.Generator().manual_seed(0))
    plain = pipe(labels=[["NORM", "SR"]], num_inference_steps=3, guidance_scale=1.0, latents=latents).ecgs
    check.use_autoguidance(pipe, check.load_bad_model(pipe.model, str(ema)), 2.5)
    guided = pipe(labels=[["NORM", "SR"]], num_inference_steps=3, guidance_scale=1.0, latents=latents).ecgs
    torch.testing.assert_close(torch.from_numpy(guided), torch.from_numpy(plain), atol=1e-4, rtol=0)

    worse = tmp_path / "worse.pkl"  # a different "bad" network: now the guidance changes the ECG
    torch.save({"shadow_params": [0.9 * p.detach() for p in pipe.model.parameters()]}, worse)
    check.use_autoguidance(pipe, check.load_bad_model(pipe.model, str(worse)), 2.5)
    changed = pipe(labels=[["NORM", "SR"]], num_inference_steps=3, guidance_scale=1.0, latents=latents).ecgs
    assert abs(changed - plain).max() > 1e-2


@pytest.mark.parametrize("args, message", [
    (["--runs", "euler:20"], "unknown sampler(s) ['euler']"),
    (["--runs", "dpm"], "expected SAMPLER:STEPS"),
    (["--num", "1"], "--num must be from 2 to 10000"),
    (["--num", "1000000"], "--num must be from 2 to 10000"),
    (["--guidance-scale", "nan"], "--guidance-scale must be a positive number"),
    (["--pipeline", "no/such/folder"], "no/such/folder not found"),
    (["--bad-ema", "missing.pkl"], "missing.pkl not found"),
])
def test_bad_inputs_are_one_line_errors_before_any_work(check, tmp_path, capsys, args, message):
    out = tmp_path / "r.json"
    with pytest.raises(SystemExit) as exit_info:
        check.main([*args, "--out", str(out)])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err and not out.exists()


def test_rate_change_finds_two_regular_runs_at_different_rates(check):
    assert check.rate_change([880, 890, 870, 890, 880, 910, 670, 650, 640, 660, 680, 640])  # generated #17
    assert check.rate_change([1090, 1100, 1140, 1150, 1110, 1110, 690, 670, 610], regular_cv=0.07)
    assert not check.rate_change([880, 900, 1010, 880, 880, 910, 890, 870, 950, 950])  # one long interval
    assert not check.rate_change([800] * 10)  # regular: no change of rate
    assert not check.rate_change([600, 1200, 700, 1100, 650, 1150, 800, 900])  # irregular throughout (AFIB-like)
    assert not check.rate_change([900, 900, 600, 600, 600])  # a run of two is too short
