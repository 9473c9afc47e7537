"""The downstream ECG classifier: an xresnet1d as a ``transformers`` model.

The architecture follows the xresnet1d family that leads the PTB-XL benchmark (Strodthoff et al.
2021) and that SSSD-ECG was evaluated with: a three-convolution stem, residual stages whose
shortcut average-pools when the stage downsamples, batch norm with the last norm of every residual
branch initialised to zero, and a head of concatenated average and max pooling followed by
batch-norm / dropout / linear layers.  It is written here from that description.

:class:`ECGClassifierConfig` and :class:`ECGClassifierModel` are a ``PretrainedConfig`` /
``PreTrainedModel`` pair, so a trained classifier saves, loads and publishes like any Hub model::

    config = ECGClassifierConfig.from_preset("xresnet1d18_small", label_names=["AFIB", "NORM"])
    model = ECGClassifierModel(config)
    out = model(signal)            # signal (N, 12, L) millivolts -> out.logits (N, K)
    model.save_pretrained("clf"); ECGClassifierModel.from_pretrained("clf")

Every output is a sigmoid logit: the model is multi-label over ``label_names``; a binary
classifier is the same model with a single statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

try:  # transformers >= 5 guards initialisation of loaded weights through its own init functions
    from transformers import initialization as init
except ImportError:  # pragma: no cover - transformers 4.x
    from torch.nn import init

#: Architecture presets: name -> config keyword arguments.
PRESETS: Dict[str, Dict] = {
    # xresnet1d101 of the PTB-XL benchmark (bottleneck blocks, depths 3-4-23-3)
    "xresnet1d101": dict(
        stem_channels=(32, 32, 64), block_channels=(64, 128, 256, 512), depths=(3, 4, 23, 3), expansion=4
    ),
    "xresnet1d50": dict(
        stem_channels=(32, 32, 64), block_channels=(64, 128, 256, 512), depths=(3, 4, 6, 3), expansion=4
    ),
    "xresnet1d18": dict(
        stem_channels=(32, 32, 64), block_channels=(64, 128, 256, 512), depths=(2, 2, 2, 2), expansion=1
    ),
    # xresnet1d18 at a quarter of the width (0.43 M parameters, ~10x less compute): the default,
    # sized for a 2-core CPU (BENCHMARKS.md, "Downstream utility on CPU"); the others are for a GPU
    "xresnet1d18_small": dict(
        stem_channels=(16, 16, 16), block_channels=(16, 32, 64, 128), depths=(2, 2, 2, 2), expansion=1
    ),
    # a few thousand parameters: for tests and quick CPU checks
    "tiny": dict(stem_channels=(8, 8, 16), block_channels=(16, 32), depths=(1, 1), expansion=1, head_hidden=16),
}


class ECGClassifierConfig(PretrainedConfig):
    """Configuration of :class:`ECGClassifierModel`.

    Args:
        label_names: the K statement codes the classifier predicts (K = 1 for a binary task).
        in_channels: number of leads (12).
        sampling_rate: Hz of the signals it was trained on (informative; the network accepts any L).
        stem_channels: output channels of the three stem convolutions.
        block_channels: inner width of each residual stage.
        depths: number of residual blocks per stage.
        expansion: 1 for basic blocks (two k-convolutions), 4 for bottleneck blocks (1-k-1).
        kernel_size: odd kernel size of the convolutions along time (5 in the PTB-XL benchmark).
        head_hidden: width of the hidden head layer (None: pooled features go straight to the
            output layer); its activations are the embedding returned by ``embed``.
        head_dropout: dropout before the output layer (half of it before the hidden layer).
        input_mean, input_std: per-lead normalisation in millivolts, applied inside ``forward``
            (set from the training set by the training code; None = no normalisation).
    """

    model_type = "sssd_ecg_classifier"

    def __init__(
        self,
        label_names: Sequence[str] = ("NORM",),
        in_channels: int = 12,
        sampling_rate: float = 100.0,
        stem_channels: Sequence[int] = (32, 32, 64),
        block_channels: Sequence[int] = (64, 128, 256, 512),
        depths: Sequence[int] = (3, 4, 6, 3),
        expansion: int = 4,
        kernel_size: int = 5,
        head_hidden: Optional[int] = 128,
        head_dropout: float = 0.5,
        input_mean: Optional[Sequence[float]] = None,
        input_std: Optional[Sequence[float]] = None,
        **kwargs,
    ):
        self.label_names = list(label_names)
        self.in_channels = int(in_channels)
        self.sampling_rate = float(sampling_rate)
        self.stem_channels = list(stem_channels)
        self.block_channels = list(block_channels)
        self.depths = list(depths)
        self.expansion = int(expansion)
        self.kernel_size = int(kernel_size)
        self.head_hidden = head_hidden
        self.head_dropout = float(head_dropout)
        self.input_mean = None if input_mean is None else [float(v) for v in input_mean]
        self.input_std = None if input_std is None else [float(v) for v in input_std]
        kwargs["id2label"] = {i: code for i, code in enumerate(self.label_names)}
        kwargs["label2id"] = {code: i for i, code in enumerate(self.label_names)}
        kwargs.setdefault("problem_type", "multi_label_classification")
        super().__init__(**kwargs)
        self._validate()

    def _validate(self) -> None:
        if not self.label_names or len(set(self.label_names)) != len(self.label_names):
            raise ValueError(f"label_names must be non-empty and unique, got {self.label_names}")
        if len(self.stem_channels) != 3:
            raise ValueError(f"stem_channels must have 3 entries, got {self.stem_channels}")
        if not self.block_channels or len(self.block_channels) != len(self.depths) or min(self.depths) < 1:
            raise ValueError(f"block_channels {self.block_channels} and depths {self.depths} must be non-empty, "
                             "of equal length, with depths >= 1")
        if self.expansion not in (1, 4):
            raise ValueError(f"expansion must be 1 (basic blocks) or 4 (bottleneck blocks), got {self.expansion}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        for key in ("input_mean", "input_std"):
            value = getattr(self, key)
            if value is not None and len(value) != self.in_channels:
                raise ValueError(f"{key} needs {self.in_channels} values (one per lead), got {len(value)}")
        if self.input_std is not None and min(self.input_std) <= 0:
            raise ValueError(f"input_std must be positive, got {self.input_std}")

    @classmethod
    def from_preset(cls, preset: str, label_names: Sequence[str], **overrides) -> "ECGClassifierConfig":
        """A config from :data:`PRESETS` (``"xresnet1d50"``, ``"tiny"``, ...) for ``label_names``."""
        if preset not in PRESETS:
            raise ValueError(f"unknown classifier preset {preset!r}; choose from {sorted(PRESETS)}")
        return cls(label_names=label_names, **{**PRESETS[preset], **overrides})


@dataclass
class ECGClassifierOutput(ModelOutput):
    """Output of :class:`ECGClassifierModel`.

    Attributes:
        loss: mean binary cross-entropy, when ``labels`` were given.
        logits: (N, K) sigmoid logits.
        embeddings: (N, D) penultimate features (see :meth:`ECGClassifierModel.embed`).
    """

    loss: Optional[torch.Tensor] = None
    logits: Optional[torch.Tensor] = None
    embeddings: Optional[torch.Tensor] = None


def _conv_bn(
    in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, act: bool = True, zero_bn: bool = False
) -> nn.Sequential:
    """Conv1d (no bias, 'same' padding) -> BatchNorm1d [-> ReLU]; (N, in_ch, L) -> (N, out_ch, ceil(L / stride))."""
    bn = nn.BatchNorm1d(out_ch)
    bn.zero_init = zero_bn  # read by _init_weights: residual branches start as the identity
    layers: List[nn.Module] = [
        nn.Conv1d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
        bn,
    ]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResidualBlock1d(nn.Module):
    """A basic (expansion 1) or bottleneck (expansion 4) residual block.

    (N, in_ch, L) -> (N, width * expansion, ceil(L / stride)); the shortcut average-pools when
    ``stride`` is 2 and projects with a 1x1 convolution when the channel count changes.
    """

    def __init__(self, in_ch: int, width: int, expansion: int, kernel_size: int, stride: int):
        super().__init__()
        out_ch = width * expansion
        if expansion == 1:
            branch = [
                _conv_bn(in_ch, width, kernel_size, stride),
                _conv_bn(width, out_ch, kernel_size, act=False, zero_bn=True),
            ]
        else:
            branch = [_conv_bn(in_ch, width, 1), _conv_bn(width, width, kernel_size, stride),
                      _conv_bn(width, out_ch, 1, act=False, zero_bn=True)]
        self.branch = nn.Sequential(*branch)
        shortcut: List[nn.Module] = []
        if stride != 1:
            shortcut.append(nn.AvgPool1d(stride, ceil_mode=True))
        if in_ch != out_ch:
            shortcut.append(_conv_bn(in_ch, out_ch, 1, act=False))
        self.shortcut = nn.Sequential(*shortcut)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.branch(x) + self.shortcut(x))


class ECGClassifierModel(PreTrainedModel):
    """xresnet1d classifier of 12-lead ECGs; see :class:`ECGClassifierConfig`."""

    config_class = ECGClassifierConfig
    base_model_prefix = "xresnet1d"
    main_input_name = "signal"

    def __init__(self, config: ECGClassifierConfig):
        super().__init__(config)
        k = config.kernel_size
        s = config.stem_channels
        self.stem = nn.Sequential(
            _conv_bn(config.in_channels, s[0], k, stride=2), _conv_bn(s[0], s[1], k), _conv_bn(s[1], s[2], k),
            nn.MaxPool1d(3, stride=2, padding=1),
        )
        blocks: List[nn.Module] = []
        channels = s[2]
        for stage, (width, depth) in enumerate(zip(config.block_channels, config.depths)):
            for i in range(depth):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(ResidualBlock1d(channels, width, config.expansion, k, stride))
                channels = width * config.expansion
        self.blocks = nn.Sequential(*blocks)
        pooled = 2 * channels  # average and max pooling, concatenated
        p = config.head_dropout
        if config.head_hidden:
            self.neck = nn.Sequential(nn.BatchNorm1d(pooled), nn.Dropout(p / 2), nn.Linear(pooled, config.head_hidden),
                                      nn.ReLU(inplace=True))
            self.embedding_dim = int(config.head_hidden)
        else:
            self.neck = nn.Identity()
            self.embedding_dim = pooled
        self.classifier = nn.Sequential(nn.BatchNorm1d(self.embedding_dim), nn.Dropout(p),
                                        nn.Linear(self.embedding_dim, len(config.label_names)))
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Conv1d):
            init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            init.kaiming_uniform_(module.weight, nonlinearity="relu")
            init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):
            init.constant_(module.weight, 0.0 if getattr(module, "zero_init", False) else 1.0)
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)

    def normalize(self, signal: torch.Tensor) -> torch.Tensor:
        """(N, C, L) millivolts -> per-lead standardised input (``config.input_mean`` / ``input_std``)."""
        if signal.ndim != 3 or signal.shape[1] != self.config.in_channels:
            raise ValueError(f"signal must have shape (N, {self.config.in_channels}, L), got {tuple(signal.shape)}")
        if self.config.input_mean is not None:
            signal = signal - torch.tensor(self.config.input_mean, dtype=signal.dtype, device=signal.device)[:, None]
        if self.config.input_std is not None:
            signal = signal / torch.tensor(self.config.input_std, dtype=signal.dtype, device=signal.device)[:, None]
        return signal

    def embed(self, signal: torch.Tensor) -> torch.Tensor:
        """Penultimate features: (N, C, L) millivolts -> (N, D), D = ``self.embedding_dim``.

        These are the hidden head activations (after ReLU) that feed the output layer; they are
        the feature space of the Frechet distance and MMD.  The caller chooses train/eval mode.
        """
        x = self.blocks(self.stem(self.normalize(signal)))
        pooled = torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1)
        return self.neck(pooled)

    def forward(self, signal: torch.Tensor, labels: Optional[torch.Tensor] = None, **kwargs):
        """(N, C, L) millivolts [+ (N, K) 0/1 labels] -> :class:`ECGClassifierOutput`."""
        embeddings = self.embed(signal)
        logits = self.classifier(embeddings)
        loss = None
        if labels is not None:
            loss = nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        return ECGClassifierOutput(loss=loss, logits=logits, embeddings=embeddings)


# ``save_pretrained`` copies this self-contained file next to the weights and writes an ``auto_map``,
# so a published classifier loads with ``AutoModel.from_pretrained(repo, trust_remote_code=True)``
# without sssd-hf; with sssd-hf imported, the Auto classes find the local classes directly.
ECGClassifierConfig.register_for_auto_class()
ECGClassifierModel.register_for_auto_class("AutoModel")
try:
    from transformers import AutoConfig, AutoModel

    AutoConfig.register(ECGClassifierConfig.model_type, ECGClassifierConfig)
    AutoModel.register(ECGClassifierConfig, ECGClassifierModel)
except ValueError:  # already registered (module re-imported under another name)
    pass
