#!/usr/bin/env python
"""Where does this run's model lose the rhythm?  Noise real fold-9 NORM+SR ECGs to step t0, denoise
them back with DDPM (labels NORM+SR) and measure the RR irregularity of the result.

    python training/runs/ptbxl-default/rhythm_from_noise.py --pipeline PIPELINE --out FILE.json

A denoiser that keeps the beats it can see returns regular ECGs from every t0 at which the QRS
complexes still stand out of the noise; one that invents or drops beats turns them irregular.
Measured with the validated delineator (training/evaluate_default.py's measure_set); 8 records,
seeded, one thread, ~4 min on CPU-2.  A diagnostic of the unfinished run (removed with this folder).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
from evaluate_default import IRREGULAR_RR_CV, measure_set, rr_cv  # noqa: E402

from sssd_hf import SSSDECGPipeline  # noqa: E402
from sssd_hf.data import load_ptbxl  # noqa: E402
from sssd_hf.leads import STANDARD_LEADS, derive_twelve_leads, select_leads  # noqa: E402

START_STEPS = (25, 50, 100, 150, 199)


def rhythm(signal12: np.ndarray) -> dict:
    measured = measure_set(signal12)
    cv = np.array([rr_cv(m) for m in measured])
    hr = np.array([m["heart_rate_bpm"] for m in measured], dtype=np.float64)
    return {"rr_cv_median": float(np.nanmedian(cv)), "irregular": float(np.mean(cv > IRREGULAR_RR_CV)),
            "heart_rate_median": float(np.nanmedian(hr))}


def fold9_sinus(root: str, count: int) -> np.ndarray:
    """``(count, 12, 1000)`` mV: the first fold-9 records labelled exactly NORM and SR."""
    split = load_ptbxl(root, vocabulary=["NORM", "SR", "SBRAD", "STACH"], progress=False,
                       splits=["validation"])["validation"]
    names = split.features["labels"].feature.names
    rows = [i for i, labels in enumerate(split["labels"]) if {names[j] for j in labels} == {"NORM", "SR"}][:count]
    return np.stack([np.asarray(split[i]["signal"], np.float32) for i in rows])


def denoise_from(model, scheduler, x0: torch.Tensor, labels: torch.Tensor, t0: int, generator) -> torch.Tensor:
    x = scheduler.add_noise(x0, torch.randn(x0.shape, generator=generator), torch.full((len(x0),), t0))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for t in scheduler.timesteps:
            if int(t) <= t0:
                eps = model(x, t, labels=labels).sample.float()
                x = scheduler.step(eps, t, x, generator=generator).prev_sample
    return x


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ptbxl", default=os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "ptbxl"))
    parser.add_argument("--records", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipe = SSSDECGPipeline.from_pretrained(args.pipeline)
    model, scheduler = pipe.model.eval(), pipe.scheduler
    leads = list(model.config.generated_leads)
    real = fold9_sinus(args.ptbxl, args.records)
    x0 = torch.tensor(select_leads(real, STANDARD_LEADS, leads))
    labels = model.labels_to_tensor([["NORM", "SR"]] * len(real))
    scheduler.set_timesteps(scheduler.config.num_train_timesteps)
    generator = torch.Generator().manual_seed(0)
    result = {"real": rhythm(real)}
    for t0 in START_STEPS:
        out = denoise_from(model, scheduler, x0, labels, t0, generator)
        result[f"from_t{t0}"] = rhythm(derive_twelve_leads(out.numpy(), leads))
        print(t0, result[f"from_t{t0}"], flush=True)
    with open(args.out + ".tmp", "w") as fh:
        json.dump(result, fh, indent=1)
    os.replace(args.out + ".tmp", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
