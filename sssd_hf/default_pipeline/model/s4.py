"""Structured state-space (S4) layers in plain PyTorch.

An S4 layer treats each of its ``H`` feature channels as a linear time-invariant state-space
model ``x' = A x + B u``, ``y = C x`` with state size ``N``, discretised with the bilinear
transform at a learned step ``dt``.  Such a model acts on a sequence as a long convolution, so
the layer computes the convolution *kernel* ``K[l] = C dA^l dB`` (``l = 0 .. L-1``) and applies it
with FFTs.

``A`` is the HiPPO-LegS matrix in its normal-plus-low-rank (NPLR) form: after a unitary change
of basis ``A = diag(w) - P Q^T`` with ``Q = conj(P)`` and ``w`` in complex-conjugate pairs, so only
half of the state (``N/2`` entries) is stored.  The kernel's generating function at the roots of
unity then has the closed form (Gu et al., "Efficiently Modeling Long Sequences with Structured
State Spaces", ICLR 2022, Thm. 3)::

    K^(w_k) = 2/(1+w_k) [ k_BC - k_BQ (1 + k_PQ)^-1 k_PC ],
    k_XY(w_k) = sum_n  dt X_n Y_n / (z_k - dt w_n),   z_k = 2 (1 - w_k) / (1 + w_k)

where the sum runs over all ``N`` (conjugate-paired) state entries and ``C`` already carries the
length correction ``C (I - dA^L)``.  We evaluate it in the equivalent form with the ``2/(1+w_k)``
factor folded into each term, which stays finite at the Nyquist node ``w_k = -1``, and obtain
``K`` with an inverse real FFT.

Only ``C`` (and the skip term ``D`` and output projection) are trained, as in SSSD-ECG:
``w, B, P, Q, log_dt`` are fixed buffers drawn at initialisation.  Because the map from ``C`` to
the kernel is then linear with a fixed Cauchy matrix, the Cauchy matrix is never stored for the
backward pass: :class:`_CauchyProduct` recomputes it chunk by chunk, so training memory does not
grow with ``H * N * L``.  In inference (no gradient) the kernel's spectrum is cached and reused
until a parameter or buffer changes.
"""

from __future__ import annotations

import functools
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

# Feature rows of the Cauchy matrix built at once.  Small enough that a chunk
# (chunk * num_nodes * N/2 complex numbers, about 1 MB at the paper size) stays in cache:
# building the whole matrix at once is memory-bound and about 7x slower on a CPU.
_CAUCHY_CHUNK = 8


# ----------------------------------------------------------------------------------------------
# HiPPO-LegS initialisation
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _hippo_legs(state_size: int):
    if state_size < 2 or state_size % 2:
        raise ValueError(f"S4 state size must be an even number >= 2, got {state_size}")
    n = torch.arange(state_size, dtype=torch.float64, device="cpu")  # cached: never on the meta device
    r = torch.sqrt(2 * n + 1)
    a = -(torch.tril(torch.outer(r, r), diagonal=-1) + torch.diag(n + 1))
    p = torch.sqrt(n + 0.5)
    skew = a + torch.outer(p, p) + 0.5 * torch.eye(state_size, dtype=torch.float64, device="cpu")
    # skew is real skew-symmetric: -i * skew is Hermitian with real eigenvalues lambda.
    lam, vecs = torch.linalg.eigh(-1j * skew.to(torch.complex128))
    keep = lam > 0
    if int(keep.sum()) != state_size // 2:
        raise RuntimeError("HiPPO-LegS eigenvalues are not in conjugate pairs")
    return a, r, p, torch.complex(torch.full_like(lam[keep], -0.5), lam[keep]), vecs[:, keep]


def hippo_legs_nplr(state_size: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """HiPPO-LegS and its diagonal-plus-low-rank (NPLR) form.

    LegS has ``A[n, k] = -sqrt(2n+1) sqrt(2k+1)`` for ``n > k``, ``-(n+1)`` on the diagonal and 0
    above it, and ``B[n] = sqrt(2n+1)``.  With ``p[n] = sqrt(n + 1/2)``, ``A + p p^T`` equals
    ``-I/2`` plus a real skew-symmetric matrix, hence is normal with eigenvalues ``-1/2 + i lambda``
    in conjugate pairs and a unitary eigenbasis ``[V, conj(V)]``.

    Returns (float64 / complex128), for the ``N/2`` eigenvalues with positive imaginary part:
    ``a`` ``(N, N)`` the real LegS matrix, ``w`` ``(N/2,)`` eigenvalues, ``p_v = V^* p``,
    ``b_v = V^* B`` ``(N/2,)``, and ``v`` ``(N, N/2)`` the eigenvectors; in that basis
    ``A = diag(w) - p_v p_v^*`` on each conjugate half.
    """
    a, r, p, w, v = _hippo_legs(state_size)
    v_h = v.conj().T
    return a.clone(), w.clone(), v_h @ p.to(torch.complex128), v_h @ r.to(torch.complex128), v.clone()


def _conj_pairs(x: torch.Tensor) -> torch.Tensor:
    """``(..., N/2)`` half of a conjugate-paired vector -> ``(..., N)`` full vector."""
    return torch.cat([x, x.conj()], dim=-1)


def length_corrected_c(
    c: torch.Tensor, a: torch.Tensor, v: torch.Tensor, dt: torch.Tensor, length: int
) -> torch.Tensor:
    """``C (I - dA^L)`` for ``C`` given in the NPLR eigenbasis (half, ``(channels, H, N/2)``).

    ``dA = (I - dt/2 A)^-1 (I + dt/2 A)`` is the bilinear discretisation.  The power is taken in
    LegS's original real basis (``a``: ``(N, N)``; real arithmetic, 4x cheaper than complex) and
    mapped to the eigenbasis with the unitary ``[v, conj v]``: ``C' dA'^L = (C' V^*) dA^L V``.
    """
    eye = torch.eye(a.shape[-1], dtype=a.dtype)
    half = (dt.to(a.dtype) / 2)[:, None, None] * a
    d_a_l = torch.linalg.matrix_power(torch.linalg.solve(eye - half, eye + half), length)  # (H, N, N)
    v_full = torch.cat([v, v.conj()], dim=-1)  # (N, N)
    c_full = _conj_pairs(c)  # (channels, H, N)
    c_orig = c_full @ v_full.conj().T
    correction = torch.einsum("chm,hmn->chn", c_orig, d_a_l.to(c_orig.dtype)) @ v_full
    return (c_full - correction)[..., : c.shape[-1]]


# ----------------------------------------------------------------------------------------------
# The generating function: a memory-lean Cauchy product
# ----------------------------------------------------------------------------------------------


def _cauchy_matrix(num: torch.Tensor, den: torch.Tensor, w_dt: torch.Tensor) -> torch.Tensor:
    """``1 / (2 (1 - omega) - w dt (1 + omega))`` laid out ``(H, N/2, K)``.

    ``num = 2 (1 - omega)``, ``den = 1 + omega`` are ``(K,)`` over the K frequency nodes and
    ``w_dt`` is ``(H, N/2)``.  (The numerator ``2 dt`` is folded into the caller's ``v``.)
    """
    m = torch.mul(w_dt[:, :, None], den)
    torch.sub(num, m, out=m)
    return torch.reciprocal(m, out=m)


class _CauchyProduct(torch.autograd.Function):
    """``out[h, j, k] = sum_n v[h, j, n] M[h, n, k]`` with ``M = _cauchy_matrix(...)``.

    ``M`` depends only on fixed buffers, so only ``v`` receives a gradient, and ``M`` is rebuilt
    chunk by chunk (over ``h``) in both passes instead of being stored.
    """

    @staticmethod
    def forward(ctx, v, num, den, w_dt):  # noqa: D102 - autograd protocol
        ctx.save_for_backward(num, den, w_dt)
        out = v.new_empty(v.shape[0], v.shape[1], num.shape[0])
        for s in range(0, v.shape[0], _CAUCHY_CHUNK):
            e = s + _CAUCHY_CHUNK
            torch.matmul(v[s:e], _cauchy_matrix(num, den, w_dt[s:e]), out=out[s:e])
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102 - autograd protocol
        num, den, w_dt = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        grad_v = grad_out.new_empty(grad_out.shape[0], grad_out.shape[1], w_dt.shape[-1])
        for s in range(0, grad_out.shape[0], _CAUCHY_CHUNK):
            e = s + _CAUCHY_CHUNK
            torch.matmul(grad_out[s:e], _cauchy_matrix(num, den, w_dt[s:e]).mH, out=grad_v[s:e])
        return grad_v, None, None, None


class _FFTConvolution(torch.autograd.Function):
    """``y = irfft(rfft(u, 2L) * rfft(k))[..., :L]``: ``u`` ``(B, H, L)`` convolved with the circular
    two-sided kernels ``k`` ``(H, 2L)`` (real, float32/64), with a hand-written backward.

    Autograd's own backward of ``rfft`` zero-pads the gradient to a full complex FFT (about five
    times the cost of the forward ``rfft`` here); the adjoints below need only real FFTs:
    ``grad_u = irfft(G conj(K))[..., :L]`` (correlation with the kernel) and
    ``grad_k = irfft(sum_b G conj(U))`` (correlation of gradient and input), ``G = rfft(grad_y, 2L)``.
    """

    @staticmethod
    def forward(ctx, u, k):  # noqa: D102 - autograd protocol
        length, n = u.shape[-1], k.shape[-1]
        u_spectrum, k_spectrum = torch.fft.rfft(u, n=n), torch.fft.rfft(k, n=n)
        ctx.save_for_backward(u_spectrum, k_spectrum)
        ctx.length = length
        return torch.fft.irfft(u_spectrum * k_spectrum, n=n)[..., :length]

    @staticmethod
    def backward(ctx, grad_y):  # noqa: D102 - autograd protocol
        u_spectrum, k_spectrum = ctx.saved_tensors
        n = 2 * (k_spectrum.shape[-1] - 1)
        g_spectrum = torch.fft.rfft(grad_y, n=n)
        grad_u = grad_k = None
        if ctx.needs_input_grad[0]:
            grad_u = torch.fft.irfft(g_spectrum * k_spectrum.conj(), n=n)[..., : ctx.length]
        if ctx.needs_input_grad[1]:
            grad_k = torch.fft.irfft((g_spectrum * u_spectrum.conj()).sum(0), n=n)
        return grad_u, grad_k


def nplr_kernel(
    c: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    p: torch.Tensor,
    q: torch.Tensor,
    log_dt: torch.Tensor,
    kernel_length: int,
) -> torch.Tensor:
    """Convolution kernels of ``H`` NPLR state-space models via their generating function.

    Args:
        c: ``(channels, H, N/2)`` complex output matrix (length-corrected ``C (I - dA^L)``).
        w: ``(H, N/2)`` complex diagonal of ``A``; ``b, p, q``: ``(H, N/2)`` complex.
        log_dt: ``(H,)`` log step sizes.
        kernel_length: ``L``, the number of kernel taps (the length the correction was made for).

    Returns:
        ``(channels, H, L)`` real kernels.
    """
    channels, length = c.shape[0], kernel_length
    dt = torch.exp(log_dt)
    # All L roots of unity: the conjugate half of each state pair is evaluated as the complex
    # conjugate of its partner at the mirrored node -k (see module docstring).
    angle = -2 * math.pi * torch.arange(length, dtype=torch.float64, device=c.device) / length
    omega = torch.polar(torch.ones_like(angle), angle).to(c.dtype)
    num, den = 2 * (1 - omega), 1 + omega
    # Rows: B*C per channel, B*Q, P*C per channel, P*Q  -> (H, 2 channels + 2, N/2)
    v = torch.cat([b[None] * c, (b * q)[None], p[None] * c, (p * q)[None]], dim=0)
    v = (v * (2 * dt)[None, :, None]).transpose(0, 1).contiguous()
    half = _CauchyProduct.apply(v, num, den, w * dt[:, None])  # (H, J, L)
    # Only nodes 0..L/2 are needed (the spectrum of a real kernel is conjugate-symmetric);
    # node -k is node L-k, so the mirrored values are the reversed tail.
    nodes = length // 2 + 1
    mirrored = torch.cat([half[..., :1], half[..., length - nodes + 1 :].flip(-1)], dim=-1)
    full = half[..., :nodes] + mirrored.conj()  # both members of every conjugate pair
    k_bc, k_bq = full[:, :channels], full[:, channels : channels + 1]
    k_pc, k_pq = full[:, channels + 1 : 2 * channels + 1], full[:, -1:]
    # The 2/(1+omega) factor is inside every k_XY; the rank-one correction needs it once.
    half_den = den[:nodes] / 2
    spectrum = k_bc - (k_bq * (half_den / (1 + k_pq * half_den))) * k_pc  # (H, channels, L/2+1)
    return torch.fft.irfft(spectrum, n=length, dim=-1).transpose(0, 1).to(log_dt.dtype)


# ----------------------------------------------------------------------------------------------
# Modules
# ----------------------------------------------------------------------------------------------


class S4Kernel(nn.Module):
    """Bank of ``H`` HiPPO-LegS NPLR state-space kernels with ``channels`` outputs each.

    Parameters (real views of complex tensors have a trailing dimension 2):
        ``C``: ``(channels, H, N/2, 2)`` trainable output matrix (length-corrected).
    Buffers (fixed, saved in the state dict):
        ``log_dt`` ``(H,)``, ``w`` ``(H, N/2, 2)``, ``B``, ``P``, ``Q`` ``(H, N/2, 2)``.
    """

    def __init__(
        self,
        num_features: int,
        state_size: int = 64,
        max_length: int = 1000,
        channels: int = 1,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ):
        super().__init__()
        if max_length < 2:
            raise ValueError(f"S4 max_length must be >= 2, got {max_length}")
        self.num_features = num_features
        self.state_size = state_size
        self.max_length = max_length
        self.channels = channels
        h, half_n = num_features, state_size // 2
        if torch.empty(0).device.type == "meta":  # shapes only (e.g. before loading a checkpoint)
            hippo_legs_nplr(state_size)  # still validates state_size
            self.C = nn.Parameter(torch.empty(channels, h, half_n, 2))
            self.register_buffer("log_dt", torch.empty(h))
            for name in ("w", "B", "P", "Q"):
                self.register_buffer(name, torch.empty(h, half_n, 2))
            return
        a, w, p, b, v = hippo_legs_nplr(state_size)
        log_dt = torch.empty(h, dtype=torch.float64).uniform_(math.log(dt_min), math.log(dt_max))
        w, p, b = (x.expand(h, -1).clone() for x in (w, p, b))
        q = p.conj()
        c = torch.randn(channels, h, half_n, dtype=torch.complex128)
        # Length correction C <- C (I - dA^L): the generating function on the L-th roots of unity
        # then gives exactly the first L taps of the kernel of the original C.
        c = length_corrected_c(c, a, v, torch.exp(log_dt), max_length)
        self.C = nn.Parameter(torch.view_as_real(c.to(torch.complex64)).contiguous())
        self.register_buffer("log_dt", log_dt.float())
        for name, value in (("w", w), ("B", b), ("P", p), ("Q", q)):
            self.register_buffer(name, torch.view_as_real(value.to(torch.complex64)).contiguous())

    def forward(self, length: Optional[int] = None) -> torch.Tensor:
        """Kernels ``(channels, H, length)`` (``length <= max_length``), in the dtype of ``C``."""
        length = self.max_length if length is None else length
        if length > self.max_length:
            raise ValueError(
                f"Sequence length {length} exceeds the S4 kernel length {self.max_length} "
                "(s4_max_length in the config)"
            )
        # At least float32: half-precision models (bf16/fp16) still get float32 kernels and FFTs.
        dtype = torch.promote_types(self.C.dtype, torch.float32)
        cplx = lambda t: torch.view_as_complex(t.to(dtype).contiguous())  # noqa: E731
        kernel = nplr_kernel(
            cplx(self.C),
            cplx(self.w),
            cplx(self.B),
            cplx(self.P),
            cplx(self.Q),
            self.log_dt.to(dtype),
            self.max_length,
        )
        return kernel[..., :length]

    def extra_repr(self) -> str:
        return f"H={self.num_features}, N={self.state_size}, L={self.max_length}, channels={self.channels}"


class BidirectionalS4(nn.Module):
    """A bidirectional S4 layer with GELU, output projection, residual and layer norm.

    ``y = LayerNorm(u + W gelu(K_fwd * u + K_bwd *' u + D u) + b)`` where ``K_fwd * u`` is the causal
    convolution with the forward kernel, ``K_bwd *' u`` the anti-causal one with the backward kernel
    (taps from lag 1 on), ``D`` a per-feature skip gain, and the normalisation is over features.

    Input and output: ``(batch, H, L)``.
    """

    def __init__(
        self,
        num_features: int,
        state_size: int = 64,
        max_length: int = 1000,
        layer_norm: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.kernel = S4Kernel(num_features, state_size, max_length, channels=2)
        self.D = nn.Parameter(torch.randn(num_features))
        self.output_proj = nn.Conv1d(num_features, num_features, kernel_size=1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.norm = nn.LayerNorm(num_features) if layer_norm else nn.Identity()
        self._spectrum_cache: Optional[Tuple[tuple, torch.Tensor]] = None

    # -- kernel spectrum, cached in inference ------------------------------------------------
    def _cache_key(self, length: int, device: torch.device) -> tuple:
        tensors = [self.kernel.C, self.kernel.log_dt, self.kernel.w, self.kernel.B, self.kernel.P, self.kernel.Q]
        return (length, device, self.kernel.C.dtype) + tuple((t.data_ptr(), t._version) for t in tensors)

    def bidirectional_kernel_spectrum(self, length: int) -> torch.Tensor:
        """rFFT (size ``2 length``) of the two-sided kernel, ``(H, length + 1)`` complex.

        Computed once and reused while no parameter or buffer changes (in-place optimizer
        updates, ``load_state_dict`` and ``.to()`` all invalidate it) whenever no gradient is
        needed; recomputed on every call in training.
        """
        needs_grad = self._kernel_needs_grad()
        if not needs_grad and self._spectrum_cache is not None:
            key, spectrum = self._spectrum_cache
            if key == self._cache_key(length, self.kernel.C.device):
                return spectrum
        spectrum = torch.fft.rfft(self.two_sided_kernel(length), n=2 * length)
        if needs_grad:
            self._spectrum_cache = None
        else:
            self._spectrum_cache = (self._cache_key(length, self.kernel.C.device), spectrum)
        return spectrum

    def two_sided_kernel(self, length: int) -> torch.Tensor:
        """``(H, 2 length)`` real circular kernel: forward taps at lags ``0..L-1``, backward taps
        (anti-causal, lags ``1..L``) at the end, so one circular convolution of the zero-padded
        input gives both directions."""
        k = self.kernel(length)  # (2, H, length)
        return F.pad(k[0], (0, length)) + F.pad(k[1].flip(-1), (length, 0))

    def _kernel_needs_grad(self) -> bool:
        return torch.is_grad_enabled() and self.kernel.C.requires_grad

    def clear_cache(self) -> None:
        self._spectrum_cache = None

    def _apply(self, fn, *args, **kwargs):  # .to(), .cuda(), .half(): drop the cached spectrum
        self._spectrum_cache = None
        return super()._apply(fn, *args, **kwargs)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        length = u.shape[-1]
        u_fft = u if u.dtype in (torch.float32, torch.float64) else u.float()  # no half-precision FFTs
        if self._kernel_needs_grad():  # training: real-FFT backward (see _FFTConvolution)
            kernel = self.two_sided_kernel(length)
            dtype = torch.promote_types(u_fft.dtype, kernel.dtype)
            y = _FFTConvolution.apply(u_fft.to(dtype), kernel.to(dtype))
        else:  # inference: the cached spectrum
            spectrum = self.bidirectional_kernel_spectrum(length)
            y = torch.fft.irfft(torch.fft.rfft(u_fft, n=2 * length) * spectrum, n=2 * length)[..., :length]
        y = y.to(u.dtype) + u * self.D[:, None].to(u.dtype)
        y = self.output_proj(self.dropout(F.gelu(y)))
        y = self.dropout(y) + u
        return self.norm(y.transpose(1, 2)).transpose(1, 2)
