"""Fixtures for the app logic tests: the real bundled default pipeline, loaded once, and tiny variants."""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture(scope="session")
def default_model(default_store):
    """``(pipeline, ModelInfo)`` of the bundled default pipeline."""
    return default_store.get()


@pytest.fixture(scope="session")
def bundled_label_names():
    """The statements of the bundled pipeline, read from its folder's model/config.json (not through sssd_hf.app)."""
    from sssd_hf.defaults import DEFAULT_PIPELINE_DIR

    with open(os.path.join(DEFAULT_PIPELINE_DIR, "model", "config.json")) as f:
        return tuple(json.load(f)["label_names"])
