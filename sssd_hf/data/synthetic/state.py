"""The build state in ``OUT/.build``: paths, ``build.json``, fingerprints and provenance digests."""

from __future__ import annotations

import datetime
import glob
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

from ...leads import STANDARD_LEADS
from ...utils import atomic_write_text
from ..ptbxl_layout import database_path

BUILD_DIR = ".build"
DATA_DIR = "data"
WFDB_DIR = "wfdb"
#: Bump when the build layout changes, so that old unfinished builds are not resumed.
BUILD_FORMAT_VERSION = 1



def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_digest(pipe) -> str:
    """sha256 of the model's config and every parameter/buffer: identifies the weights."""
    import torch

    digest = hashlib.sha256(json.dumps(dict(pipe.model.config), sort_keys=True, default=str).encode())
    for name, tensor in pipe.model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def _weight_files(model: str) -> List[Dict[str, str]]:
    """``[{name, sha256}]`` of the weight files in a local model folder (empty for Hub ids)."""
    if not os.path.isdir(model):
        return []
    files = sorted(glob.glob(os.path.join(model, "**", "*.safetensors"), recursive=True)
                   + glob.glob(os.path.join(model, "**", "*.bin"), recursive=True))
    return [{"name": os.path.relpath(f, model), "sha256": _sha256_file(f)} for f in files]


@dataclass
class _Paths:
    out: str

    @property
    def build(self) -> str:
        return os.path.join(self.out, BUILD_DIR)

    @property
    def state(self) -> str:
        return os.path.join(self.build, "build.json")

    def chunk(self, index: int) -> str:
        return os.path.join(self.build, "chunks", f"chunk-{index:06d}.parquet")

    def shard(self, split: str, index: int, count: int) -> str:
        return os.path.join(self.out, DATA_DIR, f"{split}-{index:05d}-of-{count:05d}.parquet")


def _read_state(paths: _Paths) -> Optional[dict]:
    if not os.path.isfile(paths.state):
        return None
    with open(paths.state, encoding="utf-8") as f:
        return json.load(f)


def _check_out_folder(paths: _Paths, fingerprint: str, settings: Mapping) -> Optional[dict]:
    """The existing build state of ``OUT`` if it is this build; ``ValueError`` otherwise."""
    state = _read_state(paths)
    if state is None:
        if os.path.isdir(paths.out) and os.listdir(paths.out):
            raise ValueError(f"{paths.out} exists, is not empty and holds no build-dataset state; choose a new --out")
        return None
    if state.get("fingerprint") != fingerprint:
        old = state.get("settings", {})
        changed = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        raise ValueError(
            f"{paths.out} holds a build with different settings (changed: {', '.join(changed) or 'plan'}); "
            "choose a new --out, or delete the folder to start over"
        )
    return state


def _new_state(model, pipe, like, settings, fingerprint, stats, num_records) -> Dict:
    """The ``build.json`` of a new build: settings plus the provenance the card reports."""
    from ... import __version__

    config = pipe.model.config
    local = isinstance(model, (str, os.PathLike)) and os.path.isdir(model)
    if isinstance(model, (str, os.PathLike)):  # a Hub id as given; a local folder by name only (no private paths)
        name = os.path.basename(os.path.abspath(model)) if local else os.fspath(model)
    else:
        name = f"in-memory {type(pipe).__name__}"
    return {
        "fingerprint": fingerprint,
        "settings": settings,
        "complete": False,
        "model": name,
        "model_digest": settings["model_digest"],
        "weights": _weight_files(os.fspath(model)) if local else [],
        "pipeline_class": type(pipe).__name__,
        "sssd_hf_version": __version__,
        "label_names": list(config.label_names),
        "label_embedding": str(getattr(config, "label_embedding", None)),
        "generated_leads": list(getattr(config, "generated_leads", STANDARD_LEADS)),
        "sampling_rate": int(config.sampling_rate),
        "sample_length": int(config.sample_length),
        "source_file": os.path.basename(database_path(like)),
        "source_rows": stats["source_rows"],
        "skipped_unlabeled": stats["skipped_unlabeled"],
        "num_records": num_records,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _write_state(paths: _Paths, state: Mapping) -> None:
    atomic_write_text(paths.state, json.dumps(state, indent=1, default=str))
