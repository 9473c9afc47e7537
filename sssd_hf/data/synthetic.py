"""A synthetic copy of PTB-XL: one generated ECG per real record, same statements, same fold.

    sssd-ecg build-dataset --model ./sssd-ecg-nle --like /data/ptb-xl --out ./synthetic-ptbxl
    accelerate launch --num_processes 4 -m sssd_hf.cli build-dataset ...   # one shard per GPU

How a build works (all state lives in ``OUT/.build``):

1. **Plan.** The records of ``--like`` (a PTB-XL folder or its ``ptbxl_database.csv``) are
   read; each record's ``scp_codes`` are mapped onto the model's ``label_names``; options
   select a subset (splits, statements, a count per statement, a limit) and oversample
   statements.  Every planned ECG gets an ``ecg_id`` (1, 2, ...), its source record's
   ``ecg_id`` and fold.  The plan is deterministic, and its fingerprint (with the model's and
   the sampling settings) is stored in ``build.json``: a restart with other settings is refused.
2. **Generate.** The plan is cut into chunks of ``chunk_size``; each ECG draws its noise from
   its own generator seeded by ``(seed, ecg_id)``, so the result does not depend on batch size,
   on how many processes ran or on where a run was interrupted.  Each process of an ``accelerate launch`` takes every
   ``num_processes``-th pending chunk (a disjoint shard) and writes each finished chunk as a
   parquet file under a temporary name renamed when complete.  Killing a build loses at most
   the chunks in progress; the next run skips finished chunks: no record is duplicated or
   missing.
3. **Merge.** The main process streams the chunks into ``data/<split>-0000i-of-0000n.parquet``
   shards, writes the dataset card ``README.md`` (see :mod:`sssd_hf.data.card`), optionally a
   WFDB copy in PTB-XL's layout (``wfdb/``), and marks the build complete.
"""

from __future__ import annotations

import datetime
import glob
import hashlib
import json
import logging
import math
import os
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..leads import STANDARD_LEADS
from ..utils import atomic_path, atomic_write_text
from ..vocabulary import STATEMENTS_BY_CODE, describe, validate_codes
from .card import card_metadata, describe_splits, render_dataset_card, resolve_template
from .features import labels_feature, signal_feature
from .labels import map_to_vocabulary
from .ptbxl_layout import (
    DATABASE_FILE,
    FOLD_SPLITS,
    RATE_LAYOUT,
    STATEMENTS_FILE,
    database_path,
    read_database,
    record_relpath,
    split_of_fold,
    write_database,
    write_statement_table,
)

logger = logging.getLogger(__name__)

BUILD_DIR = ".build"
DATA_DIR = "data"
WFDB_DIR = "wfdb"
SPLIT_ORDER = tuple(FOLD_SPLITS)  # train, validation, test
#: Bump when the build layout changes, so that old unfinished builds are not resumed.
BUILD_FORMAT_VERSION = 1


@dataclass(frozen=True)
class PlannedECG:
    """One synthetic ECG to generate.

    Attributes:
        ecg_id: id of the synthetic ECG (1-based, in plan order).
        source_ecg_id: ``ecg_id`` of the real record it copies statements and fold from.
        copy: 0, or 1, 2, ... for extra copies made by oversampling.
        strat_fold: the source record's fold (1-10).
        labels: statement codes (model vocabulary order) it is conditioned on.
    """

    ecg_id: int
    source_ecg_id: int
    copy: int
    strat_fold: int
    labels: Tuple[str, ...]

    @property
    def split(self) -> str:
        return split_of_fold(self.strat_fold)


@dataclass
class Selection:
    """Which records of the source to copy and how often (the build options)."""

    splits: Optional[Sequence[str]] = None
    subset: Optional[Sequence[str]] = None
    per_statement: Optional[int] = None
    limit: Optional[int] = None
    oversample: Mapping[str, int] = field(default_factory=dict)
    min_likelihood: float = 0.0


@dataclass
class BuildResult:
    """Outcome of :func:`build_synthetic_dataset` (in every process)."""

    out: str
    split_rows: Dict[str, int]
    skipped_unlabeled: int
    generated_here: int
    process_index: int = 0
    num_processes: int = 1

    @property
    def is_main_process(self) -> bool:
        return self.process_index == 0


def parse_oversample(specs: Sequence[str]) -> Dict[str, int]:
    """``["AFIB=5", "PACE=2"]`` -> ``{"AFIB": 5, "PACE": 2}``; ``ValueError`` on bad syntax."""
    factors = {}
    for spec in specs or ():
        code, sep, factor = str(spec).partition("=")
        try:
            value = int(factor)
        except ValueError:
            value = 0
        if not sep or not code.strip() or value < 1:
            raise ValueError(f"--oversample expects CODE=FACTOR with an integer FACTOR >= 1, got {spec!r}")
        factors[code.strip()] = value
    return factors


def plan_synthetic(like: str | os.PathLike, label_names: Sequence[str], selection: Selection, seed: int = 0) -> Tuple[List[PlannedECG], Dict]:
    """The ECGs to generate for the records of ``like`` (PTB-XL folder or metadata CSV).

    Records are mapped onto ``label_names``; records with no statement in it are skipped
    (counted in the returned stats).  Then, in this order: keep ``selection.splits``; keep
    records carrying any ``selection.subset`` statement; with ``per_statement=K`` keep, rarest
    statement first, random (seeded) records until every statement has at least
    ``min(K, available)`` of them (a record counts for each of its statements); keep the first
    ``limit``; and give a record carrying oversampled statements ``max(factor)`` copies.

    Returns ``(plan, stats)`` with stats ``{"source_rows", "skipped_unlabeled"}``.
    """
    label_names = list(label_names)
    for name, codes in (("--subset", selection.subset or ()), ("--oversample", list(selection.oversample))):
        try:
            validate_codes(codes, label_names)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc} (the model's vocabulary)") from None
    if selection.splits is not None:
        unknown = [s for s in selection.splits if s not in FOLD_SPLITS]
        if unknown:
            raise ValueError(f"Unknown split(s) {unknown}; choose from {list(FOLD_SPLITS)}")
    if selection.per_statement is not None and selection.per_statement < 1:
        raise ValueError(f"--per-statement must be >= 1, got {selection.per_statement}")
    if selection.limit is not None and selection.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {selection.limit}")

    frame = read_database(like)
    records = []  # (source_ecg_id, fold, labels)
    skipped = 0
    for ecg_id, fold, statements in zip(frame["ecg_id"], frame["strat_fold"], frame["statements"]):
        labels = tuple(map_to_vocabulary(statements, label_names, selection.min_likelihood))
        if not labels:
            skipped += 1
            continue
        if selection.splits is not None and split_of_fold(fold) not in selection.splits:
            continue
        if selection.subset and not set(labels) & set(selection.subset):
            continue
        records.append((int(ecg_id), int(fold), labels))
    if selection.per_statement is not None:
        records = _select_per_statement(records, label_names, selection.per_statement, seed)
    if selection.limit is not None:
        records = records[: selection.limit]
    plan = []
    for source_ecg_id, fold, labels in records:
        copies = max([selection.oversample.get(code, 1) for code in labels] + [1])
        for copy in range(copies):
            plan.append(PlannedECG(len(plan) + 1, source_ecg_id, copy, fold, labels))
    if not plan:
        raise ValueError(f"No record of {database_path(like)} is left to generate with these options "
                         f"({skipped} had no statement in the model's vocabulary)")
    return plan, {"source_rows": int(len(frame)), "skipped_unlabeled": skipped}


def _split_counts(plan: Sequence[PlannedECG]) -> Dict[str, int]:
    """Planned ECGs per split, in train/validation/test order (empty splits left out)."""
    counts = Counter(record.split for record in plan)
    return {split: counts[split] for split in SPLIT_ORDER if counts[split]}


def _select_per_statement(records, label_names, count: int, seed: int):
    """Records such that every statement has >= min(count, available) of them (rarest first)."""
    rng = np.random.default_rng(seed)
    carrying = {code: [i for i, r in enumerate(records) if code in r[2]] for code in label_names}
    chosen, counts = set(), Counter()
    for code in sorted(label_names, key=lambda c: (len(carrying[c]), c)):
        candidates = [i for i in carrying[code] if i not in chosen]
        need = min(count - counts[code], len(candidates))
        if need <= 0:
            continue
        for i in rng.choice(candidates, size=need, replace=False):
            chosen.add(int(i))
            counts.update(records[int(i)][2])
    return [r for i, r in enumerate(records) if i in chosen]


def synthetic_features(label_names: Sequence[str], num_samples: int):
    """Features of the published rows (see the dataset card)."""
    from datasets import Features, Value

    return Features(
        {
            "ecg_id": Value("int64"),
            "source_ecg_id": Value("int64"),
            "copy": Value("int64"),
            "strat_fold": Value("int64"),
            "labels": labels_feature(label_names),
            "signal": signal_feature(num_samples),
        }
    )


# --------------------------------------------------------------------------- build state


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


def _ecg_seed(seed: int, ecg_id: int) -> int:
    """A well-mixed 63-bit seed for synthetic ECG ``ecg_id`` of a build with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(ecg_id)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


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


# --------------------------------------------------------------------------- generation


def _generate_chunk(pipe, records: Sequence[PlannedECG], label_names, steps, batch_size, guidance_scale, seed) -> np.ndarray:
    """Generate the ECGs of one chunk: float32 ``(len(records), 12, L)`` mV.

    Each ECG gets its own generator seeded by ``(seed, ecg_id)``, so an ECG is the same
    whatever the chunk size, batch size, number of processes or interruptions.
    """
    import torch

    index = {code: i for i, code in enumerate(label_names)}
    multi_hot = np.zeros((len(records), len(label_names)), dtype=np.float32)
    for row, record in enumerate(records):
        multi_hot[row, [index[c] for c in record.labels]] = 1.0
    generators = [torch.Generator("cpu").manual_seed(_ecg_seed(seed, r.ecg_id)) for r in records]
    output = pipe(labels=multi_hot, num_ecgs_per_label=1, num_inference_steps=steps, generator=generators,
                  batch_size=batch_size, guidance_scale=guidance_scale, output_type="np")
    ecgs = np.asarray(output.ecgs, dtype=np.float32)
    expected = (len(records), len(STANDARD_LEADS), int(pipe.model.config.sample_length))
    if ecgs.shape != expected:
        raise RuntimeError(f"the pipeline returned ECGs of shape {ecgs.shape}, expected {expected}")
    if not np.isfinite(ecgs).all():
        raise ValueError(f"ecg_id {records[0].ecg_id}-{records[-1].ecg_id}: the pipeline produced NaN/inf samples")
    return ecgs


def _chunk_features(label_names, num_samples):
    from datasets import Value

    features = synthetic_features(label_names, num_samples)
    features["split"] = Value("string")
    return features


def _write_chunk(path: str, records: Sequence[PlannedECG], ecgs: np.ndarray, features, label_names) -> None:
    """Write one chunk (rows of :func:`synthetic_features` + ``split``) as parquet, atomically."""
    import datasets
    import pyarrow.parquet as pq

    index = {code: i for i, code in enumerate(label_names)}
    table = datasets.Dataset.from_dict(
        {
            "ecg_id": [r.ecg_id for r in records],
            "source_ecg_id": [r.source_ecg_id for r in records],
            "copy": [r.copy for r in records],
            "strat_fold": [r.strat_fold for r in records],
            "labels": [[index[c] for c in r.labels] for r in records],
            "signal": list(ecgs),
            "split": [r.split for r in records],
        },
        features=features,
    ).with_format("arrow")[:]
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _generate_pending(pipe, plan, pending, paths, settings, label_names, batch_size, rank_desc, progress) -> int:
    from tqdm.auto import tqdm

    chunk_size = settings["chunk_size"]
    features = _chunk_features(label_names, int(pipe.model.config.sample_length))
    total = sum(len(plan[i * chunk_size : (i + 1) * chunk_size]) for i in pending)
    done = 0
    with tqdm(total=total, unit="ecg", desc=f"Generating{rank_desc}", disable=not progress) as bar:
        for chunk_index in pending:
            records = plan[chunk_index * chunk_size : (chunk_index + 1) * chunk_size]
            ecgs = _generate_chunk(pipe, records, label_names, settings["num_inference_steps"], batch_size,
                                   settings["guidance_scale"], settings["seed"])
            _write_chunk(paths.chunk(chunk_index), records, ecgs, features, label_names)
            done += len(records)
            bar.update(len(records))
    return done


# --------------------------------------------------------------------------- merge


def _merge_chunks(paths: _Paths, plan, num_chunks: int, features, shard_size: int) -> Tuple[Dict[str, int], Dict[str, int]]:
    """Stream the chunk files, in order, into parquet shards per split (one pass, one chunk in
    memory); returns rows and Arrow bytes per split."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    missing = [i for i in range(num_chunks) if not os.path.isfile(paths.chunk(i))]
    if missing:
        raise RuntimeError(f"chunk(s) {missing[:10]} of {num_chunks} are missing; run the same command again to finish them")
    schema = features.arrow_schema
    split_rows = _split_counts(plan)
    os.makedirs(os.path.join(paths.out, DATA_DIR), exist_ok=True)
    for stale in glob.glob(os.path.join(paths.out, DATA_DIR, "*.parquet")):
        os.unlink(stale)  # shards of an interrupted merge of this same build
    writers = {split: _SplitWriter(paths, split, rows, shard_size, schema) for split, rows in split_rows.items()}
    for chunk_index in range(num_chunks):
        table = pq.read_table(paths.chunk(chunk_index))
        for split, writer in writers.items():
            writer.write(table.filter(pc.equal(table["split"], split)).select(schema.names).cast(schema))
    for split, writer in writers.items():
        writer.close()
        if writer.written != split_rows[split]:
            raise RuntimeError(f"{split}: merged {writer.written} rows but the plan has {split_rows[split]}")
    return split_rows, {split: writer.nbytes for split, writer in writers.items()}


class _SplitWriter:
    """Rows of one split, written as ``<split>-0000i-of-0000n.parquet`` shards of
    ``shard_size`` rows, each under a temporary name renamed when the shard is full."""

    def __init__(self, paths: _Paths, split: str, rows: int, shard_size: int, schema):
        self.paths, self.split, self.shard_size, self.schema = paths, split, shard_size, schema
        self.num_shards = math.ceil(rows / shard_size)
        self.shard, self.in_shard, self.written, self.nbytes = 0, 0, 0, 0
        self._writer = self._context = None

    def write(self, table) -> None:
        import pyarrow.parquet as pq

        offset = 0
        while offset < table.num_rows:
            if self._writer is None:
                self._context = atomic_path(self.paths.shard(self.split, self.shard, self.num_shards))
                self._writer = pq.ParquetWriter(self._context.__enter__(), self.schema)
            part = table.slice(offset, min(self.shard_size - self.in_shard, table.num_rows - offset))
            self._writer.write_table(part, row_group_size=256)
            self.in_shard += part.num_rows
            self.written += part.num_rows
            self.nbytes += part.nbytes
            offset += part.num_rows
            if self.in_shard == self.shard_size:
                self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._context.__exit__(None, None, None)
            self._writer, self.shard, self.in_shard = None, self.shard + 1, 0


# --------------------------------------------------------------------------- WFDB export


def export_wfdb(out: str, export_dir: Optional[str] = None, progress: bool = True) -> str:
    """Write the dataset folder ``out`` as WFDB records in PTB-XL's layout.

    Creates ``records100/00000/00001_lr.{hea,dat}`` (or ``records500/..._hr`` at 500 Hz), a
    ``ptbxl_database.csv`` whose ``scp_codes`` hold the conditioning statements (likelihood
    100) and whose ``strat_fold`` is the source record's, and ``scp_statements.csv``, so that
    PTB-XL tools (and :func:`sssd_hf.data.ptbxl.load_ptbxl`) read it unchanged.  Records already
    written are kept (resumable).  Returns the export folder.
    """
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from .wfdb_io import write_wfdb_record

    export_dir = export_dir or os.path.join(out, WFDB_DIR)
    shards = sorted(glob.glob(os.path.join(out, DATA_DIR, "*.parquet")))
    if not shards:
        raise FileNotFoundError(f"No parquet shards under {os.path.join(out, DATA_DIR)}: build the dataset first")
    with open(os.path.join(out, BUILD_DIR, "build.json"), encoding="utf-8") as f:
        state = json.load(f)
    rate = int(state["sampling_rate"])
    if rate not in RATE_LAYOUT:
        raise ValueError(f"PTB-XL's layout has records at {sorted(RATE_LAYOUT)} Hz; this dataset is at {rate} Hz")
    label_names = state["label_names"]
    rows = []
    total = sum(pq.ParquetFile(s).metadata.num_rows for s in shards)
    with tqdm(total=total, unit="record", desc="WFDB export", disable=not progress) as bar:
        for shard in shards:
            for batch in pq.ParquetFile(shard).iter_batches(batch_size=256):
                for row in _decode_rows(batch):
                    codes = [label_names[i] for i in row["labels"]]
                    relpath = record_relpath(row["ecg_id"], rate)
                    directory, name = os.path.split(os.path.join(export_dir, relpath))
                    if not os.path.isfile(os.path.join(directory, name + ".hea")):
                        write_wfdb_record(directory, name, row["signal"], rate, STANDARD_LEADS, comments=[
                            f"synthetic ECG generated by sssd-hf; conditioned on: {', '.join(codes)}",
                            f"source_ecg_id: {row['source_ecg_id']}"])
                    rows.append(_database_row(row, codes, rate, relpath))
                    bar.update(1)
    write_database(os.path.join(export_dir, DATABASE_FILE), sorted(rows, key=lambda r: r["ecg_id"]))
    write_statement_table(os.path.join(export_dir, STATEMENTS_FILE))
    return export_dir


def _decode_rows(batch):
    """Rows of a record batch as dicts with ``signal`` as a ``(12, L)`` float32 array."""
    columns = batch.to_pydict()
    for i in range(batch.num_rows):
        row = {name: values[i] for name, values in columns.items() if name != "signal"}
        row["signal"] = np.asarray(columns["signal"][i], dtype=np.float32)
        yield row


def _database_row(row, codes, rate, relpath) -> Dict:
    _, _, column = RATE_LAYOUT[rate]
    return {
        "ecg_id": row["ecg_id"],
        "report": f"synthetic ECG (sssd-hf), source ecg_id {row['source_ecg_id']}",
        "scp_codes": repr({code: 100.0 for code in codes}),
        "strat_fold": row["strat_fold"],
        column: relpath,
    }


# --------------------------------------------------------------------------- card


def _card_variables(state, split_rows, plan, repo_id) -> Dict:
    label_names = state["label_names"]
    counts = Counter(code for record in plan for code in record.labels)
    selection = state["settings"]["selection"]
    chosen = []
    if selection.get("splits"):
        chosen.append(f"splits {', '.join(selection['splits'])}")
    if selection.get("subset"):
        chosen.append(f"records carrying {', '.join(selection['subset'])}")
    if selection.get("per_statement"):
        chosen.append(f"at least min({selection['per_statement']}, available) records per statement, rarest first")
    if selection.get("limit"):
        chosen.append(f"the first {selection['limit']} records")
    if selection.get("oversample"):
        chosen.append("oversampled " + ", ".join(f"{c} x{f}" for c, f in selection["oversample"].items()))
    text = ("Selection: " + "; ".join(chosen) + ".") if chosen else "Every record with a statement in the vocabulary is copied once."
    if state["skipped_unlabeled"]:
        text += f" {state['skipped_unlabeled']} source record(s) had no statement in the model's vocabulary and were skipped."
    return {
        "pretty_name": state["pretty_name"],
        "pipeline_name": {"nle": "SSSD-ECG-nle", "multi_hot": "SSSD-ECG"}.get(state["label_embedding"], "SSSD-ECG"),
        "pipeline_class": state["pipeline_class"],
        "sssd_hf_version": state["sssd_hf_version"],
        "label_embedding": state["label_embedding"],
        "generated_leads": ", ".join(state["generated_leads"]),
        "model_id": state["model"],
        "weights": state["weights"] or [{"name": "parameters (sha256 of config and tensors)", "sha256": state["model_digest"]}],
        "training_data": state["training_data"],
        "source_name": "PTB-XL",
        "source_file": state["source_file"],
        "source_rows": state["source_rows"],
        "min_likelihood": selection["min_likelihood"],
        "selection": text,
        "num_inference_steps": state["settings"]["num_inference_steps"],
        "guidance_scale": state["settings"]["guidance_scale"],
        "seed": state["settings"]["seed"],
        "build_date": state["created"],
        "splits": describe_splits(split_rows, FOLD_SPLITS),
        "num_labels": len(label_names),
        "sample_length": state["sample_length"],
        "sampling_rate": state["sampling_rate"],
        "lead_names": ", ".join(STANDARD_LEADS),
        "repo_id": repo_id or "path/to/this/folder",
        "privacy_evaluation": state["privacy_evaluation"],
        "labels": [{"code": c, "description": describe(c).partition(" - ")[2] if c in STATEMENTS_BY_CODE else c, "count": counts[c]}
                   for c in label_names if counts[c]],
    }


_NO_PRIVACY_REPORT = (
    "No privacy evaluation was attached to this build. Before publishing, compare every synthetic "
    "ECG with its nearest real training record (for example the distance-to-closest-record "
    "distribution against real-to-real distances) and run a membership-inference test; attach the "
    "result with `--privacy-report FILE`."
)


def _read_privacy_report(path: Optional[str]) -> str:
    if path is None:
        return _NO_PRIVACY_REPORT
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--privacy-report file not found: {path}")
    with open(path, encoding="utf-8") as f:
        text = f.read().strip()
    if path.endswith(".json"):
        text = "\n".join(_json_lines(json.loads(text)))
    return text


def _json_lines(value, indent: str = "") -> List[str]:
    """A JSON privacy report as a nested Markdown list."""
    if not isinstance(value, dict):
        return [f"{indent}- {value}"]
    lines = []
    for key, item in value.items():
        if isinstance(item, dict):
            lines += [f"{indent}- **{key}**:"] + _json_lines(item, indent + "  ")
        else:
            lines.append(f"{indent}- **{key}**: {item}")
    return lines


# --------------------------------------------------------------------------- entry point


def _process_state():
    """``accelerate.PartialState`` of this process.  Launched by ``accelerate launch`` or
    ``torchrun`` it knows its rank; on a machine without GPU (or with ``ACCELERATE_USE_CPU``)
    the ranks talk over gloo on CPU; a plain ``python`` run is a single process."""
    import torch
    from accelerate import PartialState

    use_cpu = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes") or not torch.cuda.is_available()
    return PartialState(cpu=use_cpu)


def load_pipeline(model, device=None):
    """A pipeline object as is, or ``SSSDECGPipeline.from_pretrained(model)`` on ``device``."""
    if not isinstance(model, (str, os.PathLike)):
        return model.to(device) if device is not None else model
    from .. import SSSDECGPipeline

    pipe = SSSDECGPipeline.from_pretrained(os.fspath(model))
    return pipe.to(device) if device is not None else pipe


def build_synthetic_dataset(
    model,
    like: str | os.PathLike,
    out: str | os.PathLike,
    *,
    selection: Optional[Selection] = None,
    num_inference_steps: int = 200,
    batch_size: int = 16,
    guidance_scale: float = 1.0,
    seed: int = 0,
    chunk_size: int = 256,
    shard_size: int = 5000,
    wfdb_export: bool = False,
    license: str = "cc-by-4.0",
    pretty_name: str = "Synthetic PTB-XL (SSSD-ECG)",
    training_data: str = "not stated by the model; see its model card",
    privacy_report: Optional[str] = None,
    repo_id: Optional[str] = None,
    card_template: Optional[str] = None,
    progress: bool = True,
) -> BuildResult:
    """Build (or resume) a synthetic copy of ``like`` in ``out``; see the module docstring.

    Args:
        model: a pipeline folder or Hub id, or an ``SSSDECGPipeline`` object.
        like: PTB-XL folder or ``ptbxl_database.csv``-style file whose records are copied.
        out: output folder (Hub-ready dataset repository).
        selection: subset, per-statement count, limit, oversampling (:class:`Selection`).
        num_inference_steps, batch_size, guidance_scale, seed: sampling settings.
        chunk_size: ECGs per resumable chunk; shard_size: rows per parquet shard.
        wfdb_export: also write ``out/wfdb`` in PTB-XL's layout (:func:`export_wfdb`).
        license, pretty_name, training_data, privacy_report, repo_id, card_template: card content.
    """
    selection = selection or Selection()
    if num_inference_steps < 1 or batch_size < 1 or chunk_size < 1 or shard_size < 1:
        raise ValueError("--steps, --batch-size, --chunk-size and --shard-size must be >= 1")
    state_ = _process_state()
    pipe = load_pipeline(model, state_.device)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    config = pipe.model.config
    if not getattr(config, "label_names", None):
        raise ValueError("build-dataset needs a model conditioned on ECG statements; this one is unconditional")
    label_names = list(config.label_names)
    plan, stats = plan_synthetic(like, label_names, selection, seed)
    privacy_text = _read_privacy_report(privacy_report)
    resolve_template(card_template)  # fail before generating, not after

    settings = {
        "format": BUILD_FORMAT_VERSION,
        "model_digest": _model_digest(pipe),
        "source_sha256": _sha256_file(database_path(like)),
        "selection": asdict(selection) | {"oversample": dict(selection.oversample)},
        "num_inference_steps": int(num_inference_steps),
        "guidance_scale": float(guidance_scale),
        "seed": int(seed),
        "chunk_size": int(chunk_size),
    }
    plan_digest = hashlib.sha256(json.dumps([asdict(r) for r in plan]).encode()).hexdigest()
    fingerprint = hashlib.sha256(json.dumps([settings, plan_digest], sort_keys=True).encode()).hexdigest()[:16]
    paths = _Paths(os.path.abspath(os.fspath(out)))
    existing = _check_out_folder(paths, fingerprint, settings)  # every rank, before anyone writes
    num_chunks = math.ceil(len(plan) / chunk_size)
    pending = [] if existing and existing.get("complete") else [i for i in range(num_chunks) if not os.path.isfile(paths.chunk(i))]
    state_.wait_for_everyone()

    if state_.is_main_process and existing is None:
        os.makedirs(os.path.join(paths.build, "chunks"), exist_ok=True)
        _write_state(paths, _new_state(model, pipe, like, settings, fingerprint, stats, len(plan)))
    state_.wait_for_everyone()

    mine = pending[state_.process_index :: state_.num_processes]
    rank_desc = f" [rank {state_.process_index}/{state_.num_processes}]" if state_.num_processes > 1 else ""
    generated = _generate_pending(pipe, plan, mine, paths, settings, label_names, batch_size, rank_desc, progress) if mine else 0
    state_.wait_for_everyone()

    if state_.is_main_process:
        state = _read_state(paths)
        features = synthetic_features(label_names, state["sample_length"])
        if not state.get("complete"):
            state["split_rows"], state["split_bytes"] = _merge_chunks(paths, plan, num_chunks, features, shard_size)
        state.update(privacy_evaluation=privacy_text, training_data=training_data, pretty_name=pretty_name)
        write_card(paths.out, state, plan, features, license=license, repo_id=repo_id, card_template=card_template)
        if not state.get("complete"):
            state["complete"] = True
            _write_state(paths, state)
            shutil.rmtree(os.path.join(paths.build, "chunks"), ignore_errors=True)
        if wfdb_export:
            export_wfdb(paths.out, progress=progress)
    state_.wait_for_everyone()
    return BuildResult(out=paths.out, split_rows=_split_counts(plan), skipped_unlabeled=stats["skipped_unlabeled"],
                       generated_here=generated, process_index=state_.process_index, num_processes=state_.num_processes)


def write_card(out: str, state: Mapping, plan, features, license: str, repo_id: Optional[str], card_template: Optional[str]) -> None:
    """(Re)write ``out/README.md`` from the build state; the card-only options (license, privacy
    report, training data, name) can change between runs of the same build."""
    metadata = card_metadata(features, state["split_rows"], state["split_bytes"], DATA_DIR, license, state["pretty_name"])
    card = render_dataset_card(metadata, _card_variables(state, state["split_rows"], plan, repo_id), card_template)
    atomic_write_text(os.path.join(out, "README.md"), card)


def _new_state(model, pipe, like, settings, fingerprint, stats, num_records) -> Dict:
    """The ``build.json`` of a new build: settings plus the provenance the card reports."""
    from .. import __version__

    config = pipe.model.config
    local = isinstance(model, (str, os.PathLike)) and os.path.isdir(model)
    if isinstance(model, (str, os.PathLike)):  # a Hub id as given; a local folder by name only (no private paths)
        name = os.path.basename(os.path.abspath(model)) if local else os.fspath(model)
    else:
        name = f"in-memory {type(pipe).__name__}"
    return {
        "fingerprint": fingerprint, "settings": settings, "complete": False,
        "model": name, "model_digest": settings["model_digest"], "weights": _weight_files(os.fspath(model)) if local else [],
        "pipeline_class": type(pipe).__name__, "sssd_hf_version": __version__,
        "label_names": list(config.label_names), "label_embedding": str(getattr(config, "label_embedding", None)),
        "generated_leads": list(getattr(config, "generated_leads", STANDARD_LEADS)),
        "sampling_rate": int(config.sampling_rate), "sample_length": int(config.sample_length),
        "source_file": os.path.basename(database_path(like)), "source_rows": stats["source_rows"],
        "skipped_unlabeled": stats["skipped_unlabeled"], "num_records": num_records,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _write_state(paths: _Paths, state: Mapping) -> None:
    atomic_write_text(paths.state, json.dumps(state, indent=1, default=str))
