"""The dataset card (``README.md``) of a synthetic ECG dataset folder.

The text comes from the Jinja template ``dataset_card/template.md`` at the repository root
(or the copy installed under ``<prefix>/share/sssd-hf/``, or any template given explicitly);
the YAML header (license, task categories, size category, ``configs`` with the data files of
each split, ``dataset_info`` with the features and split sizes) is built here from the data
actually written, so that the Hub and ``datasets.load_dataset`` see exactly what is there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

#: Where the card template lives in a source checkout, and where an installed wheel may put it
#: (``[tool.setuptools] data-files`` -> ``<prefix>/share/sssd-hf/dataset_card/template.md``).
TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "dataset_card" / "template.md"
INSTALLED_TEMPLATE_PATH = Path(sys.prefix) / "share" / "sssd-hf" / "dataset_card" / "template.md"

_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                    (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))  # fmt: skip

DEFAULT_TAGS = ("ecg", "electrocardiogram", "12-lead", "synthetic", "medical", "time-series", "ptb-xl", "diffusion")


def size_category(num_rows: int) -> str:
    """The Hub's ``size_categories`` value for a dataset of ``num_rows`` rows."""
    for bound, name in _SIZE_CATEGORIES:
        if num_rows < bound:
            return name
    return "n>100M"


def card_metadata(
    features,
    split_rows: Mapping[str, int],
    split_bytes: Mapping[str, int],
    data_dir: str = "data",
    license: str = "cc-by-4.0",
    pretty_name: Optional[str] = None,
    tags: Sequence[str] = DEFAULT_TAGS,
):
    """``huggingface_hub.DatasetCardData`` for parquet shards ``<data_dir>/<split>-*.parquet``.

    Args:
        features: ``datasets.Features`` of the rows.
        split_rows / split_bytes: rows and Arrow bytes per split, in split order.
    """
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    splits = SplitDict()
    for name, rows in split_rows.items():
        splits.add(SplitInfo(name=name, num_examples=int(rows), num_bytes=int(split_bytes[name])))
    data = DatasetCardData(
        license=license,
        task_categories=["other"],
        tags=list(tags),
        size_categories=[size_category(sum(split_rows.values()))],
        pretty_name=pretty_name,
        configs=[{"config_name": "default",
                  "data_files": [{"split": name, "path": f"{data_dir}/{name}-*.parquet"} for name in split_rows]}],
    )
    info = DatasetInfo(features=features, splits=splits, dataset_size=int(sum(split_bytes.values())))
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    return data


def resolve_template(template_path: Optional[str | os.PathLike] = None) -> Path:
    """The card template to use; ``FileNotFoundError`` when there is none."""
    if template_path is not None:
        path = Path(template_path)
    else:
        path = next((p for p in (TEMPLATE_PATH, INSTALLED_TEMPLATE_PATH) if p.is_file()), TEMPLATE_PATH)
    if not path.is_file():
        raise FileNotFoundError(f"Dataset card template not found: {path} (pass card_template= / --card-template)")
    return path


def render_dataset_card(metadata, variables: Mapping, template_path: Optional[str | os.PathLike] = None) -> str:
    """Render the card template with ``metadata`` (``DatasetCardData``) as YAML header.

    Every variable the template uses must be in ``variables`` (Jinja ``StrictUndefined``);
    raises ``FileNotFoundError`` when the template is missing.
    """
    import jinja2
    from huggingface_hub import DatasetCard

    path = resolve_template(template_path)
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    text = environment.from_string(path.read_text(encoding="utf-8")).render(card_data=metadata.to_yaml(), **variables)
    DatasetCard(text)  # parses the YAML header: fails here rather than on the Hub
    return text


def describe_splits(split_rows: Mapping[str, int], split_folds: Mapping[str, Sequence[int]]) -> Sequence[Dict]:
    """Rows of the card's split table."""
    return [{"name": name, "num_examples": rows, "folds": ", ".join(str(f) for f in split_folds.get(name, ())) or "-"}
            for name, rows in split_rows.items()]
