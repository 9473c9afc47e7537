"""Generate the ECGs of a plan, chunk by chunk, each ECG from its own seeded generator."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ...leads import STANDARD_LEADS
from ...seeding import ecg_generators
from ..chunks import Chunk, plan_chunks, run_chunks, write_parquet
from .plan import PlannedECG, synthetic_features


def load_pipeline(model, device=None):
    """A pipeline object as is, or ``SSSDECGPipeline.from_pretrained(model)`` on ``device``."""
    if not isinstance(model, (str, os.PathLike)):
        return model.to(device) if device is not None else model
    from ... import SSSDECGPipeline

    pipe = SSSDECGPipeline.from_pretrained(os.fspath(model))
    return pipe.to(device) if device is not None else pipe


def _generate_chunk(
    pipe, records: Sequence[PlannedECG], label_names, steps, batch_size, guidance_scale, seed
) -> np.ndarray:
    """Generate the ECGs of one chunk: float32 ``(len(records), 12, L)`` mV.

    Each ECG gets its own generator seeded by ``(seed, ecg_id)``, so an ECG is the same
    whatever the chunk size, batch size, number of processes or interruptions.
    """
    index = {code: i for i, code in enumerate(label_names)}
    multi_hot = np.zeros((len(records), len(label_names)), dtype=np.float32)
    for row, record in enumerate(records):
        multi_hot[row, [index[c] for c in record.labels]] = 1.0
    generators = ecg_generators(seed, [r.ecg_id for r in records])
    output = pipe(labels=multi_hot, num_ecgs_per_label=1, num_inference_steps=steps, generator=generators,
                  batch_size=batch_size, guidance_scale=guidance_scale, output_type="np")
    ecgs = np.asarray(output.ecgs, dtype=np.float32)
    expected = (len(records), len(STANDARD_LEADS), int(pipe.model.config.sample_length))
    if ecgs.shape != expected:
        raise RuntimeError(f"the pipeline returned ECGs of shape {ecgs.shape}, expected {expected}")
    if not np.isfinite(ecgs).all():
        raise ValueError(f"ecg_id {records[0].ecg_id}-{records[-1].ecg_id}: the pipeline produced NaN/inf samples")
    return ecgs


def _chunk_features(label_names, num_samples):
    from datasets import Value

    features = synthetic_features(label_names, num_samples)
    features["split"] = Value("string")
    return features


def _write_chunk(path: str, records: Sequence[PlannedECG], ecgs: np.ndarray, features, label_names) -> None:
    """Write one chunk (rows of :func:`synthetic_features` + ``split``) as parquet, atomically."""
    import datasets

    index = {code: i for i, code in enumerate(label_names)}
    table = datasets.Dataset.from_dict(
        {
            "ecg_id": [r.ecg_id for r in records],
            "source_ecg_id": [r.source_ecg_id for r in records],
            "copy": [r.copy for r in records],
            "strat_fold": [r.strat_fold for r in records],
            "labels": [[index[c] for c in r.labels] for r in records],
            "signal": list(ecgs),
            "split": [r.split for r in records],
        },
        features=features,
    ).with_format("arrow")[:]
    write_parquet(path, table)


def _generate_pending(pipe, plan, pending, paths, settings, label_names, batch_size, rank_desc, progress) -> int:
    """Generate and write the chunks numbered ``pending`` (this process's share); returns the ECGs made."""
    chunk_size = settings["chunk_size"]
    features = _chunk_features(label_names, int(pipe.model.config.sample_length))
    chunks = [c for c in plan_chunks({"plan": len(plan)}, chunk_size, lambda _, i: (paths.chunk(i),))
              if c.index in set(pending)]

    def arguments(chunk: Chunk) -> tuple:
        return chunk, plan[chunk.start : chunk.stop]

    def work(chunk: Chunk, records) -> None:
        ecgs = _generate_chunk(pipe, records, label_names, settings["num_inference_steps"], batch_size,
                               settings["guidance_scale"], settings["seed"])
        _write_chunk(chunk.outputs[0], records, ecgs, features, label_names)

    run_chunks(chunks, work, arguments, num_workers=0, progress=progress, desc=f"Generating{rank_desc}", unit="ecg")
    return sum(chunk.size for chunk in chunks)
