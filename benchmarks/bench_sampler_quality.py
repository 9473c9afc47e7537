"""Few-step sampling quality: the paper's 200-step DDPM against DDIM, DPM-Solver++ and UniPC at
10, 20 and 50 steps (and against itself with a bfloat16 network), on the same conditioning.

    python benchmarks/bench_sampler_quality.py --reference data/simulated-rhythms --per-statement 60 --out quality.json
    python benchmarks/bench_sampler_quality.py --smoke --out quality.json   # checks the script only

Every sampler generates the same ECGs: the same statements, one generator per ECG with the same
seed, so the runs differ only by the sampler.  Each run is scored with the evaluation suite
against the reference set's held-out records (validation + test splits):

- ``physio_w_iqr`` / ``physio_ks``: mean over the NeuroKit2 features (heart rate, RR variability,
  PR, QRS, QT, QTc, R amplitudes) of the Wasserstein distance divided by the real interquartile
  range, and of the Kolmogorov-Smirnov statistic (:mod:`sssd_hf.evaluation.physiology`);
  ``delineation_failures``: fraction of ECGs NeuroKit2 could not measure;
- ``frechet`` / ``mmd2``: distances in the embedding of a classifier trained on the reference
  training split (:mod:`sssd_hf.evaluation.feature_distance`);
- ``label_control``: for the rate-defined statements (SBRAD, SR, STACH), the fraction of ECGs
  whose lead II is a regular rhythm with a rate in the statement's definition;
- ``seconds_per_ecg``: generation time.

A row ``real (train split)`` scores reference training records the same way: the floor that
sampling noise and the finite sample sizes leave.  Lower is better for every distance.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from diffusers.utils import logging as diffusers_logging

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, print_table, write_results  # noqa: E402

from sssd_hf import SSSDECGPipeline, SSSDECGScheduler  # noqa: E402
from sssd_hf.evaluation.data import ECGSet, concat, load_ecg_sets  # noqa: E402
from sssd_hf.evaluation.feature_distance import feature_distances  # noqa: E402
from sssd_hf.evaluation.label_control import label_control  # noqa: E402
from sssd_hf.evaluation.physiology import compare_measurements, measure_records, summarize_distances  # noqa: E402
from sssd_hf.evaluation.train_classifier import TrainingConfig, embed, fit_classifier  # noqa: E402
from sssd_hf.schedulers.samplers import SAMPLERS  # noqa: E402  (the one sampler registry)
from sssd_hf.schedulers.samplers import make_scheduler as registry_scheduler  # noqa: E402

DEFAULT_RUNS = ["ddpm:200", "ddpm:200:bf16", "ddpm:50", "ddim:50", "ddim:20", "ddim:10", "dpm:50", "dpm:20", "dpm:10",
                "unipc:50", "unipc:20", "unipc:10"]


def parse_run(text: str) -> Tuple[str, int, str]:
    """``"ddim:20"`` or ``"ddpm:200:bf16"`` -> (scheduler, steps, dtype name)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or parts[0] not in SAMPLERS or not parts[1].isdigit():
        raise ValueError(f"run {text!r} must be SAMPLER:STEPS[:bf16] with SAMPLER one of {', '.join(SAMPLERS)}")
    dtype = parts[2] if len(parts) == 3 else "fp32"
    if dtype not in ("fp32", "bf16"):
        raise ValueError(f"run {text!r}: precision must be fp32 or bf16")
    return parts[0], int(parts[1]), dtype


def make_scheduler(name: str):
    """A scheduler of kind ``name`` with the paper's noise schedule (T = 200, betas 1e-4..0.02)."""
    return registry_scheduler(name, SSSDECGScheduler().config, SSSDECGScheduler)


def generate(
    pipe, statements: Sequence[str], scheduler: str, steps: int, dtype: str, seed: int, batch_size: int
) -> Tuple[np.ndarray, float]:
    """``(ecgs (N, 12, L) mV, seconds)`` for one label per ECG, ECG ``i`` seeded with ``seed + i``."""
    pipe.scheduler = make_scheduler(scheduler)
    pipe.model.to(torch.bfloat16 if dtype == "bf16" else torch.float32)
    generators = [torch.Generator().manual_seed(seed + i) for i in range(len(statements))]
    start = time.perf_counter()
    try:
        out = pipe(
            labels=[[s] for s in statements], generator=generators, num_inference_steps=steps, batch_size=batch_size
        )
    finally:
        pipe.model.to(torch.float32)
    return out.ecgs, time.perf_counter() - start


class Scorer:
    """Scores sets of ECGs against the held-out reference records with the evaluation suite."""

    def __init__(
        self,
        real_train: ECGSet,
        real_eval: ECGSet,
        classifier_preset: str,
        classifier_epochs: int,
        seed: int,
        workers: int,
    ):
        self.real_eval, self.seed, self.workers = real_eval, seed, workers
        training = TrainingConfig(preset=classifier_preset, epochs=classifier_epochs, batch_size=32, eval_every=0,
                                  n_bootstrap=0, seed=seed, cpu=not torch.cuda.is_available())
        self.classifier, _ = fit_classifier(real_train, training, desc="train embedding classifier")
        self.real_embedding = embed(self.classifier, real_eval, desc="embed reference")
        self.real_measurements = measure_records(real_eval, num_workers=workers, desc="delineate reference")

    def score(self, ecgs: ECGSet) -> Dict[str, Optional[float]]:
        measured = measure_records(ecgs, num_workers=self.workers, desc=f"delineate {ecgs.name}")
        physiology = summarize_distances(compare_measurements(self.real_measurements, measured))
        features = feature_distances(
            self.real_embedding,
            embed(
                self.classifier, ecgs.with_vocabulary(self.classifier.config.label_names), desc=f"embed {ecgs.name}"
            ),
            seed=self.seed,
        )
        return {
            "physio_w_iqr": physiology["mean_wasserstein_iqr"], "physio_ks": physiology["mean_ks_statistic"],
            "delineation_failures": float((measured["status"] != "ok").mean()),
            "frechet": features["frechet"], "mmd2": features["mmd2"],
            "label_control": overall_label_control(ecgs),
        }


def overall_label_control(ecgs: ECGSet) -> Optional[float]:
    """Fraction of the rate-defined ECGs of ``ecgs`` (one statement each) that are in range."""
    per_statement = label_control(ecgs.signal, [row[0] for row in ecgs.label_lists()], ecgs.sampling_rate)
    if not per_statement:
        return None
    return float(
        sum(s["in_range"] * s["n"] for s in per_statement.values()) / sum(s["n"] for s in per_statement.values())
    )


def load_reference(path: str) -> Tuple[ECGSet, ECGSet]:
    """``(training split, validation + test splits)`` of a reference dataset folder."""
    sets = load_ecg_sets(path)
    held_out = [sets[name] for name in ("validation", "test") if name in sets]
    if "train" not in sets or not held_out:
        raise ValueError(
            f"{path}: the reference needs a train split and a validation or test split, found {sorted(sets)}"
        )
    return sets["train"], concat(held_out, name="reference held-out")


def balanced_statements(label_names: Sequence[str], per_statement: int) -> List[str]:
    """``per_statement`` copies of each statement, interleaved."""
    return [code for _ in range(per_statement) for code in label_names]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pipeline", help="pipeline folder (default: the bundled pipeline)")
    parser.add_argument("--reference", help="reference dataset folder with train and validation/test splits "
                                            "(e.g. the simulated corpus the bundled pipeline was trained on)")
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, help="SCHEDULER:STEPS[:bf16], e.g. ddim:20")
    parser.add_argument("--per-statement", type=int, default=60, help="ECGs per statement and run")
    parser.add_argument("--batch-size", type=int, default=60)
    parser.add_argument("--classifier", default="xresnet1d18", help="preset of the embedding classifier")
    parser.add_argument("--classifier-epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=0, help="processes for the NeuroKit2 delineation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", default="bench_sampler_quality.json")
    parser.add_argument("--smoke", action="store_true", help="tiny model and data, 2-4 steps: checks the script runs")
    args = parser.parse_args(argv)
    runs = [parse_run(r) for r in args.runs]
    if args.threads:
        torch.set_num_threads(args.threads)
    diffusers_logging.set_verbosity_error()  # ModelMixin.to(bfloat16) warns about an empty list
    if args.smoke:
        pipe, real_train, real_eval = _smoke_inputs()
        runs, args.per_statement, args.classifier, args.classifier_epochs = (
            [("ddpm", 4, "fp32"), ("ddim", 2, "fp32"), ("ddpm", 4, "bf16")],
            2,
            "tiny",
            1,
        )
    else:
        if not args.reference:
            parser.error("--reference is required (outside --smoke)")
        from sssd_hf.defaults import default_pipeline_path

        pipe = SSSDECGPipeline.from_pretrained(args.pipeline or default_pipeline_path())
        real_train, real_eval = load_reference(args.reference)
    pipe.set_progress_bar_config(disable=True)
    label_names = list(pipe.model.config.label_names)
    missing = [c for c in label_names if c not in real_eval.label_names]
    if missing:
        raise ValueError(f"the reference set does not annotate the pipeline's statement(s) {missing}")
    real_train, real_eval = real_train.with_vocabulary(label_names), real_eval.with_vocabulary(label_names)
    scorer = Scorer(real_train, real_eval, args.classifier, args.classifier_epochs, args.seed, args.workers)
    statements = balanced_statements(label_names, args.per_statement)
    rng = np.random.default_rng(args.seed)
    floor = real_train.subset(rng.permutation(len(real_train))[: len(statements)], name="real (train split)")
    rows = [{"run": floor.name, "n": len(floor), **scorer.score(floor)}]
    for scheduler, steps, dtype in runs:
        ecgs, seconds = generate(pipe, statements, scheduler, steps, dtype, args.seed, args.batch_size)
        name = f"{scheduler}-{steps}" + ("-bf16" if dtype == "bf16" else "")
        synthetic = ECGSet(ecgs, [[s] for s in statements], label_names, pipe.model.config.sampling_rate, name=name)
        rows.append(
            {"run": name, "n": len(synthetic), "seconds_per_ecg": seconds / len(statements), **scorer.score(synthetic)}
        )
        print_table(rows[-1:], list(rows[-1]))
    columns = [
        "run",
        "n",
        "label_control",
        "physio_w_iqr",
        "physio_ks",
        "delineation_failures",
        "frechet",
        "mmd2",
        "seconds_per_ecg",
    ]
    print()
    print_table(rows, columns)
    write_results(
        args.out,
        {
            "machine": machine(),
            "reference": args.reference or "smoke",
            "pipeline": args.pipeline or "bundled",
            "quality": rows,
            "command": " ".join(["python", "benchmarks/bench_sampler_quality.py", *(argv or sys.argv[1:])]),
        },
    )
    return 0


def _smoke_inputs():
    """A tiny pipeline and a random labeled reference set (smoke mode only)."""
    from sssd_hf.testing import make_tiny_pipeline

    pipe = make_tiny_pipeline(label_names=("SBRAD", "SR", "STACH"), sample_length=256)
    rng = np.random.default_rng(0)

    def random_set(n, name):
        labels = np.eye(3, dtype=np.uint8)[np.arange(n) % 3]
        return ECGSet(0.1 * rng.standard_normal((n, 12, 256)), labels, ("SBRAD", "SR", "STACH"), name=name)

    return pipe, random_set(12, "smoke train"), random_set(12, "smoke held-out")


if __name__ == "__main__":
    sys.exit(main())
