"""``sssd-ecg evaluate``: evaluate a synthetic ECG set against real data and write a report.

Example::

    sssd-ecg evaluate --real data/ptbxl --synthetic data/synthetic-ptbxl --out report/ \\
        --protocols TRTR,TSTR,TRTS,augment --augment-statement AFIB

``--real`` and ``--synthetic`` are ``datasets`` folders (``save_to_disk`` or parquet shards, e.g.
the outputs of ``sssd-ecg convert-ptbxl`` and ``sssd-ecg build-dataset``) or ``.npz`` files with
``signal``, ``labels`` and ``label_names``.  Heavy libraries are imported only when it runs.
"""

from __future__ import annotations

import argparse
import json
from typing import Dict, List, Optional


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``evaluate`` on the ``sssd-ecg`` sub-command parser."""
    p = subparsers.add_parser(
        "evaluate",
        help="downstream utility (TSTR/TRTS), physiological plausibility and privacy audit of synthetic ECGs",
        description="Evaluate synthetic ECGs against real ones; writes REPORT_DIR/report.html and report.json.",
    )
    io = p.add_argument_group("data")
    io.add_argument("--real", required=True, metavar="PATH", help="real ECGs: dataset folder, parquet file or .npz (with train/test splits, or use --real-test)")
    io.add_argument("--real-test", metavar="PATH", help="real test fold, when --real holds only the training data")
    io.add_argument("--synthetic", required=True, metavar="PATH", help="synthetic ECGs: dataset folder, parquet file or .npz")
    io.add_argument("--synthetic-test", metavar="PATH", help="synthetic set for TRTS (default: the synthetic test split, else all of --synthetic)")
    io.add_argument("--out", required=True, metavar="REPORT_DIR", help="report folder (created; files inside are replaced atomically)")
    io.add_argument("--train-split", default="train", help="split name of the training fold (default: train)")
    io.add_argument("--validation-split", default="validation", help="split tracked at checkpoints when present (default: validation)")
    io.add_argument("--test-split", default="test", help="split name of the test fold (default: test)")
    io.add_argument("--sampling-rate", type=float, help="override the sampling rate in Hz (default: stored rate, else 100)")
    what = p.add_argument_group("what to evaluate")
    what.add_argument("--sections", default="utility,features,physiology,privacy", help="comma-separated subset of the report sections")
    what.add_argument("--protocols", default="TRTR,TSTR,TRTS", help="comma-separated: TRTR, TSTR, TRTS, augment")
    what.add_argument("--labels", help="classifier vocabulary: a name (all, diagnostic, form, rhythm, subdiagnostic, superdiagnostic) or codes (AFIB,NORM)")
    what.add_argument("--binary", metavar="STATEMENT", help="binary task for one statement (e.g. AFIB); overrides --labels")
    what.add_argument("--augment-statement", metavar="STATEMENT", help="statement whose synthetic positives the augment protocol adds")
    what.add_argument("--statements", help="statements compared one by one in the physiology section (default: 5 most frequent)")
    clf = p.add_argument_group("downstream classifier")
    clf.add_argument("--classifier", default="xresnet1d50", help="architecture preset: xresnet1d101, xresnet1d50, xresnet1d18, tiny")
    clf.add_argument("--epochs", type=int, default=30)
    clf.add_argument("--batch-size", type=int, default=64)
    clf.add_argument("--learning-rate", type=float, default=1e-3)
    clf.add_argument("--eval-every", type=int, default=5, help="checkpoint interval in epochs for the convergence curves")
    clf.add_argument("--threshold", type=float, default=0.5, help="score threshold of F1 and G-mean")
    clf.add_argument("--save-classifiers", action="store_true", help="save the trained classifiers under REPORT_DIR/classifiers/")
    clf.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is available")
    misc = p.add_argument_group("statistics and resources")
    misc.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for confidence intervals (0 = none)")
    misc.add_argument("--alpha", type=float, default=0.05, help="memorisation quantile of the held-out distances")
    misc.add_argument("--max-records", type=int, help="cap on records per set for physiology, features and privacy (random, seeded)")
    misc.add_argument("--workers", type=int, default=0, help="processes for the NeuroKit2 delineation")
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
        raise ValueError(f"--real {args.real} has no train/test splits; give the test fold with --real-test "
                         "(or a dataset with splits, or an .npz with a 'split' array)")
    else:
        real_train = pick_split(real, args.train_split, "--real", fallback_all=False)
        real_test = pick_split(real, args.test_split, "--real (or give the test fold with --real-test)", fallback_all=False)
    synthetic_all = concat(list(synthetic.values()), name=f"synthetic ({', '.join(sorted(synthetic))})")
    synthetic_test = (pick_split(load_ecg_sets(args.synthetic_test, args.sampling_rate), args.test_split, "--synthetic-test")
                      if args.synthetic_test else synthetic.get(args.test_split, synthetic_all))
    return dict(real_train=real_train, real_test=real_test, synthetic=synthetic_all,
                synthetic_train=synthetic.get(args.train_split, synthetic_all), synthetic_test=synthetic_test,
                real_validation=real.get(args.validation_split))


def _options(args, real_train):
    from ..vocabulary import get_vocabulary
    from .report import EvaluationOptions
    from .train_classifier import TrainingConfig

    if args.binary:
        label_names = list(get_vocabulary([args.binary]))
    elif args.labels:
        label_names = list(get_vocabulary(args.labels))
    else:
        label_names = list(real_train.label_names)
    missing = [code for code in label_names if code not in real_train.label_names]
    if missing:
        raise ValueError(f"statement(s) {missing} are not labelled in {real_train.name}, whose vocabulary is {list(real_train.label_names)}")
    statements = _split_list(args.statements) or None
    if statements:
        get_vocabulary(statements)
    training = TrainingConfig(preset=args.classifier, epochs=args.epochs, batch_size=args.batch_size,
                              learning_rate=args.learning_rate, eval_every=args.eval_every, threshold=args.threshold,
                              n_bootstrap=args.bootstrap, seed=args.seed, cpu=args.cpu)
    return EvaluationOptions(sections=_split_list(args.sections), protocols=_split_list(args.protocols), label_names=label_names,
                             augment_statement=args.augment_statement, training=training, statements=statements,
                             max_records=args.max_records, num_workers=args.workers, alpha=args.alpha, seed=args.seed)


def run(args) -> int:
    """Entry point of ``sssd-ecg evaluate``."""
    from .classifier import PRESETS
    from .report import run_evaluation, write_report

    if args.classifier not in PRESETS:
        raise ValueError(f"unknown --classifier {args.classifier!r}; choose from {sorted(PRESETS)}")
    inputs = _load_inputs(args)
    options = _options(args, inputs["real_train"])
    result = run_evaluation(options=options, **inputs)
    written = write_report(result, args.out, save_classifiers=args.save_classifiers)
    print(json.dumps(result.report["headline"], indent=2))
    print(f"report:  {written['html']}\njson:    {written['json']}")
    if "privacy" in written:
        print(f"privacy: {written['privacy']} (for sssd-ecg build-dataset --privacy-report)")
    return 0
