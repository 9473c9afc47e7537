"""Reading LUDB (Lobachevsky University Electrocardiography Database) and its cardiologists' annotations.

LUDB records are 12-lead, 500 Hz, 10 s WFDB records (``N.hea`` / ``N.dat``); each lead has its own
annotation file named after the lead (``N.i``, ``N.ii``, ... ``N.v6``) in which every wave is a
triplet ``(`` onset, peak symbol (``p`` P wave, ``N`` QRS complex, ``t`` T wave), ``)`` offset.
Only the middle part of each record (about 1-9 s) is annotated.

This module turns those annotations into per-sample wave labels (to train and check the
delineator of :mod:`sssd_hf.evaluation.delineation`) and into per-record reference intervals
(median over beats), the quantities ``sssd-ecg measure`` reports.

LUDB: Kalyakulina et al., "LUDB: A New Open-Access Validation Tool for Electrocardiogram Delineation
Algorithms", IEEE Access 8, 186181-186190, 2020; PhysioNet, ODC-By 1.0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

#: LUDB's lead annotation extensions, in the order of the record's signals.
LUDB_LEADS: Tuple[str, ...] = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
#: Wave classes of the delineator: 0 is "no wave"; LUDB's peak symbol of each other class.
WAVE_CLASSES: Tuple[str, ...] = ("none", "P", "QRS", "T")
_SYMBOL_CLASS = {"p": 1, "N": 2, "t": 3}


@dataclass(frozen=True)
class Wave:
    """One annotated wave: ``kind`` in ``("P", "QRS", "T")``, onset/offset sample indices (inclusive)."""

    kind: str
    onset: int
    offset: int


def read_waves(record_path: str | os.PathLike, lead: str = "ii") -> List[Wave]:
    """The annotated waves of one lead of a LUDB record (path without extension), in time order.

    Triplets without both an onset ``(`` and an offset ``)`` around the peak are skipped.
    Raises ``FileNotFoundError`` when the annotation file ``record.<lead>`` does not exist.
    """
    import wfdb

    record_path = os.fspath(record_path)
    if not os.path.isfile(f"{record_path}.{lead}"):
        raise FileNotFoundError(f"LUDB annotation file not found: {record_path}.{lead}")
    ann = wfdb.rdann(record_path, lead)
    samples, symbols = np.asarray(ann.sample, dtype=np.int64), list(ann.symbol)
    waves = []
    for i, symbol in enumerate(symbols):
        if symbol not in _SYMBOL_CLASS or i == 0 or i + 1 >= len(symbols):
            continue
        if symbols[i - 1] == "(" and symbols[i + 1] == ")":
            waves.append(Wave(WAVE_CLASSES[_SYMBOL_CLASS[symbol]], int(samples[i - 1]), int(samples[i + 1])))
    return waves


def wave_labels(waves: List[Wave], length: int, margin: int = 0) -> np.ndarray:
    """Per-sample class indices ``(length,)`` int64 (see :data:`WAVE_CLASSES`); samples outside the
    annotated span (before the first wave's onset or after the last wave's offset, widened by ``margin``
    samples) are ``-1`` (unknown)."""
    labels = np.full(length, -1, dtype=np.int64)
    if not waves:
        return labels
    start = max(0, min(w.onset for w in waves) - margin)
    stop = min(length, max(w.offset for w in waves) + 1 + margin)
    labels[start:stop] = 0
    for w in waves:
        labels[max(0, w.onset): min(length, w.offset + 1)] = WAVE_CLASSES.index(w.kind)
    return labels


def reference_intervals(waves: List[Wave], sampling_rate: float) -> Dict[str, float]:
    """Per-record reference measurements from annotated waves (median over beats, NaN when none).

    Returns ``{"heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "n_beats", "n_p_waves"}``: heart rate is
    60000 / mean interval between successive QRS onsets (ms); a beat's PR runs from the onset of the P
    wave that lies between the previous QRS and this one to this QRS's onset; QT from QRS onset to the
    offset of the T wave before the next QRS.
    """
    qrs = [w for w in waves if w.kind == "QRS"]
    ms = 1000.0 / sampling_rate
    pr, qt = [], []
    for i, beat in enumerate(qrs):
        previous_end = qrs[i - 1].offset if i > 0 else -np.inf
        next_start = qrs[i + 1].onset if i + 1 < len(qrs) else np.inf
        p = [w for w in waves if w.kind == "P" and previous_end < w.onset and w.offset <= beat.onset]
        t = [w for w in waves if w.kind == "T" and beat.offset <= w.onset and w.offset < next_start]
        if p:
            pr.append((beat.onset - p[-1].onset) * ms)
        if t:
            qt.append((t[0].offset - beat.onset) * ms)
    onsets = np.array([w.onset for w in qrs], dtype=np.float64)
    rr = np.diff(onsets) * ms
    return {
        "heart_rate_bpm": float(60000.0 / rr.mean()) if rr.size else float("nan"),
        "pr_ms": _median(pr),
        "qrs_ms": _median([(w.offset - w.onset) * ms for w in qrs]),
        "qt_ms": _median(qt),
        "n_beats": len(qrs),
        "n_p_waves": len(pr),
    }


def _median(values) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def record_ids(ludb_dir: str | os.PathLike) -> List[int]:
    """The record numbers present in ``ludb_dir/data`` (those with a header), sorted."""
    data = os.path.join(os.fspath(ludb_dir), "data")
    if not os.path.isdir(data):
        raise FileNotFoundError(f"LUDB data folder not found: {data}")
    return sorted(int(f[:-4]) for f in os.listdir(data) if f.endswith(".hea") and f[:-4].isdigit())


def record_path(ludb_dir: str | os.PathLike, record: int) -> str:
    """Path (without extension) of LUDB record number ``record``."""
    return os.path.join(os.fspath(ludb_dir), "data", str(int(record)))


def read_rhythms(ludb_dir: str | os.PathLike) -> Optional[Dict[int, str]]:
    """``{record: rhythm}`` from ``ludb.csv`` (None when the file is absent)."""
    import csv

    path = os.path.join(os.fspath(ludb_dir), "ludb.csv")
    if not os.path.isfile(path):
        return None
    with open(path, newline="", encoding="utf-8") as handle:
        return {int(row["ID"]): row["Rhythms"].strip() for row in csv.DictReader(handle)}


def read_record(ludb_dir: str | os.PathLike, record: int):
    """``(signal (12, 5000) mV float32, sampling rate Hz, {lead: [Wave]})`` of one LUDB record."""
    from ..data.wfdb_io import read_wfdb_record

    path = record_path(ludb_dir, record)
    ecg = read_wfdb_record(path)
    waves = {lead: read_waves(path, lead) for lead in LUDB_LEADS if os.path.isfile(f"{path}.{lead}")}
    return ecg.signal, ecg.sampling_rate, waves


def compare_with_annotations(ludb_dir: str | os.PathLike, records, sampling_rate: Optional[float] = None,
                             lead: str = "ii", model=None):
    """Measured vs annotated intervals of LUDB ``records`` (a ``pandas.DataFrame``, one row per record).

    Each record is resampled to ``sampling_rate`` Hz (default: its own 500 Hz) and measured with
    :func:`sssd_hf.evaluation.delineation.delineate` on all 12 leads; the reference is
    :func:`reference_intervals` of lead ``lead``'s annotations.  Columns: ``record``, ``rhythm``, for
    each measure ``ref_<m>`` and ``<m>`` (measured, NaN when not reported), and ``ref_n_p_waves``.
    """
    import pandas as pd

    from . import delineation

    rhythms = read_rhythms(ludb_dir) or {}
    signals, references = [], []
    rate = None
    for record in records:
        signal, fs, waves = read_record(ludb_dir, record)
        rate = sampling_rate or fs
        signals.append(delineation.resample(signal, fs, rate) if rate != fs else signal)
        references.append(reference_intervals(waves.get(lead, []), fs))
    rows = []
    results = delineation.delineate_many(signals, rate, list(LUDB_LEADS), model)
    for record, ref, result in zip(records, references, results):
        measured = delineation.intervals(result)
        row = {"record": int(record), "rhythm": rhythms.get(int(record), "")}
        for name in ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms"):
            row[f"ref_{name}"] = ref[name]
            row[name] = measured[name]
        row["ref_n_p_waves"] = ref["n_p_waves"]
        row["ref_n_beats"] = ref["n_beats"]
        rows.append(row)
    return pd.DataFrame(rows)


def error_table(comparison) -> "pandas.DataFrame":  # noqa: F821
    """Per measure: ``median_abs_error``, ``bias`` (median of measured - annotated), ``coverage`` (fraction
    of the records with an annotated value that got a measured one) and ``n`` (records with both)."""
    import pandas as pd

    rows = []
    for name in ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms"):
        ref, got = comparison[f"ref_{name}"], comparison[name]
        both = ref.notna() & got.notna()
        error = (got - ref)[both]
        rows.append({"measure": name, "median_abs_error": float(error.abs().median()) if both.any() else float("nan"),
                     "bias": float(error.median()) if both.any() else float("nan"),
                     "coverage": float(both.sum() / max(1, ref.notna().sum())), "n": int(both.sum())})
    return pd.DataFrame(rows).set_index("measure")
