"""Shared fixtures: paths to the real material in ../shared, tiny pipelines."""

import os

import pytest
import torch

# Test models are tiny: one thread is as fast, and it avoids OpenMP stalls when other
# processes share the 2 cores.
torch.set_num_threads(1)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO_ROOT), "shared")


def shared_path(*parts: str) -> str:
    """Path inside ../shared; skips the calling test when it is absent."""
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        pytest.skip(f"shared test material not found: {path} (expected ../shared beside the repository)")
    return path


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may reach the Hugging Face Hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def tiny_pipeline():
    from sssd_hf.testing import make_tiny_pipeline

    return make_tiny_pipeline(label_names=("NORM", "AFIB", "SR"), sample_length=64, seed=0)
