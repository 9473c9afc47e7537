"""The xresnet1d downstream classifier as a transformers model."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from sssd_hf.evaluation.classifier import PRESETS, ECGClassifierConfig, ECGClassifierModel


def _model(**overrides):
    torch.manual_seed(0)
    config = ECGClassifierConfig.from_preset("tiny", ["AFIB", "NORM", "SR"], **overrides)
    return ECGClassifierModel(config).eval()


def test_forward_shapes_loss_and_embedding():
    model = _model()
    signal = torch.randn(5, 12, 300)
    out = model(signal, labels=torch.tensor([[1, 0, 0]] * 5))
    assert out.logits.shape == (5, 3)
    assert out.embeddings.shape == (5, model.embedding_dim) == (5, 16)
    assert out.loss.ndim == 0 and out.loss > 0
    torch.testing.assert_close(model.embed(signal), out.embeddings)
    assert model(torch.randn(2, 12, 1000)).logits.shape == (2, 3)  # any length


def test_save_and_load_roundtrip(tmp_path):
    model = _model(input_mean=[0.1] * 12, input_std=[0.5] * 12)
    with torch.no_grad():  # make the batch-norm statistics non-trivial
        model.train()(torch.randn(8, 12, 200))
    model.eval()
    model.save_pretrained(tmp_path)
    loaded = ECGClassifierModel.from_pretrained(tmp_path).eval()
    signal = torch.randn(3, 12, 200)
    # same weights; float32 kernels may differ in the last bit with another memory layout
    torch.testing.assert_close(loaded(signal).logits, model(signal).logits, rtol=1e-5, atol=1e-6)
    assert loaded.config.label_names == ["AFIB", "NORM", "SR"]
    assert loaded.config.id2label == {0: "AFIB", 1: "NORM", 2: "SR"}
    assert loaded.config.input_std == [0.5] * 12


def test_normalisation_is_applied():
    plain = _model()
    shifted = _model(input_mean=[1.0] * 12)
    signal = torch.randn(2, 12, 100)
    torch.testing.assert_close(shifted(signal + 1.0).logits, plain(signal).logits)


def test_residual_branches_start_as_identity():
    model = _model()
    zero_bns = [m for m in model.modules() if getattr(m, "zero_init", False)]
    assert len(zero_bns) == sum(model.config.depths)
    assert all(torch.count_nonzero(m.weight) == 0 for m in zero_bns)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_build(preset):
    config = ECGClassifierConfig.from_preset(preset, ["AFIB"])
    assert config.num_labels == 1
    if preset in ("tiny", "xresnet1d18_small", "xresnet1d18"):
        assert ECGClassifierModel(config).eval()(torch.randn(1, 12, 250)).logits.shape == (1, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(label_names=[]), "label_names"),
        (dict(label_names=["AFIB", "AFIB"]), "label_names"),
        (dict(expansion=2), "expansion"),
        (dict(kernel_size=4), "odd"),
        (dict(depths=(1,), block_channels=(8, 16)), "equal length"),
        (dict(input_mean=[0.0] * 3), "12 values"),
        (dict(input_std=[0.0] * 12), "positive"),
    ],
)
def test_bad_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ECGClassifierConfig(**kwargs)


def test_unknown_preset_and_wrong_input_shape():
    with pytest.raises(ValueError, match="unknown classifier preset 'resnet9000'"):
        ECGClassifierConfig.from_preset("resnet9000", ["AFIB"])
    with pytest.raises(ValueError, match=r"\(N, 12, L\)"):
        _model()(torch.randn(2, 8, 100))
    assert np.isfinite(_model()(torch.zeros(1, 12, 50)).logits.detach().numpy()).all()


def test_auto_classes_and_remote_code(tmp_path):
    """Saved folders load through AutoModel, and with trust_remote_code even without sssd-hf."""
    from transformers import AutoModel

    model = _model()
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["classifier.py", "config.json", "model.safetensors"]
    assert isinstance(AutoModel.from_pretrained(tmp_path), ECGClassifierModel)
    expected = model(torch.ones(1, 12, 100)).logits.tolist()
    code = (
        "import sys, json, torch\n"
        "sys.modules['sssd_hf'] = None  # sssd-hf must not be needed\n"
        "from transformers import AutoModel\n"
        f"m = AutoModel.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()\n"
        "print(type(m).__module__.startswith('transformers_modules'),"
        " json.dumps(m(torch.ones(1, 12, 100)).logits.tolist()))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    remote, logits = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert remote == "True"
    np.testing.assert_allclose(np.array(json.loads(logits)), np.array(expected), rtol=1e-5, atol=1e-6)


def test_the_cpu_preset_is_a_narrow_xresnet1d18():
    small = ECGClassifierModel(ECGClassifierConfig.from_preset("xresnet1d18_small", ["AFIB"]))
    full = ECGClassifierModel(ECGClassifierConfig.from_preset("xresnet1d18", ["AFIB"]))
    assert PRESETS["xresnet1d18_small"]["depths"] == PRESETS["xresnet1d18"]["depths"]
    n_small, n_full = (sum(p.numel() for p in m.parameters()) for m in (small, full))
    assert n_small < 500_000 < 5_000_000 < n_full
