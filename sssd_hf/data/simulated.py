"""A labeled 12-lead ECG corpus simulated with NeuroKit2, in the layout of the PTB-XL datasets.

PTB-XL cannot be downloaded everywhere, yet the package ships a small default pipeline so that
``sssd-ecg generate`` works out of the box.  That model is trained on this corpus: ECGs from
NeuroKit2's ECGSYN-based 12-lead simulator (McSharry et al. 2003; ``nk.ecg_simulate(...,
method="multileads")``) labeled with the three PTB-XL rhythm statements whose meaning the simulator
honours exactly, because they are defined by the heart rate alone:

========  ======================  ===============  =====================================
code      statement               definition       simulated heart rate (uniform, bpm)
========  ======================  ===============  =====================================
SBRAD     sinus bradycardia       < 60 bpm         42 - 56
SR        sinus rhythm            60 - 100 bpm     64 - 96
STACH     sinus tachycardia       > 100 bpm        106 - 130
========  ======================  ===============  =====================================

The simulated rates keep a margin of at least 4 bpm from the definitions' boundaries so that the
simulator's beat-to-beat variability (1 bpm standard deviation) never crosses them.  Tachycardia
stops at 130 bpm: above it, at 100 Hz, the simulator's T wave runs into the next beat and NeuroKit2's
R-peak detection on lead II misses or doubles beats in about a third of the records, so the rate
could no longer be checked on the output.

Each record is simulated for ``seconds + 4.5`` seconds directly at the target sampling rate.  The
simulator starts every lead from a fixed state, so its first two seconds or so carry a start-up
transient: a baseline swing of up to 1 mV in some leads, several times the QRS amplitude.  We
therefore remove the baseline with a zero-phase 0.5 Hz high-pass filter (second-order Butterworth,
the cut-off of common ECG baseline filters), drop the first 3 s, and keep a window of ``seconds``
starting at a random offset within the next 1.5 s, so the first beat does not always sit at the same
place.  The simulator draws every lead independently from its own wave amplitudes (each lead then
scaled to -0.4..1.2 mV), so its limb leads do not obey Einthoven's law.  We keep its leads I, III
and V1-V6 and derive II, aVR, aVL and aVF from I and III (:func:`sssd_hf.leads.derive_twelve_leads`),
which makes every record a consistent 12-lead ECG in millivolts.  The pair I, III is chosen because
the derived lead II (= I + III) then has a clear R wave (NeuroKit2 finds the simulated heart rate
on it for about 95 % of records, against 82 % on the simulator's own lead II, whose T wave is far
larger than its R wave) and a physiological amplitude (peak to peak about 1.2 mV).

The result is a ``datasets.DatasetDict`` with exactly the features of :func:`sssd_hf.data.ptbxl_features`
(``signal`` float32 ``(12, L)`` mV in standard lead order, ``labels`` a sequence of statement
indices into ``("SBRAD", "SR", "STACH")``, ``strat_fold`` 1-10 with train = folds 1-8, validation = 9,
test = 10; ``age`` and ``sex`` are empty), so the training script reads it like PTB-XL::

    python -m sssd_hf.data.simulated --out data/simulated-rhythms --per-statement 300 --workers 2

Generating one record takes about 2 s of one CPU core (the simulator integrates an ODE per lead).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..leads import derive_twelve_leads

logger = logging.getLogger(__name__)

#: Statement -> (lowest, highest) heart rate in bpm that the statement allows (its definition).
RATE_DEFINITIONS: Dict[str, Tuple[float, float]] = {
    "SBRAD": (0.0, 60.0),
    "SR": (60.0, 100.0),
    "STACH": (100.0, math.inf),
}
#: Statement -> (lowest, highest) heart rate in bpm drawn (uniformly) when simulating it.
SIMULATED_RATES: Dict[str, Tuple[float, float]] = {
    "SBRAD": (42.0, 56.0),
    "SR": (64.0, 96.0),
    "STACH": (106.0, 130.0),
}
#: The statement vocabulary of the simulated corpus, in label-index order.
SIMULATED_STATEMENTS: Tuple[str, ...] = tuple(SIMULATED_RATES)
#: The simulator's leads that are kept; the other four limb leads are derived from I and III.
_KEPT_LEADS: Tuple[str, ...] = ("I", "III", "V1", "V2", "V3", "V4", "V5", "V6")
#: Seconds dropped at the start of every simulation (the simulator's start-up transient).
_WARMUP_SECONDS = 3.0
#: Range of the random window offset after the warm-up, in seconds.
_MARGIN_SECONDS = 1.5
#: Cut-off (Hz) of the zero-phase high-pass filter that removes the baseline.
_HIGHPASS_HZ = 0.5
#: A record normally takes 1-3 s of CPU; NeuroKit2 occasionally loops forever (see _run_simulator).
_CPU_LIMIT_SECONDS = 10.0
_MAX_ATTEMPTS = 5
#: The hang depends on the heart rate, not on the seed (NeuroKit2 0.2.13 loops forever at 108.8 bpm
#: whatever the seed), so every retry also raises the rate by this much, far below the simulator's
#: own beat-to-beat variability (1 bpm standard deviation).
_RATE_NUDGE_BPM = 0.1
_NUM_FOLDS = 10


@dataclass(frozen=True)
class SimulatedRecord:
    """The recipe of one simulated ECG (enough to regenerate it exactly).

    Attributes:
        ecg_id: 1-based record id.
        statement: its statement code (one of :data:`SIMULATED_STATEMENTS`).
        heart_rate: mean heart rate in bpm given to the simulator.
        seed: seed of the simulator and of the window offset.
        strat_fold: fold 1-10 (train 1-8, validation 9, test 10).
    """

    ecg_id: int
    statement: str
    heart_rate: float
    seed: int
    strat_fold: int


def rate_in_definition(statement: str, heart_rate: float) -> bool:
    """Whether ``heart_rate`` (bpm) meets the definition of ``statement``: SBRAD ``< 60``,
    SR ``60 .. 100`` (inclusive), STACH ``> 100``."""
    if statement not in RATE_DEFINITIONS:
        raise ValueError(f"Unknown simulated statement {statement!r}; valid: {', '.join(RATE_DEFINITIONS)}")
    low, high = RATE_DEFINITIONS[statement]
    if statement == "SBRAD":
        return heart_rate < high
    if statement == "STACH":
        return heart_rate > low
    return low <= heart_rate <= high


class _SimulatorStuck(Exception):
    """The simulator ran past its CPU-time limit."""


@contextlib.contextmanager
def _cpu_time_limit(seconds: float):
    """Raise :class:`_SimulatorStuck` in the body after ``seconds`` of this process's CPU time
    (a deterministic limit, unaffected by other processes); no limit off the main thread or
    where ``setitimer`` is missing."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise _SimulatorStuck()

    previous = signal.signal(signal.SIGPROF, _raise)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _run_simulator(duration: float, sampling_rate: int, heart_rate: float, noise: float, seed: int):
    """``nk.ecg_simulate(method="multileads")`` under a CPU-time limit: for some random states
    its RR-series loop never ends (NeuroKit2 0.2.x), which the caller answers with a new seed."""
    import neurokit2 as nk

    with warnings.catch_warnings(), _cpu_time_limit(_CPU_LIMIT_SECONDS):
        warnings.simplefilter("ignore")
        return nk.ecg_simulate(
            duration=duration, sampling_rate=sampling_rate, heart_rate=heart_rate, noise=noise,
            method="multileads", random_state=seed,
        )


def remove_baseline(signals: np.ndarray, sampling_rate: float) -> np.ndarray:
    """Zero-phase 0.5 Hz high-pass (second-order Butterworth, forward and backward) along the
    last axis of ``signals`` (``(..., L)`` mV); returns the filtered float64 array."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, _HIGHPASS_HZ, btype="highpass", fs=sampling_rate, output="sos")
    return sosfiltfilt(sos, np.asarray(signals, dtype=np.float64), axis=-1)


def simulate_ecg(
    heart_rate: float, seed: int, sampling_rate: int = 100, seconds: float = 10.0, noise: float = 0.01
) -> np.ndarray:
    """One simulated 12-lead ECG.

    Args:
        heart_rate: mean heart rate in bpm.
        seed: seeds the simulator (RR process, noise) and the window offset.
        sampling_rate: Hz.
        seconds: length of the returned window.
        noise: amplitude of NeuroKit2's additive noise (mV).

    Returns:
        ``(12, round(seconds * sampling_rate))`` float32 array in millivolts, leads in
        :data:`sssd_hf.leads.STANDARD_LEADS` order (II, aVR, aVL, aVF derived from I and III), baseline removed by a
        0.5 Hz high-pass filter, the simulator's start-up transient dropped.
    """
    if not 20 <= heart_rate <= 250:
        raise ValueError(f"heart_rate must be between 20 and 250 bpm, got {heart_rate}")
    length = int(round(seconds * sampling_rate))
    rng = np.random.default_rng(seed)
    frame = None
    for attempt in range(_MAX_ATTEMPTS):
        simulator_seed = int(rng.integers(2**31 - 1))
        try:
            rate = heart_rate + _RATE_NUDGE_BPM * attempt
            frame = _run_simulator(
                _WARMUP_SECONDS + seconds + _MARGIN_SECONDS, sampling_rate, rate, noise, simulator_seed
            )
            break
        except _SimulatorStuck:
            logger.warning(
                "NeuroKit2 simulator stuck (heart_rate=%s, seed=%s, attempt %d); retrying with a new seed at %.2f bpm",
                rate, seed, attempt, heart_rate + _RATE_NUDGE_BPM * (attempt + 1),
            )
    if frame is None:
        raise RuntimeError(
            f"NeuroKit2 could not simulate heart_rate={heart_rate} (seed={seed}) in {_MAX_ATTEMPTS} attempts"
        )
    kept = remove_baseline(frame[list(_KEPT_LEADS)].to_numpy(dtype=np.float64).T, sampling_rate)
    warmup = int(round(_WARMUP_SECONDS * sampling_rate))
    offset = warmup + int(rng.integers(0, kept.shape[1] - warmup - length + 1))
    window = kept[:, offset : offset + length]
    if window.shape[1] != length or not np.isfinite(window).all():
        raise RuntimeError(f"NeuroKit2 returned an unusable signal for heart_rate={heart_rate}, seed={seed}")
    return derive_twelve_leads(window, _KEPT_LEADS).astype(np.float32)


def plan_records(
    per_statement: int, seed: int = 0, statements: Sequence[str] = SIMULATED_STATEMENTS
) -> List[SimulatedRecord]:
    """``per_statement`` records for each statement, with heart rates, seeds and folds.

    Statements are interleaved (SBRAD, SR, STACH, SBRAD, ...) and folds assigned round robin
    within each statement, so every split holds every statement in equal shares.
    """
    if per_statement < 1:
        raise ValueError(f"per_statement must be at least 1, got {per_statement}")
    unknown = [s for s in statements if s not in SIMULATED_RATES]
    if unknown:
        raise ValueError(f"The simulator cannot produce statement(s) {unknown}; valid: {', '.join(SIMULATED_RATES)}")
    rng = np.random.default_rng(seed)
    records = []
    for i in range(per_statement):
        for statement in statements:
            low, high = SIMULATED_RATES[statement]
            records.append(
                SimulatedRecord(
                    ecg_id=len(records) + 1,
                    statement=statement,
                    heart_rate=round(float(rng.uniform(low, high)), 2),
                    seed=int(rng.integers(2**31 - 1)),
                    strat_fold=i % _NUM_FOLDS + 1,
                )
            )
    return records


def _simulate_record(args: Tuple[SimulatedRecord, int, float]) -> np.ndarray:
    record, sampling_rate, seconds = args
    return simulate_ecg(record.heart_rate, record.seed, sampling_rate, seconds)


def simulate_signals(
    records: Sequence[SimulatedRecord], sampling_rate: int = 100, seconds: float = 10.0, workers: int = 1
) -> np.ndarray:
    """Simulate ``records`` (in parallel over ``workers`` processes); ``(N, 12, L)`` float32 mV.

    The result does not depend on ``workers``: each record carries its own seed."""
    jobs = [(r, sampling_rate, seconds) for r in records]
    start = time.time()
    signals = []
    with (
        ProcessPoolExecutor(max_workers=workers) if workers > 1 and len(jobs) > 1 else contextlib.nullcontext() as pool
    ):
        results = pool.map(_simulate_record, jobs, chunksize=4) if pool is not None else map(_simulate_record, jobs)
        for ecg in results:
            signals.append(ecg)
            if len(signals) % 50 == 0:
                logger.info("simulated %d / %d ECGs (%.0f s)", len(signals), len(jobs), time.time() - start)
    logger.info("simulated %d ECGs in %.0f s", len(jobs), time.time() - start)
    return np.stack(signals) if signals else np.zeros((0, 12, int(round(seconds * sampling_rate))), np.float32)


def make_simulated_dataset(
    per_statement: int = 300, seed: int = 0, sampling_rate: int = 100, seconds: float = 10.0, workers: int = 1
):
    """The simulated corpus as a ``datasets.DatasetDict`` (train / validation / test).

    Args:
        per_statement: records per statement (the splits get 80 / 10 / 10 % of them).
        seed: seeds the plan (heart rates, per-record seeds); same seed, same corpus.
        sampling_rate: Hz; seconds: record length.
        workers: processes used for the simulation.
    """
    from datasets import Dataset, DatasetDict

    from .ptbxl import ptbxl_features
    from .ptbxl_layout import FOLD_SPLITS, split_of_fold

    records = plan_records(per_statement, seed)
    signals = simulate_signals(records, sampling_rate, seconds, workers)
    features = ptbxl_features(SIMULATED_STATEMENTS, signals.shape[-1])
    label_index = {code: i for i, code in enumerate(SIMULATED_STATEMENTS)}
    rows: Dict[str, Dict[str, list]] = {split: {name: [] for name in features} for split in FOLD_SPLITS}
    for record, ecg in zip(records, signals):
        row = rows[split_of_fold(record.strat_fold)]
        row["ecg_id"].append(record.ecg_id)
        row["patient_id"].append(record.ecg_id)
        row["signal"].append(ecg)
        row["labels"].append([label_index[record.statement]])
        row["age"].append(None)
        row["sex"].append(None)
        row["strat_fold"].append(record.strat_fold)
    return DatasetDict(
        {split: Dataset.from_dict(columns, features=features) for split, columns in rows.items() if columns["ecg_id"]}
    )


def save_simulated_dataset(out: str | os.PathLike, **kwargs) -> str:
    """Build :func:`make_simulated_dataset` and ``save_to_disk`` it atomically at ``out``."""
    from ..utils import atomic_path

    dataset = make_simulated_dataset(**kwargs)
    out = os.fspath(out)
    if os.path.exists(out):
        raise FileExistsError(f"{out} already exists; choose another --out or remove it")
    with atomic_path(out) as tmp:
        dataset.save_to_disk(tmp)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", required=True, help="folder for the DatasetDict (save_to_disk layout); must not exist"
    )
    parser.add_argument("--per-statement", type=int, default=300, help="records per statement (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sampling-rate", type=int, default=100, help="Hz (default 100)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1, help="simulation processes (default 1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    save_simulated_dataset(
        args.out, per_statement=args.per_statement, seed=args.seed, sampling_rate=args.sampling_rate,
        seconds=args.seconds, workers=args.workers,
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
