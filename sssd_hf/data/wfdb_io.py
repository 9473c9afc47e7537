"""The one WFDB writer (and reader) of sssd-hf.

Records are written as format-16 WFDB files (``.hea`` + ``.dat``) with physical units in mV,
the sampling frequency in Hz, and free-text header comments (statements, generation settings).
Writing goes to a temporary folder first and both files are then renamed into place, so an
interrupted run never leaves a half-written record.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from ..leads import STANDARD_LEADS

#: ADC gain used for written records: 1000 adu/mV gives 1 uV resolution and +-32.7 mV range.
DEFAULT_ADC_GAIN = 1000.0


@dataclass
class ECGRecord:
    """A multi-lead ECG in physical units.

    Attributes:
        signal: float array ``(C, L)`` in millivolts, ``C`` leads by ``L`` samples.
        sampling_rate: samples per second (Hz).
        lead_names: names of the ``C`` leads.
        comments: header comment lines (no leading ``#``).
        units: physical unit of each lead (normally ``"mV"``).
    """

    signal: np.ndarray
    sampling_rate: float
    lead_names: List[str]
    comments: List[str] = field(default_factory=list)
    units: List[str] = field(default_factory=list)


def write_wfdb_record(
    directory: str | os.PathLike,
    record_name: str,
    signal: np.ndarray,
    sampling_rate: float,
    lead_names: Sequence[str] = STANDARD_LEADS,
    comments: Optional[Sequence[str]] = None,
    adc_gain: float = DEFAULT_ADC_GAIN,
) -> str:
    """Write ``signal`` (``(C, L)`` float, millivolts) as WFDB record ``directory/record_name``.

    Returns the record path without extension (what ``wfdb.rdrecord`` takes).  Raises
    ``ValueError`` for a wrong shape, non-finite samples, or values outside the 16-bit range.
    """
    import wfdb

    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 2:
        raise ValueError(f"signal must have shape (leads, samples), got {signal.shape}")
    if signal.shape[0] != len(lead_names):
        raise ValueError(f"signal has {signal.shape[0]} leads but {len(lead_names)} lead names were given")
    if not np.all(np.isfinite(signal)):
        raise ValueError(f"record {record_name}: signal contains NaN or infinite values")
    limit = 32767 / adc_gain
    if np.abs(signal).max(initial=0.0) > limit:
        raise ValueError(
            f"record {record_name}: |signal| exceeds {limit:.1f} mV, the range of 16-bit WFDB at gain {adc_gain}"
        )
    if os.sep in record_name or (os.altsep and os.altsep in record_name):
        raise ValueError(f"record_name must be a plain name, got {record_name!r}")
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".tmp-wfdb-", dir=directory)
    try:
        digital = np.round(signal.T * adc_gain).astype(np.int16)
        wfdb.wrsamp(
            record_name,
            fs=float(sampling_rate),
            units=["mV"] * signal.shape[0],
            sig_name=list(lead_names),
            d_signal=digital,
            fmt=["16"] * signal.shape[0],
            adc_gain=[adc_gain] * signal.shape[0],
            baseline=[0] * signal.shape[0],
            comments=[str(c).replace("\n", " ") for c in (comments or [])],
            write_dir=tmp_dir,
        )
        # .dat first, .hea last: a header only ever exists next to complete signal data.
        for ext in (".dat", ".hea"):
            os.replace(os.path.join(tmp_dir, record_name + ext), os.path.join(directory, record_name + ext))
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return os.path.join(directory, record_name)


def read_wfdb_record(record_path: str | os.PathLike) -> ECGRecord:
    """Read a WFDB record (path without extension) into an :class:`ECGRecord` in mV.

    Signals recorded in uV or V are converted to mV.  Raises ``FileNotFoundError`` when the
    header or data file is missing and ``ValueError`` when the files are corrupt.
    """
    import wfdb

    record_path = os.fspath(record_path)
    if record_path.endswith((".hea", ".dat")):
        record_path = record_path[:-4]
    if not os.path.isfile(record_path + ".hea"):
        raise FileNotFoundError(f"WFDB header not found: {record_path}.hea")
    try:
        record = wfdb.rdrecord(record_path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # wfdb raises many types for corrupt files
        raise ValueError(f"Corrupt WFDB record {record_path}: {type(exc).__name__}: {exc}") from exc
    if record.p_signal is None:
        raise ValueError(f"WFDB record {record_path} has no physical signal")
    scale = {"mv": 1.0, "uv": 1e-3, "v": 1e3}
    units = [u or "mV" for u in (record.units or ["mV"] * record.n_sig)]
    factors = []
    for name, unit in zip(record.sig_name, units):
        if unit.lower() not in scale:
            raise ValueError(f"WFDB record {record_path}: lead {name} is in {unit!r}, not a voltage unit")
        factors.append(scale[unit.lower()])
    signal = (record.p_signal * np.asarray(factors)[None, :]).T.astype(np.float32)
    return ECGRecord(
        signal=signal,
        sampling_rate=float(record.fs),
        lead_names=list(record.sig_name),
        comments=list(record.comments or []),
        units=["mV"] * record.n_sig,
    )
