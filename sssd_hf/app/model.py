"""Which pipeline the app serves, loading it once, and what the app needs to know about it."""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Any, Mapping, Optional, Tuple

from ..schedulers.samplers import DEFAULT_SAMPLER, pipeline_sampler
from .errors import ModelUnavailable

#: Environment variable naming the pipeline to serve (a folder or a Hub id).
MODEL_ENV = "SSSD_ECG_MODEL"


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the app needs to know about the loaded pipeline.

    Attributes:
        source: where the model came from (folder or Hub id), shown to visitors and recorded in downloads.
        label_names: the statement codes the model is conditioned on, in its order; empty if unconditional.
        supports_guidance: the model learned a null label, so classifier-free guidance works.
        num_train_timesteps: T of the noise schedule (the most denoising steps a request may ask for).
        sampling_rate: of the generated ECGs, Hz.
        default_guidance: the guidance weight the page starts at: the pipeline's
            ``default_guidance_scale`` (its ``default_guidance``), 1.0 (off) for a model without guidance.
        default_sampler: the sampler the page starts at: the pipeline's ``default_sampler`` (its
            ``default_sampler_name``), else ``ddpm``.
    """

    source: str
    label_names: Tuple[str, ...]
    supports_guidance: bool
    num_train_timesteps: int
    sampling_rate: float
    default_guidance: float = 1.0
    default_sampler: str = DEFAULT_SAMPLER

    @property
    def conditional(self) -> bool:
        return bool(self.label_names)


def model_info(pipe, source: str) -> ModelInfo:
    """:class:`ModelInfo` of a loaded pipeline, read from ``pipe.model.config`` and ``pipe.scheduler.config``."""
    config = pipe.model.config
    labels = tuple(str(c) for c in (config.label_names or ())) if getattr(config, "label_embedding", None) else ()
    supports_guidance = bool(getattr(config, "learn_null_label", False)) and bool(labels)
    return ModelInfo(
        source=str(source),
        label_names=labels,
        supports_guidance=supports_guidance,
        num_train_timesteps=int(pipe.scheduler.config.num_train_timesteps),
        sampling_rate=float(config.sampling_rate),
        default_guidance=float(getattr(pipe, "default_guidance", 1.0)) if supports_guidance else 1.0,
        default_sampler=pipeline_sampler(getattr(pipe.config, "default_sampler", None)),
    )


def resolve_model_source(explicit: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> str:
    """The pipeline to serve: ``explicit`` (``--model``), else ``$SSSD_ECG_MODEL``, else the bundled default.

    The bundled default is :func:`sssd_hf.defaults.default_pipeline_path`.  Raises
    :class:`ModelUnavailable` when none applies (an installation without the bundled folder)."""
    from ..defaults import default_pipeline_path

    environ = os.environ if environ is None else environ
    for candidate in (explicit, environ.get(MODEL_ENV)):
        if candidate and candidate.strip():
            return candidate.strip()
    default = default_pipeline_path()
    if default:
        return default
    raise ModelUnavailable(
        f"No model is available: this installation of sssd_hf has no bundled default pipeline. Set {MODEL_ENV} "
        "(or --model) to a pipeline folder or Hub id saved with `SSSDECGPipeline.save_pretrained` and restart."
    )


def best_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_pipeline(source: str, device: Optional[str] = None):
    """``SSSDECGPipeline.from_pretrained(source)`` on ``device`` (default: CUDA if present, else CPU).

    Raises :class:`ModelUnavailable` (one line: source, exception type and message) if it cannot be loaded."""
    from .. import SSSDECGPipeline

    try:
        pipe = SSSDECGPipeline.from_pretrained(source)
    except Exception as exc:  # missing folder, offline Hub, corrupt weights...
        message = " ".join(str(exc).split())[:300]
        raise ModelUnavailable(f"Could not load the model from {source!r}: {type(exc).__name__}: {message}") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device or best_device())


class ModelStore:
    """The pipeline a process serves, loaded on first use and shared (thread-safe).

    A failed load is remembered: later calls raise the same :class:`ModelUnavailable` at once
    instead of retrying a slow load on every click."""

    def __init__(self, source: Optional[str] = None, device: Optional[str] = None):
        self._explicit, self._device = source, device
        self._lock = threading.Lock()
        self._loaded: Optional[Tuple[Any, ModelInfo]] = None
        self._error: Optional[str] = None

    def get(self) -> Tuple[Any, ModelInfo]:
        """``(pipeline, ModelInfo)``; raises :class:`ModelUnavailable`."""
        with self._lock:
            if self._loaded is None and self._error is None:
                try:
                    source = resolve_model_source(self._explicit)
                    pipe = load_pipeline(source, self._device)
                    self._loaded = (pipe, model_info(pipe, source))
                except ModelUnavailable as exc:
                    self._error = str(exc)
            if self._error is not None:
                raise ModelUnavailable(self._error)
            return self._loaded

    __call__ = get
