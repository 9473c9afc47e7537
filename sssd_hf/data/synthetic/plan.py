"""Plan a synthetic build: which ECGs to generate, with which statements, in which fold."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ...vocabulary import validate_codes
from ..features import labels_feature, signal_feature
from ..labels import map_to_vocabulary
from ..ptbxl_layout import FOLD_SPLITS, database_path, read_database, split_of_fold

SPLIT_ORDER = tuple(FOLD_SPLITS)  # train, validation, test


@dataclass(frozen=True)
class PlannedECG:
    """One synthetic ECG to generate.

    Attributes:
        ecg_id: id of the synthetic ECG (1-based, in plan order).
        source_ecg_id: ``ecg_id`` of the real record it copies statements and fold from.
        copy: 0, or 1, 2, ... for extra copies made by oversampling.
        strat_fold: the source record's fold (1-10).
        labels: statement codes (model vocabulary order) it is conditioned on.
    """

    ecg_id: int
    source_ecg_id: int
    copy: int
    strat_fold: int
    labels: Tuple[str, ...]

    @property
    def split(self) -> str:
        return split_of_fold(self.strat_fold)


@dataclass
class Selection:
    """Which records of the source to copy and how often (the build options)."""

    splits: Optional[Sequence[str]] = None
    subset: Optional[Sequence[str]] = None
    per_statement: Optional[int] = None
    limit: Optional[int] = None
    oversample: Mapping[str, int] = field(default_factory=dict)
    min_likelihood: float = 0.0


def parse_oversample(specs: Sequence[str]) -> Dict[str, int]:
    """``["AFIB=5", "PACE=2"]`` -> ``{"AFIB": 5, "PACE": 2}``; ``ValueError`` on bad syntax."""
    factors = {}
    for spec in specs or ():
        code, sep, factor = str(spec).partition("=")
        try:
            value = int(factor)
        except ValueError:
            value = 0
        if not sep or not code.strip() or value < 1:
            raise ValueError(f"--oversample expects CODE=FACTOR with an integer FACTOR >= 1, got {spec!r}")
        factors[code.strip()] = value
    return factors


def plan_synthetic(
    like: str | os.PathLike, label_names: Sequence[str], selection: Selection, seed: int = 0
) -> Tuple[List[PlannedECG], Dict]:
    """The ECGs to generate for the records of ``like`` (PTB-XL folder or metadata CSV).

    Records are mapped onto ``label_names``; records with no statement in it are skipped
    (counted in the returned stats).  Then, in this order: keep ``selection.splits``; keep
    records carrying any ``selection.subset`` statement; with ``per_statement=K`` keep, rarest
    statement first, random (seeded) records until every statement has at least
    ``min(K, available)`` of them (a record counts for each of its statements); keep the first
    ``limit``; and give a record carrying oversampled statements ``max(factor)`` copies.

    Returns ``(plan, stats)`` with stats ``{"source_rows", "skipped_unlabeled"}``.
    """
    label_names = list(label_names)
    for name, codes in (("--subset", selection.subset or ()), ("--oversample", list(selection.oversample))):
        try:
            validate_codes(codes, label_names)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc} (the model's vocabulary)") from None
    if selection.splits is not None:
        unknown = [s for s in selection.splits if s not in FOLD_SPLITS]
        if unknown:
            raise ValueError(f"Unknown split(s) {unknown}; choose from {list(FOLD_SPLITS)}")
    if selection.per_statement is not None and selection.per_statement < 1:
        raise ValueError(f"--per-statement must be >= 1, got {selection.per_statement}")
    if selection.limit is not None and selection.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {selection.limit}")

    frame = read_database(like)
    records = []  # (source_ecg_id, fold, labels)
    skipped = 0
    for ecg_id, fold, statements in zip(frame["ecg_id"], frame["strat_fold"], frame["statements"]):
        labels = tuple(map_to_vocabulary(statements, label_names, selection.min_likelihood))
        if not labels:
            skipped += 1
            continue
        if selection.splits is not None and split_of_fold(fold) not in selection.splits:
            continue
        if selection.subset and not set(labels) & set(selection.subset):
            continue
        records.append((int(ecg_id), int(fold), labels))
    if selection.per_statement is not None:
        records = _select_per_statement(records, label_names, selection.per_statement, seed)
    if selection.limit is not None:
        records = records[: selection.limit]
    plan = []
    for source_ecg_id, fold, labels in records:
        copies = max([selection.oversample.get(code, 1) for code in labels] + [1])
        for copy in range(copies):
            plan.append(PlannedECG(len(plan) + 1, source_ecg_id, copy, fold, labels))
    if not plan:
        raise ValueError(f"No record of {database_path(like)} is left to generate with these options "
                         f"({skipped} had no statement in the model's vocabulary)")
    return plan, {"source_rows": int(len(frame)), "skipped_unlabeled": skipped}


def _split_counts(plan: Sequence[PlannedECG]) -> Dict[str, int]:
    """Planned ECGs per split, in train/validation/test order (empty splits left out)."""
    counts = Counter(record.split for record in plan)
    return {split: counts[split] for split in SPLIT_ORDER if counts[split]}


def _select_per_statement(records, label_names, count: int, seed: int):
    """Records such that every statement has >= min(count, available) of them (rarest first)."""
    rng = np.random.default_rng(seed)
    carrying = {code: [i for i, r in enumerate(records) if code in r[2]] for code in label_names}
    chosen, counts = set(), Counter()
    for code in sorted(label_names, key=lambda c: (len(carrying[c]), c)):
        candidates = [i for i in carrying[code] if i not in chosen]
        need = min(count - counts[code], len(candidates))
        if need <= 0:
            continue
        for i in rng.choice(candidates, size=need, replace=False):
            chosen.add(int(i))
            counts.update(records[int(i)][2])
    return [r for i, r in enumerate(records) if i in chosen]


def synthetic_features(label_names: Sequence[str], num_samples: int):
    """Features of the published rows (see the dataset card)."""
    from datasets import Features, Value

    return Features(
        {
            "ecg_id": Value("int64"),
            "source_ecg_id": Value("int64"),
            "copy": Value("int64"),
            "strat_fold": Value("int64"),
            "labels": labels_feature(label_names),
            "signal": signal_feature(num_samples),
        }
    )
