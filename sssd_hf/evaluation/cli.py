"""``sssd-ecg evaluate``: evaluate a synthetic ECG set against real data and write a report.

Example::

    sssd-ecg evaluate --real data/ptbxl --synthetic data/synthetic-ptbxl --out report/ \\
        --protocols TRTR,TSTR,TRTS,augment --augment-statement AFIB

``--real`` and ``--synthetic`` are ``datasets`` folders (``save_to_disk`` or parquet shards, e.g.
the outputs of ``sssd-ecg convert-ptbxl`` and ``sssd-ecg build-dataset``) or ``.npz`` files with
``signal``, ``labels`` and ``label_names``.  Heavy libraries are imported only when it runs.

Long steps report on stderr: a bar on a terminal, one line per training epoch (protocol, loss,
validation AUC, elapsed and remaining time) when stderr is a file or pipe.  The default
classifier (``xresnet1d18_small``, early stopping on a validation hold-out) is sized so that
TRTR + TSTR on a few thousand 10 s records take minutes on a 2-core CPU (BENCHMARKS.md); the
PTB-XL benchmark's ``xresnet1d50`` / ``xresnet1d101`` are meant for a GPU.  Trained classifiers
are cached by data fingerprint and settings (``--cache-dir``, ``--no-cache``): the real
baseline is trained once for any number of synthetic sets, and an interrupted run resumes at
the protocol it was training.  The report folder is written in a temporary folder and renamed,
so it is either the complete new report or the previous one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from typing import Dict, List, Optional

#: shown in --help without importing torch; tests check it against classifier.PRESETS and DEFAULT_PRESET
_PRESET_HELP = (
    "architecture preset: xresnet1d18_small (the default, sized for a CPU), xresnet1d18, tiny, or the PTB-XL "
    "benchmark's xresnet1d50 and xresnet1d101 (for a GPU)"
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``evaluate`` on the ``sssd-ecg`` sub-command parser."""
    p = subparsers.add_parser(
        "evaluate",
        help="downstream utility (TSTR/TRTS), physiological plausibility and privacy audit of synthetic ECGs",
        description="Evaluate synthetic ECGs against real ones; writes REPORT_DIR/report.html and report.json.",
    )
    io = p.add_argument_group("data")
    io.add_argument(
        "--real",
        required=True,
        metavar="PATH",
        help="real ECGs: dataset folder, parquet file or .npz (with train/test splits, or use --real-test)",
    )
    io.add_argument("--real-test", metavar="PATH", help="real test fold, when --real holds only the training data")
    io.add_argument(
        "--synthetic", required=True, metavar="PATH", help="synthetic ECGs: dataset folder, parquet file or .npz"
    )
    io.add_argument(
        "--synthetic-test",
        metavar="PATH",
        help="synthetic set for TRTS (default: the synthetic test split, else all of --synthetic)",
    )
    io.add_argument(
        "--out",
        required=True,
        metavar="REPORT_DIR",
        help="report folder (created; files inside are replaced atomically)",
    )
    io.add_argument("--train-split", default="train", help="split name of the training fold (default: train)")
    io.add_argument(
        "--validation-split",
        default="validation",
        help="split tracked at checkpoints when present (default: validation)",
    )
    io.add_argument("--test-split", default="test", help="split name of the test fold (default: test)")
    io.add_argument(
        "--sampling-rate", type=float, help="override the sampling rate in Hz (default: stored rate, else 100)"
    )
    what = p.add_argument_group("what to evaluate")
    what.add_argument(
        "--sections",
        default="utility,features,physiology,privacy",
        help="comma-separated subset of the report sections",
    )
    what.add_argument("--protocols", default="TRTR,TSTR,TRTS", help="comma-separated: TRTR, TSTR, TRTS, augment")
    what.add_argument(
        "--labels",
        help="classifier vocabulary: a name (all, diagnostic, form, rhythm, subdiagnostic, superdiagnostic) "
        "or codes (AFIB,NORM)",
    )
    what.add_argument(
        "--binary", metavar="STATEMENT", help="binary task for one statement (e.g. AFIB); overrides --labels"
    )
    what.add_argument(
        "--augment-statement",
        metavar="STATEMENT",
        help="statement whose synthetic positives the augment protocol adds",
    )
    what.add_argument(
        "--statements", help="statements compared one by one in the physiology section (default: 5 most frequent)"
    )
    clf = p.add_argument_group("downstream classifier")
    clf.add_argument("--classifier", metavar="PRESET", help=_PRESET_HELP)
    clf.add_argument(
        "--epochs", type=int, default=30, help="maximum epochs (default 30; early stopping usually ends sooner)"
    )
    clf.add_argument(
        "--patience",
        type=int,
        default=5,
        help="stop after this many checkpoints without a better validation ROC-AUC (0 = no early stopping)",
    )
    clf.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="share of the real training fold held out for validation when there is no validation split",
    )
    clf.add_argument("--batch-size", type=int, default=64)
    clf.add_argument("--learning-rate", type=float, default=1e-2, help="peak of the one-cycle schedule (default 0.01)")
    clf.add_argument("--eval-every", type=int, default=1, help="checkpoint (validation) interval in epochs")
    clf.add_argument("--threshold", type=float, default=0.5, help="score threshold of F1 and G-mean")
    clf.add_argument(
        "--save-classifiers", action="store_true", help="save the trained classifiers under REPORT_DIR/classifiers/"
    )
    clf.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is available")
    clf.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="cache of trained classifiers, keyed by data and settings: the real baseline (TRTR) is trained "
        "once for any number of synthetic sets, and a re-run resumes (default: $SSSD_HF_CACHE/classifiers "
        "or ~/.cache/sssd_hf/classifiers)",
    )
    clf.add_argument("--no-cache", action="store_true", help="neither read nor write the classifier cache")
    misc = p.add_argument_group("statistics and resources")
    misc.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples for confidence intervals (0 = none)"
    )
    misc.add_argument("--alpha", type=float, default=0.05, help="memorisation quantile of the held-out distances")
    misc.add_argument(
        "--max-records", type=int, help="cap on records per set for physiology, features and privacy (random, seeded)"
    )
    misc.add_argument("--workers", type=int, default=0, help="processes for the NeuroKit2 delineation")
    misc.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: the CPUs this process may use minus the load average, at least 1)",
    )
    misc.add_argument(
        "--progress",
        choices=["auto", "bar", "lines", "none"],
        default="auto",
        help="progress on stderr: bar on a terminal and one line per epoch otherwise (auto), or forced",
    )
    misc.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)
    return p


def _split_list(text: Optional[str]) -> List[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def _load_inputs(args) -> Dict:
    from .data import ALL_SPLIT, concat, load_ecg_sets, pick_split

    real = load_ecg_sets(args.real, args.sampling_rate)
    synthetic = load_ecg_sets(args.synthetic, args.sampling_rate)
    if args.real_test:
        real_test = pick_split(load_ecg_sets(args.real_test, args.sampling_rate), args.test_split, "--real-test")
        real_train = pick_split(real, args.train_split, "--real")
    elif list(real) == [ALL_SPLIT]:
        raise ValueError(
            f"--real {args.real} has no train/test splits; give the test fold with --real-test "
            "(or a dataset with splits, or an .npz with a 'split' array)"
        )
    else:
        real_train = pick_split(real, args.train_split, "--real", fallback_all=False)
        real_test = pick_split(
            real, args.test_split, "--real (or give the test fold with --real-test)", fallback_all=False
        )
    synthetic_all = (
        next(iter(synthetic.values()))
        if len(synthetic) == 1
        # one split: no copy
        else concat(list(synthetic.values()), name=f"synthetic ({', '.join(sorted(synthetic))})")
    )
    synthetic_test = (
        pick_split(load_ecg_sets(args.synthetic_test, args.sampling_rate), args.test_split, "--synthetic-test")
        if args.synthetic_test
        else synthetic.get(args.test_split, synthetic_all)
    )
    return dict(
        real_train=real_train,
        real_test=real_test,
        synthetic=synthetic_all,
        synthetic_train=synthetic.get(args.train_split, synthetic_all),
        synthetic_test=synthetic_test,
        real_validation=real.get(args.validation_split),
    )


def training_config(args, **fields):
    """A ``TrainingConfig`` from the ``--epochs --patience --learning-rate --threads --bootstrap --seed`` options of
    ``args``, the other fields as ``fields`` give them (shared with ``benchmarks/bench_utility.py``)."""
    from .train_classifier import TrainingConfig

    return TrainingConfig(
        epochs=args.epochs,
        patience=args.patience,
        learning_rate=args.learning_rate,
        num_threads=args.threads,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        **fields,
    )


def _options(args, real_train):
    from ..vocabulary import get_vocabulary
    from .classifier_cache import default_cache_dir
    from .report import EvaluationOptions

    if args.binary:
        label_names = list(get_vocabulary([args.binary]))
    elif args.labels:
        label_names = list(get_vocabulary(args.labels))
    else:
        label_names = list(real_train.label_names)
    missing = [code for code in label_names if code not in real_train.label_names]
    if missing:
        raise ValueError(
            f"statement(s) {missing} are not labelled in {real_train.name}, "
            f"whose vocabulary is {list(real_train.label_names)}"
        )
    statements = _split_list(args.statements) or None
    if statements:
        get_vocabulary(statements)
    training = training_config(
        args,
        preset=args.classifier,
        validation_fraction=args.validation_fraction,
        batch_size=args.batch_size,
        eval_every=args.eval_every,
        threshold=args.threshold,
        cpu=args.cpu,
        progress=args.progress,
        cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()),
    )
    return EvaluationOptions(
        sections=_split_list(args.sections),
        protocols=_split_list(args.protocols),
        label_names=label_names,
        augment_statement=args.augment_statement,
        training=training,
        statements=statements,
        max_records=args.max_records,
        num_workers=args.workers,
        alpha=args.alpha,
        seed=args.seed,
    )


def _check_arguments(args) -> None:
    """Cheap checks of the arguments, before any data is loaded."""
    from .classifier import PRESETS
    from .train_classifier import DEFAULT_PRESET

    args.classifier = args.classifier or DEFAULT_PRESET
    if args.classifier not in PRESETS:
        raise ValueError(f"unknown --classifier {args.classifier!r}; choose from {sorted(PRESETS)}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.sampling_rate is not None and not (args.sampling_rate > 0 and args.sampling_rate < float("inf")):
        raise ValueError(f"--sampling-rate must be a positive number of Hz, got {args.sampling_rate}")
    if args.bootstrap < 0:
        raise ValueError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    check_report_folder(args.out)
    for flag in ("real", "real_test", "synthetic", "synthetic_test"):
        path = getattr(args, flag)
        if path is not None and not os.path.exists(path):
            raise FileNotFoundError(f"--{flag.replace('_', '-')} {path}: no such file or folder")


def check_report_folder(out: str) -> None:
    """``ValueError`` unless ``out`` is absent, an empty folder or a previous report (it is replaced whole)."""
    if not os.path.exists(out):
        parent = os.path.dirname(os.path.abspath(out))
        if os.path.exists(parent) and not os.access(parent, os.W_OK):
            raise ValueError(f"--out {out}: cannot create it, {parent} is not writable")
        return
    if not os.path.isdir(out):
        raise ValueError(f"--out {out} exists and is not a folder")
    entries = [e for e in os.listdir(out) if not e.startswith(".")]
    if entries and "report.json" not in entries:
        raise ValueError(
            f"--out {out} holds other files ({', '.join(sorted(entries)[:3])}...) and no report.json; "
            "the report folder is replaced as a whole, so give a new or empty folder"
        )


def _partial_folder(out: str) -> str:
    """A new temporary folder next to ``out``; leftovers of killed runs (dead process ids) are removed first."""
    parent, name = os.path.split(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    prefix = f".{name}.partial-"
    for entry in os.listdir(parent):
        pid = entry[len(prefix) :].split("-")[0]
        if entry.startswith(prefix) and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def write_report_folder(result, out: str, save_classifiers: bool = False) -> Dict[str, str]:
    """Write the whole report into a temporary folder, then put it in place of ``out``.

    An interrupted or failed run leaves ``out`` as it was (absent, or the previous report);
    returns the paths of the files, inside ``out``.
    """
    from .report import write_report

    partial = _partial_folder(out)
    previous = None
    try:
        written = write_report(result, partial, save_classifiers=save_classifiers)
        if os.path.exists(out):
            previous = f"{partial}.previous"
            os.replace(out, previous)
        os.replace(partial, out)
    except BaseException:
        if previous and not os.path.exists(out):
            os.replace(previous, out)  # put the previous report back
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if previous:
        shutil.rmtree(previous, ignore_errors=True)
    return {key: os.path.join(out, os.path.relpath(path, partial)) for key, path in written.items()}


def _announce(inputs: Dict, options, mode: str) -> None:
    from .progress import log_line
    from .train_classifier import default_threads

    training = options.training
    sizes = ", ".join(f"{key} {len(s)}" for key, s in inputs.items() if s is not None)
    log_line(f"[evaluate] records: {sizes}; sections {','.join(options.sections)}", mode)
    if "utility" in options.sections or "features" in options.sections:
        stop = (
            f"early stopping after {training.patience} checkpoints without gain"
            if training.patience
            else "no early stopping"
        )
        log_line(
            f"[evaluate] protocols {','.join(options.protocols)}; classifier {training.preset}, "
            f"at most {training.epochs} epochs, {stop}; {training.num_threads or default_threads()} CPU threads; "
            f"classifier cache: {training.cache_dir or 'off'}",
            mode,
        )


def run(args) -> int:
    """Entry point of ``sssd-ecg evaluate``."""
    import torch

    from .report import run_evaluation
    from .train_classifier import default_threads

    _check_arguments(args)
    torch.set_num_threads(args.threads or default_threads())
    inputs = _load_inputs(args)
    options = _options(args, inputs["real_train"])
    _announce(inputs, options, args.progress)
    result = run_evaluation(options=options, **inputs)
    written = write_report_folder(result, args.out, save_classifiers=args.save_classifiers)
    print(json.dumps(result.report["headline"], indent=2))
    print(f"report:  {written['html']}\njson:    {written['json']}")
    if "privacy" in written:
        print(f"privacy: {written['privacy']} (for sssd-ecg build-dataset --privacy-report)")
    return 0
