"""Checkpoints of a training run: written atomically, the last K kept, resumed exactly.

Layout of ``output_dir/checkpoints``::

    checkpoint-1000/     accelerator.save_state output (model, optimizer, RNG states of every
                         process, custom_checkpoint_*.pkl: LR scheduler, EMA, TrainingState)
                         + training_state.json and config.yaml (human-readable copies)
    checkpoint-2000/
    checkpoint-3000.tmp/ a checkpoint being written (or left by a killed run; ignored, replaced)

A checkpoint is written under ``checkpoint-N.tmp`` and renamed to ``checkpoint-N`` only once every
process has finished writing, so a folder named ``checkpoint-N`` is always complete.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

logger = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
STATE_FILE = "training_state.json"
CONFIG_FILE = "config.yaml"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed from; the message names it and says what to do."""


@dataclass
class TrainingState:
    """What besides weights and optimizer a resumed run needs, registered with
    ``accelerator.register_for_checkpointing``.

    Attributes:
        step: optimizer steps completed.
        micro_step: micro-batches consumed (``step * gradient_accumulation_steps``); with ``seed``
            it fixes the data order and the per-step noise (see :mod:`sssd_hf.training.data`).
        seed, num_processes, batch_size, gradient_accumulation_steps: the layout the data order
            depends on; a resumed run with another layout is refused.
        samples_seen: ECGs consumed by all processes.
        model_config: the model config, compared on resume.
    """

    step: int = 0
    micro_step: int = 0
    seed: int = 0
    num_processes: int = 1
    batch_size: int = 1
    gradient_accumulation_steps: int = 1
    samples_seen: int = 0
    model_config: Dict[str, Any] = field(default_factory=dict)

    def state_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        for key, value in state.items():
            if hasattr(self, key):
                setattr(self, key, value)


def list_checkpoints(checkpoint_dir: str) -> List[str]:
    """Complete checkpoint folders, oldest first (``checkpoint-N`` sorted by ``N``)."""
    if not os.path.isdir(checkpoint_dir):
        return []
    found = [(int(m.group(1)), name) for name in os.listdir(checkpoint_dir) if (m := _CHECKPOINT.match(name))]
    return [os.path.join(checkpoint_dir, name) for _, name in sorted(found)]


def checkpoint_step(path: str) -> int:
    match = _CHECKPOINT.match(os.path.basename(os.path.normpath(path)))
    if not match:
        raise CheckpointError(f"{path} is not a checkpoint folder (expected a name like checkpoint-1000)")
    return int(match.group(1))


def resolve_resume(resume: Optional[str], checkpoint_dir: str) -> Optional[str]:
    """``None`` -> ``None``; ``"latest"`` -> the newest complete checkpoint (``None`` when there is
    none yet, so the same command starts and continues a run); otherwise the given folder."""
    if not resume:
        return None
    if resume == "latest":
        found = list_checkpoints(checkpoint_dir)
        return found[-1] if found else None
    if not os.path.isdir(resume):
        raise CheckpointError(f"Checkpoint folder not found: {resume}")
    checkpoint_step(resume)
    return resume


def read_training_state(path: str) -> Dict[str, Any]:
    """The ``training_state.json`` of a checkpoint; :class:`CheckpointError` if missing or corrupt."""
    state_path = os.path.join(path, STATE_FILE)
    try:
        with open(state_path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"Checkpoint {path} is incomplete: {STATE_FILE} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"Checkpoint {path} is corrupt: {STATE_FILE} is not valid JSON ({exc})") from None


def check_compatible(saved: Dict[str, Any], current: TrainingState, path: str) -> None:
    """Refuse to resume when the model or the data layout differ from the checkpoint's."""
    for key in ("seed", "num_processes", "batch_size", "gradient_accumulation_steps"):
        if saved.get(key) != getattr(current, key):
            raise CheckpointError(
                f"Checkpoint {path} was written with {key}={saved.get(key)}, this run has {getattr(current, key)}; "
                "an exact resume needs the same value (pass it as an override)"
            )
    mismatched = sorted(
        k for k in set(saved.get("model_config", {})) | set(current.model_config)
        if not k.startswith("_") and saved.get("model_config", {}).get(k) != current.model_config.get(k)
    )
    if mismatched:
        raise CheckpointError(f"Checkpoint {path} holds a different model: config differs in {mismatched}")


def load_checkpoint(accelerator, path: str, state: TrainingState) -> None:
    """``accelerator.load_state(path)`` with checks; every failure becomes a :class:`CheckpointError`
    naming the checkpoint."""
    saved = read_training_state(path)
    check_compatible(saved, state, path)
    try:
        accelerator.load_state(path)
    except Exception as exc:  # safetensors, pickle and shape errors all mean an unusable checkpoint
        older = [p for p in list_checkpoints(os.path.dirname(path)) if checkpoint_step(p) < checkpoint_step(path)]
        hint = f" Resume from an earlier one with --resume {older[-1]}" if older else " Start afresh without --resume"
        raise CheckpointError(
            f"Checkpoint {path} is corrupt or incomplete ({type(exc).__name__}: {exc}).{hint}."
        ) from exc
    if state.step != saved.get("step"):
        raise CheckpointError(
            f"Checkpoint {path}: restored step {state.step} disagrees with {STATE_FILE} ({saved.get('step')})"
        )


def save_checkpoint(
    accelerator, checkpoint_dir: str, state: TrainingState, config_yaml: str, keep: Optional[int], fault=None
) -> str:
    """Write ``checkpoint-<step>`` atomically (all processes call this) and keep the newest ``keep``.

    ``fault`` is called between writing and renaming (crash-recovery tests)."""
    final = os.path.join(checkpoint_dir, f"checkpoint-{state.step}")
    tmp = final + ".tmp"
    if accelerator.is_main_process:
        os.makedirs(checkpoint_dir, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)  # left by a killed run
    accelerator.wait_for_everyone()
    accelerator.save_state(tmp)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _write_json(os.path.join(tmp, STATE_FILE), state.state_dict())
        with open(os.path.join(tmp, CONFIG_FILE), "w", encoding="utf-8") as f:
            f.write(config_yaml)
        if fault is not None:
            fault()
        if os.path.exists(final):  # re-reached after resuming from an older checkpoint
            shutil.rmtree(final)
        os.replace(tmp, final)
        _prune(checkpoint_dir, keep)
    accelerator.wait_for_everyone()
    return final


def _write_json(path: str, data: Dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _prune(checkpoint_dir: str, keep: Optional[int]) -> None:
    if keep is None:
        return
    for old in list_checkpoints(checkpoint_dir)[:-keep]:
        logger.info("removing old checkpoint %s", old)
        shutil.rmtree(old, ignore_errors=True)
