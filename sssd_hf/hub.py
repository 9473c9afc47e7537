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
from typing import Any, Dict, List, Optional

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


def remote_code_text(source: str, flatten: bool) -> str:
    """The remote-code copy of package module ``source`` (a path inside ``sssd_hf/``): its text,
    with ``from ..x`` rewritten to ``from .x`` when ``flatten`` (the package's ``pipelines/``
    sub-folder becomes the repository root)."""
    with open(os.path.join(_PACKAGE_DIR, source), encoding="utf-8") as f:
        code = f.read()
    if flatten:
        code = re.sub(r"^(\s*)from \.\.(\w)", r"\1from .\2", code, flags=re.MULTILINE)
    return code


def remote_code_files() -> Dict[str, str]:
    """``{path inside a pipeline folder: text}`` of every remote-code file, generated from the
    installed package (the one source of truth; ``utils/check_copies.py`` compares against it)."""
    return {dest: remote_code_text(src, flatten) for dest, src, flatten in REMOTE_CODE_FILES}


def _copy_remote_code(folder: str) -> None:
    for dest, code in remote_code_files().items():
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


def save_pipeline_folder(
    pipeline, save_directory: str | os.PathLike, model_card: Optional[str] = None, **kwargs
) -> str:
    """Write ``pipeline`` as a Hub-ready folder (see module docstring), atomically.

    Args:
        pipeline: an ``SSSDECGPipeline``.
        save_directory: destination; an existing folder is replaced only once the new one is complete.
        model_card: full ``README.md`` text; by default the card of the folder the pipeline was loaded
            from (``pipeline.loaded_from``, or diffusers' ``_name_or_path``), so a re-saved copy keeps its
            licence, training data and attribution; else one generated from the model config.
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
        card = model_card if model_card is not None else loaded_model_card(pipeline)
        if card is None:
            card = render_model_card(pipeline.model.config,
                                     {"default_sampler": getattr(pipeline.config, "default_sampler", None)})
        with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as f:
            f.write(card)
        _replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def loaded_model_card(pipeline) -> Optional[str]:
    """The ``README.md`` of the folder ``pipeline`` was loaded from, or ``None`` (built in memory, or no card)."""
    folder = getattr(pipeline, "loaded_from", None) or getattr(pipeline, "config", {}).get("_name_or_path")
    path = os.path.join(os.fspath(folder), "README.md") if folder else None
    if not path or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.read()


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


def load_component(folder: str, name: str, **load_kwargs):
    """Load component ``name`` (``"model"`` or ``"scheduler"``) of a pipeline folder with the
    installed classes: ``sssd_hf``'s own, or the stock diffusers class recorded in model_index.json.

    ``load_kwargs`` (``variant``, ``use_safetensors``, ``low_cpu_mem_usage``...) go to the
    component's ``from_pretrained``."""
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
    return cls.from_pretrained(folder, subfolder=name, **load_kwargs)


#: The model card's Hub task.  The Hub has no ECG or time-series *generation* task; its only
#: time-series task is forecasting, which this model does not do (a forecasting tag would put it
#: under the wrong widget and search filter), so the card says "other" and tags "time-series".
MODEL_CARD_PIPELINE_TAG = "other"
MODEL_CARD_TAGS = ("ecg", "electrocardiogram", "time-series", "diffusion", "structured-state-space", "sssd-ecg",
                   "synthetic-data")

_DEFAULT_CARD_TEXT = {
    "intended_use": (
        "Research on ECG analysis methods with synthetic data, e.g. training or augmenting classifiers "
        "(train-on-synthetic, test-on-real), and sharing ECG-like data without exposing patients. Not a medical "
        "device: never use generated ECGs for diagnosis or clinical decisions."
    ),
    "training_data": (
        "See the training section. Models trained on PTB-XL (Wagner et al., Scientific Data 2020, CC BY 4.0) "
        "inherit its population (German adults, 1989-1996) and its annotation conventions."
    ),
    "training": (
        "Epsilon-prediction MSE on the generated leads with the DDPM schedule above (see sssd-hf's `training/` "
        "folder for recipes)."
    ),
    "limitations": (
        "Generated ECGs reflect the training data and the statements it contains; rare statements are modelled "
        "less faithfully. Label control, physiological plausibility and privacy should be measured with "
        "`sssd-ecg evaluate` before using a synthetic set."
    ),
    "evaluation": "",  # Markdown of measured figures; the section is left out when empty
}


def model_card_data(config: Any, datasets: Optional[List[str]] = None, license: str = "mit"):
    """``huggingface_hub.ModelCardData`` of a model: ``library_name: diffusers``, the Hub task
    (:data:`MODEL_CARD_PIPELINE_TAG`), license, tags and the training datasets' Hub ids, if any."""
    from huggingface_hub import ModelCardData

    return ModelCardData(library_name="diffusers", pipeline_tag=MODEL_CARD_PIPELINE_TAG, license=license,
                         tags=list(MODEL_CARD_TAGS), datasets=list(datasets) if datasets else None)


def model_card_variables(config: Any, extra: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """The template variables of ``templates/model_card.md`` for a model config."""
    extra = extra or {}
    labels = list(config.label_names or [])
    kind = {"nle": "SSSD-ECG-nle", "multi_hot": "SSSD-ECG", None: "unconditional SSSD-ECG"}[config.label_embedding]
    return {
        "kind": kind,
        "duration": f"{config.sample_length / config.sampling_rate:g}",
        "sampling_rate": config.sampling_rate,
        "num_labels": len(labels),
        "statements": ", ".join(f"`{c}`" for c in labels) if labels else "none (unconditional)",
        "generated_leads": ", ".join(config.generated_leads),
        "num_layers": config.num_layers,
        "channels": config.channels,
        "s4_state_size": config.s4_state_size,
        "example_label": "NORM" if "NORM" in labels or not labels else labels[0],
        "sample_length": config.sample_length,
        "default_sampler": _recommended_sampler(extra.get("default_sampler")),
        **{key: extra.get(key, text) for key, text in _DEFAULT_CARD_TEXT.items()},
    }


def _recommended_sampler(name: Optional[str]) -> Optional[Dict[str, Any]]:
    """Template variables of a recommended sampler other than the pipeline's own DDPM, else ``None``."""
    from .schedulers.samplers import get_sampler

    if not name or name == "ddpm":
        return None
    sampler = get_sampler(name)
    return {"name": name, "label": sampler.label, "steps": sampler.default_steps}


def render_model_card(config: Any, extra: Optional[Dict[str, str]] = None) -> str:
    """A model card (README.md with YAML metadata) describing a model from its config, rendered
    from ``sssd_hf/templates/model_card.md`` through ``huggingface_hub.ModelCard``.

    ``extra`` may carry ``intended_use``, ``training_data``, ``limitations``, ``training`` and
    ``evaluation`` paragraphs (Markdown) that replace the generic ones, ``default_sampler`` (the
    pipeline's recommended sampler, shown in the usage example), ``datasets`` (a list of Hub
    dataset ids) and ``license`` (default ``mit``; ``cc-by-4.0`` for weights derived from PTB-XL) for
    the metadata.
    """
    from huggingface_hub import ModelCard

    from .cards import MODEL_CARD_TEMPLATE, render_card

    extra = dict(extra or {})
    datasets = extra.pop("datasets", None)
    license = extra.pop("license", "mit")
    if isinstance(datasets, str):
        datasets = [datasets]
    return render_card(ModelCard, model_card_data(config, datasets, license), MODEL_CARD_TEMPLATE,
                       model_card_variables(config, extra))
