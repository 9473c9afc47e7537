"""The logic of the SSSD-ECG generation app (the Gradio Space in ``space/app.py``), without Gradio.

- :mod:`~sssd_hf.app.model`: which pipeline is served (``--model``, ``$SSSD_ECG_MODEL``, else the
  bundled default of :func:`sssd_hf.defaults.default_pipeline_path`) and loading it once;
- :mod:`~sssd_hf.app.statements`: the statements the loaded model knows, grouped rhythm / form /
  diagnostic, and presets built from them;
- :mod:`~sssd_hf.app.requests`: validating a visitor's request before any work;
- :mod:`~sssd_hf.app.generation`: sampling, drawing and writing the downloads.

Samplers come from :mod:`sssd_hf.schedulers.samplers` and download formats from
:data:`sssd_hf.export.EXPORT_FORMATS`, the same tables the command line uses.
"""

from .errors import MAX_ECHO_CHARS, ModelUnavailable, RequestError, shorten
from .generation import OUTPUT_ROOT, GenerationResult, generate_ecgs, prune_outputs, with_scheduler
from .model import MODEL_ENV, ModelInfo, ModelStore, load_pipeline, model_info, resolve_model_source
from .requests import (
    MAX_ECGS,
    MAX_GUIDANCE,
    MAX_SEED,
    GenerationRequest,
    default_steps,
    download_formats,
    format_label,
    merge_groups,
    validate_request,
)
from .statements import (
    GROUP_TITLES,
    GROUPS,
    apply_preset,
    presets,
    statement_choices,
    statement_group,
    statement_label,
)

__all__ = [
    "MAX_ECHO_CHARS", "ModelUnavailable", "RequestError", "shorten",
    "OUTPUT_ROOT", "GenerationResult", "generate_ecgs", "prune_outputs", "with_scheduler",
    "MODEL_ENV", "ModelInfo", "ModelStore", "load_pipeline", "model_info", "resolve_model_source",
    "MAX_ECGS", "MAX_GUIDANCE", "MAX_SEED", "GenerationRequest", "default_steps", "download_formats",
    "format_label", "merge_groups", "validate_request",
    "GROUP_TITLES", "GROUPS", "apply_preset", "presets", "statement_choices", "statement_group", "statement_label",
]
