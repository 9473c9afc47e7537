"""Statement labels of ECG records: parsing and mapping onto a vocabulary.

PTB-XL stores each record's statements in ``scp_codes`` as a Python dict literal,
``"{'NORM': 80.0, 'SBRAD': 0.0}"``: statement code -> likelihood in percent (0 means
"likelihood not stated", which PTB-XL uses for most rhythm statements).  Other collections
list plain codes (``"NORM;SR"``).  This module turns either into the list of codes of a
vocabulary from :mod:`sssd_hf.vocabulary`, mapping statements to their diagnostic subclass or
superclass when the vocabulary is made of those.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Dict, List, Mapping, Sequence, Union

from ..vocabulary import STATEMENTS_BY_CODE

#: Separators accepted between codes in a plain label cell (codes never contain them).
_CODE_SEPARATORS = re.compile(r"[,;|\s]+")

LabelCell = Union[str, Mapping[str, float], Sequence[str], None]


def parse_scp_codes(text: str) -> Dict[str, float]:
    """Parse a PTB-XL ``scp_codes`` cell into ``{code: likelihood}`` without evaluating code.

    Uses :func:`ast.literal_eval`, which accepts only Python literals.  Raises ``ValueError``
    when the cell is not a dict of string codes to numbers.
    """
    try:
        value = ast.literal_eval(str(text).strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"scp_codes {text!r} is not a Python dict literal ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise ValueError(f"scp_codes {text!r} is a {type(value).__name__}, expected a dict of code -> likelihood")
    parsed = {}
    for code, likelihood in value.items():
        if not isinstance(code, str) or isinstance(likelihood, bool) or not isinstance(likelihood, (int, float)):
            raise ValueError(f"scp_codes {text!r}: entry {code!r}: {likelihood!r} is not a code -> number pair")
        if not math.isfinite(likelihood):
            raise ValueError(f"scp_codes {text!r}: likelihood of {code!r} is not finite")
        parsed[code] = float(likelihood)
    return parsed


def parse_label_cell(cell: LabelCell) -> Dict[str, float]:
    """Parse one label cell into ``{code: likelihood}`` (100.0 where no likelihood is given).

    Accepts a PTB-XL dict literal (``"{'NORM': 80.0}"``), a list literal (``"['NORM', 'SR']"``),
    codes separated by ``,``, ``;``, ``|`` or spaces (``"NORM;SR"``), an empty cell, or the same
    as Python objects.  Codes are upper-cased (``"norm"`` -> ``"NORM"``).
    """
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return {}
    if isinstance(cell, Mapping):
        return {str(code).strip().upper(): float(v) for code, v in cell.items()}
    if not isinstance(cell, str):
        return {str(code).strip().upper(): 100.0 for code in cell}
    text = cell.strip()
    if not text:
        return {}
    if text.startswith("{"):
        return {code.strip().upper(): v for code, v in parse_scp_codes(text).items()}
    if text.startswith("["):
        try:
            items = ast.literal_eval(text)
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"label cell {cell!r} is not a list literal ({type(exc).__name__})") from None
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ValueError(f"label cell {cell!r} must list statement codes as strings")
        return {code.strip().upper(): 100.0 for code in items}
    return {code.upper(): 100.0 for code in _CODE_SEPARATORS.split(text) if code}


def map_to_vocabulary(
    statements: Mapping[str, float], vocabulary: Sequence[str], min_likelihood: float = 0.0
) -> List[str]:
    """Codes of ``vocabulary`` (in vocabulary order) that ``statements`` express.

    Args:
        statements: ``{code: likelihood}`` as returned by :func:`parse_scp_codes`.
        vocabulary: ordered codes (statements, diagnostic subclasses and/or superclasses), e.g.
            from :func:`sssd_hf.vocabulary.get_vocabulary`.
        min_likelihood: statements whose likelihood is below this are ignored (0 keeps all).

    A statement counts for itself when it is in the vocabulary, otherwise for its diagnostic
    subclass (``"IMI"`` for ``"ILMI"``) or superclass (``"MI"``) when those are.  Statements
    outside the vocabulary are dropped.  Raises ``ValueError`` naming a code that is neither a
    PTB-XL statement nor a vocabulary entry.
    """
    wanted = set(vocabulary)
    found = set()
    for code, likelihood in statements.items():
        if likelihood < min_likelihood:
            continue
        if code in wanted:
            found.add(code)
            continue
        statement = STATEMENTS_BY_CODE.get(code)
        if statement is None:
            raise ValueError(f"Unknown ECG statement code {code!r}: not one of PTB-XL's 71 statements")
        found.update(c for c in (statement.diagnostic_subclass, statement.diagnostic_class) if c in wanted)
    return [code for code in vocabulary if code in found]
