"""Training speed: samples per second and peak memory of optimizer steps.

    python benchmarks/bench_training.py --config paper --batch-sizes 8 --precisions fp32 bf16
    python benchmarks/bench_training.py --config paper --batch-sizes 8 --gradient-checkpointing
    python benchmarks/bench_training.py --smoke

On a CPU, peak memory is the process's maximum resident set (run one configuration per process
to compare); on CUDA it is ``torch.cuda.max_memory_allocated`` after the warm-up step.

Each step is the epsilon-prediction loss of the papers (random ECG-shaped input, random steps
and statements), backward, and an Adam update, so the S4 kernels are recomputed every step.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import forward_flops, machine, peak_memory_mb, print_table, timed, write_results  # noqa: E402
from bench_sampling import build_model  # noqa: E402

from sssd_hf import SSSDECGScheduler  # noqa: E402


def train_step_fn(model, optimizer, scheduler, batch, device, precision):
    cfg = model.config
    x0 = torch.randn(batch, cfg.in_channels, cfg.sample_length, device=device)
    labels = (torch.rand(batch, len(cfg.label_names), device=device) < 0.1).float() if cfg.label_embedding else None
    autocast = (
        torch.autocast(device_type=device, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
        if precision != "fp32" else contextlib.nullcontext()
    )

    def step():
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch,), device=device)
        noise = torch.randn_like(x0)
        with autocast:
            eps = model(scheduler.add_noise(x0, noise, t), t, labels=labels).sample
        loss = torch.nn.functional.mse_loss(eps.float(), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", nargs="+", default=["paper"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8])
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--steps", type=int, default=3, help="timed steps (after one warm-up step)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", default="bench_training.json")
    parser.add_argument("--gradient-checkpointing", action="store_true",
                        help="recompute each residual block in backward instead of storing its activations")
    parser.add_argument("--smoke", action="store_true", help="tiny model, 1 step")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke:
        args.config, args.batch_sizes, args.steps, args.precisions = ["tiny"], [2], 1, ["fp32"]
    rows = []
    for name in args.config:
        model = build_model(name).to(args.device).train()
        if args.gradient_checkpointing:
            model.enable_gradient_checkpointing()
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
        scheduler = SSSDECGScheduler()
        for precision in args.precisions:
            for batch in args.batch_sizes:
                step = train_step_fn(model, optimizer, scheduler, batch, args.device, precision)
                step()  # warm-up
                if args.device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                secs = statistics.median(timed(step, args.steps, args.device))
                rows.append(
                    {
                        "model": name,
                        "precision": precision,
                        "batch": batch,
                        "checkpointing": args.gradient_checkpointing,
                        "step_s": secs,
                        "samples_per_s": batch / secs,
                        "peak_mem_mb": peak_memory_mb(args.device),
                        "approx_tflops": 3
                        * forward_flops(model.config, batch, model.config.sample_length)
                        / secs
                        / 1e12,
                    }
                )
    print_table(
        rows,
        ["model", "precision", "batch", "checkpointing", "step_s", "samples_per_s", "peak_mem_mb", "approx_tflops"],
    )
    write_results(args.out, {"machine": machine(), "device": args.device, "training": rows,
                             "command": " ".join(["python", "benchmarks/bench_training.py", *(argv or sys.argv[1:])])})
    return 0


if __name__ == "__main__":
    sys.exit(main())
