#!/usr/bin/env python
"""Does each part of a generated ECG settle its beats from its own noise? (issue 15, diagnosis 4)

16 NORM+SR ECGs of the bundled default with the deterministic DPM-Solver++ (20 steps, guidance 3),
once from starting noise z and once from z with samples 500-999 redrawn.  For every beat (QRS onset,
the validated delineator) of the first 4 s of the first ECG, the distance to the nearest beat of the
second; the same for the last 4 s.  Beats that stay put although the other half's noise changed were
settled locally.

    OMP_NUM_THREADS=2 python training/results/ptbxl_default/sinus_rhythm/noise_locality.py
"""

import json
import os

import numpy as np
import torch

from sssd_hf.evaluation import delineation
from sssd_hf.generate_cli import load_pipeline

HERE = os.path.dirname(os.path.abspath(__file__))
NUM, LEADS, LENGTH, SEED = 16, 8, 1000, 5


def onsets_ms(ecgs: np.ndarray):
    return [np.array([b.qrs_onset for b in d.beats]) for d in delineation.delineate_many(list(ecgs), 100.0)]


def mean_shift(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([np.min(np.abs(b - x)) for x in a])) if len(a) and len(b) else float("nan")


def main() -> None:
    pipe = load_pipeline("sssd_hf/default_pipeline", "dpm")
    pipe.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(SEED)
    noise = torch.randn(NUM, LEADS, LENGTH, generator=generator)
    swapped = noise.clone()
    swapped[:, :, 500:] = torch.randn(NUM, LEADS, 500, generator=generator)
    runs = [pipe(labels=[["NORM", "SR"]] * NUM, num_inference_steps=20, batch_size=NUM, latents=z.clone(),
                 guidance_scale=3.0).ecgs for z in (noise, swapped)]
    first, second = onsets_ms(runs[0]), onsets_ms(runs[1])
    early = [mean_shift(a[a < 4000], b[b < 4000]) for a, b in zip(first, second)]
    late = [mean_shift(a[a > 6000], b[b > 6000]) for a, b in zip(first, second)]
    result = {"command": "python training/results/ptbxl_default/sinus_rhythm/noise_locality.py",
              "num": NUM, "seed": SEED, "sampler": "dpm", "steps": 20, "guidance_scale": 3.0,
              "first_4s_mean_shift_ms": [round(v, 1) for v in early],
              "last_4s_mean_shift_ms": [round(v, 1) for v in late],
              "first_4s_within_4ms": int(np.sum(np.asarray(early) < 4.0)),
              "median_shift_ms": {"first_4s": round(float(np.nanmedian(early)), 1),
                                  "last_4s": round(float(np.nanmedian(late)), 1)}}
    with open(os.path.join(HERE, "noise_locality.json"), "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)
    print(result["first_4s_within_4ms"], result["median_shift_ms"])


if __name__ == "__main__":
    main()
