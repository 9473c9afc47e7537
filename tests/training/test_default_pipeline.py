"""The demonstration pipeline bundled in the package, and the label-control script."""

import importlib.util
import json
import os
import shutil

import numpy as np
import pytest
import torch

from sssd_hf.defaults import DEFAULT_PIPELINE_DIR, default_pipeline_path

from .conftest import REPO_ROOT


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO_ROOT, "training", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_pipeline_is_bundled_small_and_documented():
    folder = default_pipeline_path()
    assert folder == DEFAULT_PIPELINE_DIR and os.path.isfile(os.path.join(folder, "model_index.json"))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)
    assert size < 10 * 2**20
    assert os.path.isfile(os.path.join(folder, "model", "diffusion_pytorch_model.safetensors"))
    card = open(os.path.join(folder, "README.md"), encoding="utf-8").read()
    assert "demonstration model" in card and "not for research or clinical use" in card
    assert (
        "accelerate launch" in card
        and "training/train_sssd_ecg.py --config training/configs/simulated_rhythms_demo.yaml" in card
    )
    assert "Label control (measured)" in card


def test_default_pipeline_generates_the_three_rhythms():
    from sssd_hf import SSSDECGPipeline

    pipe = SSSDECGPipeline.from_pretrained(default_pipeline_path())
    config = pipe.model.config
    assert list(config.label_names) == ["SBRAD", "SR", "STACH"] and config.label_embedding == "nle"
    assert list(config.generated_leads) == ["I", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    assert (config.sampling_rate, config.sample_length) == (100, 1000)
    out = pipe(labels=["SBRAD", "STACH"], num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert out.ecgs.shape == (2, 12, 1000) and np.isfinite(out.ecgs).all()
    with pytest.raises(ValueError, match="NORM"):
        pipe(labels=["NORM"], num_inference_steps=1)


def test_label_control_script_writes_one_card_section(tmp_path):
    folder = str(tmp_path / "pipeline")
    shutil.copytree(default_pipeline_path(), folder)
    script = _load_script("measure_label_control")
    args = [
        "--pipeline",
        folder,
        "--per-statement",
        "2",
        "--steps",
        "1",
        "--batch-size",
        "2",
        "--out",
        str(tmp_path / "r.json"),
        "--write-card",
    ]
    assert script.main(args) == 0
    assert script.main(args) == 0  # a second run replaces the section instead of adding one
    card = open(os.path.join(folder, "README.md"), encoding="utf-8").read()
    assert card.count("Label control (measured)") == 1 and card.count(script.CARD_START) == 1
    report = json.load(open(tmp_path / "r.json"))
    results = report["runs"][0]["results"]
    assert [r["statement"] for r in results] == ["SBRAD", "SR", "STACH"] and all(r["n"] == 2 for r in results)
    assert all(0.0 <= r["in_range"] <= r["rate_in_range_any_detection"] <= 1.0 for r in results)


def test_default_pipeline_heart_rate_follows_the_statement():
    """The bundled model's measured property (model card): the heart rate rises from SBRAD to SR
    to STACH and lies in the statement's range for most ECGs (card: 100 / 96 / 83 % at 50 steps).
    8 seeded ECGs per statement with 50 strided DDPM steps, lead II, NeuroKit2."""
    from sssd_hf import SSSDECGPipeline
    from sssd_hf.evaluation.label_control import label_control

    pipe = SSSDECGPipeline.from_pretrained(default_pipeline_path())
    pipe.set_progress_bar_config(disable=True)
    codes = ["SBRAD", "SR", "STACH"] * 8
    out = pipe(labels=codes, num_inference_steps=50, batch_size=len(codes),
               generator=[torch.Generator().manual_seed(i) for i in range(len(codes))])
    summaries = label_control(out.ecgs, codes)
    medians = {code: summary["heart_rate_median"] for code, summary in summaries.items()}
    assert medians["SBRAD"] < 60 < medians["SR"] < medians["STACH"] - 10, medians
    rate_ok = {code: summary["rate_in_range_any_detection"] for code, summary in summaries.items()}
    assert all(fraction >= 0.75 for fraction in rate_ok.values()), rate_ok
