"""The S4 kernel against the state-space equations it stands for."""

import math

import pytest
import torch

from sssd_hf.models.s4 import (
    BidirectionalS4,
    S4Kernel,
    _conj_pairs,
    _FFTConvolution,
    hippo_legs_nplr,
    nplr_kernel,
)


def _complex(t):
    return torch.view_as_complex(t.contiguous())


def _explicit_kernel(w, p, q, b, c_original, dt, length):
    """K[l] = C dA^l dB for the conjugate-extended system, by plain recurrence (float64)."""
    w, p, q, b, c = (_conj_pairs(x) for x in (w, p, q, b, c_original))
    a = torch.diag_embed(w) - p.unsqueeze(-1) * q.unsqueeze(-2)  # (H, N, N)
    eye = torch.eye(a.shape[-1], dtype=a.dtype)
    left = eye - (dt / 2)[:, None, None] * a
    d_a = torch.linalg.solve(left, eye + (dt / 2)[:, None, None] * a)
    d_b = torch.linalg.solve(left, (dt[:, None] * b).unsqueeze(-1)).squeeze(-1)  # (H, N)
    taps, state = [], d_b
    for _ in range(length):
        taps.append(torch.einsum("chn,hn->ch", c, state))
        state = torch.einsum("hmn,hn->hm", d_a, state)
    return torch.stack(taps, dim=-1).real  # (channels, H, L)


def test_hippo_legs_nplr_reconstructs_the_legs_matrix():
    a, w, p, b, v = hippo_legs_nplr(16)
    n = torch.arange(16, dtype=torch.float64)
    # LegS by its definition
    expected = torch.zeros(16, 16, dtype=torch.float64)
    for i in range(16):
        for k in range(16):
            if i > k:
                expected[i, k] = -math.sqrt(2 * i + 1) * math.sqrt(2 * k + 1)
            elif i == k:
                expected[i, k] = -(i + 1)
    assert torch.allclose(a, expected)
    v_full = torch.cat([v, v.conj()], dim=1)
    assert torch.allclose(v_full.conj().T @ v_full, torch.eye(16, dtype=torch.complex128), atol=1e-10)
    p_full, w_full = _conj_pairs(p), _conj_pairs(w)
    rebuilt = v_full @ (torch.diag(w_full) - torch.outer(p_full, p_full.conj())) @ v_full.conj().T
    assert torch.allclose(rebuilt.real, expected, atol=1e-9) and rebuilt.imag.abs().max() < 1e-9
    assert torch.allclose(v_full @ _conj_pairs(b), torch.sqrt(2 * n + 1).to(torch.complex128), atol=1e-9)
    assert torch.allclose(w.real, torch.full((8,), -0.5, dtype=torch.float64)) and (w.imag > 0).all()


@pytest.mark.parametrize("length", [64, 37])
def test_generating_function_kernel_equals_recurrence(length):
    torch.manual_seed(0)
    h, n = 4, 16
    _, w, p, b, v = hippo_legs_nplr(n)
    w, p, b = (x.expand(h, -1).clone() for x in (w, p, b))
    q = p.conj()
    dt = torch.exp(torch.empty(h, dtype=torch.float64).uniform_(math.log(1e-3), math.log(1e-1)))
    dt[0] = 0.5  # a coarse step too
    c = torch.randn(2, h, n // 2, dtype=torch.complex128)
    from sssd_hf.models.s4 import length_corrected_c

    a = hippo_legs_nplr(n)[0]
    c_tilde = length_corrected_c(c, a, v, dt, length)
    fast = nplr_kernel(c_tilde, w, b, p, q, torch.log(dt), length)
    slow = _explicit_kernel(w, p, q, b, c, dt, length)
    assert fast.shape == (2, h, length)
    torch.testing.assert_close(fast, slow, rtol=1e-8, atol=1e-10)


def test_cauchy_backward_matches_autograd_and_needs_no_stored_matrix():
    torch.manual_seed(0)
    kernel = S4Kernel(2, state_size=4, max_length=16, channels=2).double()
    c = kernel.C.detach().clone().requires_grad_(True)

    def f(c_real):
        return nplr_kernel(
            _complex(c_real),
            _complex(kernel.w),
            _complex(kernel.B),
            _complex(kernel.P),
            _complex(kernel.Q),
            kernel.log_dt,
            16,
        )

    assert torch.autograd.gradcheck(f, (c,), eps=1e-6, atol=1e-6)


def test_bidirectional_layer_is_the_two_sided_convolution():
    torch.manual_seed(0)
    layer = BidirectionalS4(4, state_size=8, max_length=20, layer_norm=False).double().eval()
    u = torch.randn(2, 4, 20, dtype=torch.float64)
    k = layer.kernel(20)  # (2, H, L)
    conv = torch.zeros_like(u)
    for t in range(20):
        for s in range(20):
            conv[..., t] += (k[0, :, t - s] if s <= t else k[1, :, s - t - 1]) * u[..., s]
    pre = torch.nn.functional.gelu(conv + layer.D[:, None] * u)
    expected = torch.einsum("oi,bil->bol", layer.output_proj.weight[..., 0], pre) + layer.output_proj.bias[:, None] + u
    torch.testing.assert_close(layer(u), expected)


def test_fft_convolution_backward_is_the_adjoint():
    torch.manual_seed(0)
    u = torch.randn(3, 4, 10, dtype=torch.float64, requires_grad=True)
    k = torch.randn(4, 20, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_FFTConvolution.apply, (u, k), eps=1e-6, atol=1e-7)
    # and equal to autograd through the plain formula
    y = _FFTConvolution.apply(u, k)
    plain = torch.fft.irfft(torch.fft.rfft(u, n=20) * torch.fft.rfft(k, n=20), n=20)[..., :10]
    torch.testing.assert_close(y, plain)
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, (u, k), g)
    torch.testing.assert_close(grads, torch.autograd.grad(plain, (u, k), g))


def test_training_and_inference_paths_of_the_layer_agree():
    torch.manual_seed(0)
    layer = BidirectionalS4(4, state_size=8, max_length=20).double()
    u = torch.randn(2, 4, 20, dtype=torch.float64)
    trained = layer(u)  # parameters require grad: the custom-backward path
    with torch.no_grad():
        cached = layer(u)  # the cached-spectrum path
    torch.testing.assert_close(trained.detach(), cached)
    trained.square().sum().backward()
    assert layer.kernel.C.grad is not None and torch.isfinite(layer.kernel.C.grad).all()


def test_kernel_cache_reused_in_inference_and_invalidated_on_change():
    torch.manual_seed(0)
    layer = BidirectionalS4(4, state_size=8, max_length=16).eval()
    u = torch.randn(1, 4, 16)
    with torch.no_grad():
        first = layer.bidirectional_kernel_spectrum(16)
        assert layer.bidirectional_kernel_spectrum(16) is first  # cached
        y1 = layer(u)
        layer.kernel.C.mul_(2.0)  # in-place change, as an optimizer step makes
        assert layer.bidirectional_kernel_spectrum(16) is not first
        y2 = layer(u)
    assert not torch.allclose(y1, y2)
    # with gradients, never cached
    spectrum = layer.bidirectional_kernel_spectrum(16)
    assert spectrum.requires_grad and layer._spectrum_cache is None


def test_kernel_rejects_sequences_longer_than_its_length():
    layer = BidirectionalS4(4, state_size=8, max_length=16)
    with pytest.raises(ValueError, match="exceeds the S4 kernel length 16"):
        layer(torch.randn(1, 4, 17))


def test_odd_state_size_is_rejected():
    with pytest.raises(ValueError, match="even"):
        S4Kernel(4, state_size=7)
