"""Training configuration: a YAML file plus ``--key value`` overrides, checked strictly.

Every field of :class:`TrainConfig` can be set in the YAML file and overridden on the command
line; nested keys of the ``model`` and ``model_card`` mappings use dots::

    accelerate launch training/train_sssd_ecg.py --config training/configs/sssd_ecg_ptbxl.yaml \\
        --dataset data/ptbxl --learning_rate 1.0e-4 --model.num_layers 12

Unknown keys, values of the wrong type and unknown statement codes are refused with an error
that names them.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, get_args, get_origin, get_type_hints

import yaml

MIXED_PRECISION = ("no", "fp16", "bf16")
LR_SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine", "warmup_stable_decay")
CROPS = ("start", "center", "random")
TIMESTEP_BIAS_STRATEGIES = ("none", "later", "earlier")
#: Sampling rate of the data when neither ``sampling_rate`` nor ``model.sampling_rate`` is set.
DEFAULT_SAMPLING_RATE = 100
MODEL_CARD_KEYS = ("intended_use", "training_data", "training", "limitations")


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message names the problem."""


@dataclass
class TrainConfig:
    """All settings of a training run (see ``training/configs/*.yaml`` for commented examples).

    Data:
        dataset: a ``DatasetDict`` folder written by ``save_to_disk`` (features ``signal``
            float32 ``(12, L)`` mV in standard lead order and ``labels``, a sequence of statement
            codes), or a PTB-XL folder (converted with :func:`sssd_hf.data.load_ptbxl`).
        train_split, validation_split: split names (``validation_split: null`` disables validation).
        max_train_samples, max_validation_samples: use only the first N records of a split.
        sampling_rate: Hz of the data (default ``model.sampling_rate``, else 100).  For a PTB-XL
            folder it picks the copy read (100: ``records100/``, 500: ``records500/``; records
            missing at that rate are skipped and listed in the conversion's ``rejected.csv``); for
            a ``DatasetDict`` it is taken as the rate the signals were stored at.  It is recorded
            in the model config (``sampling_rate``) and so in the pipeline's output.
        sample_length: training window in samples (default: the records' full length, e.g.
            1000 at 100 Hz or 5000 at 500 Hz for PTB-XL); 2.5 s at 500 Hz is 1250.  Must not
            exceed the records' length.  The model is built for this length (``s4_max_length``
            defaults to it).
        crop: where the window is cut from a longer record: ``start``, ``center`` or ``random``
            (a fresh offset per record and micro-step, drawn from ``(seed, rank, micro-step)``;
            validation windows use a fixed offset per record).
        num_workers: DataLoader worker processes.
    Model:
        model: keyword arguments of :class:`sssd_hf.SSSDECGModel` (``label_names`` may also be a
            vocabulary name such as ``"all"``; ``sample_length`` defaults to the data's length).
        init_from: a pipeline folder whose model weights start the run (fine-tuning).
        num_train_timesteps, beta_start, beta_end: the DDPM schedule (200, 1e-4, 0.02).
        timestep_bias_strategy, timestep_bias_multiplier, timestep_bias_portion: which diffusion
            steps training draws more often (named as in diffusers' SDXL training script):
            ``none`` draws ``t`` uniformly (the papers); ``later`` multiplies the probability of the
            last ``portion`` of the steps (the noisiest, where a generated ECG's rhythm is decided)
            by ``multiplier``, ``earlier`` that of the first ``portion``.  Validation always uses
            uniform ``t``.
    Optimisation:
        batch_size: ECGs per device and micro-step; the global batch is
            ``batch_size * num_processes * gradient_accumulation_steps``.
        max_steps: optimizer steps; learning_rate, adam_beta1/2, adam_epsilon, weight_decay (AdamW
            when > 0); lr_scheduler (``constant``, ``constant_with_warmup``, ``linear``,
            ``cosine``, ``warmup_stable_decay``) with ``lr_warmup_steps``; ``warmup_stable_decay`` holds
            the peak rate and then decays it linearly to 0 over the last ``lr_decay_steps`` steps
            (a cool-down that can be added to a constant-rate run when it is resumed);
            max_grad_norm (``null``: no clipping); mixed_precision (``no``, ``fp16``, ``bf16``);
            compile (``torch.compile``); gradient_checkpointing.
        ema, ema_decay, ema_warmup, ema_power: exponential moving average of the weights; the
            exported pipeline uses the averaged weights.
        condition_dropout: probability of replacing an ECG's statements by the learned null
            condition (classifier-free guidance; needs ``model.learn_null_label: true``).
    Bookkeeping:
        output_dir, seed, log_every, log_with (``tensorboard``, ``wandb``, ... or ``none``),
        validation_every, checkpoint_every, checkpoints_total_limit, sample_labels (statement
        lists drawn to PNG at every checkpoint), sample_inference_steps, export_dir (default
        ``output_dir/pipeline``), model_card (``intended_use``, ``training_data``, ``training``,
        ``limitations`` paragraphs), record_data_order (write each rank's ECG ids per micro-step).
    """

    # data
    dataset: Optional[str] = None
    train_split: str = "train"
    validation_split: Optional[str] = "validation"
    max_train_samples: Optional[int] = None
    max_validation_samples: Optional[int] = 512
    num_workers: int = 0
    sampling_rate: Optional[int] = None
    sample_length: Optional[int] = None
    crop: str = "start"
    # model and diffusion
    model: Dict[str, Any] = field(default_factory=dict)
    init_from: Optional[str] = None
    num_train_timesteps: int = 200
    beta_start: float = 1e-4
    beta_end: float = 0.02
    timestep_bias_strategy: str = "none"
    timestep_bias_multiplier: float = 1.0
    timestep_bias_portion: float = 0.25
    # optimisation
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_steps: int = 100_000
    learning_rate: float = 2e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    weight_decay: float = 0.0
    lr_scheduler: str = "constant"
    lr_warmup_steps: int = 0
    lr_decay_steps: int = 0
    max_grad_norm: Optional[float] = None
    mixed_precision: str = "no"
    compile: bool = False
    gradient_checkpointing: bool = False
    ema: bool = True
    ema_decay: float = 0.9999
    ema_warmup: bool = True
    ema_power: float = 0.75
    condition_dropout: float = 0.0
    # bookkeeping
    output_dir: str = "runs/sssd-ecg"
    seed: int = 0
    log_every: int = 50
    log_with: str = "tensorboard"
    validation_every: int = 1000
    checkpoint_every: int = 5000
    checkpoints_total_limit: Optional[int] = 3
    sample_labels: Optional[List[List[str]]] = None
    sample_inference_steps: int = 200
    export_dir: Optional[str] = None
    model_card: Dict[str, str] = field(default_factory=dict)
    record_data_order: bool = False

    # -- derived ------------------------------------------------------------------------
    @property
    def pipeline_dir(self) -> str:
        return self.export_dir or os.path.join(self.output_dir, "pipeline")

    @property
    def data_sampling_rate(self) -> int:
        """Hz of the training data: ``sampling_rate``, else ``model.sampling_rate``, else 100."""
        if self.sampling_rate is not None:
            return self.sampling_rate
        return int(self.model.get("sampling_rate") or DEFAULT_SAMPLING_RATE)

    @property
    def checkpoint_dir(self) -> str:
        return os.path.join(self.output_dir, "checkpoints")

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


FIELD_NAMES: Tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig))


def model_defaults() -> Dict[str, Any]:
    """Keyword arguments accepted by :class:`sssd_hf.SSSDECGModel` and their defaults."""
    from ..models.modeling_sssd_ecg import SSSDECGModel

    params = inspect.signature(SSSDECGModel.__init__).parameters
    return {name: p.default for name, p in params.items() if name != "self"}


def _unknown_key_error(key: str, valid: Sequence[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"Unknown {where} key {key!r}.{hint} Valid keys: {', '.join(valid)}")


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against the field's type; numbers given as strings are converted."""
    origin = get_origin(annotation)
    if origin is Union:  # Optional[X]
        if value is None:
            return None
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _coerce(key, value, inner[0])
    if value is None:
        raise ConfigError(f"{key} may not be null")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if annotation in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        try:
            number = float(value) if isinstance(value, str) else value
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {value!r}") from None
        if not isinstance(number, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        if annotation is int:
            if float(number) != int(number):
                raise ConfigError(f"{key} must be an integer, got {value!r}")
            return int(number)
        return float(number)
    if annotation is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return str(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return dict(value)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        return list(value)
    return value


def _parse_override_value(text: str) -> Any:
    """``"64"`` -> 64, ``"[NORM, AFIB]"`` -> list, ``"null"`` -> None; strings stay strings."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_overrides(args: Sequence[str]) -> Dict[str, Any]:
    """``["--learning_rate", "1e-4", "--model.channels=64"]`` ->
    ``{"learning_rate": "1e-4", "model.channels": 64}`` (values parsed as YAML, types checked later)."""
    overrides: Dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise ConfigError(f"Expected an option like --key value, got {arg!r}")
        key = arg[2:]
        if "=" in key:
            key, text = key.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(args):
                raise ConfigError(f"Option --{key} needs a value")
            text = args[i + 1]
            i += 2
        overrides[key.replace("-", "_")] = _parse_override_value(text)
    return overrides


def _apply(raw: Dict[str, Any], key: str, value: Any) -> None:
    top, _, sub = key.partition(".")
    if top not in FIELD_NAMES:
        raise _unknown_key_error(top, FIELD_NAMES, "config")
    if sub:
        if top not in ("model", "model_card"):
            raise ConfigError(f"{top} has no sub-keys (got --{key})")
        nested = dict(raw.get(top) or {})
        nested[sub] = value
        raw[top] = nested
    else:
        raw[top] = value


def build_config(raw: Dict[str, Any]) -> TrainConfig:
    """Validate a mapping of settings into a :class:`TrainConfig`."""
    hints = get_type_hints(TrainConfig)
    values = {}
    for key, value in raw.items():
        if key not in FIELD_NAMES:
            raise _unknown_key_error(key, FIELD_NAMES, "config")
        values[key] = _coerce(key, value, hints[key])
    config = TrainConfig(**values)
    validate_config(config)
    return config


def validate_config(config: TrainConfig) -> None:
    """Raise :class:`ConfigError` for settings that cannot work together."""
    if not config.dataset:
        raise ConfigError("No dataset given: set 'dataset' in the config or pass --dataset PATH")
    defaults = model_defaults()
    for key, value in list(config.model.items()):
        if key not in defaults:
            raise _unknown_key_error(key, tuple(defaults), "model")
        default = defaults[key]
        if isinstance(default, (bool, int, float)) and value is not None:  # "1e-4" from YAML or the CLI
            config.model[key] = _coerce(f"model.{key}", value, type(default))
    for key in config.model_card:
        if key not in MODEL_CARD_KEYS:
            raise _unknown_key_error(key, MODEL_CARD_KEYS, "model_card")
    positive = ("batch_size", "gradient_accumulation_steps", "max_steps", "log_every", "validation_every",
                "checkpoint_every", "sample_inference_steps", "num_train_timesteps")
    for key in positive:
        if getattr(config, key) < 1:
            raise ConfigError(f"{key} must be at least 1, got {getattr(config, key)}")
    if config.checkpoints_total_limit is not None and config.checkpoints_total_limit < 1:
        raise ConfigError(f"checkpoints_total_limit must be at least 1 or null, got {config.checkpoints_total_limit}")
    _validate_length_and_rate(config)
    if config.mixed_precision not in MIXED_PRECISION:
        raise ConfigError(f"mixed_precision must be one of {MIXED_PRECISION}, got {config.mixed_precision!r}")
    if config.lr_scheduler not in LR_SCHEDULERS:
        raise ConfigError(f"lr_scheduler must be one of {LR_SCHEDULERS}, got {config.lr_scheduler!r}")
    _validate_lr_decay(config)
    _validate_timestep_bias(config)
    if not 0.0 <= config.condition_dropout < 1.0:
        raise ConfigError(f"condition_dropout must be in [0, 1), got {config.condition_dropout}")
    if config.condition_dropout > 0 and not config.model.get("learn_null_label", False):
        raise ConfigError("condition_dropout > 0 needs model.learn_null_label: true (the learned null condition)")
    if not 0.0 < config.ema_decay < 1.0:
        raise ConfigError(f"ema_decay must be in (0, 1), got {config.ema_decay}")
    if config.learning_rate <= 0:
        raise ConfigError(f"learning_rate must be positive, got {config.learning_rate}")
    if config.max_grad_norm is not None and config.max_grad_norm <= 0:
        raise ConfigError(f"max_grad_norm must be positive or null, got {config.max_grad_norm}")
    if config.sample_labels is not None:
        if not all(isinstance(row, list) and all(isinstance(c, str) for c in row) for row in config.sample_labels):
            raise ConfigError(
                f"sample_labels must be a list of lists of statement codes, got {config.sample_labels!r}"
            )
    resolve_label_names(config.model)  # unknown statement codes fail here, before any data is read


def _validate_lr_decay(config: TrainConfig) -> None:
    if config.lr_scheduler != "warmup_stable_decay":
        if config.lr_decay_steps:
            raise ConfigError(
                f"lr_decay_steps is only used by lr_scheduler warmup_stable_decay, not {config.lr_scheduler}"
            )
        return
    if not 1 <= config.lr_decay_steps <= config.max_steps - config.lr_warmup_steps:
        raise ConfigError(
            f"lr_decay_steps must be between 1 and max_steps - lr_warmup_steps "
            f"({config.max_steps - config.lr_warmup_steps}), got {config.lr_decay_steps}"
        )


def _validate_timestep_bias(config: TrainConfig) -> None:
    if config.timestep_bias_strategy not in TIMESTEP_BIAS_STRATEGIES:
        raise ConfigError(
            f"timestep_bias_strategy must be one of {TIMESTEP_BIAS_STRATEGIES}, got {config.timestep_bias_strategy!r}"
        )
    if config.timestep_bias_multiplier <= 0:
        raise ConfigError(f"timestep_bias_multiplier must be positive, got {config.timestep_bias_multiplier}")
    if not 0.0 < config.timestep_bias_portion <= 1.0:
        raise ConfigError(f"timestep_bias_portion must be in (0, 1], got {config.timestep_bias_portion}")
    if config.timestep_bias_strategy != "none" and int(config.timestep_bias_portion * config.num_train_timesteps) < 1:
        raise ConfigError(
            f"timestep_bias_portion {config.timestep_bias_portion} of {config.num_train_timesteps} steps "
            "selects no step; raise it"
        )


def _validate_length_and_rate(config: TrainConfig) -> None:
    """``sampling_rate``, ``sample_length`` and ``crop`` against each other and ``config.model``."""
    model_rate = config.model.get("sampling_rate")
    for key, value in (("sampling_rate", config.sampling_rate), ("model.sampling_rate", model_rate)):
        if value is not None and value <= 0:
            raise ConfigError(f"{key} must be a positive number of Hz, got {value}")
    if config.sampling_rate is not None and model_rate is not None and model_rate != config.sampling_rate:
        raise ConfigError(
            f"sampling_rate {config.sampling_rate} Hz differs from model.sampling_rate {model_rate} Hz; set one"
        )
    model_length = config.model.get("sample_length")
    for key, value in (("sample_length", config.sample_length), ("model.sample_length", model_length)):
        if value is not None and value < 2:
            raise ConfigError(f"{key} must be at least 2 samples, got {value}")
    if config.sample_length is not None and model_length is not None and model_length != config.sample_length:
        raise ConfigError(
            f"sample_length {config.sample_length} differs from model.sample_length {model_length}; set one"
        )
    max_length = config.model.get("s4_max_length")
    length, rate = config.sample_length or model_length, config.data_sampling_rate
    if length is not None and max_length is not None and length > max_length:
        raise ConfigError(
            f"sample_length {length} samples ({length / rate:g} s at {rate} Hz) "
            f"exceeds model.s4_max_length {max_length}: the S4 kernels cannot cover it; raise s4_max_length"
        )
    if config.crop not in CROPS:
        raise ConfigError(f"crop must be one of {CROPS}, got {config.crop!r}")


def resolve_label_names(model: Dict[str, Any]) -> Optional[List[str]]:
    """The model's statement vocabulary: a vocabulary name (``"all"``, ``"rhythm"``...), a
    comma-separated string or a list of PTB-XL statement codes; ``None`` for unconditional models.
    Raises :class:`ConfigError` naming unknown codes."""
    from ..vocabulary import get_vocabulary

    if model.get("label_embedding", "nle") is None:
        return None
    names = model.get("label_names")
    if names is None:
        raise ConfigError("model.label_names is required for a conditional model (a list of statement codes or 'all')")
    try:
        return list(get_vocabulary(names))
    except ValueError as exc:
        raise ConfigError(f"model.label_names: {exc}") from None


def load_config(path: Optional[str], overrides: Sequence[str] | Dict[str, Any] = ()) -> TrainConfig:
    """Read the YAML file at ``path`` (``None``: defaults only) and apply ``overrides``
    (``["--key", "value", ...]`` or a mapping with dotted keys)."""
    raw: Dict[str, Any] = {}
    if path is not None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Config file not found: {path}")
        with open(path, encoding="utf-8") as f:
            try:
                loaded = yaml.safe_load(f)
            except yaml.YAMLError as exc:
                raise ConfigError(f"Config file {path} is not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"Config file {path} must hold a mapping of settings, got {type(loaded).__name__}")
        for key, value in loaded.items():
            _apply(raw, str(key), value)
    items = overrides.items() if isinstance(overrides, dict) else parse_overrides(list(overrides)).items()
    for key, value in items:
        _apply(raw, key, value)
    return build_config(raw)
