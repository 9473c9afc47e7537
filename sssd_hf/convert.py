"""Convert the authors' checkpoints into sssd-hf pipeline folders.

Accepted inputs (``torch.load``-able files, or ``.safetensors``):

- SSSD-ECG (AI4HealthUOL/SSSD-ECG) training checkpoints ``{"model_state_dict": ...}`` or bare
  state dicts: multi-hot embedding ``embedding.weight``, old-style weight norm
  (``weight_g`` / ``weight_v``);
- SSSD-ECG-nle (ispras/EcgLib, branch ``ecg_generation``) state dicts: per-statement embeddings
  ``label_embedding.{k}.weight`` mixed by ``label_embedding_conv`` when there are several
  statements, and used directly (no ``label_embedding_conv``) for one statement, the paper's
  binary setup (pass ``--label-names AFIB``); parametrisation-style weight norm
  (``parametrizations.weight.original0/1``), optional ``gender_embedding``.

Usage::

    python -m sssd_hf.convert CHECKPOINT --out DIR [--label-names all|CODES|FILE]
        [--generated-leads I,aVF,V1,V2,V3,V4,V5,V6] [--sampling-rate 100] [--sample-length 1000]

Every source tensor must land in exactly one target tensor and every target tensor must be
filled; anything else is an error that names the keys.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .leads import validate_generated_leads
from .models.modeling_sssd_ecg import SSSDECGModel
from .pipelines.pipeline_sssd_ecg import SSSDECGPipeline
from .schedulers.scheduling_sssd_ecg import SSSDECGScheduler
from .vocabulary import get_vocabulary

#: The 8 channels as stored by the SSSD-ECG code (its ``index_8`` picks I, V1-V6, aVF from its
#: data; the paper text describes the layout as I, II, V1-V6).
SSSD_ECG_LEADS = ("I", "V1", "V2", "V3", "V4", "V5", "V6", "aVF")
#: The 8 channels of SSSD-ECG-nle (EcgLib notebook: leads [0, 5, 6..11] of the standard order).
SSSD_ECG_NLE_LEADS = ("I", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

# (reference key pattern, our key template); block indices are carried over by \1.
_RENAMES: Sequence[Tuple[str, str]] = (
    (r"init_conv\.0\.conv\.(.+)", r"input_projection.\1"),
    (r"residual_layer\.fc_t1\.(weight|bias)", r"timestep_mlp.0.\1"),
    (r"residual_layer\.fc_t2\.(weight|bias)", r"timestep_mlp.2.\1"),
    (r"final_conv\.0\.conv\.(.+)", r"skip_projection.\1"),
    (r"final_conv\.2\.conv\.(weight|bias)", r"output_projection.\1"),
    (r"(?:embedding|label_embedding)\.weight", r"statement_embedding.weight"),
    (r"gender_embedding\.weight", r"sex_embedding.weight"),
    (r"residual_layer\.residual_blocks\.(\d+)\.fc_t\.(weight|bias)", r"blocks.\1.timestep_proj.\2"),
    (r"residual_layer\.residual_blocks\.(\d+)\.conv_layer\.conv\.(.+)", r"blocks.\1.conv.\2"),
    (r"residual_layer\.residual_blocks\.(\d+)\.res_conv\.(.+)", r"blocks.\1.res_proj.\2"),
    (r"residual_layer\.residual_blocks\.(\d+)\.skip_conv\.(.+)", r"blocks.\1.skip_proj.\2"),
    (r"residual_layer\.residual_blocks\.(\d+)\.S4([12])\.s4_layer\.D", r"blocks.\1.s4_\2.D"),
    (
        r"residual_layer\.residual_blocks\.(\d+)\.S4([12])\.s4_layer\.kernel\.kernel\.(C|log_dt|w|B|P|Q)",
        r"blocks.\1.s4_\2.kernel.\3",
    ),
    (
        r"residual_layer\.residual_blocks\.(\d+)\.S4([12])\.s4_layer\.output_linear\.(weight|bias)",
        r"blocks.\1.s4_\2.output_proj.\3",
    ),
    (r"residual_layer\.residual_blocks\.(\d+)\.S4([12])\.norm_layer\.(weight|bias)", r"blocks.\1.s4_\2.norm.\3"),
)
_WEIGHT_NORM = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}
# Fixed FFT nodes of the reference kernel; recomputed here, so only checked and dropped.
_DROPPED = re.compile(r".*\.kernel\.kernel\.(omega|z)$")
_NLE_PAIR = re.compile(r"label_embedding\.(\d+)\.weight")


class ConversionError(ValueError):
    """The checkpoint does not match the reference layout; the message names the keys."""


def load_reference_state_dict(path: str | os.PathLike) -> Dict[str, torch.Tensor]:
    """Read a checkpoint file and return its model state dict (tensors on CPU)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            data = load_file(path)
        else:
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConversionError(f"Cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc
    if isinstance(data, dict) and "model_state_dict" in data:
        data = data["model_state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ConversionError(f"{path} holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in data.items()}


def infer_config(state_dict: Dict[str, torch.Tensor]) -> dict:
    """Network sizes read off a reference state dict (``SSSDECGModel`` keyword arguments)."""
    def get(key):
        for suffix in ("", ".weight_v", ".parametrizations.weight.original1"):
            if key + suffix in state_dict:
                return state_dict[key + suffix]
        raise ConversionError(f"Not an SSSD-ECG checkpoint: no {key!r} in the state dict")

    init_w = get("init_conv.0.conv")
    blocks = {int(m.group(1)) for k in state_dict if (m := re.match(r"residual_layer\.residual_blocks\.(\d+)\.", k))}
    if not blocks:
        raise ConversionError("Not an SSSD-ECG checkpoint: no residual_layer.residual_blocks.* keys")
    c_param = state_dict["residual_layer.residual_blocks.0.S41.s4_layer.kernel.kernel.C"]
    omega = state_dict.get("residual_layer.residual_blocks.0.S41.s4_layer.kernel.kernel.omega")
    pairs = sorted(int(m.group(1)) for k in state_dict if (m := _NLE_PAIR.fullmatch(k)))
    if pairs:
        label_embedding, num_labels, label_dim = "nle", len(pairs), state_dict["label_embedding.0.weight"].shape[1]
    elif "embedding.weight" in state_dict or "label_embedding.weight" in state_dict:
        w = state_dict.get("embedding.weight", state_dict.get("label_embedding.weight"))
        label_embedding, (num_labels, label_dim) = "multi_hot", tuple(w.shape)
    else:
        label_embedding, num_labels, label_dim = None, 0, 128
    config = dict(
        in_channels=init_w.shape[1],
        channels=init_w.shape[0],
        skip_channels=state_dict["final_conv.2.conv.weight"].shape[1],
        num_layers=max(blocks) + 1,
        timestep_embed_dims=(
            state_dict["residual_layer.fc_t1.weight"].shape[1],
            state_dict["residual_layer.fc_t1.weight"].shape[0],
            state_dict["residual_layer.fc_t2.weight"].shape[0],
        ),
        s4_state_size=2 * c_param.shape[2],
        s4_max_length=2 * (omega.shape[0] - 1) if omega is not None else 1000,
        s4_layer_norm="residual_layer.residual_blocks.0.S41.norm_layer.weight" in state_dict,
        label_embedding=label_embedding,
        label_embed_dim=label_dim,
        num_labels=num_labels,
    )
    if "gender_embedding.weight" in state_dict:
        config["num_sex_classes"], config["sex_embed_dim"] = state_dict["gender_embedding.weight"].shape
    return config


def convert_state_dict(state_dict: Dict[str, torch.Tensor], has_labels: bool) -> Dict[str, torch.Tensor]:
    """Rename and reshape a reference state dict into :class:`SSSDECGModel`'s layout.

    Raises :class:`ConversionError` listing every key that matches no rule.
    """
    out: Dict[str, torch.Tensor] = {}
    leftovers: List[str] = []
    pair_rows: Dict[int, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        if _DROPPED.fullmatch(key):
            continue
        if m := _NLE_PAIR.fullmatch(key):
            pair_rows[int(m.group(1))] = tensor
            continue
        if key == "label_embedding_conv.weight":
            out["statement_embedding.mix_weight"] = tensor.reshape(-1)
            continue
        if key == "label_embedding_conv.bias":
            out["statement_embedding.mix_bias"] = tensor.reshape(1)
            continue
        if m := re.fullmatch(r"residual_layer\.residual_blocks\.(\d+)\.fc_(label|gender)\.(weight|bias)", key):
            index = 0 if m.group(2) == "label" or not has_labels else 1
            out[f"blocks.{m.group(1)}.cond_projs.{index}.{m.group(3)}"] = tensor
            continue
        new_key = _rename(key)
        if new_key is None:
            leftovers.append(key)
            continue
        out[new_key] = _reshape(new_key, tensor)
    if leftovers:
        raise ConversionError(f"{len(leftovers)} checkpoint tensor(s) match no SSSD-ECG parameter: {leftovers[:10]}")
    if pair_rows:
        if sorted(pair_rows) != list(range(len(pair_rows))):
            raise ConversionError(f"label_embedding.k.weight indices are not 0..{len(pair_rows) - 1}")
        out["statement_embedding.pair_embeddings"] = torch.stack([pair_rows[k] for k in range(len(pair_rows))])
    return out


def _rename(key: str) -> Optional[str]:
    for pattern, template in _RENAMES:
        if m := re.fullmatch(pattern, key):
            new = m.expand(template)
            for old, replacement in _WEIGHT_NORM.items():
                if new.endswith("." + old):
                    new = new[: -len(old)] + replacement
            return new
    return None


def _reshape(new_key: str, tensor: torch.Tensor) -> torch.Tensor:
    if re.search(r"\.s4_\d\.D$", new_key):
        return tensor.reshape(-1)  # (1, H) -> (H,)
    if re.search(r"\.kernel\.(B|P|Q)$", new_key):
        if tensor.shape[0] != 1:
            raise ConversionError(
                f"{new_key}: only rank-1, untied S4 kernels are supported, got shape {tuple(tensor.shape)}"
            )
        return tensor[0]  # (1, H, N/2, 2) -> (H, N/2, 2)
    if new_key.endswith("output_proj.weight"):
        return tensor.unsqueeze(-1)  # (H, H) -> (H, H, 1)
    if new_key.endswith("output_proj.bias"):
        return tensor.reshape(-1)  # (H, 1) -> (H,)
    return tensor


def convert_checkpoint(
    state_dict: Dict[str, torch.Tensor],
    label_names: Optional[Sequence[str]] = None,
    generated_leads: Optional[Sequence[str]] = None,
    sampling_rate: int = 100,
    sample_length: Optional[int] = None,
) -> SSSDECGPipeline:
    """Build an :class:`SSSDECGPipeline` holding a reference checkpoint's weights.

    Args:
        state_dict: a reference state dict (see module docstring).
        label_names: the statement codes in the order the checkpoint was trained with; default
            PTB-XL's 71 statements in alphabetical order when the checkpoint has 71 labels.
        generated_leads: channel layout; default :data:`SSSD_ECG_NLE_LEADS` for nle checkpoints
            and :data:`SSSD_ECG_LEADS` otherwise.
        sampling_rate, sample_length: Hz and samples of the training data (default: 100, the
            kernel length).
    """
    config = infer_config(state_dict)
    num_labels = config.pop("num_labels")
    if config["label_embedding"] is not None:
        if label_names is None:
            if num_labels != 71:
                raise ConversionError(
                    f"The checkpoint is conditioned on {num_labels} statements: pass their codes with --label-names"
                )
            label_names = get_vocabulary("all")
        if len(label_names) != num_labels:
            raise ConversionError(
                f"{len(label_names)} label names given for a checkpoint with {num_labels} statements"
            )
        config["label_names"] = list(label_names)
    if generated_leads is None:
        generated_leads = SSSD_ECG_NLE_LEADS if config["label_embedding"] == "nle" else SSSD_ECG_LEADS
    config["generated_leads"] = validate_generated_leads(generated_leads)
    config["sampling_rate"] = sampling_rate
    config["sample_length"] = sample_length or config["s4_max_length"]
    with torch.device("meta"):
        model = SSSDECGModel(**config)
    converted = convert_state_dict(state_dict, has_labels=config["label_embedding"] is not None)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    wrong = [
        f"{k}: {tuple(converted[k].shape)} != {tuple(expected[k].shape)}"
        for k in expected
        if k in converted and converted[k].shape != expected[k].shape
    ]
    if missing or unexpected or wrong:
        raise ConversionError(
            f"Layout mismatch. Missing: {missing[:10]} Unexpected: {unexpected[:10]} Wrong shapes: {wrong[:10]}"
        )
    model.load_state_dict({k: v.float().contiguous() for k, v in converted.items()}, strict=True, assign=True)
    return SSSDECGPipeline(model=model.eval(), scheduler=SSSDECGScheduler())


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sssd_hf.convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="reference checkpoint (.pkl/.pt/.pth/.safetensors)")
    parser.add_argument("--out", required=True, help="pipeline folder to write")
    parser.add_argument(
        "--label-names",
        help="vocabulary name (all, rhythm, ...), comma-separated codes, or a file with one code per line",
    )
    parser.add_argument("--generated-leads", help="comma-separated channel layout, e.g. I,aVF,V1,V2,V3,V4,V5,V6")
    parser.add_argument("--sampling-rate", type=int, default=100)
    parser.add_argument("--sample-length", type=int)
    args = parser.parse_args(argv)
    try:
        label_names = None
        if args.label_names:
            if os.path.isfile(args.label_names):
                with open(args.label_names, encoding="utf-8") as f:
                    label_names = [line.strip() for line in f if line.strip()]
            else:
                label_names = get_vocabulary(args.label_names)
        leads = args.generated_leads.split(",") if args.generated_leads else None
        pipe = convert_checkpoint(
            load_reference_state_dict(args.checkpoint), label_names, leads, args.sampling_rate, args.sample_length
        )
        pipe.save_pretrained(args.out)
    except (ValueError, FileNotFoundError) as exc:
        print(f"convert: error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
