"""``sssd-ecg generate``: ECGs from a pipeline folder to WFDB, NumPy or CSV files."""

from __future__ import annotations

import argparse
import os
import time
from typing import Optional

#: Sampler names accepted by ``--scheduler`` and the diffusers classes they select.
SCHEDULERS = {
    "ddpm": None,  # the pipeline's own scheduler (the paper's DDPM)
    "ddim": "DDIMScheduler",
    "dpm": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
}
DEFAULT_FEW_STEPS = 20


def resolve_model_path(model: Optional[str]) -> str:
    """``--model`` if given, else the pipeline bundled with the package; a clear error if neither."""
    if model:
        return model
    try:
        from .defaults import default_pipeline_path
    except ImportError:
        default_pipeline_path = None
    path = default_pipeline_path() if default_pipeline_path else None
    if not path:
        raise FileNotFoundError(
            "No weights are available: this installation has no bundled default pipeline. Pass --model PATH "
            "(a pipeline folder, e.g. one written by `python -m sssd_hf.convert` or the training script)."
        )
    return path


def load_pipeline(model: Optional[str], scheduler: str = "ddpm", device: Optional[str] = None):
    """Load a pipeline (see :func:`resolve_model_path`) and swap in the requested sampler."""
    import torch

    from .pipelines.pipeline_sssd_ecg import SSSDECGPipeline

    if scheduler not in SCHEDULERS:
        raise ValueError(f"Unknown scheduler {scheduler!r}; choose from {sorted(SCHEDULERS)}")
    pipe = SSSDECGPipeline.from_pretrained(resolve_model_path(model))
    if SCHEDULERS[scheduler]:
        import diffusers

        pipe.scheduler = getattr(diffusers, SCHEDULERS[scheduler]).from_config(pipe.scheduler.config)
    return pipe.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def run_generate(args: argparse.Namespace) -> int:
    import torch

    from .export import write_csv_files, write_npz, write_wfdb_records

    if args.num < 1:
        raise ValueError(f"--num must be at least 1, got {args.num}")
    pipe = load_pipeline(args.model, args.scheduler, args.device)
    steps = args.steps or (None if args.scheduler == "ddpm" else DEFAULT_FEW_STEPS)
    labels = None if args.unconditional else args.labels
    if labels is None and not args.unconditional:
        raise ValueError("Give --labels (e.g. --labels NORM,SR) or --unconditional")
    generator = torch.Generator(device="cpu").manual_seed(args.seed)
    started = time.perf_counter()
    out = pipe(
        labels=None if labels is None else [labels] * args.num,
        num_ecgs=args.num if labels is None else None,
        num_inference_steps=steps,
        generator=generator,
        batch_size=args.batch_size,
    )
    elapsed = time.perf_counter() - started
    settings = {
        "model": os.fspath(resolve_model_path(args.model)),
        "scheduler": type(pipe.scheduler).__name__,
        "num_inference_steps": steps or pipe.default_steps,
        "seed": args.seed,
    }
    codes = [c or [] for c in out.labels]
    os.makedirs(args.out, exist_ok=True)
    if args.format == "wfdb":
        written = write_wfdb_records(args.out, out.ecgs, out.sampling_rate, out.lead_names, codes, settings)
    elif args.format == "csv":
        written = write_csv_files(args.out, out.ecgs, out.sampling_rate, out.lead_names, codes, settings)
    else:
        written = [write_npz(os.path.join(args.out, "ecgs.npz"), out.ecgs, out.sampling_rate, out.lead_names, codes, settings)]
    if args.plot:
        from .export import record_names
        from .plotting import save_ecg_png

        for name, ecg, row in zip(record_names(len(out.ecgs)), out.ecgs, codes):
            save_ecg_png(ecg, os.path.join(args.out, name + ".png"), out.sampling_rate, out.lead_names, title=", ".join(row))
    print(f"Generated {len(out.ecgs)} ECG(s) in {elapsed:.1f} s; wrote {len(written)} {args.format} file(s) to {args.out}")
    return 0


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate 12-lead ECGs conditioned on statements",
        description="Generate 12-lead ECGs (mV) conditioned on PTB-XL statements and write them to DIR.",
    )
    parser.add_argument("--labels", help="statement codes for every ECG, comma-separated, e.g. NORM,SR")
    parser.add_argument("--unconditional", action="store_true", help="for unconditional models")
    parser.add_argument("--num", type=int, default=1, help="number of ECGs (default 1)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--format", choices=("wfdb", "npy", "csv"), default="wfdb",
                        help="wfdb: one record per ECG; npy: ecgs.npz (NumPy); csv: one file per ECG")
    parser.add_argument("--steps", type=int, help=f"denoising steps (default: 200 for ddpm, {DEFAULT_FEW_STEPS} otherwise)")
    parser.add_argument("--scheduler", choices=sorted(SCHEDULERS), default="ddpm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--model", help="pipeline folder or Hub id (default: the bundled demonstration pipeline)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--plot", action="store_true", help="also draw each ECG as a PNG on ECG paper")
    parser.set_defaults(func=run_generate)
