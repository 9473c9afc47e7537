"""Fine-tuning from a pipeline folder (``init_from``): the folder's model is kept, and only the model
settings of :data:`~sssd_hf.training.trainer.INIT_FROM_EXTENSIONS` may be switched on."""

import pytest
import torch

from sssd_hf import SSSDECGPipeline, SSSDECGScheduler
from sssd_hf.testing import make_tiny_pipeline
from sssd_hf.training.config import ConfigError, load_config
from sssd_hf.training.trainer import build_model

LABELS = ["SR", "AFIB"]


@pytest.fixture
def folder(tmp_path):
    pipe = make_tiny_pipeline(label_names=tuple(LABELS), sample_length=64, seed=0)
    pipe.save_pretrained(tmp_path / "p")
    return str(tmp_path / "p"), pipe.model


def _config(folder, **model):
    return load_config(None, {"dataset": "d", "init_from": folder, "model.label_names": LABELS,
                              **{f"model.{k}": v for k, v in model.items()}})


def _eps(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, model.config.in_channels, 64, generator=g)
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with torch.no_grad():
        return model(x, torch.tensor([199, 100, 3]), labels=labels).sample


def test_the_folders_model_is_loaded_as_it_is(folder):
    path, original = folder
    model = build_model(_config(path), 64, original.config.sampling_rate)
    assert not model.config.global_context
    torch.testing.assert_close(_eps(model), _eps(original), rtol=0, atol=0)


def test_global_context_can_be_switched_on_and_starts_from_the_folders_function(folder):
    path, original = folder
    model = build_model(_config(path, global_context=True), 64, original.config.sampling_rate)
    assert model.config.global_context and all(b.global_context is not None for b in model.blocks)
    added = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in original.parameters())
    channels = original.config.channels
    assert added == original.config.num_layers * (channels * channels + channels)
    torch.testing.assert_close(_eps(model), _eps(original), rtol=0, atol=0)  # zero-initialised: same function
    with torch.no_grad():  # and the new path is live: a non-zero map changes the prediction
        model.blocks[0].global_context.weight.fill_(0.1)
    assert not torch.allclose(_eps(model), _eps(original))


def test_other_differences_from_the_folder_are_refused(folder, tmp_path):
    path, original = folder
    with pytest.raises(ConfigError, match=r"differs from the config in \['channels'\]"):
        build_model(_config(path, channels=original.config.channels * 2), 64, original.config.sampling_rate)
    extended = build_model(_config(path, global_context=True), 64, original.config.sampling_rate)
    SSSDECGPipeline(model=extended, scheduler=SSSDECGScheduler()).save_pretrained(tmp_path / "with-context")
    with pytest.raises(ConfigError, match=r"differs from the config in \['global_context'\]"):  # not switched off
        build_model(_config(str(tmp_path / "with-context"), global_context=False), 64, original.config.sampling_rate)
