"""Train the ECG delineator (:class:`sssd_hf.evaluation.delineation.WaveSegmenter`) on LUDB.

Only the records given by ``--train`` (default 1-40) are used for fitting; ``--val`` records (default
none; 41-50 were used to choose the post-processing) are measured after training.  Records 51-100 are
the held-out set of ``benchmarks/bench_delineation.py`` and must not be passed here when the weights
are to be shipped.  The shipped ``sssd_hf/evaluation/delineator.safetensors`` came from the command
below (CPU-2, shared machine, about 25 min).

Each of the 12 leads of a record is a training sequence labelled with that lead's own annotations
(samples outside the annotated 1-9 s span are ignored by the loss).  Half of the crops come from the
record after a round trip through 100 Hz, so that the network also delineates 100 Hz ECGs.

    python training/train_delineator.py --ludb ../shared/data/ludb --train 1-40 --epochs 24 --lr 5e-3 \
        --out sssd_hf/evaluation/delineator.safetensors
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sssd_hf.evaluation import delineation as dl  # noqa: E402
from sssd_hf.evaluation import ludb  # noqa: E402


def parse_records(text: str) -> List[int]:
    """``"1-40,45"`` -> ``[1, ..., 40, 45]``."""
    out: List[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def build_arrays(ludb_dir: str, records: List[int]):
    """``(x500, x100, y)``: ``(R*12, 1250)`` preprocessed leads at 125 Hz from the 500 Hz record and from
    its 100 Hz version, and ``(R*12, 1250)`` int64 labels (-1 = not annotated)."""
    xs, xs100, ys = [], [], []
    scale = dl.INTERNAL_RATE / 500.0
    for record in records:
        signal, fs, waves = ludb.read_record(ludb_dir, record)
        x, _ = dl.preprocess(signal, fs)
        x100, _ = dl.preprocess(dl.resample(signal, fs, 100), 100)
        length = x.shape[1]
        for lead_index, lead in enumerate(ludb.LUDB_LEADS):
            scaled = [ludb.Wave(w.kind, int(round(w.onset * scale)), int(round(w.offset * scale)))
                      for w in waves.get(lead, [])]
            ys.append(ludb.wave_labels(scaled, length))
            xs.append(x[lead_index])
            xs100.append(x100[lead_index][:length])
    return np.stack(xs), np.stack(xs100), np.stack(ys)


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random gain, Gaussian noise and a slow baseline drift on a ``(B, L)`` batch."""
    b, length = x.shape
    t = np.arange(length) / dl.INTERNAL_RATE
    gain = rng.uniform(0.6, 1.5, (b, 1))
    noise = rng.normal(0, 1, (b, length)) * rng.uniform(0, 0.06, (b, 1))
    drift = rng.uniform(0, 0.3, (b, 1)) * np.sin(2 * np.pi * rng.uniform(0.05, 0.5, (b, 1)) * t
                                                 + rng.uniform(0, 2 * np.pi, (b, 1)))
    return (x * gain + noise + drift).astype(np.float32)


def train(args) -> dl.WaveSegmenter:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x500, x100, y = build_arrays(args.ludb, parse_records(args.train))
    keep = (y >= 0).any(axis=1)
    x500, x100, y = x500[keep], x100[keep], y[keep]
    print(f"{len(y)} annotated leads from records {args.train}", flush=True)
    model = dl.WaveSegmenter(tuple(int(c) for c in args.channels.split(",")), args.kernel_size)
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters", flush=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = -(-len(y) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=args.epochs * steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-1)
    crop = args.crop
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(y))
        total, start = 0.0, time.time()
        for i in range(0, len(order), args.batch_size):
            idx = order[i: i + args.batch_size]
            offsets = rng.integers(0, y.shape[1] - crop + 1, len(idx))
            use100 = rng.random(len(idx)) < 0.5
            xb = np.stack([(x100 if u else x500)[j, o: o + crop] for j, o, u in zip(idx, offsets, use100)])
            yb = np.stack([y[j, o: o + crop] for j, o in zip(idx, offsets)])
            logits = model(torch.from_numpy(augment(xb, rng))[:, None])
            loss = loss_fn(logits, torch.from_numpy(yb))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        print(f"epoch {epoch + 1}/{args.epochs} loss {total / len(y):.4f} ({time.time() - start:.0f} s)", flush=True)
    model.eval()
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_ludb = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "ludb")
    parser.add_argument("--ludb", default=default_ludb)
    parser.add_argument("--train", default="1-40", help="records to fit on, e.g. 1-40")
    parser.add_argument("--val", default="", help="records measured after training, e.g. 41-50")
    parser.add_argument("--out", required=True, help="safetensors file to write")
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--crop", type=int, default=1024, help="training crop in samples at 125 Hz")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--channels", default="8,16,24,32")
    parser.add_argument("--kernel-size", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = train(args)
    dl.save_segmenter(model, args.out, {"trained_on": f"LUDB records {args.train}", "epochs": str(args.epochs),
                                        "seed": str(args.seed)})
    print(f"wrote {args.out}", flush=True)
    if args.val:
        for rate in (None, 100):
            comparison = ludb.compare_with_annotations(args.ludb, parse_records(args.val), rate, model=model)
            table = ludb.error_table(comparison)
            print(f"\nvalidation records {args.val} at {rate or 500} Hz\n{table.round(2).to_string()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
