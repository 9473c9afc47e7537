"""The privacy audit on the real PTB-XL slice: copies are flagged, independent real ECGs are not.

    python benchmarks/bench_privacy_audit.py [--splits 50] [--out benchmarks/results/privacy_audit_cpu2.json]

Reads ../shared/data/ptbxl (100 Hz).  Each split draws 300 training records from folds 1-8 and
150 held-out records from fold 10; the "synthetic" sets are built from them:

- independent real ECGs: 150 records of fold 9 (patients disjoint from folds 1-8 and 10) over
  ``--splits`` random splits (the rate of false flags), and the same at 0.2x amplitude over
  ``--low-amplitude-splits`` splits;
- transformed copies of 150 training records (one split): exact, circular shift by 10 samples
  (0.1 s), cropped shift by 0.8 s, sign flip, gain 0.5 plus 0.3 mV offset, 0.02 mV noise,
  0.05 mV noise plus a 0.25 s shift and inversion;
- degenerate sets: flat lines (0 mV) and constant 1 mV.

The random splits share one pool, so the similarities of all fold-9 and fold-10 records to all
records of folds 1-8 (and fold 10 to fold 9) are computed once with
:func:`sssd_hf.evaluation.privacy.similarity_matrix` and each split is decided by
:func:`sssd_hf.evaluation.privacy.audit_from_similarities` on its sub-matrices (the same
statistics :func:`privacy_audit` applies).  The copy and degenerate cases run the full
:func:`privacy_audit` (their time is the end-to-end cost of one 300 x 150 x 150 audit).

Prints one table row per case (flag count, memorisation rate and membership AUC with intervals,
degenerate share, seconds per audit) and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import machine  # noqa: E402
from sssd_hf.evaluation.data import ECGSet  # noqa: E402
from sssd_hf.evaluation.privacy import (  # noqa: E402
    audit_from_similarities,
    degenerate_reasons,
    prepare,
    privacy_audit,
    similarity_matrix,
)
from sssd_hf.utils import atomic_write_text  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PTBXL = os.path.join(os.path.dirname(REPO), "shared", "data", "ptbxl")
N_TRAIN, N_HOLDOUT, N_SYNTHETIC = 300, 150, 150


def load_folds() -> dict:
    """{"train": (N, 12, 1000), "fold9": ..., "fold10": ...} real mV signals of the slice."""
    import wfdb

    frame = pd.read_csv(os.path.join(PTBXL, "ptbxl_database.csv"))
    frame = frame[[os.path.exists(os.path.join(PTBXL, f + ".hea")) for f in frame["filename_lr"]]]
    out = {}
    for key, folds in (("train", range(1, 9)), ("fold9", [9]), ("fold10", [10])):
        rows = frame[frame["strat_fold"].isin(list(folds))]
        signals = [wfdb.rdrecord(os.path.join(PTBXL, f)).p_signal.T for f in rows["filename_lr"]]
        out[key] = np.stack(signals).astype(np.float32)
    return out


def _set(signal, name):
    return ECGSet(np.asarray(signal, np.float32), np.zeros((len(signal), 1), np.uint8), ["NORM"], 100, name=name)


def draw_indices(folds, rng):
    """Random (train, holdout, independent) record indices into folds 1-8, fold 10 and fold 9."""
    return (rng.choice(len(folds["train"]), N_TRAIN, replace=False),
            rng.choice(len(folds["fold10"]), N_HOLDOUT, replace=False),
            rng.choice(len(folds["fold9"]), N_SYNTHETIC, replace=False))


def pooled_similarities(folds) -> dict:
    """Similarity matrices between the whole folds, computed once (100 Hz, lags up to 1 s)."""
    x = {key: prepare(signal, 100) for key, signal in folds.items()}
    return {"fold9_train": similarity_matrix(x["fold9"], x["train"], 100),
            "fold10_train": similarity_matrix(x["fold10"], x["train"], 100),
            "fold10_fold9": similarity_matrix(x["fold10"], x["fold9"], 100)}


def independent_audits(folds, pooled, scale: float, splits: int, n_bootstrap: int):
    """Audits of fold-9 records (times ``scale``) over ``splits`` random splits, from the pooled similarities."""
    audits = []
    for seed in range(splits):
        t, h, s = draw_indices(folds, np.random.default_rng(seed))
        reasons = degenerate_reasons(scale * folds["fold9"][s], 100)
        kept = s[[not r for r in reasons]]
        audits.append(audit_from_similarities(
            pooled["fold9_train"][np.ix_(kept, t)] if kept.size else None, pooled["fold10_train"][np.ix_(h, t)],
            pooled["fold10_fold9"][np.ix_(h, kept)] if kept.size else None, reasons, 0, n_bootstrap=n_bootstrap,
            seed=seed))
    return audits


COPIES = {
    "exact copies": lambda x, rng: x,
    "circular shift 10 samples (0.1 s)": lambda x, rng: np.roll(x, 10, axis=-1),
    "cropped shift 0.8 s": lambda x, rng: np.concatenate([x[..., 80:], x[..., -80:]], axis=-1),
    "sign flipped": lambda x, rng: -x,
    "gain 0.5, offset 0.3 mV": lambda x, rng: 0.5 * x + 0.3,
    "noise 0.02 mV": lambda x, rng: x + rng.normal(0, 0.02, x.shape),
    "noise 0.05 mV, shift 0.25 s, inverted": lambda x, rng: -np.roll(x, 25, axis=-1) + rng.normal(0, 0.05, x.shape),
}


def summarise(audits, seconds):
    first = audits[0]
    mia = first["membership_inference"]
    return {
        "splits": len(audits), "flagged": int(sum(a["flagged"] for a in audits)), "status": first["status"],
        "memorisation_rate": first["memorisation_rate"], "memorisation_rate_ci": first["memorisation_rate_ci"],
        "median_memorisation_rate": (float(np.median([a["memorisation_rate"] for a in audits]))
                                     if first["memorisation_rate"] is not None else None),
        "membership_auc": mia and mia["roc_auc"], "membership_auc_ci": mia and mia["roc_auc_ci"],
        "auc_ci_contains_half": int(sum(a["membership_inference"] is not None
                                        and a["membership_inference"]["roc_auc_ci"][0] <= 0.5
                                        <= a["membership_inference"]["roc_auc_ci"][1] for a in audits)),
        "degenerate_rate": first["degenerate"]["rate"], "seconds_per_audit": seconds / len(audits),
    }


def _fmt(value, ci) -> str:
    return "n/a" if value is None else f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=50, help="random splits for the independent real set")
    parser.add_argument("--low-amplitude-splits", type=int, default=20, help="splits for the 0.2x amplitude set")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "privacy_audit_cpu2.json"))
    args = parser.parse_args(argv)
    if not os.path.isdir(PTBXL):
        print(f"PTB-XL slice not found at {PTBXL}", file=sys.stderr)
        return 2
    folds = load_folds()
    print(f"records: folds 1-8 {len(folds['train'])}, fold 9 {len(folds['fold9'])}, fold 10 {len(folds['fold10'])}")
    results = {}
    start = time.perf_counter()
    pooled = pooled_similarities(folds)
    pooled_seconds = time.perf_counter() - start
    print(f"pooled similarities ({sum(m.size for m in pooled.values())} pairs): {pooled_seconds:.0f} s")
    for name, scale, splits in (("independent real (fold 9)", 1.0, args.splits),
                                ("independent real x0.2 amplitude", 0.2, args.low_amplitude_splits)):
        start = time.perf_counter()
        audits = independent_audits(folds, pooled, scale, splits, args.bootstrap)
        results[name] = summarise(audits, time.perf_counter() - start)
    rng = np.random.default_rng(1000)
    t, h, _ = draw_indices(folds, rng)
    train, holdout = folds["train"][t], folds["fold10"][h]
    picked = train[rng.choice(N_TRAIN, N_SYNTHETIC, replace=False)].astype(np.float64)
    cases = {k: f(picked, rng) for k, f in COPIES.items()}
    cases["flat lines (0 mV)"] = np.zeros_like(picked)
    cases["constant 1 mV"] = np.ones_like(picked)
    for name, signal in cases.items():
        start = time.perf_counter()
        audit = privacy_audit(_set(train, "train"), _set(holdout, "fold 10"), _set(signal, name),
                              n_bootstrap=args.bootstrap)
        results[name] = summarise([audit], time.perf_counter() - start)
    print("\n| case | splits | flagged | status (split 1) | memorisation rate [98% CI] | membership AUC [98% CI] "
          "| degenerate | s/audit |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['splits']} | {r['flagged']} | {r['status']} "
              f"| {_fmt(r['memorisation_rate'], r['memorisation_rate_ci'])} "
              f"| {_fmt(r['membership_auc'], r['membership_auc_ci'])} | {r['degenerate_rate']:.2f} "
              f"| {r['seconds_per_audit']:.1f} |")
    command = "python benchmarks/bench_privacy_audit.py " + " ".join(argv if argv is not None else sys.argv[1:])
    payload = {"machine": machine(), "command": command.strip(), "pooled_similarity_seconds": pooled_seconds,
               "n_train": N_TRAIN, "n_holdout": N_HOLDOUT, "n_synthetic": N_SYNTHETIC, "results": results}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    atomic_write_text(args.out, json.dumps(payload, indent=2) + "\n")
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
