"""Fixtures for the Space tests: the app module (imported from space/app.py) and tiny models."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_PATH = REPO_ROOT / "space" / "app.py"


def load_app_module():
    """Import space/app.py as module ``sssd_space_app`` (it is a script, not a package)."""
    name = "sssd_space_app"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, APP_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses need the module registered while it executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def app():
    return load_app_module()


@pytest.fixture
def fresh_singleton(app, monkeypatch):
    """Forget any loaded model so a test sees get_model() load from scratch."""
    monkeypatch.setattr(app, "_MODEL", None)
    monkeypatch.setattr(app, "_MODEL_ERROR", None)
    return app


@pytest.fixture(scope="session")
def tiny_pipe():
    from sssd_hf.testing import make_tiny_pipeline

    pipe = make_tiny_pipeline(label_names=("AFIB", "CLBBB", "IMI", "LVOLT", "NORM", "PVC", "SR", "STACH"), seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="session")
def tiny_loader(app, tiny_pipe):
    info = app.model_info(tiny_pipe, "tiny-test")
    return lambda: (tiny_pipe, info)
