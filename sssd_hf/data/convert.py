"""Chunked, parallel, resumable conversion of WFDB records into an Arrow-backed ``DatasetDict``.

The readers (:mod:`sssd_hf.data.ptbxl`, :mod:`sssd_hf.data.wfdb_folder`) describe each record
as an *item*, a small picklable dict::

    {"record": "records100/00000/00001_lr",         # name used in the report
     "path": "/data/ptbxl/records100/00000/00001_lr",  # WFDB path without extension
     "fields": {"ecg_id": 1, "labels": [46], ...}}  # copied into every example of the record

and this module does the rest:

- items are cut into chunks of ``chunk_size`` (the chunk engine of :mod:`sssd_hf.data.chunks`,
  shared with the synthetic dataset builds); worker processes turn each chunk into one Arrow
  file (``<split>/chunk-000000.arrow``, written under a temporary name and renamed when
  complete) plus a list of rejected records.  Memory stays bounded by one chunk per worker
  whatever the number of records (PTB-XL: 21,799; MIMIC-IV-ECG: 800,000).
- the cache folder is named after a fingerprint of the items and settings, so a second call
  with the same inputs finds every chunk done and only memory-maps the Arrow files: later
  runs and epochs never parse WFDB again.  An interrupted run keeps its finished chunks and
  the next call converts only the rest.
- rejected records (missing lead, too short, NaN, flat line, missing or corrupt files) are
  listed in ``rejected.csv`` (split, record, reason) instead of stopping the run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
from dataclasses import asdict, dataclass
from typing import Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..utils import atomic_path, atomic_write_text
from .chunks import Chunk, default_start_method, pending_chunks, plan_chunks, run_chunks
from .records import RecordRejected, WindowSpec, load_windows

logger = logging.getLogger(__name__)

#: Bump when the chunk file layout changes, so old caches are not reused.
CACHE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Rejection:
    """A record (or one window of it) left out of the dataset, and why."""

    split: str
    record: str
    reason: str


@dataclass
class ConversionResult:
    """What :func:`convert_records` produced.

    Attributes:
        dataset: ``datasets.DatasetDict``, one memory-mapped split per input split.
        rejected: records or windows left out, with the reason.
        cache_dir: folder holding the Arrow chunks and ``rejected.csv``.
    """

    dataset: "datasets.DatasetDict"  # noqa: F821
    rejected: List[Rejection]
    cache_dir: str

    @property
    def report_path(self) -> str:
        return os.path.join(self.cache_dir, "rejected.csv")


def default_cache_root() -> str:
    """``$HF_DATASETS_CACHE/sssd_hf``: the same disk area ``datasets`` caches into."""
    import datasets

    return os.path.join(str(datasets.config.HF_DATASETS_CACHE), "sssd_hf")


def record_examples(
    item: Mapping, spec: WindowSpec, window_field: Optional[str] = None
) -> Tuple[List[dict], List[str]]:
    """Examples of one item: its ``fields`` plus ``signal`` ``(12, L)`` mV for each window.

    ``window_field`` names an extra field holding the window start in seconds.  Returns
    ``(examples, dropped_window_reasons)``; raises :class:`RecordRejected`.
    """
    windows, dropped = load_windows(item["path"], spec)
    examples = []
    for start, signal in windows:
        example = dict(item["fields"], signal=signal)
        if window_field:
            example[window_field] = start / spec.sampling_rate
        examples.append(example)
    return examples, dropped


def _safe_record_examples(item, spec, window_field) -> Tuple[List[dict], List[str], Optional[str]]:
    """:func:`record_examples`, with any failure turned into a rejection reason (third value)."""
    try:
        examples, dropped = record_examples(item, spec, window_field)
        return examples, dropped, None
    except RecordRejected as exc:
        return [], [], str(exc)
    except Exception as exc:  # one broken record must not stop a run over 800,000
        return [], [], f"unexpected {type(exc).__name__}: {exc}"


def iter_examples(items: Sequence[Mapping], spec: WindowSpec, window_field: Optional[str] = None) -> Iterator[dict]:
    """Stream the examples of ``items`` without caching; rejected records are logged and skipped.

    Suitable for ``datasets.IterableDataset.from_generator(iter_examples, gen_kwargs=...)``.
    """
    for item in items:
        examples, dropped, reason = _safe_record_examples(item, spec, window_field)
        for why in dropped + ([reason] if reason else []):
            logger.warning("skipping %s: %s", item["record"], why)
        yield from examples


def _convert_chunk(items, spec, window_field, features, arrow_path, report_path) -> Tuple[int, int]:
    """Write the examples of ``items`` to ``arrow_path`` and their rejections to ``report_path``
    (JSON), each atomically, the report last: it marks the chunk as done."""
    from datasets.arrow_writer import ArrowWriter

    rejected = []
    with atomic_path(arrow_path) as tmp:
        writer = ArrowWriter(features=features, path=tmp, writer_batch_size=64)
        try:
            for item in items:
                examples, dropped, reason = _safe_record_examples(item, spec, window_field)
                rejected += [[item["record"], why] for why in dropped + ([reason] if reason else [])]
                for example in examples:
                    writer.write(features.encode_example(example))
            num_examples, _ = writer.finalize()
        finally:
            writer.close()
    atomic_write_text(report_path, json.dumps(rejected))
    return num_examples, len(rejected)


def _fingerprint(items_by_split: Mapping[str, Sequence[Mapping]], settings: Mapping) -> str:
    digest = hashlib.sha256()
    digest.update(
        json.dumps({"version": CACHE_FORMAT_VERSION, "settings": settings}, sort_keys=True, default=str).encode()
    )
    for split in sorted(items_by_split):
        digest.update(split.encode())
        for item in items_by_split[split]:
            digest.update(json.dumps(item, sort_keys=True, default=_json_default).encode())
    return digest.hexdigest()[:16]


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _plan_chunks(items_by_split, chunk_size: int, cache_dir: str) -> List[Chunk]:
    """Chunks of every split; a chunk's outputs are its Arrow file and its rejection report
    (written last: it marks the chunk as done)."""
    def outputs(split, index):
        stem = os.path.join(cache_dir, split, f"chunk-{index:06d}")
        return stem + ".arrow", stem + ".rejected.json"

    return plan_chunks({split: len(items) for split, items in items_by_split.items()}, chunk_size, outputs)


#: The start method when none is given (a module attribute, so a benchmark may replace it).
_default_start_method = default_start_method


def convert_records(
    items_by_split: Mapping[str, Sequence[Mapping]],
    features,
    spec: WindowSpec,
    *,
    name: str,
    settings: Optional[Mapping] = None,
    window_field: Optional[str] = None,
    cache_dir: Optional[str] = None,
    num_workers: Optional[int] = None,
    chunk_size: int = 500,
    progress: bool = True,
    start_method: Optional[str] = None,
) -> ConversionResult:
    """Convert items (see the module docstring) into a ``DatasetDict`` cached as Arrow.

    Args:
        items_by_split: ``{"train": [item, ...], ...}``; an empty split is left out.
        features: ``datasets.Features`` of the examples (item ``fields`` + ``signal``).
        spec: sampling rate, window length and checks (:class:`WindowSpec`).
        name: prefix of the cache folder (``"ptbxl"``).
        settings: anything else that changes the result (vocabulary...), for the fingerprint.
        window_field: name of an extra float field with each window's start in seconds.
        cache_dir: root of the cache (default :func:`default_cache_root`); the data goes to
            ``<cache_dir>/<name>-<fingerprint>``.
        num_workers: worker processes (default: CPU count); ``0`` converts in this process.
        chunk_size: records per chunk (Arrow file); bounds memory and the work lost on a kill.
        progress: show a tqdm progress bar (records).
        start_method: multiprocessing start method (default: ``fork`` on Linux, else ``spawn``).
    """
    import datasets

    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    items_by_split = {split: list(items) for split, items in items_by_split.items() if len(items)}
    if not items_by_split:
        raise ValueError("No records to convert")
    full_settings = {"spec": asdict(spec), "window_field": window_field, "chunk_size": chunk_size,
                     "features": features.to_dict(), **(settings or {})}
    cache_dir = os.path.join(
        cache_dir or default_cache_root(), f"{name}-{_fingerprint(items_by_split, full_settings)}"
    )
    os.makedirs(cache_dir, exist_ok=True)
    atomic_write_text(os.path.join(cache_dir, "settings.json"), json.dumps(full_settings, indent=1, default=str))

    chunks = _plan_chunks(items_by_split, chunk_size, cache_dir)
    pending = pending_chunks(chunks)
    if pending:
        for split in items_by_split:
            os.makedirs(os.path.join(cache_dir, split), exist_ok=True)
        total = sum(len(items) for items in items_by_split.values())
        todo = sum(c.stop - c.start for c in pending)
        _run_chunks(pending, items_by_split, features, spec, window_field, num_workers, progress,
                    start_method, desc=f"Converting {name}", total=total, initial=total - todo)

    rejected = _collect_rejections(chunks)
    write_rejection_report(os.path.join(cache_dir, "rejected.csv"), rejected)
    splits = {}
    for split in items_by_split:
        parts = [datasets.Dataset.from_file(c.outputs[0]) for c in chunks if c.group == split]
        splits[split] = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    if rejected:
        logger.warning(
            "%d record(s)/window(s) skipped; reasons in %s", len(rejected), os.path.join(cache_dir, "rejected.csv")
        )
    return ConversionResult(dataset=datasets.DatasetDict(splits), rejected=rejected, cache_dir=cache_dir)


def _run_chunks(
    pending, items_by_split, features, spec, window_field, num_workers, progress, start_method, desc, total, initial
):
    num_workers = (os.cpu_count() or 1) if num_workers is None else int(num_workers)

    def arguments(chunk: Chunk) -> tuple:
        items = items_by_split[chunk.group][chunk.start : chunk.stop]
        return (items, spec, window_field, features, *chunk.outputs)

    # _convert_chunk is looked up now, so that a replaced module attribute is the one run
    run_chunks(pending, _convert_chunk, arguments, num_workers=num_workers,
               start_method=start_method or _default_start_method(),
               progress=progress, desc=desc, unit="rec", total=total, initial=initial)


def _collect_rejections(chunks: Sequence[Chunk]) -> List[Rejection]:
    rejected = []
    for chunk in chunks:
        with open(chunk.outputs[1], encoding="utf-8") as f:
            rejected += [Rejection(chunk.group, record, reason) for record, reason in json.load(f)]
    return rejected


def write_rejection_report(path: str, rejected: Sequence[Rejection]) -> None:
    """Write ``split,record,reason`` CSV of the rejected records to ``path`` (header only when none)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["split", "record", "reason"])
    writer.writerows([r.split, r.record, r.reason] for r in rejected)
    atomic_write_text(path, buffer.getvalue())
