"""Package generated ECGs for download: WFDB (zipped), CSV (zipped) and NumPy ``.npz``.

Every export carries the same metadata (``metadata.json`` inside the zips, a ``metadata``
entry in the ``.npz``, header comments in each WFDB record): the statements each ECG was
conditioned on, with descriptions, and the generation settings (model, scheduler, steps,
seed, guidance, ...).  All writers are atomic: a reader never sees a half-written file.

Shapes and units: ``ecgs`` is ``(N, C, L)`` in millivolts (``C`` leads named by
``lead_names``, normally the 12 standard leads), ``sampling_rate`` in Hz, ``labels`` a list
of ``N`` lists of statement codes (an empty list means unconditional).

The per-format functions (:func:`write_wfdb_records`, :func:`write_csv_files`,
:func:`write_npz`, their ``*_zip`` variants) are used by the Space and by the ``generate``
command; :func:`export_ecgs` writes several formats at once.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
import os
import tempfile
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .data.wfdb_io import DEFAULT_ADC_GAIN, write_wfdb_record
from .leads import STANDARD_LEADS
from .utils import atomic_path, atomic_write_text
from .vocabulary import describe

#: Formats understood by :func:`export_ecgs`, with the file name each one gets.
EXPORT_FORMATS: Dict[str, str] = {"wfdb": "{stem}_wfdb.zip", "csv": "{stem}_csv.zip", "npz": "{stem}.npz"}
METADATA_NAME = "metadata.json"


def check_ecgs(
    ecgs: np.ndarray,
    sampling_rate: float,
    lead_names: Sequence[str] = STANDARD_LEADS,
    labels: Optional[Sequence[Sequence[str]]] = None,
) -> Tuple[np.ndarray, List[List[str]]]:
    """Validate a batch for export; return ``(ecgs as float32 (N, C, L), labels as lists)``.

    Raises ``ValueError`` naming the problem: wrong rank, lead count, label count, a
    non-positive sampling rate, or the ECG and leads that hold NaN/inf samples.
    """
    ecgs = np.asarray(ecgs, dtype=np.float32)
    if ecgs.ndim == 2:
        raise ValueError(f"ecgs must have shape (num_ecgs, leads, samples); got one ECG of shape {ecgs.shape}, "
                         "add a leading axis (ecg[None])")
    if ecgs.ndim != 3 or ecgs.shape[0] == 0 or ecgs.shape[2] == 0:
        raise ValueError(f"ecgs must have shape (num_ecgs, leads, samples) with N, L >= 1, got {ecgs.shape}")
    if ecgs.shape[1] != len(lead_names):
        raise ValueError(f"ecgs have {ecgs.shape[1]} leads but {len(lead_names)} lead names were given")
    if not (isinstance(sampling_rate, (int, float, np.integer, np.floating)) and math.isfinite(sampling_rate)
            and sampling_rate > 0):
        raise ValueError(f"sampling_rate must be a positive number of Hz, got {sampling_rate!r}")
    finite = np.isfinite(ecgs)
    if not finite.all():
        n = int(np.argwhere(~finite)[0][0])
        leads = [str(lead_names[c]) for c in range(ecgs.shape[1]) if not finite[n, c].all()]
        raise ValueError(f"ECG {n} contains NaN or infinite values in lead(s) {', '.join(leads)}")
    if labels is None:
        labels = [[] for _ in range(ecgs.shape[0])]
    labels = [[labels_i] if isinstance(labels_i, str) else [str(c) for c in labels_i] for labels_i in labels]
    if len(labels) != ecgs.shape[0]:
        raise ValueError(f"{len(labels)} label lists were given for {ecgs.shape[0]} ECGs")
    return ecgs, labels


def record_names(num_ecgs: int, prefix: str = "ecg") -> List[str]:
    """``["ecg_0000", "ecg_0001", ...]``: file-name stems shared by every format."""
    width = max(4, len(str(num_ecgs - 1)))
    return [f"{prefix}_{i:0{width}d}" for i in range(num_ecgs)]


def build_metadata(
    ecgs: np.ndarray,
    sampling_rate: float,
    lead_names: Sequence[str] = STANDARD_LEADS,
    labels: Optional[Sequence[Sequence[str]]] = None,
    settings: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """The JSON-serialisable description of a batch (statements per ECG + generation settings).

    ``settings`` (e.g. ``{"model": ..., "scheduler": ..., "num_inference_steps": 200,
    "seed": 0, "guidance_scale": 1.0}``) must be JSON-serialisable; ``ValueError`` otherwise.
    """
    from . import __version__

    ecgs, labels = check_ecgs(ecgs, sampling_rate, lead_names, labels)
    settings = dict(settings or {})
    try:
        json.dumps(settings)
    except TypeError as exc:
        raise ValueError(f"generation settings must be JSON-serialisable: {exc}") from exc
    return {
        "generator": f"sssd-hf {__version__}",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "num_ecgs": int(ecgs.shape[0]),
        "sampling_rate": float(sampling_rate),
        "num_samples": int(ecgs.shape[2]),
        "units": "mV",
        "lead_names": [str(n) for n in lead_names],
        "settings": settings,
        "ecgs": [
            {"record": name, "statements": codes, "descriptions": [describe(c) for c in codes]}
            for name, codes in zip(record_names(ecgs.shape[0]), labels)
        ],
    }


def _metadata_json(metadata: Mapping[str, Any]) -> str:
    return json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"


def write_metadata_json(path: str | os.PathLike, metadata: Mapping[str, Any]) -> str:
    """Write ``metadata`` (from :func:`build_metadata`) as pretty JSON, atomically."""
    atomic_write_text(path, _metadata_json(metadata))
    return os.fspath(path)


def _header_comments(codes: Sequence[str], settings: Mapping[str, Any]) -> List[str]:
    """WFDB header comment lines: statements first, then one ``key: value`` per setting."""
    lines = [f"statements: {','.join(codes) if codes else 'none (unconditional)'}"]
    lines += [f"{key}: {value}" for key, value in settings.items()]
    return lines


def _check_wfdb_range(ecgs: np.ndarray) -> None:
    """Raise ``ValueError`` before anything is written if a sample exceeds 16-bit WFDB range."""
    limit = 32767 / DEFAULT_ADC_GAIN
    peak = np.abs(ecgs).max(axis=(1, 2))
    if (peak > limit).any():
        n = int(np.argmax(peak > limit))
        raise ValueError(f"ECG {n} reaches {peak[n]:.1f} mV; WFDB export holds at most +-{limit:.1f} mV")


def write_wfdb_records(
    directory: str | os.PathLike,
    ecgs: np.ndarray,
    sampling_rate: float,
    lead_names: Sequence[str] = STANDARD_LEADS,
    labels: Optional[Sequence[Sequence[str]]] = None,
    settings: Optional[Mapping[str, Any]] = None,
) -> List[str]:
    """Write each ECG as WFDB record ``directory/ecg_NNNN`` plus ``directory/metadata.json``.

    Returns the record paths without extension (what ``wfdb.rdrecord`` takes).  Each header
    lists the statements and settings as comments.  Samples are stored in 1 uV steps.
    """
    metadata = build_metadata(ecgs, sampling_rate, lead_names, labels, settings)
    ecgs, labels = check_ecgs(ecgs, sampling_rate, lead_names, labels)
    _check_wfdb_range(ecgs)
    paths = [
        write_wfdb_record(directory, name, ecg, sampling_rate, lead_names,
                          comments=_header_comments(codes, metadata["settings"]))
        for name, ecg, codes in zip(record_names(len(ecgs)), ecgs, labels)
    ]
    write_metadata_json(os.path.join(os.fspath(directory), METADATA_NAME), metadata)
    return paths


def ecg_to_csv(signal: np.ndarray, sampling_rate: float, lead_names: Sequence[str] = STANDARD_LEADS) -> str:
    """One ECG (``(C, L)`` mV) as CSV text: a ``time_s`` column then one column per lead (mV)."""
    (signal,), _ = check_ecgs(np.asarray(signal)[None], sampling_rate, lead_names)
    time = np.arange(signal.shape[1], dtype=np.float64) / float(sampling_rate)
    table = np.column_stack([time, signal.T.astype(np.float64)])
    buffer = io.StringIO()
    buffer.write(",".join(["time_s", *[str(n) for n in lead_names]]) + "\n")
    np.savetxt(buffer, table, delimiter=",", fmt=["%.6f"] + ["%.6f"] * signal.shape[0])
    return buffer.getvalue()


def write_csv_files(
    directory: str | os.PathLike,
    ecgs: np.ndarray,
    sampling_rate: float,
    lead_names: Sequence[str] = STANDARD_LEADS,
    labels: Optional[Sequence[Sequence[str]]] = None,
    settings: Optional[Mapping[str, Any]] = None,
) -> List[str]:
    """Write ``directory/ecg_NNNN.csv`` (see :func:`ecg_to_csv`) and ``metadata.json``."""
    metadata = build_metadata(ecgs, sampling_rate, lead_names, labels, settings)
    ecgs, _ = check_ecgs(ecgs, sampling_rate, lead_names, labels)
    directory = os.fspath(directory)
    paths = []
    for name, ecg in zip(record_names(len(ecgs)), ecgs):
        path = os.path.join(directory, name + ".csv")
        atomic_write_text(path, ecg_to_csv(ecg, sampling_rate, lead_names))
        paths.append(path)
    write_metadata_json(os.path.join(directory, METADATA_NAME), metadata)
    return paths


def _zip_directory(source: str, zip_path: str | os.PathLike) -> str:
    """Zip the plain files of ``source`` (sorted, flat) into ``zip_path`` atomically."""
    with atomic_path(zip_path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(os.listdir(source)):
                archive.write(os.path.join(source, name), arcname=name)
    return os.fspath(zip_path)


def write_wfdb_zip(zip_path: str | os.PathLike, ecgs: np.ndarray, sampling_rate: float,
                   lead_names: Sequence[str] = STANDARD_LEADS,
                   labels: Optional[Sequence[Sequence[str]]] = None,
                   settings: Optional[Mapping[str, Any]] = None) -> str:
    """A zip of the WFDB records of :func:`write_wfdb_records` (``.hea``/``.dat`` + metadata)."""
    with tempfile.TemporaryDirectory(prefix="sssd-wfdb-") as tmp:
        write_wfdb_records(tmp, ecgs, sampling_rate, lead_names, labels, settings)
        return _zip_directory(tmp, zip_path)


def write_csv_zip(zip_path: str | os.PathLike, ecgs: np.ndarray, sampling_rate: float,
                  lead_names: Sequence[str] = STANDARD_LEADS,
                  labels: Optional[Sequence[Sequence[str]]] = None,
                  settings: Optional[Mapping[str, Any]] = None) -> str:
    """A zip of the CSV files of :func:`write_csv_files` (one per ECG + metadata)."""
    with tempfile.TemporaryDirectory(prefix="sssd-csv-") as tmp:
        write_csv_files(tmp, ecgs, sampling_rate, lead_names, labels, settings)
        return _zip_directory(tmp, zip_path)


def write_npz(path: str | os.PathLike, ecgs: np.ndarray, sampling_rate: float,
              lead_names: Sequence[str] = STANDARD_LEADS,
              labels: Optional[Sequence[Sequence[str]]] = None,
              settings: Optional[Mapping[str, Any]] = None) -> str:
    """Write a compressed ``.npz`` readable without pickle (:func:`read_npz`).

    Arrays: ``ecgs`` float32 ``(N, C, L)`` mV, ``lead_names`` ``(C,)`` str, ``sampling_rate``
    float scalar (Hz), ``labels`` ``(N,)`` str (codes joined by ``","``, ``""`` =
    unconditional), ``record_names`` ``(N,)`` str, ``metadata`` the JSON text.
    """
    metadata = build_metadata(ecgs, sampling_rate, lead_names, labels, settings)
    ecgs, labels = check_ecgs(ecgs, sampling_rate, lead_names, labels)
    arrays = {
        "ecgs": ecgs,
        "lead_names": np.array([str(n) for n in lead_names]),
        "sampling_rate": np.float64(sampling_rate),
        "labels": np.array([",".join(codes) for codes in labels], dtype=np.str_),
        "record_names": np.array(record_names(len(ecgs))),
        "metadata": np.array(_metadata_json(metadata)),
    }
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object keeps numpy from appending ".npz"
            np.savez_compressed(f, **arrays)
    return os.fspath(path)


def read_npz(path: str | os.PathLike) -> Dict[str, Any]:
    """Read a file written by :func:`write_npz` back into Python types (no pickle).

    Returns ``{"ecgs": (N, C, L) float32, "lead_names": [...], "sampling_rate": float,
    "labels": [[codes], ...], "metadata": dict}``.
    """
    with np.load(os.fspath(path), allow_pickle=False) as data:
        missing = {"ecgs", "lead_names", "sampling_rate", "labels"} - set(data.files)
        if missing:
            raise ValueError(f"{path} is not an sssd-hf ECG export: missing arrays {sorted(missing)}")
        return {
            "ecgs": data["ecgs"],
            "lead_names": [str(n) for n in data["lead_names"]],
            "sampling_rate": float(data["sampling_rate"]),
            "labels": [str(s).split(",") if str(s) else [] for s in data["labels"]],
            "metadata": json.loads(str(data["metadata"])) if "metadata" in data.files else {},
        }


_WRITERS = {"wfdb": write_wfdb_zip, "csv": write_csv_zip, "npz": write_npz}


def export_ecgs(
    output_dir: str | os.PathLike,
    ecgs: np.ndarray,
    sampling_rate: float,
    lead_names: Sequence[str] = STANDARD_LEADS,
    labels: Optional[Sequence[Sequence[str]]] = None,
    settings: Optional[Mapping[str, Any]] = None,
    formats: Sequence[str] = ("wfdb", "csv", "npz"),
    stem: str = "sssd_ecg",
) -> Dict[str, str]:
    """Write the batch in each of ``formats`` (keys of :data:`EXPORT_FORMATS`) into
    ``output_dir``; return ``{format: path}``.  Everything is validated before anything is
    written, so a bad batch leaves ``output_dir`` untouched."""
    unknown = [f for f in formats if f not in _WRITERS]
    if unknown:
        raise ValueError(f"Unknown export format(s) {unknown}; choose from {sorted(_WRITERS)}")
    build_metadata(ecgs, sampling_rate, lead_names, labels, settings)  # validates everything
    if "wfdb" in formats:
        _check_wfdb_range(check_ecgs(ecgs, sampling_rate, lead_names, labels)[0])
    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    paths = {}
    for fmt in formats:
        path = os.path.join(output_dir, EXPORT_FORMATS[fmt].format(stem=stem))
        paths[fmt] = _WRITERS[fmt](path, ecgs, sampling_rate, lead_names, labels, settings)
    return paths
