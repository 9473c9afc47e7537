"""The data interface of the evaluation: 12-lead ECG arrays with multi-hot statement labels.

Everything in :mod:`sssd_hf.evaluation` works on :class:`ECGSet`, a small container of NumPy
arrays, so that it accepts data from anywhere:

- ``.npz`` files with ``signal`` (N, 12, L) millivolts, ``labels`` (N, K) multi-hot and
  ``label_names`` (K,) statement codes; optional ``sampling_rate`` (scalar, Hz), ``lead_names``
  (12,) and ``split`` (N,) strings naming each record's split;
- ``datasets`` folders (``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``) and Hub-style
  dataset folders or files of parquet shards, with a ``signal`` column (12 x L float32 mV) and a
  ``labels`` column that is a sequence of class labels (or of statement-code strings), such as
  the real and synthetic PTB-XL datasets built by :mod:`sssd_hf.data`.

Labels are validated against :mod:`sssd_hf.vocabulary`; every bad input raises ``ValueError`` or
``FileNotFoundError`` with a message naming the problem.

Arrays carry no lead names unless the file stores them, so loaded signals are checked against
Einthoven's and Goldberger's relations (``III = II - I``, ``aVR = -(I + II) / 2``,
``aVL = I - II / 2``, ``aVF = II - I / 2``, via :func:`sssd_hf.leads.derive_twelve_leads`): a
set that breaks them in the assumed order but satisfies them in another known order (e.g. the
published SSSD-ECG arrays, stored as I, II, V1-V6, III, aVR, aVL, aVF) is refused with that
order named; one that breaks them in every known order is loaded with a warning
(:func:`check_lead_order`).
"""

from __future__ import annotations

import glob
import os
import warnings
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..data.card import load_dataset_folder
from ..leads import CHEST_LEADS, STANDARD_LEADS, canonical_lead_name, derive_twelve_leads
from ..vocabulary import get_vocabulary

#: Name used for the single split of an input that has no splits.
ALL_SPLIT = "all"


@dataclass
class ECGSet:
    """A set of 12-lead ECGs with multi-hot labels.

    Attributes:
        signal: (N, 12, L) float32, millivolts, leads in ``lead_names`` order.
        labels: (N, K) uint8 multi-hot; ``labels[i, k] == 1`` means record ``i`` carries
            statement ``label_names[k]``.
        label_names: K statement codes (PTB-XL statements, subclasses or superclasses).
        sampling_rate: Hz.
        lead_names: the 12 lead names (canonical spelling, see :mod:`sssd_hf.leads`).
        name: a short description used in error messages and reports.
    """

    signal: np.ndarray
    labels: np.ndarray
    label_names: Tuple[str, ...]
    sampling_rate: float = 100.0
    lead_names: Tuple[str, ...] = STANDARD_LEADS
    name: str = "ECG set"

    def __post_init__(self) -> None:
        self.signal = np.asarray(self.signal, dtype=np.float32)
        self.label_names = tuple(str(n) for n in self.label_names)
        self.lead_names = tuple(canonical_lead_name(str(n)) for n in self.lead_names)
        _check_signal(self.signal, self.lead_names, self.name)  # first: a bad shape is the signal's fault
        self.labels = _as_multi_hot(self.labels, self.label_names, len(self.signal), self.name)
        if not np.isfinite(self.sampling_rate) or self.sampling_rate <= 0:
            raise ValueError(f"{self.name}: sampling_rate must be a positive number of Hz, got {self.sampling_rate}")
        self.sampling_rate = float(self.sampling_rate)

    def __len__(self) -> int:
        return int(self.signal.shape[0])

    @property
    def num_samples(self) -> int:
        """L, the number of samples per lead."""
        return int(self.signal.shape[2])

    def subset(self, indices: Sequence[int] | np.ndarray, name: Optional[str] = None) -> "ECGSet":
        """The records at ``indices`` (integer indices or a boolean mask) as a new set."""
        indices = np.asarray(indices)
        if indices.dtype == bool:
            indices = np.flatnonzero(indices)
        return ECGSet(self.signal[indices], self.labels[indices], self.label_names, self.sampling_rate,
                      self.lead_names, name or self.name)

    def with_vocabulary(self, label_names: Sequence[str]) -> "ECGSet":
        """The same records with label columns re-ordered to ``label_names``.

        Statements of ``label_names`` that this set does not annotate count as absent (all 0);
        statements of this set outside ``label_names`` are dropped.
        """
        label_names = tuple(label_names)
        position = {code: k for k, code in enumerate(self.label_names)}
        labels = np.zeros((len(self), len(label_names)), dtype=np.uint8)
        for k, code in enumerate(label_names):
            if code in position:
                labels[:, k] = self.labels[:, position[code]]
        return ECGSet(self.signal, labels, label_names, self.sampling_rate, self.lead_names, self.name)

    def positives(self, code: str) -> np.ndarray:
        """Indices of the records that carry statement ``code`` (ValueError if not in the vocabulary)."""
        if code not in self.label_names:
            raise ValueError(f"{self.name}: statement {code!r} is not in its vocabulary {list(self.label_names)}")
        return np.flatnonzero(self.labels[:, self.label_names.index(code)])

    def label_lists(self) -> List[List[str]]:
        """Each record's statements as a list of codes."""
        return [[self.label_names[k] for k in np.flatnonzero(row)] for row in self.labels]


def _check_signal(signal: np.ndarray, lead_names: Tuple[str, ...], name: str) -> None:
    if signal.ndim != 3:
        hint = "; a single record needs a leading record axis, e.g. signal[None]" if signal.ndim == 2 else ""
        raise ValueError(f"{name}: signal must have shape (N records, leads, samples), got {signal.shape}{hint}")
    if signal.shape[1] != len(lead_names):
        raise ValueError(
            f"{name}: signal has {signal.shape[1]} leads but {len(lead_names)} lead names {list(lead_names)}"
        )
    if signal.shape[0] == 0 or signal.shape[2] == 0:
        raise ValueError(f"{name}: signal is empty, shape {signal.shape}")
    bad = ~np.isfinite(signal).all(axis=(1, 2))
    if bad.any():
        raise ValueError(
            f"{name}: {int(bad.sum())} record(s) contain NaN or infinite samples "
            f"(first: index {int(np.flatnonzero(bad)[0])})"
        )


def _as_multi_hot(labels, label_names: Tuple[str, ...], n: int, name: str) -> np.ndarray:
    """(N, K) uint8 from a multi-hot array or from per-record lists of codes / class indices."""
    if not label_names:
        raise ValueError(f"{name}: label_names is empty")
    if len(set(label_names)) != len(label_names):
        raise ValueError(f"{name}: label_names has duplicates: {list(label_names)}")
    try:
        get_vocabulary(list(label_names))
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if isinstance(labels, np.ndarray) and labels.dtype != object and labels.ndim == 2:
        return _check_multi_hot(labels, len(label_names), n, name)
    return labels_from_lists(labels, label_names, n, name)


def _check_multi_hot(labels: np.ndarray, k: int, n: int, name: str) -> np.ndarray:
    if labels.shape != (n, k):
        raise ValueError(
            f"{name}: labels must have shape (N={n}, K={k}) to match signal and label_names, got {labels.shape}"
        )
    if not np.isfinite(labels.astype(np.float64)).all() or not np.isin(labels, (0, 1)).all():
        raise ValueError(f"{name}: multi-hot labels must contain only 0 and 1")
    return labels.astype(np.uint8)


def labels_from_lists(
    rows: Iterable, label_names: Sequence[str], n: Optional[int] = None, name: str = "labels"
) -> np.ndarray:
    """(N, K) uint8 multi-hot from per-record lists of statement codes or integer class indices."""
    rows = list(rows)
    if n is not None and len(rows) != n:
        raise ValueError(f"{name}: {len(rows)} label rows for {n} signals")
    position = {code: k for k, code in enumerate(label_names)}
    out = np.zeros((len(rows), len(label_names)), dtype=np.uint8)
    for i, row in enumerate(rows):
        for item in (row if isinstance(row, (list, tuple, np.ndarray)) else [row]):
            if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                if not 0 <= item < len(label_names):
                    raise ValueError(f"{name}: record {i} has class index {item}, outside 0..{len(label_names) - 1}")
                out[i, item] = 1
            elif str(item) in position:
                out[i, position[str(item)]] = 1
            else:
                raise ValueError(
                    f"{name}: record {i} has unknown label {item!r}; the vocabulary is {list(label_names)}"
                )
    return out


def concat(sets: Sequence[ECGSet], name: Optional[str] = None) -> ECGSet:
    """Concatenate sets that share sampling rate and length; labels are aligned by code."""
    if not sets:
        raise ValueError("nothing to concatenate")
    first = sets[0]
    names = list(first.label_names)
    for s in sets[1:]:
        if (
            s.sampling_rate != first.sampling_rate
            or s.num_samples != first.num_samples
            or s.lead_names != first.lead_names
        ):
            raise ValueError(
                f"cannot combine {first.name} ({first.sampling_rate} Hz, {first.num_samples} samples) with "
                f"{s.name} ({s.sampling_rate} Hz, {s.num_samples} samples)"
            )
        names += [c for c in s.label_names if c not in names]
    aligned = [s.with_vocabulary(names) for s in sets]
    return ECGSet(np.concatenate([s.signal for s in aligned]), np.concatenate([s.labels for s in aligned]), names,
                  first.sampling_rate, first.lead_names, name or first.name)


def check_compatible(a: ECGSet, b: ECGSet) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same leads, rate and length."""
    if a.lead_names != b.lead_names:
        raise ValueError(f"{a.name} has leads {list(a.lead_names)} but {b.name} has {list(b.lead_names)}")
    if a.sampling_rate != b.sampling_rate:
        raise ValueError(f"{a.name} is sampled at {a.sampling_rate} Hz but {b.name} at {b.sampling_rate} Hz")
    if a.num_samples != b.num_samples:
        raise ValueError(f"{a.name} has {a.num_samples} samples per lead but {b.name} has {b.num_samples}")


# ----------------------------------------------------------------------------------------- lead order

#: Channel orders in which 12-lead arrays are found in the wild, by description.
KNOWN_LEAD_ORDERS: Dict[str, Tuple[str, ...]] = {
    "the standard order I, II, III, aVR, aVL, aVF, V1-V6 (PTB-XL)": STANDARD_LEADS,
    "the SSSD-ECG array order I, II, V1-V6, III, aVR, aVL, aVF": ("I", "II", *CHEST_LEADS, "III", "aVR", "aVL", "aVF"),
    "I, aVR, aVL, aVF, II, III, V1-V6": ("I", "aVR", "aVL", "aVF", "II", "III", *CHEST_LEADS),
    "I, II, III, aVL, aVR, aVF, V1-V6 (aVR and aVL swapped)": ("I", "II", "III", "aVL", "aVR", "aVF", *CHEST_LEADS),
}
#: A limb-lead residual below this satisfies the relations (PTB-XL: about 0.002, from 1 uV rounding).
LEAD_ORDER_FITS = 0.05
#: A residual above this in the assumed order is reported (refused, or warned about).
LEAD_ORDER_BROKEN = 0.25


def limb_lead_residual(signal: np.ndarray, lead_names: Sequence[str], max_records: int = 64) -> Optional[float]:
    """Median over records of ``|derived - observed| / |observed|`` for III, aVR, aVL and aVF.

    ``signal`` is (N, 12, L) with channels named ``lead_names``; the four leads are derived from I
    and II with :func:`sssd_hf.leads.derive_twelve_leads`.  Records with (near) flat limb leads
    are ignored; returns ``None`` when none is left.  At most ``max_records`` evenly spaced records are used.
    """
    names = [canonical_lead_name(n) for n in lead_names]
    if sorted(names) != sorted(STANDARD_LEADS):
        return None
    picked = signal[np.unique(np.linspace(0, len(signal) - 1, min(len(signal), max_records)).round().astype(int))]
    x = picked.astype(np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    index = [names.index(n) for n in ("I", "II", *CHEST_LEADS)]
    derived = derive_twelve_leads(x[:, index], ["I", "II", *CHEST_LEADS])
    limb = [STANDARD_LEADS.index(n) for n in ("III", "aVR", "aVL", "aVF")]
    observed = x[:, [names.index(n) for n in ("III", "aVR", "aVL", "aVF")]]
    size = np.sqrt((observed ** 2).sum(axis=(1, 2)))
    error = np.sqrt(((derived[:, limb] - observed) ** 2).sum(axis=(1, 2)))
    usable = size > 1e-3 * np.sqrt(observed.shape[1] * observed.shape[2])  # RMS above 1 uV
    return float(np.median(error[usable] / size[usable])) if usable.any() else None


def check_lead_order(signal: np.ndarray, lead_names: Sequence[str], name: str) -> Optional[float]:
    """Refuse or warn about a (N, 12, L) array whose limb leads break Einthoven's and Goldberger's relations.

    Raises ``ValueError`` naming the most likely stored order when the relations fail in
    ``lead_names`` (residual above :data:`LEAD_ORDER_BROKEN`) but hold in one of
    :data:`KNOWN_LEAD_ORDERS`; warns (``UserWarning``) when they fail in every known order.
    Returns the residual of ``lead_names`` (``None`` when it cannot be computed).
    """
    residual = limb_lead_residual(signal, lead_names)
    if residual is None or residual <= LEAD_ORDER_BROKEN:
        return residual
    fits = {label: limb_lead_residual(signal, order) for label, order in KNOWN_LEAD_ORDERS.items()
            if tuple(order) != tuple(canonical_lead_name(n) for n in lead_names)}
    scored = [(r, label) for label, r in fits.items() if r is not None]
    best = min(scored) if scored else None
    assumed = ", ".join(canonical_lead_name(n) for n in lead_names)
    if best is not None and best[0] < LEAD_ORDER_FITS:
        raise ValueError(f"{name}: its limb leads break Einthoven's and Goldberger's relations (III = II - I, "
                         f"aVR = -(I + II)/2, ...; residual {residual:.2f}) in the order {assumed}, but satisfy them "
                         f"(residual {best[0]:.3f}) in {best[1]}: the array is most likely stored in that order; "
                         "reorder its channels to the standard order or store 'lead_names' with it")
    warnings.warn(
        f"{name}: its limb leads break Einthoven's and Goldberger's relations (residual {residual:.2f} in "
        f"the order {assumed}, and no known lead order fits); check the channel order and units",
        UserWarning,
        stacklevel=3,
    )
    return residual


# ----------------------------------------------------------------------------------------- loading


def load_ecg_sets(path: str | os.PathLike, sampling_rate: Optional[float] = None) -> Dict[str, ECGSet]:
    """Load ECGs from ``path`` as ``{split name: ECGSet}``.

    ``path`` is an ``.npz`` file, a ``datasets`` folder saved with ``save_to_disk``, a folder of
    parquet files (a Hub-style dataset repository) or a single ``.parquet`` file.  Inputs without
    splits give ``{"all": ECGSet}``.  ``sampling_rate`` (Hz) overrides the stored rate; the default
    for datasets that do not store one is 100 Hz.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"ECG data not found: {path}")
    if os.path.isfile(path) and path.endswith(".npz"):
        return _load_npz(path, sampling_rate)
    if os.path.isfile(path) and path.endswith(".parquet"):
        return _load_hf(path, sampling_rate)
    if os.path.isdir(path):
        return _load_hf(path, sampling_rate)
    raise ValueError(f"{path}: expected an .npz file, a .parquet file or a dataset folder")


def _load_npz(path: str, sampling_rate: Optional[float]) -> Dict[str, ECGSet]:
    try:
        data = np.load(path, allow_pickle=False)
        arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError ...
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    missing = [key for key in ("signal", "labels", "label_names") if key not in arrays]
    if missing:
        raise ValueError(f"{path}: missing array(s) {missing}; an .npz needs 'signal' (N, 12, L) mV, "
                         f"'labels' (N, K) multi-hot and 'label_names' (K,)")
    stored = float(arrays["sampling_rate"]) if "sampling_rate" in arrays else None
    rate = resolve_sampling_rate(stored, sampling_rate, path)
    leads = tuple(arrays["lead_names"]) if "lead_names" in arrays else STANDARD_LEADS
    name = os.path.basename(path)
    full = ECGSet(arrays["signal"], arrays["labels"], tuple(arrays["label_names"]), rate, leads, name)
    check_lead_order(full.signal, full.lead_names, name)
    if "split" not in arrays:
        return {ALL_SPLIT: full}
    split = np.asarray(arrays["split"]).astype(str)
    if split.shape != (len(full),):
        raise ValueError(f"{path}: 'split' must have one entry per record ({len(full)}), got shape {split.shape}")
    return {s: full.subset(split == s, f"{name}[{s}]") for s in sorted(set(split))}


def resolve_sampling_rate(stored: Optional[float], override: Optional[float], name: str) -> float:
    """The rate (Hz) to use: ``override`` if given, else ``stored``, else 100.

    Raises ``ValueError`` when ``override`` contradicts a stored rate: relabelling samples with
    another rate would silently corrupt every time-based measurement.
    """
    if override is not None and stored is not None and not np.isclose(override, stored):
        raise ValueError(f"{name}: stores a sampling rate of {stored:g} Hz but {override:g} Hz was requested "
                         "(--sampling-rate); drop the override, or resample the data first")
    return float(override if override is not None else stored if stored is not None else 100.0)


def _load_hf(path: str, sampling_rate: Optional[float]) -> Dict[str, ECGSet]:
    import datasets

    try:
        if os.path.isdir(path) and _is_saved_dataset(path):
            loaded = datasets.load_from_disk(path)
        elif os.path.isdir(path):
            if not glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True):
                raise ValueError(f"{path}: a folder with neither a saved dataset nor parquet files")
            loaded = load_dataset_folder(path)  # never a stale cache of another copy
        else:
            loaded = datasets.load_dataset("parquet", data_files=path)
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"{path}: could not read it as a dataset ({type(exc).__name__}: {exc})") from None
    if isinstance(loaded, datasets.Dataset):
        loaded = {ALL_SPLIT: loaded}
    name = os.path.basename(os.path.normpath(path))
    return {split: dataset_to_ecg_set(ds, sampling_rate, f"{name}[{split}]") for split, ds in loaded.items()}


def _is_saved_dataset(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, f)) for f in ("dataset_dict.json", "state.json"))


def dataset_to_ecg_set(dataset, sampling_rate: Optional[float] = None, name: str = "dataset") -> ECGSet:
    """Convert a ``datasets.Dataset`` with ``signal`` and ``labels`` columns to an :class:`ECGSet`.

    ``labels`` is a sequence of ``ClassLabel`` (names taken from the feature) or of strings
    (statement codes; the vocabulary is the sorted set of codes that occur).  An optional
    ``sampling_rate`` column is used when ``sampling_rate`` is not given.
    """
    missing = [c for c in ("signal", "labels") if c not in dataset.column_names]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; found {dataset.column_names}")
    if len(dataset) == 0:
        raise ValueError(f"{name}: the dataset is empty")
    signal = _stack_signals(dataset.with_format("numpy")["signal"], name)
    rows = dataset["labels"]
    feature = dataset.features["labels"]
    label_feature = getattr(feature, "feature", feature)
    if hasattr(label_feature, "names"):
        label_names = tuple(label_feature.names)
    else:
        codes = sorted({str(c) for row in rows for c in row})
        if not codes:
            raise ValueError(f"{name}: 'labels' is empty for every record and has no ClassLabel names")
        label_names = tuple(codes)
    if "sampling_rate" in dataset.column_names:
        rates = set(np.asarray(dataset["sampling_rate"], dtype=float).tolist())
        if len(rates) != 1:
            raise ValueError(f"{name}: records have different sampling rates {sorted(rates)}")
        sampling_rate = resolve_sampling_rate(rates.pop(), sampling_rate, name)
    leads = STANDARD_LEADS
    ecgs = ECGSet(signal, labels_from_lists(rows, label_names, len(signal), name), label_names,
                  sampling_rate or 100.0, leads, name)
    check_lead_order(ecgs.signal, ecgs.lead_names, name)
    return ecgs


def _stack_signals(column, name: str) -> np.ndarray:
    if isinstance(column, np.ndarray) and column.dtype != object:
        return column.astype(np.float32)
    try:
        rows = [
            np.stack(list(row)) if getattr(getattr(row, "dtype", None), "kind", None) == "O" else np.asarray(row)
            for row in column
        ]
        return np.stack(rows).astype(np.float32)
    except ValueError as exc:
        raise ValueError(f"{name}: 'signal' rows do not share one (leads, samples) shape ({exc})") from None


def pick_split(sets: Dict[str, ECGSet], wanted: Optional[str], role: str, fallback_all: bool = True) -> ECGSet:
    """``sets[wanted]``; with ``fallback_all`` an input without splits is used whole.

    Raises ``ValueError`` naming the available splits when ``wanted`` is missing.
    """
    if wanted in sets:
        return sets[wanted]
    if fallback_all and list(sets) == [ALL_SPLIT]:
        return sets[ALL_SPLIT]
    raise ValueError(f"{role}: no split {wanted!r}; available splits are {sorted(sets)}")


def save_npz(path: str | os.PathLike, ecgs: ECGSet, split: Optional[Sequence[str]] = None) -> None:
    """Write ``ecgs`` as an ``.npz`` that :func:`load_ecg_sets` reads (atomically)."""
    from ..utils import atomic_path

    arrays = dict(signal=ecgs.signal, labels=ecgs.labels, label_names=np.asarray(ecgs.label_names),
                  sampling_rate=np.asarray(ecgs.sampling_rate), lead_names=np.asarray(ecgs.lead_names))
    if split is not None:
        arrays["split"] = np.asarray(split)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
