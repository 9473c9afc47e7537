"""Converted SSSD-ECG-nle weights give the authors' outputs (stored in tests/fixtures/reference).

The stored outputs were computed with EcgLib's own network (``ispras/EcgLib``, branch
``ecg_generation``) outside this repository; see ``tests/fixtures/reference/README.md``.
"""

import os

import pytest
import torch
from safetensors import safe_open

from sssd_hf.convert import convert_checkpoint

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "reference")
# (fixture, label names, our tolerance in float32, in float64); measured: about 1e-7 and 2e-16.
CASES = [("nle_k1_tiny", ["AFIB"]), ("nle_k71_tiny", None)]
TOLERANCE = {torch.float32: 2e-6, torch.float64: 1e-12}


def _load(name):
    with safe_open(os.path.join(FIXTURES, f"{name}.safetensors"), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    state = {k.removeprefix("state."): v for k, v in tensors.items() if k.startswith("state.")}
    return state, tensors


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def converted(request):
    name, label_names = request.param
    state, tensors = _load(name)
    model = convert_checkpoint(state, label_names=label_names).model.eval()
    return name, model, tensors


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("length", [40, 29], ids=["L=lmax", "L<lmax"])
def test_converted_model_reproduces_the_authors_output(converted, dtype, length):
    name, model, tensors = converted
    model = model.to(dtype)
    x = tensors[f"input.noise_L{length}"].to(dtype)
    labels = tensors["input.labels"].to(dtype)
    with torch.no_grad():
        ours = model(x, tensors["input.timesteps"], labels=labels).sample
    reference = tensors[f"output.out{'32' if dtype == torch.float32 else '64'}_L{length}"]
    assert ours.dtype == dtype and ours.shape == reference.shape
    assert reference.abs().max() > 0.1  # the stored output is not trivially zero
    error = (ours.double() - reference.double()).abs().max().item()
    assert error < TOLERANCE[dtype], f"{name} {dtype} L={length}: max |ours - authors'| = {error:.3g}"


def test_single_statement_model_has_no_mixing_weights():
    state, _ = _load("nle_k1_tiny")
    assert not any(k.startswith("label_embedding_conv") for k in state)  # the authors' layout
    model = convert_checkpoint(state, label_names=["AFIB"]).model
    keys = set(model.state_dict())
    assert "statement_embedding.pair_embeddings" in keys
    assert not any("mix_" in k for k in keys)
    # the embedding is the selected row itself: absent -> row 0, present -> row 1
    pairs = state["label_embedding.0.weight"]
    emb = model.statement_embedding(torch.tensor([[0.0], [1.0]]))
    torch.testing.assert_close(emb, pairs, rtol=0, atol=0)


def test_the_stored_outputs_depend_on_the_statements():
    _, tensors = _load("nle_k71_tiny")
    state, _ = _load("nle_k71_tiny")
    model = convert_checkpoint(state).model.eval()
    x, t = tensors["input.noise_L40"], tensors["input.timesteps"]
    flipped = 1.0 - tensors["input.labels"].float()
    with torch.no_grad():
        other = model(x, t, labels=flipped).sample
    assert (other - tensors["output.out32_L40"]).abs().max() > 1e-3
