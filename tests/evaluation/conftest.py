"""Fixtures for the evaluation tests: small sets of realistic 12-lead ECGs made with NeuroKit2.

Each record is a 10 s, 100 Hz ECGSYN trace (``neurokit2.ecg_simulate``) projected onto 12 leads
with lead-specific gains (negative in aVR and V1, as in a normal heart axis) and a per-record
amplitude jitter.  Three rhythm classes differ in heart rate: sinus bradycardia (SBRAD, ~50 bpm),
normal sinus rhythm (NORM + SR, ~72 bpm) and sinus tachycardia (STACH, ~115 bpm).
"""

from __future__ import annotations

import signal
import warnings

import numpy as np
import pytest

from sssd_hf.evaluation.data import ECGSet, concat, save_npz

SAMPLING_RATE = 100
SECONDS = 10
LABEL_NAMES = ("NORM", "SBRAD", "SR", "STACH")
CLASSES = (("SBRAD", 50.0, ["SBRAD"]), ("NORM", 72.0, ["NORM", "SR"]), ("STACH", 115.0, ["STACH"]))
LEAD_GAINS = np.array([0.6, 1.0, 0.4, -0.8, 0.1, 0.7, -0.5, 0.3, 0.8, 1.2, 1.1, 0.9])


class _Hung(Exception):
    pass


def _raise_hung(signum, frame):
    raise _Hung


def ecgsyn(heart_rate: int, seed: int, limit_s: int = 5) -> np.ndarray:
    """One 10 s ECGSYN trace (mV) at ``heart_rate`` bpm.

    neurokit2 0.2.13's ECGSYN loops forever for some (rate, seed) pairs (e.g. 112.5 bpm or
    75 bpm with seed 3102); a hung draw is interrupted after ``limit_s`` and redrawn with the
    next seed.  Normal draws take about 0.1 s.
    """
    import neurokit2 as nk

    if not hasattr(signal, "SIGALRM"):  # no alarm on Windows: draw unguarded
        return nk.ecg_simulate(duration=SECONDS, sampling_rate=SAMPLING_RATE, heart_rate=heart_rate, method="ecgsyn",
                               noise=0.01, random_state=seed)
    previous = signal.signal(signal.SIGALRM, _raise_hung)
    try:
        for attempt in range(5):
            signal.alarm(limit_s)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return nk.ecg_simulate(duration=SECONDS, sampling_rate=SAMPLING_RATE, heart_rate=heart_rate,
                                           method="ecgsyn", noise=0.01, random_state=seed + 100_000 * attempt)
            except _Hung:
                continue
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    raise RuntimeError(f"ECGSYN hung for {heart_rate} bpm with 5 seeds from {seed}")


def simulate(n_per_class: int, seed: int, name: str) -> ECGSet:
    """``3 * n_per_class`` independent records (seeds ``seed * 1000 + i``), classes in blocks."""
    signals, labels = [], []
    for c, (_, heart_rate, codes) in enumerate(CLASSES):
        for i in range(n_per_class):
            record_seed = seed * 1000 + c * 100 + i
            rng = np.random.default_rng(record_seed)
            trace = ecgsyn(int(round(heart_rate + rng.normal(0, 3))), record_seed)
            gains = LEAD_GAINS * rng.uniform(0.85, 1.15, size=12)
            signals.append(gains[:, None] * trace[None, :] + rng.normal(0, 0.01, size=(12, len(trace))))
            labels.append(codes)
    return ECGSet(np.stack(signals).astype(np.float32), labels, LABEL_NAMES, SAMPLING_RATE, name=name)


def cached_simulation(request, n_per_class: int, seed: int, name: str) -> ECGSet:
    """:func:`simulate`, kept in pytest's cache folder between runs (it is deterministic)."""
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    if cache is None:
        return simulate(n_per_class, seed, name)
    folder = cache.mkdir("sssd-evaluation-ecgs-v2")
    path = folder / f"{n_per_class}-{seed}.npz"
    if path.exists():
        data = np.load(path)
        return ECGSet(data["signal"], data["labels"], LABEL_NAMES, SAMPLING_RATE, name=name)
    ecgs = simulate(n_per_class, seed, name)
    np.savez(path, signal=ecgs.signal, labels=ecgs.labels)
    return ecgs


@pytest.fixture(scope="session")
def real_train(request) -> ECGSet:
    return cached_simulation(request, 12, seed=1, name="real train")


@pytest.fixture(scope="session")
def real_test(request) -> ECGSet:
    return cached_simulation(request, 8, seed=2, name="real test")


@pytest.fixture(scope="session")
def independent(request) -> ECGSet:
    """A third independent draw: stands for a synthetic set that does not copy anything."""
    return cached_simulation(request, 8, seed=3, name="independent")


@pytest.fixture(scope="session")
def noise(real_test) -> ECGSet:
    """Gaussian noise with the real test set's labels and per-lead spread: plausible-looking nothing."""
    rng = np.random.default_rng(7)
    std = real_test.signal.std(axis=(0, 2))[None, :, None]
    return ECGSet(rng.normal(0, 1, real_test.signal.shape).astype(np.float32) * std, real_test.labels, LABEL_NAMES,
                  SAMPLING_RATE, name="noise")


def write_cli_inputs(folder, real_train: ECGSet, real_test: ECGSet, independent: ECGSet):
    """``folder/real.npz`` (splits train / test) and ``folder/synthetic.npz`` for the CLI tests; returns ``folder``."""
    save_npz(folder / "real.npz", concat([real_train, real_test]),
             split=["train"] * len(real_train) + ["test"] * len(real_test))
    save_npz(folder / "synthetic.npz", independent)
    return folder


def evaluate_argv(real, synthetic, out, *extra) -> list:
    """``sssd-ecg evaluate`` arguments for the ``real`` and ``synthetic`` inputs and the report folder ``out``."""
    return ["evaluate", "--real", str(real), "--synthetic", str(synthetic), "--out", str(out), *extra]
