"""SSSD-ECG Space: generate, look at and download 12-lead ECGs in the browser.

Run locally with ``python space/app.py`` (options: ``--host``, ``--port``, ``--model``).

The model comes from ``SSSD_ECG_MODEL`` (a local pipeline folder or a Hub id); without it the
bundled default pipeline of ``sssd_hf`` is used.  ``SSSD_ECG_DEMO_TINY=1`` swaps in a tiny
randomly initialised pipeline (for tests and UI demos: its ECGs are noise, not ECGs).

The page is a thin Gradio layer over plain functions (:func:`validate_request`,
:func:`generate_ecgs`, :func:`statement_choices`, ...) that are tested without a browser.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import logging
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local server

_HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("sssd_hf") is None:  # not installed: use the package beside the Space
    for _root in (_HERE, _HERE.parent):
        if (_root / "sssd_hf" / "__init__.py").is_file():
            sys.path.insert(0, str(_root))
            break

import numpy as np  # noqa: E402

from sssd_hf.export import export_ecgs  # noqa: E402
from sssd_hf.plotting import save_ecg_png  # noqa: E402
from sssd_hf.vocabulary import STATEMENTS_BY_CODE, describe, validate_codes  # noqa: E402

logger = logging.getLogger("sssd_ecg_space")

MAX_ECGS = 8  # per request: keeps one request to a few minutes on a CPU Space
MAX_SEED = 2**32 - 1
MAX_GUIDANCE = 10.0
GROUPS = ("rhythm", "form", "diagnostic")
GROUP_TITLES = {"rhythm": "Rhythm", "form": "Form", "diagnostic": "Diagnostic"}
#: PTB-XL's diagnostic superclasses, for models conditioned on them instead of statements.
SUPERCLASS_DESCRIPTIONS = {
    "CD": "conduction disturbance",
    "HYP": "hypertrophy",
    "MI": "myocardial infarction",
    "NORM": "normal ECG",
    "STTC": "ST/T change",
}
#: Example presets: (name, statements); a preset is offered when the model knows all its codes.
PRESETS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("Normal ECG, sinus rhythm", ("NORM", "SR")),
    ("Atrial fibrillation", ("AFIB",)),
    ("Sinus tachycardia", ("STACH",)),
    ("Sinus bradycardia", ("SBRAD",)),
    ("Inferior myocardial infarction", ("IMI", "SR")),
    ("Anteroseptal myocardial infarction", ("ASMI", "SR")),
    ("Complete left bundle branch block", ("CLBBB", "SR")),
    ("Complete right bundle branch block", ("CRBBB", "SR")),
    ("Left ventricular hypertrophy", ("LVH", "SR")),
    ("Ventricular premature complexes", ("PVC", "SR")),
    ("Myocardial infarction (superclass)", ("MI",)),
)
#: Labels of the tiny demo pipeline (SSSD_ECG_DEMO_TINY=1): a few of each group.
DEMO_TINY_LABELS = ("AFIB", "CLBBB", "IMI", "LVOLT", "NORM", "PVC", "SR", "STACH")
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "sssd_ecg_space"
OUTPUT_MAX_AGE_S = 3600.0


class SpaceInputError(ValueError):
    """A visitor's input cannot be used; the message is shown in the page as is."""


class ModelUnavailable(RuntimeError):
    """No model could be loaded; the message says why and how to provide one."""


# -- samplers -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Sampler:
    """A sampler offered in the page: the pipeline's own DDPM or a diffusers solver."""

    key: str
    label: str
    default_steps: Optional[int]  # None: all training steps (the paper's DDPM)
    scheduler_class: Optional[str] = None  # diffusers class built from the pipeline's config
    scheduler_kwargs: Tuple[Tuple[str, Any], ...] = ()


SAMPLERS: Dict[str, Sampler] = {
    s.key: s
    for s in (
        Sampler("ddpm", "DDPM, all steps (as in the paper, slow)", None),
        Sampler("ddim", "DDIM (few steps)", 50, "DDIMScheduler"),
        Sampler("dpmsolver++", "DPM-Solver++ (few steps)", 20, "DPMSolverMultistepScheduler",
                (("algorithm_type", "dpmsolver++"),)),
        Sampler("unipc", "UniPC (few steps)", 20, "UniPCMultistepScheduler"),
    )
}


def make_scheduler(pipe, sampler_key: str):
    """A fresh scheduler for one request (schedulers keep per-run state, so none is shared)."""
    sampler = SAMPLERS[sampler_key]
    if sampler.scheduler_class is None:
        return type(pipe.scheduler).from_config(pipe.scheduler.config)
    import diffusers

    cls = getattr(diffusers, sampler.scheduler_class)
    return cls.from_config(pipe.scheduler.config, **dict(sampler.scheduler_kwargs))


def with_scheduler(pipe, scheduler):
    """A pipeline object sharing ``pipe``'s model but driven by ``scheduler``."""
    components = dict(pipe.components)
    components["scheduler"] = scheduler
    return type(pipe)(**components)


# -- model ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the page needs to know about the loaded pipeline."""

    source: str  # shown to the visitor and recorded in downloads
    label_names: Tuple[str, ...]  # empty for an unconditional model
    supports_guidance: bool
    num_train_timesteps: int
    sampling_rate: float

    @property
    def conditional(self) -> bool:
        return bool(self.label_names)


def model_info(pipe, source: str) -> ModelInfo:
    config = pipe.model.config
    labels = tuple(config.label_names or ()) if getattr(config, "label_embedding", None) else ()
    return ModelInfo(
        source=source,
        label_names=labels,
        supports_guidance=bool(getattr(config, "learn_null_label", False)) and bool(labels),
        num_train_timesteps=int(getattr(pipe.scheduler.config, "num_train_timesteps", 200)),
        sampling_rate=float(config.sampling_rate),
    )


def _default_pipeline_folder() -> Optional[str]:
    """The folder of the pipeline bundled with sssd_hf, or None when there is none."""
    import sssd_hf

    finder = getattr(sssd_hf, "default_pipeline_path", None)
    if finder is None:
        return None
    try:
        path = finder()
    except (FileNotFoundError, OSError, ValueError):
        return None
    if path and os.path.isfile(os.path.join(os.fspath(path), "model_index.json")):
        return os.fspath(path)
    return None


def resolve_model_source(environ: Optional[Dict[str, str]] = None) -> Tuple[str, str]:
    """Decide where the model comes from: ``(kind, value)`` with kind ``"pretrained"``
    (folder or Hub id, from ``SSSD_ECG_MODEL`` or the bundled default) or ``"tiny"``.

    Order: ``SSSD_ECG_MODEL``, then ``SSSD_ECG_DEMO_TINY=1``, then the bundled default
    pipeline.  Raises :class:`ModelUnavailable` when none applies.
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get("SSSD_ECG_MODEL", "").strip()
    if explicit:
        return "pretrained", explicit
    if environ.get("SSSD_ECG_DEMO_TINY", "").strip() == "1":
        return "tiny", "tiny random demo pipeline (SSSD_ECG_DEMO_TINY=1; output is not a real ECG)"
    default = _default_pipeline_folder()
    if default:
        return "pretrained", default
    raise ModelUnavailable(
        "No model is available: this installation of sssd_hf has no bundled default pipeline. "
        "Set SSSD_ECG_MODEL to a pipeline folder or Hub id (one saved with "
        "`SSSDECGPipeline.save_pretrained`) and restart the Space."
    )


def load_pipeline(kind: str, value: str):
    """Load the pipeline described by :func:`resolve_model_source` onto the best device."""
    import torch

    if kind == "tiny":
        from sssd_hf.testing import make_tiny_pipeline

        pipe = make_tiny_pipeline(label_names=DEMO_TINY_LABELS, seed=0)
    else:
        from sssd_hf import SSSDECGPipeline

        try:
            pipe = SSSDECGPipeline.from_pretrained(value)
        except Exception as exc:  # missing folder, offline Hub, corrupt weights...
            raise ModelUnavailable(f"Could not load the model from {value!r}: {type(exc).__name__}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe.to("cuda" if torch.cuda.is_available() else "cpu")


_MODEL_LOCK = threading.Lock()
_MODEL: Optional[Tuple[Any, ModelInfo]] = None
_MODEL_ERROR: Optional[str] = None


def get_model() -> Tuple[Any, ModelInfo]:
    """The process-wide ``(pipeline, ModelInfo)``, loaded on first use (thread-safe).

    A failure is remembered, so every later call raises :class:`ModelUnavailable` with the
    same message instead of retrying a slow load on every click.
    """
    global _MODEL, _MODEL_ERROR
    with _MODEL_LOCK:
        if _MODEL is None and _MODEL_ERROR is None:
            try:
                kind, value = resolve_model_source()
                pipe = load_pipeline(kind, value)
                _MODEL = (pipe, model_info(pipe, value))
            except ModelUnavailable as exc:
                _MODEL_ERROR = str(exc)
        if _MODEL_ERROR is not None:
            raise ModelUnavailable(_MODEL_ERROR)
        return _MODEL


# -- statements -----------------------------------------------------------------------------
def statement_group(code: str) -> str:
    """``"rhythm"``, ``"form"`` or ``"diagnostic"`` (classes that are not statements too)."""
    statement = STATEMENTS_BY_CODE.get(code)
    return statement.group if statement else "diagnostic"


def statement_label(code: str) -> str:
    """``"AFIB - atrial fibrillation"``; superclasses get PTB-XL's class names."""
    if code not in STATEMENTS_BY_CODE and code in SUPERCLASS_DESCRIPTIONS:
        return f"{code} - {SUPERCLASS_DESCRIPTIONS[code]}"
    return describe(code)


def statement_choices(label_names: Sequence[str]) -> Dict[str, List[Tuple[str, str]]]:
    """``{group: [(label, code), ...]}`` for the model's vocabulary, sorted by code."""
    choices: Dict[str, List[Tuple[str, str]]] = {g: [] for g in GROUPS}
    for code in sorted(label_names):
        choices[statement_group(code)].append((statement_label(code), code))
    return choices


def available_presets(label_names: Sequence[str]) -> List[Tuple[str, Tuple[str, ...]]]:
    """The presets whose statements the model knows."""
    known = set(label_names)
    return [(name, codes) for name, codes in PRESETS if set(codes) <= known]


def apply_preset(name: str, label_names: Sequence[str]) -> Tuple[List[str], List[str], List[str]]:
    """The (rhythm, form, diagnostic) selections of preset ``name``."""
    presets = dict(available_presets(label_names))
    if name not in presets:
        raise SpaceInputError(f"Unknown preset {name!r}; available: {', '.join(presets) or 'none'}")
    selected = {g: [] for g in GROUPS}
    for code in presets[name]:
        selected[statement_group(code)].append(code)
    return selected["rhythm"], selected["form"], selected["diagnostic"]


# -- requests -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """A validated request: ``statements`` (empty only when ``unconditional``) for every ECG."""

    statements: Tuple[str, ...]
    unconditional: bool
    num_ecgs: int
    sampler: str
    num_inference_steps: int
    seed: int
    guidance_scale: float


def _as_int(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpaceInputError(f"{name} must be a whole number, got {value!r}") from None
    if not np.isfinite(number) or number != int(number):
        raise SpaceInputError(f"{name} must be a whole number, got {value!r}")
    if not low <= number <= high:
        raise SpaceInputError(f"{name} must be between {low} and {high}, got {int(number)}")
    return int(number)


def default_steps(sampler_key: str, info: ModelInfo) -> int:
    """Steps preselected for a sampler: all training steps for DDPM, a few for the solvers."""
    sampler = SAMPLERS.get(sampler_key)
    if sampler is None or sampler.default_steps is None:
        return info.num_train_timesteps
    return min(sampler.default_steps, info.num_train_timesteps)


def validate_request(
    statements: Optional[Sequence[str]],
    unconditional: bool,
    num_ecgs: Any,
    sampler: str,
    num_inference_steps: Any,
    seed: Any,
    guidance_scale: Any,
    info: ModelInfo,
) -> Tuple[GenerationRequest, List[str]]:
    """Check a visitor's input against the model; return the request and warnings.

    Raises :class:`SpaceInputError` with a message for the page: count or steps out of range,
    no statement and no explicit unconditional choice, unknown codes, guidance on a model
    that does not support it, an unknown sampler or seed.
    """
    warnings: List[str] = []
    codes = list(dict.fromkeys(str(c) for c in (statements or [])))  # de-duplicated, in order
    if unconditional and codes:
        raise SpaceInputError("Either pick statements or tick 'no statements', not both.")
    if info.conditional:
        if not codes and not unconditional:
            raise SpaceInputError("Pick at least one statement (or a preset), or tick 'no statements'.")
        try:
            validate_codes(codes, info.label_names)
        except ValueError as exc:
            raise SpaceInputError(f"This model does not know some statements. {exc}") from None
    elif codes:
        raise SpaceInputError("This model is unconditional: it takes no statements; clear the selection.")
    count = _as_int(num_ecgs, "Number of ECGs", 1, MAX_ECGS)
    if sampler not in SAMPLERS:
        raise SpaceInputError(f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    steps = _as_int(num_inference_steps, "Steps", 1, info.num_train_timesteps)
    seed_value = _as_int(seed, "Seed", 0, MAX_SEED)
    try:
        guidance = float(guidance_scale if guidance_scale is not None else 1.0)
    except (TypeError, ValueError):
        raise SpaceInputError(f"Guidance must be a number, got {guidance_scale!r}") from None
    if not np.isfinite(guidance) or not 0.0 <= guidance <= MAX_GUIDANCE:
        raise SpaceInputError(f"Guidance must be between 0 and {MAX_GUIDANCE:g}, got {guidance_scale!r}")
    if guidance != 1.0 and not info.supports_guidance:
        raise SpaceInputError("This model was not trained for classifier-free guidance; keep guidance at 1.")
    if guidance != 1.0 and unconditional:
        raise SpaceInputError("Guidance needs statements to guide towards; keep it at 1 with 'no statements'.")
    if sampler == "ddpm" and steps < info.num_train_timesteps:
        warnings.append(f"DDPM with {steps} of {info.num_train_timesteps} steps skips steps; "
                        "expect lower quality than the paper's sampler (or pick a few-step solver).")
    return GenerationRequest(tuple(codes), bool(unconditional), count, sampler, steps, seed_value, guidance), warnings


# -- generation -----------------------------------------------------------------------------
@dataclasses.dataclass
class GenerationResult:
    """What one request produced: ECGs ``(N, 12, L)`` mV, per-ECG statements, files."""

    ecgs: np.ndarray
    labels: List[List[str]]
    sampling_rate: float
    lead_names: List[str]
    images: List[Tuple[str, str]]  # (png path, caption)
    downloads: Dict[str, str]  # format -> path
    settings: Dict[str, Any]
    seconds: float

    def summary_markdown(self) -> str:
        statements = ", ".join(statement_label(c) for c in self.labels[0]) if self.labels[0] else "none"
        s = self.settings
        guidance = f", guidance {s['guidance_scale']:g}" if s["guidance_scale"] != 1.0 else ""
        return (
            f"**{len(self.ecgs)} ECG(s)** in {self.seconds:.1f} s: statements *{statements}*; "
            f"{s['sampler']} ({s['scheduler']}), {s['num_inference_steps']} steps, seed {s['seed']}{guidance}. "
            f"{len(self.lead_names)} leads, {self.ecgs.shape[-1] / self.sampling_rate:g} s at "
            f"{self.sampling_rate:g} Hz; model: `{s['model']}`."
        )


def prune_outputs(root: Path = OUTPUT_ROOT, max_age_s: float = OUTPUT_MAX_AGE_S) -> None:
    """Delete request folders older than ``max_age_s`` so a long-running Space does not fill up."""
    if not root.is_dir():
        return
    now = time.time()
    for child in root.iterdir():
        try:
            if child.is_dir() and now - child.stat().st_mtime > max_age_s:
                shutil.rmtree(child, ignore_errors=True)
        except OSError:
            pass


def generate_ecgs(
    request: GenerationRequest,
    pipe,
    info: ModelInfo,
    output_root: Path = OUTPUT_ROOT,
    progress: Optional[Callable[[float, str], None]] = None,
) -> GenerationResult:
    """Sample, draw and package the ECGs of a validated request.

    ``progress(fraction, text)`` is called while sampling (fraction 0..1).  Files go into a
    new folder under ``output_root``: ``ecg_NNNN.png`` per ECG, then the downloads
    (``sssd_ecg_wfdb.zip``, ``sssd_ecg_csv.zip``, ``sssd_ecg.npz``).
    """
    import torch

    report = progress or (lambda fraction, text: None)
    started = time.perf_counter()
    scheduler = make_scheduler(pipe, request.sampler)
    runner = with_scheduler(pipe, scheduler)
    runner.set_progress_bar_config(disable=True)
    steps = request.num_inference_steps

    def on_step(chunk_index: int, step_index: int, timestep) -> None:
        report(0.9 * min(1.0, (step_index + 1) / steps), f"Denoising: step {step_index + 1} of {steps}")

    report(0.0, "Sampling")
    generator = torch.Generator(device="cpu").manual_seed(request.seed)
    if info.conditional:
        kwargs = {"labels": [list(request.statements)], "num_ecgs_per_label": request.num_ecgs}
    else:
        kwargs = {"labels": None, "num_ecgs": request.num_ecgs}
    out = runner(num_inference_steps=steps, generator=generator, guidance_scale=request.guidance_scale,
                 batch_size=MAX_ECGS, output_type="np", callback_on_step_end=on_step, **kwargs)
    ecgs = np.asarray(out.ecgs, dtype=np.float32)
    labels = [list(codes or []) for codes in out.labels]

    settings = {
        "model": info.source,
        "sampler": request.sampler,
        "scheduler": type(scheduler).__name__,
        "num_inference_steps": steps,
        "seed": request.seed,
        "guidance_scale": request.guidance_scale,
        "statements": list(request.statements),
    }
    prune_outputs(output_root)
    folder = Path(output_root) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    images = []
    for i, ecg in enumerate(ecgs):
        report(0.9 + 0.05 * i / len(ecgs), f"Drawing ECG {i + 1} of {len(ecgs)}")
        title = f"ECG {i + 1}/{len(ecgs)}: {', '.join(labels[i]) or 'no statements'}  (seed {request.seed})"
        path = save_ecg_png(ecg, folder / f"ecg_{i:04d}.png", out.sampling_rate, out.lead_names, title, dpi=110)
        images.append((path, title))
    report(0.97, "Packaging downloads")
    downloads = export_ecgs(folder, ecgs, out.sampling_rate, out.lead_names, labels, settings)
    report(1.0, "Done")
    return GenerationResult(ecgs, labels, float(out.sampling_rate), list(out.lead_names), images, downloads,
                            settings, time.perf_counter() - started)


# -- Gradio page ----------------------------------------------------------------------------
def _selected_statements(rhythm, form, diagnostic) -> List[str]:
    return [*(rhythm or []), *(form or []), *(diagnostic or [])]


def run_request(rhythm, form, diagnostic, unconditional, num_ecgs, sampler, steps, seed, guidance,
                progress: Optional[Callable[[float, str], None]] = None, loader: Callable = get_model):
    """Everything behind the Generate button, without Gradio: returns ``(result, warnings)``.

    Raises :class:`SpaceInputError` or :class:`ModelUnavailable` with a message for the page.
    """
    pipe, info = loader()
    request, warnings = validate_request(_selected_statements(rhythm, form, diagnostic), unconditional,
                                         num_ecgs, sampler, steps, seed, guidance, info)
    return generate_ecgs(request, pipe, info, progress=progress), warnings


def _gradio_handler(loader: Callable):
    import gradio as gr

    def generate(rhythm, form, diagnostic, unconditional, num_ecgs, sampler, steps, seed, guidance,
                 progress=gr.Progress()):
        def report(fraction: float, text: str) -> None:
            progress(fraction, desc=text)

        try:
            result, warnings = run_request(rhythm, form, diagnostic, unconditional, num_ecgs, sampler, steps,
                                           seed, guidance, progress=report, loader=loader)
        except (SpaceInputError, ModelUnavailable) as exc:
            raise gr.Error(str(exc)) from None
        except Exception as exc:  # never show a traceback to a visitor; keep it in the server log
            logger.exception("generation failed")
            raise gr.Error(f"Generation failed ({type(exc).__name__}): {exc}") from None
        for message in warnings:
            gr.Warning(message)
        files = [result.downloads[k] for k in ("wfdb", "csv", "npz")]
        # selected_index=0 opens the gallery on the first ECG at full width, thumbnails below.
        return gr.Gallery(value=result.images, selected_index=0), files, result.summary_markdown()

    return generate


def build_demo(loader: Callable = get_model):
    """The Gradio page.  The model is loaded here (once per process, via ``loader``) so that
    the statement lists come from its vocabulary; without a model the page says why."""
    import gradio as gr

    try:
        _, info = loader()
        load_error = None
    except ModelUnavailable as exc:
        info, load_error = None, str(exc)

    # delete_cache: Gradio's copies of served files older than an hour go, checked every hour.
    with gr.Blocks(title="SSSD-ECG: 12-lead ECG generator", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# SSSD-ECG: generate 12-lead ECGs\n"
            "Conditional diffusion with structured state spaces (SSSD-ECG / SSSD-ECG-nle). Pick PTB-XL "
            "statements, generate 10-second 12-lead ECGs, look at them on ECG paper (25 mm/s, 10 mm/mV) "
            "and download them as WFDB, CSV or NumPy. *Synthetic data: not for clinical use.*"
        )
        if load_error is not None:
            gr.Markdown(f"### No model available\n{load_error}", elem_id="model-error")
            return demo
        gr.Markdown(f"Model: `{info.source}`", elem_id="model-source")
        choices = statement_choices(info.label_names)
        presets = available_presets(info.label_names)
        with gr.Row():
            with gr.Column(scale=2):
                preset = gr.Dropdown([name for name, _ in presets], label="Example presets", value=None,
                                     visible=bool(presets), elem_id="preset")
                groups = {
                    g: gr.CheckboxGroup(choices[g], label=f"{GROUP_TITLES[g]} statements", elem_id=f"statements-{g}",
                                        visible=bool(choices[g]))
                    for g in GROUPS
                }
                unconditional = gr.Checkbox(
                    label="No statements (unconditional)" if not info.conditional else
                    "No statements (empty label set)", value=not info.conditional,
                    interactive=info.conditional, elem_id="unconditional")
            with gr.Column(scale=1):
                num_ecgs = gr.Slider(1, MAX_ECGS, value=2, step=1, label="Number of ECGs", elem_id="num-ecgs")
                sampler = gr.Radio([(s.label, s.key) for s in SAMPLERS.values()], value="dpmsolver++",
                                   label="Sampler", elem_id="sampler")
                steps = gr.Slider(1, info.num_train_timesteps, value=default_steps("dpmsolver++", info), step=1,
                                  label="Steps", elem_id="steps")
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed", elem_id="seed")
                dice = gr.Button("Random seed", size="sm")
                guidance = gr.Slider(0.0, MAX_GUIDANCE, value=1.0, step=0.1, visible=info.supports_guidance,
                                     label="Guidance scale (1 = off)", elem_id="guidance")
                button = gr.Button("Generate", variant="primary", elem_id="generate")
        summary = gr.Markdown(elem_id="summary")
        gallery = gr.Gallery(label="Generated ECGs", columns=MAX_ECGS, height=720, preview=True,
                             object_fit="contain", elem_id="gallery")
        downloads = gr.File(label="Downloads: WFDB (zip), CSV (zip), NumPy (npz)", file_count="multiple",
                            interactive=False, elem_id="downloads")

        preset.change(lambda name: list(apply_preset(name, info.label_names)) + [False] if name
                      else [gr.update()] * 4, inputs=preset,
                      outputs=[groups["rhythm"], groups["form"], groups["diagnostic"], unconditional])
        sampler.change(lambda key: default_steps(key, info), inputs=sampler, outputs=steps)
        dice.click(lambda: random.randint(0, MAX_SEED), outputs=seed)
        button.click(_gradio_handler(loader),
                     inputs=[groups["rhythm"], groups["form"], groups["diagnostic"], unconditional, num_ecgs,
                             sampler, steps, seed, guidance],
                     outputs=[gallery, downloads, summary], concurrency_id="generate")
    return demo


def build_app(concurrency: int = 1, loader: Callable = get_model, max_queue: int = 32):
    """:func:`build_demo` behind a queue: at most ``concurrency`` generations run at once and
    up to ``max_queue`` requests wait (later ones are told the queue is full)."""
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, got {concurrency!r}")
    demo = build_demo(loader)
    return demo.queue(default_concurrency_limit=concurrency, max_size=max_queue)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the SSSD-ECG Space locally.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--model", help="pipeline folder or Hub id (overrides SSSD_ECG_MODEL)")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("SSSD_ECG_CONCURRENCY", "1")),
                        help="generations run at once (others wait in the queue)")
    args = parser.parse_args(argv)
    if args.model:
        os.environ["SSSD_ECG_MODEL"] = args.model
    logging.basicConfig(level=logging.INFO)
    demo = build_app(args.concurrency)
    demo.launch(server_name=args.host, server_port=args.port, allowed_paths=[str(OUTPUT_ROOT)])


if __name__ == "__main__":
    main()
