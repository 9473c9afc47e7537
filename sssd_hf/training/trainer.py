"""The training loop of ``training/train_sssd_ecg.py`` (accelerate: 1 CPU/GPU, DDP, multi-node).

One optimizer step = ``gradient_accumulation_steps`` micro-steps on every process.  For each
micro-step the batch (see :mod:`sssd_hf.training.data`), the diffusion steps ``t``, the noise and
the condition-dropout mask are functions of ``(seed, rank, micro_step)`` only: a run resumed
from a checkpoint repeats exactly what the uninterrupted run would have done, and ends with
bit-identical weights on the same hardware and software.

Objective (Ho et al. 2020, as in SSSD-ECG): ``t ~ U{0..T-1}``, ``eps ~ N(0, I)``,
``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``, loss ``= mean (eps_theta(x_t, t, labels) - eps)^2``
over the generated leads ``x_0`` (``(B, G, L)`` millivolts, no normalisation).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from ..models.modeling_sssd_ecg import SSSDECGModel
from .checkpoints import TrainingState, load_checkpoint, resolve_resume, save_checkpoint
from .config import ConfigError, TrainConfig, resolve_label_names
from .data import ECGSplit, ShardedEpochOrder, load_ecg_dataset, micro_batch_loader
from .export import averaged_model, export_pipeline, launch_command, make_scheduler, training_card_text
from .lr_schedules import make_lr_scheduler
from .monitor import MetricsLog, ThroughputMeter, peak_memory_mb

logger = logging.getLogger(__name__)

#: Crash-recovery tests set this to ``kill_after_step:N`` (SIGKILL right after optimizer step N)
#: or ``kill_in_checkpoint:N`` (SIGKILL while checkpoint N is being written, before its rename).
FAULT_ENV = "SSSD_HF_TRAIN_FAULT"
#: Model settings a fine-tune (``init_from``) may switch on although the folder's model has them off: their
#: new layers start as the identity, so the fine-tune starts from the folder's function.
INIT_FROM_EXTENSIONS = ("global_context",)


def _fault(kind: str, step: int) -> None:
    spec = os.environ.get(FAULT_ENV, "")
    if spec == f"{kind}:{step}":
        logger.warning("%s=%s: killing this process", FAULT_ENV, spec)
        os.kill(os.getpid(), signal.SIGKILL)


def step_generator(seed: int, rank: int, micro_step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator determined by ``(seed, rank, micro_step, stream)`` alone."""
    words = np.random.SeedSequence([seed, rank, micro_step, stream]).generate_state(2)
    return torch.Generator().manual_seed(int(words[0]) << 32 | int(words[1]))


def build_model(config: TrainConfig, sample_length: int, sampling_rate: Optional[int] = None) -> SSSDECGModel:
    """The model described by ``config.model`` (or loaded from ``config.init_from``) for training
    windows of ``sample_length`` samples at ``sampling_rate`` Hz (default ``config.data_sampling_rate``)."""
    rate = config.data_sampling_rate if sampling_rate is None else sampling_rate
    kwargs = dict(config.model)
    if kwargs.get("label_embedding", "nle") is not None:
        kwargs["label_names"] = resolve_label_names(kwargs)
    if config.init_from:
        model = SSSDECGModel.from_pretrained(config.init_from, subfolder="model")
        conflicting = {
            k: v for k, v in kwargs.items() if json.loads(json.dumps(model.config.get(k))) != json.loads(json.dumps(v))
        }
        extensions = {k: True for k in INIT_FROM_EXTENSIONS if conflicting.get(k) is True and not model.config.get(k)}
        for k in extensions:
            del conflicting[k]
        if conflicting:
            raise ConfigError(
                f"init_from {config.init_from} has a model that differs from the config in {sorted(conflicting)}"
            )
        if extensions:
            model = _extended_model(model, extensions)
        if model.config.sampling_rate != rate:
            raise ConfigError(
                f"init_from {config.init_from} has a {model.config.sampling_rate} Hz model; the data is {rate} Hz"
            )
    else:
        kwargs.setdefault("sample_length", sample_length)
        kwargs.setdefault("s4_max_length", kwargs["sample_length"])
        kwargs["sampling_rate"] = rate
        if "generated_leads" in kwargs:
            kwargs.setdefault("in_channels", len(kwargs["generated_leads"]))
        try:
            model = SSSDECGModel(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Invalid model settings: {exc}") from None
    if model.config.sample_length != sample_length:
        raise ConfigError(
            f"model.sample_length {model.config.sample_length} differs from the training windows' "
            f"{sample_length} samples"
        )
    return model


def _extended_model(model: SSSDECGModel, extensions: Dict[str, bool]) -> SSSDECGModel:
    """``model`` rebuilt with ``extensions`` switched on and every weight of ``model`` carried over; only the
    extensions' own (identity-initialised) layers are new."""
    settings = {k: v for k, v in model.config.items() if not k.startswith("_")}  # not diffusers' bookkeeping:
    extended = SSSDECGModel.from_config({**settings, **extensions})  # its _use_default_values would undo these
    missing, unexpected = extended.load_state_dict(model.state_dict(), strict=False)
    stray = [k for k in missing if not any(f".{name}." in k for name in extensions)]
    if unexpected or stray:
        raise ConfigError(f"cannot extend the init_from model with {sorted(extensions)}: "
                          f"unexpected {sorted(unexpected)[:3]}, missing {sorted(stray)[:3]}")
    return extended


def training_window(config: TrainConfig, record_length: int) -> int:
    """Samples per training ECG: ``config.sample_length`` (or ``model.sample_length``), else the
    records' length; refused when longer than the records."""
    window = config.sample_length or config.model.get("sample_length") or record_length
    if window > record_length:
        rate = config.data_sampling_rate
        raise ConfigError(
            f"sample_length {window} samples ({window / rate:g} s at {rate} Hz) is longer than the dataset's records "
            f"({record_length} samples = {record_length / rate:g} s); use at most {record_length}"
        )
    return window


def timestep_weights(num_train_timesteps: int, strategy: str = "none", multiplier: float = 1.0,
                     portion: float = 0.25) -> Optional[torch.Tensor]:
    """Relative probabilities ``(T,)`` of the diffusion steps under a timestep bias, or ``None``
    for uniform steps (``strategy="none"``).  ``later``: the last ``int(portion * T)`` steps (the
    noisiest) get weight ``multiplier``, the rest 1; ``earlier``: the first ``int(portion * T)``."""
    if strategy == "none":
        return None
    if strategy not in ("later", "earlier"):
        raise ValueError(f"unknown timestep bias strategy {strategy!r}")
    count = int(portion * num_train_timesteps)
    weights = torch.ones(num_train_timesteps, dtype=torch.float64)
    biased = slice(num_train_timesteps - count, None) if strategy == "later" else slice(0, count)
    weights[biased] = multiplier
    return weights


def draw_diffusion_inputs(shape, num_train_timesteps: int, generator: torch.Generator, condition_dropout: float = 0.0,
                          weights: Optional[torch.Tensor] = None):
    """Diffusion steps ``t`` ``(B,)``, noise ``eps`` ``shape`` and the condition-dropout mask ``(B,)``
    for a batch of ``shape = (B, G, L)``, drawn on the CPU from ``generator`` (device-independent).
    ``t`` is uniform on ``0..T-1``, or drawn with probabilities proportional to ``weights`` ``(T,)``
    (:func:`timestep_weights`)."""
    n = shape[0]
    if weights is None:
        t = torch.randint(0, num_train_timesteps, (n,), generator=generator)
    else:
        t = torch.multinomial(weights, n, replacement=True, generator=generator)
    noise = torch.randn(shape, generator=generator)
    drop = torch.rand(n, generator=generator) < condition_dropout
    return t, noise, drop


def epsilon_mse(model, batch: Dict[str, torch.Tensor], scheduler, t, noise, drop, device) -> torch.Tensor:
    """Per-ECG epsilon-prediction MSE ``(B,)`` (float32) of ``model`` on ``batch`` noised to steps ``t``.

    ``drop`` (``(B,)`` bool or ``None``) replaces those ECGs' statements by the null condition."""
    x0 = batch["signal"].to(device)
    t, noise = t.to(device), noise.to(device)
    labels = batch.get("labels")
    kwargs = {"labels": labels.to(device) if labels is not None else None}
    if "sex" in batch:
        kwargs["sex"] = batch["sex"].to(device)
    if drop is not None:
        kwargs["drop_labels"] = drop.to(device)
    pred = model(scheduler.add_noise(x0, noise, t), t, **kwargs).sample
    return (pred.float() - noise.float()).pow(2).mean(dim=(1, 2))


class Trainer:
    """Holds the state of one run; :meth:`train` runs it to ``config.max_steps`` and exports."""

    def __init__(self, config: TrainConfig, resume: Optional[str] = None, argv: Optional[List[str]] = None):
        from accelerate import Accelerator, DistributedDataParallelKwargs
        from accelerate.utils import ProjectConfiguration, set_seed

        self.config = config
        self.command = launch_command(argv)
        wanted = [name for name in (config.train_split, config.validation_split) if name]
        # bad paths fail before any process group starts; a PTB-XL folder converts only these splits
        dataset = load_ecg_dataset(config.dataset, config.data_sampling_rate, wanted)
        # The last residual block's residual projection feeds nothing (only its skip output is
        # used), and the null condition is unused without condition dropout: DDP must allow that.
        handlers = [DistributedDataParallelKwargs(find_unused_parameters=True)]
        self.accelerator = Accelerator(
            mixed_precision=config.mixed_precision,
            log_with=None if config.log_with == "none" else config.log_with,
            project_config=ProjectConfiguration(
                project_dir=config.output_dir, logging_dir=os.path.join(config.output_dir, "logs")
            ),
            kwargs_handlers=handlers,
        )
        acc = self.accelerator
        set_seed(config.seed)  # identical initial weights on every process
        self.rank, self.world = acc.process_index, acc.num_processes

        for name in filter(None, (config.train_split, config.validation_split)):
            if name not in dataset:
                raise ConfigError(f"Split {name!r} is not in the dataset {config.dataset} (splits: {list(dataset)})")
        train_split = dataset[config.train_split]
        sample_length = training_window(config, int(train_split.features["signal"].shape[1]))
        self.model = build_model(config, sample_length)
        mcfg = self.model.config
        use_sex = mcfg.num_sex_classes > 0
        label_names = mcfg.label_names if mcfg.label_embedding is not None else None
        window = dict(window=sample_length, crop=config.crop)
        self.train_data = ECGSplit(
            train_split, mcfg.generated_leads, label_names, use_sex, config.max_train_samples,
            name=config.train_split, **window,
        )
        self.val_data = (
            ECGSplit(dataset[config.validation_split], mcfg.generated_leads, label_names, use_sex,
                     config.max_validation_samples, name=config.validation_split, **window)
            if config.validation_split else None
        )
        self.order = ShardedEpochOrder(len(self.train_data), config.batch_size, self.world, self.rank, config.seed)
        self.scheduler = make_scheduler(config)
        self.timestep_weights = timestep_weights(
            config.num_train_timesteps, config.timestep_bias_strategy, config.timestep_bias_multiplier,
            config.timestep_bias_portion,
        )

        if config.gradient_checkpointing:
            self.model.enable_gradient_checkpointing()
        optimizer_cls = torch.optim.AdamW if config.weight_decay > 0 else torch.optim.Adam
        optimizer = optimizer_cls(
            self.model.parameters(), lr=config.learning_rate, betas=(config.adam_beta1, config.adam_beta2),
            eps=config.adam_epsilon, weight_decay=config.weight_decay,
        )
        # Not passed to accelerator.prepare: accelerate would step it once per process.
        self.lr_scheduler = make_lr_scheduler(config, optimizer)
        self.ema = None
        if config.ema:
            from diffusers.training_utils import EMAModel

            self.ema = EMAModel(
                self.model.parameters(),
                decay=config.ema_decay,
                use_ema_warmup=config.ema_warmup,
                power=config.ema_power,
            )
        network = torch.compile(self.model) if config.compile else self.model
        self.network, self.optimizer = acc.prepare(network, optimizer)
        if self.ema is not None:
            self.ema.to(acc.device)
        self.state = TrainingState(
            seed=config.seed, num_processes=self.world, batch_size=config.batch_size,
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            model_config=json.loads(json.dumps(dict(mcfg))),
        )
        acc.register_for_checkpointing(self.lr_scheduler)
        if self.ema is not None:
            acc.register_for_checkpointing(self.ema)
        acc.register_for_checkpointing(self.state)
        self.resumed_from = resolve_resume(resume, config.checkpoint_dir)
        if self.resumed_from:
            load_checkpoint(acc, self.resumed_from, self.state)
            logger.info("resumed from %s at step %d", self.resumed_from, self.state.step)
        self.metrics = MetricsLog(os.path.join(config.output_dir, "metrics.jsonl") if acc.is_main_process else None)
        self.global_batch = config.batch_size * self.world * config.gradient_accumulation_steps

    # -- one optimizer step -----------------------------------------------------------------
    def _train_step(self, batches) -> Dict[str, float]:
        acc, config = self.accelerator, self.config
        self.network.train()
        total = 0.0
        for j in range(config.gradient_accumulation_steps):
            batch = next(batches)
            micro_step = int(batch["micro_step"])
            if micro_step != self.state.micro_step + j:
                raise RuntimeError(
                    f"data order broken: expected micro-step {self.state.micro_step + j}, got {micro_step}"
                )
            self._record_order(micro_step, batch)
            torch.manual_seed(
                int(np.random.SeedSequence([config.seed, self.rank, micro_step, 1]).generate_state(1)[0])
            )
            generator = step_generator(config.seed, self.rank, micro_step)
            last = j == config.gradient_accumulation_steps - 1
            t, noise, drop = draw_diffusion_inputs(
                batch["signal"].shape, config.num_train_timesteps, generator, config.condition_dropout,
                self.timestep_weights,
            )
            drop = drop if config.condition_dropout > 0 else None
            with contextlib.nullcontext() if last else acc.no_sync(self.network):
                loss = epsilon_mse(self.network, batch, self.scheduler, t, noise, drop, acc.device).mean()
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"Loss is {loss.item()} at step {self.state.step}; "
                        "lower learning_rate or use bf16/no mixed precision"
                    )
                acc.backward(loss / config.gradient_accumulation_steps)
            total += loss.detach().float().item() / config.gradient_accumulation_steps
        out = {"loss": total}
        if config.max_grad_norm is not None:
            out["grad_norm"] = float(acc.clip_grad_norm_(self.network.parameters(), config.max_grad_norm))
        self.optimizer.step()
        if not getattr(self.optimizer, "step_was_skipped", False):
            self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.step(self.model.parameters())
        self.state.step += 1
        self.state.micro_step += config.gradient_accumulation_steps
        self.state.samples_seen += self.global_batch
        return out

    def _record_order(self, micro_step: int, batch) -> None:
        if not self.config.record_data_order:
            return
        path = os.path.join(self.config.output_dir, "data_order", f"rank-{self.rank}.jsonl")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        epoch, index = self.order.position(micro_step)
        with open(path, "a", encoding="utf-8") as f:
            f.write(
                json.dumps(
                    {"micro_step": micro_step, "epoch": epoch, "batch": index, "ecg_ids": batch["ecg_id"].tolist()}
                )
                + "\n"
            )

    # -- validation, samples, checkpoints ----------------------------------------------------------
    @contextlib.contextmanager
    def _averaged_weights(self):
        """Temporarily put the EMA weights into the model."""
        if self.ema is None:
            yield
            return
        self.ema.store(self.model.parameters())
        self.ema.copy_to(self.model.parameters())
        try:
            yield
        finally:
            self.ema.restore(self.model.parameters())

    @torch.no_grad()
    def validation_loss(self) -> float:
        """Mean epsilon MSE over the validation records with the (EMA) weights; the noise and ``t``
        of record ``i`` are fixed by ``(seed, i)``, so values are comparable between evaluations
        and independent of the number of processes."""
        acc, config = self.accelerator, self.config
        indices = list(range(self.rank, len(self.val_data), self.world))
        sums = torch.zeros(2, device=acc.device, dtype=torch.float64)
        self.model.eval()
        with self._averaged_weights(), acc.autocast():
            for start in range(0, len(indices), config.batch_size):
                chunk = indices[start : start + config.batch_size]
                batch = self.val_data.batch(chunk, starts=self.val_data.fixed_starts(chunk, config.seed))
                shape = (1, *batch["signal"].shape[1:])
                drawn = [
                    draw_diffusion_inputs(
                        shape, config.num_train_timesteps, step_generator(config.seed, 0, i, stream=2)
                    )
                    for i in chunk
                ]
                t = torch.cat([d[0] for d in drawn])
                noise = torch.cat([d[1] for d in drawn])
                losses = epsilon_mse(self.model, batch, self.scheduler, t, noise, None, acc.device)
                sums += torch.stack(
                    [losses.double().sum(), torch.tensor(float(len(chunk)), device=acc.device, dtype=torch.float64)]
                )
        sums = acc.reduce(sums, reduction="sum")
        return float(sums[0] / sums[1])

    def save_samples(self) -> List[str]:
        """PNG of a few generated ECGs with the (EMA) weights (main process)."""
        from ..pipelines.pipeline_sssd_ecg import SSSDECGPipeline
        from .samples import default_sample_labels, render_samples

        model = averaged_model(self.model, self.ema).to(self.accelerator.device)
        pipeline = SSSDECGPipeline(model=model, scheduler=make_scheduler(self.config))
        pipeline.set_progress_bar_config(disable=True)
        labels = self.config.sample_labels or default_sample_labels(
            model.config.label_names if model.config.label_embedding else None
        )
        out_dir = os.path.join(self.config.output_dir, "samples", f"step-{self.state.step}")
        return render_samples(pipeline, labels, out_dir, self.config.sample_inference_steps, self.config.seed)

    def save_checkpoint(self) -> str:
        path = save_checkpoint(
            self.accelerator, self.config.checkpoint_dir, self.state, self.config.to_yaml(),
            self.config.checkpoints_total_limit, fault=lambda: _fault("kill_in_checkpoint", self.state.step),
        )
        if self.accelerator.is_main_process:
            self.save_samples()
        self.accelerator.wait_for_everyone()
        return path

    # -- the run -------------------------------------------------------------------------------
    def _log(self, metrics: Dict[str, Any]) -> None:
        self.accelerator.log(metrics, step=self.state.step)
        self.metrics.write(self.state.step, metrics)
        if self.accelerator.is_main_process:
            shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
            logger.info("step %d/%d: %s", self.state.step, self.config.max_steps, shown)

    def _tracker_config(self) -> Dict[str, Any]:
        flat = {}
        for key, value in self.config.to_dict().items():
            items = value.items() if isinstance(value, dict) else [(None, value)]
            for sub, v in items:
                name = f"{key}.{sub}" if sub else key
                flat[name] = v if isinstance(v, (int, float, str, bool)) else str(v)
        return flat

    def train(self) -> str:
        """Train to ``max_steps`` (checkpointing, validating, logging) and export the pipeline;
        returns the pipeline folder."""
        acc, config, state = self.accelerator, self.config, self.state
        if config.log_with != "none":
            acc.init_trackers("sssd-ecg", config=self._tracker_config())
        if acc.is_main_process:
            os.makedirs(config.output_dir, exist_ok=True)
            n_params = sum(p.numel() for p in self.model.parameters())
            logger.info(
                "training %d parameters on %d records (%d batches per epoch), %d process(es), "
                "global batch %d, from step %d",
                n_params,
                len(self.train_data),
                self.order.batches_per_epoch,
                self.world,
                self.global_batch,
                state.step,
            )
        stop = config.max_steps * config.gradient_accumulation_steps
        batches = iter(micro_batch_loader(self.train_data, self.order, state.micro_step, stop, config.num_workers))
        meter = ThroughputMeter()
        while state.step < config.max_steps:
            out = self._train_step(batches)
            meter.add(self.global_batch)
            _fault("kill_after_step", state.step)
            if state.step % config.log_every == 0 or state.step == config.max_steps:
                epoch, _ = self.order.position(state.micro_step)
                self._log(
                    {
                        **out,
                        "lr": self.lr_scheduler.get_last_lr()[0],
                        "epoch": epoch,
                        **meter.rate(),
                        **peak_memory_mb(acc.device),
                    }
                )
            if self.val_data is not None and (
                state.step % config.validation_every == 0 or state.step == config.max_steps
            ):
                self._log({"validation_loss": self.validation_loss()})
                meter.rate()  # validation time is not training throughput
            if state.step % config.checkpoint_every == 0 or state.step == config.max_steps:
                self.save_checkpoint()
                meter.rate()
        pipeline_dir = config.pipeline_dir
        if acc.is_main_process:
            card = training_card_text(config, state.step, state.samples_seen, self.command)
            export_pipeline(self.model, self.ema, config, pipeline_dir, card)
            logger.info("saved pipeline (EMA weights: %s) to %s", self.ema is not None, pipeline_dir)
        acc.wait_for_everyone()
        acc.end_training()
        return pipeline_dir


def run_training(config: TrainConfig, resume: Optional[str] = None, argv: Optional[List[str]] = None) -> str:
    """Train and export; returns the pipeline folder."""
    return Trainer(config, resume=resume, argv=argv).train()
