"""Sample ECGs drawn to PNG at checkpoints, to watch a run's progress by eye."""

from __future__ import annotations

import os
from typing import List, Optional, Sequence

import torch

from ..pipelines.pipeline_sssd_ecg import SSSDECGPipeline
from ..plotting import save_ecg_png


def default_sample_labels(label_names: Optional[Sequence[str]], limit: int = 4) -> Optional[List[List[str]]]:
    """One ECG for each of the first ``limit`` statements (``None`` for unconditional models)."""
    return [[code] for code in list(label_names)[:limit]] if label_names else None


def render_samples(
    pipeline: SSSDECGPipeline, labels: Optional[List[List[str]]], out_dir: str, num_inference_steps: int, seed: int
) -> List[str]:
    """Generate one ECG per entry of ``labels`` (two unconditional ECGs when ``None``) and save
    each as ``out_dir/<i>-<codes>.png``; returns the paths."""
    generator = torch.Generator().manual_seed(seed)
    if labels is None:
        out = pipeline(num_ecgs=2, num_inference_steps=num_inference_steps, generator=generator)
    else:
        out = pipeline(
            labels=[list(row) for row in labels], num_inference_steps=num_inference_steps, generator=generator
        )
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for i, (ecg, codes) in enumerate(zip(out.ecgs, out.labels)):
        name = "+".join(codes) if codes else ("none" if codes is not None else "unconditional")
        title = f"{name} ({num_inference_steps} DDPM steps)"
        paths.append(
            save_ecg_png(ecg, os.path.join(out_dir, f"{i}-{name}.png"), out.sampling_rate, out.lead_names, title=title)
        )
    return paths
