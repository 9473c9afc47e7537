"""Fixtures for the Space tests: the app module (space/app.py), and the app started as a user starts it.

The ``space_server`` fixture runs ``python space/app.py --port N`` in a subprocess with none of the
app's environment variables (no ``SSSD_ECG_MODEL``), so it serves the real bundled default pipeline.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_PATH = REPO_ROOT / "space" / "app.py"
#: Starting gradio + loading the model takes ~10 s on an idle 2-core CPU, far more on a busy one.
START_TIMEOUT_S = 300


def load_app_module():
    """Import space/app.py as module ``sssd_space_app`` (it is a script, not a package)."""
    name = "sssd_space_app"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, APP_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def app():
    return load_app_module()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_environment() -> dict:
    """The test's environment without the app's settings: what a user who just runs the app has."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SSSD_ECG_", "GRADIO_SERVER_")) and k != "PYTHONPATH"}
    env["HF_HUB_OFFLINE"] = "1"  # the default is bundled: nothing may be fetched
    return env


@pytest.fixture(scope="session")
def space_server(tmp_path_factory):
    """``python space/app.py`` on a free localhost port; yields its URL, stops it afterwards."""
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[space]')")
    port = free_port()
    log_path = tmp_path_factory.mktemp("space") / "server.log"
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "space/app.py", "--port", str(port)], cwd=REPO_ROOT,
                                   env=user_environment(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the Space exited with code {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the Space did not answer on {url} within {START_TIMEOUT_S} s:\n"
                            f"{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="session")
def bundled_label_names():
    """The statements of the bundled pipeline, read from its folder's model/config.json (not through sssd_hf.app)."""
    import json

    from sssd_hf.defaults import DEFAULT_PIPELINE_DIR

    with open(os.path.join(DEFAULT_PIPELINE_DIR, "model", "config.json")) as f:
        return tuple(json.load(f)["label_names"])
