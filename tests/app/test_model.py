"""Which model the app serves: the real bundled default unless told otherwise, loaded once."""

from __future__ import annotations

import os

import pytest

from sssd_hf.app import MODEL_ENV, ModelInfo, ModelStore, ModelUnavailable, model_info, resolve_model_source
from sssd_hf.defaults import DEFAULT_PIPELINE_DIR


def test_without_any_setting_the_bundled_default_is_served(default_model, bundled_label_names):
    assert os.path.isfile(os.path.join(DEFAULT_PIPELINE_DIR, "model_index.json"))
    assert resolve_model_source(None, environ={}) == DEFAULT_PIPELINE_DIR
    pipe, info = default_model
    assert info.source == DEFAULT_PIPELINE_DIR
    assert info.label_names == bundled_label_names == tuple(pipe.model.config.label_names)
    assert info.conditional and info.num_train_timesteps == pipe.scheduler.config.num_train_timesteps
    assert info.sampling_rate == 100.0


def test_explicit_source_then_environment_then_default():
    assert resolve_model_source("org/model", environ={MODEL_ENV: "other/model"}) == "org/model"
    assert resolve_model_source(None, environ={MODEL_ENV: " /some/folder "}) == "/some/folder"
    assert resolve_model_source("  ", environ={MODEL_ENV: ""}) == DEFAULT_PIPELINE_DIR


def test_store_loads_once_and_shares_the_pipeline(default_store):
    first, second = default_store.get(), default_store()
    assert first[0] is second[0] and first[1] is second[1]


def test_saved_pipeline_named_by_the_environment_is_served(monkeypatch, tmp_path, tiny_pipeline):
    tiny_pipeline.save_pretrained(tmp_path / "pipe")
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "pipe"))
    pipe, info = ModelStore(device="cpu").get()
    assert info.source == str(tmp_path / "pipe")
    assert info.label_names == tuple(tiny_pipeline.model.config.label_names)
    assert pipe.model.config.sample_length == 64


def test_missing_model_folder_fails_with_one_line_and_is_remembered(tmp_path, tiny_pipeline):
    missing = tmp_path / "nowhere"
    store = ModelStore(str(missing), device="cpu")
    with pytest.raises(ModelUnavailable, match="Could not load the model from .*nowhere") as first:
        store.get()
    assert "\n" not in str(first.value)
    tiny_pipeline.save_pretrained(missing)  # the folder exists now, but the store does not retry a failed load
    with pytest.raises(ModelUnavailable) as second:
        store.get()
    assert str(second.value) == str(first.value)


def test_corrupt_weights_are_reported(tmp_path, tiny_pipeline):
    tiny_pipeline.save_pretrained(tmp_path / "pipe")
    weights = next((tmp_path / "pipe" / "model").glob("*.safetensors"))
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelUnavailable, match="Could not load the model"):
        ModelStore(str(tmp_path / "pipe"), device="cpu").get()


def test_model_info_of_unconditional_and_guided_models():
    from sssd_hf.testing import make_tiny_pipeline

    plain = model_info(make_tiny_pipeline(label_names=None), "plain")
    assert plain == ModelInfo("plain", (), False, 200, 100.0) and not plain.conditional
    guided = model_info(make_tiny_pipeline(label_names=("NORM", "AFIB"), learn_null_label=True), "guided")
    assert guided.label_names == ("NORM", "AFIB") and guided.supports_guidance
    assert plain.default_guidance == guided.default_guidance == 1.0  # no default_guidance_scale: guidance off


def test_model_info_carries_the_pipelines_default_guidance(tmp_path):
    from sssd_hf import SSSDECGPipeline
    from sssd_hf.testing import make_tiny_pipeline

    tiny = make_tiny_pipeline(label_names=("NORM", "AFIB"), sample_length=64, learn_null_label=True)
    SSSDECGPipeline(model=tiny.model, scheduler=tiny.scheduler, default_guidance_scale=2.5).save_pretrained(
        tmp_path / "guided")
    _, info = ModelStore(str(tmp_path / "guided"), device="cpu").get()
    assert info.supports_guidance and info.default_guidance == 2.5
    # a model without a null label cannot be guided, whatever its folder recommends
    plain = make_tiny_pipeline(label_names=("NORM", "AFIB"), sample_length=64)
    plain = SSSDECGPipeline(model=plain.model, scheduler=plain.scheduler, default_guidance_scale=2.5)
    assert model_info(plain, "plain").default_guidance == 1.0
