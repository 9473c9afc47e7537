"""``datasets`` feature types shared by every ECG dataset sssd-hf reads or writes."""

from __future__ import annotations

from typing import Sequence

from datasets import Array2D, ClassLabel
from datasets import Sequence as SequenceFeature

from ..leads import STANDARD_LEADS

#: PTB-XL codes sex as 0 = male, 1 = female; the ClassLabel keeps those integers.
SEX_FEATURE = ClassLabel(names=["male", "female"])


def signal_feature(num_samples: int) -> Array2D:
    """A ``(12, num_samples)`` float32 array in millivolts, leads in :data:`STANDARD_LEADS` order."""
    if int(num_samples) <= 0:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    return Array2D(shape=(len(STANDARD_LEADS), int(num_samples)), dtype="float32")


def labels_feature(vocabulary: Sequence[str]) -> SequenceFeature:
    """A variable-length list of statement codes, stored as indices into ``vocabulary``."""
    return SequenceFeature(ClassLabel(names=list(vocabulary)))
