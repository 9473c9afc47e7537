"""The pipeline bundled with the package (SSSD-ECG-nle trained on a PTB-XL slice; see its README.md)."""

from __future__ import annotations

import os
from typing import Optional

#: Folder of the bundled pipeline inside the installed package.
DEFAULT_PIPELINE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "default_pipeline")


def default_pipeline_path() -> Optional[str]:
    """The bundled pipeline folder, or ``None`` if this installation has none (no model_index.json).

    It holds a small SSSD-ECG-nle (965,092 parameters, 27 PTB-XL statements, guidance 3 by default)
    trained on 1,499 real PTB-XL records, so ``sssd-ecg generate`` and the Space need no download.
    Its model card gives its measured fidelity and limits; not for clinical use."""
    if os.path.isfile(os.path.join(DEFAULT_PIPELINE_DIR, "model_index.json")):
        return DEFAULT_PIPELINE_DIR
    return None
