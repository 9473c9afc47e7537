"""The DDPM sampler of SSSD-ECG, as a diffusers scheduler.

Forward process (Ho et al. 2020): ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` with
``beta_t`` linear from ``beta_start`` to ``beta_end`` over ``T`` steps, ``alpha_t = 1 - beta_t``,
``abar_t = prod_{s<=t} alpha_s`` (steps indexed ``t = 0 .. T-1`` as in the SSSD code).

Reverse step with the paper's settings (``T = 200``, ``beta`` 1e-4 .. 0.02,
``sigma_t^2 = beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t)``)::

    x_{t-1} = (x_t - (1 - alpha_t) / sqrt(1 - abar_t) * eps) / sqrt(alpha_t) + sigma_t z,

with no noise added at the last step (``t = 0``).

With ``num_inference_steps < T`` the scheduler takes evenly spaced steps and uses the same
posterior with ``alpha_t`` replaced by ``abar_t / abar_prev`` (strided DDPM); with
``num_inference_steps = T`` this is exactly the equation above.

Relation to ``diffusers.DDPMScheduler(variance_type="fixed_small", clip_sample=False)``: the same
equations (``variance_type="beta"`` is its ``"fixed_large"``), with three differences that
``tests/schedulers/test_scheduler_against_ddpm.py`` checks one by one: the schedule is float64
(DDPM: float32), so the published trajectory and stored seeded outputs are reproduced exactly;
``N`` steps that do not divide ``T`` are spread as ``round(i T / N)`` (DDPM's ``"leading"``
spacing uses ``i (T // N)`` and stops short of ``T - 1``); and clipping is off by default.
Given our timesteps (``DDPMScheduler.set_timesteps(timesteps=...)``) the two agree to float32
rounding.

This file travels inside saved pipeline folders as remote code, so it imports nothing from
``sssd_hf``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

import torch
from diffusers.configuration_utils import ConfigMixin
from diffusers.schedulers.scheduling_utils import KarrasDiffusionSchedulers, SchedulerMixin
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor


@dataclass
class SSSDECGSchedulerOutput(BaseOutput):
    """Output of :meth:`SSSDECGScheduler.step`.

    Args:
        prev_sample: ``x_{t-1}``, same shape as the sample.
        pred_original_sample: the model's estimate of ``x_0``.
    """

    prev_sample: torch.Tensor
    pred_original_sample: Optional[torch.Tensor] = None


class SSSDECGScheduler(SchedulerMixin, ConfigMixin):
    """DDPM with SSSD-ECG's defaults.

    Args:
        num_train_timesteps: ``T`` (200).
        beta_start, beta_end: linear schedule end points (1e-4, 0.02).
        beta_schedule: only ``"linear"`` (the papers' schedule).
        variance_type: ``"beta_tilde"`` (``sigma_t^2 = beta~_t``, the papers') or ``"beta"``
            (``sigma_t^2 = beta_t``).
        prediction_type: only ``"epsilon"``.
        clip_sample: clip the estimate of ``x_0`` to ``[-clip_sample_range, clip_sample_range]``
            (off in the papers).
    """

    _compatibles = [e.name for e in KarrasDiffusionSchedulers]
    order = 1

    def __init__(
        self,
        num_train_timesteps: int = 200,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        beta_schedule: str = "linear",
        variance_type: str = "beta_tilde",
        prediction_type: str = "epsilon",
        clip_sample: bool = False,
        clip_sample_range: float = 1.0,
    ):
        # Registered explicitly (not with @register_to_config) so that defaults count as set values:
        # stock schedulers built with from_config(this.config) must inherit T=200, not their own T.
        self.register_to_config(
            num_train_timesteps=num_train_timesteps, beta_start=beta_start, beta_end=beta_end,
            beta_schedule=beta_schedule, variance_type=variance_type, prediction_type=prediction_type,
            clip_sample=clip_sample, clip_sample_range=clip_sample_range,
        )
        if beta_schedule != "linear":
            raise ValueError(f"Only the linear beta schedule of SSSD-ECG is supported, got {beta_schedule!r}")
        if variance_type not in ("beta_tilde", "beta"):
            raise ValueError(f"variance_type must be 'beta_tilde' or 'beta', got {variance_type!r}")
        if prediction_type != "epsilon":
            raise ValueError(f"Only epsilon prediction is supported, got {prediction_type!r}")
        if not 0 < beta_start < beta_end < 1:
            raise ValueError(f"Need 0 < beta_start < beta_end < 1, got {beta_start}, {beta_end}")
        self.betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float64)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.init_noise_sigma = 1.0
        self.num_inference_steps: Optional[int] = None
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1)

    def scale_model_input(self, sample: torch.Tensor, timestep: Optional[int] = None) -> torch.Tensor:
        """DDPM needs no input scaling; present for interchangeability with other schedulers."""
        return sample

    def set_timesteps(self, num_inference_steps: Optional[int] = None, device: Union[str, torch.device, None] = None):
        """Choose ``num_inference_steps`` (default and maximum ``T``) evenly spaced steps, descending."""
        total = self.config.num_train_timesteps
        num_inference_steps = total if num_inference_steps is None else int(num_inference_steps)
        if not 1 <= num_inference_steps <= total:
            raise ValueError(f"num_inference_steps must be between 1 and {total}, got {num_inference_steps}")
        self.num_inference_steps = num_inference_steps
        stride = total / num_inference_steps
        steps = (torch.arange(num_inference_steps, dtype=torch.float64) * stride).round().long()
        self.timesteps = steps.flip(0).to(device)

    def previous_timestep(self, timestep: int) -> int:
        """The step that follows ``timestep`` in the current schedule (-1 after the last)."""
        timesteps = self.timesteps.tolist()
        i = timesteps.index(int(timestep))
        return timesteps[i + 1] if i + 1 < len(timesteps) else -1

    def _coefficients(self, t: int, prev_t: int) -> Tuple[float, float, float]:
        abar_t = self.alphas_cumprod[t]
        abar_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else torch.tensor(1.0, dtype=torch.float64)
        alpha_t = abar_t / abar_prev
        beta_t = 1 - alpha_t
        if self.config.variance_type == "beta_tilde":
            variance = beta_t * (1 - abar_prev) / (1 - abar_t)
        else:
            variance = beta_t
        return alpha_t, abar_t, variance

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Union[int, torch.Tensor],
        sample: torch.Tensor,
        generator: Union[torch.Generator, List[torch.Generator], None] = None,
        return_dict: bool = True,
    ) -> Union[SSSDECGSchedulerOutput, tuple]:
        """One reverse step ``x_t -> x_{t-1}`` from the predicted noise ``model_output``.

        Args:
            model_output: ``eps`` predicted by the network, same shape as ``sample``.
            timestep: the current step ``t`` (an element of ``self.timesteps``).
            sample: ``x_t``.
            generator: torch generator(s) for the added noise (one per batch row allowed).
        """
        if self.num_inference_steps is None:
            self.set_timesteps()
        if model_output.shape != sample.shape:
            raise ValueError(f"model_output shape {tuple(model_output.shape)} != sample shape {tuple(sample.shape)}")
        t = int(timestep)
        prev_t = self.previous_timestep(t)
        alpha_t, abar_t, variance = self._coefficients(t, prev_t)
        alpha_t, abar_t, variance = (
            torch.as_tensor(v, dtype=sample.dtype, device=sample.device) for v in (alpha_t, abar_t, variance)
        )
        pred_x0 = (sample - torch.sqrt(1 - abar_t) * model_output) / torch.sqrt(abar_t)
        if self.config.clip_sample:
            r = self.config.clip_sample_range
            pred_x0 = pred_x0.clamp(-r, r)
            model_output = (sample - torch.sqrt(abar_t) * pred_x0) / torch.sqrt(1 - abar_t)
        prev = (sample - (1 - alpha_t) / torch.sqrt(1 - abar_t) * model_output) / torch.sqrt(alpha_t)
        if prev_t >= 0:
            noise = randn_tensor(sample.shape, generator=generator, device=sample.device, dtype=sample.dtype)
            prev = prev + torch.sqrt(variance) * noise
        if not return_dict:
            return (prev, pred_x0)
        return SSSDECGSchedulerOutput(prev_sample=prev, pred_original_sample=pred_x0)

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise`` for a ``(batch,)`` tensor of steps."""
        abar = self.alphas_cumprod.to(device=original_samples.device, dtype=original_samples.dtype)[timesteps.long()]
        abar = abar.reshape(-1, *([1] * (original_samples.ndim - 1)))
        return torch.sqrt(abar) * original_samples + torch.sqrt(1 - abar) * noise

    def __len__(self) -> int:
        return self.config.num_train_timesteps
