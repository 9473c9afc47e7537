"""The scheduler against the SSSD-ECG DDPM equations written out here."""

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, UniPCMultistepScheduler

from sssd_hf import SSSDECGScheduler


def _paper_constants(T=200, b0=1e-4, bT=0.02):
    beta = [b0 + (bT - b0) * i / (T - 1) for i in range(T)]
    alpha = [1 - b for b in beta]
    alpha_bar, prod = [], 1.0
    for a in alpha:
        prod *= a
        alpha_bar.append(prod)
    sigma2 = [beta[0]] + [beta[t] * (1 - alpha_bar[t - 1]) / (1 - alpha_bar[t]) for t in range(1, T)]
    return beta, alpha, alpha_bar, sigma2


def test_defaults_are_the_papers():
    s = SSSDECGScheduler()
    assert (s.config.num_train_timesteps, s.config.beta_start, s.config.beta_end) == (200, 1e-4, 0.02)
    beta, alpha, alpha_bar, _ = _paper_constants()
    torch.testing.assert_close(s.betas, torch.tensor(beta, dtype=torch.float64))
    torch.testing.assert_close(s.alphas_cumprod, torch.tensor(alpha_bar, dtype=torch.float64))


def test_every_step_matches_the_published_update():
    _, alpha, alpha_bar, sigma2 = _paper_constants()
    s = SSSDECGScheduler()
    s.set_timesteps(200)
    assert s.timesteps.tolist() == list(range(199, -1, -1))
    x = torch.randn(2, 8, 10, dtype=torch.float64)
    ref = x.clone()
    for t in s.timesteps.tolist():
        eps = torch.sin(x * (t + 1))  # any deterministic "model"
        eps_ref = torch.sin(ref * (t + 1))
        g1, g2 = torch.Generator().manual_seed(t), torch.Generator().manual_seed(t)
        x = s.step(eps, t, x, generator=g1).prev_sample
        ref = (ref - (1 - alpha[t]) / (1 - alpha_bar[t]) ** 0.5 * eps_ref) / alpha[t] ** 0.5
        if t > 0:
            ref = ref + sigma2[t] ** 0.5 * torch.randn(ref.shape, generator=g2, dtype=ref.dtype)
        torch.testing.assert_close(x, ref, rtol=1e-10, atol=1e-12)
        ref = x.clone()  # compare each step from the same x_t (float32 constants vs float64 here)


def test_full_schedule_agrees_with_diffusers_ddpm_fixed_small():
    ours = SSSDECGScheduler()
    stock = DDPMScheduler(
        num_train_timesteps=200, beta_start=1e-4, beta_end=0.02, variance_type="fixed_small", clip_sample=False
    )
    ours.set_timesteps(200)
    stock.set_timesteps(200)
    x = y = torch.randn(1, 8, 16)
    for t in ours.timesteps.tolist():
        eps = torch.cos(x)
        x = ours.step(eps, t, x, generator=torch.Generator().manual_seed(t)).prev_sample
        y = stock.step(torch.cos(y), t, y, generator=torch.Generator().manual_seed(t)).prev_sample
    torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-4)


def test_add_noise_is_the_forward_process():
    s = SSSDECGScheduler()
    x0, noise, t = torch.randn(3, 8, 5), torch.randn(3, 8, 5), torch.tensor([0, 50, 199])
    expected = s.alphas_cumprod[t].sqrt()[:, None, None] * x0 + (1 - s.alphas_cumprod[t]).sqrt()[:, None, None] * noise
    torch.testing.assert_close(s.add_noise(x0, noise, t), expected.float())


def test_strided_schedule_and_bad_arguments():
    s = SSSDECGScheduler()
    s.set_timesteps(20)
    assert len(s.timesteps) == 20 and s.timesteps[0] == 190 and s.timesteps[-1] == 0
    with pytest.raises(ValueError, match="between 1 and 200"):
        s.set_timesteps(500)
    with pytest.raises(ValueError, match="linear"):
        SSSDECGScheduler(beta_schedule="cosine")
    with pytest.raises(ValueError, match="shape"):
        s.step(torch.zeros(1, 8, 4), 190, torch.zeros(1, 8, 5))


@pytest.mark.parametrize("cls", [DDIMScheduler, DPMSolverMultistepScheduler, UniPCMultistepScheduler])
def test_stock_schedulers_build_from_our_config(cls):
    stock = cls.from_config(SSSDECGScheduler().config)
    assert stock.config.num_train_timesteps == 200
    torch.testing.assert_close(stock.alphas_cumprod, SSSDECGScheduler().alphas_cumprod.float())
