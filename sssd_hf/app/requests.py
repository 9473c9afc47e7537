"""Checking a visitor's generation request against the loaded model, before any work is done.

:func:`validate_request` takes the raw values of the page (or of an API call: anything may come
in, of any type and size) and returns a :class:`GenerationRequest` or raises
:class:`~sssd_hf.app.errors.RequestError` with a one-line message that never repeats more than
:data:`~sssd_hf.app.errors.MAX_ECHO_CHARS` characters of the input.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, List, Optional, Sequence, Tuple

from ..schedulers.samplers import SAMPLERS, resolve_steps
from .errors import RequestError, shorten
from .model import ModelInfo

MAX_ECGS = 8  # per request: keeps one request to seconds-minutes on a CPU Space
MAX_SEED = 2**32 - 1
MAX_GUIDANCE = 10.0


@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """A validated request.

    Attributes:
        statements: codes every ECG is conditioned on (empty only when ``unconditional``), de-duplicated.
        unconditional: generate with an empty label set (or from an unconditional model).
        num_ecgs: 1..:data:`MAX_ECGS`.
        sampler: a name of :data:`sssd_hf.schedulers.samplers.SAMPLERS`.
        num_inference_steps: denoising steps, 1..T.
        seed: 0..:data:`MAX_SEED`.
        guidance_scale: classifier-free guidance weight, 1.0 = off.
        formats: download formats, keys of :data:`sssd_hf.export.EXPORT_FORMATS`.
    """

    statements: Tuple[str, ...]
    unconditional: bool
    num_ecgs: int
    sampler: str
    num_inference_steps: int
    seed: int
    guidance_scale: float
    formats: Tuple[str, ...]


def download_formats() -> Tuple[str, ...]:
    """Every format the app offers for download: the keys of :data:`sssd_hf.export.EXPORT_FORMATS`, in order
    (a format registered there appears here without any change to the app)."""
    from .. import export

    return tuple(export.EXPORT_FORMATS)


def format_label(name: str) -> str:
    """A label for download format ``name``: its registered ``label`` or ``description`` when the format
    table gives one, else the name in capitals (``"WFDB"``)."""
    from .. import export

    entry = export.EXPORT_FORMATS.get(name)
    for attribute in ("label", "description", "title"):
        text = getattr(entry, attribute, None)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return name.upper()


def default_steps(sampler: str, info: ModelInfo) -> int:
    """Steps preselected for ``sampler``: the registry's default (all T steps for ``ddpm``), at most T."""
    return resolve_steps(sampler, None, info.num_train_timesteps)


def _as_int(value: Any, name: str, low: int, high: int) -> int:
    """``value`` as an integer in ``low..high``; :class:`RequestError` naming ``name`` otherwise."""
    if isinstance(value, bool):
        raise RequestError(f"{name} must be a whole number, got {shorten(value)}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise RequestError(f"{name} must be a whole number, got {shorten(value)}") from None
    if not math.isfinite(number) or number != int(number):
        raise RequestError(f"{name} must be a whole number, got {shorten(value)}")
    if not low <= number <= high:
        raise RequestError(f"{name} must be between {low} and {high}, got {int(number)}")
    return int(number)


def _as_float(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise RequestError(f"{name} must be a number, got {shorten(value)}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise RequestError(f"{name} must be a number, got {shorten(value)}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise RequestError(f"{name} must be between {low:g} and {high:g}, got {shorten(value)}")
    return number


def _code_list(values: Any, what: str, limit: int) -> List[str]:
    """A list of text entries, de-duplicated in order; at most ``limit`` entries are accepted."""
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise RequestError(f"{what} must be a list of codes, got {shorten(values)}")
    if len(values) > limit:
        raise RequestError(f"Too many {what.lower()}: {len(values)} given, at most {limit}")
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise RequestError(f"{what} must be text codes, got {shorten(bad[0])}")
    return list(dict.fromkeys(values))


def _check_statements(codes: List[str], unconditional: bool, info: ModelInfo) -> None:
    if unconditional and codes:
        raise RequestError("Either pick statements or tick 'no statements', not both.")
    if not info.conditional:
        if codes:
            raise RequestError("This model is unconditional: it takes no statements; clear the selection.")
        return
    if not codes and not unconditional:
        raise RequestError("Pick at least one statement (or a preset), or tick 'no statements'.")
    known = set(info.label_names)
    unknown = [c for c in codes if c not in known]
    if unknown:
        shown = ", ".join(shorten(c) for c in unknown[:5])
        if len(unknown) > 5:
            shown += f" and {len(unknown) - 5} more"
        raise RequestError(f"This model does not know the statement(s) {shown}; "
                           f"it knows: {', '.join(info.label_names)}")


def _check_sampler(sampler: Any) -> str:
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise RequestError(f"Unknown sampler {shorten(sampler)}; choose one of {', '.join(SAMPLERS)}")
    return sampler


def merge_groups(*groups: Any) -> List[Any]:
    """The statements picked in several groups (rhythm, form, diagnostic) as one list; ``None`` is an empty
    group.  Raises :class:`RequestError` for a group that is not a list."""
    merged: List[Any] = []
    for group in groups:
        if group is None:
            continue
        if isinstance(group, (str, bytes)) or not isinstance(group, (list, tuple)):
            raise RequestError(f"Statements must be a list of codes, got {shorten(group)}")
        merged.extend(group)
    return merged


def validate_request(
    info: ModelInfo,
    statements: Optional[Sequence[str]],
    unconditional: Any = False,
    num_ecgs: Any = 1,
    sampler: Any = None,
    num_inference_steps: Any = None,
    seed: Any = 0,
    guidance_scale: Any = None,
    formats: Optional[Sequence[str]] = None,
) -> Tuple[GenerationRequest, List[str]]:
    """Check a request against the model ``info`` describes; return it and warnings for the visitor.

    ``sampler=None`` takes the model's default sampler (``info.default_sampler``),
    ``num_inference_steps=None`` the sampler's default (:func:`default_steps`),
    ``guidance_scale=None`` the model's default guidance (``info.default_guidance``; 1.0 without
    statements), ``formats=None`` every :func:`download_formats`.  Raises :class:`RequestError` for: statements
    that are not a list of codes, unknown to the model, too many, missing (with no explicit
    ``unconditional``) or given to an unconditional model; a count, step number or seed that is
    not a whole number in range; an unknown sampler or format; guidance out of range or on a
    model without a null label."""
    if unconditional is None:
        unconditional = False
    if not isinstance(unconditional, bool):
        raise RequestError(f"'No statements' must be true or false, got {shorten(unconditional)}")
    codes = _code_list(statements, "Statements", max(len(info.label_names), 1))
    _check_statements(codes, unconditional, info)
    count = _as_int(num_ecgs, "Number of ECGs", 1, MAX_ECGS)
    sampler = _check_sampler(info.default_sampler if sampler is None else sampler)
    T = info.num_train_timesteps
    if num_inference_steps is None:
        steps = default_steps(sampler, info)
    else:
        steps = _as_int(num_inference_steps, "Steps", 1, T)
    seed_value = _as_int(seed, "Seed", 0, MAX_SEED)
    if guidance_scale is None:
        guidance = info.default_guidance if codes else 1.0
    else:
        guidance = _as_float(guidance_scale, "Guidance", 0.0, max(MAX_GUIDANCE, info.default_guidance))
    if guidance != 1.0 and not info.supports_guidance:
        raise RequestError("This model was not trained for classifier-free guidance; keep guidance at 1.")
    if guidance != 1.0 and not codes:
        raise RequestError("Guidance needs statements to guide towards; keep it at 1 with 'no statements'.")
    offered = download_formats()
    chosen = list(offered) if formats is None else _code_list(formats, "Download formats", len(offered))
    unknown = [f for f in chosen if f not in offered]
    if unknown:
        raise RequestError(f"Unknown download format {shorten(unknown[0])}; choose from {', '.join(offered)}")
    if not chosen:
        raise RequestError(f"Pick at least one download format ({', '.join(offered)}).")
    warnings = []
    if sampler == "ddpm" and steps < T:
        warnings.append(f"DDPM with {steps} of {T} steps skips steps; expect lower quality than the "
                        "paper's sampler (or pick a few-step solver).")
    chosen = [f for f in offered if f in chosen]  # in the order of the format table
    request = GenerationRequest(tuple(codes), unconditional, count, sampler, steps, seed_value, guidance,
                                tuple(chosen))
    return request, warnings
