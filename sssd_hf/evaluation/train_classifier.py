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
schedule.  At every checkpoint (``eval_every`` epochs) the model is scored on a tracking set with
the same ``evaluate`` metric modules as the final test, which gives the convergence curve
(utility versus training steps) of the SSSD-ECG-nle paper.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm.auto import tqdm

from .classifier import ECGClassifierConfig, ECGClassifierModel
from .data import ECGSet, check_compatible, concat
from .metrics import compute_metrics, macro_values

logger = logging.getLogger(__name__)

PROTOCOLS: Tuple[str, ...] = ("TRTR", "TSTR", "TRTS", "augment")


@dataclass
class TrainingConfig:
    """Hyper-parameters of :func:`fit_classifier`.

    Attributes:
        preset: classifier architecture, a key of :data:`.classifier.PRESETS`.
        epochs: passes over the training set.
        batch_size: records per optimisation step (per process).
        learning_rate: peak learning rate of the one-cycle schedule (AdamW).
        weight_decay: AdamW weight decay.
        eval_every: checkpoint interval in epochs for the convergence tracking (0 = only at the end).
        threshold: score threshold of F1 and G-mean.
        n_bootstrap: bootstrap resamples for the final test metrics.
        seed: seed of initialisation, shuffling and bootstrap.
        cpu: force the CPU even when a GPU is available.
        mixed_precision: ``"no"``, ``"fp16"`` or ``"bf16"`` (passed to ``Accelerator``).
    """

    preset: str = "xresnet1d50"
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    eval_every: int = 5
    threshold: float = 0.5
    n_bootstrap: int = 1000
    seed: int = 0
    cpu: bool = False
    mixed_precision: str = "no"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.eval_every < 0:
            raise ValueError(f"eval_every must be >= 0, got {self.eval_every}")


@dataclass
class ProtocolResult:
    """One protocol's outcome.

    Attributes:
        protocol: ``"TRTR"``, ``"TSTR"``, ``"TRTS"`` or ``"augment"``.
        train_set, test_set: names of the sets trained and tested on.
        n_train, n_test: record counts.
        metrics: ``{metric: result}`` of :func:`.metrics.compute_metrics` on the test set.
        history: checkpoints ``[{"epoch", "step", "train_loss", <metric>: macro, ...}]``.
        scores: (n_test, K) test probabilities; references: (n_test, K) 0/1 test labels.
        model: the trained classifier (eval mode).
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

    def summary(self) -> Dict:
        """JSON-ready dictionary (without arrays and model)."""
        return {"protocol": self.protocol, "train_set": self.train_set, "test_set": self.test_set,
                "n_train": self.n_train, "n_test": self.n_test, "label_names": self.label_names,
                "metrics": self.metrics, "history": self.history}


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
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(ecgs.signal), torch.from_numpy(ecgs.labels.astype(np.float32)))
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                                       drop_last=shuffle and len(dataset) > batch_size)


@torch.no_grad()
def predict(model: ECGClassifierModel, ecgs: ECGSet, batch_size: int = 256, accelerator=None, desc: str = "predict") -> np.ndarray:
    """Sigmoid probabilities of ``model`` on ``ecgs``: (N, K) float64, in ``model.config.label_names`` order."""
    return _run(model, ecgs, batch_size, accelerator, desc, lambda out: torch.sigmoid(out.logits.float()))


@torch.no_grad()
def embed(model: ECGClassifierModel, ecgs: ECGSet, batch_size: int = 256, accelerator=None, desc: str = "embed") -> np.ndarray:
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
        raise ValueError(f"{ecgs.name}: {ecgs.signal.shape[1]} leads, the classifier expects {model.config.in_channels}")
    if tuple(ecgs.label_names) != tuple(model.config.label_names):
        raise ValueError(f"{ecgs.name}: labels {list(ecgs.label_names)} differ from the classifier's "
                         f"{model.config.label_names}; use ECGSet.with_vocabulary first")


def fit_classifier(
    train: ECGSet,
    training: TrainingConfig,
    track: Optional[ECGSet] = None,
    accelerator=None,
    config: Optional[ECGClassifierConfig] = None,
    desc: str = "train",
) -> Tuple[ECGClassifierModel, List[Dict]]:
    """Train a classifier on ``train`` and track its utility on ``track`` at checkpoints.

    Args:
        train: training ECGs; their ``label_names`` become the classifier's outputs.
        training: hyper-parameters.
        track: set scored at every checkpoint (e.g. the real validation fold); None = no tracking.
        accelerator: an ``accelerate.Accelerator`` (made from ``training`` when None).
        config: classifier config (default: ``training.preset`` for ``train.label_names``); its
            input normalisation is set from ``train``.

    Returns:
        ``(model, history)``: the trained model in eval mode, and one entry per checkpoint:
        ``{"epoch", "step", "train_loss", "roc_auc", "f1", "g_mean"}`` (macro values on ``track``).
    """
    from accelerate.utils import set_seed

    accelerator = accelerator or make_accelerator(training)
    set_seed(training.seed)
    config = config or ECGClassifierConfig.from_preset(training.preset, train.label_names)
    config.input_mean, config.input_std = lead_statistics(train)
    config.sampling_rate = train.sampling_rate
    model = ECGClassifierModel(config)
    if track is not None:
        check_compatible(train, track)
        track = track.with_vocabulary(train.label_names)
    loader = _loader(train, training.batch_size, shuffle=True, seed=training.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay)
    total_steps = training.epochs * len(loader)  # before sharding: accelerate steps the schedule per process
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=training.learning_rate, total_steps=max(total_steps, 1))
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    history: List[Dict] = []
    step = 0
    bar = tqdm(total=training.epochs * len(loader), desc=desc, disable=None if accelerator.is_local_main_process else True)
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
            bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        at_checkpoint = epoch == training.epochs or (training.eval_every and epoch % training.eval_every == 0)
        if track is not None and at_checkpoint:
            scores = predict(accelerator.unwrap_model(model), track, accelerator=accelerator, desc="checkpoint")
            utility = macro_values(compute_metrics(track.labels, scores, track.label_names, threshold=training.threshold, n_bootstrap=0))
            history.append({"epoch": epoch, "step": step, "train_loss": float(np.mean(losses)), **utility})
            logger.info("%s epoch %d: %s", desc, epoch, history[-1])
    bar.close()
    model = accelerator.unwrap_model(model)
    accelerator.free_memory()  # drop accelerate's references to this run's model and optimizer
    model.eval()
    return model, history


def evaluate_classifier(model: ECGClassifierModel, test: ECGSet, training: TrainingConfig, accelerator=None) -> Tuple[Dict, np.ndarray, np.ndarray]:
    """``(metrics with bootstrap intervals, scores (N, K), references (N, K))`` of ``model`` on ``test``."""
    test = test.with_vocabulary(model.config.label_names)
    scores = predict(model, test, accelerator=accelerator, desc=f"test on {test.name}")
    metrics = compute_metrics(test.labels, scores, test.label_names, threshold=training.threshold,
                              n_bootstrap=training.n_bootstrap, seed=training.seed)
    return metrics, scores, test.labels


def augmentation_set(real_train: ECGSet, synthetic: ECGSet, statement: str) -> ECGSet:
    """Real training set plus the synthetic records that carry ``statement``, in the real vocabulary."""
    positives = synthetic.positives(statement)
    if positives.size == 0:
        raise ValueError(f"{synthetic.name} has no record labelled {statement}; nothing to add for augmentation")
    added = synthetic.subset(positives, f"{synthetic.name}[{statement} positives]").with_vocabulary(real_train.label_names)
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
        track: checkpoint-tracking set (default ``real_test``).

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
    track = real_test if track is None else vocab(track)
    _require(protocols, synthetic_train, synthetic_test, augment_statement, label_names)
    for other in (real_test, synthetic_train, synthetic_test):
        if other is not None:
            check_compatible(real_train, other)
    accelerator = accelerator or make_accelerator(training)
    results: Dict[str, ProtocolResult] = {}
    real_model = None
    for protocol in protocols:
        if protocol in ("TRTR", "TRTS"):
            train_set, test_set = real_train, (real_test if protocol == "TRTR" else vocab(synthetic_test))
            if real_model is None:
                real_model, real_history = fit_classifier(real_train, training, track, accelerator, desc="train on real")
            model, history = real_model, real_history
        else:
            if protocol == "TSTR":
                train_set = vocab(synthetic_train)
            else:
                train_set = augmentation_set(real_train, synthetic_train, augment_statement)
            test_set = real_test
            model, history = fit_classifier(train_set, training, track, accelerator, desc=f"train {protocol}")
        metrics, scores, references = evaluate_classifier(model, test_set, training, accelerator)
        results[protocol] = ProtocolResult(protocol, train_set.name, test_set.name, len(train_set), len(test_set),
                                           metrics, history, scores, references, label_names, model)
    return results


def _require(protocols, synthetic_train, synthetic_test, augment_statement, label_names) -> None:
    if any(p in protocols for p in ("TSTR", "augment")) and synthetic_train is None:
        raise ValueError("TSTR and augment need a synthetic training set")
    if "TRTS" in protocols and synthetic_test is None:
        raise ValueError("TRTS needs a synthetic test set")
    if "augment" in protocols and not augment_statement:
        raise ValueError("the augment protocol needs the statement whose synthetic positives are added")
    if "augment" in protocols and augment_statement not in label_names:
        raise ValueError(f"augment statement {augment_statement!r} is not in the classifier vocabulary {label_names}")
