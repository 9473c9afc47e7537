"""Downstream-utility yardstick on the real PTB-XL slice: classifier cost against AUC, and a sanity check.

    python benchmarks/make_ptbxl_npz.py --out /tmp/h7                      # real.npz, fold9.npz
    python benchmarks/bench_utility.py presets --data /tmp/h7 --presets tiny xresnet1d18_small xresnet1d18
    python benchmarks/bench_utility.py sanity --data /tmp/h7 --repeats 3

``presets``: TRTR (train folds 1-8 minus a 10 % validation hold-out, early stopping on it; test
fold 10) for each classifier preset: test macro ROC-AUC with its bootstrap interval, epochs,
wall-clock and CPU seconds.

``sanity``: with fold 9 (independent real records of the same distribution) standing in for a
synthetic set, TSTR must match TRTR *at the same training-set size*.  So besides TRTR on the
whole training fold it trains on ``--repeats`` random real training subsets of fold 9's size
(245 records) and reports TSTR(fold 9) against their spread.

Each run prints one JSON line; ``--json`` also writes them to a file.  The load average of the
machine (``os.getloadavg``) is printed before and after, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from sssd_hf.evaluation.cli import training_config
from sssd_hf.evaluation.data import load_ecg_sets
from sssd_hf.evaluation.progress import log_line
from sssd_hf.evaluation.train_classifier import TrainingConfig, run_protocols, split_validation
from sssd_hf.utils import atomic_write_text


def _load(folder: str, labels: str):
    """Train and test folds and fold 9 of ``folder``, labels in the order of ``labels`` (as ``--labels`` gives)."""
    codes = labels.split(",")
    real = load_ecg_sets(os.path.join(folder, "real.npz"))
    fold9 = load_ecg_sets(os.path.join(folder, "fold9.npz"))["all"]
    return tuple(s.with_vocabulary(codes) for s in (real["train"], real["test"], fold9))


def _row(kind: str, preset: str, result, wall: float, cpu: float, **extra) -> dict:
    auc = result.metrics["roc_auc"]
    return {
        "kind": kind,
        "preset": preset,
        "protocol": result.protocol,
        "n_train": result.n_train,
        "n_test": result.n_test,
        "macro_auc": auc["roc_auc"],
        "auc_ci": auc.get("roc_auc_ci"),
        "per_label": auc.get("per_label"),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "load_avg": list(os.getloadavg()),
        **extra,
    }


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def presets(args, training: TrainingConfig) -> list:
    train, test, _ = _load(args.data, args.labels)
    rows = []
    for preset in args.presets:
        config = TrainingConfig(**{**training.__dict__, "preset": preset})
        result, wall, cpu = _timed(lambda c=config: run_protocols(["TRTR"], train, test, training=c)["TRTR"])
        rows.append(_row("preset", preset, result, wall, cpu))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def sanity(args, training: TrainingConfig) -> list:
    train, test, fold9 = _load(args.data, args.labels)
    fit_on, validation = split_validation(train, training.validation_fraction, training.seed)
    rows = []
    results, wall, cpu = _timed(
        lambda: run_protocols(["TRTR", "TSTR"], fit_on, test, fold9, training=training, track=validation)
    )
    for name in ("TRTR", "TSTR"):
        rows.append(_row("sanity", training.preset, results[name], wall, cpu))
        print(json.dumps(rows[-1]), flush=True)
    rng = np.random.default_rng(args.seed)
    for repeat in range(args.repeats):
        subset = fit_on.subset(
            np.sort(rng.choice(len(fit_on), len(fold9), replace=False)), f"random {len(fold9)} of {fit_on.name}"
        )
        result, wall, cpu = _timed(
            lambda s=subset: run_protocols(["TRTR"], s, test, training=training, track=validation)["TRTR"]
        )
        rows.append(_row("sanity_size_matched", training.preset, result, wall, cpu, repeat=repeat))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["presets", "sanity"])
    parser.add_argument("--data", default="/tmp/h7", help="folder with real.npz and fold9.npz (make_ptbxl_npz.py)")
    parser.add_argument("--labels", default="NORM,MI,STTC,CD,HYP", help="classifier vocabulary, in this order")
    parser.add_argument("--presets", nargs="+", default=["tiny", "xresnet1d18_small", "xresnet1d18"])
    parser.add_argument("--preset", default=TrainingConfig.preset, help="classifier of the sanity check")
    parser.add_argument("--repeats", type=int, default=3, help="size-matched real subsets (sanity)")
    parser.add_argument("--epochs", type=int, default=TrainingConfig.epochs)
    parser.add_argument("--patience", type=int, default=TrainingConfig.patience)
    parser.add_argument("--learning-rate", type=float, default=TrainingConfig.learning_rate)
    parser.add_argument("--threads", type=int, help="torch threads (default: the free CPUs)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cache-dir", help="classifier cache (e.g. the one sssd-ecg evaluate filled: TRTR/TSTR reused)"
    )
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    training = training_config(args, preset=args.preset, cpu=True, progress="lines", cache_dir=args.cache_dir)
    log_line(f"load average before: {os.getloadavg()}", "lines")
    rows = presets(args, training) if args.what == "presets" else sanity(args, training)
    log_line(f"load average after: {os.getloadavg()}", "lines")
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
