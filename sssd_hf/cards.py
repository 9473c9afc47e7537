"""Model and dataset cards: one templating approach for both.

Cards are Jinja templates in ``sssd_hf/templates/`` (installed as package data), rendered by
``huggingface_hub``'s ``ModelCard.from_template`` / ``DatasetCard.from_template`` with the YAML
metadata built as ``ModelCardData`` / ``DatasetCardData``.  Every variable a template uses must
be given (checked before rendering, naming the missing ones), and the result is parsed back as a
card, so a broken header fails here rather than on the Hub.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Union

#: Folder of the card templates (package data: ``"sssd_hf" = ["templates/*", ...]``).
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
MODEL_CARD_TEMPLATE = TEMPLATE_DIR / "model_card.md"
DATASET_CARD_TEMPLATE = TEMPLATE_DIR / "dataset_card.md"


def missing_template_variables(template_text: str, variables: Mapping) -> list:
    """Names the template uses that are neither in ``variables`` nor ``card_data``, sorted."""
    import jinja2
    import jinja2.meta

    used = jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(template_text))
    return sorted(used - {"card_data"} - set(variables))


def render_card(card_class, card_data, template_path: Union[str, os.PathLike], variables: Mapping) -> str:
    """The text of ``card_class.from_template(card_data, template_path, **variables)``.

    Raises ``FileNotFoundError`` for a missing template and ``ValueError`` naming the template
    variables that ``variables`` lacks."""
    path = Path(template_path)
    if not path.is_file():
        raise FileNotFoundError(f"Card template not found: {path}")
    missing = missing_template_variables(path.read_text(encoding="utf-8"), variables)
    if missing:
        raise ValueError(f"Card template {path.name} needs variable(s) {missing} that were not given")
    card = card_class.from_template(card_data, template_path=str(path), **variables)
    text = str(card)
    return text if text.endswith("\n") else text + "\n"  # jinja drops the template's final newline
