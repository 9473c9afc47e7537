"""PTB-XL -> ``datasets.DatasetDict`` (train = folds 1-8, validation = 9, test = 10).

    from sssd_hf.data import load_ptbxl
    ds = load_ptbxl("/data/ptb-xl", vocabulary="superdiagnostic", num_workers=8)
    ds["train"].with_format("torch")[0]["signal"]   # (12, 1000) float32 mV at 100 Hz

Features: ``ecg_id`` (int64), ``patient_id`` (int64), ``signal`` (float32 ``(12, L)`` mV, leads
I, II, III, aVR, aVL, aVF, V1-V6; ``L`` = 1000 at 100 Hz, 5000 at 500 Hz), ``labels`` (list of
ClassLabel over the vocabulary), ``age`` (float32 years; PTB-XL writes 300 for patients over
89), ``sex`` (ClassLabel male/female), ``strat_fold`` (int64, 1-10).

The first call converts the WFDB files in parallel into Arrow chunks in the ``datasets`` cache
(see :mod:`sssd_hf.data.convert`); later calls memory-map them.  :func:`stream_ptbxl` reads
the records lazily instead, with no cache.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from typing import Dict, List, Optional, Sequence

from ..vocabulary import check_table_matches, get_vocabulary, load_statement_table
from .convert import ConversionResult, convert_records, iter_examples
from .features import SEX_FEATURE, labels_feature, signal_feature
from .labels import map_to_vocabulary
from .ptbxl_layout import FOLD_SPLITS, RATE_LAYOUT, STATEMENTS_FILE, database_path, read_database, split_of_fold
from .records import WindowSpec

logger = logging.getLogger(__name__)

#: Every PTB-XL record lasts 10 s.
RECORD_SECONDS = 10

_DATABASE_COLUMNS = ("ecg_id", "patient_id", "age", "sex", "scp_codes", "strat_fold")


def ptbxl_features(vocabulary: Sequence[str], num_samples: int):
    """The ``datasets.Features`` of :func:`load_ptbxl` for a vocabulary and window length."""
    from datasets import Features, Value

    return Features(
        {
            "ecg_id": Value("int64"),
            "patient_id": Value("int64"),
            "signal": signal_feature(num_samples),
            "labels": labels_feature(vocabulary),
            "age": Value("float32"),
            "sex": SEX_FEATURE,
            "strat_fold": Value("int64"),
        }
    )


def _optional(value, cast):
    """``cast(value)``, or ``None`` for an empty CSV cell."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else cast(value)


def ptbxl_items(
    root: str | os.PathLike,
    sampling_rate: int = 100,
    vocabulary: str | Sequence[str] = "all",
    min_likelihood: float = 0.0,
    splits: Optional[Sequence[str]] = None,
    limit: Optional[int] = None,
    drop_unlabeled: bool = False,
) -> Dict[str, List[dict]]:
    """Describe the PTB-XL records as conversion items (see :mod:`sssd_hf.data.convert`), by split.

    Args:
        root: PTB-XL folder (``ptbxl_database.csv``, ``records100/`` or ``records500/``).
        sampling_rate: 100 or 500 (Hz): which of PTB-XL's two copies to read.
        vocabulary: vocabulary name or codes (:func:`sssd_hf.vocabulary.get_vocabulary`).
        min_likelihood: statements below this likelihood (percent) are ignored.
        splits: subset of ``train``, ``validation``, ``test`` (default all three).
        limit: keep only the first ``limit`` records (by ``ecg_id``), e.g. for a quick look.
        drop_unlabeled: leave out records with no statement in the vocabulary (as the PTB-XL
            benchmark does for each task).
    """
    root = os.fspath(root)
    if sampling_rate not in RATE_LAYOUT:
        raise ValueError(f"PTB-XL provides records at {sorted(RATE_LAYOUT)} Hz; got sampling_rate={sampling_rate}")
    folder, _, filename_column = RATE_LAYOUT[sampling_rate]
    database_path(root)  # FileNotFoundError naming ptbxl_database.csv when root is not PTB-XL
    if not os.path.isdir(os.path.join(root, folder)):
        raise FileNotFoundError(f"{root} has no {folder}/ folder: not a PTB-XL copy with {sampling_rate} Hz records")
    codes = get_vocabulary(vocabulary)
    splits = list(FOLD_SPLITS) if splits is None else list(splits)
    unknown = [s for s in splits if s not in FOLD_SPLITS]
    if unknown:
        raise ValueError(f"Unknown split(s) {unknown}; PTB-XL splits are {list(FOLD_SPLITS)}")
    _check_statement_table(root)

    frame = read_database(root, required=_DATABASE_COLUMNS + (filename_column,))
    if limit is not None:
        frame = frame.head(int(limit))
    index = {code: i for i, code in enumerate(codes)}
    items: Dict[str, List[dict]] = {split: [] for split in splits}
    for row in frame.itertuples(index=False):
        split = split_of_fold(row.strat_fold)
        if split not in items:
            continue
        labels = [index[c] for c in map_to_vocabulary(row.statements, codes, min_likelihood)]
        if drop_unlabeled and not labels:
            continue
        relpath = getattr(row, filename_column)
        fields = {
            "ecg_id": int(row.ecg_id),
            "patient_id": _optional(row.patient_id, int),
            "labels": labels,
            "age": _optional(row.age, float),
            "sex": _optional(row.sex, int),
            "strat_fold": int(row.strat_fold),
        }
        items[split].append({"record": relpath, "path": os.path.join(root, relpath), "fields": fields})
    return items


def _check_statement_table(root: str) -> None:
    """Warn when the folder's ``scp_statements.csv`` differs from the embedded vocabulary."""
    path = os.path.join(root, STATEMENTS_FILE)
    if os.path.isfile(path):
        diffs = check_table_matches(load_statement_table(path))
        if diffs:
            warnings.warn(f"{path} differs from sssd_hf.vocabulary's PTB-XL table: {diffs[:5]}", stacklevel=3)


def convert_ptbxl(
    root: str | os.PathLike,
    sampling_rate: int = 100,
    vocabulary: str | Sequence[str] = "all",
    min_likelihood: float = 0.0,
    splits: Optional[Sequence[str]] = None,
    limit: Optional[int] = None,
    drop_unlabeled: bool = False,
    cache_dir: Optional[str] = None,
    num_workers: Optional[int] = None,
    chunk_size: int = 500,
    progress: bool = True,
) -> ConversionResult:
    """Convert PTB-XL to Arrow (cached, resumable) and return the dataset and the rejections.

    Arguments as in :func:`ptbxl_items`, plus those of
    :func:`sssd_hf.data.convert.convert_records` (``cache_dir``, ``num_workers``,
    ``chunk_size``, ``progress``).
    """
    codes = get_vocabulary(vocabulary)
    items = ptbxl_items(root, sampling_rate, codes, min_likelihood, splits, limit, drop_unlabeled)
    num_samples = RECORD_SECONDS * sampling_rate
    return convert_records(
        items,
        ptbxl_features(codes, num_samples),
        WindowSpec(sampling_rate=sampling_rate, num_samples=num_samples),
        name=f"ptbxl{sampling_rate}",
        settings={"root": os.path.abspath(root), "vocabulary": list(codes), "min_likelihood": min_likelihood},
        cache_dir=cache_dir,
        num_workers=num_workers,
        chunk_size=chunk_size,
        progress=progress,
    )


def load_ptbxl(root: str | os.PathLike, **kwargs):
    """PTB-XL as a ``datasets.DatasetDict``; same arguments as :func:`convert_ptbxl`.

    Rejected records (missing or corrupt files...) are left out with a warning naming the
    report file.
    """
    return convert_ptbxl(root, **kwargs).dataset


def stream_ptbxl(
    root: str | os.PathLike,
    sampling_rate: int = 100,
    vocabulary: str | Sequence[str] = "all",
    min_likelihood: float = 0.0,
    splits: Optional[Sequence[str]] = None,
    limit: Optional[int] = None,
    drop_unlabeled: bool = False,
):
    """PTB-XL as a ``datasets.IterableDatasetDict`` that reads WFDB lazily (no cache, no
    conversion step); rejected records are logged and skipped.  The record list is sharded
    across ``DataLoader`` workers."""
    from datasets import IterableDataset, IterableDatasetDict

    codes = get_vocabulary(vocabulary)
    items = ptbxl_items(root, sampling_rate, codes, min_likelihood, splits, limit, drop_unlabeled)
    num_samples = RECORD_SECONDS * sampling_rate
    features = ptbxl_features(codes, num_samples)
    spec = WindowSpec(sampling_rate=sampling_rate, num_samples=num_samples)
    return IterableDatasetDict(
        {
            split: IterableDataset.from_generator(
                iter_examples, features=features, gen_kwargs={"items": split_items, "spec": spec}
            )
            for split, split_items in items.items()
            if split_items
        }
    )
