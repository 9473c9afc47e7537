"""Generation pipeline: statements in, 12-lead ECGs (millivolts) out.

This file travels inside saved pipeline folders as remote code (``pipeline_sssd_ecg.py`` at the
folder's root, with ``leads.py`` beside it), so apart from the lead derivation it imports nothing
from ``sssd_hf`` at module level.
"""

from __future__ import annotations

import importlib
import inspect
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.utils.parametrize  # noqa: F401 - torch.nn.utils.parametrize.cached
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from .leads import STANDARD_LEADS, derive_twelve_leads

LabelsInput = Union[str, Sequence[str], Sequence[Sequence[str]], np.ndarray, torch.Tensor, None]


@dataclass
class SSSDECGPipelineOutput(BaseOutput):
    """Output of :class:`SSSDECGPipeline`.

    Args:
        ecgs: ``(N, 12, L)`` ECGs in millivolts, leads in ``lead_names`` order (NumPy float32
            array for ``output_type="np"``, tensor for ``"pt"``).
        lead_names: the 12 standard lead names, ``I, II, III, aVR, aVL, aVF, V1..V6``.
        sampling_rate: samples per second (Hz).
        labels: for each ECG, the statement codes it was conditioned on (empty list: none present;
            ``None``: unconditional).
    """

    ecgs: Union[np.ndarray, torch.Tensor]
    lead_names: List[str]
    sampling_rate: int
    labels: List[Optional[List[str]]]


def _parse_codes(text: str) -> List[str]:
    """``"NORM, SR"`` or ``"NORM+SR"`` -> ``["NORM", "SR"]``."""
    codes = [c.strip() for c in text.replace("+", ",").split(",")]
    codes = [c for c in codes if c]
    if not codes:
        raise ValueError(f"Empty statement string {text!r}: give at least one code such as 'NORM'")
    return codes


def labels_to_codes(labels: LabelsInput, label_names: Sequence[str]) -> List[List[str]]:
    """Normalise every accepted ``labels`` form to one list of statement codes per ECG.

    - ``"AFIB"`` or ``"NORM,SR"``: one ECG with those statements;
    - ``["NORM", "AFIB,SR"]``: one ECG per string;
    - ``[["NORM", "SR"], ["AFIB"], []]``: one ECG per inner list (``[]``: no statement present);
    - a multi-hot array or tensor ``(N, K)`` (or ``(K,)`` for one ECG) over ``label_names``.

    Raises ``ValueError`` for unknown codes (naming them and listing the valid ones), empty input,
    wrong shapes, NaN or non-binary multi-hot values.
    """
    names = list(label_names)
    if isinstance(labels, (np.ndarray, torch.Tensor)):
        codes = _multi_hot_to_codes(labels, names)
    elif isinstance(labels, str):
        codes = [_parse_codes(labels)]
    elif isinstance(labels, Sequence):
        if len(labels) == 0:
            raise ValueError("labels is empty: give at least one ECG's statements, e.g. labels='NORM'")
        if all(isinstance(x, str) for x in labels):
            codes = [_parse_codes(x) for x in labels]
        elif all(isinstance(x, (list, tuple)) for x in labels):
            codes = [list(x) for x in labels]
            bad = [x for row in codes for x in row if not isinstance(x, str)]
            if bad:
                raise ValueError(f"Statement codes must be strings, got {bad[:3]}")
        else:
            raise ValueError("labels must be a string, a list of strings or a list of lists of strings, not a mix")
    else:
        raise ValueError(f"Unsupported labels type {type(labels).__name__}")
    valid = set(names)
    unknown = sorted({c for row in codes for c in row if c not in valid})
    if unknown:
        raise ValueError(f"Unknown ECG statement code(s) {unknown}. Valid codes are: {', '.join(names)}")
    duplicated = [row for row in codes if len(set(row)) != len(row)]
    if duplicated:
        raise ValueError(f"A statement is repeated within one ECG: {duplicated[0]}")
    return codes


def _multi_hot_to_codes(labels: Union[np.ndarray, torch.Tensor], names: List[str]) -> List[List[str]]:
    array = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != len(names):
        raise ValueError(f"A multi-hot labels array must have shape (N, {len(names)}), got {tuple(np.shape(labels))}")
    if array.shape[0] == 0:
        raise ValueError("labels is empty: the multi-hot array has no rows")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise ValueError(f"A multi-hot labels array must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if np.isnan(array).any():
        raise ValueError("The multi-hot labels array contains NaN")
    if not np.isin(array, (0.0, 1.0)).all():
        raise ValueError("The multi-hot labels array must contain only 0 and 1")
    return [[names[k] for k in np.flatnonzero(row)] for row in array]


class SSSDECGPipeline(DiffusionPipeline):
    """Generate 12-lead ECGs with SSSD-ECG / SSSD-ECG-nle.

    Components:
        model: :class:`~sssd_hf.SSSDECGModel` (noise predictor over the generated leads).
        scheduler: :class:`~sssd_hf.SSSDECGScheduler` (the paper's DDPM), or a stock diffusers
            scheduler built ``from_config(pipe.scheduler.config)`` (DDIM, DPM-Solver++, UniPC...).

    Config:
        default_num_inference_steps: steps used when a call gives none; ``None`` means every
            training step (the paper's 200-step DDPM).  Saved in ``model_index.json``, so a
            pipeline folder that ships a few-step solver also ships its step count.
    """

    model_cpu_offload_seq = "model"

    def __init__(self, model, scheduler, default_num_inference_steps: Optional[int] = None):
        super().__init__()
        if default_num_inference_steps is not None and (
            isinstance(default_num_inference_steps, bool) or not isinstance(default_num_inference_steps, int)
            or default_num_inference_steps < 1
        ):
            raise ValueError(f"default_num_inference_steps must be a positive integer or None, got {default_num_inference_steps!r}")
        self.register_modules(model=model, scheduler=scheduler)
        self.register_to_config(default_num_inference_steps=default_num_inference_steps)

    # -- inputs ---------------------------------------------------------------------------
    def _conditioning(self, labels: LabelsInput, num_ecgs_per_label: int):
        config = self.model.config
        if config.label_embedding is None:
            if labels is not None:
                raise ValueError("This model is unconditional: call it with labels=None and num_ecgs=N")
            return None, None
        if labels is None:
            raise ValueError(
                "This model is conditioned on ECG statements: pass labels, e.g. labels='NORM'. "
                f"Valid codes: {', '.join(config.label_names)}"
            )
        codes = labels_to_codes(labels, config.label_names)
        codes = [row for row in codes for _ in range(num_ecgs_per_label)]
        return codes, self.model.labels_to_tensor(codes)

    @staticmethod
    def _sex_tensor(sex, n: int) -> Optional[torch.Tensor]:
        if sex is None:
            return None
        mapping = {"male": 0, "m": 0, "female": 1, "f": 1}
        values = [sex] * n if isinstance(sex, (str, int)) else list(sex)
        if len(values) != n:
            raise ValueError(f"sex has {len(values)} entries for {n} ECGs")
        out = []
        for v in values:
            if isinstance(v, str):
                if v.lower() not in mapping:
                    raise ValueError(f"Unknown sex {v!r}: use 'male'/'female' (PTB-XL codes 0/1)")
                v = mapping[v.lower()]
            out.append(int(v))
        return torch.tensor(out)

    @property
    def default_steps(self) -> int:
        """Steps used when a call gives none: the config's ``default_num_inference_steps``, else
        every training step of the scheduler."""
        configured = getattr(self.config, "default_num_inference_steps", None)
        return configured if configured is not None else self.scheduler.config.num_train_timesteps

    def _step_kwargs(self, generator) -> Dict[str, Any]:
        accepted = set(inspect.signature(self.scheduler.step).parameters)
        return {"generator": generator} if "generator" in accepted else {}

    # -- sampling -------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        labels: LabelsInput = None,
        num_ecgs: Optional[int] = None,
        num_ecgs_per_label: int = 1,
        num_inference_steps: Optional[int] = None,
        generator: Union[torch.Generator, List[torch.Generator], None] = None,
        sex: Union[str, int, Sequence[Union[str, int]], None] = None,
        guidance_scale: float = 1.0,
        batch_size: int = 32,
        output_type: str = "np",
        return_dict: bool = True,
        callback_on_step_end: Optional[Callable[[int, int, torch.Tensor], None]] = None,
    ) -> Union[SSSDECGPipelineOutput, tuple]:
        """Generate ECGs.

        Args:
            labels: statements per ECG (see :func:`labels_to_codes`); ``None`` for an
                unconditional model.
            num_ecgs: number of ECGs for an unconditional model (default 1).
            num_ecgs_per_label: ECGs generated for each entry of ``labels``.
            num_inference_steps: denoising steps (default: the pipeline's
                ``default_num_inference_steps``, else all ``T`` = 200 steps of the paper).
            generator: a ``torch.Generator`` for reproducible output, or one per ECG (then each
                ECG is the same whatever ``batch_size`` is).
            sex: ``"male"``/``"female"`` (or PTB-XL codes 0/1), one value or one per ECG, for
                models built with sex conditioning.
            guidance_scale: classifier-free guidance weight (``> 1`` needs a model trained with
                ``learn_null_label=True``); 1.0 disables guidance.
            batch_size: ECGs denoised at once (bounds memory; any number of ECGs can be asked).
            output_type: ``"np"`` (float32 NumPy) or ``"pt"`` (CPU float32 tensor).
            callback_on_step_end: called as ``fn(chunk_index, step_index, timestep)``.

        Returns:
            :class:`SSSDECGPipelineOutput` (or a tuple ``(ecgs, lead_names, sampling_rate, labels)``).
        """
        config = self.model.config
        if output_type not in ("np", "pt"):
            raise ValueError(f"output_type must be 'np' or 'pt', got {output_type!r}")
        if not isinstance(num_ecgs_per_label, int) or num_ecgs_per_label < 1:
            raise ValueError(f"num_ecgs_per_label must be a positive integer, got {num_ecgs_per_label!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if guidance_scale != 1.0 and not getattr(config, "learn_null_label", False):
            raise ValueError("guidance_scale != 1 needs a model trained for classifier-free guidance (learn_null_label=True)")
        codes, label_tensor = self._conditioning(labels, num_ecgs_per_label)
        if codes is None:
            total = 1 if num_ecgs is None else num_ecgs
            if not isinstance(total, int) or total < 1:
                raise ValueError(f"num_ecgs must be a positive integer, got {num_ecgs!r}")
        else:
            total = len(codes)
            if num_ecgs is not None and num_ecgs != total:
                raise ValueError(f"num_ecgs={num_ecgs} disagrees with the {total} ECGs that labels describe")
        if isinstance(generator, list) and len(generator) != total:
            raise ValueError(f"Got {len(generator)} generators for {total} ECGs: pass one generator, or one per ECG")
        sex_tensor = self._sex_tensor(sex, total)

        device = self._execution_device
        dtype = self.model.dtype
        shape = (config.in_channels, config.sample_length)
        outputs = []
        chunks = range(0, total, batch_size)
        # Weight-normed convs recompute g * v / ||v|| on every call unless cached; the S4 layers
        # cache their kernels themselves.
        weight_cache = torch.nn.utils.parametrize.cached()
        steps = num_inference_steps if num_inference_steps is not None else self.default_steps
        self.scheduler.set_timesteps(steps)  # validates the step count before any work
        with self.progress_bar(total=len(chunks) * steps) as progress, weight_cache:
            for chunk_index, start in enumerate(chunks):
                stop = min(start + batch_size, total)
                chunk_generator = generator[start:stop] if isinstance(generator, list) else generator
                chunk_labels = None if label_tensor is None else label_tensor[start:stop].to(device, dtype)
                chunk_sex = None if sex_tensor is None else sex_tensor[start:stop].to(device)
                x = self._denoise(
                    (stop - start, *shape), chunk_labels, chunk_sex, steps, chunk_generator, guidance_scale,
                    device, dtype, progress, lambda i, t: callback_on_step_end and callback_on_step_end(chunk_index, i, t),
                )
                outputs.append(derive_twelve_leads(x.float().cpu(), config.generated_leads))
        ecgs = torch.cat(outputs)
        if not torch.isfinite(ecgs).all():
            raise FloatingPointError("Sampling produced NaN or infinite values; check the model weights and dtype")
        result_labels = codes if codes is not None else [None] * total
        ecgs_out = ecgs.numpy().astype(np.float32) if output_type == "np" else ecgs
        self.maybe_free_model_hooks()
        if not return_dict:
            return (ecgs_out, list(STANDARD_LEADS), config.sampling_rate, result_labels)
        return SSSDECGPipelineOutput(
            ecgs=ecgs_out, lead_names=list(STANDARD_LEADS), sampling_rate=config.sampling_rate, labels=result_labels
        )

    def _denoise(self, shape, labels, sex, steps, generator, guidance_scale, device, dtype, progress, on_step):
        """Run the reverse process for one chunk; returns ``(n, G, L)`` generated leads.

        With a float16 / bfloat16 model only the network runs in that dtype: the latent and every
        scheduler update stay in float32, since 200 small DDPM updates accumulated in a 8-bit
        mantissa would lose the ECG's low-amplitude waves.
        """
        self.scheduler.set_timesteps(steps, device=device)
        latent_dtype = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
        x = randn_tensor(shape, generator=generator, device=device, dtype=latent_dtype) * self.scheduler.init_noise_sigma
        step_kwargs = self._step_kwargs(generator)
        for i, t in enumerate(self.scheduler.timesteps):
            model_input = self.scheduler.scale_model_input(x, t).to(dtype)
            eps = self.model(model_input, t, labels=labels, sex=sex).sample
            if guidance_scale != 1.0:
                uncond = self.model(model_input, t, labels=None, sex=sex).sample
                eps = uncond + guidance_scale * (eps - uncond)
            x = self.scheduler.step(eps.to(latent_dtype), t, x, **step_kwargs).prev_sample
            progress.update()
            on_step(i, t)
        return x

    # -- persistence ------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Union[str, os.PathLike], **kwargs):
        """Load a pipeline folder (or Hub repository) with this package's own classes.

        Saved folders also carry their code for ``DiffusionPipeline.from_pretrained(...,
        trust_remote_code=True)``; loading through this class uses the installed ``sssd_hf``
        instead, so no remote code runs.  ``model=`` or ``scheduler=`` replace a component,
        ``torch_dtype=`` sets the model dtype.
        """
        from huggingface_hub import snapshot_download

        # Imported by name so that this file stays loadable as stand-alone remote code.
        hub = importlib.import_module("sssd_hf.hub")
        path = os.fspath(pretrained_model_name_or_path)
        if not os.path.isdir(path):
            if os.path.exists(path) or path.count("/") > 1 or path.startswith((".", "/", "~")):
                raise FileNotFoundError(f"No pipeline folder at {path}")
            path = snapshot_download(path, revision=kwargs.pop("revision", None))
        if not os.path.isfile(os.path.join(path, "model_index.json")):
            raise FileNotFoundError(f"{path} is not a pipeline folder: model_index.json is missing")
        torch_dtype = kwargs.pop("torch_dtype", None)
        model = kwargs.pop("model", None) or hub.load_component(path, "model")
        scheduler = kwargs.pop("scheduler", None) or hub.load_component(path, "scheduler")
        default_steps = kwargs.pop("default_num_inference_steps", hub.pipeline_setting(path, "default_num_inference_steps"))
        if kwargs:
            raise TypeError(f"Unexpected arguments: {sorted(kwargs)}")
        if torch_dtype is not None:
            model = model.to(torch_dtype)
        return cls(model=model.eval(), scheduler=scheduler, default_num_inference_steps=default_steps)

    def save_pretrained(self, save_directory: Union[str, os.PathLike], **kwargs):
        """Save weights (safetensors) and configs, plus the model/scheduler/pipeline code and a
        model card, so the folder is a complete Hub repository (see :mod:`sssd_hf.hub`).
        The folder is written under a temporary name and renamed into place."""
        try:
            hub = importlib.import_module("sssd_hf.hub")
        except ModuleNotFoundError:  # running as remote code without sssd_hf: plain diffusers layout
            return super().save_pretrained(save_directory, **kwargs)
        hub.save_pipeline_folder(self, save_directory, **kwargs)
