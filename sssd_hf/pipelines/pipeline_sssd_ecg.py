"""Generation pipeline: statements in, 12-lead ECGs (millivolts) out.

This file travels inside saved pipeline folders as remote code (``pipeline_sssd_ecg.py`` at the
folder's root, with ``leads.py`` beside it), so apart from the lead derivation it imports nothing
from ``sssd_hf`` at module level.
"""

from __future__ import annotations

import importlib
import inspect
import math
import numbers
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.utils.parametrize  # noqa: F401 - torch.nn.utils.parametrize.cached
from diffusers import DiffusionPipeline, ModelMixin, SchedulerMixin
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from ..leads import STANDARD_LEADS, derive_twelve_leads

LabelsInput = Union[str, Sequence[str], Sequence[Sequence[str]], np.ndarray, torch.Tensor, None]


@dataclass
class SSSDECGPipelineOutput(BaseOutput):
    """Output of :class:`SSSDECGPipeline`.

    Args:
        ecgs: ``(N, 12, L)`` ECGs in millivolts, leads in ``lead_names`` order (NumPy float32
            array for ``output_type="np"``, tensor for ``"pt"``; ``(N, G, L)`` generated leads
            for ``"latent"``).
        lead_names: the 12 standard lead names, ``I, II, III, aVR, aVL, aVF, V1..V6`` (the
            model's generated leads for ``output_type="latent"``).
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


@dataclass
class _Conditioning:
    """What the network is conditioned on for one chunk of ECGs.

    Attributes:
        labels: ``(n, K)`` multi-hot statements (model dtype), or ``None`` (unconditional model).
        sex: ``(n,)`` class indices, or ``None``.
    """

    labels: Optional[torch.Tensor]
    sex: Optional[torch.Tensor]

    def rows(self, start: int, stop: int, device, dtype) -> "_Conditioning":
        labels = None if self.labels is None else self.labels[start:stop].to(device, dtype)
        sex = None if self.sex is None else self.sex[start:stop].to(device)
        return _Conditioning(labels, sex)


#: ``from_pretrained`` arguments handed to ``huggingface_hub.snapshot_download`` for a Hub id.
_DOWNLOAD_KWARGS = ("cache_dir", "force_download", "local_files_only", "proxies", "revision", "token")
#: ``from_pretrained`` arguments handed to the model's ``ModelMixin.from_pretrained``.
_MODEL_LOAD_KWARGS = ("variant", "use_safetensors", "low_cpu_mem_usage")
#: Accepted for compatibility with ``DiffusionPipeline.from_pretrained`` and without effect here:
#: this class loads with the installed package's code, never with the folder's remote code.
_IGNORED_KWARGS = ("trust_remote_code", "custom_revision")


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
        default_guidance_scale: classifier-free guidance weight used when a call gives none
            (``guidance_scale=None``); ``None`` means 1.0, no guidance.  Saved in
            ``model_index.json``, so a folder can recommend the guidance its model was tuned
            for; a value other than 1 still needs a model trained with ``learn_null_label=True``.
        default_sampler: name of the sampler (in ``sssd_hf.schedulers.samplers.SAMPLERS``, e.g.
            ``"dpm-sde"``) that ``sssd-ecg generate``, ``sssd-ecg build-dataset`` and the Space use
            when none is asked for; ``None`` means ``"ddpm"``, the pipeline's own scheduler.  Saved in
            ``model_index.json``.  A call of the pipeline itself always runs ``pipe.scheduler``.

    A call runs diffusers' named steps: :meth:`check_inputs`, :meth:`encode_labels`, then for
    each chunk of ``batch_size`` ECGs ``scheduler.set_timesteps``, :meth:`prepare_latents`,
    the denoising loop (:meth:`predict_noise` + ``scheduler.step`` + ``callback_on_step_end``)
    and :meth:`decode_latents`.
    """

    model_cpu_offload_seq = "model"
    #: Tensors a ``callback_on_step_end`` may ask for; a returned ``"latents"`` replaces the latents.
    _callback_tensor_inputs = ["latents", "noise_pred"]

    def __init__(
        self,
        model: ModelMixin,
        scheduler: SchedulerMixin,
        default_num_inference_steps: Optional[int] = None,
        default_guidance_scale: Optional[float] = None,
        default_sampler: Optional[str] = None,
    ):
        super().__init__()
        if default_num_inference_steps is not None and (
            isinstance(default_num_inference_steps, bool) or not isinstance(default_num_inference_steps, int)
            or default_num_inference_steps < 1
        ):
            raise ValueError(
                f"default_num_inference_steps must be a positive integer or None, got {default_num_inference_steps!r}"
            )
        if default_guidance_scale is not None and not _is_guidance_scale(default_guidance_scale):
            raise ValueError(
                f"default_guidance_scale must be a finite number >= 0 or None, got {default_guidance_scale!r}"
            )
        if default_sampler is not None:
            _check_sampler_name(default_sampler)
        self.register_modules(model=model, scheduler=scheduler)
        self.register_to_config(
            default_num_inference_steps=default_num_inference_steps,
            default_guidance_scale=None if default_guidance_scale is None else float(default_guidance_scale),
            default_sampler=default_sampler,
        )
        self._guidance_scale = 1.0
        self._num_timesteps = 0
        self._chunk_index = 0

    # -- state that callbacks may read --------------------------------------------------------
    @property
    def guidance_scale(self) -> float:
        """The classifier-free guidance weight of the running (or last) call."""
        return self._guidance_scale

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale != 1.0

    @property
    def num_timesteps(self) -> int:
        """Denoising steps per chunk in the running (or last) call."""
        return self._num_timesteps

    @property
    def chunk_index(self) -> int:
        """Which chunk of ``batch_size`` ECGs is being denoised (0-based): a callback's
        ``step_index`` restarts at 0 for every chunk."""
        return self._chunk_index

    @property
    def default_steps(self) -> int:
        """Steps used when a call gives none: the config's ``default_num_inference_steps``, else
        every training step of the scheduler."""
        configured = getattr(self.config, "default_num_inference_steps", None)
        return configured if configured is not None else self.scheduler.config.num_train_timesteps

    @property
    def default_guidance(self) -> float:
        """Guidance weight used when a call gives none: the config's ``default_guidance_scale``,
        else 1.0 (no guidance)."""
        configured = getattr(self.config, "default_guidance_scale", None)
        return float(configured) if configured is not None else 1.0

    @property
    def default_sampler_name(self) -> str:
        """Sampler the CLI and the Space use when none is asked for: the config's ``default_sampler``,
        else ``"ddpm"`` (the pipeline's own scheduler)."""
        return getattr(self.config, "default_sampler", None) or "ddpm"

    # -- inputs -----------------------------------------------------------------------------
    def _number_of_ecgs(self, labels: LabelsInput, num_ecgs: Optional[int], num_ecgs_per_label: int) -> int:
        config = self.model.config
        if config.label_embedding is None:
            if labels is not None:
                raise ValueError("This model is unconditional: call it with labels=None and num_ecgs=N")
            total = 1 if num_ecgs is None else num_ecgs
            if isinstance(total, bool) or not isinstance(total, int) or total < 1:
                raise ValueError(f"num_ecgs must be a positive integer, got {num_ecgs!r}")
            return total
        if labels is None:
            raise ValueError(
                "This model is conditioned on ECG statements: pass labels, e.g. labels='NORM'. "
                f"Valid codes: {', '.join(config.label_names)}"
            )
        total = len(labels_to_codes(labels, config.label_names)) * num_ecgs_per_label
        if num_ecgs is not None and num_ecgs != total:
            raise ValueError(f"num_ecgs={num_ecgs} disagrees with the {total} ECGs that labels describe")
        return total

    def check_inputs(
        self,
        labels: LabelsInput,
        num_ecgs: Optional[int],
        num_ecgs_per_label: int,
        num_inference_steps: int,
        generator,
        latents: Optional[torch.Tensor],
        guidance_scale: float,
        batch_size: int,
        output_type: str,
        callback_on_step_end_tensor_inputs: Sequence[str],
    ) -> int:
        """Validate every argument before any sampling work; returns the number of ECGs ``N``.

        Raises ``ValueError`` naming the problem (unknown codes, bad counts, a generator list or
        ``latents`` that do not match ``N``, guidance without a null-label model...)."""
        config = self.model.config
        if output_type not in ("np", "pt", "latent"):
            raise ValueError(f"output_type must be 'np', 'pt' or 'latent', got {output_type!r}")
        for name, value in (("num_ecgs_per_label", num_ecgs_per_label), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        total_steps = self.scheduler.config.num_train_timesteps
        if (isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, numbers.Integral)
                or not 1 <= num_inference_steps <= total_steps):
            raise ValueError(f"num_inference_steps must be between 1 and {total_steps}, got {num_inference_steps!r}")
        if guidance_scale != 1.0 and not (config.label_embedding and getattr(config, "learn_null_label", False)):
            raise ValueError(
                "guidance_scale != 1 needs a model trained for classifier-free guidance (learn_null_label=True)"
            )
        unknown = [k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]
        if unknown:
            raise ValueError(
                f"callback_on_step_end_tensor_inputs {unknown} are not available; "
                f"choose from {self._callback_tensor_inputs}"
            )
        total = self._number_of_ecgs(labels, num_ecgs, num_ecgs_per_label)
        if isinstance(generator, list) and len(generator) != total:
            raise ValueError(f"Got {len(generator)} generators for {total} ECGs: pass one generator, or one per ECG")
        if latents is not None:
            shape = (total, config.in_channels, config.sample_length)
            if not isinstance(latents, torch.Tensor):
                raise ValueError(f"latents must be a torch.Tensor of shape {shape}, got {type(latents).__name__}")
            if tuple(latents.shape) != shape:
                raise ValueError(
                    f"latents must have shape {shape} (ECGs, generated leads, samples), got {tuple(latents.shape)}"
                )
            if not torch.isfinite(latents).all():
                raise ValueError("latents contain NaN or infinite values")
        return total

    def encode_labels(self, labels: LabelsInput, num_ecgs_per_label: int):
        """``(codes, multi_hot)``: the statement codes of every ECG (each entry of ``labels``
        repeated ``num_ecgs_per_label`` times) and their ``(N, K)`` float multi-hot tensor;
        ``(None, None)`` for an unconditional model."""
        config = self.model.config
        if config.label_embedding is None:
            return None, None
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

    def _latent_dtype(self) -> torch.dtype:
        """float32 for a float16 / bfloat16 network: only the network runs in reduced precision,
        since 200 small DDPM updates accumulated in an 8-bit mantissa would lose the ECG's
        low-amplitude waves."""
        dtype = self.model.dtype
        return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype

    def prepare_latents(self, batch_size: int, dtype, device, generator, latents: Optional[torch.Tensor] = None):
        """The starting noise ``(batch_size, G, L)`` of one chunk: drawn from ``generator`` (one
        generator, or one per ECG), or the given ``latents``; scaled by the scheduler's
        ``init_noise_sigma``."""
        config = self.model.config
        shape = (batch_size, config.in_channels, config.sample_length)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        else:
            if tuple(latents.shape) != shape:
                raise ValueError(f"latents must have shape {shape}, got {tuple(latents.shape)}")
            latents = latents.to(device=device, dtype=dtype)
        return latents * self.scheduler.init_noise_sigma

    def _step_kwargs(self, generator) -> Dict[str, Any]:
        accepted = set(inspect.signature(self.scheduler.step).parameters)
        return {"generator": generator} if "generator" in accepted else {}

    # -- sampling ---------------------------------------------------------------------------
    def predict_noise(self, latents: torch.Tensor, timestep, conditioning: _Conditioning) -> torch.Tensor:
        """The network's noise estimate for ``latents`` ``(n, G, L)`` at ``timestep``.

        With classifier-free guidance the conditional and the null-label rows go through the
        network as one batch of ``2n``: ``eps = eps_null + w (eps_cond - eps_null)``."""
        model_input = self.scheduler.scale_model_input(latents, timestep).to(self.model.dtype)
        if not self.do_classifier_free_guidance:
            return self.model(model_input, timestep, labels=conditioning.labels, sex=conditioning.sex).sample
        n = latents.shape[0]
        sex = None if conditioning.sex is None else torch.cat([conditioning.sex, conditioning.sex])
        drop = torch.cat([torch.zeros(n, dtype=torch.bool), torch.ones(n, dtype=torch.bool)]).to(latents.device)
        eps = self.model(
            torch.cat([model_input, model_input]), timestep, labels=torch.cat([conditioning.labels] * 2), sex=sex,
            drop_labels=drop,
        ).sample
        eps_cond, eps_null = eps.chunk(2)
        return eps_null + self._guidance_scale * (eps_cond - eps_null)

    def _denoising_loop(self, latents, conditioning, generator, progress, callback, tensor_inputs):
        """Run the reverse process over ``scheduler.timesteps``; returns the final latents."""
        step_kwargs = self._step_kwargs(generator)
        for i, t in enumerate(self.scheduler.timesteps):
            noise_pred = self.predict_noise(latents, t, conditioning)
            latents = self.scheduler.step(noise_pred.to(latents.dtype), t, latents, **step_kwargs).prev_sample
            if callback is not None:
                available = {"latents": latents, "noise_pred": noise_pred}
                outputs = callback(self, i, t, {k: available[k] for k in tensor_inputs})
                latents = self._callback_latents(outputs, latents)
            progress.update()
        return latents

    @staticmethod
    def _callback_latents(outputs, latents: torch.Tensor) -> torch.Tensor:
        if not isinstance(outputs, dict):
            raise TypeError(
                "callback_on_step_end must return a dict (its callback_kwargs, possibly changed), "
                f"got {type(outputs).__name__}"
            )
        new = outputs.get("latents", latents)
        if not isinstance(new, torch.Tensor) or new.shape != latents.shape:
            raise ValueError(f"callback_on_step_end returned latents of shape {getattr(new, 'shape', None)}, "
                             f"expected {tuple(latents.shape)}")
        return new.to(device=latents.device, dtype=latents.dtype)

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """``(n, G, L)`` generated leads -> ``(n, 12, L)`` CPU float32 ECGs in mV (the missing limb
        leads derived with Einthoven's and Goldberger's relations)."""
        return derive_twelve_leads(latents.float().cpu(), self.model.config.generated_leads)

    @torch.no_grad()
    def __call__(
        self,
        labels: LabelsInput = None,
        num_ecgs: Optional[int] = None,
        num_ecgs_per_label: int = 1,
        num_inference_steps: Optional[int] = None,
        generator: Union[torch.Generator, List[torch.Generator], None] = None,
        latents: Optional[torch.Tensor] = None,
        sex: Union[str, int, Sequence[Union[str, int]], None] = None,
        guidance_scale: Optional[float] = None,
        batch_size: int = 32,
        output_type: str = "np",
        return_dict: bool = True,
        callback_on_step_end: Optional[Callable[..., Dict[str, torch.Tensor]]] = None,
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
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
            latents: ``(N, G, L)`` starting noise (``G`` generated leads, ``L`` samples) instead
                of noise drawn from ``generator``; with a deterministic scheduler (DDIM with
                ``eta=0``, DPM-Solver++) the same latents give the same ECGs whatever the generator.
            sex: ``"male"``/``"female"`` (or PTB-XL codes 0/1), one value or one per ECG, for
                models built with sex conditioning.
            guidance_scale: classifier-free guidance weight (``!= 1`` needs a model trained with
                ``learn_null_label=True``); 1.0 disables guidance.  Default: the pipeline's
                ``default_guidance_scale``, else 1.0.
            batch_size: ECGs denoised at once (bounds memory; any number of ECGs can be asked).
            output_type: ``"np"`` (float32 NumPy ``(N, 12, L)`` mV), ``"pt"`` (CPU float32
                tensor) or ``"latent"`` (the ``(N, G, L)`` generated leads as sampled, before
                the other leads are derived; ``lead_names`` are then the generated leads).
            callback_on_step_end: diffusers' contract, called after every denoising step of
                every chunk as ``fn(pipe, step_index, timestep, callback_kwargs) -> dict``, with
                ``callback_kwargs`` holding the tensors named in
                ``callback_on_step_end_tensor_inputs``; a ``"latents"`` entry in the returned
                dict replaces the latents.  ``pipe.chunk_index`` says which chunk is running.
                A ``diffusers.callbacks.PipelineCallback`` is accepted too.
            callback_on_step_end_tensor_inputs: names out of ``_callback_tensor_inputs``
                (``"latents"``, ``"noise_pred"``).

        Returns:
            :class:`SSSDECGPipelineOutput` (or a tuple ``(ecgs, lead_names, sampling_rate, labels)``).
        """
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        steps = num_inference_steps if num_inference_steps is not None else self.default_steps
        if guidance_scale is None:
            guidance_scale = self.default_guidance
        total = self.check_inputs(labels, num_ecgs, num_ecgs_per_label, steps, generator, latents, guidance_scale,
                                  batch_size, output_type, callback_on_step_end_tensor_inputs)
        self._guidance_scale = float(guidance_scale)
        self._num_timesteps = int(steps)
        codes, label_tensor = self.encode_labels(labels, num_ecgs_per_label)
        conditioning = _Conditioning(label_tensor, self._sex_tensor(sex, total))

        device = self._execution_device
        latent_dtype = self._latent_dtype()
        outputs = []
        chunks = range(0, total, batch_size)
        # Weight-normed convs recompute g * v / ||v|| on every call unless cached; the S4 layers
        # cache their kernels themselves.
        weight_cache = torch.nn.utils.parametrize.cached()
        with self.progress_bar(total=len(chunks) * steps) as progress, weight_cache:
            for chunk_index, start in enumerate(chunks):
                stop = min(start + batch_size, total)
                self._chunk_index = chunk_index
                chunk_generator = generator[start:stop] if isinstance(generator, list) else generator
                self.scheduler.set_timesteps(steps, device=device)  # also resets multistep solvers' state
                x = self.prepare_latents(stop - start, latent_dtype, device, chunk_generator,
                                         None if latents is None else latents[start:stop])
                x = self._denoising_loop(x, conditioning.rows(start, stop, device, self.model.dtype), chunk_generator,
                                         progress, callback_on_step_end, callback_on_step_end_tensor_inputs)
                outputs.append(x if output_type == "latent" else self.decode_latents(x))
        self.maybe_free_model_hooks()
        return self._output(torch.cat(outputs), codes, total, output_type, return_dict)

    def _output(self, ecgs: torch.Tensor, codes, total: int, output_type: str, return_dict: bool):
        config = self.model.config
        if not torch.isfinite(ecgs).all():
            raise FloatingPointError("Sampling produced NaN or infinite values; check the model weights and dtype")
        result_labels = codes if codes is not None else [None] * total
        lead_names = list(config.generated_leads) if output_type == "latent" else list(STANDARD_LEADS)
        ecgs_out = ecgs.float().numpy() if output_type == "np" else ecgs
        if not return_dict:
            return (ecgs_out, lead_names, config.sampling_rate, result_labels)
        return SSSDECGPipelineOutput(
            ecgs=ecgs_out, lead_names=lead_names, sampling_rate=config.sampling_rate, labels=result_labels
        )

    # -- persistence ------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Union[str, os.PathLike], **kwargs):
        """Load a pipeline folder (or Hub repository) with this package's own classes.

        Saved folders also carry their code for ``DiffusionPipeline.from_pretrained(...,
        trust_remote_code=True)``; loading through this class uses the installed ``sssd_hf``
        instead, so no remote code runs.

        Keyword arguments as in ``DiffusionPipeline.from_pretrained``: ``cache_dir``,
        ``force_download``, ``local_files_only``, ``proxies``, ``revision``, ``token`` (for a
        Hub id); ``torch_dtype`` (a dtype, or a dict with a ``"model"`` or ``"default"`` entry),
        ``variant``, ``use_safetensors``, ``low_cpu_mem_usage`` (for the model weights);
        ``model=`` / ``scheduler=`` replace a component; ``default_num_inference_steps=``,
        ``default_guidance_scale=`` and ``default_sampler=`` override the folder's (read from its
        ``model_index.json``);
        ``trust_remote_code`` is accepted and has no effect.
        """
        from huggingface_hub import snapshot_download

        # Imported by name so that this file stays loadable as stand-alone remote code.
        hub = importlib.import_module("sssd_hf.hub")
        download = {k: kwargs.pop(k) for k in _DOWNLOAD_KWARGS if k in kwargs}
        model_kwargs = {k: kwargs.pop(k) for k in _MODEL_LOAD_KWARGS if k in kwargs}
        torch_dtype = _model_dtype(kwargs.pop("torch_dtype", None))
        for name in _IGNORED_KWARGS:
            kwargs.pop(name, None)
        model, scheduler = kwargs.pop("model", None), kwargs.pop("scheduler", None)
        default_steps = kwargs.pop("default_num_inference_steps", None)
        default_guidance = kwargs.pop("default_guidance_scale", None)
        default_sampler = kwargs.pop("default_sampler", None)
        if kwargs:
            raise TypeError(f"Unexpected arguments: {sorted(kwargs)}")
        path = os.fspath(pretrained_model_name_or_path)
        if not os.path.isdir(path):
            if os.path.exists(path) or path.count("/") > 1 or path.startswith((".", "/", "~")):
                raise FileNotFoundError(f"No pipeline folder at {path}")
            path = snapshot_download(path, **download)
        if not os.path.isfile(os.path.join(path, "model_index.json")):
            raise FileNotFoundError(f"{path} is not a pipeline folder: model_index.json is missing")
        if model is None:
            dtype_kwargs = {} if torch_dtype is None else {"torch_dtype": torch_dtype}
            model = hub.load_component(path, "model", **model_kwargs, **dtype_kwargs)
        elif torch_dtype is not None:
            model = model.to(torch_dtype)
        scheduler = scheduler or hub.load_component(path, "scheduler")
        if default_steps is None:
            default_steps = hub.pipeline_setting(path, "default_num_inference_steps")
        if default_guidance is None:
            default_guidance = hub.pipeline_setting(path, "default_guidance_scale")
        if default_sampler is None:
            default_sampler = hub.pipeline_setting(path, "default_sampler")
        pipe = cls(model=model.eval(), scheduler=scheduler, default_num_inference_steps=default_steps,
                   default_guidance_scale=default_guidance, default_sampler=default_sampler)
        pipe.loaded_from = path  # save_pretrained carries this folder's model card (licence, training data)
        return pipe

    @classmethod
    def from_pipe(cls, pipeline: DiffusionPipeline, **kwargs):
        """A new pipeline sharing ``pipeline``'s components (no copy, no extra memory), with any
        component or config value replaced by ``kwargs`` (e.g. ``scheduler=DDIMScheduler...``).

        diffusers' ``from_pipe`` only shares a model whose class is exactly the ``__init__``
        annotation; the model class here may come from the package or from a folder's remote
        code, so the model is passed on explicitly."""
        kwargs.setdefault("model", pipeline.model)
        return super().from_pipe(pipeline, **kwargs)

    def save_pretrained(self, save_directory: Union[str, os.PathLike], **kwargs):
        """Save weights (safetensors) and configs, plus the model/scheduler/pipeline code and a
        model card, so the folder is a complete Hub repository (see :mod:`sssd_hf.hub`).
        The folder is written under a temporary name and renamed into place."""
        try:
            hub = importlib.import_module("sssd_hf.hub")
        except ModuleNotFoundError:  # running as remote code without sssd_hf: plain diffusers layout
            return super().save_pretrained(save_directory, **kwargs)
        hub.save_pipeline_folder(self, save_directory, **kwargs)


def _check_sampler_name(name) -> None:
    """``ValueError`` unless ``name`` is a sampler of ``sssd_hf``'s registry (any non-empty string when
    this file runs as remote code without ``sssd_hf`` installed)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"default_sampler must be a sampler name or None, got {name!r}")
    try:  # imported by name so that this file stays loadable as stand-alone remote code
        samplers = importlib.import_module("sssd_hf.schedulers.samplers")
    except ImportError:
        return
    samplers.pipeline_sampler(name)


def _is_guidance_scale(value) -> bool:
    """A guidance weight: a finite real number >= 0 (not a bool)."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            and value >= 0)


def _model_dtype(torch_dtype) -> Optional[torch.dtype]:
    """``torch_dtype`` of ``from_pretrained`` as one dtype for the model (diffusers also takes a
    ``{"component": dtype, "default": dtype}`` dict)."""
    if isinstance(torch_dtype, dict):
        torch_dtype = torch_dtype.get("model", torch_dtype.get("default"))
    if torch_dtype is not None and not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"torch_dtype must be a torch.dtype, got {torch_dtype!r}")
    return torch_dtype
