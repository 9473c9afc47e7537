"""SSSD-ECG and SSSD-ECG-nle: the noise-prediction network, as a diffusers model.

Architecture (Alcaraz & Strodthoff 2023; Skorik & Avetisyan 2024), for an input of ``G``
generated leads by ``L`` samples:

1. ``input_projection``: weight-normed 1x1 conv ``G -> C`` and ReLU.
2. A timestep embedding: 128 sinusoids of the step index -> two SiLU-activated linear layers.
3. A statement embedding (see :class:`NLELabelEmbedding` / :class:`MultiHotLabelEmbedding`).
4. ``num_layers`` residual blocks, each::

       h = x + Linear(t_emb)                      # per-channel timestep shift
       h = WNConv1d(C -> 2C, width 3)(h)
       h = BidirectionalS4(2C)(h)
       h = h + Linear(label_emb) [+ Linear(sex_emb)]
       h = BidirectionalS4(2C)(h)
       g = tanh(h[:C]) * sigmoid(h[C:])
       x_next = (x + WNConv1x1(g)) * sqrt(1/2);   skip += WNConv1x1(g)

5. ``skip * sqrt(1/num_layers)`` -> weight-normed 1x1 conv + ReLU -> zero-initialised 1x1 conv
   ``C -> G``: the predicted noise.

All sizes are in the config, as are the facts needed to use the weights: the ordered statement
vocabulary ``label_names`` (SCP codes), the ``generated_leads``, ``sampling_rate`` (Hz) and
``sample_length`` (samples).

This file (with ``s4.py`` beside it) travels inside saved pipeline folders as remote code, so it
imports nothing from ``sssd_hf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from .s4 import BidirectionalS4

LABEL_EMBEDDINGS = ("nle", "multi_hot", None)
DEFAULT_NLE_LEADS = ("I", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


@dataclass
class SSSDECGModelOutput(BaseOutput):
    """Output of :class:`SSSDECGModel`.

    Args:
        sample: ``(batch, G, L)`` predicted noise ``epsilon`` for the generated leads.
    """

    sample: torch.Tensor


def timestep_sinusoids(timesteps: torch.Tensor, dim: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(batch,) -> (batch, dim)``: ``[sin(t f_0..f_{d/2-1}), cos(t f_0..f_{d/2-1})]`` with
    ``f_i = 10000^(-i / (d/2 - 1))``, the DiffWave/SSSD embedding of the step index ``t``.

    Computed in ``dtype`` (float32 or float64; the angles reach ``t`` radians, so half precision
    would lose them: pass float32 for half-precision models and cast the result)."""
    if dim % 2 or dim < 4:
        raise ValueError(f"timestep embedding size must be even and >= 4, got {dim}")
    half = dim // 2
    steps = torch.arange(half, device=timesteps.device, dtype=dtype)
    freqs = torch.exp(-math.log(10000.0) / (half - 1) * steps)
    angles = timesteps.to(dtype)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def weight_normed_conv(in_channels: int, out_channels: int, kernel_size: int = 1) -> nn.Conv1d:
    """A weight-normalised ``Conv1d`` with 'same' padding (``weight = g * v / ||v||``)."""
    return weight_norm(nn.Conv1d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2))


class NLELabelEmbedding(nn.Module):
    """SSSD-ECG-nle's statement embedding.

    Every statement ``k`` has its own pair of embeddings (row 0: absent, row 1: present), so an
    absent statement also contributes a learned vector.  With ``K > 1`` statements the ``K``
    selected vectors are mixed by a learned weighted sum (a 1x1 convolution across statements,
    ``mix_weight`` ``(K,)`` and ``mix_bias`` ``(1,)``) into one ``(batch, D)`` embedding; with a
    single statement (the paper's binary setup) the selected vector is the embedding and there
    are no mixing weights, as in the authors' code.

    As in the authors' code, the *present* row is initialised to zero and, unless
    ``learn_present`` is set, receives no gradient (their embeddings use ``padding_idx=-1``).
    """

    def __init__(self, num_labels: int, dim: int, learn_present: bool = False):
        super().__init__()
        if num_labels < 1:
            raise ValueError(f"the nle embedding needs at least one statement, got {num_labels}")
        self.learn_present = learn_present
        pairs = torch.randn(num_labels, 2, dim)
        pairs[:, 1] = 0.0
        self.pair_embeddings = nn.Parameter(pairs)  # (K, 2, D)
        if num_labels > 1:
            bound = 1.0 / math.sqrt(num_labels)
            self.mix_weight = nn.Parameter(torch.empty(num_labels).uniform_(-bound, bound))  # (K,)
            self.mix_bias = nn.Parameter(torch.empty(1).uniform_(-bound, bound))
        else:
            self.mix_weight = self.mix_bias = None
        if not learn_present:
            self.pair_embeddings.register_hook(self._freeze_present_row)

    @staticmethod
    def _freeze_present_row(grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        grad[:, 1] = 0.0
        return grad

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        """``labels``: ``(batch, K)`` in {0, 1} -> ``(batch, D)``."""
        present = labels.to(self.pair_embeddings.dtype)[..., None]  # (B, K, 1)
        chosen = self.pair_embeddings[:, 0] * (1 - present) + self.pair_embeddings[:, 1] * present  # (B, K, D)
        if self.mix_weight is None:
            return chosen[:, 0]
        return torch.einsum("bkd,k->bd", chosen, self.mix_weight) + self.mix_bias


class MultiHotLabelEmbedding(nn.Module):
    """SSSD-ECG's statement embedding: the multi-hot vector times a ``(K, D)`` matrix."""

    def __init__(self, num_labels: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_labels, dim))

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        """``labels``: ``(batch, K)`` -> ``(batch, D)``."""
        return labels.to(self.weight.dtype) @ self.weight


class SSSDResidualBlock(nn.Module):
    """One SSSD-ECG residual block on ``(batch, C, L)``; returns ``(residual_out, skip)``."""

    def __init__(
        self,
        channels: int,
        skip_channels: int,
        timestep_dim: int,
        cond_dims: Sequence[int],
        s4_state_size: int,
        s4_max_length: int,
        s4_dropout: float,
        s4_layer_norm: bool,
        global_context: bool = False,
    ):
        super().__init__()
        self.channels = channels
        self.timestep_proj = nn.Linear(timestep_dim, channels)
        self.conv = weight_normed_conv(channels, 2 * channels, kernel_size=3)
        self.s4_1 = BidirectionalS4(2 * channels, s4_state_size, s4_max_length, s4_layer_norm, s4_dropout)
        self.cond_projs = nn.ModuleList(nn.Linear(d, 2 * channels) for d in cond_dims)
        self.s4_2 = BidirectionalS4(2 * channels, s4_state_size, s4_max_length, s4_layer_norm, s4_dropout)
        self.res_proj = weight_normed_conv(channels, channels)
        self.skip_proj = weight_normed_conv(channels, skip_channels)
        # not in the papers: the time average of the gated features, mapped back onto every sample
        # (zero-initialised, so a block with it starts as the block without it)
        self.global_context = nn.Linear(channels, channels) if global_context else None
        if self.global_context is not None:
            nn.init.zeros_(self.global_context.weight)
            nn.init.zeros_(self.global_context.bias)

    def forward(self, x: torch.Tensor, timestep_emb: torch.Tensor, cond_embs: Sequence[torch.Tensor]):
        h = x + self.timestep_proj(timestep_emb)[:, :, None]
        h = self.s4_1(self.conv(h))
        for proj, emb in zip(self.cond_projs, cond_embs):
            h = h + proj(emb)[:, :, None]
        h = self.s4_2(h)
        gated = torch.tanh(h[:, : self.channels]) * torch.sigmoid(h[:, self.channels :])
        if self.global_context is not None:  # (B, C, L) + (B, C, 1): every sample sees the whole ECG's average
            gated = gated + self.global_context(gated.mean(dim=-1))[:, :, None]
        return (x + self.res_proj(gated)) * math.sqrt(0.5), self.skip_proj(gated)


class SSSDECGModel(ModelMixin, ConfigMixin):
    """SSSD-ECG / SSSD-ECG-nle noise-prediction network.

    Args (all stored in ``config.json``):
        in_channels: ``G``, number of generated leads (8 for both papers).
        channels: residual channels ``C`` (256 in the papers).
        skip_channels: skip channels (256).
        num_layers: residual blocks (36).
        timestep_embed_dims: sinusoid size, hidden and output size of the timestep MLP (128, 512, 512).
        s4_state_size: S4 state size ``N`` (64).
        s4_max_length: S4 kernel length; inputs may be at most this long (1000).
        s4_dropout, s4_layer_norm: S4 dropout (0.0) and layer norm (True).
        label_embedding: ``"nle"`` (SSSD-ECG-nle), ``"multi_hot"`` (SSSD-ECG) or ``None`` (unconditional).
        label_names: ordered statement codes; ``len(label_names)`` is the label vector size ``K``.
        label_embed_dim: statement embedding size ``D`` (128).
        nle_learn_present: train the "present" rows of the nle embedding.  False (default) reproduces
            the authors' model, whose present rows are ``padding_idx`` rows: zero and never trained;
            converted checkpoints carry those zero rows over.
        learn_null_label: add a learned "no conditioning" embedding for classifier-free guidance.
        num_sex_classes, sex_embed_dim: optional sex conditioning (PTB-XL: 0 male, 1 female); 0 disables.
        generated_leads: names of the ``G`` generated leads, in channel order.
        sampling_rate: Hz of the training data (100; 500 for PTB-XL's records500).
        sample_length: samples per ECG (1000 = 10 s at 100 Hz, 5000 = 10 s at 500 Hz); at most
            ``s4_max_length``.
        global_context: not in the papers (False reproduces them): each residual block adds a linear map
            of its gated features' time average to every sample, a direct path for whole-record properties
            such as the heart rate.  Zero-initialised, so switching it on for a fine-tune starts from the
            same function.
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(
        self,
        in_channels: int = 8,
        channels: int = 256,
        skip_channels: int = 256,
        num_layers: int = 36,
        timestep_embed_dims: Sequence[int] = (128, 512, 512),
        s4_state_size: int = 64,
        s4_max_length: int = 1000,
        s4_dropout: float = 0.0,
        s4_layer_norm: bool = True,
        label_embedding: Optional[str] = "nle",
        label_names: Optional[Sequence[str]] = None,
        label_embed_dim: int = 128,
        nle_learn_present: bool = False,
        learn_null_label: bool = False,
        num_sex_classes: int = 0,
        sex_embed_dim: int = 128,
        generated_leads: Sequence[str] = DEFAULT_NLE_LEADS,
        sampling_rate: int = 100,
        sample_length: int = 1000,
        global_context: bool = False,
    ):
        super().__init__()
        if label_embedding not in LABEL_EMBEDDINGS:
            raise ValueError(f"label_embedding must be one of {LABEL_EMBEDDINGS}, got {label_embedding!r}")
        if label_embedding is not None and not label_names:
            raise ValueError(f"label_embedding={label_embedding!r} needs a non-empty label_names list")
        if label_names is not None and len(set(label_names)) != len(label_names):
            raise ValueError(f"label_names has duplicates: {list(label_names)}")
        if len(generated_leads) != in_channels:
            raise ValueError(f"generated_leads names {len(generated_leads)} leads but in_channels={in_channels}")
        if sample_length > s4_max_length:
            raise ValueError(f"sample_length {sample_length} exceeds s4_max_length {s4_max_length}")
        t_in, t_mid, t_out = timestep_embed_dims

        self.input_projection = weight_normed_conv(in_channels, channels)
        self.timestep_mlp = nn.Sequential(nn.Linear(t_in, t_mid), nn.SiLU(), nn.Linear(t_mid, t_out), nn.SiLU())
        num_labels = len(label_names) if label_embedding is not None else 0
        if label_embedding == "nle":
            self.statement_embedding = NLELabelEmbedding(num_labels, label_embed_dim, learn_present=nle_learn_present)
        elif label_embedding == "multi_hot":
            self.statement_embedding = MultiHotLabelEmbedding(num_labels, label_embed_dim)
        else:
            self.statement_embedding = None
        self.null_label_embedding = (
            nn.Parameter(torch.zeros(label_embed_dim)) if learn_null_label and label_embedding else None
        )
        self.sex_embedding = nn.Embedding(num_sex_classes, sex_embed_dim) if num_sex_classes > 0 else None
        cond_dims = ([label_embed_dim] if self.statement_embedding is not None else []) + (
            [sex_embed_dim] if self.sex_embedding is not None else []
        )
        self.blocks = nn.ModuleList(
            SSSDResidualBlock(
                channels, skip_channels, t_out, cond_dims, s4_state_size, s4_max_length, s4_dropout, s4_layer_norm,
                global_context,
            )
            for _ in range(num_layers)
        )
        self.skip_projection = weight_normed_conv(skip_channels, skip_channels)
        self.output_projection = nn.Conv1d(skip_channels, in_channels, kernel_size=1)
        nn.init.zeros_(self.output_projection.weight)
        nn.init.zeros_(self.output_projection.bias)
        self.gradient_checkpointing = False

    @property
    def num_labels(self) -> int:
        return len(self.config.label_names) if self.config.label_embedding is not None else 0

    def _label_embedding(self, labels: Optional[torch.Tensor], drop_labels: Optional[torch.Tensor], batch: int):
        if self.statement_embedding is None:
            if labels is not None:
                raise ValueError("This model is unconditional (label_embedding=None) but labels were given")
            return []
        if labels is None:
            if self.null_label_embedding is None:
                raise ValueError(
                    f"This model is conditioned on {self.num_labels} statements; "
                    f"pass labels of shape (batch, {self.num_labels})"
                )
            return [self.null_label_embedding[None].expand(batch, -1)]
        if labels.shape != (batch, self.num_labels):
            raise ValueError(f"labels must have shape ({batch}, {self.num_labels}), got {tuple(labels.shape)}")
        emb = self.statement_embedding(labels)
        if drop_labels is not None:
            if self.null_label_embedding is None:
                raise ValueError("drop_labels needs a model built with learn_null_label=True")
            emb = torch.where(drop_labels[:, None].bool(), self.null_label_embedding[None].to(emb.dtype), emb)
        return [emb]

    def forward(
        self,
        sample: torch.Tensor,
        timestep: Union[torch.Tensor, float, int],
        labels: Optional[torch.Tensor] = None,
        sex: Optional[torch.Tensor] = None,
        drop_labels: Optional[torch.Tensor] = None,
        return_dict: bool = True,
    ) -> Union[SSSDECGModelOutput, tuple]:
        """Predict the noise in ``sample``.

        Args:
            sample: ``(batch, G, L)`` noisy generated leads (training data units, mV).
            timestep: step index ``t`` in ``[0, T)``: scalar or ``(batch,)``.
            labels: ``(batch, K)`` multi-hot statement vector over ``config.label_names``;
                ``None`` for unconditional models or the learned null condition.
            sex: ``(batch,)`` class indices when ``num_sex_classes > 0``.
            drop_labels: ``(batch,)`` bool, replace those rows' label embedding by the null one
                (classifier-free guidance training).

        Returns:
            :class:`SSSDECGModelOutput` with ``sample`` of shape ``(batch, G, L)``.
        """
        if sample.ndim != 3 or sample.shape[1] != self.config.in_channels:
            raise ValueError(
                f"sample must have shape (batch, {self.config.in_channels}, length), got {tuple(sample.shape)}"
            )
        if sample.shape[-1] > self.config.s4_max_length:
            raise ValueError(f"sample length {sample.shape[-1]} exceeds s4_max_length {self.config.s4_max_length}")
        batch = sample.shape[0]
        timestep = torch.as_tensor(timestep, device=sample.device)
        if timestep.ndim == 0:
            timestep = timestep.expand(batch)
        if timestep.shape != (batch,):
            raise ValueError(f"timestep must be a scalar or have shape ({batch},), got {tuple(timestep.shape)}")
        sinusoid_dtype = torch.promote_types(sample.dtype, torch.float32)  # float64 models: float64 angles
        sinusoids = timestep_sinusoids(timestep, self.config.timestep_embed_dims[0], dtype=sinusoid_dtype)
        t_emb = self.timestep_mlp(sinusoids.to(sample.dtype))
        cond = self._label_embedding(labels, drop_labels, batch)
        if self.sex_embedding is not None:
            if sex is None or sex.shape != (batch,):
                raise ValueError(f"This model is conditioned on sex: pass sex of shape ({batch},)")
            cond.append(self.sex_embedding(sex.long()))
        elif sex is not None:
            raise ValueError("This model is not conditioned on sex (num_sex_classes=0) but sex was given")

        x = F.relu(self.input_projection(sample))
        skip = 0.0
        for block in self.blocks:
            if self.gradient_checkpointing and torch.is_grad_enabled():
                x, block_skip = torch.utils.checkpoint.checkpoint(block, x, t_emb, cond, use_reentrant=False)
            else:
                x, block_skip = block(x, t_emb, cond)
            skip = skip + block_skip
        out = skip * math.sqrt(1.0 / len(self.blocks))
        out = self.output_projection(F.relu(self.skip_projection(out)))
        if not return_dict:
            return (out,)
        return SSSDECGModelOutput(sample=out)

    def labels_to_tensor(self, codes_per_ecg: Sequence[Sequence[str]]) -> torch.Tensor:
        """``[["NORM", "SR"], ["AFIB"]] -> (N, K)`` float multi-hot over ``config.label_names``.

        Raises ``ValueError`` naming unknown codes and listing the valid ones.
        """
        names: List[str] = list(self.config.label_names or [])
        index = {c: i for i, c in enumerate(names)}
        out = torch.zeros(len(codes_per_ecg), len(names))
        for row, codes in enumerate(codes_per_ecg):
            unknown = [c for c in codes if c not in index]
            if unknown:
                raise ValueError(f"Unknown ECG statement code(s) {unknown}. Valid codes are: {', '.join(names)}")
            for c in codes:
                out[row, index[c]] = 1.0
        return out
