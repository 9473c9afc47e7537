"""Training data: ``datasets`` splits as batches of generated leads and multi-hot statements,
in an order that is a pure function of ``(seed, micro-step)``.

Data order
    Every epoch is a fresh permutation of the split drawn from ``(seed, epoch)``.  It is cut into
    global batches of ``batch_size * num_processes`` records (the incomplete tail is dropped), and
    rank ``r`` takes the ``r``-th slice of ``batch_size`` records of each global batch, so the
    ranks see disjoint shards of every epoch.  Micro-step ``s`` (one forward/backward of one batch
    on every rank) reads global batch ``s % batches_per_epoch`` of epoch ``s // batches_per_epoch``.
    A checkpoint therefore pins the data order down by its step count alone, and a resumed run
    reads exactly the batches the uninterrupted run would have read.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from ..leads import STANDARD_LEADS, select_leads

logger = logging.getLogger(__name__)


def load_ecg_dataset(path: str, sampling_rate: Optional[int] = None, splits: Optional[Sequence[str]] = None):
    """A ``datasets.DatasetDict`` from a ``save_to_disk`` folder, or a PTB-XL folder converted with
    :func:`sssd_hf.data.load_ptbxl` (all 71 statements).

    Args:
        path: the folder.
        sampling_rate: Hz; for a PTB-XL folder which copy to read (100: ``records100/``, default;
            500: ``records500/``).  Records without a file at that rate are left out (listed in
            the conversion's ``rejected.csv``).  A ``DatasetDict`` does not record its rate, so
            it is not checked there.
        splits: for a PTB-XL folder, convert only these splits (``train``, ``validation``, ``test``).
    """
    from datasets import DatasetDict, load_from_disk

    if not os.path.exists(path):
        raise FileNotFoundError(f"Dataset not found: {path}")
    if os.path.isfile(os.path.join(path, "dataset_dict.json")):
        dataset = load_from_disk(path)
    elif os.path.isfile(os.path.join(path, "ptbxl_database.csv")):
        from ..data import load_ptbxl

        rate = sampling_rate or 100
        dataset = load_ptbxl(path, sampling_rate=rate, vocabulary="all", splits=list(splits) if splits else None)
        empty = [name for name, split in dataset.items() if len(split) == 0]
        if empty:
            logger.warning("PTB-XL folder %s has no %d Hz records in split(s) %s", path, rate, empty)
    else:
        raise FileNotFoundError(
            f"{path} is neither a DatasetDict saved with save_to_disk (no dataset_dict.json) nor a PTB-XL "
            "folder (no ptbxl_database.csv)"
        )
    if not isinstance(dataset, DatasetDict):
        raise ValueError(f"{path} holds a single Dataset; training needs a DatasetDict with named splits")
    return dataset


def crop_offsets(
    record_length: int, window: int, crop: str, count: int, rng: Optional[np.random.Generator] = None
) -> np.ndarray:
    """Start samples ``(count,)`` of ``window``-sample windows in records of ``record_length`` samples.

    ``crop``: ``start`` (0), ``center`` or ``random`` (uniform over all starts, drawn from ``rng``).
    """
    room = record_length - window
    if room < 0:
        raise ValueError(f"A {window}-sample window does not fit in records of {record_length} samples")
    if crop == "start" or room == 0:
        return np.zeros(count, dtype=np.int64)
    if crop == "center":
        return np.full(count, room // 2, dtype=np.int64)
    if crop == "random":
        if rng is None:
            raise ValueError("crop='random' needs a random generator")
        return rng.integers(0, room + 1, size=count, dtype=np.int64)
    raise ValueError(f"Unknown crop {crop!r}; use start, center or random")


def dataset_vocabulary(split) -> List[str]:
    """Statement codes named by the split's ``labels`` feature (a sequence of ``ClassLabel``)."""
    feature = split.features.get("labels")
    inner = getattr(feature, "feature", None)
    names = getattr(inner, "names", None)
    if names is None:
        raise ValueError(f"The dataset's 'labels' feature must be a sequence of ClassLabel, got {feature!r}")
    return list(names)


class ECGSplit:
    """One split prepared for training: generated leads and multi-hot statements by index.

    Args:
        split: a ``datasets.Dataset`` with ``signal`` ``(12, L)`` float32 mV (standard lead order)
            and ``labels`` (statement indices); ``sex`` is read when ``use_sex``.
        generated_leads: the leads the model generates (``G`` names).
        label_names: the model's statement vocabulary (``K`` codes); ``None`` for unconditional.
        use_sex: also return ``sex``; records with unknown sex are left out.
        limit: keep only the first ``limit`` records.
        window: samples per training ECG (default: the records' length ``L``); shorter windows
            are cut from each record as ``crop`` says (see :func:`crop_offsets`).
        crop: ``start``, ``center`` or ``random``.
        name: the split's name, for error messages.
    """

    def __init__(
        self,
        split,
        generated_leads: Sequence[str],
        label_names: Optional[Sequence[str]],
        use_sex: bool = False,
        limit: Optional[int] = None,
        window: Optional[int] = None,
        crop: str = "start",
        name: str = "train",
    ):
        missing = [c for c in ("signal", "labels") if c not in split.column_names]
        if missing:
            raise ValueError(f"The dataset lacks column(s) {missing}; it has {split.column_names}")
        shape = getattr(split.features["signal"], "shape", None)
        if shape is None or len(shape) != 2 or shape[0] != len(STANDARD_LEADS):
            raise ValueError(
                f"'signal' must be a (12, L) array feature in standard lead order, got {split.features['signal']!r}"
            )
        self.record_length = int(shape[1])
        self.sample_length = self.record_length if window is None else int(window)
        self.crop = crop
        crop_offsets(self.record_length, self.sample_length, crop, 0, np.random.default_rng(0))  # checks fit and crop
        self.generated_leads = list(generated_leads)
        select_leads(np.zeros((len(STANDARD_LEADS), 1)), STANDARD_LEADS, self.generated_leads)  # names check
        self.label_names = list(label_names) if label_names else None
        self.label_map = self._label_map(dataset_vocabulary(split)) if self.label_names else None
        self.use_sex = use_sex
        if use_sex:
            if "sex" not in split.column_names:
                raise ValueError("The model is conditioned on sex but the dataset has no 'sex' column")
            keep = [i for i, s in enumerate(split["sex"]) if s is not None]
            if len(keep) < len(split):
                logger.warning("left out %d records with unknown sex", len(split) - len(keep))
                split = split.select(keep)
        if limit is not None:
            split = split.select(range(min(limit, len(split))))
        if len(split) == 0:
            raise ValueError(
                f"The {name!r} split has no records (for validation, --validation_split null disables it)"
            )
        columns = (
            ["signal", "labels"]
            + (["sex"] if use_sex else [])
            + (["ecg_id"] if "ecg_id" in split.column_names else [])
        )
        self.split = split.with_format("numpy", columns=columns)

    def _label_map(self, dataset_codes: List[str]) -> np.ndarray:
        """Dataset label index -> model label index (-1: a statement the model does not use)."""
        missing = [c for c in self.label_names if c not in dataset_codes]
        if missing:
            raise ValueError(
                f"Statement(s) {missing} of the model are not in the dataset's vocabulary "
                f"({', '.join(dataset_codes)}); rebuild the dataset with them or change model.label_names"
            )
        index = {c: i for i, c in enumerate(self.label_names)}
        return np.array([index.get(c, -1) for c in dataset_codes], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.split)

    def fixed_starts(self, indices: Sequence[int], seed: int) -> np.ndarray:
        """Window offsets that depend only on ``(seed, record index)`` (validation)."""
        length, window = self.record_length, self.sample_length
        starts = [
            crop_offsets(length, window, self.crop, 1, np.random.default_rng([seed, int(i), 4])) for i in indices
        ]
        return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)

    def batch(
        self, indices: Sequence[int], rng: Optional[np.random.Generator] = None, starts: Optional[np.ndarray] = None
    ) -> Dict[str, torch.Tensor]:
        """Records ``indices`` as tensors: ``signal`` ``(B, G, window)`` float32 mV, ``labels`` ``(B, K)``
        float multi-hot (absent for unconditional models), ``sex`` ``(B,)`` long, ``ecg_id`` ``(B,)``.

        Windows start at ``starts`` if given, else where ``crop`` says (``rng`` draws random crops)."""
        rows = self.split[list(map(int, indices))]
        signal = np.asarray(rows["signal"], dtype=np.float32)
        if self.sample_length != self.record_length:
            if starts is None:
                starts = crop_offsets(self.record_length, self.sample_length, self.crop, len(indices), rng)
            signal = np.stack([s[:, a : a + self.sample_length] for s, a in zip(signal, starts)])
        ids = np.asarray(rows["ecg_id"]) if "ecg_id" in rows else np.asarray(indices)
        bad = ~np.isfinite(signal).all(axis=(1, 2))
        if bad.any():
            raise ValueError(
                f"ECG(s) with ecg_id {ids[bad].tolist()} contain NaN or infinite samples; clean the dataset"
            )
        out = {
            "signal": torch.from_numpy(
                np.ascontiguousarray(select_leads(signal, STANDARD_LEADS, self.generated_leads))
            ),
            "ecg_id": torch.from_numpy(ids.astype(np.int64)),
        }
        if self.label_map is not None:
            multi_hot = np.zeros((len(indices), len(self.label_names)), dtype=np.float32)
            for row, codes in enumerate(rows["labels"]):
                mapped = self.label_map[np.asarray(codes, dtype=np.int64)]
                multi_hot[row, mapped[mapped >= 0]] = 1.0
            out["labels"] = torch.from_numpy(multi_hot)
        if self.use_sex:
            out["sex"] = torch.from_numpy(np.asarray(rows["sex"], dtype=np.int64))
        return out


@dataclass(frozen=True)
class ShardedEpochOrder:
    """The data order of a run (see the module docstring).

    Args:
        num_records: records in the split.
        batch_size: records per rank and micro-step.
        num_processes, rank: data-parallel layout.
        seed: run seed.
    """

    num_records: int
    batch_size: int
    num_processes: int = 1
    rank: int = 0
    seed: int = 0

    def __post_init__(self):
        if not 0 <= self.rank < self.num_processes:
            raise ValueError(f"rank {self.rank} is outside 0..{self.num_processes - 1}")
        if self.batches_per_epoch < 1:
            raise ValueError(
                f"The training split has {self.num_records} records, fewer than one global batch of "
                f"{self.batch_size} x {self.num_processes} processes; lower batch_size"
            )

    @property
    def batches_per_epoch(self) -> int:
        return self.num_records // (self.batch_size * self.num_processes)

    def epoch_permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_records)

    def position(self, micro_step: int):
        """``(epoch, batch index within the epoch)`` of a micro-step."""
        return divmod(micro_step, self.batches_per_epoch)

    def indices(self, micro_step: int) -> np.ndarray:
        """This rank's ``batch_size`` record indices for ``micro_step``."""
        epoch, batch = self.position(micro_step)
        global_size = self.batch_size * self.num_processes
        start = batch * global_size + self.rank * self.batch_size
        return self.epoch_permutation(epoch)[start : start + self.batch_size]


class _MicroBatches(torch.utils.data.Dataset):
    """Map-style view ``micro_step -> batch`` so a DataLoader can prefetch with workers."""

    def __init__(self, data: ECGSplit, order: ShardedEpochOrder):
        self.data, self.order = data, order

    def __len__(self) -> int:  # not used for sampling; the loader is given explicit micro-steps
        return 2**62

    def __getitem__(self, micro_step: int) -> Dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.order.seed, self.order.rank, micro_step, 3])  # random crops
        batch = self.data.batch(self.order.indices(micro_step), rng)
        batch["micro_step"] = torch.tensor(micro_step)
        return batch


def micro_batch_loader(data: ECGSplit, order: ShardedEpochOrder, start: int, stop: int, num_workers: int = 0):
    """Batches for micro-steps ``start .. stop - 1`` in order (prefetched by ``num_workers``)."""
    return torch.utils.data.DataLoader(
        _MicroBatches(data, order),
        batch_size=None,
        sampler=range(start, stop),
        num_workers=num_workers,
        persistent_workers=False,
    )
