"""``sssd-ecg convert-ptbxl``, ``convert-wfdb`` and ``build-dataset``.

Heavy libraries (``datasets``, ``torch``) are imported only when a command runs, so that
``sssd-ecg --help`` stays fast and works without the ``data`` extra.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import List, Optional

from ..schedulers.samplers import SAMPLERS


def add_parser(subparsers) -> None:
    """Register the data sub-commands on the ``sssd-ecg`` parser."""
    _add_convert_ptbxl(subparsers)
    _add_convert_wfdb(subparsers)
    _add_build_dataset(subparsers)


# --------------------------------------------------------------------------- shared options


def _split_list(text: Optional[str]) -> Optional[List[str]]:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _add_conversion_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", required=True, help="folder to write (datasets.load_from_disk format); must not exist"
    )
    parser.add_argument(
        "--vocabulary",
        default="all",
        help="label vocabulary: all, diagnostic, form, rhythm, subdiagnostic, superdiagnostic, "
        "or comma-separated codes (default: all)",
    )
    parser.add_argument(
        "--min-likelihood",
        type=float,
        default=0.0,
        help="ignore statements below this likelihood in percent (default: 0)",
    )
    parser.add_argument("--num-workers", type=int, default=None, help="worker processes (default: CPU count; 0: none)")
    parser.add_argument("--chunk-size", type=int, default=500, help="records per cached Arrow chunk (default: 500)")
    parser.add_argument(
        "--cache-dir", default=None, help="root of the Arrow cache (default: $HF_DATASETS_CACHE/sssd_hf)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _save_conversion(result, out: str) -> int:
    """Save a :class:`~sssd_hf.data.convert.ConversionResult` to ``out`` with its report."""
    import shutil

    from ..utils import atomic_path

    if os.path.exists(out):
        raise ValueError(f"--out {out} already exists; choose a new folder")
    with atomic_path(out) as tmp:
        result.dataset.save_to_disk(tmp)
        shutil.copyfile(result.report_path, os.path.join(tmp, "rejected.csv"))
    sizes = ", ".join(f"{split}: {len(ds)}" for split, ds in result.dataset.items())
    print(
        f"Wrote {out} ({sizes}); {len(result.rejected)} record(s)/window(s) rejected, "
        f"listed in {os.path.join(out, 'rejected.csv')}"
    )
    for rejection in result.rejected[:5]:
        print(f"  rejected {rejection.record}: {rejection.reason}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- convert-ptbxl


def _add_convert_ptbxl(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert-ptbxl",
        help="convert a PTB-XL folder into a datasets folder (train = folds 1-8, validation = 9, test = 10)",
        description="Read PTB-XL's WFDB records in parallel into Arrow (cached: a second run is instant) and save "
        "a DatasetDict with ecg_id, patient_id, signal (12 x L, mV), labels, age, sex, strat_fold.",
    )
    parser.add_argument("root", help="PTB-XL folder (ptbxl_database.csv, records100/ or records500/)")
    parser.add_argument(
        "--sampling-rate", type=int, choices=(100, 500), default=100, help="which copy of PTB-XL to read (Hz)"
    )
    parser.add_argument("--splits", default=None, help="comma-separated subset of train,validation,test")
    parser.add_argument("--limit", type=int, default=None, help="only the first N records (by ecg_id)")
    parser.add_argument(
        "--drop-unlabeled", action="store_true", help="leave out records with no statement in the vocabulary"
    )
    _add_conversion_options(parser)
    parser.set_defaults(func=_run_convert_ptbxl)


def _run_convert_ptbxl(args) -> int:
    from .ptbxl import convert_ptbxl

    result = convert_ptbxl(
        args.root,
        sampling_rate=args.sampling_rate,
        vocabulary=args.vocabulary,
        min_likelihood=args.min_likelihood,
        splits=_split_list(args.splits),
        limit=args.limit,
        drop_unlabeled=args.drop_unlabeled,
        cache_dir=args.cache_dir,
        num_workers=args.num_workers,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
    )
    return _save_conversion(result, args.out)


# --------------------------------------------------------------------------- convert-wfdb


def _add_convert_wfdb(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert-wfdb",
        help="convert any folder of WFDB records (+ a labels CSV) into a datasets folder of 12-lead windows",
        description="Lead names are matched case-insensitively, records resampled and cut into windows; records "
        "missing a lead, too short, with NaN or flat lines, or with missing/corrupt files are listed in rejected.csv.",
    )
    parser.add_argument("folder", help="root folder of the WFDB records")
    parser.add_argument(
        "--labels", default=None, help="CSV with one row per record (default: every *.hea, unlabelled)"
    )
    parser.add_argument("--record-column", default="record", help="CSV column with the record path relative to FOLDER")
    parser.add_argument(
        "--labels-column", default="labels", help="CSV column with statement codes or a scp_codes dict"
    )
    parser.add_argument("--split-column", default=None, help="CSV column with the split name (default: all in train)")
    parser.add_argument("--sampling-rate", type=float, default=100.0, help="target rate in Hz (default: 100)")
    parser.add_argument("--window-seconds", type=float, default=10.0, help="window length in seconds (default: 10)")
    parser.add_argument(
        "--window-stride-seconds",
        type=float,
        default=None,
        help="seconds between windows (default: first window only)",
    )
    parser.add_argument("--max-windows", type=int, default=1, help="windows per record at most (0: all; default 1)")
    _add_conversion_options(parser)
    parser.set_defaults(func=_run_convert_wfdb)


def _run_convert_wfdb(args) -> int:
    from .wfdb_folder import convert_wfdb_folder

    result = convert_wfdb_folder(
        args.folder,
        args.labels,
        sampling_rate=args.sampling_rate,
        window_seconds=args.window_seconds,
        window_stride_seconds=args.window_stride_seconds,
        max_windows=args.max_windows or None,
        vocabulary=args.vocabulary,
        min_likelihood=args.min_likelihood,
        record_column=args.record_column,
        labels_column=args.labels_column if args.labels else None,
        split_column=args.split_column,
        cache_dir=args.cache_dir,
        num_workers=args.num_workers,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
    )
    return _save_conversion(result, args.out)


# --------------------------------------------------------------------------- build-dataset


def _add_build_dataset(subparsers) -> None:
    parser = subparsers.add_parser(
        "build-dataset",
        help="generate a synthetic copy of PTB-XL as a Hub-ready dataset folder (parquet + dataset card)",
        description="One synthetic ECG per real record, conditioned on its statements and kept in its fold. "
        "Chunked and resumable (run the same command again after an interruption); run it with "
        "`accelerate launch -m sssd_hf.cli build-dataset ...` to split the work across GPUs or nodes.",
    )
    parser.add_argument("--model", default=None,
                        help="pipeline folder or Hub id (default: the bundled PTB-XL pipeline)")
    parser.add_argument(
        "--like", required=True, help="PTB-XL folder or ptbxl_database.csv-style file whose records are copied"
    )
    parser.add_argument("--out", required=True, help="output folder (dataset repository)")
    select = parser.add_argument_group("selection")
    select.add_argument("--splits", default=None, help="comma-separated subset of train,validation,test")
    select.add_argument("--subset", default=None, help="only records carrying any of these comma-separated statements")
    select.add_argument(
        "--per-statement",
        type=int,
        default=None,
        metavar="COUNT",
        help="pick records (rarest statement first) until each statement has at least min(COUNT, available)",
    )
    select.add_argument("--limit", type=int, default=None, help="only the first N selected records")
    select.add_argument("--oversample", action="append", default=[], metavar="CODE=FACTOR",
                        help="generate FACTOR ECGs for each record carrying CODE (repeatable)")
    select.add_argument(
        "--min-likelihood", type=float, default=0.0, help="ignore statements below this likelihood (percent)"
    )
    sampling = parser.add_argument_group("sampling")
    sampling.add_argument("--scheduler", default=None, choices=list(SAMPLERS),
                          help="sampler (default: the pipeline's default_sampler, else ddpm, its own scheduler)")
    sampling.add_argument("--steps", type=int, default=None,
                          help="denoising steps (default: the sampler's: every step for ddpm, 20 for dpm-sde ...)")
    sampling.add_argument("--batch-size", type=int, default=16, help="ECGs denoised at once per process (default: 16)")
    sampling.add_argument(
        "--guidance-scale", type=float, default=None, metavar="G",
        help="classifier-free guidance, >= 0; != 1 needs a model trained for it (default: the pipeline's "
        "default_guidance_scale, else 1 = none)",
    )
    sampling.add_argument("--seed", type=int, default=0, help="seed; each ECG's noise is seeded by (seed, ecg_id)")
    output = parser.add_argument_group("output")
    output.add_argument("--chunk-size", type=int, default=256, help="ECGs per resumable chunk (default: 256)")
    output.add_argument("--shard-size", type=int, default=5000, help="rows per parquet shard (default: 5000)")
    output.add_argument("--wfdb-export", action="store_true", help="also write OUT/wfdb in PTB-XL's own layout")
    output.add_argument(
        "--license", default="cc-by-4.0", help="license of the dataset card (default: cc-by-4.0, as PTB-XL)"
    )
    output.add_argument("--pretty-name", default="Synthetic PTB-XL (SSSD-ECG)", help="dataset card title")
    output.add_argument("--training-data", default="not stated by the model; see its model card",
                        help="what the model was trained on, for the card (e.g. 'PTB-XL folds 1-8')")
    output.add_argument(
        "--privacy-report", default=None, help="Markdown or JSON privacy evaluation to include in the card"
    )
    output.add_argument(
        "--card-template", default=None, help="Jinja template of the card (default: dataset_card/template.md)"
    )
    output.add_argument(
        "--push-to-hub",
        default=None,
        metavar="REPO_ID",
        help="upload the finished folder to this Hub dataset repository",
    )
    output.add_argument("--private", action="store_true", help="create the Hub repository as private")
    output.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run_build_dataset)


def _run_build_dataset(args) -> int:
    from ..cli import CLIError
    from ..generate_cli import resolve_model_path
    from .publish import HubUploadError, push_dataset_folder
    from .synthetic import Selection, build_synthetic_dataset, parse_oversample

    model = resolve_model_path(args.model)  # --model, else the bundled pipeline
    if args.steps is not None and args.steps < 1:
        raise CLIError(f"--steps must be at least 1, got {args.steps}")
    if args.guidance_scale is not None and not (math.isfinite(args.guidance_scale) and args.guidance_scale >= 0):
        raise CLIError(f"--guidance-scale must be a finite number >= 0, got {args.guidance_scale}")
    selection = Selection(
        splits=_split_list(args.splits), subset=_split_list(args.subset), per_statement=args.per_statement,
        limit=args.limit, oversample=parse_oversample(args.oversample), min_likelihood=args.min_likelihood,
    )
    result = build_synthetic_dataset(
        model, args.like, args.out, selection=selection, num_inference_steps=args.steps, scheduler=args.scheduler,
        batch_size=args.batch_size,
        guidance_scale=args.guidance_scale, seed=args.seed, chunk_size=args.chunk_size, shard_size=args.shard_size,
        wfdb_export=args.wfdb_export, license=args.license, pretty_name=args.pretty_name,
        training_data=args.training_data, privacy_report=args.privacy_report, repo_id=args.push_to_hub,
        card_template=args.card_template, progress=not args.no_progress,
    )
    if result.num_processes > 1:
        print(f"process {result.process_index}/{result.num_processes}: generated {result.generated_here} ECG(s)")
    if not result.is_main_process:
        return 0
    sizes = ", ".join(f"{split}: {rows}" for split, rows in result.split_rows.items())
    print(f"Dataset ready in {result.out} ({sizes}); load it with datasets.load_dataset({result.out!r})")
    print(f"Skipped {result.skipped_unlabeled} source row(s) that carry no statement the model knows")
    if args.push_to_hub:
        try:
            url = push_dataset_folder(result.out, args.push_to_hub, private=args.private)
        except HubUploadError as exc:
            raise CLIError(str(exc)) from None
        print(f"Uploaded to {url}")
    return 0
