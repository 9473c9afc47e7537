#!/usr/bin/env python
"""Measure a PTB-XL-trained pipeline on fold 10 and write the figures of its model card.

    python training/evaluate_default.py --pipeline sssd_hf/default_pipeline \
        --ptbxl ../shared/data/ptbxl --work /tmp/eval-default --out training/results/ptbxl_default

Stages (``--stages``, default all, in this order; each reuses the work folder of an earlier run):

``dataset``   ``sssd-ecg build-dataset``: one synthetic ECG per record of the slice, conditioned on its
              statements and kept in its fold (the published synthetic copy; resumable).
``evaluate``  ``sssd-ecg evaluate``: TRTR / TSTR / TRTS macro ROC-AUC on the model's statements
              (classifier trained on folds 1-8, early stopping on fold 9, tested on fold 10), the
              physiology, feature and privacy sections.
``fidelity``  ``sssd-ecg measure``'s delineator on every synthetic ECG and on the real folds:
              heart rate per rhythm statement, AFIB RR irregularity, CRBBB QRS duration, per-lead
              amplitudes, each with n and a 95 % interval.  The copy is read with
              ``datasets.load_dataset`` and each split's source records must lie in the same real
              split (folds 1-8 / 9 / 10), else it stops with an error.
``guidance``  the same fidelity figures for fresh ECGs of five label sets at guidance scales 1 and 2.
``figure``    generated next to real ECGs of the same statements (fold 10 records and their copies).

Writes ``OUT/fold10.json`` (every figure, the commands, and per generating stage the sampler and
steps it used: e.g. the 1,999-record copy with DPM-Solver++ in 20 steps for cost, the guidance
stage's few ECGs with the paper's 200-step DDPM), ``OUT/generated_vs_real.png`` and prints the
commands it ran.  Fold 10 is used for reporting only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from typing import Dict, List, Sequence

import numpy as np

STAGES = ("dataset", "evaluate", "fidelity", "guidance", "figure")
#: The stages that generate ECGs (the others measure the synthetic copy that ``dataset`` made).
SAMPLING_STAGES = ("dataset", "guidance")
#: Heart-rate bounds (bpm) of the rhythm statements, as PTB-XL defines them.
RATE_BOUNDS = {"SBRAD": (0.0, 60.0), "SR": (60.0, 100.0), "NORM": (60.0, 100.0), "STACH": (100.0, 1e9)}
#: An RR series counts as irregular when its coefficient of variation exceeds this.
IRREGULAR_RR_CV = 0.1
#: Label sets of the guidance stage (the statements' most common company in PTB-XL).
GUIDANCE_LABELS = (("SBRAD",), ("NORM", "SR"), ("STACH",), ("AFIB",), ("CRBBB", "SR"))
FIGURE_STATEMENTS = ("NORM", "SBRAD", "STACH", "AFIB", "CRBBB")


# ------------------------------------------------------------------------------------- statistics


def wilson(successes: int, n: int, z: float = 1.96) -> List[float]:
    """95 % Wilson score interval of a proportion ``successes / n``; ``[nan, nan]`` for n = 0."""
    if n == 0:
        return [float("nan"), float("nan")]
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(float(centre - half), 4), round(float(centre + half), 4)]


def median_ci(values: np.ndarray, seed: int = 0, resamples: int = 2000) -> List[float]:
    """Percentile-bootstrap 95 % interval of the median of ``values``."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    medians = np.median(values[rng.integers(0, len(values), (resamples, len(values)))], axis=1)
    return [round(float(q), 2) for q in np.percentile(medians, [2.5, 97.5])]


def fraction(mask: np.ndarray) -> Dict[str, object]:
    mask = np.asarray(mask, dtype=bool)
    n, k = int(mask.size), int(mask.sum())
    return {"n": n, "fraction": round(k / n, 4) if n else None, "ci95": wilson(k, n)}


def summary(values: np.ndarray) -> Dict[str, object]:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return {"n": 0}
    return {"n": int(len(values)), "median": round(float(np.median(values)), 2), "median_ci95": median_ci(values),
            "p5_p95": [round(float(v), 2) for v in np.percentile(values, [5, 95])]}


# ------------------------------------------------------------------------------------------- data


def real_sets(root: str, codes: Sequence[str]) -> Dict[str, dict]:
    """``{split: {"signal" (N, 12, 1000) mV, "labels" [[codes]], "ecg_id" (N,)}}`` of the PTB-XL slice."""
    from sssd_hf.data import load_ptbxl

    dataset = load_ptbxl(root, vocabulary=list(codes), progress=False)
    return {split: _columns(dataset[split], codes) for split in dataset}


def synthetic_sets(folder: str, codes: Sequence[str]) -> Dict[str, dict]:
    """The same layout for the synthetic dataset folder; ``ecg_id`` is the real record copied."""
    from sssd_hf.data import load_dataset_folder

    dataset = load_dataset_folder(folder)  # datasets.load_dataset, from the files there now
    return {split: _columns(dataset[split], codes, id_column="source_ecg_id") for split in dataset}


def _columns(split, codes, id_column="ecg_id") -> dict:
    names = split.features["labels"].feature.names
    split = split.with_format("numpy", columns=["signal", "labels", id_column])
    signal = np.stack(split["signal"]).astype(np.float32) if len(split) else np.zeros((0, 12, 1000), np.float32)
    labels = [[names[int(i)] for i in row] for row in split["labels"]]
    return {"signal": signal, "labels": labels, "ecg_id": np.asarray(split[id_column], dtype=np.int64)}


def merge(sets: Sequence[dict]) -> dict:
    return {"signal": np.concatenate([s["signal"] for s in sets]),
            "labels": [row for s in sets for row in s["labels"]],
            "ecg_id": np.concatenate([s["ecg_id"] for s in sets])}


# --------------------------------------------------------------------------------------- fidelity


def measure_set(signal: np.ndarray, sampling_rate: float = 100.0) -> List[dict]:
    """Delineator measures of ``(N, 12, L)`` mV ECGs: heart rate, QRS, RR intervals per record."""
    from sssd_hf.evaluation import delineation

    out = []
    for start in range(0, len(signal), 64):
        for result in delineation.delineate_many(list(signal[start: start + 64]), sampling_rate):
            out.append(delineation.intervals(result))
    return out


def rr_cv(measured: dict) -> float:
    rr = np.asarray(measured["rr_ms"], dtype=np.float64)
    return float(rr.std() / rr.mean()) if len(rr) >= 3 else float("nan")


def rhythm_group(labels: Sequence[str], code: str) -> bool:
    """Whether a record belongs to the heart-rate group of ``code`` (SR and NORM: sinus rhythm only)."""
    if code not in labels:
        return False
    if code in ("SR", "NORM"):
        return not ({"SBRAD", "STACH", "AFIB", "SARRH"} & set(labels))
    return True


def fidelity(signal: np.ndarray, labels: Sequence[Sequence[str]], measured: Sequence[dict] = None) -> dict:
    """Statement fidelity of one set of ECGs (see the module docstring)."""
    measured = measure_set(signal) if measured is None else measured
    hr = np.array([m["heart_rate_bpm"] for m in measured], dtype=np.float64)
    qrs = np.array([m["qrs_ms"] for m in measured], dtype=np.float64)
    cv = np.array([rr_cv(m) for m in measured], dtype=np.float64)
    out: dict = {"n": int(len(signal)), "heart_rate": {}, "afib_rr": {}, "qrs": {}}
    for code, (low, high) in RATE_BOUNDS.items():
        members = np.array([rhythm_group(row, code) for row in labels], dtype=bool)
        rates = hr[members]
        found = np.isfinite(rates)
        out["heart_rate"][code] = {
            "bpm": summary(rates), "bounds_bpm": [low, min(high, 300.0)],
            "in_range": fraction(found & (rates >= low) & (rates < high)),  # unmeasurable counts as a miss
        }
    afib = np.array(["AFIB" in row for row in labels], dtype=bool)
    sinus = np.array([rhythm_group(row, "SR") for row in labels], dtype=bool)
    for name, members in (("AFIB", afib), ("SR", sinus)):
        values = cv[members]
        out["afib_rr"][name] = {"rr_cv": summary(values),
                                "irregular": fraction(np.isfinite(values) & (values > IRREGULAR_RR_CV))}
    for code in ("CRBBB", "CLBBB"):
        members = np.array([code in row for row in labels], dtype=bool)
        values = qrs[members]
        out["qrs"][code] = {"qrs_ms": summary(values), "wide": fraction(np.isfinite(values) & (values >= 120.0))}
    out["amplitude_mv"] = amplitudes(signal)
    return out


def amplitudes(signal: np.ndarray) -> Dict[str, dict]:
    """Per-lead robust peak-to-peak amplitude (99.5th - 0.5th percentile over 10 s), mV."""
    from sssd_hf.leads import STANDARD_LEADS

    if not len(signal):
        return {}
    p2p = np.percentile(signal, 99.5, axis=-1) - np.percentile(signal, 0.5, axis=-1)
    return {lead: summary(p2p[:, i]) for i, lead in enumerate(STANDARD_LEADS)}


def amplitude_check(synthetic: Dict[str, dict], real: Dict[str, dict]) -> Dict[str, bool]:
    """Per lead: the synthetic median lies within the real 5th-95th percentile range."""
    return {lead: bool(real[lead]["p5_p95"][0] <= synthetic[lead]["median"] <= real[lead]["p5_p95"][1])
            for lead in synthetic}


# ------------------------------------------------------------------------------------------ stages


def run_command(command: List[str], log: List[str]) -> None:
    log.append(" ".join(shlex.quote(c) for c in command))
    print("$", log[-1], flush=True)
    subprocess.run(command, check=True)


def stage_dataset(args, log) -> None:
    run_command(["sssd-ecg", "build-dataset", "--model", args.pipeline, "--like", args.ptbxl,
                 "--out", os.path.join(args.work, "synthetic-ptbxl"), "--scheduler", args.scheduler,
                 "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--no-progress",
                 *(["--guidance-scale", f"{args.guidance_scale:g}"] if args.guidance_scale is not None else []),
                 "--pretty-name", "Synthetic PTB-XL slice (sssd-hf default SSSD-ECG-nle)",
                 "--training-data", "the PTB-XL slice of sssd-hf's ../shared/data/ptbxl, folds 1-8 "
                 "(1,499 records at 100 Hz; PTB-XL, CC BY 4.0, Wagner et al. 2020)",
                 *(["--limit", str(args.limit)] if args.limit else [])], log)


def dataset_guidance(args) -> float:
    """The guidance scale the synthetic copy is sampled with: ``--guidance-scale``, else the pipeline's
    ``default_guidance_scale`` (``model_index.json``), else 1."""
    if args.guidance_scale is not None:
        return float(args.guidance_scale)
    with open(os.path.join(args.pipeline, "model_index.json"), encoding="utf-8") as handle:
        configured = json.load(handle).get("default_guidance_scale")
    return 1.0 if configured is None else float(configured)


def write_real_npz(args, codes) -> str:
    from sssd_hf.evaluation.data import ECGSet, save_npz

    path = os.path.join(args.work, "real.npz")
    if os.path.isfile(path):
        return path
    sets = real_sets(args.ptbxl, codes)
    parts = [(split, sets[split]) for split in ("train", "validation", "test")]
    signal = np.concatenate([s["signal"] for _, s in parts])
    labels = [row for _, s in parts for row in s["labels"]]
    split = [name for name, s in parts for _ in range(len(s["signal"]))]
    save_npz(path, ECGSet(signal, labels, tuple(codes), 100.0, name="ptbxl-slice"), split=split)
    return path


def stage_evaluate(args, codes, log) -> None:
    real = write_real_npz(args, codes)
    run_command(["sssd-ecg", "evaluate", "--real", real, "--synthetic", os.path.join(args.work, "synthetic-ptbxl"),
                 "--out", os.path.join(args.work, "report"), "--labels", ",".join(codes),
                 "--protocols", "TRTR,TSTR,TRTS", "--statements", "NORM,SR,AFIB,SBRAD,STACH",
                 "--max-records", str(args.max_records), "--bootstrap", "1000", "--progress", "lines",
                 *(["--epochs", str(args.epochs)] if args.epochs else [])], log)


def split_provenance(synthetic: Dict[str, dict], real: Dict[str, dict]) -> Dict[str, dict]:
    """Per split of the synthetic copy (as ``datasets.load_dataset`` reads it): its size and whether
    every ECG's ``source_ecg_id`` is a record of the same real split (PTB-XL folds 1-8 / 9 / 10)."""
    out = {}
    for split, part in synthetic.items():
        ids = part["ecg_id"]
        inside = np.isin(ids, real[split]["ecg_id"]) if split in real else np.zeros(len(ids), bool)
        out[split] = {"n": int(len(ids)), "source_records_in_real_split": bool(inside.all()),
                      "outside": [int(i) for i in ids[~inside][:10]]}
    return out


def stage_fidelity(args, codes) -> dict:
    real = real_sets(args.ptbxl, codes)
    synthetic = synthetic_sets(os.path.join(args.work, "synthetic-ptbxl"), codes)
    provenance = split_provenance(synthetic, real)
    misplaced = {split: p["outside"] for split, p in provenance.items() if not p["source_records_in_real_split"]}
    if misplaced:
        raise SystemExit(f"error: the synthetic copy mixes the folds: ECGs of records {misplaced} "
                         "lie in another split than their real record")
    every_synthetic = merge([synthetic[s] for s in synthetic])
    out = {"synthetic_all_folds": fidelity(every_synthetic["signal"], every_synthetic["labels"]),
           "real_fold10": fidelity(real["test"]["signal"], real["test"]["labels"]),
           "real_folds1_8": fidelity(real["train"]["signal"], real["train"]["labels"]),
           "splits_via_load_dataset": provenance}
    out["amplitude_within_real_fold10_p5_p95"] = amplitude_check(
        out["synthetic_all_folds"]["amplitude_mv"], out["real_fold10"]["amplitude_mv"])
    return out


def stage_guidance(args) -> dict:
    import torch

    from sssd_hf.generate_cli import load_pipeline

    pipe = load_pipeline(args.pipeline, args.scheduler)
    pipe.set_progress_bar_config(disable=True)
    labels = [list(row) for row in GUIDANCE_LABELS for _ in range(args.guidance_per_label)]
    out = {"per_label_set": args.guidance_per_label, "label_sets": [list(r) for r in GUIDANCE_LABELS]}
    for scale in args.guidance_scales:
        generators = [torch.Generator().manual_seed(1000 + i) for i in range(len(labels))]
        ecgs = pipe(labels=labels, num_inference_steps=args.steps, guidance_scale=scale, generator=generators,
                    batch_size=args.batch_size).ecgs
        result = fidelity(ecgs, labels)
        result.pop("amplitude_mv")
        out[f"scale_{scale:g}"] = result
    return out


def stage_figure(args, codes) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real = real_sets(args.ptbxl, codes)["test"]
    synthetic = synthetic_sets(os.path.join(args.work, "synthetic-ptbxl"), codes)["test"]
    by_id = {int(i): k for k, i in enumerate(synthetic["ecg_id"])}
    picks = {}
    for code in FIGURE_STATEMENTS:  # the first fold-10 record of the statement that has a synthetic copy
        found = [k for k, labels in enumerate(real["labels"])
                 if rhythm_group(labels, code) and int(real["ecg_id"][k]) in by_id]
        if found:
            picks[code] = found[0]
    if not picks:
        raise RuntimeError(f"no fold-10 record of {FIGURE_STATEMENTS} has a synthetic copy")
    fig, axes = plt.subplots(len(picks), 2, figsize=(16, 2.1 * len(picks)), sharex=True, squeeze=False)
    t = np.arange(real["signal"].shape[-1]) / 100.0
    for row, k in enumerate(picks.values()):
        pair = ((real["signal"][k], f"real PTB-XL ecg_id {int(real['ecg_id'][k])}"),
                (synthetic["signal"][by_id[int(real["ecg_id"][k])]], "generated for the same statements"))
        for col, (signal, title) in enumerate(pair):
            ax = axes[row, col]
            ax.plot(t, signal[1], color="black", linewidth=0.8)
            ax.set_title(f"{title}: {', '.join(real['labels'][k])} (lead II)", fontsize=9, loc="left")
            ax.set_ylim(-1.5, 2.5)
            ax.set_xticks(np.arange(0, 10.01, 1.0))
            ax.set_xticks(np.arange(0, 10.01, 0.2), minor=True)
            ax.set_yticks(np.arange(-1.5, 2.51, 0.5))
            ax.grid(which="major", color="#e8a0a0", linewidth=0.6)
            ax.grid(which="minor", axis="x", color="#f4d0d0", linewidth=0.3)
            ax.set_ylabel("mV", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("s")
    fig.tight_layout()
    path = os.path.join(args.out, "generated_vs_real.png")
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default="sssd_hf/default_pipeline", help="pipeline folder to measure")
    parser.add_argument("--ptbxl", default="../shared/data/ptbxl", help="the PTB-XL folder it was trained on")
    parser.add_argument("--work", required=True, help="work folder (synthetic dataset, real.npz, report)")
    parser.add_argument("--out", default="training/results/ptbxl_default", help="folder of fold10.json and figure")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--scheduler", default="dpm", help="sampler (sssd_hf.schedulers.samplers)")
    parser.add_argument("--steps", type=int, default=20, help="denoising steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--guidance-scale", type=float,
                        help="guidance of the synthetic copy (default: the pipeline's default_guidance_scale, else 1)")
    parser.add_argument("--max-records", type=int, default=600, help="evaluate's cap for physiology/privacy")
    parser.add_argument("--limit", type=int, help="smoke runs: only the first N records of the slice")
    parser.add_argument("--epochs", type=int, help="smoke runs: classifier epochs (default: evaluate's)")
    parser.add_argument("--guidance-per-label", type=int, default=16)
    parser.add_argument("--guidance-scales", type=float, nargs="+", default=[1.0, 2.0])
    args = parser.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; choose from {','.join(STAGES)}")
    if not os.path.isfile(os.path.join(args.pipeline, "model_index.json")):
        parser.error(f"{args.pipeline} is not a pipeline folder (model_index.json missing)")
    if not os.path.isfile(os.path.join(args.ptbxl, "ptbxl_database.csv")):
        parser.error(f"{args.ptbxl} is not a PTB-XL folder (ptbxl_database.csv missing)")
    with open(os.path.join(args.pipeline, "model", "config.json"), encoding="utf-8") as handle:
        codes = list(json.load(handle)["label_names"])
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    results_path = os.path.join(args.out, "fold10.json")
    results = json.load(open(results_path, encoding="utf-8")) if os.path.isfile(results_path) else {}
    results.setdefault("commands", {})
    for stage in stages:
        started, log = time.perf_counter(), []
        print(f"[{stage}] started", flush=True)
        if stage == "dataset":
            stage_dataset(args, log)
        elif stage == "evaluate":
            stage_evaluate(args, codes, log)
            with open(os.path.join(args.work, "report", "report.json"), encoding="utf-8") as handle:
                report = json.load(handle)
            results["evaluate"] = {key: report.get(key) for key in ("headline", "utility", "privacy", "physiology")}
            results["evaluate"]["epochs"] = args.epochs  # None: evaluate's default
        elif stage == "fidelity":
            results["fidelity"] = stage_fidelity(args, codes)
        elif stage == "guidance":
            results["guidance"] = stage_guidance(args)
        elif stage == "figure":
            results["figure"] = stage_figure(args, codes)
        results.setdefault("wall_s", {})[stage] = round(time.perf_counter() - started, 1)
        results["commands"][stage] = log or [" ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])]
        if stage in SAMPLING_STAGES:  # stages may be run with different samplers: each records its own
            results.setdefault("sampling", {})[stage] = {"scheduler": args.scheduler, "steps": args.steps}
            if stage == "dataset":
                results["sampling"][stage]["guidance_scale"] = dataset_guidance(args)
        tmp = results_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1, default=float)
        os.replace(tmp, results_path)
        print(f"[{stage}] done in {results['wall_s'][stage]:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
