"""Training and testing the downstream classifier: the TRTR / TSTR / TRTS / augmentation protocols.

The protocols of the SSSD-ECG papers, each a classifier trained on one set and tested on another:

============  =============================================  ==========================
protocol      trained on                                     tested on
============  =============================================  ==========================
``TRTR``      real training fold                             real test fold (baseline)
``TSTR``      synthetic training set                         real test fold
``TRTS``      real training fold                             synthetic test set
``augment``   real training fold + synthetic positives of    real test fold
              one (rare) statement ("adding positive
              samples", SSSD-ECG-nle)
============  =============================================  ==========================

Training uses ``accelerate`` (CPU, one GPU or several) with AdamW and a one-cycle learning-rate
schedule.  At every checkpoint (``eval_every`` epochs) the model is scored on a real validation
set with the same ``evaluate`` metric modules as the final test, which gives the convergence
curve (utility versus training steps) of the SSSD-ECG-nle paper; with ``patience`` > 0 training
stops early when the validation macro ROC-AUC has not improved for ``patience`` checkpoints, and
the weights of the best checkpoint are kept.  The validation set is the real validation fold
when there is one, else a seeded ``validation_fraction`` of the real training fold held out from
TRTR training; the test fold is never used for any choice.

Progress goes to stderr (a bar on a terminal, one line per epoch otherwise; see
:mod:`.progress`).  With ``cache_dir`` every trained classifier is stored by data fingerprint and
settings (:mod:`.classifier_cache`), so the real baseline is trained once for any number of
synthetic sets and an interrupted evaluation resumes at the protocol it was training.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm.auto import tqdm

from .classifier import PRESETS, ECGClassifierConfig, ECGClassifierModel
from .data import ECGSet, check_compatible, concat
from .metrics import compute_metrics, macro_values
from .progress import MODES, EpochProgress, log_line

logger = logging.getLogger(__name__)

PROTOCOLS: Tuple[str, ...] = ("TRTR", "TSTR", "TRTS", "augment")

#: The default classifier: sized for a 2-core CPU (see BENCHMARKS.md, "Downstream utility on CPU").
DEFAULT_PRESET = "xresnet1d18_small"

#: TrainingConfig fields that do not change the trained weights (left out of the cache key).
_NOT_TRAINING = ("threshold", "n_bootstrap", "cpu", "num_threads", "progress", "cache_dir")


@dataclass
class TrainingConfig:
    """Hyper-parameters of :func:`fit_classifier`.

    Attributes:
        preset: classifier architecture, a key of :data:`.classifier.PRESETS`.
        epochs: maximum number of passes over the training set.
        batch_size: records per optimisation step (per process).
        learning_rate: peak learning rate of the one-cycle schedule (AdamW).
        weight_decay: AdamW weight decay.
        eval_every: checkpoint interval in epochs for validation, curves and early stopping
            (0 = only at the end, which also disables early stopping).
        patience: stop after this many checkpoints without a better validation macro ROC-AUC
            and keep the best checkpoint (0 = train all ``epochs``).
        validation_fraction: share of the real training fold held out as validation set when
            no validation fold is given (0 = none: no tracking, no early stopping).
        threshold: score threshold of F1 and G-mean.
        n_bootstrap: bootstrap resamples for the final test metrics.
        seed: seed of initialisation, shuffling, validation split and bootstrap.
        cpu: force the CPU even when a GPU is available.
        mixed_precision: ``"no"``, ``"fp16"`` or ``"bf16"`` (passed to ``Accelerator``).
        num_threads: torch CPU threads while training (None = :func:`default_threads`: the free CPUs).
        progress: ``"auto"``, ``"bar"``, ``"lines"`` or ``"none"`` (see :mod:`.progress`).
        cache_dir: folder of the classifier cache (None = no caching).
    """

    preset: str = DEFAULT_PRESET
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-2
    weight_decay: float = 1e-2
    eval_every: int = 1
    patience: int = 5
    validation_fraction: float = 0.1
    threshold: float = 0.5
    n_bootstrap: int = 1000
    seed: int = 0
    cpu: bool = False
    mixed_precision: str = "no"
    num_threads: Optional[int] = None
    progress: str = "auto"
    cache_dir: Optional[str] = None

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")
        if not math.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.eval_every < 0 or self.patience < 0:
            raise ValueError(f"eval_every and patience must be >= 0, got {self.eval_every} and {self.patience}")
        if not 0 <= self.validation_fraction < 0.5:
            raise ValueError(f"validation_fraction must be in [0, 0.5), got {self.validation_fraction}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {self.num_threads}")
        if self.preset not in PRESETS:
            raise ValueError(f"unknown classifier preset {self.preset!r}; choose from {sorted(PRESETS)}")
        if self.progress not in MODES:
            raise ValueError(f"progress must be one of {list(MODES)}, got {self.progress!r}")

    def cache_settings(self, device: str) -> Dict:
        """The settings that determine the trained weights (JSON-ready), for the cache key."""
        out = {k: v for k, v in asdict(self).items() if k not in _NOT_TRAINING}
        out["architecture"] = {k: list(v) if isinstance(v, tuple) else v for k, v in PRESETS[self.preset].items()}
        out["device"] = device
        return out


@dataclass
class ProtocolResult:
    """One protocol's outcome.

    Attributes:
        protocol: ``"TRTR"``, ``"TSTR"``, ``"TRTS"`` or ``"augment"``.
        train_set, test_set: names of the sets trained and tested on.
        n_train, n_test: record counts.
        metrics: ``{metric: result}`` of :func:`.metrics.compute_metrics` on the test set.
        history: checkpoints ``[{"epoch", "step", "train_loss", "val_loss", <metric>: macro, ...}]``.
        scores: (n_test, K) test probabilities; references: (n_test, K) 0/1 test labels.
        model: the trained classifier (eval mode).
        validation_set: name of the set scored at checkpoints (None: no tracking).
        best_epoch: epoch whose weights were kept; epochs_run: epochs trained.
        train_seconds: wall-clock training time (0 when taken from the cache).
        from_cache: whether the classifier was loaded from the classifier cache.
    """

    protocol: str
    train_set: str
    test_set: str
    n_train: int
    n_test: int
    metrics: Dict[str, Dict]
    history: List[Dict]
    scores: np.ndarray
    references: np.ndarray
    label_names: List[str]
    model: Optional[ECGClassifierModel] = field(default=None, repr=False)
    validation_set: Optional[str] = None
    best_epoch: Optional[int] = None
    epochs_run: Optional[int] = None
    train_seconds: float = 0.0
    from_cache: bool = False

    def summary(self) -> Dict:
        """JSON-ready dictionary (without arrays and model)."""
        return {
            "protocol": self.protocol,
            "train_set": self.train_set,
            "test_set": self.test_set,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "label_names": self.label_names,
            "validation_set": self.validation_set,
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "train_seconds": self.train_seconds,
            "from_cache": self.from_cache,
            "metrics": self.metrics,
            "history": self.history,
        }


def make_accelerator(training: TrainingConfig):
    """An ``accelerate.Accelerator`` for ``training`` (CPU when ``training.cpu`` or no GPU)."""
    from accelerate import Accelerator

    return Accelerator(cpu=training.cpu, mixed_precision=training.mixed_precision)


def lead_statistics(ecgs: ECGSet) -> Tuple[List[float], List[float]]:
    """Per-lead mean and standard deviation (mV) over all records and samples."""
    mean = ecgs.signal.mean(axis=(0, 2), dtype=np.float64)
    std = ecgs.signal.std(axis=(0, 2), dtype=np.float64)
    return mean.tolist(), np.maximum(std, 1e-3).tolist()


def _loader(ecgs: ECGSet, batch_size: int, shuffle: bool, seed: int = 0) -> torch.utils.data.DataLoader:
    dataset = torch.utils.data.TensorDataset(
        torch.from_numpy(ecgs.signal), torch.from_numpy(ecgs.labels.astype(np.float32))
    )
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        drop_last=shuffle and len(dataset) > batch_size,
    )


@torch.no_grad()
def predict(
    model: ECGClassifierModel, ecgs: ECGSet, batch_size: int = 256, accelerator=None, desc: str = "predict"
) -> np.ndarray:
    """Sigmoid probabilities of ``model`` on ``ecgs``: (N, K) float64, in ``model.config.label_names`` order."""
    return _run(model, ecgs, batch_size, accelerator, desc, lambda out: torch.sigmoid(out.logits.float()))


@torch.no_grad()
def embed(
    model: ECGClassifierModel, ecgs: ECGSet, batch_size: int = 256, accelerator=None, desc: str = "embed"
) -> np.ndarray:
    """Penultimate-layer features of ``model`` on ``ecgs``: (N, D) float64."""
    return _run(model, ecgs, batch_size, accelerator, desc, lambda out: out.embeddings.float())


def _run(model, ecgs: ECGSet, batch_size: int, accelerator, desc: str, pick) -> np.ndarray:
    _check_inputs(model, ecgs)
    device = accelerator.device if accelerator is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs = []
    for signal, _ in tqdm(_loader(ecgs, batch_size, shuffle=False), desc=desc, leave=False, disable=None):
        outputs.append(pick(model(signal.to(device))).cpu().numpy())
    model.train(was_training)
    return np.concatenate(outputs).astype(np.float64)


def _check_inputs(model: ECGClassifierModel, ecgs: ECGSet) -> None:
    if ecgs.signal.shape[1] != model.config.in_channels:
        raise ValueError(
            f"{ecgs.name}: {ecgs.signal.shape[1]} leads, the classifier expects {model.config.in_channels}"
        )
    if tuple(ecgs.label_names) != tuple(model.config.label_names):
        raise ValueError(
            f"{ecgs.name}: labels {list(ecgs.label_names)} differ from the classifier's "
            f"{model.config.label_names}; use ECGSet.with_vocabulary first"
        )


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def default_threads() -> int:
    """Torch CPU threads for training: the CPUs this process may use minus those other work keeps busy.

    On a shared machine more threads than free cores make every step many times slower (the
    threads wait on each other; measured in BENCHMARKS.md), so the 1-minute load average is
    subtracted; at least 1.
    """
    cpus = available_cpus()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        busy = 0.0
    return max(1, min(cpus, int(math.floor(cpus - busy + 0.5))))


@contextlib.contextmanager
def torch_threads(num_threads: Optional[int]) -> Iterator[int]:
    """Run the body with ``num_threads`` torch CPU threads (None: :func:`default_threads`); restored after."""
    previous = torch.get_num_threads()
    wanted = num_threads or default_threads()
    torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        torch.set_num_threads(previous)


def split_validation(ecgs: ECGSet, fraction: float, seed: int = 0) -> Tuple[ECGSet, Optional[ECGSet]]:
    """``(rest, validation)``: a seeded random ``fraction`` of ``ecgs`` held out (at least one record).

    ``fraction`` 0 gives ``(ecgs, None)``.  Raises ``ValueError`` when fewer than 2 records would
    be left to train on.
    """
    if fraction <= 0:
        return ecgs, None
    n_validation = max(1, int(round(fraction * len(ecgs))))
    if len(ecgs) - n_validation < 2:
        raise ValueError(
            f"{ecgs.name}: {len(ecgs)} records are too few to hold out a validation set "
            f"({fraction:.0%}); give a validation fold or set the validation fraction to 0"
        )
    order = np.random.default_rng(seed).permutation(len(ecgs))
    held = np.sort(order[:n_validation])
    rest = np.sort(order[n_validation:])
    return (
        ecgs.subset(rest, f"{ecgs.name} (minus validation)"),
        ecgs.subset(held, f"{ecgs.name} (random {n_validation} held out for validation)"),
    )


def _validation_scores(model, track: ECGSet, training: TrainingConfig, accelerator) -> Dict:
    """Macro metrics and mean binary cross-entropy of ``model`` on ``track``."""
    scores = predict(model, track, accelerator=accelerator, desc="validation")
    utility = macro_values(
        compute_metrics(track.labels, scores, track.label_names, threshold=training.threshold, n_bootstrap=0)
    )
    p = np.clip(scores, 1e-7, 1 - 1e-7)
    loss = -np.mean(track.labels * np.log(p) + (1 - track.labels) * np.log(1 - p))
    return {"val_loss": float(loss), **utility}


def _monitor(entry: Dict) -> float:
    """What early stopping maximises: the validation macro ROC-AUC, else (undefined AUC) minus the loss."""
    auc = entry.get("roc_auc")
    return float(auc) if auc is not None and np.isfinite(auc) else -entry["val_loss"]


def fit_classifier(
    train: ECGSet,
    training: TrainingConfig,
    track: Optional[ECGSet] = None,
    accelerator=None,
    config: Optional[ECGClassifierConfig] = None,
    desc: str = "train",
) -> Tuple[ECGClassifierModel, List[Dict]]:
    """Train a classifier on ``train``, validating on ``track`` at checkpoints, with early stopping.

    Args:
        train: training ECGs, signal (N, 12, L) mV; their ``label_names`` become the outputs.
        training: hyper-parameters (``patience`` > 0: early stopping on ``track``).
        track: validation set scored at every checkpoint (e.g. the real validation fold);
            None = no tracking and no early stopping.  Never pass the test set.
        accelerator: an ``accelerate.Accelerator`` (made from ``training`` when None).
        config: classifier config (default: ``training.preset`` for ``train.label_names``); its
            input normalisation is set from ``train``.
        desc: name in the progress output (e.g. ``"TRTR"``).

    Returns:
        ``(model, history)``: the model in eval mode with the weights of the best checkpoint
        (the last epoch without tracking), and one entry per checkpoint: ``{"epoch", "step",
        "train_loss", "val_loss", "roc_auc", "f1", "g_mean", "elapsed_s", "best"}`` (macro
        values on ``track``; ``best`` marks the kept checkpoint).
    """
    from accelerate.utils import set_seed

    accelerator = accelerator or make_accelerator(training)
    set_seed(training.seed)
    config = config or ECGClassifierConfig.from_preset(training.preset, train.label_names)
    config.input_mean, config.input_std = lead_statistics(train)
    config.sampling_rate = train.sampling_rate
    if track is not None:
        check_compatible(train, track)
        track = track.with_vocabulary(train.label_names)
    with torch_threads(training.num_threads):
        model = ECGClassifierModel(config)
        return _train_loop(model, train, training, track, accelerator, desc)


def _train_loop(model, train, training, track, accelerator, desc) -> Tuple[ECGClassifierModel, List[Dict]]:
    loader = _loader(train, training.batch_size, shuffle=True, seed=training.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay)
    total_steps = training.epochs * len(loader)  # before sharding: accelerate steps the schedule per process
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=training.learning_rate, total_steps=max(total_steps, 1)
    )
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    mode = training.progress if accelerator.is_local_main_process else "none"
    progress = EpochProgress(desc, training.epochs, len(loader), mode)
    history: List[Dict] = []
    best_state, best_value, best_epoch, since_best = None, -math.inf, None, 0
    start, step, stop_reason = time.perf_counter(), 0, f"trained all {training.epochs} epochs"
    for epoch in range(1, training.epochs + 1):
        model.train()
        losses = []
        for signal, labels in loader:
            loss = model(signal, labels=labels).loss
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            step += 1
            progress.step()
        at_checkpoint = epoch == training.epochs or (training.eval_every and epoch % training.eval_every == 0)
        if track is None or not at_checkpoint:
            progress.epoch(epoch, float(np.mean(losses)))
            continue
        entry = {
            "epoch": epoch,
            "step": step,
            "train_loss": float(np.mean(losses)),
            **_validation_scores(accelerator.unwrap_model(model), track, training, accelerator),
            "elapsed_s": round(time.perf_counter() - start, 2),
            "best": False,
        }
        history.append(entry)
        if _monitor(entry) > best_value:
            best_value, best_epoch, since_best = _monitor(entry), epoch, 0
            best_state = copy.deepcopy(accelerator.unwrap_model(model).state_dict())
        else:
            since_best += 1
        progress.epoch(epoch, entry["train_loss"], entry["roc_auc"], _best_auc(history, best_epoch), best_epoch)
        logger.debug("%s epoch %d: %s", desc, epoch, entry)
        if training.patience and since_best >= training.patience and epoch < training.epochs:
            stop_reason = f"early stop at epoch {epoch}: no better validation AUC for {since_best} checkpoints"
            break
    model = accelerator.unwrap_model(model)
    if best_state is not None:
        model.load_state_dict(best_state)
        next(e for e in history if e["epoch"] == best_epoch)["best"] = True
        stop_reason += f"; kept epoch {best_epoch}"
    progress.close(f"{stop_reason} ({time.perf_counter() - start:.0f} s)")
    accelerator.free_memory()  # drop accelerate's references to this run's model and optimizer
    model.eval()
    return model, history


def _best_auc(history: List[Dict], best_epoch: Optional[int]) -> Optional[float]:
    return next((e["roc_auc"] for e in history if e["epoch"] == best_epoch), None)


def evaluate_classifier(
    model: ECGClassifierModel, test: ECGSet, training: TrainingConfig, accelerator=None
) -> Tuple[Dict, np.ndarray, np.ndarray]:
    """``(metrics with bootstrap intervals, scores (N, K), references (N, K))`` of ``model`` on ``test``."""
    test = test.with_vocabulary(model.config.label_names)
    scores = predict(model, test, accelerator=accelerator, desc=f"test on {test.name}")
    metrics = compute_metrics(
        test.labels,
        scores,
        test.label_names,
        threshold=training.threshold,
        n_bootstrap=training.n_bootstrap,
        seed=training.seed,
    )
    return metrics, scores, test.labels


def augmentation_set(real_train: ECGSet, synthetic: ECGSet, statement: str) -> ECGSet:
    """Real training set plus the synthetic records that carry ``statement``, in the real vocabulary."""
    positives = synthetic.positives(statement)
    if positives.size == 0:
        raise ValueError(f"{synthetic.name} has no record labelled {statement}; nothing to add for augmentation")
    added = synthetic.subset(positives, f"{synthetic.name}[{statement} positives]").with_vocabulary(
        real_train.label_names
    )
    return concat([real_train, added], name=f"{real_train.name} + {len(positives)} synthetic {statement}")


def run_protocols(
    protocols: Sequence[str],
    real_train: ECGSet,
    real_test: ECGSet,
    synthetic_train: Optional[ECGSet] = None,
    synthetic_test: Optional[ECGSet] = None,
    training: Optional[TrainingConfig] = None,
    label_names: Optional[Sequence[str]] = None,
    augment_statement: Optional[str] = None,
    track: Optional[ECGSet] = None,
    accelerator=None,
) -> Dict[str, ProtocolResult]:
    """Run the requested protocols; see the module docstring.

    Args:
        protocols: subset of :data:`PROTOCOLS`.
        real_train, real_test: real training and test folds.
        synthetic_train: synthetic set to train on (TSTR) or to draw positives from (augment).
        synthetic_test: synthetic set to test on (TRTS).
        label_names: classifier vocabulary (default ``real_train.label_names``); one code = binary.
        augment_statement: the statement whose synthetic positives are added (augment).
        track: real validation set of every protocol (checkpoints, early stopping); default a
            ``training.validation_fraction`` of ``real_train`` held out from it.

    Returns:
        ``{protocol: ProtocolResult}``.  TRTR and TRTS share one real-trained classifier.
    """
    training = training or TrainingConfig()
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown protocol(s) {unknown}; choose from {list(PROTOCOLS)}")
    label_names = list(label_names or real_train.label_names)
    vocab = lambda s: None if s is None else s.with_vocabulary(label_names)  # noqa: E731
    real_train, real_test = vocab(real_train), vocab(real_test)
    _require(protocols, synthetic_train, synthetic_test, augment_statement, label_names)
    for other in (real_test, synthetic_train, synthetic_test, track):
        if other is not None:
            check_compatible(real_train, other)
    if track is None:
        real_train, track = split_validation(real_train, training.validation_fraction, training.seed)
    else:
        track = vocab(track)
    cache = None
    if training.cache_dir:
        from .classifier_cache import ClassifierCache

        cache = ClassifierCache(training.cache_dir)
        cache.check_writable()
    accelerator = accelerator or make_accelerator(training)
    results: Dict[str, ProtocolResult] = {}
    real_fit = None
    for protocol in protocols:
        if protocol in ("TRTR", "TRTS"):
            train_set, test_set = real_train, (real_test if protocol == "TRTR" else vocab(synthetic_test))
            if real_fit is None:
                name = "TRTR" if "TRTR" in protocols else "TRTS"
                real_fit = _fit_or_load(real_train, training, track, accelerator, name, cache)
            fit = real_fit
        else:
            if protocol == "TSTR":
                train_set = vocab(synthetic_train)
            else:
                train_set = augmentation_set(real_train, synthetic_train, augment_statement)
            test_set = real_test
            fit = _fit_or_load(train_set, training, track, accelerator, protocol, cache)
        model, history, seconds, cached = fit
        metrics, scores, references = evaluate_classifier(model, test_set, training, accelerator)
        best = next((e["epoch"] for e in history if e.get("best")), None)
        results[protocol] = ProtocolResult(
            protocol,
            train_set.name,
            test_set.name,
            len(train_set),
            len(test_set),
            metrics,
            history,
            scores,
            references,
            label_names,
            model,
            validation_set=None if track is None else track.name,
            best_epoch=best,
            epochs_run=history[-1]["epoch"] if history else training.epochs,
            train_seconds=round(seconds, 1),
            from_cache=cached,
        )
        auc = metrics["roc_auc"]
        log_line(
            f"[{protocol}] test macro ROC-AUC {_ci_text(auc['roc_auc'], auc.get('roc_auc_ci'))} "
            f"on {test_set.name} ({len(test_set)} records)",
            training.progress,
        )
    return results


def _ci_text(value, interval) -> str:
    if value is None:
        return "n/a"
    if not interval or interval[0] is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def _fit_or_load(train_set, training, track, accelerator, desc, cache):
    """``(model, history, training seconds, from cache)``: the cached classifier, else a new one (stored)."""
    key = description = None
    if cache is not None:
        from .classifier_cache import cache_key

        key, description = cache_key(train_set, track, training.cache_settings(accelerator.device.type))
        hit = cache.load(key)
        if hit is not None:
            log_line(
                f"[{desc}] reusing the classifier trained earlier on {train_set.name} "
                f"({os.path.join(cache.folder, key)})",
                training.progress,
            )
            model, history = hit
            return model.to(accelerator.device), history, 0.0, True
    start = time.perf_counter()
    model, history = fit_classifier(train_set, training, track, accelerator, desc=desc)
    seconds = time.perf_counter() - start
    if cache is not None and accelerator.is_main_process:
        cache.store(key, model, history, description)
    return model, history, seconds, False


def _require(protocols, synthetic_train, synthetic_test, augment_statement, label_names) -> None:
    if any(p in protocols for p in ("TSTR", "augment")) and synthetic_train is None:
        raise ValueError("TSTR and augment need a synthetic training set")
    if "TRTS" in protocols and synthetic_test is None:
        raise ValueError("TRTS needs a synthetic test set")
    if "augment" in protocols and not augment_statement:
        raise ValueError("the augment protocol needs the statement whose synthetic positives are added")
    if "augment" in protocols and augment_statement not in label_names:
        raise ValueError(f"augment statement {augment_statement!r} is not in the classifier vocabulary {label_names}")
