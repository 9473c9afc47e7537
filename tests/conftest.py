"""Shared fixtures: the real records vendored in tests/fixtures/, paths into ../shared, tiny pipelines."""

import os

import pytest
import torch

# Test models are tiny: one thread is as fast, and it avoids OpenMP stalls when other
# processes share the 2 cores.
torch.set_num_threads(1)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO_ROOT), "shared")
#: Small real records copied from ../shared/data (see tests/fixtures/README.md).
FIXTURES = os.path.join(REPO_ROOT, "tests", "fixtures")


def fixture_path(*parts: str) -> str:
    """Path of a vendored fixture under tests/fixtures/; fails (never skips) when it is missing."""
    path = os.path.join(FIXTURES, *parts)
    if not os.path.exists(path) and not os.path.exists(path + ".hea"):
        raise FileNotFoundError(f"test fixture {path} is missing (rebuild: python tests/fixtures/build_fixtures.py)")
    return path


def shared_path(*parts: str) -> str:
    """Path of ``../shared/<parts>``, or of its vendored copy under tests/fixtures/ (``data/x/y`` ->
    ``tests/fixtures/x/y``) when that exists; skips the calling test only when neither exists."""
    if parts and parts[0] == "reference":
        vendored = os.path.join(FIXTURES, *parts)
        if os.path.exists(vendored):
            return vendored
    if parts and parts[0] == "data":
        vendored = os.path.join(FIXTURES, *parts[1:])
        if os.path.exists(vendored):
            return vendored
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        pytest.skip(f"shared test material not found: {path} (expected ../shared beside the repository)")
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> str:
    """The folder of vendored real records, tests/fixtures/."""
    return FIXTURES


def load_ecg_pool():
    """The 48 real PTB-XL records of tests/fixtures/ptbxl/ecg_pool_100hz.npz.

    Returns ``(signal (48, 12, 1000) float32 mV in STANDARD_LEADS order, ecg_id (48,), scp_codes (48,) str)``;
    the four limb leads not stored (III, aVR, aVL, aVF) are derived with :func:`sssd_hf.leads.derive_twelve_leads`.
    """
    import numpy as np

    from sssd_hf.leads import derive_twelve_leads

    data = np.load(fixture_path("ptbxl", "ecg_pool_100hz.npz"))
    signal = derive_twelve_leads(data["signal_uv"].astype(np.float32) / 1000.0, [str(n) for n in data["lead_names"]])
    return signal.astype(np.float32), data["ecg_id"], data["scp_codes"]


@pytest.fixture(scope="session")
def real_pool():
    """:func:`load_ecg_pool` as a fixture."""
    return load_ecg_pool()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may reach the Hugging Face Hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def tiny_pipeline():
    from sssd_hf.testing import make_tiny_pipeline

    return make_tiny_pipeline(label_names=("NORM", "AFIB", "SR"), sample_length=64, seed=0)


@pytest.fixture(scope="session")
def default_store():
    """A :class:`ModelStore` with no explicit source and no ``SSSD_ECG_MODEL``: it serves the bundled default."""
    from sssd_hf.app import ModelStore

    saved = os.environ.pop("SSSD_ECG_MODEL", None)
    try:
        store = ModelStore(device="cpu")
        store.get()
    finally:
        if saved is not None:
            os.environ["SSSD_ECG_MODEL"] = saved
    return store


@pytest.fixture(autouse=True, scope="session")
def _isolated_classifier_cache(tmp_path_factory):
    """Keep the evaluation's classifier cache out of the user's ~/.cache during the tests."""
    saved = os.environ.get("SSSD_HF_CACHE")
    os.environ["SSSD_HF_CACHE"] = str(tmp_path_factory.mktemp("sssd_hf_cache"))
    yield
    if saved is None:
        os.environ.pop("SSSD_HF_CACHE", None)
    else:
        os.environ["SSSD_HF_CACHE"] = saved
