"""Why :class:`SSSDECGScheduler` is its own class and not ``DDPMScheduler(variance_type="fixed_small")``:
equation by equation, where the two agree and where they differ.

Agreement (same equations): linear betas, ``abar_t``, the ``beta~_t`` variance ("fixed_small"),
``beta_t`` ("fixed_large"), epsilon prediction, no noise at the last step, the x_0 estimate, and
the posterior mean (written differently, equal in exact arithmetic).

Differences, each tested below:
1. the schedule is computed in float64 (DDPM: float32), so the published 200-step trajectory is
   reproduced to float64 precision and stored outputs for fixed seeds stay bit-identical;
2. ``num_inference_steps = N`` that does not divide ``T`` is spread over the whole range
   (``round(i T / N)``), where DDPM's ``"leading"`` spacing uses ``i * (T // N)`` and stops short
   of ``T - 1``, and ``"linspace"`` rounds ``i (T - 1) / (N - 1)``;
3. the default ``clip_sample`` is off (the papers'), DDPM's is on.
With DDPM given our timesteps explicitly (``set_timesteps(timesteps=...)``), the remaining
difference is float32 rounding only.
"""

import pytest
import torch
from diffusers import DDPMScheduler

from sssd_hf import SSSDECGScheduler

T = 200


def _ddpm(**overrides) -> DDPMScheduler:
    config = dict(num_train_timesteps=T, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
                  variance_type="fixed_small", clip_sample=False, prediction_type="epsilon")
    return DDPMScheduler(**{**config, **overrides})


def test_schedule_constants_agree_to_float32_but_ours_are_float64():
    ours, stock = SSSDECGScheduler(), _ddpm()
    assert ours.alphas_cumprod.dtype == torch.float64 and stock.alphas_cumprod.dtype == torch.float32
    torch.testing.assert_close(stock.betas.double(), ours.betas, rtol=1e-6, atol=0)
    torch.testing.assert_close(stock.alphas_cumprod.double(), ours.alphas_cumprod, rtol=1e-5, atol=0)
    # the float64 products are not representable in float32: a float32 schedule changes the bits
    assert not torch.equal(ours.alphas_cumprod.float().double(), ours.alphas_cumprod)


@pytest.mark.parametrize("n", [1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 200])
def test_timesteps_equal_ddpm_leading_when_n_divides_t(n):
    ours, stock = SSSDECGScheduler(), _ddpm(timestep_spacing="leading")
    ours.set_timesteps(n)
    stock.set_timesteps(n)
    assert ours.timesteps.tolist() == stock.timesteps.tolist()


@pytest.mark.parametrize("n", [3, 7, 30, 150])
def test_timesteps_differ_from_ddpm_when_n_does_not_divide_t(n):
    ours = SSSDECGScheduler()
    ours.set_timesteps(n)
    spread = [round(i * T / n) for i in range(n)][::-1]
    assert ours.timesteps.tolist() == spread
    for spacing in ("leading", "linspace", "trailing"):
        stock = _ddpm(timestep_spacing=spacing)
        stock.set_timesteps(n)
        assert stock.timesteps.tolist() != spread, spacing
    leading = _ddpm(timestep_spacing="leading")
    leading.set_timesteps(n)
    assert leading.timesteps[0] == (n - 1) * (T // n) < ours.timesteps[0]  # DDPM stops short of T - 1


def test_posterior_mean_forms_are_the_same_equation():
    """Ours: ``(x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t)``; DDPM: ``c0 x0_hat + ct x_t``
    with ``c0 = sqrt(abar_prev) beta_t / (1 - abar_t)``, ``ct = sqrt(alpha_t) (1 - abar_prev) / (1 - abar_t)``
    and ``x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)``: equal in float64."""
    abar = SSSDECGScheduler().alphas_cumprod
    x, eps = torch.randn(2, 3, 7, dtype=torch.float64), torch.randn(2, 3, 7, dtype=torch.float64)
    for t, prev in [(199, 198), (120, 100), (5, 0), (0, -1)]:
        abar_t = abar[t]
        abar_prev = abar[prev] if prev >= 0 else torch.tensor(1.0, dtype=torch.float64)
        alpha_t, beta_t = abar_t / abar_prev, 1 - abar_t / abar_prev
        ours = (x - beta_t / (1 - abar_t).sqrt() * eps) / alpha_t.sqrt()
        x0 = (x - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()
        stock = abar_prev.sqrt() * beta_t / (1 - abar_t) * x0 + alpha_t.sqrt() * (1 - abar_prev) / (1 - abar_t) * x
        torch.testing.assert_close(ours, stock, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variance_type, stock_variance", [("beta_tilde", "fixed_small"), ("beta", "fixed_large")])
@pytest.mark.parametrize("n", [200, 30, 7])
def test_steps_match_ddpm_given_our_timesteps_up_to_float32(variance_type, stock_variance, n):
    """Same noise (same generator draws), same variance, same mean: only float32 rounding differs."""
    ours, stock = SSSDECGScheduler(variance_type=variance_type), _ddpm(variance_type=stock_variance)
    ours.set_timesteps(n)
    stock.set_timesteps(timesteps=ours.timesteps.tolist())
    assert stock.timesteps.tolist() == ours.timesteps.tolist()
    x = torch.randn(2, 8, 32, generator=torch.Generator().manual_seed(0))
    for t in ours.timesteps.tolist():
        eps = torch.tanh(x * 0.7 + t / T)  # any deterministic "network"
        a = ours.step(eps, t, x, generator=torch.Generator().manual_seed(t))
        b = stock.step(eps, t, x, generator=torch.Generator().manual_seed(t))
        torch.testing.assert_close(a.pred_original_sample, b.pred_original_sample, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(a.prev_sample, b.prev_sample, rtol=1e-4, atol=1e-4)
        x = a.prev_sample  # compare every step from the same x_t


def test_last_step_adds_no_noise_in_both():
    ours, stock = SSSDECGScheduler(), _ddpm()
    ours.set_timesteps(10)
    stock.set_timesteps(10)
    x, eps = torch.randn(1, 8, 16), torch.randn(1, 8, 16)
    for scheduler in (ours, stock):
        one = scheduler.step(eps, 0, x, generator=torch.Generator().manual_seed(1)).prev_sample
        two = scheduler.step(eps, 0, x, generator=torch.Generator().manual_seed(2)).prev_sample
        assert torch.equal(one, two)


def test_default_clipping_differs_and_ddpm_from_our_config_keeps_ours():
    assert SSSDECGScheduler().config.clip_sample is False and DDPMScheduler().config.clip_sample is True
    stock = DDPMScheduler.from_config(SSSDECGScheduler().config)
    assert stock.config.clip_sample is False and stock.config.num_train_timesteps == T
    # Our variance names are not DDPM's, and DDPM falls back to beta~ for a name it does not know:
    # a DDPM built from a variance_type="beta" config silently samples with fixed_small instead.
    assert stock.config.variance_type == "beta_tilde"
    from_beta = DDPMScheduler.from_config(SSSDECGScheduler(variance_type="beta").config)
    ours_beta = SSSDECGScheduler(variance_type="beta")
    fixed_small = _ddpm()
    x, eps = torch.randn(1, 8, 16), torch.randn(1, 8, 16)
    results = []
    for scheduler in (from_beta, fixed_small, ours_beta):
        scheduler.set_timesteps(10)
        results.append(scheduler.step(eps, 180, x, generator=torch.Generator().manual_seed(0)).prev_sample)
    torch.testing.assert_close(results[0], results[1])
    assert not torch.allclose(results[0], results[2], rtol=1e-4, atol=1e-4)
