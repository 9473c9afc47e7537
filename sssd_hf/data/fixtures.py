"""Small PTB-XL look-alike folders for tests, benchmarks and trying the tools without PTB-XL.

:func:`write_ptbxl_fixture` copies real metadata rows (for example from a subset of
``ptbxl_database.csv``) and writes, for each, a WFDB record in PTB-XL's layout and header
style (format 16, 1000 adu/mV, upper-case ``AVR``/``AVL``/``AVF`` as in PTB-XL) whose
signal is a deterministic sum of sinusoids (:func:`fixture_signal`), so that a reader's output
can be compared with what was written.  The signals are not ECGs.
"""

from __future__ import annotations

import os
import shutil
from typing import Iterable, List, Optional, Sequence

import numpy as np

from .ptbxl_layout import (
    DATABASE_FILE,
    RATE_LAYOUT,
    read_database,
    record_relpath,
    write_database,
    write_statement_table,
)
from .records import WindowSpec

#: Lead names as PTB-XL's headers spell them.
PTBXL_HEADER_LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")


def fixture_signal(ecg_id: int, sampling_rate: int, seconds: float = 10.0) -> np.ndarray:
    """The ``(12, seconds * sampling_rate)`` float64 mV signal written for ``ecg_id``: per lead a
    0.8-2.5 Hz fundamental plus a harmonic, amplitudes 0.2-1.5 mV, seeded by ``ecg_id``."""
    rng = np.random.default_rng(int(ecg_id))
    t = np.arange(int(round(seconds * sampling_rate))) / sampling_rate
    freq = rng.uniform(0.8, 2.5, size=(12, 1))
    amp = rng.uniform(0.2, 1.5, size=(12, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(12, 1))
    return amp * np.sin(2 * np.pi * freq * t + phase) + 0.3 * amp * np.sin(2 * np.pi * 3 * freq * t)


def write_fixture_record(
    path_without_ext: str, signal: np.ndarray, sampling_rate: int, lead_names: Sequence[str] = PTBXL_HEADER_LEADS
) -> None:
    """Write ``signal`` (``(C, L)`` mV) with ``wfdb.wrsamp`` the way PTB-XL's records are stored."""
    import wfdb

    directory, name = os.path.split(path_without_ext)
    os.makedirs(directory, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=sampling_rate,
        units=["mV"] * signal.shape[0],
        sig_name=list(lead_names),
        d_signal=np.round(signal.T * 1000).astype(np.int16),
        fmt=["16"] * signal.shape[0],
        adc_gain=[1000.0] * signal.shape[0],
        baseline=[0] * signal.shape[0],
        write_dir=directory,
    )


def write_ptbxl_fixture(
    root: str | os.PathLike,
    metadata_csv: str | os.PathLike,
    num_records: Optional[int] = None,
    ecg_ids: Optional[Iterable[int]] = None,
    sampling_rates: Sequence[int] = (100,),
    statements_csv: Optional[str | os.PathLike] = None,
) -> List[int]:
    """Write a PTB-XL-layout folder at ``root`` and return the ``ecg_id`` of its records.

    Args:
        metadata_csv: a ``ptbxl_database.csv`` (or a subset of its rows) to take rows from.
        num_records: take this many rows spread evenly over the file (default: all).
        ecg_ids: take exactly these rows instead.
        sampling_rates: write ``records100`` and/or ``records500``.
        statements_csv: copy this ``scp_statements.csv``; by default the embedded table is written.
    """
    frame = read_database(metadata_csv)
    if ecg_ids is not None:
        wanted = [int(i) for i in ecg_ids]
        missing = sorted(set(wanted) - set(frame["ecg_id"]))
        if missing:
            raise ValueError(f"ecg_id(s) {missing[:5]} are not in {metadata_csv}")
        frame = frame[frame["ecg_id"].isin(wanted)]
    elif num_records is not None and num_records < len(frame):
        frame = frame.iloc[np.linspace(0, len(frame) - 1, int(num_records)).round().astype(int)]
    root = os.fspath(root)
    os.makedirs(root, exist_ok=True)
    for ecg_id in frame["ecg_id"]:
        for rate in sampling_rates:
            write_fixture_record(os.path.join(root, record_relpath(ecg_id, rate)), fixture_signal(ecg_id, rate), rate)
    rows = frame.drop(columns=["statements"]).to_dict("records")
    for row in rows:  # the layout's own file names, whatever the source rows said
        for rate, (_, _, column) in RATE_LAYOUT.items():
            row[column] = record_relpath(row["ecg_id"], rate)
    write_database(os.path.join(root, DATABASE_FILE), rows)
    statements_path = os.path.join(root, "scp_statements.csv")
    if statements_csv is not None:
        shutil.copyfile(statements_csv, statements_path)
    else:
        write_statement_table(statements_path)
    return [int(i) for i in frame["ecg_id"]]


def expected_fixture_window(ecg_id: int, spec: WindowSpec) -> np.ndarray:
    """What a reader should return for a fixture record at ``spec.sampling_rate`` (float32 mV,
    quantised to the 1 uV resolution of the written file)."""
    return (np.round(fixture_signal(ecg_id, int(spec.sampling_rate)) * 1000) / 1000)[:, : spec.num_samples].astype(
        np.float32
    )
