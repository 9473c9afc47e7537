"""The pipeline bundled with the package (a demonstration model; see its README.md)."""

from __future__ import annotations

import os
from typing import Optional

#: Folder of the bundled pipeline inside the installed package.
DEFAULT_PIPELINE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "default_pipeline")


def default_pipeline_path() -> Optional[str]:
    """The bundled pipeline folder, or ``None`` if this installation has none (no model_index.json).

    It holds a small SSSD-ECG-nle trained on simulated ECGs (statements SBRAD, SR, STACH): a
    demonstration that needs no download, not a model for research or clinical use."""
    if os.path.isfile(os.path.join(DEFAULT_PIPELINE_DIR, "model_index.json")):
        return DEFAULT_PIPELINE_DIR
    return None
