"""Figures of the evaluation report, returned as PNG bytes (Matplotlib, Agg; no display needed).

12-lead ECGs are drawn with :func:`sssd_hf.plotting.plot_ecg` (clinical 3 x 4 layout on ECG paper);
the other figures are plain Matplotlib charts.
"""

from __future__ import annotations

import io
from typing import Dict, List, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..plotting import figure_to_png_bytes, plot_ecg
from .data import ECGSet
from .physiology import feature_unit

REAL_COLOR = "#1f77b4"
SYNTHETIC_COLOR = "#d62728"


def _png(fig: Figure, dpi: float = 90) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def ecg_png(ecgs: ECGSet, index: int, title: str) -> bytes:
    """One record of ``ecgs`` on ECG paper (see :func:`sssd_hf.plotting.plot_ecg`)."""
    fig = plot_ecg(ecgs.signal[index], ecgs.sampling_rate, ecgs.lead_names, title=title)
    return figure_to_png_bytes(fig, dpi=70)


def feature_histograms(real, synthetic, features: Sequence[str], columns: int = 4) -> bytes:
    """Overlaid histograms of real and synthetic measurement columns (pandas DataFrames)."""
    rows = int(np.ceil(len(features) / columns))
    fig = Figure(figsize=(3.2 * columns, 2.4 * rows))
    for i, name in enumerate(features):
        ax = fig.add_subplot(rows, columns, i + 1)
        r = real[name].dropna().to_numpy()
        s = synthetic[name].dropna().to_numpy()
        both = np.concatenate([r, s])
        bins = np.histogram_bin_edges(both, bins=20) if both.size else 20
        for values, color, label in ((r, REAL_COLOR, "real"), (s, SYNTHETIC_COLOR, "synthetic")):
            if values.size:  # an empty density histogram divides by zero
                ax.hist(values, bins=bins, alpha=0.55, density=True, color=color, label=f"{label} (n={values.size})")
        ax.set_title(f"{name} [{feature_unit(name)}]", fontsize=9)
        ax.tick_params(labelsize=7)
        if i == 0 and both.size:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def roc_curves(
    references: np.ndarray, scores: np.ndarray, label_names: Sequence[str], title: str, max_curves: int = 8
) -> bytes:
    """ROC curves of the statements with the most positives (up to ``max_curves``)."""
    from sklearn.metrics import roc_curve

    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    positives = references.sum(axis=0)
    usable = [k for k in np.argsort(-positives) if 0 < positives[k] < len(references)][:max_curves]
    for k in usable:
        fpr, tpr, _ = roc_curve(references[:, k], scores[:, k])
        ax.plot(fpr, tpr, lw=1.2, label=f"{label_names[k]} (n+={int(positives[k])})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01))
    if usable:
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def convergence(histories: Dict[str, List[Dict]], metric: str = "roc_auc") -> bytes:
    """Tracked macro ``metric`` against training epochs, one line per protocol."""
    fig = Figure(figsize=(5.0, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    for protocol, history in histories.items():
        points = [(h["epoch"], h[metric]) for h in history if h.get(metric) is not None]
        if points:
            ax.plot(*zip(*points), marker="o", label=protocol)
    ax.set(xlabel="epoch", ylabel=f"macro {metric} (tracking set)", title="Convergence")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def similarity_histogram(similarity_synthetic: np.ndarray, similarity_holdout: np.ndarray,
                         threshold: Optional[float]) -> bytes:
    """Similarity (0-1) of each ECG to its closest training record, synthetic versus held-out real; the threshold."""
    fig = Figure(figsize=(5.4, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    bins = np.linspace(0.0, 1.0, 41)
    ax.hist(similarity_holdout, bins=bins, alpha=0.55, color=REAL_COLOR,
            label=f"held-out real (n={len(similarity_holdout)})")
    if len(similarity_synthetic):
        ax.hist(similarity_synthetic, bins=bins, alpha=0.55, color=SYNTHETIC_COLOR,
                label=f"synthetic (n={len(similarity_synthetic)})")
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", lw=1, label="memorisation threshold")
    ax.set(xlabel="similarity to closest training record (shift/gain-invariant correlation)", ylabel="records")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def attack_roc(is_member: np.ndarray, scores: np.ndarray, auc: Optional[float]) -> bytes:
    """ROC curve of the distance-threshold membership-inference attack."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(is_member, scores)
    fig = Figure(figsize=(4.0, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(fpr, tpr, color=SYNTHETIC_COLOR, label=f"attack (AUC {auc:.3f})" if auc is not None else "attack")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Membership inference")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def closest_pairs(
    synthetic: ECGSet, train: ECGSet, pairs: List[Dict], leads: Sequence[str] = ("II", "V1", "V5")
) -> bytes:
    """Each synthetic ECG nearest to the training set (red) over its closest training record (blue)."""
    leads = [lead for lead in leads if lead in synthetic.lead_names] or list(synthetic.lead_names[:3])
    t = np.arange(synthetic.num_samples) / synthetic.sampling_rate
    fig = Figure(figsize=(4.0 * len(leads), 1.6 * max(len(pairs), 1)))
    for row, pair in enumerate(pairs):
        for col, lead in enumerate(leads):
            ax = fig.add_subplot(len(pairs), len(leads), row * len(leads) + col + 1)
            c = synthetic.lead_names.index(lead)
            ax.plot(t, train.signal[pair["train_index"], c], color=REAL_COLOR, lw=0.8, label="training record")
            ax.plot(
                t,
                synthetic.signal[pair["synthetic_index"], c],
                color=SYNTHETIC_COLOR,
                lw=0.8,
                alpha=0.8,
                label="synthetic",
            )
            ax.set_title(f"synthetic #{pair['synthetic_index']} vs train #{pair['train_index']}  {lead}  "
                         f"(similarity {pair['similarity']:.3f})", fontsize=7)
            ax.tick_params(labelsize=6)
            if row == 0 and col == 0:
                ax.legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    return _png(fig)
