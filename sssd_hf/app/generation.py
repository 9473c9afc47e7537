"""Running a validated request: sample, draw each ECG on paper, write the downloads.

Each request gets its own scheduler (schedulers keep per-run state) and its own output folder
under ``output_root``; the folder is filled under a temporary name and renamed when complete,
so a folder that exists is never half-written.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .model import ModelInfo
from .requests import MAX_ECGS, GenerationRequest
from .statements import statement_label

#: Where request folders go by default, and how long they are kept (seconds).
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "sssd_ecg_app"
OUTPUT_MAX_AGE_S = 3600.0
IMAGE_DPI = 110
_PARTIAL_PREFIX = ".partial-"

Progress = Callable[[float, str], None]


@dataclasses.dataclass
class GenerationResult:
    """What one request produced.

    Attributes:
        ecgs: ``(N, C, L)`` float32, mV.
        labels: the statements of each ECG.
        sampling_rate: Hz.
        lead_names: the ``C`` lead names.
        images: ``(png path, caption)`` per ECG.
        downloads: ``{format: path}`` in the order of the request's formats.
        settings: the generation settings recorded in every download.
        seconds: wall time of the request.
    """

    ecgs: np.ndarray
    labels: List[List[str]]
    sampling_rate: float
    lead_names: List[str]
    images: List[Tuple[str, str]]
    downloads: Dict[str, str]
    settings: Dict[str, Any]
    seconds: float

    def summary_markdown(self) -> str:
        """One Markdown line: count, statements, sampler, steps, seed, duration and model."""
        statements = ", ".join(statement_label(c) for c in self.labels[0]) if self.labels[0] else "none"
        s = self.settings
        guidance = f", guidance {s['guidance_scale']:g}" if s["guidance_scale"] != 1.0 else ""
        return (
            f"**{len(self.ecgs)} ECG(s)** in {self.seconds:.1f} s: statements *{statements}*; "
            f"{s['sampler']} ({s['scheduler']}), {s['num_inference_steps']} steps, seed {s['seed']}{guidance}. "
            f"{len(self.lead_names)} leads, {self.ecgs.shape[-1] / self.sampling_rate:g} s at "
            f"{self.sampling_rate:g} Hz; model: `{s['model']}`."
        )


#: Pipeline config values (not components) that a pipeline rebuilt around another scheduler keeps.
_PIPELINE_SETTINGS = ("default_num_inference_steps", "default_guidance_scale", "default_sampler")


def with_scheduler(pipe, scheduler):
    """A pipeline object sharing ``pipe``'s model but driven by ``scheduler`` (``pipe`` is not changed); it
    keeps ``pipe``'s default steps and guidance."""
    components = dict(pipe.components)
    components["scheduler"] = scheduler
    settings = {k: pipe.config[k] for k in _PIPELINE_SETTINGS if k in pipe.config}
    runner = type(pipe)(**components, **settings)
    runner.set_progress_bar_config(disable=True)
    return runner


def prune_outputs(root: Path = OUTPUT_ROOT, max_age_s: float = OUTPUT_MAX_AGE_S) -> None:
    """Delete request folders under ``root`` older than ``max_age_s`` seconds, so a long-running app does not
    fill its disk."""
    root = Path(root)
    if not root.is_dir():
        return
    now = time.time()
    for child in root.iterdir():
        try:
            if child.is_dir() and now - child.stat().st_mtime > max_age_s:
                shutil.rmtree(child, ignore_errors=True)
        except OSError:
            pass


def sample(request: GenerationRequest, pipe, info: ModelInfo, progress: Optional[Progress] = None):
    """Run the pipeline for ``request`` with a fresh scheduler; returns ``(pipeline output, scheduler name)``.

    ``progress(fraction, text)`` follows the denoising steps (fraction 0..0.9)."""
    import torch

    from ..schedulers.samplers import make_scheduler

    report = progress or (lambda fraction, text: None)
    scheduler = make_scheduler(request.sampler, pipe.scheduler.config, type(pipe.scheduler))
    runner = with_scheduler(pipe, scheduler)
    steps = request.num_inference_steps

    def on_step(pipeline, step_index: int, timestep, callback_kwargs: dict) -> dict:
        # diffusers' callback_on_step_end contract; one chunk, as batch_size covers the whole request
        report(0.9 * min(1.0, (step_index + 1) / steps), f"Denoising: step {step_index + 1} of {steps}")
        return callback_kwargs

    report(0.0, "Sampling")
    generator = torch.Generator(device="cpu").manual_seed(request.seed)
    if info.conditional:
        kwargs = {"labels": [list(request.statements)], "num_ecgs_per_label": request.num_ecgs}
    else:
        kwargs = {"labels": None, "num_ecgs": request.num_ecgs}
    out = runner(num_inference_steps=steps, generator=generator, guidance_scale=request.guidance_scale,
                 batch_size=MAX_ECGS, output_type="np", callback_on_step_end=on_step, **kwargs)
    return out, type(scheduler).__name__


def write_outputs(folder: Path, ecgs: np.ndarray, labels: List[List[str]], sampling_rate: float,
                  lead_names: List[str], request: GenerationRequest, settings: Dict[str, Any],
                  progress: Optional[Progress] = None) -> Tuple[List[Tuple[str, str]], Dict[str, str]]:
    """Write ``ecg_NNNN.png`` per ECG and the request's download formats into ``folder``.

    ``ecgs`` is ``(N, C, L)`` mV at ``sampling_rate`` Hz.  Returns ``(images, downloads)`` as in
    :class:`GenerationResult`, with paths inside ``folder``."""
    from ..export import export_ecgs
    from ..plotting import save_ecg_png

    report = progress or (lambda fraction, text: None)
    images = []
    for i, ecg in enumerate(ecgs):
        report(0.9 + 0.05 * i / len(ecgs), f"Drawing ECG {i + 1} of {len(ecgs)}")
        title = f"ECG {i + 1}/{len(ecgs)}: {', '.join(labels[i]) or 'no statements'}  (seed {request.seed})"
        path = save_ecg_png(ecg, folder / f"ecg_{i:04d}.png", sampling_rate, lead_names, title, dpi=IMAGE_DPI)
        images.append((os.fspath(path), title))
    report(0.97, "Packaging downloads")
    downloads = export_ecgs(folder, ecgs, sampling_rate, lead_names, labels, settings, formats=request.formats)
    return images, {fmt: os.fspath(downloads[fmt]) for fmt in request.formats}


def generate_ecgs(request: GenerationRequest, pipe, info: ModelInfo, output_root: Path = OUTPUT_ROOT,
                  progress: Optional[Progress] = None) -> GenerationResult:
    """Sample, draw and package the ECGs of a validated request into a new folder under ``output_root``.

    ``progress(fraction, text)`` is called with fractions rising from 0 to 1.  On failure the
    partial folder is removed and the exception propagates."""
    started = time.perf_counter()
    out, scheduler_name = sample(request, pipe, info, progress)
    ecgs = np.asarray(out.ecgs, dtype=np.float32)
    labels = [list(codes or []) for codes in out.labels]
    settings = {
        "model": info.source,
        "sampler": request.sampler,
        "scheduler": scheduler_name,
        "num_inference_steps": request.num_inference_steps,
        "seed": request.seed,
        "guidance_scale": request.guidance_scale,
        "statements": list(request.statements),
    }
    root = Path(output_root)
    prune_outputs(root)
    name = uuid.uuid4().hex
    partial, final = root / f"{_PARTIAL_PREFIX}{name}", root / name
    partial.mkdir(parents=True)
    try:
        images, downloads = write_outputs(partial, ecgs, labels, float(out.sampling_rate), list(out.lead_names),
                                          request, settings, progress)
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    move = lambda path: os.fspath(final / Path(path).relative_to(partial))  # noqa: E731
    images = [(move(path), caption) for path, caption in images]
    downloads = {fmt: move(path) for fmt, path in downloads.items()}
    if progress:
        progress(1.0, "Done")
    return GenerationResult(ecgs, labels, float(out.sampling_rate), list(out.lead_names), images, downloads,
                            settings, time.perf_counter() - started)
