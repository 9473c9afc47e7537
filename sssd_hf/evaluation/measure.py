"""``sssd-ecg measure``: heart rate, PR, QRS, QT and QTc of ECG records, one CSV row per record.

Inputs (any number, mixed):

- WFDB records (``rec``, ``rec.hea`` or ``rec.dat``) at any sampling rate, or folders of them
  (searched recursively);
- ``.npz`` files written by :func:`sssd_hf.export.write_npz` (``ecgs`` ``(N, C, L)`` mV,
  ``lead_names``, ``sampling_rate``) or the evaluation's ``.npz`` (``signal``, optional
  ``lead_names`` / ``sampling_rate``, default 100 Hz);
- dataset folders written by ``datasets`` ``save_to_disk`` (a ``Dataset`` or ``DatasetDict``) with a
  ``signal`` column ``(12, L)`` mV per record in the standard lead order, and an optional
  ``sampling_rate`` column (default 100 Hz).

Lead names are matched case-insensitively to the 12 standard leads; other leads (e.g. Frank leads
``vx``, ``vy``, ``vz``) are ignored, and a record without lead II is refused.  All records are read and
checked (finite samples, shape, lead II, at least 2 s at >= 50 Hz) before anything is measured; the
CSV is written to a temporary name and renamed, so a failed run leaves no partial file.

The measurements are those of :mod:`sssd_hf.evaluation.delineation` (all standard leads together).
Columns: ``record`` (WFDB record name; for arrays the ``record_names`` stored in the ``.npz``, else the
index, ``split/index`` for a ``DatasetDict``), ``source`` (input path),
``sampling_rate_hz``, ``n_beats``, ``heart_rate_bpm``, ``pr_ms``, ``qrs_ms``, ``qt_ms``, ``qtc_ms``
(Bazett), and for each measure ``<measure>_status`` (``ok``, ``no_p_waves``, ``no_t_waves``,
``too_few_beats``, ``no_leads``); a measure that is not available is an empty cell.
"""

from __future__ import annotations

import argparse
import glob
import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from ..leads import STANDARD_LEADS
from . import delineation

#: Output columns, in order.
COLUMNS: List[str] = (["record", "source", "sampling_rate_hz", "n_beats"] + list(delineation.MEASURES)
                      + [f"{m}_status" for m in delineation.MEASURES])
#: Records delineated per network batch.
CHUNK_RECORDS = 64
DEFAULT_ARRAY_RATE = 100.0


@dataclass
class Record:
    """One ECG to measure: ``signal`` ``(C, L)`` mV in ``lead_names`` order, at ``sampling_rate`` Hz."""

    name: str
    source: str
    signal: np.ndarray
    sampling_rate: float
    lead_names: List[str]


def standard_leads(signal: np.ndarray, lead_names: Sequence[str], where: str) -> tuple:
    """Keep the standard leads of ``signal`` ``(C, L)`` (names matched case-insensitively); return
    ``(signal (C', L), canonical names)``.  Raises ``ValueError`` when lead II is absent."""
    from ..leads import canonical_lead_name

    keep, names = [], []
    for i, name in enumerate(lead_names):
        try:
            canonical = canonical_lead_name(name)
        except ValueError:
            continue
        if canonical not in names:
            keep.append(i)
            names.append(canonical)
    if not names:
        raise ValueError(f"{where}: none of its lead names {list(lead_names)} is a standard ECG lead "
                         f"{list(STANDARD_LEADS)} (case-insensitive)")
    if "II" not in names:
        raise ValueError(f"{where}: no lead II among its leads {list(lead_names)}")
    return signal[keep], names


def check_record(record: Record) -> Record:
    """Validate one record (shape, finite samples, rate, duration, lead II); return it with standard leads only."""
    where = f"{record.source} record {record.name}"
    signal = np.asarray(record.signal)
    if signal.ndim != 2:
        raise ValueError(f"{where}: expected a (leads, samples) signal, got shape {signal.shape}")
    if signal.shape[0] != len(record.lead_names):
        raise ValueError(f"{where}: {signal.shape[0]} signals but {len(record.lead_names)} lead names")
    if not np.issubdtype(signal.dtype, np.number):
        raise ValueError(f"{where}: signal is not numeric ({signal.dtype})")
    signal, names = standard_leads(signal, record.lead_names, where)
    if not np.all(np.isfinite(signal)):
        raise ValueError(f"{where}: contains NaN or infinite samples")
    rate = float(record.sampling_rate)
    if not np.isfinite(rate) or rate < delineation.MIN_SAMPLING_RATE:
        raise ValueError(f"{where}: sampling rate {rate} Hz; at least {delineation.MIN_SAMPLING_RATE:g} Hz is needed")
    if signal.shape[1] < delineation.MIN_DURATION_S * rate:
        raise ValueError(f"{where}: {signal.shape[1] / rate:.2f} s long; at least {delineation.MIN_DURATION_S:g} s "
                         "is needed")
    return Record(record.name, record.source, signal.astype(np.float32), rate, names)


# ----------------------------------------------------------------------------------------- inputs


def _wfdb_record(path: str) -> Record:
    from ..data.wfdb_io import read_wfdb_record

    ecg = read_wfdb_record(path)
    return Record(os.path.basename(path), path, ecg.signal, ecg.sampling_rate, ecg.lead_names)


def _array_records(ecgs: np.ndarray, lead_names: Sequence[str], rate: float, source: str,
                   prefix: str = "") -> List[Record]:
    ecgs = np.asarray(ecgs)
    if ecgs.ndim == 2:
        ecgs = ecgs[None]
    if ecgs.ndim != 3:
        raise ValueError(f"{source}: expected ECGs of shape (records, leads, samples), got {ecgs.shape}")
    if ecgs.shape[0] == 0:
        raise ValueError(f"{source}: holds no records")
    if ecgs.shape[1] != len(lead_names):
        raise ValueError(f"{source}: ECGs of shape {ecgs.shape} but {len(lead_names)} lead names {list(lead_names)}")
    return [Record(f"{prefix}{i}", source, ecgs[i], rate, list(lead_names)) for i in range(len(ecgs))]


def _npz_records(path: str) -> List[Record]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError ...
        raise ValueError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    key = "ecgs" if "ecgs" in arrays else "signal" if "signal" in arrays else None
    if key is None:
        raise ValueError(f"{path}: no 'ecgs' (sssd-hf export) or 'signal' array; found {sorted(arrays)}")
    rate = float(arrays["sampling_rate"]) if "sampling_rate" in arrays else DEFAULT_ARRAY_RATE
    names = [str(n) for n in arrays["lead_names"]] if "lead_names" in arrays else list(STANDARD_LEADS)
    records = _array_records(arrays[key], names, rate, path)
    stored = [str(n) for n in arrays.get("record_names", [])]
    if len(stored) == len(records) and len(set(stored)) == len(stored):
        for record, name in zip(records, stored):
            record.name = name
    return records


def _dataset_records(path: str) -> List[Record]:
    import datasets

    try:
        loaded = datasets.load_from_disk(path)
    except Exception as exc:
        raise ValueError(f"{path}: could not read it as a saved dataset ({type(exc).__name__}: {exc})") from None
    splits = {"": loaded} if isinstance(loaded, datasets.Dataset) else dict(loaded)
    records: List[Record] = []
    for split, ds in splits.items():
        if "signal" not in ds.column_names:
            raise ValueError(f"{path}: dataset {split or ''} has no 'signal' column; found {ds.column_names}")
        rate = DEFAULT_ARRAY_RATE
        if "sampling_rate" in ds.column_names:
            rates = sorted(set(np.asarray(ds["sampling_rate"], dtype=float).tolist()))
            if len(rates) != 1:
                raise ValueError(f"{path}: records of split {split!r} have different sampling rates {rates}")
            rate = rates[0]
        try:
            signal = np.asarray(ds.with_format("numpy")["signal"], dtype=np.float32)
        except ValueError as exc:
            raise ValueError(f"{path}: 'signal' rows do not share one (leads, samples) shape ({exc})") from None
        records += _array_records(signal, STANDARD_LEADS, rate, path, f"{split}/" if split else "")
    return records


def _is_saved_dataset(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, f)) for f in ("dataset_dict.json", "state.json", "dataset_info.json"))


def read_inputs(paths: Iterable[str]) -> List[Record]:
    """All records of ``paths`` (see the module docstring), checked; raises ``FileNotFoundError`` /
    ``ValueError`` with a one-line message for the first bad input."""
    records: List[Record] = []
    for path in map(os.fspath, paths):
        stem = path[:-4] if path.endswith((".hea", ".dat")) else path
        if os.path.isdir(path) and _is_saved_dataset(path):
            found = _dataset_records(path)
        elif os.path.isdir(path):
            headers = sorted(glob.glob(os.path.join(path, "**", "*.hea"), recursive=True))
            if not headers:
                raise ValueError(f"{path}: a folder with neither WFDB records (.hea) nor a saved dataset")
            found = [_wfdb_record(h[:-4]) for h in headers]
        elif path.endswith(".npz"):
            if not os.path.isfile(path):
                raise FileNotFoundError(f"input not found: {path}")
            found = _npz_records(path)
        elif os.path.isfile(stem + ".hea"):
            found = [_wfdb_record(stem)]
        else:
            raise FileNotFoundError(f"input not found: {path} (expected a WFDB record, an .npz or a folder)")
        records += [check_record(r) for r in found]
    if not records:
        raise ValueError("no input records given")
    return records


# ---------------------------------------------------------------------------------------- measuring


def _row(record: Record, measured: Dict[str, object]) -> Dict[str, object]:
    row: Dict[str, object] = {"record": record.name, "source": record.source,
                              "sampling_rate_hz": record.sampling_rate, "n_beats": measured["heart_rate_bpm_beats"]}
    for name in delineation.MEASURES:
        row[name] = measured[name]
        row[f"{name}_status"] = measured[f"{name}_status"]
    return row


def measure(records: Sequence[Record], progress: bool = False):
    """Measure checked records (:func:`read_inputs`); a ``pandas.DataFrame`` with :data:`COLUMNS`."""
    import pandas as pd
    from tqdm.auto import tqdm

    rows: List[Optional[Dict[str, object]]] = [None] * len(records)
    groups: Dict[tuple, List[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault((record.sampling_rate, tuple(record.lead_names)), []).append(i)
    bar = tqdm(total=len(records), desc="measure", disable=not progress)
    for (rate, lead_names), members in groups.items():
        for start in range(0, len(members), CHUNK_RECORDS):
            chunk = members[start: start + CHUNK_RECORDS]
            results = delineation.delineate_many([records[i].signal for i in chunk], rate, lead_names)
            for i, result in zip(chunk, results):
                rows[i] = _row(records[i], delineation.intervals(result))
            bar.update(len(chunk))
    bar.close()
    return pd.DataFrame(rows, columns=COLUMNS)


def measure_paths(paths: Iterable[str], progress: bool = False):
    """:func:`measure` of :func:`read_inputs` ``(paths)``."""
    return measure(read_inputs(paths), progress)


def measure_arrays(ecgs: np.ndarray, sampling_rate: float, lead_names: Sequence[str] = STANDARD_LEADS):
    """Measure ``(N, C, L)`` mV ECGs at ``sampling_rate`` Hz; records are named by index."""
    return measure([check_record(r) for r in _array_records(ecgs, lead_names, sampling_rate, "array")])


def write_csv(table, out: str) -> None:
    """Write ``table`` to ``out`` (temporary name in the same folder, then renamed); empty cells for NaN."""
    out = os.fspath(out)
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"output folder does not exist: {folder}")
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        table.to_csv(tmp, index=False, float_format="%.1f")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# -------------------------------------------------------------------------------------------- CLI


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``sssd-ecg measure``."""
    parser = subparsers.add_parser(
        "measure", help="heart rate, PR, QRS, QT and QTc of ECG records (CSV)",
        description="Delineate P, QRS and T waves (all standard leads together) and write one CSV row per "
                    "record: heart_rate_bpm, pr_ms, qrs_ms, qt_ms, qtc_ms and a status per measure. Inputs: "
                    "WFDB records or folders of them, .npz files, saved dataset folders.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="WFDB record, folder, .npz or dataset folder")
    parser.add_argument("--out", required=True, metavar="FILE.csv", help="CSV file to write")
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    """Entry point of ``sssd-ecg measure``."""
    if not str(args.out).endswith(".csv"):
        raise ValueError(f"--out must name a .csv file, got {args.out}")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"output folder does not exist: {folder}")
    records = read_inputs(args.inputs)
    table = measure(records, progress=True)
    write_csv(table, args.out)
    ok = {m: int((table[f"{m}_status"] == "ok").sum()) for m in ("heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms")}
    print(f"measured {len(table)} record(s) -> {args.out}; available: "
          + ", ".join(f"{m} {n}/{len(table)}" for m, n in ok.items()))
    return 0
