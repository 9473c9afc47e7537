"""From a training run to a pipeline folder: EMA weights, scheduler and a model card."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Dict, Optional, Sequence

import torch

from ..models.modeling_sssd_ecg import SSSDECGModel
from ..pipelines.pipeline_sssd_ecg import SSSDECGPipeline
from ..schedulers.scheduling_sssd_ecg import SSSDECGScheduler


def make_scheduler(config) -> SSSDECGScheduler:
    """The DDPM schedule of a :class:`~sssd_hf.training.config.TrainConfig`."""
    return SSSDECGScheduler(
        num_train_timesteps=config.num_train_timesteps, beta_start=config.beta_start, beta_end=config.beta_end
    )


def averaged_model(model: SSSDECGModel, ema=None) -> SSSDECGModel:
    """A float32 copy of ``model`` on the CPU in eval mode, carrying the EMA weights if ``ema``
    (a ``diffusers.training_utils.EMAModel`` over ``model.parameters()``) is given."""
    copy = SSSDECGModel.from_config(model.config)
    copy.load_state_dict({k: v.detach().float().cpu() for k, v in model.state_dict().items()})
    if ema is not None:
        shadow = [p.detach().float().cpu() for p in ema.shadow_params]
        params = list(copy.parameters())
        if len(shadow) != len(params):
            raise RuntimeError(f"EMA holds {len(shadow)} tensors for a model with {len(params)} parameters")
        with torch.no_grad():
            for p, s in zip(params, shadow):
                p.copy_(s)
    return copy.eval()


def launch_command(argv: Optional[Sequence[str]] = None) -> str:
    """The command line of this run, as it would be typed (for the model card)."""
    argv = list(sys.argv if argv is None else argv)
    for i in range(1, len(argv)):  # card texts given on the command line are in the card already
        if argv[i - 1].startswith("--model_card.") and "=" not in argv[i - 1]:
            argv[i] = "<text>"
    argv = [a.split("=", 1)[0] + "=<text>" if a.startswith("--model_card.") and "=" in a else a for a in argv]
    if argv and argv[0].endswith(".py"):
        argv[0] = os.path.relpath(argv[0]) if os.path.isabs(argv[0]) else argv[0]
        return "accelerate launch " + shlex.join(argv)
    return shlex.join(argv)


def training_card_text(config, steps: int, samples_seen: int, command: str) -> Dict[str, str]:
    """Model-card paragraphs describing how a run was trained; ``config.model_card`` entries win,
    and ``{command}`` / ``{steps}`` / ``{samples_seen}`` in them are filled in."""
    ema = f", EMA of the weights (decay {config.ema_decay}) exported" if config.ema else ""
    bias = ""
    if config.timestep_bias_strategy != "none":
        portion = "last" if config.timestep_bias_strategy == "later" else "first"
        bias = (f", the {portion} {config.timestep_bias_portion:g} of the steps drawn "
                f"{config.timestep_bias_multiplier:g}x as often")
    default_training = (
        f"Trained with sssd-hf's `training/train_sssd_ecg.py` for {steps} optimizer steps ({samples_seen} ECGs seen): "
        f"epsilon-prediction MSE on the generated leads, DDPM T = {config.num_train_timesteps} "
        f"(betas {config.beta_start}..{config.beta_end}{bias}), Adam lr {config.learning_rate} "
        f"({config.lr_scheduler}, {config.lr_warmup_steps} warm-up steps), batch {config.batch_size} per device x "
        f"{config.gradient_accumulation_steps} accumulation steps, mixed precision {config.mixed_precision}{ema}, "
        f"seed {config.seed}.\n\nCommand:\n\n```bash\n{command}\n```"
    )
    values = {"{command}": command, "{steps}": str(steps), "{samples_seen}": str(samples_seen)}
    out = {"training": default_training}
    for key, text in config.model_card.items():
        for token, value in values.items():
            text = text.replace(token, value)
        out[key] = text
    return out


def export_pipeline(model: SSSDECGModel, ema, config, out_dir: str, card_extra: Dict[str, str]) -> str:
    """Save an :class:`SSSDECGPipeline` with the EMA weights (if any) and a model card."""
    from ..hub import render_model_card

    final = averaged_model(model, ema)
    pipeline = SSSDECGPipeline(model=final, scheduler=make_scheduler(config))
    pipeline.save_pretrained(out_dir, model_card=render_model_card(final.config, extra=card_extra))
    return out_dir
