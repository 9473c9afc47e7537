"""Fixtures for the evaluation tests: small sets of realistic 12-lead ECGs made with NeuroKit2.

Each record is a 10 s, 100 Hz ECGSYN trace (``neurokit2.ecg_simulate``) projected onto 12 leads
with lead-specific gains (negative in aVR and V1, as in a normal heart axis) and a per-record
amplitude jitter.  Three rhythm classes differ in heart rate: sinus bradycardia (SBRAD, ~50 bpm),
normal sinus rhythm (NORM + SR, ~72 bpm) and sinus tachycardia (STACH, ~115 bpm).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from sssd_hf.evaluation.data import ECGSet

SAMPLING_RATE = 100
SECONDS = 10
LABEL_NAMES = ("NORM", "SBRAD", "SR", "STACH")
CLASSES = (("SBRAD", 50.0, ["SBRAD"]), ("NORM", 72.0, ["NORM", "SR"]), ("STACH", 115.0, ["STACH"]))
LEAD_GAINS = np.array([0.6, 1.0, 0.4, -0.8, 0.1, 0.7, -0.5, 0.3, 0.8, 1.2, 1.1, 0.9])


def simulate(n_per_class: int, seed: int, name: str) -> ECGSet:
    """``3 * n_per_class`` independent records (seeds ``seed * 1000 + i``), classes in blocks."""
    import neurokit2 as nk

    signals, labels = [], []
    for c, (_, heart_rate, codes) in enumerate(CLASSES):
        for i in range(n_per_class):
            record_seed = seed * 1000 + c * 100 + i
            rng = np.random.default_rng(record_seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trace = nk.ecg_simulate(duration=SECONDS, sampling_rate=SAMPLING_RATE, heart_rate=heart_rate + rng.normal(0, 3),
                                        method="ecgsyn", noise=0.01, random_state=record_seed)
            gains = LEAD_GAINS * rng.uniform(0.85, 1.15, size=12)
            signals.append(gains[:, None] * trace[None, :] + rng.normal(0, 0.01, size=(12, len(trace))))
            labels.append(codes)
    return ECGSet(np.stack(signals).astype(np.float32), labels, LABEL_NAMES, SAMPLING_RATE, name=name)


@pytest.fixture(scope="session")
def real_train() -> ECGSet:
    return simulate(12, seed=1, name="real train")


@pytest.fixture(scope="session")
def real_test() -> ECGSet:
    return simulate(8, seed=2, name="real test")


@pytest.fixture(scope="session")
def independent() -> ECGSet:
    """A third independent draw: stands for a synthetic set that does not copy anything."""
    return simulate(8, seed=3, name="independent")


@pytest.fixture(scope="session")
def noise(real_test) -> ECGSet:
    """Gaussian noise with the real test set's labels and per-lead spread: plausible-looking nothing."""
    rng = np.random.default_rng(7)
    std = real_test.signal.std(axis=(0, 2))[None, :, None]
    return ECGSet(rng.normal(0, 1, real_test.signal.shape).astype(np.float32) * std, real_test.labels, LABEL_NAMES,
                  SAMPLING_RATE, name="noise")


@pytest.fixture(scope="session")
def shared_data() -> str:
    """``<repo>/../shared/data`` (real PTB-XL metadata); tests that need it skip when it is absent."""
    path = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
    if not os.path.isdir(path):
        pytest.skip(f"shared test data not found at {path}")
    return path
