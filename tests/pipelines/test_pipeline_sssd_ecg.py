"""The generation pipeline: inputs, outputs, determinism, persistence, remote code."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, UniPCMultistepScheduler

from sssd_hf import SSSDECGPipeline
from sssd_hf.leads import STANDARD_LEADS, derive_twelve_leads
from sssd_hf.pipelines.pipeline_sssd_ecg import labels_to_codes
from sssd_hf.testing import make_tiny_pipeline

STEPS = 4


def _run(pipe, labels=("NORM", "AFIB,SR"), seed=0, **kwargs):
    kwargs.setdefault("num_inference_steps", STEPS)
    return pipe(labels=list(labels), generator=torch.Generator().manual_seed(seed), **kwargs)


def test_output_layout_and_units(tiny_pipeline):
    out = _run(tiny_pipeline)
    assert out.ecgs.shape == (2, 12, 64) and out.ecgs.dtype == np.float32
    assert out.lead_names == list(STANDARD_LEADS) and out.sampling_rate == 100
    assert out.labels == [["NORM"], ["AFIB", "SR"]]
    # the 4 derived limb leads obey Einthoven and Goldberger
    lead_i, II, III, aVR, aVL, aVF = (out.ecgs[:, i] for i in range(6))
    np.testing.assert_allclose(III, II - lead_i, atol=1e-5)
    np.testing.assert_allclose(aVR, -(lead_i + II) / 2, atol=1e-5)
    np.testing.assert_allclose(aVL, (lead_i - III) / 2, atol=1e-5)
    np.testing.assert_allclose(aVF, (II + III) / 2, atol=1e-5)
    assert torch.is_tensor(_run(tiny_pipeline, output_type="pt").ecgs)


def test_bf16_autocast_sampling_returns_float32_millivolts(tiny_pipeline):
    """Under CPU bf16 autocast (faster sampling) the numpy output is float32 and close to fp32 sampling."""
    reference = _run(tiny_pipeline).ecgs
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ecgs = _run(tiny_pipeline).ecgs
    assert ecgs.dtype == np.float32 and ecgs.shape == reference.shape and np.isfinite(ecgs).all()
    assert np.abs(ecgs - reference).max() < 0.1 * np.abs(reference).max()


def test_seeded_generation_is_reproducible_and_seed_dependent(tiny_pipeline):
    a, b, c = _run(tiny_pipeline, seed=1), _run(tiny_pipeline, seed=1), _run(tiny_pipeline, seed=2)
    np.testing.assert_array_equal(a.ecgs, b.ecgs)
    assert not np.allclose(a.ecgs, c.ecgs)


def test_per_ecg_generators_make_output_independent_of_batch_size(tiny_pipeline):
    def gens():
        return [torch.Generator().manual_seed(i) for i in range(5)]

    labels = ["NORM", "AFIB", "SR", "NORM,SR", "AFIB"]
    big = tiny_pipeline(labels=labels, generator=gens(), num_inference_steps=STEPS, batch_size=5)
    small = tiny_pipeline(labels=labels, generator=gens(), num_inference_steps=STEPS, batch_size=2)
    np.testing.assert_allclose(big.ecgs, small.ecgs, atol=1e-5)


def test_label_forms_are_equivalent(tiny_pipeline):
    multi_hot = np.array([[1, 0, 0], [0, 1, 1]])
    a = _run(tiny_pipeline, labels=["NORM", "AFIB,SR"])
    b = tiny_pipeline(
        labels=[["NORM"], ["AFIB", "SR"]], generator=torch.Generator().manual_seed(0), num_inference_steps=STEPS
    )
    c = tiny_pipeline(labels=multi_hot, generator=torch.Generator().manual_seed(0), num_inference_steps=STEPS)
    np.testing.assert_array_equal(a.ecgs, b.ecgs)
    np.testing.assert_array_equal(a.ecgs, c.ecgs)
    assert labels_to_codes("NORM + SR", ["NORM", "SR"]) == [["NORM", "SR"]]
    d = tiny_pipeline(labels="AFIB", num_ecgs_per_label=3, num_inference_steps=STEPS)
    assert d.ecgs.shape[0] == 3 and d.labels == [["AFIB"]] * 3


@pytest.mark.parametrize(
    "labels, message",
    [
        ("CLBBB", r"Unknown ECG statement code\(s\) \['CLBBB'\]. Valid codes are: NORM, AFIB, SR"),
        ([], "labels is empty"),
        ("", "Empty statement string"),
        (np.zeros((2, 4)), r"shape \(N, 3\)"),
        (np.array([[0.5, 0, 1]]), "only 0 and 1"),
        (np.array([[np.nan, 0, 1]]), "NaN"),
        (np.zeros((0, 3)), "no rows"),
        (["NORM", ["AFIB"]], "not a mix"),
        ([["NORM", "NORM"]], "repeated"),
        (None, "pass labels"),
    ],
)
def test_bad_labels_are_rejected_clearly(tiny_pipeline, labels, message):
    with pytest.raises(ValueError, match=message):
        tiny_pipeline(labels=labels, num_inference_steps=STEPS)


def test_bad_arguments_are_rejected(tiny_pipeline):
    with pytest.raises(ValueError, match="output_type"):
        _run(tiny_pipeline, output_type="pil")
    with pytest.raises(ValueError, match="guidance"):
        _run(tiny_pipeline, guidance_scale=3.0)
    with pytest.raises(ValueError, match="2 generators for 3 ECGs"):
        tiny_pipeline(labels=["NORM"] * 3, generator=[torch.Generator()] * 2, num_inference_steps=STEPS)
    with pytest.raises(ValueError, match="between 1 and 200"):
        _run(tiny_pipeline, num_inference_steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        _run(tiny_pipeline, batch_size=0)


def test_unconditional_model():
    pipe = make_tiny_pipeline(label_names=None, sample_length=64)
    out = pipe(num_ecgs=2, num_inference_steps=STEPS)
    assert out.ecgs.shape == (2, 12, 64) and out.labels == [None, None]
    with pytest.raises(ValueError, match="unconditional"):
        pipe(labels="NORM", num_inference_steps=STEPS)


def test_guidance_with_a_null_label_model():
    pipe = make_tiny_pipeline(sample_length=64, learn_null_label=True)
    out = _run(pipe, guidance_scale=2.0)
    assert np.isfinite(out.ecgs).all()


def test_sex_conditioning():
    pipe = make_tiny_pipeline(sample_length=64, num_sex_classes=2)
    a = _run(pipe, sex="female")
    b = _run(pipe, sex=["male", 1])
    assert a.ecgs.shape == b.ecgs.shape
    with pytest.raises(ValueError, match="Unknown sex"):
        _run(pipe, sex="x")


@pytest.mark.parametrize("cls", [DDIMScheduler, DPMSolverMultistepScheduler, UniPCMultistepScheduler])
def test_stock_few_step_schedulers(tiny_pipeline, cls):
    tiny_pipeline.scheduler = cls.from_config(tiny_pipeline.scheduler.config)
    out = _run(tiny_pipeline, num_inference_steps=5)
    assert out.ecgs.shape == (2, 12, 64) and np.isfinite(out.ecgs).all()
    np.testing.assert_array_equal(out.ecgs, _run(tiny_pipeline, num_inference_steps=5).ecgs)


def test_stochastic_dpm_solver_is_seeded_per_ecg(tiny_pipeline):
    """``dpm-sde`` (SDE DPM-Solver++) adds fresh noise at every step: drawn from each ECG's own
    generator, so a seed gives the same ECG whatever the batch size, and another seed from the same
    starting latents gives another ECG."""
    from sssd_hf.schedulers.samplers import make_scheduler

    tiny_pipeline.scheduler = make_scheduler("dpm-sde", tiny_pipeline.scheduler.config)
    generated = len(tiny_pipeline.model.config.generated_leads)
    latents = torch.randn(3, generated, 64, generator=torch.Generator().manual_seed(7))

    def sample(seeds, batch_size):
        return tiny_pipeline(labels=[["NORM"]] * 3, num_inference_steps=5, latents=latents, batch_size=batch_size,
                             generator=[torch.Generator().manual_seed(s) for s in seeds]).ecgs

    whole = sample([1, 2, 3], 3)
    assert np.isfinite(whole).all()
    np.testing.assert_allclose(whole, sample([1, 2, 3], 1), atol=1e-4)  # batched float sums differ by ~1e-6
    assert np.abs(whole - sample([4, 5, 6], 3)).max() > 1e-3


def test_kernels_are_computed_once_per_sampling_call(tiny_pipeline, monkeypatch):
    from sssd_hf.models import s4

    calls = []
    original = s4.nplr_kernel
    monkeypatch.setattr(s4, "nplr_kernel", lambda *a: calls.append(1) or original(*a))
    _run(tiny_pipeline, num_inference_steps=10)
    assert len(calls) == 2 * len(tiny_pipeline.model.blocks)  # once per S4 layer, not per step


def test_save_and_load_round_trip(tiny_pipeline, tmp_path):
    tiny_pipeline.save_pretrained(tmp_path / "pipe")
    loaded = SSSDECGPipeline.from_pretrained(tmp_path / "pipe")
    np.testing.assert_array_equal(_run(tiny_pipeline).ecgs, _run(loaded).ecgs)
    files = set(os.listdir(tmp_path / "pipe"))
    assert {"model_index.json", "README.md", "pipeline_sssd_ecg.py", "leads.py", "model", "scheduler"} <= files
    assert (tmp_path / "pipe" / "model" / "diffusion_pytorch_model.safetensors").is_file()
    card = (tmp_path / "pipe" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: diffusers") and "## Limitations" in card
    index = json.loads((tmp_path / "pipe" / "model_index.json").read_text())
    assert index["model"] == ["modeling_sssd_ecg", "SSSDECGModel"]
    # saving again over the folder replaces it whole
    tiny_pipeline.save_pretrained(tmp_path / "pipe")
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp")]


def test_loading_bad_folders_gives_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No pipeline folder"):
        SSSDECGPipeline.from_pretrained(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="model_index.json is missing"):
        SSSDECGPipeline.from_pretrained(tmp_path / "empty")
    pipe = make_tiny_pipeline(sample_length=64)
    pipe.save_pretrained(tmp_path / "p")
    (tmp_path / "p" / "model_index.json").write_text("{not json")
    with pytest.raises(ValueError, match="Corrupt model_index.json"):
        SSSDECGPipeline.from_pretrained(tmp_path / "p")


def test_stock_scheduler_survives_save_and_load(tiny_pipeline, tmp_path):
    tiny_pipeline.scheduler = DDIMScheduler.from_config(tiny_pipeline.scheduler.config)
    tiny_pipeline.save_pretrained(tmp_path / "p")
    assert isinstance(SSSDECGPipeline.from_pretrained(tmp_path / "p").scheduler, DDIMScheduler)


def test_default_steps_travel_with_the_folder_and_apply_when_none_are_given(tmp_path):
    pipe = SSSDECGPipeline(
        model=make_tiny_pipeline(sample_length=64).model,
        scheduler=DPMSolverMultistepScheduler.from_config(make_tiny_pipeline().scheduler.config),
        default_num_inference_steps=5,
    )
    steps = []
    pipe(
        labels=["NORM"],
        generator=torch.Generator().manual_seed(0),
        callback_on_step_end=lambda p, i, t, kw: steps.append(i) or kw,
    )
    assert len(steps) == 5 and pipe.default_steps == 5
    pipe.save_pretrained(tmp_path / "p")
    assert json.loads((tmp_path / "p" / "model_index.json").read_text())["default_num_inference_steps"] == 5
    loaded = SSSDECGPipeline.from_pretrained(tmp_path / "p")
    assert loaded.default_steps == 5 and isinstance(loaded.scheduler, DPMSolverMultistepScheduler)
    assert make_tiny_pipeline().default_steps == 200  # unset: every training step, the paper's DDPM
    for bad in (0, -3, 2.5, True, "20"):
        with pytest.raises(ValueError, match="default_num_inference_steps"):
            SSSDECGPipeline(model=pipe.model, scheduler=pipe.scheduler, default_num_inference_steps=bad)


def test_default_guidance_travels_with_the_folder_and_applies_when_none_is_given(tmp_path):
    tiny = make_tiny_pipeline(sample_length=64, learn_null_label=True)
    pipe = SSSDECGPipeline(model=tiny.model, scheduler=tiny.scheduler, default_guidance_scale=2.5)
    default, explicit, unguided = _run(pipe), _run(pipe, guidance_scale=2.5), _run(pipe, guidance_scale=1.0)
    np.testing.assert_array_equal(default.ecgs, explicit.ecgs)
    assert not np.allclose(default.ecgs, unguided.ecgs)
    assert pipe.default_guidance == 2.5
    pipe.save_pretrained(tmp_path / "p")
    assert json.loads((tmp_path / "p" / "model_index.json").read_text())["default_guidance_scale"] == 2.5
    loaded = SSSDECGPipeline.from_pretrained(tmp_path / "p")
    assert loaded.default_guidance == 2.5 and loaded.config.default_guidance_scale == 2.5
    np.testing.assert_array_equal(_run(loaded).ecgs, default.ecgs)
    overridden = SSSDECGPipeline.from_pretrained(tmp_path / "p", default_guidance_scale=1)
    assert overridden.default_guidance == 1.0
    np.testing.assert_array_equal(_run(overridden).ecgs, unguided.ecgs)
    assert tiny.default_guidance == 1.0 and tiny.config.default_guidance_scale is None  # unset: no guidance


def test_bad_default_guidance_is_refused(tiny_pipeline):
    for bad in (-0.5, float("nan"), float("inf"), True, "2", [2.0]):
        with pytest.raises(ValueError, match="default_guidance_scale"):
            SSSDECGPipeline(model=tiny_pipeline.model, scheduler=tiny_pipeline.scheduler, default_guidance_scale=bad)
    # accepted at construction, but a model without a null label still refuses guidance when called
    pipe = SSSDECGPipeline(model=tiny_pipeline.model, scheduler=tiny_pipeline.scheduler, default_guidance_scale=2)
    with pytest.raises(ValueError, match="learn_null_label"):
        _run(pipe)
    _run(pipe, guidance_scale=1.0)  # an explicit 1 turns the default off


def test_default_sampler_travels_with_the_folder_and_is_checked(tiny_pipeline, tmp_path):
    assert tiny_pipeline.default_sampler_name == "ddpm" and tiny_pipeline.config.default_sampler is None
    pipe = SSSDECGPipeline(model=tiny_pipeline.model, scheduler=tiny_pipeline.scheduler, default_sampler="dpm-sde")
    assert pipe.default_sampler_name == "dpm-sde"
    pipe.save_pretrained(tmp_path / "p")
    assert json.loads((tmp_path / "p" / "model_index.json").read_text())["default_sampler"] == "dpm-sde"
    card = (tmp_path / "p" / "README.md").read_text()  # the generated card's usage shows the recommendation
    assert "This folder recommends `dpm-sde`" in card and "num_inference_steps=20" in card
    tiny_pipeline.save_pretrained(tmp_path / "plain")
    assert "This folder recommends" not in (tmp_path / "plain" / "README.md").read_text()
    loaded = SSSDECGPipeline.from_pretrained(tmp_path / "p")
    assert loaded.default_sampler_name == "dpm-sde"
    assert SSSDECGPipeline.from_pretrained(tmp_path / "p", default_sampler="unipc").default_sampler_name == "unipc"
    assert type(loaded.scheduler) is type(tiny_pipeline.scheduler)  # a call still runs the pipeline's own scheduler
    for bad, message in (("euler", "unknown sampler 'euler'; choose from ddpm"), ("", "sampler name or None"),
                         (3, "sampler name or None")):
        with pytest.raises(ValueError, match=message):
            SSSDECGPipeline(model=tiny_pipeline.model, scheduler=tiny_pipeline.scheduler, default_sampler=bad)


def test_remote_code_loads_without_sssd_hf(tiny_pipeline, tmp_path):
    folder = tmp_path / "pipe"
    tiny_pipeline.save_pretrained(folder)
    expected = _run(tiny_pipeline).ecgs
    np.save(tmp_path / "expected.npy", expected)
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "sssd_hf" or name.startswith("sssd_hf."):
                    raise ModuleNotFoundError("sssd_hf is blocked in this test")
        sys.meta_path.insert(0, Block())
        import numpy as np, torch
        from diffusers import DiffusionPipeline
        pipe = DiffusionPipeline.from_pretrained({str(folder)!r}, trust_remote_code=True)
        assert type(pipe).__name__ == "SSSDECGPipeline", type(pipe)
        out = pipe(labels=["NORM", "AFIB,SR"], num_inference_steps={STEPS}, generator=torch.Generator().manual_seed(0))
        np.testing.assert_allclose(out.ecgs, np.load({str(tmp_path / "expected.npy")!r}), rtol=1e-5, atol=1e-5)
        assert not any(m == "sssd_hf" or m.startswith("sssd_hf.") for m in sys.modules)
        print("REMOTE-OK")
        """
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert "REMOTE-OK" in result.stdout, result.stderr[-3000:]


def test_lead_derivation_for_both_layouts():
    rng = np.random.default_rng(0)
    lead_i, II = rng.normal(size=(2, 50))
    chest = rng.normal(size=(6, 50))
    truth = np.stack([lead_i, II, II - lead_i, -(lead_i + II) / 2, lead_i - II / 2, II - lead_i / 2, *chest])
    nle = derive_twelve_leads(
        np.stack([lead_i, II - lead_i / 2, *chest]), ["I", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    )
    sssd = derive_twelve_leads(
        np.stack([lead_i, *chest, II - lead_i / 2]), ["I", "V1", "V2", "V3", "V4", "V5", "V6", "aVF"]
    )
    paper = derive_twelve_leads(
        torch.tensor(np.stack([lead_i, II, *chest])), ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    )
    for out in (nle, sssd, paper.numpy()):
        np.testing.assert_allclose(out, truth, atol=1e-12)


def test_bfloat16_model_keeps_a_float32_trajectory_close_to_float32():
    """A bf16 network with all 200 DDPM steps: the latent and the scheduler stay float32 (same
    starting noise as the float32 run), so the result tracks the float32 ECGs closely."""
    full = make_tiny_pipeline(sample_length=64)
    half = make_tiny_pipeline(sample_length=64)
    half.model.to(torch.bfloat16)
    seen = []
    kwargs = dict(labels=["NORM", "AFIB"], num_inference_steps=200)
    reference = full(generator=torch.Generator().manual_seed(0), **kwargs).ecgs
    result = half(
        generator=torch.Generator().manual_seed(0),
        callback_on_step_end=lambda pipe, i, t, kwargs: seen.append(i) or kwargs,
        **kwargs,
    ).ecgs
    assert len(seen) == 200 and np.isfinite(result).all()
    relative = np.linalg.norm(result - reference) / np.linalg.norm(reference)
    assert relative < 0.01, relative
