"""Any folder of WFDB records (+ a CSV of labels) -> ``datasets.DatasetDict`` of 12-lead windows.

For collections other than PTB-XL: MIMIC-IV-ECG, PTB, Georgia, your hospital's export.

    from sssd_hf.data import convert_wfdb_folder
    result = convert_wfdb_folder("mimic-iv-ecg", "labels.csv", record_column="path",
                                 labels_column="codes", sampling_rate=100)
    result.dataset["train"]      # record, start_seconds, signal (12, 1000) mV, labels
    result.rejected              # [Rejection(split, record, reason), ...]

Lead names are matched case-insensitively (``i``, ``avr``, ``AVR`` -> ``aVR``), records are
resampled to ``sampling_rate`` and cut into windows of ``window_seconds``; records that lack
a lead, are too short, carry NaN or flat lines, or whose files are missing or corrupt are
skipped and listed in the report (see :mod:`sssd_hf.data.records`).

The labels CSV has one row per record: a column naming the record (path relative to the
folder, with or without ``.hea``), optionally a labels column (PTB-XL dict literal
``"{'NORM': 100.0}"``, list literal, or codes separated by ``,`` ``;`` ``|`` or spaces) and a
split column.  Without a CSV every ``*.hea`` under the folder is read, unlabelled.
"""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional, Sequence

from ..vocabulary import get_vocabulary
from .convert import ConversionResult, convert_records
from .features import labels_feature, signal_feature
from .labels import map_to_vocabulary, parse_label_cell
from .records import WindowSpec

_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")  # what datasets accepts as a split name


def wfdb_folder_features(vocabulary: Sequence[str], num_samples: int):
    """Features of :func:`convert_wfdb_folder`: ``record``, ``start_seconds``, ``signal``, ``labels``."""
    from datasets import Features, Value

    return Features(
        {
            "record": Value("string"),
            "start_seconds": Value("float32"),
            "signal": signal_feature(num_samples),
            "labels": labels_feature(vocabulary),
        }
    )


def _strip_extension(record: str) -> str:
    record = str(record).strip()
    return record[:-4] if record.endswith((".hea", ".dat")) else record


def find_records(folder: str | os.PathLike) -> List[str]:
    """Record names (paths relative to ``folder`` without extension) of every ``*.hea`` below it, sorted."""
    folder = os.fspath(folder)
    found = []
    for directory, subdirs, files in os.walk(folder):
        subdirs.sort()
        found += [os.path.relpath(os.path.join(directory, f[:-4]), folder) for f in files if f.endswith(".hea")]
    return sorted(r.replace(os.sep, "/") for r in found)


def wfdb_folder_items(
    folder: str | os.PathLike,
    labels_csv: Optional[str | os.PathLike] = None,
    vocabulary: str | Sequence[str] = "all",
    min_likelihood: float = 0.0,
    record_column: str = "record",
    labels_column: Optional[str] = "labels",
    split_column: Optional[str] = None,
) -> Dict[str, List[dict]]:
    """Describe the records as conversion items (see :mod:`sssd_hf.data.convert`), by split.

    Raises ``ValueError`` for a CSV without the named columns, duplicated records, labels that
    cannot be parsed or unknown statement codes (naming the row), and bad split names.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"WFDB folder not found: {folder}")
    codes = get_vocabulary(vocabulary)
    if labels_csv is None:
        rows = [{"record": r, "labels": [], "split": "train"} for r in find_records(folder)]
        if not rows:
            raise ValueError(f"No WFDB records (*.hea) found under {folder}")
    else:
        rows = _read_label_rows(labels_csv, codes, min_likelihood, record_column, labels_column, split_column)
    items: Dict[str, List[dict]] = {}
    for row in rows:
        item = {"record": row["record"], "path": os.path.join(folder, row["record"]),
                "fields": {"record": row["record"], "labels": row["labels"]}}
        items.setdefault(row["split"], []).append(item)
    return items


def _read_label_rows(labels_csv, codes, min_likelihood, record_column, labels_column, split_column) -> List[dict]:
    import pandas as pd

    labels_csv = os.fspath(labels_csv)
    if not os.path.isfile(labels_csv):
        raise FileNotFoundError(f"Labels CSV not found: {labels_csv}")
    frame = pd.read_csv(labels_csv, dtype=str, keep_default_na=False)
    wanted = [c for c in (record_column, labels_column, split_column) if c is not None]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(f"{labels_csv} has no column(s) {missing}; its columns are {list(frame.columns)}")
    index = {code: i for i, code in enumerate(codes)}
    rows, seen = [], set()
    for line, row in enumerate(frame.to_dict("records"), start=2):  # line 1 is the header
        record = _strip_extension(row[record_column])
        if not record:
            raise ValueError(f"{labels_csv} line {line}: empty {record_column!r}")
        if record in seen:
            raise ValueError(f"{labels_csv} line {line}: record {record!r} is listed twice")
        seen.add(record)
        try:
            statements = parse_label_cell(row[labels_column]) if labels_column else {}
            labels = [index[c] for c in map_to_vocabulary(statements, codes, min_likelihood)]
        except ValueError as exc:
            raise ValueError(f"{labels_csv} line {line} (record {record}): {exc}") from None
        split = row[split_column].strip() if split_column else "train"
        if not _SPLIT_NAME.match(split):
            raise ValueError(
                f"{labels_csv} line {line}: split {split!r} is not a valid split name (letters, digits, _)"
            )
        rows.append({"record": record, "labels": labels, "split": split})
    if not rows:
        raise ValueError(f"{labels_csv} lists no records")
    return rows


def convert_wfdb_folder(
    folder: str | os.PathLike,
    labels_csv: Optional[str | os.PathLike] = None,
    sampling_rate: float = 100.0,
    window_seconds: float = 10.0,
    window_stride_seconds: Optional[float] = None,
    max_windows: Optional[int] = 1,
    vocabulary: str | Sequence[str] = "all",
    min_likelihood: float = 0.0,
    record_column: str = "record",
    labels_column: Optional[str] = "labels",
    split_column: Optional[str] = None,
    cache_dir: Optional[str] = None,
    num_workers: Optional[int] = None,
    chunk_size: int = 500,
    progress: bool = True,
) -> ConversionResult:
    """Convert a folder of WFDB records into a cached ``DatasetDict`` of 12-lead windows.

    Args:
        folder: root of the records.
        labels_csv: CSV listing the records (see the module docstring); ``None``: every record.
        sampling_rate: target rate in Hz (records are resampled with ``resample_poly``).
        window_seconds: window length in seconds.
        window_stride_seconds: seconds between window starts; ``None``: first window only.
        max_windows: at most this many windows per record (``None``: all that fit).
        vocabulary, min_likelihood: as in :func:`sssd_hf.data.ptbxl.ptbxl_items`.
        record_column, labels_column, split_column: column names in ``labels_csv``
            (``labels_column=None``: unlabelled; ``split_column=None``: all in ``train``).
        cache_dir, num_workers, chunk_size, progress: see
            :func:`sssd_hf.data.convert.convert_records`.
    """
    codes = get_vocabulary(vocabulary)
    num_samples = int(round(window_seconds * sampling_rate))
    stride = None if window_stride_seconds is None else int(round(window_stride_seconds * sampling_rate))
    spec = WindowSpec(
        sampling_rate=float(sampling_rate), num_samples=num_samples, stride=stride, max_windows=max_windows
    )
    items = wfdb_folder_items(folder, labels_csv, codes, min_likelihood, record_column, labels_column, split_column)
    return convert_records(
        items,
        wfdb_folder_features(codes, num_samples),
        spec,
        name="wfdb",
        settings={"folder": os.path.abspath(folder), "vocabulary": list(codes), "min_likelihood": min_likelihood},
        window_field="start_seconds",
        cache_dir=cache_dir,
        num_workers=num_workers,
        chunk_size=chunk_size,
        progress=progress,
    )


def load_wfdb_folder(folder: str | os.PathLike, labels_csv: Optional[str | os.PathLike] = None, **kwargs):
    """The ``datasets.DatasetDict`` of :func:`convert_wfdb_folder` (rejections logged)."""
    return convert_wfdb_folder(folder, labels_csv, **kwargs).dataset
