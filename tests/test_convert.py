"""Conversion of the authors' checkpoints: every tensor lands where it belongs."""

import json
import math
import os
import re

import pytest
import torch

from sssd_hf.convert import ConversionError, convert_checkpoint, load_reference_state_dict, main
from sssd_hf.vocabulary import ALL_STATEMENTS
from tests.conftest import shared_path

# Our name for each reference name (block 0 and top level), written out as the oracle.
EXPECTED_NAMES = {
    "init_conv.0.conv.bias": "input_projection.bias",
    "init_conv.0.conv.weight_g": "input_projection.parametrizations.weight.original0",
    "init_conv.0.conv.weight_v": "input_projection.parametrizations.weight.original1",
    "init_conv.0.conv.parametrizations.weight.original0": "input_projection.parametrizations.weight.original0",
    "init_conv.0.conv.parametrizations.weight.original1": "input_projection.parametrizations.weight.original1",
    "embedding.weight": "statement_embedding.weight",
    "residual_layer.fc_t1.weight": "timestep_mlp.0.weight",
    "residual_layer.fc_t1.bias": "timestep_mlp.0.bias",
    "residual_layer.fc_t2.weight": "timestep_mlp.2.weight",
    "residual_layer.fc_t2.bias": "timestep_mlp.2.bias",
    "final_conv.0.conv.bias": "skip_projection.bias",
    "final_conv.0.conv.weight_g": "skip_projection.parametrizations.weight.original0",
    "final_conv.0.conv.weight_v": "skip_projection.parametrizations.weight.original1",
    "final_conv.0.conv.parametrizations.weight.original0": "skip_projection.parametrizations.weight.original0",
    "final_conv.0.conv.parametrizations.weight.original1": "skip_projection.parametrizations.weight.original1",
    "final_conv.2.conv.weight": "output_projection.weight",
    "final_conv.2.conv.bias": "output_projection.bias",
}
BLOCK_NAMES = {
    "fc_t.weight": "timestep_proj.weight",
    "fc_t.bias": "timestep_proj.bias",
    "fc_label.weight": "cond_projs.0.weight",
    "fc_label.bias": "cond_projs.0.bias",
    "conv_layer.conv.bias": "conv.bias",
    "res_conv.bias": "res_proj.bias",
    "skip_conv.bias": "skip_proj.bias",
}
for ref, ours in (("conv_layer.conv", "conv"), ("res_conv", "res_proj"), ("skip_conv", "skip_proj")):
    BLOCK_NAMES[f"{ref}.weight_g"] = BLOCK_NAMES[f"{ref}.parametrizations.weight.original0"] = (
        f"{ours}.parametrizations.weight.original0"
    )
    BLOCK_NAMES[f"{ref}.weight_v"] = BLOCK_NAMES[f"{ref}.parametrizations.weight.original1"] = (
        f"{ours}.parametrizations.weight.original1"
    )
for i in ("1", "2"):
    BLOCK_NAMES[f"S4{i}.s4_layer.D"] = f"s4_{i}.D"
    BLOCK_NAMES[f"S4{i}.s4_layer.output_linear.weight"] = f"s4_{i}.output_proj.weight"
    BLOCK_NAMES[f"S4{i}.s4_layer.output_linear.bias"] = f"s4_{i}.output_proj.bias"
    BLOCK_NAMES[f"S4{i}.norm_layer.weight"] = f"s4_{i}.norm.weight"
    BLOCK_NAMES[f"S4{i}.norm_layer.bias"] = f"s4_{i}.norm.bias"
    for name in ("C", "log_dt", "w", "B", "P", "Q"):
        BLOCK_NAMES[f"S4{i}.s4_layer.kernel.kernel.{name}"] = f"s4_{i}.kernel.{name}"


def _reference(name):
    with open(shared_path("reference", "reference_state_dicts.json")) as f:
        return json.load(f)[name]


def _random_state_dict(reference, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) for k, shape in reference["state_dict"].items()}


def _expected_location(ref_key):
    if ref_key in EXPECTED_NAMES:
        return EXPECTED_NAMES[ref_key], None
    if m := re.fullmatch(r"label_embedding\.(\d+)\.weight", ref_key):
        return "statement_embedding.pair_embeddings", int(m.group(1))
    if ref_key == "label_embedding_conv.weight":
        return "statement_embedding.mix_weight", None
    if ref_key == "label_embedding_conv.bias":
        return "statement_embedding.mix_bias", None
    m = re.fullmatch(r"residual_layer\.residual_blocks\.(\d+)\.(.+)", ref_key)
    return f"blocks.{m.group(1)}.{BLOCK_NAMES[m.group(2)]}", None


@pytest.mark.parametrize("name, layout", [("sssd_ecg_71", "multi_hot"), ("sssd_ecg_nle_71", "nle")])
def test_every_reference_tensor_lands_in_its_place(name, layout):
    reference = _reference(name)
    source = _random_state_dict(reference)
    pipe = convert_checkpoint(source)
    model = pipe.model
    assert model.config.label_embedding == layout
    assert list(model.config.label_names) == list(ALL_STATEMENTS)
    assert sum(p.numel() for p in model.parameters()) == reference["num_parameters"]
    ours = model.state_dict()
    filled = set()
    for ref_key, tensor in source.items():
        if ref_key.endswith((".omega", ".z")):
            continue  # fixed FFT nodes, recomputed
        key, row = _expected_location(ref_key)
        target = ours[key] if row is None else ours[key][row]
        assert torch.equal(target.reshape(-1), tensor.reshape(-1)), ref_key
        filled.add(key)
    assert filled == set(ours), f"never filled: {sorted(set(ours) - filled)[:5]}"
    expected_leads = ["I", "aVF"] if layout == "nle" else ["I", "V1"]
    assert list(model.config.generated_leads[:2]) == expected_leads


def _to_reference_layout(model, old_weight_norm):
    """A tiny model's weights under the reference names and shapes (the oracle tables inverted)."""
    inverse = {}
    for ref, ours in list(EXPECTED_NAMES.items()):
        inverse.setdefault(ours, []).append(ref)
    out = {}
    for key, tensor in model.state_dict().items():
        if key == "statement_embedding.pair_embeddings":
            out.update({f"label_embedding.{k}.weight": tensor[k] for k in range(tensor.shape[0])})
            continue
        if key == "statement_embedding.mix_weight":
            out["label_embedding_conv.weight"] = tensor.reshape(1, -1, 1)
            continue
        if key == "statement_embedding.mix_bias":
            out["label_embedding_conv.bias"] = tensor
            continue
        if m := re.fullmatch(r"blocks\.(\d+)\.(.+)", key):
            candidates = [r for r, o in BLOCK_NAMES.items() if o == m.group(2)]
            refs = [f"residual_layer.residual_blocks.{m.group(1)}.{r}" for r in candidates]
        else:
            refs = inverse[key]
        wanted = "weight_" if old_weight_norm else "parametrizations"
        ref = next((r for r in refs if wanted in r), refs[0]) if len(refs) > 1 else refs[0]
        if re.search(r"s4_\d\.D$", key):
            tensor = tensor.reshape(1, -1)
        elif re.search(r"kernel\.(B|P|Q)$", key):
            tensor = tensor.unsqueeze(0)
        elif key.endswith("output_proj.weight") and "s4" in key:
            tensor = tensor[..., 0]
        elif key.endswith("output_proj.bias") and "s4" in key:
            tensor = tensor.reshape(-1, 1)
        out[ref] = tensor.clone()
        if ref.endswith("kernel.kernel.C"):  # the reference also stores its FFT nodes
            nodes = torch.zeros(model.config.s4_max_length // 2 + 1, 2)
            out[ref[: -len("C")] + "omega"], out[ref[: -len("C")] + "z"] = nodes, nodes.clone()
    return out


@pytest.mark.parametrize(
    "layout, old_weight_norm, labels",
    [("nle", False, ("NORM", "AFIB", "SR")), ("multi_hot", True, ("NORM", "AFIB", "SR")), ("nle", False, ("AFIB",))],
    ids=["nle-3", "multi_hot-3", "nle-1"],
)
def test_round_trip_through_the_reference_layout_gives_identical_outputs(layout, old_weight_norm, labels):
    from sssd_hf.testing import make_tiny_model

    model = make_tiny_model(label_names=labels, label_embedding=layout, sample_length=64)
    source = _to_reference_layout(model, old_weight_norm)
    assert any("weight_g" in k for k in source) == old_weight_norm
    pipe = convert_checkpoint(source, label_names=labels, generated_leads=model.config.generated_leads)
    assert pipe.model.config.s4_max_length == 64  # read off the stored FFT nodes
    assert any(k.startswith("label_embedding_conv") for k in source) == (layout == "nle" and len(labels) > 1)
    x, t = torch.randn(2, 8, 64), torch.tensor([3, 150])
    y = torch.tensor([[1.0, 0, 1], [0, 1, 0]])[:, : len(labels)]
    with torch.no_grad():
        torch.testing.assert_close(pipe.model(x, t, labels=y).sample, model(x, t, labels=y).sample, rtol=0, atol=0)


def test_leftover_and_missing_keys_are_named():
    reference = _reference("sssd_ecg_71")
    source = _random_state_dict(reference)
    source["residual_layer.residual_blocks.0.mystery.weight"] = torch.zeros(3)
    with pytest.raises(ConversionError, match="mystery"):
        convert_checkpoint(source)
    source = _random_state_dict(reference)
    del source["residual_layer.residual_blocks.3.fc_t.bias"]
    with pytest.raises(ConversionError, match=r"blocks\.3\.timestep_proj\.bias"):
        convert_checkpoint(source)


def test_wrong_shape_and_label_count_are_rejected():
    reference = _reference("sssd_ecg_71")
    source = _random_state_dict(reference)
    source["residual_layer.fc_t2.bias"] = torch.zeros(7)
    with pytest.raises(ConversionError, match="Wrong shapes"):
        convert_checkpoint(source)
    with pytest.raises(ConversionError, match="3 label names"):
        convert_checkpoint(_random_state_dict(reference), label_names=["NORM", "AFIB", "SR"])


def test_command_line_converts_a_training_checkpoint(tmp_path, capsys):
    from sssd_hf import SSSDECGPipeline
    from sssd_hf.testing import make_tiny_model

    model = make_tiny_model(label_names=("NORM", "AFIB", "SR"), label_embedding="multi_hot", sample_length=64)
    path = tmp_path / "100000.pkl"
    torch.save({"model_state_dict": _to_reference_layout(model, True), "optimizer_state_dict": {}}, path)
    out = tmp_path / "converted"
    leads = ",".join(model.config.generated_leads)
    assert (
        main(
            [
                str(path),
                "--out",
                str(out),
                "--label-names",
                "NORM,AFIB,SR",
                "--generated-leads",
                leads,
                "--sample-length",
                "64",
            ]
        )
        == 0
    )
    assert (out / "model" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = SSSDECGPipeline.from_pretrained(out)
    assert loaded.model.config.label_embedding == "multi_hot"
    assert list(loaded.model.config.label_names) == ["NORM", "AFIB", "SR"]
    assert main([str(tmp_path / "missing.pkl"), "--out", str(tmp_path / "x")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main([str(path), "--out", str(tmp_path / "y"), "--label-names", "NORM,XYZ,SR"]) == 2
    assert "XYZ" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_corrupt_checkpoint_gives_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ConversionError, match="Cannot read checkpoint"):
        load_reference_state_dict(bad)
    with pytest.raises(ConversionError, match="Not an SSSD-ECG checkpoint"):
        convert_checkpoint({"foo.weight": torch.zeros(2)})


REFERENCE_FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "reference")


def _single_statement_layout():
    """The authors' paper-size SSSD-ECG-nle with one statement, as key -> shape (stored fixture)."""
    with open(os.path.join(REFERENCE_FIXTURES, "sssd_ecg_nle_1_layout.json")) as f:
        layout = json.load(f)
    shapes = dict(layout["top_level"])
    for i in range(layout["num_blocks"]):
        shapes.update({f"residual_layer.residual_blocks.{i}.{k}": v for k, v in layout["block"].items()})
    return layout, shapes


def test_paper_size_single_statement_checkpoint_converts_on_the_meta_device():
    layout, shapes = _single_statement_layout()
    assert len(shapes) == layout["num_keys"] == 1417
    assert layout["num_parameters"] == 50_193_672
    assert "label_embedding.0.weight" in shapes and not any(k.startswith("label_embedding_conv") for k in shapes)
    source = {k: torch.empty(v, device="meta") for k, v in shapes.items()}
    model = convert_checkpoint(source, label_names=["AFIB"]).model
    assert model.config.label_embedding == "nle" and list(model.config.label_names) == ["AFIB"]
    assert sum(p.numel() for p in model.parameters()) == layout["num_parameters"]
    ours = model.state_dict()
    assert len(ours) == 1417 - 2 * 2 * 36  # the fixed FFT nodes omega and z are recomputed, not stored
    # every one of the authors' names lands where the oracle tables say, with its shape
    landed = set()
    for ref_key, shape in shapes.items():
        if ref_key.endswith((".omega", ".z")):
            continue
        key, row = _expected_location(ref_key)
        target = ours[key] if row is None else ours[key][row]
        assert target.numel() == math.prod(shape), ref_key
        landed.add(key)
    assert landed == set(ours)


def test_single_statement_checkpoint_with_a_mixing_conv_is_refused():
    """A one-statement model has no label_embedding_conv in the authors' code; one that has it
    is not an SSSD-ECG-nle checkpoint we know, and the stray keys are named."""
    _, shapes = _single_statement_layout()
    source = {k: torch.empty(v, device="meta") for k, v in shapes.items()}
    source["label_embedding_conv.weight"] = torch.empty(1, 1, 1, device="meta")
    source["label_embedding_conv.bias"] = torch.empty(1, device="meta")
    with pytest.raises(ConversionError, match="Unexpected: .*statement_embedding.mix"):
        convert_checkpoint(source, label_names=["AFIB"])
