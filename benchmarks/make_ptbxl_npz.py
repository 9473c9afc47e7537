"""Write the PTB-XL slice as the two ``.npz`` inputs of the utility benchmark.

    python benchmarks/make_ptbxl_npz.py --root ../shared/data/ptbxl --out /tmp/h7

writes

- ``real.npz``:  folds 1-8 (split ``train``) and fold 10 (split ``test``), 100 Hz, 1000 samples;
- ``fold9.npz``: fold 9 (PTB-XL's validation fold), no splits: independent real records of the
  same distribution, standing in for a synthetic set (the yardstick's sanity check);

each with ``signal`` (N, 12, 1000) mV, ``labels`` (N, K) multi-hot over the vocabulary
(default the five diagnostic superclasses NORM, MI, STTC, CD, HYP), ``label_names``,
``sampling_rate`` and ``lead_names``: the layout ``sssd-ecg evaluate`` reads.  Records without
a statement of the vocabulary are kept (all-zero rows), as in PTB-XL's own folds.
"""

from __future__ import annotations

import argparse
import os
import sys

from sssd_hf.data import load_ptbxl
from sssd_hf.evaluation.data import ECGSet, concat, dataset_to_ecg_set, save_npz

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "ptbxl")


def ptbxl_sets(root: str, vocabulary: str) -> dict:
    """``{"train", "validation", "test"}`` of the PTB-XL folder ``root`` as :class:`ECGSet` (100 Hz)."""
    dataset = load_ptbxl(root, vocabulary=vocabulary, progress=False)
    return {split: dataset_to_ecg_set(dataset[split], 100.0, f"ptbxl[{split}]") for split in dataset}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=ROOT, help="PTB-XL folder (default: ../shared/data/ptbxl)")
    parser.add_argument("--out", default="/tmp/h7", help="output folder (default: /tmp/h7)")
    parser.add_argument("--vocabulary", default="superdiagnostic", help="label vocabulary (default: superdiagnostic)")
    args = parser.parse_args(argv)
    sets = ptbxl_sets(args.root, args.vocabulary)
    missing = [s for s in ("train", "validation", "test") if s not in sets]
    if missing:
        sys.exit(f"{args.root}: no record in split(s) {missing}")
    os.makedirs(args.out, exist_ok=True)
    real = concat([sets["train"], sets["test"]], name="ptbxl")
    split = ["train"] * len(sets["train"]) + ["test"] * len(sets["test"])
    save_npz(os.path.join(args.out, "real.npz"), real, split=split)
    fold9 = ECGSet(
        sets["validation"].signal, sets["validation"].labels, sets["validation"].label_names, 100.0, name="fold9"
    )
    save_npz(os.path.join(args.out, "fold9.npz"), fold9)
    for name, s in (("train", sets["train"]), ("test", sets["test"]), ("fold9", fold9)):
        counts = dict(zip(s.label_names, s.labels.sum(axis=0).tolist()))
        print(f"{name}: {len(s)} records, {s.num_samples} samples at {s.sampling_rate:g} Hz, labels {counts}")
    print(f"wrote {args.out}/real.npz and {args.out}/fold9.npz")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
