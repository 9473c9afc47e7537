"""ECG data for sssd-hf: PTB-XL and WFDB folders into ``datasets``, and synthetic dataset builds.

- :func:`load_ptbxl` / :func:`convert_ptbxl` / :func:`stream_ptbxl`: PTB-XL -> ``DatasetDict``
  (train = folds 1-8, validation = 9, test = 10), converted in parallel and cached as Arrow.
- :func:`load_wfdb_folder` / :func:`convert_wfdb_folder`: any folder of WFDB records + labels CSV.
- :func:`build_synthetic_dataset`: a synthetic copy of PTB-XL as a Hub-ready dataset folder.
- :mod:`sssd_hf.data.wfdb_io`: the WFDB reader/writer.

Names are imported on first use so that ``import sssd_hf.data.wfdb_io`` does not need the
``datasets`` library (an optional dependency: ``pip install sssd-hf[data]``).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_ptbxl": "ptbxl",
    "convert_ptbxl": "ptbxl",
    "stream_ptbxl": "ptbxl",
    "ptbxl_features": "ptbxl",
    "load_wfdb_folder": "wfdb_folder",
    "convert_wfdb_folder": "wfdb_folder",
    "ConversionResult": "convert",
    "Rejection": "convert",
    "RecordRejected": "records",
    "WindowSpec": "records",
    "load_windows": "records",
    "parse_scp_codes": "labels",
    "map_to_vocabulary": "labels",
    "build_synthetic_dataset": "synthetic",
    "Selection": "synthetic",
    "export_wfdb": "synthetic",
    "push_dataset_folder": "publish",
    "load_dataset_folder": "card",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
