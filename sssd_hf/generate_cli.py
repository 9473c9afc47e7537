"""``sssd-ecg generate``: ECGs from a pipeline folder to WFDB, CSV, NumPy, DICOM or EDF+ files.

Everything that can be checked without the weights is checked first, in this order, each
failure a one-line :class:`~sssd_hf.cli.CLIError`: the numbers (``--num``, ``--steps``,
``--batch-size``, ``--guidance-scale``), the model folder (``model_index.json``, the label
vocabulary, step count, default sampler, steps and guidance read from its JSON configs, guidance only for a
model trained for it, safetensors weights present), the statements, ``--device``, and the output
folder.  Only then is the model loaded.  ECGs are generated and written in batches of
``--batch-size``, so memory stays flat in ``--num``; an interrupted run (Ctrl-C) keeps every
finished record and a ``metadata.json`` that lists exactly those.  Each ECG's noise comes from its
own generator seeded by ``(--seed, its number)`` (:mod:`sssd_hf.seeding`), so the output does not
depend on ``--batch-size`` and ``--resume`` finishes an interrupted run (even a killed one, whose
``metadata.json`` may lag its files) with exactly the ECGs an uninterrupted run writes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .cli import CLIError
from .schedulers.samplers import SAMPLERS, get_sampler, make_scheduler, pipeline_sampler, resolve_steps
from .seeding import ecg_generators

#: Largest ``--num`` (one file per ECG; use ``sssd-ecg build-dataset`` for bigger synthetic sets).
MAX_NUM = 100_000
#: Largest ``--num`` for ``--format npz``: the ``.npz`` is one array, read whole into memory.
MAX_NUM_NPZ = 20_000
#: ``--format`` names that are not keys of :data:`sssd_hf.export.EXPORT_FORMATS`.
FORMAT_ALIASES = {"npy": "npz"}
FORMAT_CHOICES = ("wfdb", "csv", "npy", "npz", "dicom", "edf")
#: Files a run of ``generate`` writes; ``--overwrite`` removes these and nothing else.
_RUN_FILE = re.compile(r"^(metadata\.json|ecgs\.npz|ecg_\d+\.(hea|dat|csv|dcm|edf|png)|\.tmp-.*)$")
_WEIGHT_SUFFIXES = (".safetensors",)
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
#: Seconds between rewrites of ``metadata.json`` during a run (it is also written at the end).
_METADATA_EVERY_S = 5.0


@dataclass
class ModelInfo:
    """What ``generate`` needs to know of a pipeline before loading it (``None``: not known yet)."""

    path: str
    label_names: Optional[List[str]]
    num_train_timesteps: Optional[int]
    default_steps: Optional[int]
    local: bool
    #: the folder's ``default_guidance_scale`` (``model_index.json``), ``None`` if it sets none
    default_guidance: Optional[float] = None
    #: the model learned a null label (``learn_null_label: true``), so guidance != 1 works
    supports_guidance: Optional[bool] = None
    #: the sampler used without ``--scheduler``: the folder's ``default_sampler``, else ``ddpm``
    default_sampler: Optional[str] = None


def resolve_model_path(model: Optional[str]) -> str:
    """``--model`` if given, else the pipeline bundled with the package; a clear error if neither."""
    if model:
        return model
    from .defaults import default_pipeline_path

    path = default_pipeline_path()
    if not path:
        raise CLIError(
            "No weights are available: this installation has no bundled default pipeline. Pass --model PATH "
            "(a pipeline folder, e.g. one written by `python -m sssd_hf.convert` or the training script)."
        )
    return path


def _read_json(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None


def read_model_info(model: Optional[str]) -> ModelInfo:
    """Read a pipeline folder's vocabulary, step count, default steps and guidance, and whether its
    model supports guidance, from its JSON files alone.

    A Hub id (not a local folder) is looked up only when loaded, so its fields are ``None``.
    Raises :class:`CLIError` for a folder that is not a pipeline, has unreadable configs, or
    holds only pickled weights (which ``generate`` does not load)."""
    path = os.fspath(resolve_model_path(model))
    if not os.path.isdir(path):
        if os.path.exists(path) or path.count("/") > 1 or path.startswith((".", "/", "~")):
            raise CLIError(f"No pipeline folder at {path}")
        return ModelInfo(path, None, None, None, local=False)
    index_path = os.path.join(path, "model_index.json")
    if not os.path.isfile(index_path):
        raise CLIError(f"{path} is not a pipeline folder: model_index.json is missing")
    index = _read_json(index_path)
    model_config = _read_json(os.path.join(path, "model", "config.json"))
    scheduler_config = _read_json(os.path.join(path, "scheduler", "scheduler_config.json"))
    _check_weight_files(os.path.join(path, "model"))
    labels = model_config.get("label_names") or None
    steps = scheduler_config.get("num_train_timesteps")
    try:
        sampler = pipeline_sampler(index.get("default_sampler"))
    except ValueError as exc:
        raise CLIError(f"{index_path}: {exc}") from None
    return ModelInfo(path, list(labels) if labels else None, int(steps) if steps else None,
                     index.get("default_num_inference_steps"), local=True,
                     default_guidance=index.get("default_guidance_scale"),
                     supports_guidance=_supports_guidance(model_config), default_sampler=sampler)


def _supports_guidance(model_config) -> bool:
    """Whether a model (its config) was trained for classifier-free guidance, as the pipeline checks it."""
    return bool(model_config.get("label_embedding")) and model_config.get("learn_null_label") is True


def _check_weight_files(folder: str) -> None:
    names = os.listdir(folder)
    if any(n.endswith(_WEIGHT_SUFFIXES) for n in names):
        return
    pickled = sorted(n for n in names if n.endswith(_PICKLE_SUFFIXES))
    if pickled:
        raise CLIError(f"{folder} holds only pickled weights ({', '.join(pickled)}), which can run code when "
                       "loaded; sssd-ecg loads safetensors only: re-save the pipeline with save_pretrained")
    raise CLIError(f"{folder} holds no weights (no *.safetensors file)")


def check_numbers(args: argparse.Namespace, fmt: str) -> None:
    """``--num``, ``--batch-size``, ``--seed`` (and ``--steps`` > 0) before anything else."""
    limit = MAX_NUM_NPZ if fmt == "npz" else MAX_NUM
    if not 1 <= args.num <= limit:
        hint = " (the .npz is one array read whole into memory; use --format wfdb, csv, dicom or edf)" \
            if fmt == "npz" and args.num > limit else " (use `sssd-ecg build-dataset` for larger synthetic sets)"
        raise CLIError(f"--num must be from 1 to {limit}, got {args.num}" + (hint if args.num > limit else ""))
    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.seed < 0:
        raise CLIError(f"--seed must be 0 or more, got {args.seed}")
    if args.steps is not None and args.steps < 1:
        raise CLIError(f"--steps must be at least 1, got {args.steps} (leave it out for the sampler's default)")
    if args.guidance_scale is not None and not (math.isfinite(args.guidance_scale) and args.guidance_scale >= 0):
        raise CLIError(f"--guidance-scale must be a finite number >= 0, got {args.guidance_scale}")


def resolve_num_steps(sampler: str, steps: Optional[int], info: ModelInfo) -> Optional[int]:
    """Denoising steps: ``--steps``, else the folder's ``default_num_inference_steps`` for ``ddpm``,
    else the sampler's default (every training step for ``ddpm``).  ``None`` until the step count
    of a Hub pipeline is known."""
    if info.num_train_timesteps is None:
        return steps
    if steps is None and sampler == "ddpm" and info.default_steps is not None:
        steps = int(info.default_steps)
    return resolve_steps(sampler, steps, info.num_train_timesteps)


def resolve_guidance(guidance_scale: Optional[float], info: ModelInfo) -> Optional[float]:
    """Classifier-free guidance weight: ``--guidance-scale``, else the folder's ``default_guidance_scale``,
    else 1.0 (none).  Refuses guidance != 1 for a model not trained for it (``learn_null_label``).
    ``None`` until the settings of a Hub pipeline are known."""
    what = "--guidance-scale"
    if guidance_scale is None:
        if info.supports_guidance is None:
            return None
        what, default = "the pipeline's default_guidance_scale", info.default_guidance
        if default is not None and (isinstance(default, bool) or not isinstance(default, (int, float))
                                    or not math.isfinite(default) or default < 0):
            raise CLIError(f"{info.path}: model_index.json's default_guidance_scale must be a finite number >= 0, "
                           f"got {default!r}")
        guidance_scale = 1.0 if default is None else default
    guidance_scale = float(guidance_scale)
    if guidance_scale != 1.0 and info.supports_guidance is False:
        raise CLIError(f"{what} {guidance_scale:g} needs a model trained for classifier-free guidance "
                       "(learn_null_label: true in its model/config.json), which this one is not; "
                       "use --guidance-scale 1")
    return guidance_scale


def check_labels(args: argparse.Namespace, label_names: Optional[List[str]]) -> Optional[List[str]]:
    """The statement codes of every ECG (``None`` for ``--unconditional``), checked against the model."""
    if args.unconditional and args.labels:
        raise CLIError("give either --labels or --unconditional, not both")
    if not args.unconditional and not args.labels:
        raise CLIError("Give --labels (e.g. --labels NORM,SR) or --unconditional")
    if args.unconditional:
        if label_names:
            raise CLIError(f"this model is conditional: give --labels from {', '.join(label_names)}")
        return None
    if label_names is None:
        return None  # a Hub pipeline: the pipeline checks the codes once loaded
    from .pipelines.pipeline_sssd_ecg import labels_to_codes

    return labels_to_codes(args.labels, label_names)[0]


def resolve_device(device: Optional[str]) -> str:
    """``--device`` checked against this PyTorch build (default: cuda when available, else cpu)."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise CLIError(f"--device {device!r} is not a device name (cpu, cuda, cuda:1, mps)") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise CLIError(f"--device {device}: this PyTorch ({torch.__version__}) sees no CUDA GPU; use --device cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise CLIError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    elif parsed.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise CLIError(f"--device {device}: MPS is not available in this PyTorch build")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise CLIError(f"--device {device}: choose cpu, cuda or mps")
    return device


def prepare_output(out: str, overwrite: bool, resume: bool = False) -> List[str]:
    """Check ``--out`` before the model loads; create it if missing.

    Returns the earlier run's files that ``--overwrite`` will remove (once the model has loaded).
    Refuses a file, a folder that cannot be written, a non-empty folder without ``--overwrite``
    or ``--resume``, and, even with them, a folder holding files that ``generate`` does not write."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(f"--out {out} is a file, not a folder")
    old: List[str] = []
    if os.path.isdir(out):
        entries = sorted(os.listdir(out))
        if entries and not (overwrite or resume):
            raise CLIError(f"--out {out} is not empty ({len(entries)} entries, e.g. {entries[0]}); pass --overwrite "
                           "to replace an earlier run, --resume to finish an interrupted one, or choose a new folder")
        # a folder there is not ours, except a temp folder the WFDB writer left when killed
        foreign = [e for e in entries if not _RUN_FILE.match(e)
                   or (os.path.isdir(os.path.join(out, e)) and not e.startswith(".tmp-"))]
        if foreign:
            raise CLIError(f"--out {out} holds files that sssd-ecg generate did not write ({', '.join(foreign[:3])}); "
                           "choose another folder")
        old = entries
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, f".tmp-write-check-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.unlink(probe)
    except OSError as exc:
        raise CLIError(f"--out {out} cannot be written: {exc.strerror or exc}") from None
    return old


def load_pipeline(model: Optional[str], scheduler: Optional[str] = None, device: Optional[str] = None):
    """Load a pipeline (see :func:`resolve_model_path`) and swap in the sampler named ``scheduler``
    (a key of :data:`sssd_hf.schedulers.samplers.SAMPLERS`; ``None``: the pipeline's ``default_sampler``,
    else ``ddpm``); ``ddpm`` keeps the pipeline's own."""
    from .pipelines.pipeline_sssd_ecg import SSSDECGPipeline

    if scheduler is not None:
        get_sampler(scheduler)
    path = resolve_model_path(model)
    try:
        pipe = SSSDECGPipeline.from_pretrained(path)
    except (CLIError, FileNotFoundError):
        raise
    except Exception as exc:  # corrupt weights, unreadable files, wrong shapes: one line, not a traceback
        raise CLIError(f"cannot load the pipeline at {path}: {type(exc).__name__}: {exc}") from None
    scheduler = scheduler or pipe.default_sampler_name
    if get_sampler(scheduler).scheduler_class is not None:
        pipe.scheduler = make_scheduler(scheduler, pipe.scheduler.config)
    return pipe.to(resolve_device(device))


@dataclass
class ResumedRun:
    """The finished part of an interrupted run that ``--resume`` keeps (the first ``len(names)`` ECGs)."""

    names: List[str]
    labels: List[List[str]]
    held: Optional[Any] = None  # npz: the kept ECGs, float32 (n, 12, L) mV, read back from ecgs.npz
    stale: List[str] = field(default_factory=list)  # files of later ECGs or temp files, to remove


def _resume_error(out: str, problem: str) -> CLIError:
    return CLIError(f"--resume: {problem}; pass the options of the run in {out}, or --overwrite to start over")


def _check_same(out: str, option: str, before: Any, now: Any) -> None:
    if before is None and now is not None:
        raise _resume_error(out, f"the run in {out} does not record its {option} (an older sssd-hf wrote it)")
    if before != now:
        raise _resume_error(out, f"the run in {out} used {option} {before}, not {now}")


def read_resumable_run(out: str, fmt: str, num: int, codes: Optional[List[str]], settings: Dict[str, Any],
                       plot: bool) -> ResumedRun:
    """What ``--resume`` keeps of the interrupted run in ``out``, checked before the model loads.

    The run must be unfinished and have used the same model, sampler, steps, guidance, seed, statements,
    ``--num``, ``--format`` and ``--plot``.  Kept: the leading ECGs that ``metadata.json`` lists
    and whose files are all there (for npz: those in ``ecgs.npz``); files of later ECGs, which a
    killed run may have written after its last ``metadata.json``, are regenerated."""
    from .export import METADATA_NAME, get_format, read_npz, record_names

    path = os.path.join(out, METADATA_NAME)
    if not os.path.isfile(path):
        raise CLIError(f"--resume: {out} has no {METADATA_NAME} of an earlier sssd-ecg generate run; "
                       "run without --resume")
    try:
        meta = _read_json(path)
        entries = list(meta["ecgs"])
        names = [str(e["record"]) for e in entries]
        labels = [list(e["statements"]) for e in entries]
        old_settings = dict(meta["settings"])
    except (CLIError, KeyError, TypeError, ValueError) as exc:
        raise CLIError(f"--resume: {path} is not a readable run description ({exc}); use --overwrite to start "
                       "over") from None
    if meta.get("complete") is True:
        raise CLIError(f"--resume: the run in {out} is complete ({len(names)} ECGs); nothing to resume")
    # runs written before --guidance-scale existed all used 1.0 (no guidance)
    recorded = {"--format": meta.get("format"), "--num": meta.get("num_requested"), "--plot": meta.get("plot"),
                "--model": old_settings.get("model"), "--scheduler": old_settings.get("sampler"),
                "--steps": old_settings.get("num_inference_steps"),
                "--guidance-scale": old_settings.get("guidance_scale", 1.0), "--seed": old_settings.get("seed")}
    asked = {"--format": fmt, "--num": num, "--plot": plot, "--model": settings["model"],
             "--scheduler": settings["sampler"], "--steps": settings["num_inference_steps"],
             "--guidance-scale": settings["guidance_scale"], "--seed": settings["seed"]}
    for option, before in recorded.items():
        _check_same(out, option, before, asked[option])
    if names != record_names(len(names), total=num):
        raise CLIError(f"--resume: {path} lists records {names[:2]}... that this run would not name")
    other = [row for row in labels if row != (codes or [])]
    if other:
        raise _resume_error(out, f"the run in {out} was for statements {','.join(other[0]) or '(none)'}")
    spec, held = get_format(fmt), None
    kept = 0
    if spec.write_record is None:
        npz = os.path.join(out, "ecgs.npz")
        if os.path.isfile(npz):
            try:
                held = read_npz(npz)["ecgs"]
            except Exception as exc:  # a truncated or foreign file: start from its first ECG
                raise CLIError(f"--resume: {npz} cannot be read ({type(exc).__name__}: {exc}); use --overwrite "
                               "to start over") from None
            kept = min(len(names), len(held))
            held = held[:kept]
    else:
        suffixes = spec.record_suffixes + ((".png",) if plot else ())
        while kept < len(names) and all(os.path.isfile(os.path.join(out, names[kept] + s)) for s in suffixes):
            kept += 1
    later = set(record_names(num, total=num)[kept:])
    stale = [e for e in sorted(os.listdir(out)) if e.startswith(".tmp-") or os.path.splitext(e)[0] in later]
    return ResumedRun(names[:kept], labels[:kept], held, stale)


class _RunWriter:
    """Writes a run's ECGs batch by batch into ``out`` and keeps ``metadata.json`` in step."""

    def __init__(self, out: str, fmt: str, total: int, sampling_rate: float, lead_names, num_samples: int,
                 settings: Dict[str, Any], plot: bool, resumed: Optional[ResumedRun] = None):
        from .export import get_format

        self.out, self.fmt, self.spec, self.total, self.plot = out, fmt, get_format(fmt), total, plot
        self.sampling_rate, self.lead_names, self.num_samples = sampling_rate, list(lead_names), num_samples
        self.settings = settings
        self.names: List[str] = list(resumed.names) if resumed else []
        self.labels: List[List[str]] = list(resumed.labels) if resumed else []
        self.written: List[str] = []
        self._held = [resumed.held] if resumed is not None and resumed.held is not None and len(resumed.held) else []
        self._last_metadata = 0.0

    def add(self, ecgs, labels: List[List[str]]) -> None:
        """Write one batch (``(n, C, L)`` mV) after checking the whole batch for this format."""
        from .export import check_ecgs, record_names

        ecgs, labels = check_ecgs(ecgs, self.sampling_rate, self.lead_names, labels)
        self.spec.check(ecgs, self.sampling_rate, self.lead_names)
        names = record_names(len(ecgs), start=len(self.names), total=self.total)
        if self.spec.write_record is None:
            self._held.append(ecgs)
        for name, ecg, codes in zip(names, ecgs, labels):
            if self.spec.write_record is not None:
                self.written.append(self.spec.write_record(self.out, name, ecg, self.sampling_rate, self.lead_names,
                                                           codes, self.settings))
            if self.plot:
                self._plot(name, ecg, codes)
            self.names.append(name)
            self.labels.append(codes)
        if time.monotonic() - self._last_metadata > _METADATA_EVERY_S:
            self._write_metadata(complete=False)

    def _plot(self, name: str, ecg, codes: List[str]) -> None:
        from .plotting import save_ecg_png
        from .utils import atomic_path

        with atomic_path(os.path.join(self.out, name + ".png"), suffix=".png") as tmp:
            save_ecg_png(ecg, tmp, self.sampling_rate, self.lead_names, title=", ".join(codes))

    def _write_metadata(self, complete: bool) -> None:
        from .export import METADATA_NAME, run_metadata, write_metadata_json

        extra = {"num_requested": self.total, "format": self.fmt, "plot": self.plot, "complete": complete}
        write_metadata_json(os.path.join(self.out, METADATA_NAME), run_metadata(
            self.names, self.labels, self.sampling_rate, self.num_samples, self.lead_names, self.settings, extra))
        self._last_metadata = time.monotonic()

    def finish(self, complete: bool) -> None:
        """Write the ``.npz`` (npz format) and the final ``metadata.json`` for the ECGs so far."""
        import numpy as np

        from .export import write_npz

        if self.spec.write_record is None and self._held:
            ecgs = np.concatenate(self._held)
            self.written = [write_npz(os.path.join(self.out, "ecgs.npz"), ecgs, self.sampling_rate, self.lead_names,
                                      self.labels, self.settings)]
        if self.names:
            self._write_metadata(complete)


def _remove_old_run(out: str, names: List[str]) -> None:
    for name in names:
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)


def _settings(info: ModelInfo, args: argparse.Namespace, steps: Optional[int], guidance: Optional[float],
              scheduler_class: str = ""):
    """The generation settings a run records in ``metadata.json`` and in every record's header."""
    settings = {"model": os.fspath(info.path), "sampler": args.scheduler, "scheduler": scheduler_class,
                "num_inference_steps": steps, "guidance_scale": guidance, "seed": args.seed}
    return settings if scheduler_class else {k: v for k, v in settings.items() if k != "scheduler"}


def run_generate(args: argparse.Namespace) -> int:
    fmt = FORMAT_ALIASES.get(args.format, args.format)
    if args.resume and args.overwrite:
        raise CLIError("pass --resume (finish the run in --out) or --overwrite (replace it), not both")
    check_numbers(args, fmt)
    info = read_model_info(args.model)
    args.scheduler = args.scheduler or info.default_sampler  # None until a Hub pipeline is loaded
    steps = resolve_num_steps(args.scheduler, args.steps, info)
    guidance = resolve_guidance(args.guidance_scale, info)
    codes = check_labels(args, info.label_names)
    device = resolve_device(args.device)
    out = os.fspath(args.out)
    created = not os.path.exists(out)
    if args.resume and created:
        raise CLIError(f"--resume: {out} does not exist; run without --resume")
    old_files = prepare_output(out, args.overwrite, args.resume)
    resumed = None
    if args.resume:
        resumed = read_resumable_run(out, fmt, args.num, codes, _settings(info, args, steps, guidance), args.plot)
        old_files = resumed.stale
    writer = None
    try:
        pipe = load_pipeline(info.path, args.scheduler, device)
        if not info.local:  # a Hub pipeline: what read_model_info could not check
            info = ModelInfo(info.path, list(pipe.model.config.label_names or []) or None,
                             pipe.scheduler.config.num_train_timesteps, pipe.config.get("default_num_inference_steps"),
                             local=False, default_guidance=pipe.config.get("default_guidance_scale"),
                             supports_guidance=_supports_guidance(pipe.model.config),
                             default_sampler=pipe.default_sampler_name)
            args.scheduler = args.scheduler or info.default_sampler
            steps = resolve_num_steps(args.scheduler, args.steps, info)
            guidance = resolve_guidance(args.guidance_scale, info)
            codes = check_labels(args, info.label_names)
        settings = _settings(info, args, steps, guidance, type(pipe.scheduler).__name__)
        config = pipe.model.config
        _remove_old_run(out, old_files)
        writer = _RunWriter(out, fmt, args.num, config.sampling_rate, _lead_names(), config.sample_length,
                            settings, args.plot, resumed)
        first = len(writer.names)
        started = time.perf_counter()
        try:
            for start in range(first, args.num, args.batch_size):
                count = min(args.batch_size, args.num - start)
                batch = pipe(labels=None if codes is None else [codes] * count,
                             num_ecgs=count if codes is None else None, num_inference_steps=steps,
                             guidance_scale=guidance, generator=ecg_generators(args.seed, range(start, start + count)),
                             batch_size=count)
                writer.add(batch.ecgs, [c or [] for c in batch.labels])
        except KeyboardInterrupt:
            writer.finish(complete=False)
            print(f"sssd-ecg generate: interrupted after {len(writer.names)} of {args.num} ECG(s); {out} holds those "
                  "complete records and a metadata.json listing them. Run the same command with --resume to "
                  "finish it, or with --overwrite to start over.", file=sys.stderr)
            return 130
        writer.finish(complete=True)
    finally:
        if created and writer is None and os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)  # nothing was written: leave no empty folder behind
    elapsed = time.perf_counter() - started
    kept = f" (resumed: kept the first {first})" if resumed is not None else ""
    print(f"Generated {len(writer.names) - first} ECG(s) in {elapsed:.1f} s{kept}; wrote {len(writer.written)} "
          f"{fmt} file(s) to {out}")
    return 0


def _lead_names() -> List[str]:
    from .leads import STANDARD_LEADS

    return list(STANDARD_LEADS)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate 12-lead ECGs conditioned on statements",
        description="Generate 12-lead ECGs (mV) conditioned on PTB-XL statements and write them to DIR, in "
        "batches: memory does not grow with --num, and an interrupted run keeps its finished records.",
    )
    parser.add_argument("--labels", help="statement codes for every ECG, comma-separated, e.g. NORM,SR")
    parser.add_argument("--unconditional", action="store_true", help="for unconditional models")
    parser.add_argument("--num", type=int, default=1, help=f"number of ECGs, 1 to {MAX_NUM} (default 1)")
    parser.add_argument("--out", required=True, help="output folder (new or empty; see --overwrite)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier run in --out: its ECG files and metadata.json are removed")
    parser.add_argument("--resume", action="store_true",
                        help="finish an interrupted run in --out (same options): its finished ECGs are kept and the "
                        "rest generated; the result equals an uninterrupted run")
    parser.add_argument("--format", choices=FORMAT_CHOICES, default="wfdb",
                        help="wfdb: one record per ECG; csv: one file per ECG; npz (or npy): ecgs.npz (NumPy); "
                        "dicom: one DICOM 12-lead ECG waveform per ECG; edf: one EDF+ file per ECG")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the pipeline's default for ddpm, "
                        + ", ".join(f"{s.default_steps} for {s.name}" for s in SAMPLERS.values() if s.default_steps)
                        + ")")
    parser.add_argument("--scheduler", choices=list(SAMPLERS), default=None,
                        help="sampler (default: the pipeline's default_sampler in model_index.json, else ddpm; "
                        "the bundled pipeline's is dpm-sde): "
                        + "; ".join(f"{s.name}: {s.label}" for s in SAMPLERS.values()))
    parser.add_argument("--guidance-scale", type=float, metavar="G",
                        help="classifier-free guidance weight, >= 0; != 1 needs a model trained for it "
                        "(default: the pipeline's default_guidance_scale in model_index.json, else 1 = none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16, help="ECGs generated and written at once (default 16)")
    parser.add_argument("--model", help="pipeline folder or Hub id (default: the bundled PTB-XL pipeline)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--plot", action="store_true", help="also draw each ECG as a PNG on ECG paper")
    parser.set_defaults(func=run_generate)
