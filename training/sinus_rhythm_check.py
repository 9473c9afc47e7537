#!/usr/bin/env python
"""How regular are a pipeline's sinus-rhythm ECGs, per sampler (and, optionally, under autoguidance)?

Generates ``--num`` NORM+SR ECGs (seeds 1016, 1017, ...) for every ``SAMPLER:STEPS`` of
``--runs`` and measures them with the validated delineator of ``training/evaluate_default.py``:
median RR coefficient of variation, share irregular (CV > 0.1) and heart rate, with 95 % intervals,
and the share of ECGs whose beats are two regular runs at different rates (:func:`rate_change`).
Real PTB-XL sinus rhythm (folds 1-8): median CV 0.02, 7 % irregular.

``--bad-ema FILE`` switches classifier-free guidance off and applies autoguidance (Karras et al.
2024, "Guiding a diffusion model with a bad version of itself"): ``eps = eps_bad + w (eps - eps_bad)``
with both networks conditional, ``eps_bad`` from the EMA weights of an earlier checkpoint of the
same run (``custom_checkpoint_1.pkl`` of an accelerate checkpoint) and ``w = --guidance-scale``.

    python training/sinus_rhythm_check.py --runs dpm:20 dpm-sde:20 ddpm:25 --num 48 --out rhythm.json
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = ["NORM", "SR"]
FIRST_SEED = 1016


def _evaluate_default():
    spec = importlib.util.spec_from_file_location("evaluate_default", os.path.join(HERE, "evaluate_default.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rate_change(rr_ms, regular_cv: float = 0.06, min_change: float = 0.1, min_run: int = 3) -> bool:
    """Whether RR intervals ``rr_ms`` are two regular runs at different rates: a split leaves at least
    ``min_run`` intervals on each side, each side's coefficient of variation is at most ``regular_cv``,
    and the two sides' medians differ by at least ``min_change`` of the overall median (e.g. six beats
    0.88 s apart, then six 0.65 s apart)."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    for k in range(min_run, len(rr) - min_run + 1):
        left, right = rr[:k], rr[k:]
        if max(left.std() / left.mean(), right.std() / right.mean()) <= regular_cv and \
                abs(np.median(left) - np.median(right)) >= min_change * np.median(rr):
            return True
    return False


def load_bad_model(good: torch.nn.Module, ema_path: str) -> torch.nn.Module:
    """A copy of ``good`` carrying the EMA weights saved in ``ema_path`` (diffusers ``EMAModel`` state)."""
    shadow = torch.load(ema_path, map_location="cpu", weights_only=False)["shadow_params"]
    bad = copy.deepcopy(good)
    params = list(bad.parameters())
    if len(shadow) != len(params):
        raise SystemExit(f"error: {ema_path} holds {len(shadow)} tensors for a model with {len(params)}")
    with torch.no_grad():
        for p, s in zip(params, shadow):
            p.copy_(s.float())
    return bad.eval()


def use_autoguidance(pipe, bad: torch.nn.Module, weight: float) -> None:
    """Replace the pipeline's noise estimate by ``eps_bad + weight (eps_good - eps_bad)``."""
    good = pipe.model

    def predict_noise(latents, timestep, conditioning):
        x = pipe.scheduler.scale_model_input(latents, timestep)
        eps_good = good(x, timestep, labels=conditioning.labels).sample
        eps_bad = bad(x, timestep, labels=conditioning.labels).sample
        return eps_bad + weight * (eps_good - eps_bad)

    pipe.predict_noise = predict_noise


def measure(args, sampler: str, steps: int, evaluate_default) -> dict:
    from sssd_hf.generate_cli import load_pipeline

    pipe = load_pipeline(args.pipeline, sampler)
    pipe.set_progress_bar_config(disable=True)
    guidance = args.guidance_scale
    if args.bad_ema:
        use_autoguidance(pipe, load_bad_model(pipe.model, args.bad_ema), guidance)
        guidance = 1.0  # the pipeline's own (classifier-free) guidance is off
    labels = [LABELS] * args.num
    started = time.perf_counter()
    ecgs = pipe(labels=labels, num_inference_steps=steps, guidance_scale=guidance, batch_size=min(args.num, 48),
                generator=[torch.Generator().manual_seed(FIRST_SEED + i) for i in range(args.num)]).ecgs
    seconds = time.perf_counter() - started
    measured = evaluate_default.measure_set(ecgs)
    found = evaluate_default.fidelity(ecgs, labels, measured)
    changes = np.array([rate_change(m["rr_ms"]) for m in measured if len(m["rr_ms"]) >= 3])
    return {"sampler": sampler, "steps": steps, "sinus_rr": found["afib_rr"]["SR"],
            "rate_change": evaluate_default.fraction(changes),
            "heart_rate": found["heart_rate"]["NORM"], "seconds": round(seconds, 1)}


def parse_run(text: str):
    name, _, steps = text.partition(":")
    if not steps.isdigit():
        raise argparse.ArgumentTypeError(f"expected SAMPLER:STEPS such as dpm-sde:20, got {text!r}")
    return name, int(steps)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default="sssd_hf/default_pipeline")
    parser.add_argument("--runs", type=parse_run, nargs="+", default=[("dpm", 20), ("dpm-sde", 20)],
                        help="SAMPLER:STEPS pairs (sssd_hf.schedulers.samplers)")
    parser.add_argument("--num", type=int, default=48, help="NORM+SR ECGs per run")
    parser.add_argument("--guidance-scale", type=float, default=3.0,
                        help="classifier-free guidance, or the autoguidance weight with --bad-ema")
    parser.add_argument("--bad-ema", help="EMA state of an earlier checkpoint: autoguidance instead of CFG")
    parser.add_argument("--out", required=True, help="JSON file of the results")
    args = parser.parse_args(argv)
    from sssd_hf.schedulers.samplers import SAMPLERS

    unknown = [name for name, _ in args.runs if name not in SAMPLERS]
    if unknown:
        parser.error(f"unknown sampler(s) {unknown}")
    if not 2 <= args.num <= 10_000:
        parser.error(f"--num must be from 2 to 10000, got {args.num}")
    if not math.isfinite(args.guidance_scale) or args.guidance_scale <= 0:
        parser.error(f"--guidance-scale must be a positive number, got {args.guidance_scale}")
    for path in (args.pipeline, args.bad_ema):
        if path and not os.path.exists(path):
            parser.error(f"{path} not found")
    evaluate_default = _evaluate_default()
    results = {"pipeline": args.pipeline, "labels": LABELS, "num": args.num, "first_seed": FIRST_SEED,
               "guidance_scale": args.guidance_scale, "autoguidance_bad_ema": args.bad_ema,
               "command": " ".join([os.path.relpath(sys.argv[0]), *(argv if argv is not None else sys.argv[1:])]),
               "runs": []}
    for sampler, steps in args.runs:
        run = measure(args, sampler, steps, evaluate_default)
        results["runs"].append(run)
        rr = run["sinus_rr"]
        print(f"{sampler}:{steps}  RR CV {rr['rr_cv']['median']} {rr['rr_cv'].get('median_ci95')}  irregular "
              f"{rr['irregular']['fraction']:.2f} {rr['irregular']['ci95']}  rate change "
              f"{run['rate_change']['fraction']:.2f}  HR {run['heart_rate']['bpm']['median']}"
              f"  {run['seconds']:.0f} s", flush=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
