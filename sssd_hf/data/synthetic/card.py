"""The dataset card of a build: template variables from the build state, the privacy section."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Dict, List, Mapping, Optional

from ...leads import STANDARD_LEADS
from ...utils import atomic_write_text
from ...vocabulary import STATEMENTS_BY_CODE, describe
from ..card import card_metadata, describe_splits, render_dataset_card
from ..ptbxl_layout import FOLD_SPLITS


def _card_variables(state, split_rows, plan, repo_id) -> Dict:
    label_names = state["label_names"]
    counts = Counter(code for record in plan for code in record.labels)
    selection = state["settings"]["selection"]
    chosen = []
    if selection.get("splits"):
        chosen.append(f"splits {', '.join(selection['splits'])}")
    if selection.get("subset"):
        chosen.append(f"records carrying {', '.join(selection['subset'])}")
    if selection.get("per_statement"):
        chosen.append(f"at least min({selection['per_statement']}, available) records per statement, rarest first")
    if selection.get("limit"):
        chosen.append(f"the first {selection['limit']} records")
    if selection.get("oversample"):
        chosen.append("oversampled " + ", ".join(f"{c} x{f}" for c, f in selection["oversample"].items()))
    text = (
        ("Selection: " + "; ".join(chosen) + ".")
        if chosen
        else "Every record with a statement in the vocabulary is copied once."
    )
    if state["skipped_unlabeled"]:
        text += (
            f" {state['skipped_unlabeled']} source record(s) had no statement in the model's vocabulary "
            "and were skipped."
        )
    return {
        "pretty_name": state["pretty_name"],
        "pipeline_name": {"nle": "SSSD-ECG-nle", "multi_hot": "SSSD-ECG"}.get(state["label_embedding"], "SSSD-ECG"),
        "pipeline_class": state["pipeline_class"],
        "sssd_hf_version": state["sssd_hf_version"],
        "label_embedding": state["label_embedding"],
        "generated_leads": ", ".join(state["generated_leads"]),
        "model_id": state["model"],
        "weights": state["weights"]
        or [{"name": "parameters (sha256 of config and tensors)", "sha256": state["model_digest"]}],
        "training_data": state["training_data"],
        "source_name": "PTB-XL",
        "source_file": state["source_file"],
        "source_rows": state["source_rows"],
        "min_likelihood": selection["min_likelihood"],
        "selection": text,
        "num_inference_steps": state["settings"]["num_inference_steps"],
        "sampler": _sampler_text(state["settings"]["scheduler"]),
        "guidance_scale": state["settings"]["guidance_scale"],
        "seed": state["settings"]["seed"],
        "build_date": state["created"],
        "splits": describe_splits(split_rows, FOLD_SPLITS),
        "num_labels": len(label_names),
        "sample_length": state["sample_length"],
        "sampling_rate": state["sampling_rate"],
        "lead_names": ", ".join(STANDARD_LEADS),
        "repo_id": repo_id or "path/to/this/folder",
        "privacy_evaluation": state["privacy_evaluation"],
        "labels": [
            {
                "code": c,
                "description": describe(c).partition(" - ")[2] if c in STATEMENTS_BY_CODE else c,
                "count": counts[c],
            }
            for c in label_names
            if counts[c]
        ],
    }


_NO_PRIVACY_REPORT = (
    "No privacy evaluation was attached to this build. Before publishing, compare every synthetic "
    "ECG with its nearest real training record (for example the distance-to-closest-record "
    "distribution against real-to-real distances) and run a membership-inference test; attach the "
    "result with `--privacy-report FILE`."
)


def _sampler_text(name: str) -> str:
    """``dpm-sde`` -> ``sampler `dpm-sde` (stochastic DPM-Solver++ (SDE, few steps))``; a name the registry no
    longer knows is shown as is."""
    from ...schedulers.samplers import SAMPLERS

    sampler = SAMPLERS.get(name)
    return f"sampler `{name}` ({sampler.label})" if sampler else f"sampler `{name}`"


def _read_privacy_report(path: Optional[str]) -> str:
    if path is None:
        return _NO_PRIVACY_REPORT
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--privacy-report file not found: {path}")
    with open(path, encoding="utf-8") as f:
        text = f.read().strip()
    if path.endswith(".json"):
        text = "\n".join(_json_lines(json.loads(text)))
    return text


def _json_lines(value, indent: str = "") -> List[str]:
    """A JSON privacy report as a nested Markdown list."""
    if not isinstance(value, dict):
        return [f"{indent}- {value}"]
    lines = []
    for key, item in value.items():
        if isinstance(item, dict):
            lines += [f"{indent}- **{key}**:"] + _json_lines(item, indent + "  ")
        else:
            lines.append(f"{indent}- **{key}**: {item}")
    return lines


def write_card(
    out: str, state: Mapping, plan, features, license: str, repo_id: Optional[str], card_template: Optional[str]
) -> None:
    """(Re)write ``out/README.md`` from the build state; the card-only options (license, privacy
    report, training data, name) can change between runs of the same build."""
    metadata = card_metadata(features, state["split_rows"], state["split_bytes"], license, state["pretty_name"])
    card = render_dataset_card(metadata, _card_variables(state, state["split_rows"], plan, repo_id), card_template)
    atomic_write_text(os.path.join(out, "README.md"), card)
