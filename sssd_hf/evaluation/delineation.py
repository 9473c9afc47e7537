"""ECG delineation: P, QRS and T waves of every beat, and the PR, QRS and QT intervals they give.

The delineator is a small 1-D U-Net (:class:`WaveSegmenter`, 66 k parameters) that labels every
sample of one lead as *no wave*, *P*, *QRS* or *T*.  It was fitted on the cardiologists' per-lead
annotations of LUDB records 1-40 only (``training/train_delineator.py``, half of the crops after a
round trip through 100 Hz); the post-processing below was chosen on records 41-50, and records 51-100
are held out for the accuracy figures in BENCHMARKS.md (``benchmarks/bench_delineation.py``).
Its weights ship next to this file (``delineator.safetensors``, float32, 270 KB).

Pipeline for one record ``(C, L)`` mV at any sampling rate >= 50 Hz:

1. every lead is resampled to :data:`INTERNAL_RATE` (125 Hz), high-passed at 0.5 Hz and divided by
   its 99th percentile of ``|x|`` (:func:`preprocess`); leads whose amplitude stays below
   :data:`MIN_LEAD_AMPLITUDE_MV` (flat or disconnected) are left out;
2. the network gives per-lead class probabilities, which are fused into a multi-lead consensus
   (:func:`fuse_probabilities`): QRS and T averaged over all leads, P over the limb leads;
3. the consensus labelling is cut into waves (fragments shorter than :data:`MIN_WAVE_MS` dropped,
   waves cut by the record's ends dropped), boundaries are refined to a fraction of a sample where the
   class's probability margin crosses zero, and waves are grouped into beats around each QRS complex:
   the P wave between the previous QRS and this one, the T wave between this QRS and the next
   (:func:`assemble_beats`);
4. per record (:func:`intervals`): heart rate from the mean QRS-onset interval, and the median over
   beats of PR (P onset to QRS onset), QRS (onset to offset) and QT (QRS onset to T offset), each with
   a status.  PR is reported only when at least :data:`MIN_P_FRACTION` of the beats have a P wave at a
   consistent distance from the QRS (so none in atrial fibrillation or flutter).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..leads import STANDARD_LEADS

#: Sampling rate (Hz) the network works at; inputs are resampled to it.
INTERNAL_RATE = 125
#: Class names, index = network output channel.
WAVE_CLASSES: Tuple[str, ...] = ("none", "P", "QRS", "T")
#: Leads whose 99th percentile of |x| after high-pass filtering is below this (mV) are ignored.
MIN_LEAD_AMPLITUDE_MV = 0.03
#: Shortest wave kept (ms) per class; shorter fragments of the labelling are noise.
MIN_WAVE_MS = {"P": 30.0, "QRS": 30.0, "T": 50.0}
#: PR is reported when at least this fraction of the beats have a P wave whose PR lies within
#: PR_CONSISTENCY_MS of the record's median PR.
MIN_P_FRACTION = 0.8
PR_CONSISTENCY_MS = 40.0
#: Lowest input sampling rate (Hz) and shortest record (s) accepted.
MIN_SAMPLING_RATE = 50.0
MIN_DURATION_S = 2.0
_LIMB = {name.lower() for name in STANDARD_LEADS[:6]}
WEIGHTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "delineator.safetensors")


# ---------------------------------------------------------------------------------------- network


class _ConvBlock(nn.Sequential):
    """Two (convolution, batch norm, ReLU) layers keeping the length; ``dilation`` on both."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int = 1):
        pad = dilation * (kernel_size // 2)
        super().__init__(
            nn.Conv1d(c_in, c_out, kernel_size, padding=pad, dilation=dilation, bias=False), nn.BatchNorm1d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv1d(c_out, c_out, kernel_size, padding=pad, dilation=dilation, bias=False), nn.BatchNorm1d(c_out),
            nn.ReLU(inplace=True),
        )


class _DilatedUnit(nn.Module):
    """Residual unit ``x + ReLU(BN(conv_dilated(x)))``, length kept."""

    def __init__(self, channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding=dilation * (kernel_size // 2),
                              dilation=dilation, bias=False)
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.relu(self.norm(self.conv(x)))


class WaveSegmenter(nn.Module):
    """1-D U-Net: ``(B, 1, L)`` normalised lead at 125 Hz -> ``(B, 4, L)`` class logits.

    ``channels[i]`` is the width at resolution ``1 / 2**i``; the deepest level adds dilated residual
    units (dilations 1, 2, 4) so that the receptive field spans several beats.  ``L`` must be a multiple
    of ``2 ** (len(channels) - 1)`` (:func:`segment_leads` pads).
    """

    def __init__(self, channels: Sequence[int] = (8, 16, 24, 32), kernel_size: int = 7, num_classes: int = 4):
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        self.kernel_size = int(kernel_size)
        widths = (1,) + self.channels
        self.down = nn.ModuleList(_ConvBlock(widths[i], widths[i + 1], kernel_size) for i in range(len(channels)))
        deep = self.channels[-1]
        self.context = nn.Sequential(*(_DilatedUnit(deep, kernel_size, d) for d in (1, 2, 4)))
        self.up = nn.ModuleList(
            _ConvBlock(self.channels[i + 1] + self.channels[i], self.channels[i], kernel_size)
            for i in reversed(range(len(channels) - 1))
        )
        self.head = nn.Conv1d(self.channels[0], num_classes, 1)

    @property
    def stride(self) -> int:
        return 2 ** (len(self.channels) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.functional.max_pool1d(x, 2))
            skips.append(x)
        x = self.context(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = nn.functional.interpolate(x, size=skip.shape[-1], mode="linear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)


_MODEL_LOCK = threading.Lock()
_MODEL_CACHE: Dict[str, WaveSegmenter] = {}


def load_segmenter(path: str = WEIGHTS_PATH) -> WaveSegmenter:
    """The trained network (cached per path, in eval mode); its channels and kernel size are read from
    the safetensors metadata.  Raises ``FileNotFoundError`` when the weights file is missing."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with _MODEL_LOCK:
        if path in _MODEL_CACHE:
            return _MODEL_CACHE[path]
        if not os.path.isfile(path):
            raise FileNotFoundError(f"delineator weights not found: {path} (train with training/train_delineator.py)")
        with safe_open(path, framework="pt") as handle:
            meta = handle.metadata() or {}
        model = WaveSegmenter(tuple(int(c) for c in meta.get("channels", "8,16,24,32").split(",")),
                              int(meta.get("kernel_size", 7)))
        model.load_state_dict(load_file(path))
        model = _fold_batch_norm(model.eval())
        _MODEL_CACHE[path] = model
        return model


def _fold_batch_norm(model: WaveSegmenter) -> WaveSegmenter:
    """Fold every (eval-mode) batch norm into the convolution before it: same outputs, about 30 % faster."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in model.modules():
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                if isinstance(module[i], nn.Conv1d) and isinstance(module[i + 1], nn.BatchNorm1d):
                    module[i], module[i + 1] = fuse_conv_bn_eval(module[i], module[i + 1]), nn.Identity()
        elif isinstance(module, _DilatedUnit):
            module.conv, module.norm = fuse_conv_bn_eval(module.conv, module.norm), nn.Identity()
    return model


def save_segmenter(model: WaveSegmenter, path: str, metadata: Optional[Dict[str, str]] = None) -> None:
    """Write ``model``'s weights (float32) and architecture to ``path`` (temp file, then rename)."""
    from safetensors.torch import save_file

    meta = {"channels": ",".join(map(str, model.channels)), "kernel_size": str(model.kernel_size),
            "internal_rate_hz": str(INTERNAL_RATE), **(metadata or {})}
    tensors = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()
               if v.dtype.is_floating_point}
    tmp = f"{path}.tmp-{os.getpid()}"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------- preprocessing


def resample(signal: np.ndarray, sampling_rate: float, target_rate: float = INTERNAL_RATE) -> np.ndarray:
    """``(..., L)`` at ``sampling_rate`` Hz -> ``(..., L * target / rate)`` at ``target_rate`` Hz (polyphase)."""
    from scipy.signal import resample_poly

    ratio = Fraction(float(target_rate) / float(sampling_rate)).limit_denominator(1000)
    if ratio == 1:
        return np.asarray(signal, dtype=np.float64)
    return resample_poly(np.asarray(signal, dtype=np.float64), ratio.numerator, ratio.denominator, axis=-1)


def preprocess(signal: np.ndarray, sampling_rate: float) -> Tuple[np.ndarray, np.ndarray]:
    """``(C, L)`` mV -> (``(C, L')`` float32 leads at 125 Hz, high-passed at 0.5 Hz and divided by their
    amplitude; ``(C,)`` amplitude in mV = 99th percentile of ``|x|`` after filtering)."""
    from scipy.signal import butter, sosfiltfilt

    x = resample(signal, sampling_rate)
    x = x - np.median(x, axis=-1, keepdims=True)
    sos = butter(2, 0.5, btype="highpass", fs=INTERNAL_RATE, output="sos")
    x = sosfiltfilt(sos, x, axis=-1)
    amplitude = np.percentile(np.abs(x), 99, axis=-1)
    x = x / np.maximum(amplitude, MIN_LEAD_AMPLITUDE_MV)[:, None]
    return x.astype(np.float32), amplitude


def segment_leads(leads: np.ndarray, model: Optional[WaveSegmenter] = None, batch_size: int = 256) -> np.ndarray:
    """Class probabilities ``(N, 4, L)`` float32 of ``N`` preprocessed leads ``(N, L)`` (125 Hz)."""
    model = model or load_segmenter()
    n, length = leads.shape
    padded = -(-length // model.stride) * model.stride
    x = np.pad(leads, ((0, 0), (0, padded - length)), mode="reflect" if length > 1 else "edge")
    out = np.empty((n, len(WAVE_CLASSES), length), dtype=np.float32)
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            logits = model(torch.from_numpy(np.ascontiguousarray(x[i: i + batch_size]))[:, None])
            out[i: i + batch_size] = torch.softmax(logits, dim=1)[..., :length].numpy()
    return out


# ---------------------------------------------------------------------------------- beats & waves


@dataclass
class Beat:
    """One beat, times in ms from the start of the record; NaN where the wave was not found."""

    qrs_onset: float
    qrs_offset: float
    p_onset: float = float("nan")
    p_offset: float = float("nan")
    t_onset: float = float("nan")
    t_offset: float = float("nan")


@dataclass
class Delineation:
    """Delineation of one record: its beats and the leads used (``leads_used`` indices into the input)."""

    beats: List[Beat] = field(default_factory=list)
    leads_used: List[int] = field(default_factory=list)
    duration_ms: float = 0.0


def _runs(mask: np.ndarray) -> List[Tuple[int, int]]:
    """``[(start, stop_exclusive), ...]`` of the True runs of a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _crossing(margin: np.ndarray, inside: int, outside: int) -> float:
    """Fractional position between two neighbouring samples where ``margin`` crosses zero."""
    a, b = margin[inside], margin[outside]
    frac = a / (a - b) if a != b else 0.5
    return inside + (outside - inside) * float(np.clip(frac, 0.0, 1.0))


def extract_waves(probabilities: np.ndarray) -> Dict[str, List[Tuple[float, float]]]:
    """``(4, L)`` probabilities at 125 Hz -> ``{"P"|"QRS"|"T": [(onset, offset) in samples]}``.

    Onset/offset are the first/last sample inside the wave, refined to a fraction of a sample; waves
    touching the ends of the record are incomplete and dropped, as are waves shorter than
    :data:`MIN_WAVE_MS`.
    """
    labels = probabilities.argmax(axis=0)
    length = labels.size
    waves: Dict[str, List[Tuple[float, float]]] = {}
    for c, name in enumerate(WAVE_CLASSES[1:], start=1):
        others = np.delete(probabilities, c, axis=0).max(axis=0)
        margin = probabilities[c] - others
        found = []
        for start, stop in _runs(labels == c):
            if start == 0 or stop == length:
                continue
            onset = _crossing(margin, start, start - 1) + 0.5
            offset = _crossing(margin, stop - 1, stop) - 0.5
            if (offset - onset) * 1000.0 / INTERNAL_RATE >= MIN_WAVE_MS[name]:
                found.append((onset, offset))
        waves[name] = found
    return waves


def assemble_beats(waves: Dict[str, List[Tuple[float, float]]], sampling_rate: float = INTERNAL_RATE) -> List[Beat]:
    """Group waves (sample positions at ``sampling_rate``) into beats around each QRS complex.

    A beat's P wave is the last P wave that starts after the previous QRS ends and ends before this QRS
    starts; its T wave is the first that starts after this QRS ends and ends before the next QRS starts.
    """
    ms = 1000.0 / sampling_rate
    qrs = sorted(waves.get("QRS", []))
    p_waves, t_waves = sorted(waves.get("P", [])), sorted(waves.get("T", []))
    beats = []
    for i, (onset, offset) in enumerate(qrs):
        previous_end = qrs[i - 1][1] if i > 0 else -np.inf
        next_start = qrs[i + 1][0] if i + 1 < len(qrs) else np.inf
        beat = Beat(onset * ms, offset * ms)
        p = [w for w in p_waves if w[0] > previous_end and w[1] < onset]
        if p:
            beat.p_onset, beat.p_offset = p[-1][0] * ms, p[-1][1] * ms
        t = [w for w in t_waves if w[0] > offset and w[1] < next_start]
        if t:
            beat.t_onset, beat.t_offset = t[0][0] * ms, t[0][1] * ms
        beats.append(beat)
    return beats


def validate_record(signal: np.ndarray, sampling_rate: float) -> np.ndarray:
    signal = np.asarray(signal)
    if signal.ndim != 2 or signal.shape[0] < 1:
        raise ValueError(f"an ECG must have shape (leads, samples), got {signal.shape}")
    if not np.isfinite(sampling_rate) or sampling_rate < MIN_SAMPLING_RATE:
        raise ValueError(f"sampling rate {sampling_rate} Hz is below the {MIN_SAMPLING_RATE:g} Hz the delineator "
                         "needs")
    if signal.shape[1] < MIN_DURATION_S * sampling_rate:
        raise ValueError(f"an ECG of {signal.shape[1] / sampling_rate:.2f} s is shorter than {MIN_DURATION_S:g} s")
    if not np.all(np.isfinite(signal)):
        raise ValueError("the ECG contains NaN or infinite samples")
    return signal


def fuse_probabilities(probabilities: np.ndarray, lead_names: Sequence[str]) -> np.ndarray:
    """Multi-lead consensus ``(4, L)`` of per-lead probabilities ``(C, 4, L)`` of the leads ``lead_names``.

    QRS and T: mean over all leads.  P: mean over the limb leads present (P waves are small and often
    invisible in the chest leads, which would delay the consensus onset), over all leads if none is a
    limb lead.  "No wave" takes the remaining probability.
    """
    fused = probabilities.mean(axis=0)
    limb = [i for i, name in enumerate(lead_names) if str(name).lower() in _LIMB]
    if limb and len(limb) < len(lead_names):
        fused[1] = probabilities[limb, 1].mean(axis=0)
        fused[0] = np.clip(1.0 - fused[1:].sum(axis=0), 0.0, None)
    return fused


def _lead_names(signal: np.ndarray, lead_names: Optional[Sequence[str]]) -> List[str]:
    if lead_names is None:
        if signal.shape[0] != len(STANDARD_LEADS):
            raise ValueError(f"lead_names are needed for a record of {signal.shape[0]} leads")
        return list(STANDARD_LEADS)
    if len(lead_names) != signal.shape[0]:
        raise ValueError(f"{len(lead_names)} lead names for a record of {signal.shape[0]} leads")
    return list(lead_names)


def delineate_many(signals: Sequence[np.ndarray], sampling_rate: float, lead_names: Optional[Sequence[str]] = None,
                   model: Optional[WaveSegmenter] = None) -> List[Delineation]:
    """Delineate records ``[(C, L) mV, ...]`` (same rate and leads, any lengths) in one network batch.

    ``lead_names`` (default: the 12 standard leads, for 12-lead records) tell the limb leads, whose
    consensus gives the P waves (:func:`fuse_probabilities`).
    """
    prepared = [preprocess(validate_record(s, sampling_rate), sampling_rate) for s in signals]
    names = [_lead_names(x, lead_names) for x, _ in prepared]
    results: List[Delineation] = []
    by_length: Dict[int, List[int]] = {}
    for i, (x, _) in enumerate(prepared):
        by_length.setdefault(x.shape[1], []).append(i)
    fused: Dict[int, Tuple[Optional[np.ndarray], List[int]]] = {}
    for length, members in by_length.items():
        usable = {i: np.flatnonzero(prepared[i][1] >= MIN_LEAD_AMPLITUDE_MV).tolist() for i in members}
        stacked = [prepared[i][0][usable[i]] for i in members if usable[i]]
        probs = segment_leads(np.concatenate(stacked), model) if stacked else np.zeros((0, 4, length), np.float32)
        start = 0
        for i in members:
            n = len(usable[i])
            consensus = fuse_probabilities(probs[start: start + n], [names[i][j] for j in usable[i]]) if n else None
            fused[i] = (consensus, usable[i])
            start += n
    for i, (x, _) in enumerate(prepared):
        consensus, used = fused[i]
        beats = assemble_beats(extract_waves(consensus)) if consensus is not None else []
        results.append(Delineation(beats, used, x.shape[1] * 1000.0 / INTERNAL_RATE))
    return results


def delineate(signal: np.ndarray, sampling_rate: float, lead_names: Optional[Sequence[str]] = None,
              model: Optional[WaveSegmenter] = None) -> Delineation:
    """Delineate one record ``(C, L)`` mV sampled at ``sampling_rate`` Hz (all its leads together)."""
    return delineate_many([signal], sampling_rate, lead_names, model)[0]


# ------------------------------------------------------------------------------------ intervals

#: Interval measures of :func:`intervals`, with their unit.
MEASURES: Dict[str, str] = {"heart_rate_bpm": "bpm", "pr_ms": "ms", "qrs_ms": "ms", "qt_ms": "ms", "qtc_ms": "ms"}


def _median(values: List[float]) -> float:
    values = [v for v in values if np.isfinite(v)]
    return float(np.median(values)) if values else float("nan")


def intervals(delineation: Delineation) -> Dict[str, object]:
    """Per-record measures from a delineation.

    Returns ``{measure: value or NaN}`` for :data:`MEASURES` (QTc by Bazett: QT / sqrt(mean RR in s)),
    ``rr_ms`` (the RR intervals, ms), and for each measure ``<name>_status`` (``"ok"``, ``"no_leads"``
    when every lead is flat, ``"too_few_beats"``, ``"no_p_waves"``, ``"no_t_waves"``) and
    ``<name>_beats`` (beats the median is over).
    """
    beats = delineation.beats
    onsets = np.array([b.qrs_onset for b in beats], dtype=np.float64)
    rr = np.diff(onsets)
    out: Dict[str, object] = {"rr_ms": rr}
    base = "no_leads" if not delineation.leads_used else "too_few_beats"
    enough = len(beats) >= 2
    hr = float(60000.0 / rr.mean()) if enough else float("nan")
    out.update(heart_rate_bpm=hr, heart_rate_bpm_status="ok" if enough else base, heart_rate_bpm_beats=len(beats))
    qrs = [b.qrs_offset - b.qrs_onset for b in beats]
    out.update(qrs_ms=_median(qrs) if enough else float("nan"), qrs_ms_status="ok" if enough else base,
               qrs_ms_beats=len(qrs) if enough else 0)
    pr = [b.qrs_onset - b.p_onset for b in beats if np.isfinite(b.p_onset)]
    if pr:  # a conducted P wave keeps its distance to the QRS; stray "P waves" (e.g. f waves) do not
        pr = [v for v in pr if abs(v - np.median(pr)) <= PR_CONSISTENCY_MS]
    pr_ok = enough and len(pr) >= max(2, MIN_P_FRACTION * len(beats))
    out.update(pr_ms=_median(pr) if pr_ok else float("nan"),
               pr_ms_status="ok" if pr_ok else (base if not enough else "no_p_waves"),
               pr_ms_beats=len(pr) if pr_ok else 0)
    qt = [b.t_offset - b.qrs_onset for b in beats if np.isfinite(b.t_offset)]
    qt_ok = enough and len(qt) >= 1
    qt_value = _median(qt) if qt_ok else float("nan")
    out.update(qt_ms=qt_value, qt_ms_status="ok" if qt_ok else (base if not enough else "no_t_waves"),
               qt_ms_beats=len(qt) if qt_ok else 0)
    qtc = qt_value / np.sqrt(rr.mean() / 1000.0) if qt_ok else float("nan")
    out.update(qtc_ms=float(qtc), qtc_ms_status=out["qt_ms_status"], qtc_ms_beats=out["qt_ms_beats"])
    return out


def measure_intervals(signal: np.ndarray, sampling_rate: float,
                      lead_names: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """:func:`intervals` of :func:`delineate` for one ``(C, L)`` mV record at ``sampling_rate`` Hz."""
    return intervals(delineate(signal, sampling_rate, lead_names))
