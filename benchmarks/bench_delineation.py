"""Accuracy of the delineator (``sssd-ecg measure``) against cardiologists' annotations of LUDB.

For each held-out LUDB record (default 51-100; the network was fitted on records 1-40 and its
post-processing chosen on 41-50), the record is measured at 500 Hz and after resampling to 100 Hz,
and compared with the per-record medians of its lead II annotations
(:func:`sssd_hf.evaluation.ludb.reference_intervals`).  Printed per measure: median over records of
|measured - annotated|, the median of measured - annotated (bias), coverage (records with an
annotated value that got a measured one) and the accuracy targets; then the no-P-wave check
(PR must be empty where the annotators marked no P wave) and the time ``measure`` takes.

    python benchmarks/bench_delineation.py --ludb ../shared/data/ludb --records 51-100
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from sssd_hf.evaluation import delineation, ludb  # noqa: E402

#: Accuracy targets (ms, bpm) of issue 14: median |error| per measure, and minimal coverage.
TARGETS = {500: {"heart_rate_bpm": 2.0, "pr_ms": 15.0, "qrs_ms": 10.0, "qt_ms": 20.0},
           100: {"heart_rate_bpm": 2.0, "pr_ms": 20.0, "qrs_ms": 15.0, "qt_ms": 25.0}}
MIN_COVERAGE = {500: 0.9, 100: 0.8}


def parse_records(text: str):
    out = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def accuracy_table(comparison, rate: int) -> str:
    table = ludb.error_table(comparison)
    lines = ["| measure | median abs error | bias | coverage | target (median abs error, coverage) | met |",
             "|---|---|---|---|---|---|"]
    for name, row in table.iterrows():
        target = TARGETS[rate][name]
        need = MIN_COVERAGE[rate] if name in ("qrs_ms", "qt_ms") else 0.0
        met = row["median_abs_error"] <= target and row["coverage"] >= need
        unit = "bpm" if name == "heart_rate_bpm" else "ms"
        coverage = f"{row['coverage'] * 100:.0f} % ({int(row['n'])})"
        lines.append(f"| {name} | {row['median_abs_error']:.1f} {unit} | {row['bias']:+.1f} {unit} | {coverage} | "
                     f"<= {target:g} {unit}" + (f", >= {need * 100:.0f} %" if need else "")
                     + f" | {'yes' if met else 'NO'} |")
    return "\n".join(lines)


def p_wave_check(comparison) -> str:
    no_p = comparison[comparison["ref_n_p_waves"] == 0]
    wrong = no_p[no_p["pr_ms"].notna()]
    with_p = comparison[comparison["ref_n_p_waves"] > 0]
    missed = with_p[with_p["pr_ms"].isna()]
    return (f"records without annotated P waves: {len(no_p)} ({', '.join(map(str, no_p['record']))}); "
            f"PR reported for {len(wrong)}" + (f" ({', '.join(map(str, wrong['record']))})" if len(wrong) else "")
            + f"\nrecords with annotated P waves: {len(with_p)}; PR missing for {len(missed)}"
            + (f" ({', '.join(map(str, missed['record']))})" if len(missed) else ""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ludb", default=os.path.join(ROOT, "..", "shared", "data", "ludb"))
    parser.add_argument("--records", default="51-100", help="held-out records to report on")
    parser.add_argument("--csv", help="also write the per-record comparison (both rates) here")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.ludb):
        print(f"LUDB not found at {args.ludb}", file=sys.stderr)
        return 2
    records = parse_records(args.records)
    trained_on = _trained_on()
    print(f"delineator weights: {trained_on}; reported on LUDB records {args.records} ({len(records)} records)")
    frames = []
    for rate in (500, 100):
        start = time.perf_counter()
        comparison = ludb.compare_with_annotations(args.ludb, records, None if rate == 500 else rate)
        seconds = time.perf_counter() - start
        print(f"\n### {rate} Hz ({seconds:.1f} s including reading and resampling)\n")
        print(accuracy_table(comparison, rate))
        print("\n" + p_wave_check(comparison))
        frames.append(comparison.assign(rate_hz=rate))
    _time_measure(args.ludb)
    if args.csv:
        import pandas as pd

        pd.concat(frames).to_csv(args.csv, index=False, float_format="%.1f")
    return 0


def _time_measure(ludb_dir: str) -> None:
    """Seconds for :func:`sssd_hf.evaluation.measure.measure` of all LUDB records at 100 Hz (read beforehand)."""
    from sssd_hf.evaluation.measure import Record, check_record, measure

    ids = ludb.record_ids(ludb_dir)
    records = []
    for i in ids:
        signal, fs, _ = ludb.read_record(ludb_dir, i)
        records.append(check_record(Record(str(i), "ludb", delineation.resample(signal, fs, 100), 100.0,
                                           list(ludb.LUDB_LEADS))))
    measure(records[:2])  # load the network
    start = time.perf_counter()
    table = measure(records)
    seconds = time.perf_counter() - start
    print(f"\nmeasure() of {len(table)} records at 100 Hz (12 leads, 10 s): {seconds:.1f} s")


def _trained_on() -> str:
    from safetensors import safe_open

    with safe_open(delineation.WEIGHTS_PATH, framework="pt") as handle:
        meta = handle.metadata() or {}
    return meta.get("trained_on", "unknown")


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
