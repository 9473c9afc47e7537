"""Saving and loading pipeline folders that are complete Hugging Face Hub repositories.

A saved folder holds::

    model_index.json                 components, pointing at the code files below
    pipeline_sssd_ecg.py, leads.py   pipeline code (remote code for trust_remote_code=True)
    model/config.json, model/diffusion_pytorch_model.safetensors, model/modeling_sssd_ecg.py, model/s4.py
    scheduler/scheduler_config.json, scheduler/scheduling_sssd_ecg.py
    README.md                        model card (YAML metadata, usage, limitations)

so that ``DiffusionPipeline.from_pretrained(folder, trust_remote_code=True)`` works where
``sssd_hf`` is not installed, while ``SSSDECGPipeline.from_pretrained(folder)`` uses the
installed package's classes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from typing import Any, Dict, Optional

from diffusers import DiffusionPipeline

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

#: (destination inside the folder, source inside the package, rewrite "from ..x" to "from .x")
REMOTE_CODE_FILES = (
    ("pipeline_sssd_ecg.py", "pipelines/pipeline_sssd_ecg.py", True),
    ("leads.py", "leads.py", False),
    ("model/modeling_sssd_ecg.py", "models/modeling_sssd_ecg.py", False),
    ("model/s4.py", "models/s4.py", False),
    ("scheduler/scheduling_sssd_ecg.py", "schedulers/scheduling_sssd_ecg.py", False),
)

_OWN_COMPONENTS = {
    "model": ("modeling_sssd_ecg", "SSSDECGModel"),
    "scheduler": ("scheduling_sssd_ecg", "SSSDECGScheduler"),
}


def _copy_remote_code(folder: str) -> None:
    for dest, src, flatten in REMOTE_CODE_FILES:
        with open(os.path.join(_PACKAGE_DIR, src), encoding="utf-8") as f:
            code = f.read()
        if flatten:  # the package's pipelines/ sub-folder becomes the repository root
            code = re.sub(r"^(\s*)from \.\.(\w)", r"\1from .\2", code, flags=re.MULTILINE)
        with open(os.path.join(folder, dest), "w", encoding="utf-8") as f:
            f.write(code)


def _rewrite_model_index(folder: str, pipeline) -> None:
    path = os.path.join(folder, "model_index.json")
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    index["_class_name"] = ["pipeline_sssd_ecg", "SSSDECGPipeline"]
    for name, (module, cls) in _OWN_COMPONENTS.items():
        component = getattr(pipeline, name)
        if type(component).__name__ == cls:
            index[name] = [module, cls]
        # a stock diffusers scheduler keeps its ["diffusers", "DDIMScheduler"] entry
    with open(path, "w", encoding="utf-8") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")


def save_pipeline_folder(pipeline, save_directory: str | os.PathLike, model_card: Optional[str] = None, **kwargs) -> str:
    """Write ``pipeline`` as a Hub-ready folder (see module docstring), atomically.

    Args:
        pipeline: an ``SSSDECGPipeline``.
        save_directory: destination; an existing folder is replaced only once the new one is complete.
        model_card: full ``README.md`` text; by default one is generated from the model config.
        kwargs: passed to ``DiffusionPipeline.save_pretrained`` (``push_to_hub`` is refused here:
            use ``huggingface_hub.upload_folder`` on the saved folder).
    """
    if kwargs.pop("push_to_hub", False):
        raise ValueError("push_to_hub is not supported by save_pretrained here; save, then upload the folder")
    kwargs.setdefault("safe_serialization", True)
    final = os.path.abspath(os.fspath(save_directory))
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-pipeline-", dir=parent)
    try:
        DiffusionPipeline.save_pretrained(pipeline, tmp, **kwargs)
        _copy_remote_code(tmp)
        _rewrite_model_index(tmp, pipeline)
        card = model_card if model_card is not None else render_model_card(pipeline.model.config)
        with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as f:
            f.write(card)
        _replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _replace_folder(new: str, final: str) -> None:
    """Move ``new`` to ``final``; an existing ``final`` is kept aside until the move succeeded."""
    if not os.path.exists(final):
        os.replace(new, final)
        return
    old = final + ".old-" + os.path.basename(new)
    os.replace(final, old)
    try:
        os.replace(new, final)
    except BaseException:
        os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _read_model_index(folder: str) -> dict:
    with open(os.path.join(folder, "model_index.json"), encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Corrupt model_index.json in {folder}: {exc}") from exc


def pipeline_setting(folder: str, name: str, default=None):
    """A pipeline config value (not a component) stored in ``folder``/model_index.json."""
    return _read_model_index(folder).get(name, default)


def load_component(folder: str, name: str):
    """Load component ``name`` (``"model"`` or ``"scheduler"``) of a pipeline folder with the
    installed classes: ``sssd_hf``'s own, or the stock diffusers class recorded in model_index.json."""
    import diffusers

    from .models.modeling_sssd_ecg import SSSDECGModel
    from .schedulers.scheduling_sssd_ecg import SSSDECGScheduler

    index = _read_model_index(folder)
    if name not in index:
        raise ValueError(f"{folder}/model_index.json has no '{name}' component")
    library, cls_name = index[name]
    own = {"SSSDECGModel": SSSDECGModel, "SSSDECGScheduler": SSSDECGScheduler}
    if cls_name in own:
        cls = own[cls_name]
    elif library == "diffusers" and hasattr(diffusers, cls_name):
        cls = getattr(diffusers, cls_name)
    else:
        raise ValueError(f"Unsupported {name} component {library}.{cls_name} in {folder}")
    if not os.path.isdir(os.path.join(folder, name)):
        raise FileNotFoundError(f"Pipeline folder {folder} lacks its '{name}' sub-folder")
    return cls.from_pretrained(folder, subfolder=name)


def render_model_card(config: Any, extra: Optional[Dict[str, str]] = None) -> str:
    """A model card (README.md with YAML metadata) describing a model from its config.

    ``extra`` may carry ``intended_use``, ``training_data``, ``limitations`` and ``training``
    paragraphs (Markdown) that replace the generic ones.
    """
    extra = extra or {}
    labels = list(config.label_names or [])
    kind = {"nle": "SSSD-ECG-nle", "multi_hot": "SSSD-ECG", None: "unconditional SSSD-ECG"}[config.label_embedding]
    labels_text = ", ".join(f"`{c}`" for c in labels) if labels else "none (unconditional)"
    leads = ", ".join(config.generated_leads)
    return f"""---
library_name: diffusers
license: mit
tags:
- ecg
- electrocardiogram
- time-series
- diffusion
- structured-state-space
- sssd-ecg
- synthetic-data
---

# {kind} 12-lead ECG generator

A conditional diffusion model with structured state-space (S4) layers that generates
{config.sample_length / config.sampling_rate:g}-second, 12-lead ECGs at {config.sampling_rate} Hz
(millivolts) conditioned on ECG statements (SCP codes). Packaged with
sssd-hf as a diffusers pipeline.

| | |
|---|---|
| Conditioning | {kind} label embedding over {len(labels)} statements |
| Statements | {labels_text} |
| Generated leads | {leads} (the other limb leads follow from Einthoven's and Goldberger's relations) |
| Network | {config.num_layers} residual blocks, {config.channels} channels, S4 state size {config.s4_state_size} |
| Sampler | DDPM, T = 200, linear betas 1e-4..0.02 (see `scheduler/scheduler_config.json`) |

## Usage

```python
import torch
from sssd_hf import SSSDECGPipeline          # pip install sssd-hf
pipe = SSSDECGPipeline.from_pretrained("PATH_OR_REPO_ID")
out = pipe(labels=["{labels[0] if labels else 'NORM'}"], generator=torch.Generator().manual_seed(0))
out.ecgs.shape   # (1, 12, {config.sample_length}), millivolts, leads {", ".join(["I", "II", "III", "aVR", "aVL", "aVF", "V1-V6"])}
```

Without installing sssd-hf, the code in this repository is used:

```python
from diffusers import DiffusionPipeline
pipe = DiffusionPipeline.from_pretrained("PATH_OR_REPO_ID", trust_remote_code=True)
```

## Intended use

{extra.get("intended_use", "Research on ECG analysis methods with synthetic data, e.g. training or augmenting classifiers (train-on-synthetic, test-on-real), and sharing ECG-like data without exposing patients. Not a medical device: never use generated ECGs for diagnosis or clinical decisions.")}

## Training data

{extra.get("training_data", "See the training section. Models trained on PTB-XL (Wagner et al., Scientific Data 2020, CC BY 4.0) inherit its population (German adults, 1989-1996) and its annotation conventions.")}

## Training

{extra.get("training", "Epsilon-prediction MSE on the generated leads with the DDPM schedule above (see sssd-hf's `training/` folder for recipes).")}

## Limitations

{extra.get("limitations", "Generated ECGs reflect the training data and the statements it contains; rare statements are modelled less faithfully. Label control, physiological plausibility and privacy should be measured with `sssd-ecg evaluate` before using a synthetic set.")}

## Citation

```bibtex
@article{{alcaraz2023sssdecg,
  title={{Diffusion-based conditional ECG generation with structured state space models}},
  author={{Alcaraz, Juan Miguel Lopez and Strodthoff, Nils}},
  journal={{Computers in Biology and Medicine}}, year={{2023}}, note={{arXiv:2301.08227}}
}}
@misc{{skorik2024nle,
  author={{Skorik, Sergey and Avetisyan, Aram}}, year={{2024}},
  eprint={{2407.11108}}, archivePrefix={{arXiv}}, note={{SSSD-ECG-nle}}
}}
```
"""
