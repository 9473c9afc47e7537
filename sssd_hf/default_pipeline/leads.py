"""ECG lead names and the derivation of the 12 standard leads from 8 independent ones.

The six limb leads span a two-dimensional space (the frontal plane): any two of them that are
not multiples of each other determine the other four through Einthoven's law
(``III = II - I``) and Goldberger's augmented leads
(``aVR = -(I + II) / 2``, ``aVL = I - II / 2``, ``aVF = II - I / 2``).
Diffusion models therefore generate 8 leads (two limb leads and V1-V6) and derive the rest:
SSSD-ECG-nle generates I, aVF, V1-V6; the SSSD-ECG paper describes I, II, V1-V6 (its code
stores I, V1-V6, aVF).  :func:`derive_twelve_leads` handles any such layout.

This module depends only on NumPy/PyTorch so that it can travel with a Hub repository's code.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
import torch

#: The 12 standard leads in PTB-XL order; every 12-lead array in sssd-hf uses this order.
STANDARD_LEADS: Tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
LIMB_LEADS: Tuple[str, ...] = STANDARD_LEADS[:6]
CHEST_LEADS: Tuple[str, ...] = STANDARD_LEADS[6:]

#: Each limb lead as (coefficient of lead I, coefficient of lead II).
_LIMB_IN_I_II: Dict[str, Tuple[float, float]] = {
    "I": (1.0, 0.0),
    "II": (0.0, 1.0),
    "III": (-1.0, 1.0),  # Einthoven: III = II - I
    "aVR": (-0.5, -0.5),  # Goldberger: aVR = -(I + II) / 2
    "aVL": (1.0, -0.5),  # Goldberger: aVL = (I - III) / 2 = I - II / 2
    "aVF": (-0.5, 1.0),  # Goldberger: aVF = (II + III) / 2 = II - I / 2
}

_CANONICAL = {name.lower(): name for name in STANDARD_LEADS}

ArrayLike = Union[np.ndarray, torch.Tensor]


def canonical_lead_name(name: str) -> str:
    """Map any capitalisation of a standard lead name (``"avr"``, ``"AVR"``, ``"MLII"`` is not
    one) to its standard spelling (``"aVR"``); raise ``ValueError`` for anything else."""
    key = str(name).strip().lower()
    if key not in _CANONICAL:
        raise ValueError(f"{name!r} is not one of the 12 standard ECG leads {list(STANDARD_LEADS)}")
    return _CANONICAL[key]


def validate_generated_leads(generated_leads: Sequence[str]) -> List[str]:
    """Check that ``generated_leads`` is either the 12 standard leads, or two independent limb
    leads plus V1-V6 (any order).  Returns the canonical spellings."""
    leads = [canonical_lead_name(n) for n in generated_leads]
    if len(set(leads)) != len(leads):
        raise ValueError(f"generated_leads has duplicates: {list(generated_leads)}")
    if set(leads) == set(STANDARD_LEADS):
        return leads
    limb = [n for n in leads if n in LIMB_LEADS]
    chest = [n for n in leads if n in CHEST_LEADS]
    if len(limb) != 2 or set(chest) != set(CHEST_LEADS):
        raise ValueError(
            "generated_leads must be the 12 standard leads, or two limb leads plus V1-V6; "
            f"got {list(generated_leads)}"
        )
    if abs(np.linalg.det(_limb_matrix(limb))) < 1e-9:
        raise ValueError(f"Limb leads {limb} are not independent; the other limb leads cannot be derived")
    return leads


def _limb_matrix(limb: Sequence[str]) -> np.ndarray:
    return np.array([_LIMB_IN_I_II[n] for n in limb], dtype=np.float64)  # (2, 2): rows = given leads


def derivation_matrix(generated_leads: Sequence[str]) -> np.ndarray:
    """The (12, G) matrix M with ``twelve = M @ generated`` for the given lead layout."""
    leads = validate_generated_leads(generated_leads)
    matrix = np.zeros((len(STANDARD_LEADS), len(leads)), dtype=np.float64)
    if len(leads) == len(STANDARD_LEADS):
        for j, name in enumerate(leads):
            matrix[STANDARD_LEADS.index(name), j] = 1.0
        return matrix
    limb_idx = [j for j, n in enumerate(leads) if n in LIMB_LEADS]
    # (I, II) = inv(A) @ (given limb leads); every limb lead = its (I, II) row @ that.
    to_i_ii = np.linalg.inv(_limb_matrix([leads[j] for j in limb_idx]))  # (2, 2)
    for i, name in enumerate(LIMB_LEADS):
        matrix[i, limb_idx] = np.array(_LIMB_IN_I_II[name]) @ to_i_ii
    for j, name in enumerate(leads):
        if name in CHEST_LEADS:
            matrix[STANDARD_LEADS.index(name), j] = 1.0
    return matrix


def derive_twelve_leads(signals: ArrayLike, generated_leads: Sequence[str]) -> ArrayLike:
    """Return the 12 standard leads (in :data:`STANDARD_LEADS` order) from generated ones.

    Args:
        signals: array or tensor of shape ``(..., G, L)``: ``G`` generated leads in the order
            ``generated_leads``, ``L`` samples, any unit (the output keeps it, e.g. mV).
        generated_leads: names of the ``G`` leads, e.g. ``["I", "aVF", "V1", ..., "V6"]``.

    Returns:
        Same type as ``signals``, shape ``(..., 12, L)``.
    """
    matrix = derivation_matrix(generated_leads)
    if signals.shape[-2] != matrix.shape[1]:
        raise ValueError(
            f"signals have {signals.shape[-2]} leads on axis -2, but generated_leads names {matrix.shape[1]}"
        )
    if isinstance(signals, torch.Tensor):
        m = torch.as_tensor(matrix, dtype=signals.dtype, device=signals.device)
        return torch.einsum("tg,...gl->...tl", m, signals)
    return np.einsum("tg,...gl->...tl", matrix.astype(signals.dtype, copy=False), signals)


def select_leads(signals: ArrayLike, lead_names: Sequence[str], wanted: Sequence[str]) -> ArrayLike:
    """Pick ``wanted`` leads (any capitalisation) from ``signals`` of shape ``(..., C, L)`` whose
    axis -2 is named by ``lead_names``.  Raises ``ValueError`` naming a missing lead."""
    index = {canonical_lead_name(n) if n.lower() in _CANONICAL else n: i for i, n in enumerate(lead_names)}
    rows = []
    for name in wanted:
        key = canonical_lead_name(name)
        if key not in index:
            raise ValueError(f"Lead {key} is missing; available leads: {list(lead_names)}")
        rows.append(index[key])
    return signals[..., rows, :]
