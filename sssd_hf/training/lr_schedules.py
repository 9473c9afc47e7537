"""Learning-rate schedules of a training run.

The stock schedules come from :func:`diffusers.optimization.get_scheduler`; this module adds
``warmup_stable_decay`` (linear warm-up, a constant peak, then a linear cool-down to 0 over the
last ``lr_decay_steps`` optimizer steps).  Its multiplier depends on the step alone, so a run
written with ``constant_with_warmup`` can be resumed with it: the checkpointed scheduler state
holds only the step count and the base rate, and the cool-down starts where the config says.
"""

from __future__ import annotations

from torch.optim.lr_scheduler import LambdaLR


def warmup_stable_decay_factor(step: int, warmup_steps: int, decay_steps: int, total_steps: int) -> float:
    """Multiplier of the peak learning rate after ``step`` optimizer steps.

    ``step / warmup_steps`` during warm-up, 1 until ``total_steps - decay_steps``, then falling
    linearly to 0 at ``total_steps`` (and staying there).
    """
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    decay_start = total_steps - decay_steps
    if step < decay_start:
        return 1.0
    return max(0.0, (total_steps - step) / max(1, decay_steps))


def make_lr_scheduler(config, optimizer) -> LambdaLR:
    """The ``config.lr_scheduler`` schedule over ``config.max_steps`` steps for ``optimizer``."""
    if config.lr_scheduler == "warmup_stable_decay":
        warmup, decay, total = config.lr_warmup_steps, config.lr_decay_steps, config.max_steps
        return LambdaLR(optimizer, lambda step: warmup_stable_decay_factor(step, warmup, decay, total))
    from diffusers.optimization import get_scheduler

    return get_scheduler(
        config.lr_scheduler,
        optimizer,
        num_warmup_steps=config.lr_warmup_steps,
        num_training_steps=config.max_steps,
    )
