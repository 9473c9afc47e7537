"""The statements a loaded model knows, grouped for display, and presets built from them.

Everything here is derived from the model's ``label_names`` (its ``config.label_names``) and
PTB-XL's statement table in :mod:`sssd_hf.vocabulary`: nothing lists codes of a particular model,
so a model retrained on another vocabulary gets matching choices and presets.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from ..vocabulary import STATEMENTS_BY_CODE, describe
from .errors import RequestError, shorten

GROUPS = ("rhythm", "form", "diagnostic")
GROUP_TITLES = {"rhythm": "Rhythm", "form": "Form", "diagnostic": "Diagnostic"}
#: PTB-XL's diagnostic superclasses (models may be conditioned on them instead of statements).
SUPERCLASS_DESCRIPTIONS = {
    "CD": "conduction disturbance",
    "HYP": "hypertrophy",
    "MI": "myocardial infarction",
    "NORM": "normal ECG",
    "STTC": "ST/T change",
}
#: The rhythm that a preset of a non-rhythm statement is paired with, when the model knows it.
COMPANION_RHYTHM = "SR"


def statement_group(code: str) -> str:
    """``"rhythm"``, ``"form"`` or ``"diagnostic"`` (classes that are not statements count as diagnostic)."""
    statement = STATEMENTS_BY_CODE.get(code)
    return statement.group if statement else "diagnostic"


def statement_description(code: str) -> str:
    """PTB-XL's description (``"atrial fibrillation"``); the code itself when it is unknown."""
    statement = STATEMENTS_BY_CODE.get(code)
    if statement:
        return statement.description
    return SUPERCLASS_DESCRIPTIONS.get(code, code)


def statement_label(code: str) -> str:
    """``"AFIB - atrial fibrillation"``; superclasses get PTB-XL's class names."""
    if code not in STATEMENTS_BY_CODE and code in SUPERCLASS_DESCRIPTIONS:
        return f"{code} - {SUPERCLASS_DESCRIPTIONS[code]}"
    return describe(code)


def statement_choices(label_names: Sequence[str]) -> Dict[str, List[Tuple[str, str]]]:
    """``{group: [(label, code), ...]}`` for every code in ``label_names``, sorted by code within a group."""
    choices: Dict[str, List[Tuple[str, str]]] = {g: [] for g in GROUPS}
    for code in sorted(label_names):
        choices[statement_group(code)].append((statement_label(code), code))
    return choices


def presets(label_names: Sequence[str]) -> List[Tuple[str, Tuple[str, ...]]]:
    """Example selections, ``[(name, codes), ...]``, one per statement the model knows.

    A rhythm statement stands alone (``"Atrial fibrillation"``: AFIB); any other statement is
    paired with sinus rhythm when the model knows ``SR`` (``"Inferior myocardial infarction,
    sinus rhythm"``: IMI, SR), as most PTB-XL records are.  Order: ``NORM`` first, then rhythm,
    form and diagnostic statements, each by code."""
    known = set(label_names)
    order = {g: i for i, g in enumerate(GROUPS)}
    ranked = sorted(known, key=lambda c: (c != "NORM", order[statement_group(c)], c))
    result = []
    for code in ranked:
        name = statement_description(code)
        name = name[:1].upper() + name[1:]
        codes: Tuple[str, ...] = (code,)
        if statement_group(code) != "rhythm" and COMPANION_RHYTHM in known:
            codes = (code, COMPANION_RHYTHM)
            name += f", {statement_description(COMPANION_RHYTHM)}"
        result.append((name, codes))
    return result


def apply_preset(name: str, label_names: Sequence[str]) -> Dict[str, List[str]]:
    """The selection of preset ``name`` as ``{group: [codes]}`` (every group present).

    Raises :class:`RequestError` for a preset this model does not offer."""
    offered = dict(presets(label_names))
    if not isinstance(name, str) or name not in offered:
        raise RequestError(f"Unknown preset {shorten(name)}; available: {', '.join(offered) or 'none'}")
    selected: Dict[str, List[str]] = {g: [] for g in GROUPS}
    for code in offered[name]:
        selected[statement_group(code)].append(code)
    return selected
