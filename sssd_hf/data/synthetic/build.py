"""The ``build-dataset`` entry point: plan, generate (sharded over processes), merge, card."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from typing import Dict, Optional

from ...schedulers.samplers import get_sampler, make_scheduler, pipeline_sampler, resolve_steps
from ..card import resolve_template
from ..chunks import for_process
from ..ptbxl_layout import database_path
from . import generate
from .card import _read_privacy_report, write_card
from .merge import _merge_chunks
from .plan import Selection, _split_counts, plan_synthetic, synthetic_features
from .state import (
    BUILD_FORMAT_VERSION,
    _check_out_folder,
    _model_digest,
    _new_state,
    _Paths,
    _read_state,
    _sha256_file,
    _write_state,
)
from .wfdb_export import export_wfdb


@dataclass
class BuildResult:
    """Outcome of :func:`build_synthetic_dataset` (in every process)."""

    out: str
    split_rows: Dict[str, int]
    skipped_unlabeled: int
    generated_here: int
    process_index: int = 0
    num_processes: int = 1

    @property
    def is_main_process(self) -> bool:
        return self.process_index == 0


def _process_state():
    """``accelerate.PartialState`` of this process.  Launched by ``accelerate launch`` or
    ``torchrun`` it knows its rank; on a machine without GPU (or with ``ACCELERATE_USE_CPU``)
    the ranks talk over gloo on CPU; a plain ``python`` run is a single process."""
    import torch
    from accelerate import PartialState

    use_cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes") or not torch.cuda.is_available()
    return PartialState(cpu=use_cpu)


def build_synthetic_dataset(
    model,
    like: str | os.PathLike,
    out: str | os.PathLike,
    *,
    selection: Optional[Selection] = None,
    num_inference_steps: Optional[int] = None,
    scheduler: Optional[str] = None,
    batch_size: int = 16,
    guidance_scale: Optional[float] = None,
    seed: int = 0,
    chunk_size: int = 256,
    shard_size: int = 5000,
    wfdb_export: bool = False,
    license: str = "cc-by-4.0",
    pretty_name: str = "Synthetic PTB-XL (SSSD-ECG)",
    training_data: str = "not stated by the model; see its model card",
    privacy_report: Optional[str] = None,
    repo_id: Optional[str] = None,
    card_template: Optional[str] = None,
    progress: bool = True,
) -> BuildResult:
    """Build (or resume) a synthetic copy of ``like`` in ``out``; see the module docstring.

    Args:
        model: a pipeline folder or Hub id, or an ``SSSDECGPipeline`` object.
        like: PTB-XL folder or ``ptbxl_database.csv``-style file whose records are copied.
        out: output folder (Hub-ready dataset repository).
        selection: subset, per-statement count, limit, oversampling (:class:`Selection`).
        num_inference_steps, batch_size, guidance_scale, seed: sampling settings (``guidance_scale=None``:
            the pipeline's ``default_guidance_scale``, else 1.0; the value used is what the settings and
            the card record).
        scheduler: a sampler of :data:`sssd_hf.schedulers.samplers.SAMPLERS` (``ddpm``: the pipeline's own);
            ``None``: the pipeline's ``default_sampler``, else ``ddpm``.  ``num_inference_steps=None``: the
            sampler's default step count (:func:`~sssd_hf.schedulers.samplers.resolve_steps`).
        chunk_size: ECGs per resumable chunk; shard_size: rows per parquet shard.
        wfdb_export: also write ``out/wfdb`` in PTB-XL's layout (:func:`export_wfdb`).
        license, pretty_name, training_data, privacy_report, repo_id, card_template: card content.
    """
    selection = selection or Selection()
    if (num_inference_steps is not None and num_inference_steps < 1) or min(batch_size, chunk_size, shard_size) < 1:
        raise ValueError("--steps, --batch-size, --chunk-size and --shard-size must be >= 1")
    if scheduler is not None:
        get_sampler(scheduler)  # an unknown name fails before the model loads
    state_ = _process_state()
    pipe = generate.load_pipeline(model, state_.device)
    sampler = get_sampler(scheduler or pipeline_sampler(getattr(pipe, "default_sampler_name", None)))
    num_inference_steps = resolve_steps(sampler.name, num_inference_steps, pipe.scheduler.config.num_train_timesteps)
    if sampler.scheduler_class is not None:
        pipe.scheduler = make_scheduler(sampler.name, pipe.scheduler.config)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    if guidance_scale is None:
        guidance_scale = getattr(pipe, "default_guidance", 1.0)
    config = pipe.model.config
    if not getattr(config, "label_names", None):
        raise ValueError("build-dataset needs a model conditioned on ECG statements; this one is unconditional")
    label_names = list(config.label_names)
    plan, stats = plan_synthetic(like, label_names, selection, seed)
    privacy_text = _read_privacy_report(privacy_report)
    resolve_template(card_template)  # fail before generating, not after

    settings = {
        "format": BUILD_FORMAT_VERSION,
        "model_digest": _model_digest(pipe),
        "source_sha256": _sha256_file(database_path(like)),
        "selection": asdict(selection) | {"oversample": dict(selection.oversample)},
        "num_inference_steps": int(num_inference_steps),
        "scheduler": sampler.name,
        "guidance_scale": float(guidance_scale),
        "seed": int(seed),
        "chunk_size": int(chunk_size),
    }
    plan_digest = hashlib.sha256(json.dumps([asdict(r) for r in plan]).encode()).hexdigest()
    fingerprint = hashlib.sha256(json.dumps([settings, plan_digest], sort_keys=True).encode()).hexdigest()[:16]
    paths = _Paths(os.path.abspath(os.fspath(out)))
    existing = _check_out_folder(paths, fingerprint, settings)  # every rank, before anyone writes
    num_chunks = math.ceil(len(plan) / chunk_size)
    pending = (
        []
        if existing and existing.get("complete")
        else [i for i in range(num_chunks) if not os.path.isfile(paths.chunk(i))]
    )
    state_.wait_for_everyone()

    if state_.is_main_process and existing is None:
        os.makedirs(os.path.join(paths.build, "chunks"), exist_ok=True)
        _write_state(paths, _new_state(model, pipe, like, settings, fingerprint, stats, len(plan)))
    state_.wait_for_everyone()

    mine = for_process(pending, state_.process_index, state_.num_processes)
    rank_desc = f" [rank {state_.process_index}/{state_.num_processes}]" if state_.num_processes > 1 else ""
    generated = (
        generate._generate_pending(pipe, plan, mine, paths, settings, label_names, batch_size, rank_desc, progress)
        if mine
        else 0
    )
    state_.wait_for_everyone()

    if state_.is_main_process:
        state = _read_state(paths)
        features = synthetic_features(label_names, state["sample_length"])
        if not state.get("complete"):
            state["split_rows"], state["split_bytes"] = _merge_chunks(paths, plan, num_chunks, features, shard_size)
        state.update(privacy_evaluation=privacy_text, training_data=training_data, pretty_name=pretty_name)
        write_card(paths.out, state, plan, features, license=license, repo_id=repo_id, card_template=card_template)
        if not state.get("complete"):
            state["complete"] = True
            _write_state(paths, state)
            shutil.rmtree(os.path.join(paths.build, "chunks"), ignore_errors=True)
        if wfdb_export:
            export_wfdb(paths.out, progress=progress)
    state_.wait_for_everyone()
    return BuildResult(
        out=paths.out,
        split_rows=_split_counts(plan),
        skipped_unlabeled=stats["skipped_unlabeled"],
        generated_here=generated,
        process_index=state_.process_index,
        num_processes=state_.num_processes,
    )
