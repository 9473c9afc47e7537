#!/usr/bin/env python
"""Cost against ECG length: S4 kernels, forward pass, training step and peak memory.

    python benchmarks/bench_length.py [--lengths 1000 2500 5000] [--repeats 3] [--out FILE.json]

Each length runs in its own process (so the peak resident memory belongs to that length alone)
with a moderate SSSD-ECG-nle: 4 blocks x 64 channels, S4 state 64, 3 statements, batch 2.
L = 1000 is 10 s at 100 Hz, 2500 is 5 s at 500 Hz (or 25 s at 100 Hz), 5000 is 10 s at 500 Hz.
Printed: median seconds of

- ``kernels``: all 2 x 4 bidirectional S4 kernel spectra of the model (what every training step
  computes; no cache), and ``one_kernel`` for one S4 layer (H = 128 features, 2 directions);
- ``forward``: one eval forward pass, batch 2, kernels cached (one sampling step);
- ``train_step``: forward + backward + Adam step, batch 2;
- ``peak_rss_mb``: the process's peak resident memory after the training steps, and
  ``train_extra_mb``: its growth during them (above the model and data).

and a least-squares fit ``time ~ L^p`` of each column over the lengths, next to the exponent
that pure ``L log L`` growth would show over the same lengths.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from statistics import median

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODEL = dict(channels=64, skip_channels=64, num_layers=4, s4_state_size=64, label_names=["SBRAD", "SR", "STACH"],
             label_embedding="nle", label_embed_dim=128, timestep_embed_dims=(128, 512, 512))
BATCH = 2


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(length: int, repeats: int) -> dict:
    """Figures for one length (run in a fresh process)."""
    import torch

    from benchmarks._common import timed
    from sssd_hf import SSSDECGModel

    torch.manual_seed(0)
    model = SSSDECGModel(**MODEL, s4_max_length=length, sample_length=length)
    layers = [m for m in model.modules() if type(m).__name__ == "BidirectionalS4"]
    x = torch.randn(BATCH, 8, length)
    t = torch.tensor([10, 150])
    y = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])

    def kernels():
        with torch.no_grad():
            for layer in layers:
                layer.clear_cache()
                layer.bidirectional_kernel_spectrum(length)

    def one_kernel():
        with torch.no_grad():
            layers[0].kernel(length)

    def forward():
        with torch.no_grad():
            model(x, t, labels=y)

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train_step():
        model.train()
        loss = (model(x, t, labels=y).sample - x).pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        model.eval()

    model.eval()
    out = {"length": length}
    for name, fn in (("kernels", kernels), ("one_kernel", one_kernel)):
        fn()  # warm-up
        out[name] = median(timed(fn, repeats, "cpu"))
    forward()  # fills the kernel cache
    out["forward"] = median(timed(forward, repeats, "cpu"))
    before = _rss_mb()
    train_step()
    out["train_step"] = median(timed(train_step, repeats, "cpu"))
    out["peak_rss_mb"] = _rss_mb()
    out["train_extra_mb"] = out["peak_rss_mb"] - before
    return out


def fit_exponent(lengths, values) -> float:
    """Least-squares slope of log(value) against log(L)."""
    xs = [math.log(v) for v in lengths]
    ys = [math.log(v) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sum((a - mx) ** 2 for a in xs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1000, 2500, 5000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="also write the results as JSON")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one length
    args = parser.parse_args(argv)
    if args.repeats < 1 or any(length < 2 for length in args.lengths):
        parser.error("--repeats must be >= 1 and every length >= 2 samples")
    import torch

    torch.set_num_threads(args.threads)
    if args.one is not None:
        print(json.dumps(measure(args.one, args.repeats)))
        return 0
    from benchmarks._common import machine, print_table, write_results

    rows = []
    for length in args.lengths:
        cmd = [sys.executable, os.path.abspath(__file__), "--one", str(length), "--repeats", str(args.repeats),
               "--threads", str(args.threads)]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"L={length}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    columns = ["length", "kernels", "one_kernel", "forward", "train_step", "peak_rss_mb", "train_extra_mb"]
    print_table(rows, columns)
    lengths = [r["length"] for r in rows]
    fits = {c: fit_exponent(lengths, [r[c] for r in rows]) for c in columns[1:] if all(r[c] > 0 for r in rows)}
    fits["L log L would give"] = fit_exponent(lengths, [n * math.log(n) for n in lengths])
    print("exponent p of a fit time ~ L^p:", ", ".join(f"{k} {v:.2f}" for k, v in fits.items()))
    if args.out:
        results = {"machine": machine(), "model": MODEL, "batch": BATCH, "rows": rows, "exponents": fits}
        write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
