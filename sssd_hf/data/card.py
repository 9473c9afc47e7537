"""The dataset card (``README.md``) of a synthetic ECG dataset folder.

The text comes from the Jinja template ``sssd_hf/templates/dataset_card.md`` (package data; or
any template given explicitly), rendered through ``huggingface_hub.DatasetCard.from_template``
(see :mod:`sssd_hf.cards`, which renders the model card the same way); the YAML header
(license, task categories, size category, ``dataset_info`` with the features and split sizes) is
built here from the data actually written, so that the Hub and ``datasets.load_dataset`` see exactly
what is there.

The header has no ``configs`` block: the shards' names ``data/<split>-NNNNN-of-NNNNN.parquet`` are
``datasets``' default layout, from which it finds the splits by itself.  With a ``configs`` block,
``datasets.load_dataset(folder)`` (datasets 5.x) keys its cache on the block's file patterns alone,
so a rebuilt copy, or another copy in a folder of the same name, silently loads the rows cached
from the first one (see :func:`load_dataset_folder`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

from ..cards import DATASET_CARD_TEMPLATE, render_card

#: The card template shipped in the package.
TEMPLATE_PATH = DATASET_CARD_TEMPLATE

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
    license: str = "cc-by-4.0",
    pretty_name: Optional[str] = None,
    tags: Sequence[str] = DEFAULT_TAGS,
):
    """``huggingface_hub.DatasetCardData`` for parquet shards ``data/<split>-NNNNN-of-NNNNN.parquet``.

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
    )
    info = DatasetInfo(features=features, splits=splits, dataset_size=int(sum(split_bytes.values())))
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    return data


def resolve_template(template_path: Optional[str | os.PathLike] = None) -> Path:
    """The card template to use; ``FileNotFoundError`` when there is none."""
    path = Path(template_path) if template_path is not None else TEMPLATE_PATH
    if not path.is_file():
        raise FileNotFoundError(f"Dataset card template not found: {path} (pass card_template= / --card-template)")
    return path


def render_dataset_card(metadata, variables: Mapping, template_path: Optional[str | os.PathLike] = None) -> str:
    """Render the card template with ``metadata`` (``DatasetCardData``) as
    YAML header, through ``huggingface_hub.DatasetCard.from_template``.

    Every variable the template uses must be in ``variables`` (``ValueError`` naming the missing
    ones); raises ``FileNotFoundError`` when the template is missing.
    """
    from huggingface_hub import DatasetCard

    return render_card(DatasetCard, metadata, resolve_template(template_path), variables)


def describe_splits(split_rows: Mapping[str, int], split_folds: Mapping[str, Sequence[int]]) -> Sequence[Dict]:
    """Rows of the card's split table."""
    return [{"name": name, "num_examples": rows, "folds": ", ".join(str(f) for f in split_folds.get(name, ())) or "-"}
            for name, rows in split_rows.items()]


def load_dataset_folder(path: str | os.PathLike):
    """``datasets.load_dataset`` of a local dataset folder (a ``build-dataset`` output), always from
    the files that are there now.

    ``datasets`` caches a folder by a key that, for a card with a ``configs`` block (every copy
    written before that block was dropped), does not change when the files do: a rebuilt copy, or
    another copy in a folder of the same name, would load the first one's cached rows.  Rebuilding the
    cache (``download_mode="force_redownload"``, a local conversion of the parquet shards, about a
    second for 2,000 ECGs) makes every load read the current files.
    """
    import datasets

    return datasets.load_dataset(os.fspath(path), download_mode="force_redownload")
