"""Per-ECG seeds: the noise of ECG ``index`` in a run with ``seed`` depends on those two numbers alone.

Both ``sssd-ecg generate`` (index = the ECG's number in the run) and the synthetic dataset
builder (index = the PTB-XL ``ecg_id`` it mirrors) draw each ECG's noise from its own
generator, so an ECG does not change with the batch size and an interrupted run can be
continued exactly from any ECG.
"""

from __future__ import annotations

from typing import Iterable, List

import numpy as np


def ecg_seed(seed: int, index: int) -> int:
    """A well-mixed 63-bit seed for ECG ``index`` of a run with ``seed`` (both non-negative ints)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def ecg_generators(seed: int, indices: Iterable[int]) -> List["torch.Generator"]:  # noqa: F821
    """One CPU ``torch.Generator`` per ECG index, seeded with :func:`ecg_seed`."""
    import torch

    return [torch.Generator(device="cpu").manual_seed(ecg_seed(seed, i)) for i in indices]
