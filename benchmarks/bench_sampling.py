"""Sampling speed: forward pass, S4 kernel computation and ECGs per second.

    python benchmarks/bench_sampling.py --config paper --batch-sizes 2 --out results.json
    python benchmarks/bench_sampling.py --smoke          # seconds; checks the script, times nothing useful

Measures, for each model configuration:
- ``kernels_s``: computing every S4 kernel once (what each training step needs);
- ``forward_s``: one eval-mode forward pass with cached kernels, and its achieved FLOP/s;
- ``ecgs_per_s``: whole sampling calls by scheduler, number of steps and batch size, and peak memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import forward_flops, machine, peak_memory_mb, print_table, timed, write_results  # noqa: E402

from sssd_hf import SSSDECGModel, SSSDECGPipeline, SSSDECGScheduler  # noqa: E402
from sssd_hf.schedulers.samplers import SAMPLERS, make_scheduler  # noqa: E402  (the one sampler registry)
from sssd_hf.testing import make_tiny_model  # noqa: E402
from sssd_hf.vocabulary import ALL_STATEMENTS  # noqa: E402


def build_model(name: str) -> SSSDECGModel:
    if name == "paper":
        return SSSDECGModel(label_names=list(ALL_STATEMENTS)).eval()
    if name == "tiny":
        return make_tiny_model(label_names=("NORM", "AFIB", "SR"))
    if name == "default":
        from sssd_hf.defaults import default_pipeline_path

        path = default_pipeline_path()
        if not path:
            raise SystemExit("no bundled default pipeline in this installation")
        return SSSDECGPipeline.from_pretrained(path).model
    return SSSDECGPipeline.from_pretrained(name).model  # a pipeline folder


def clear_kernel_caches(model) -> None:
    for module in model.modules():
        if hasattr(module, "clear_cache"):
            module.clear_cache()


def bench_model(name, model, device, args):
    model = model.to(device)
    cfg = model.config
    labels = torch.zeros(2, len(cfg.label_names or [])).to(device) if cfg.label_embedding else None
    x = torch.randn(2, cfg.in_channels, cfg.sample_length, device=device)
    t = torch.tensor([100, 100], device=device)
    rows = []
    with torch.no_grad():
        def kernels():
            clear_kernel_caches(model)
            for m in model.modules():
                if hasattr(m, "bidirectional_kernel_spectrum"):
                    m.bidirectional_kernel_spectrum(cfg.sample_length)

        kernel_times = timed(kernels, args.repeats, device)
        model(x, t, labels=labels)  # warm-up, fills the cache
        forward_times = timed(lambda: model(x, t, labels=labels), args.repeats, device)
    flops = forward_flops(cfg, 2, cfg.sample_length)
    fwd = statistics.median(forward_times)
    summary = {
        "model": name, "parameters": sum(p.numel() for p in model.parameters()),
        "kernels_s": statistics.median(kernel_times), "forward_batch2_s": fwd,
        "forward_gflop": flops / 1e9, "achieved_gflops": flops / fwd / 1e9,
    }
    pipe = SSSDECGPipeline(model=model, scheduler=SSSDECGScheduler())
    pipe.set_progress_bar_config(disable=True)
    for sched in args.schedulers:
        pipe.scheduler = make_scheduler(sched, SSSDECGScheduler().config)
        for steps in (args.steps if sched != "ddpm" else [args.ddpm_steps]):
            for batch in args.batch_sizes:
                codes = [[cfg.label_names[0]]] * batch if cfg.label_embedding else None
                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats()

                def sample(codes=codes, batch=batch, steps=steps):
                    return pipe(labels=codes, num_ecgs=None if codes else batch, num_inference_steps=steps,
                                batch_size=batch, generator=torch.Generator().manual_seed(0))

                secs = timed(sample, 1, device)[0]
                rows.append({"model": name, "scheduler": sched, "steps": steps, "batch": batch, "seconds": secs,
                             "ecgs_per_s": batch / secs, "peak_mem_mb": peak_memory_mb(device)})
    return summary, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", nargs="+", default=["paper", "tiny"], help="paper, tiny, default or a pipeline folder"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1])
    parser.add_argument("--schedulers", nargs="+", default=["ddpm"], choices=list(SAMPLERS),
                        help="sampler names of sssd_hf.schedulers.samplers.SAMPLERS")
    parser.add_argument("--steps", type=int, nargs="+", default=[20], help="steps for the few-step schedulers")
    parser.add_argument("--ddpm-steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", default="bench_sampling.json")
    parser.add_argument("--smoke", action="store_true", help="tiny model, 2 steps: checks the script runs")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke:
        args.config, args.batch_sizes, args.ddpm_steps, args.steps, args.repeats = ["tiny"], [1], 2, [2], 1
        args.schedulers = ["ddpm", "ddim"]
    summaries, rows = [], []
    for name in args.config:
        s, r = bench_model(name, build_model(name), args.device, args)
        summaries.append(s)
        rows += r
    print_table(
        summaries, ["model", "parameters", "kernels_s", "forward_batch2_s", "forward_gflop", "achieved_gflops"]
    )
    print()
    print_table(rows, ["model", "scheduler", "steps", "batch", "seconds", "ecgs_per_s", "peak_mem_mb"])
    write_results(args.out, {"machine": machine(), "device": args.device, "summary": summaries, "sampling": rows,
                             "command": " ".join(["python", "benchmarks/bench_sampling.py", *(argv or sys.argv[1:])])})
    return 0


if __name__ == "__main__":
    sys.exit(main())
