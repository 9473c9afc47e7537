#!/usr/bin/env python
"""Label control of a rhythm-conditioned pipeline: does an ECG generated for SBRAD / SR / STACH
have a heart rate in that statement's range?

For each statement, N ECGs are generated with ``labels=[statement]``; R peaks are detected on
lead II with NeuroKit2 (``nk.ecg_clean`` + ``nk.ecg_peaks``) and the heart rate is 60 / mean RR.
An ECG counts as *in range* when its rate lies in the statement's definition (SBRAD < 60 bpm,
SR 60-100, STACH > 100) **and** the detection is a regular rhythm (at least 4 beats, RR
coefficient of variation <= 0.15; noise would otherwise yield a few irregular "beats" whose low
rate passes for bradycardia).  The rate-only fraction is reported too.

    python training/measure_label_control.py --per-statement 100 --steps 50 \\
        --full-steps-per-statement 20 --reference-dataset data/simulated-rhythms \\
        --out label_control.json --write-card

``--steps`` below 200 uses the strided DDPM of the pipeline's scheduler; ``--full-steps-per-statement``
then also measures that many ECGs per statement with all 200 DDPM steps.  ``--write-card`` puts the
table into the pipeline's README.md (between ``<!-- label-control -->`` markers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

CARD_START = "<!-- label-control:start -->"
CARD_END = "<!-- label-control:end -->"


def _statements(pipe, wanted: Optional[Sequence[str]]) -> List[str]:
    from sssd_hf.data.simulated import RATE_DEFINITIONS

    names = list(pipe.model.config.label_names or [])
    candidates = list(wanted) if wanted else [c for c in names if c in RATE_DEFINITIONS]
    bad = [c for c in candidates if c not in RATE_DEFINITIONS or c not in names]
    if bad or not candidates:
        raise ValueError(
            f"Label control is measured for rate-defined statements the model knows: "
            f"model has {names}, rate-defined are {list(RATE_DEFINITIONS)}; cannot measure {bad or candidates}"
        )
    return candidates


def measure_pipeline(
    pipe, statements: Sequence[str], per_statement: int, steps: int, batch_size: int, seed: int
) -> List[Dict[str, object]]:
    """Generate ``per_statement`` ECGs per statement with ``steps`` DDPM steps and summarize."""
    from sssd_hf.evaluation.label_control import label_control

    results = []
    for k, statement in enumerate(statements):
        start = time.perf_counter()
        out = pipe(labels=[statement], num_ecgs_per_label=per_statement, num_inference_steps=steps,
                   batch_size=batch_size, generator=torch.Generator().manual_seed(seed + k))
        elapsed = time.perf_counter() - start
        summary = label_control(out.ecgs, [statement] * len(out.ecgs), out.sampling_rate)[statement]
        results.append({**summary, "seconds_per_ecg": elapsed / len(out.ecgs)})
        print(json.dumps({"steps": steps, **results[-1]}), flush=True)
    return results


def measure_reference(path: str, statements: Sequence[str], split: str = "test") -> List[Dict[str, object]]:
    """The same measurement on the simulated corpus itself (how often the detector agrees with
    the ground-truth label)."""
    from sssd_hf.evaluation.label_control import label_control
    from sssd_hf.training.data import dataset_vocabulary, load_ecg_dataset

    data = load_ecg_dataset(path)[split]
    names = dataset_vocabulary(data)
    signals, codes = [], []
    for row in data.with_format("numpy", columns=["signal", "labels"]):
        for index in np.asarray(row["labels"]).tolist():
            if names[index] in statements:
                signals.append(row["signal"])
                codes.append(names[index])
    summaries = label_control(np.asarray(signals), codes, 100) if codes else {}
    return [summaries[s] for s in statements if s in summaries]


def table(results: List[Dict[str, object]]) -> str:
    lines = [
        "| statement | ECGs | in range (regular rhythm) | rate in range (any detection) | median HR (p10-p90), bpm |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        spread = r["heart_rate_p10_p90"]
        hr = f"{r['heart_rate_median']:.0f} ({spread[0]:.0f}-{spread[1]:.0f})" if spread else "n/a"
        lines.append(
            f"| {r['statement']} | {r['n']} | {100 * r['in_range']:.0f}% | "
            f"{100 * r['rate_in_range_any_detection']:.0f}% | {hr} |"
        )
    return "\n".join(lines)


def card_section(report: Dict[str, object]) -> str:
    parts = [
        CARD_START,
        "## Label control (measured)",
        "",
        "For each statement, ECGs were generated with `labels=[statement]`; R peaks were detected on lead II "
        "with NeuroKit2 (`ecg_clean` + `ecg_peaks`), heart rate = 60 / mean RR. *In range* means the rate lies "
        "in the statement's definition (SBRAD < 60 bpm, SR 60-100 bpm, STACH > 100 bpm) and the detection is a "
        "regular rhythm (>= 4 beats, RR coefficient of variation <= 0.15).",
        "",
    ]
    for run in report["runs"]:
        schedule = "the full schedule" if run["steps"] == report["num_train_timesteps"] else "strided DDPM"
        parts += [
            f"**{run['steps']} DDPM steps** ({schedule}), seed {report['seed']}:",
            "",
            table(run["results"]),
            "",
        ]
    if report.get("reference"):
        parts += [
            "**Reference**: the same detector on the simulated test split (ground truth):",
            "",
            table(report["reference"]),
            "",
        ]
    parts += [
        f"Measured on {report['machine']} with `{report['command']}` ({report['total_seconds']:.0f} s).",
        CARD_END,
    ]
    return "\n".join(parts)


def write_card(pipeline_dir: str, section: str) -> str:
    """Insert or replace the label-control section of ``pipeline_dir/README.md`` (atomically)."""
    from sssd_hf.utils import atomic_write_text

    path = os.path.join(pipeline_dir, "README.md")
    with open(path, encoding="utf-8") as f:
        card = f.read()
    if CARD_START in card and CARD_END in card:
        before, rest = card.split(CARD_START, 1)
        card = before + section + rest.split(CARD_END, 1)[1]
    elif "\n## Citation" in card:
        before, after = card.split("\n## Citation", 1)
        card = before.rstrip("\n") + "\n\n" + section + "\n\n## Citation" + after
    else:
        card = card.rstrip("\n") + "\n\n" + section + "\n"
    atomic_write_text(path, card)
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Measure heart-rate label control of a rhythm-conditioned pipeline")
    parser.add_argument(
        "--pipeline", default=None, help="pipeline folder (default: the bundled sssd_hf default pipeline)"
    )
    parser.add_argument("--statements", nargs="*", default=None, help="default: every SBRAD/SR/STACH the model knows")
    parser.add_argument("--per-statement", type=int, default=100)
    parser.add_argument("--steps", type=int, default=200, help="DDPM steps (200 = the full schedule)")
    parser.add_argument("--full-steps-per-statement", type=int, default=0,
                        help="with --steps < 200, also measure this many ECGs per statement with all 200 steps")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument(
        "--reference-dataset", default=None, help="simulated DatasetDict: measure the detector on its test split"
    )
    parser.add_argument("--out", default=None, help="write the report as JSON here")
    parser.add_argument("--write-card", action="store_true", help="put the table into the pipeline's README.md")
    args = parser.parse_args(argv)

    from sssd_hf import SSSDECGPipeline
    from sssd_hf.defaults import default_pipeline_path

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = args.pipeline or default_pipeline_path()
    if folder is None:
        print("error: no --pipeline given and this installation has no bundled default pipeline", file=sys.stderr)
        return 2
    pipe = SSSDECGPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    statements = _statements(pipe, args.statements)
    total_steps = pipe.scheduler.config.num_train_timesteps
    start = time.perf_counter()
    runs = [
        {
            "steps": args.steps,
            "results": measure_pipeline(pipe, statements, args.per_statement, args.steps, args.batch_size, args.seed),
        }
    ]
    if args.steps < total_steps and args.full_steps_per_statement > 0:
        runs.append({"steps": total_steps, "results": measure_pipeline(
            pipe, statements, args.full_steps_per_statement, total_steps, args.batch_size, args.seed + 1000)})
    report = {
        "pipeline": os.path.abspath(folder),
        "num_train_timesteps": total_steps,
        "seed": args.seed,
        "runs": runs,
        "reference": measure_reference(args.reference_dataset, statements) if args.reference_dataset else None,
        "machine": f"{platform.machine()} CPU, torch threads: {torch.get_num_threads()}, torch {torch.__version__}",
        "command": "python training/measure_label_control.py "
        + shlex.join(sys.argv[1:] if argv is None else list(argv)),
        "total_seconds": time.perf_counter() - start,
    }
    for run in runs:
        print(f"\n{run['steps']} DDPM steps\n" + table(run["results"]))
    if report["reference"]:
        print("\nreference (simulated test split)\n" + table(report["reference"]))
    if args.out:
        from sssd_hf.utils import atomic_write_text

        atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    if args.write_card:
        print("updated", write_card(folder, card_section(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
