"""Tiny randomly initialised pipelines for tests and demos of the plumbing (not of ECG quality)."""

from __future__ import annotations

from typing import Optional, Sequence

import torch

from .models.modeling_sssd_ecg import DEFAULT_NLE_LEADS, SSSDECGModel
from .pipelines.pipeline_sssd_ecg import SSSDECGPipeline
from .schedulers.scheduling_sssd_ecg import SSSDECGScheduler


def make_tiny_model(
    label_names: Optional[Sequence[str]] = ("NORM", "AFIB", "SR"),
    label_embedding: Optional[str] = "nle",
    sample_length: int = 1000,
    channels: int = 8,
    num_layers: int = 2,
    s4_state_size: int = 8,
    generated_leads: Sequence[str] = DEFAULT_NLE_LEADS,
    seed: int = 0,
    **config,
) -> SSSDECGModel:
    """A small :class:`SSSDECGModel` (a few thousand parameters) with a random but non-zero output
    layer, so that its predictions depend on every input."""
    torch.manual_seed(seed)
    model = SSSDECGModel(
        in_channels=len(generated_leads),
        channels=channels,
        skip_channels=channels,
        num_layers=num_layers,
        timestep_embed_dims=(16, 32, 32),
        s4_state_size=s4_state_size,
        s4_max_length=sample_length,
        label_embedding=label_embedding if label_names else None,
        label_names=list(label_names) if label_names and label_embedding else None,
        label_embed_dim=16,
        sex_embed_dim=16,
        generated_leads=list(generated_leads),
        sample_length=sample_length,
        **config,
    )
    with torch.no_grad():  # the real output layer starts at zero; a test model should not
        torch.nn.init.normal_(model.output_projection.weight, std=0.1)
    return model.eval()


def make_tiny_pipeline(num_train_timesteps: int = 200, **model_kwargs) -> SSSDECGPipeline:
    """A :class:`SSSDECGPipeline` around :func:`make_tiny_model` with the paper's scheduler."""
    return SSSDECGPipeline(
        model=make_tiny_model(**model_kwargs), scheduler=SSSDECGScheduler(num_train_timesteps=num_train_timesteps)
    )
