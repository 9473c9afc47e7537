"""The one sampler registry: names, labels, default step counts and the diffusers class of every
sampler that the CLI, the Space, the benchmarks and the pipeline accept.

``ddpm`` is the pipeline's own scheduler (the papers' DDPM, all ``num_train_timesteps`` steps); the
others are stock diffusers solvers built ``from_config`` of the pipeline's scheduler, so they share
its beta schedule (T = 200, linear betas 1e-4..0.02).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple


@dataclasses.dataclass(frozen=True)
class Sampler:
    """One sampler.

    Attributes:
        name: the name used everywhere (``--scheduler NAME``, the Space's choice, benchmark runs).
        label: a human-readable description.
        default_steps: the step count used when none is given; ``None`` means every training step.
        scheduler_class: the diffusers class name, or ``None`` for the pipeline's own scheduler.
        scheduler_kwargs: extra ``from_config`` arguments.
    """

    name: str
    label: str
    default_steps: Optional[int]
    scheduler_class: Optional[str] = None
    scheduler_kwargs: Tuple[Tuple[str, Any], ...] = ()


#: Every sampler, by name.
SAMPLERS: Dict[str, Sampler] = {
    s.name: s
    for s in (
        Sampler("ddpm", "DDPM, all steps (as in the papers; slow)", None),
        Sampler("ddim", "DDIM (few steps)", 50, "DDIMScheduler"),
        Sampler("dpm", "DPM-Solver++ (few steps)", 20, "DPMSolverMultistepScheduler",
                (("algorithm_type", "dpmsolver++"),)),
        Sampler("dpm-sde", "stochastic DPM-Solver++ (SDE, few steps)", 20, "DPMSolverMultistepScheduler",
                (("algorithm_type", "sde-dpmsolver++"),)),
        Sampler("unipc", "UniPC (few steps)", 20, "UniPCMultistepScheduler"),
    )
}
#: The sampler used when none is asked for and the pipeline recommends none (its ``default_sampler``).
DEFAULT_SAMPLER = "ddpm"


def get_sampler(name: str) -> Sampler:
    """The registered sampler called ``name``; ``ValueError`` naming the choices otherwise."""
    if not isinstance(name, str) or name not in SAMPLERS:
        shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:57] + "..."  # never echo a huge input
        raise ValueError(f"unknown sampler {shown}; choose from {', '.join(SAMPLERS)}")
    return SAMPLERS[name]


def pipeline_sampler(recommended: Optional[str]) -> str:
    """The sampler to use when none is asked for: ``recommended`` (a pipeline's ``default_sampler``, from
    its ``model_index.json``) if set, else :data:`DEFAULT_SAMPLER`.  ``ValueError`` for an unknown name."""
    if recommended is None:
        return DEFAULT_SAMPLER
    try:
        return get_sampler(recommended).name
    except ValueError as exc:
        raise ValueError(f"the pipeline's default_sampler: {exc}") from None


def make_scheduler(name: str, base_config: Mapping[str, Any], base_class: Optional[type] = None):
    """A fresh scheduler for sampler ``name``, built from ``base_config`` (a pipeline's scheduler config).

    ``base_class`` is the class of the pipeline's own scheduler (default :class:`SSSDECGScheduler`);
    it is used for ``ddpm``.  Schedulers keep per-run state, so build one per sampling call."""
    sampler = get_sampler(name)
    if sampler.scheduler_class is None:
        if base_class is None:
            from .scheduling_sssd_ecg import SSSDECGScheduler as base_class
        return base_class.from_config(base_config)
    import diffusers

    cls = getattr(diffusers, sampler.scheduler_class)
    return cls.from_config(base_config, **dict(sampler.scheduler_kwargs))


def resolve_steps(name: str, steps: Optional[int], num_train_timesteps: int) -> int:
    """The step count for sampler ``name``: ``steps`` if given (1..T), else its default capped at T (T for ``ddpm``).

    Raises ``ValueError`` for a step count that is not an integer in ``1..num_train_timesteps``
    (``0`` is refused, not read as "default")."""
    sampler = get_sampler(name)
    if steps is None:  # a default above T (e.g. DDIM's 50 on a 20-step model) means every step
        return min(sampler.default_steps or num_train_timesteps, num_train_timesteps)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= num_train_timesteps:
        raise ValueError(f"steps must be an integer from 1 to {num_train_timesteps}, got {steps!r}")
    return steps
