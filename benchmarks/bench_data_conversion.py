"""Conversion speed of PTB-XL -> Arrow (records per second) for several worker counts.

Writes a PTB-XL-layout folder (real metadata rows, sinusoid signals written with wfdb.wrsamp),
converts it cold (empty cache) with each worker count, then once more warm (everything cached),
and prints a table; ``--json`` also writes the numbers.

    python benchmarks/bench_data_conversion.py --records 400 --workers 1 2 4 --json bench_data.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time

DEFAULT_METADATA = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "..",
    "shared",
    "data",
    "ptbxl",
    "ptbxl_database_subset.csv",
)


def _convert(root, cache_dir, workers, chunk_size, start_method, sampling_rate):
    import sssd_hf.data.convert as convert
    from sssd_hf.data.ptbxl import convert_ptbxl

    if start_method:  # the engine's default is fork on Linux
        convert._default_start_method = lambda: start_method
    cpu_before, start = _cpu_seconds(), time.perf_counter()
    result = convert_ptbxl(root, sampling_rate=sampling_rate, cache_dir=cache_dir, num_workers=workers,
                           chunk_size=chunk_size, progress=False)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_before
    return seconds, cpu, sum(len(split) for split in result.dataset.values()), len(result.rejected)


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished worker processes."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--metadata", default=DEFAULT_METADATA, help="ptbxl_database.csv (or a subset) to take rows from"
    )
    parser.add_argument("--records", type=int, default=400, help="records in the generated folder")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2, 4], help="worker counts to measure (1 = in-process)"
    )
    parser.add_argument("--chunk-size", type=int, default=50)
    parser.add_argument("--sampling-rate", type=int, choices=(100, 500), default=100)
    parser.add_argument("--start-method", choices=("fork", "spawn", "forkserver"), default=None)
    parser.add_argument("--repeats", type=int, default=2, help="cold runs per worker count (the best is kept)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)

    from sssd_hf.data.fixtures import write_ptbxl_fixture

    work = tempfile.mkdtemp(prefix="bench-data-")
    try:
        root = os.path.join(work, "ptbxl")
        start = time.perf_counter()
        write_ptbxl_fixture(root, args.metadata, num_records=args.records, sampling_rates=(args.sampling_rate,))
        print(
            f"fixture: {args.records} records at {args.sampling_rate} Hz written in "
            f"{time.perf_counter() - start:.1f} s"
        )
        rows = []
        for workers in args.workers:
            best = None
            for repeat in range(args.repeats):
                cache = os.path.join(work, f"cache-{workers}-{repeat}")
                seconds, cpu, converted, rejected = _convert(
                    root, cache, workers, args.chunk_size, args.start_method, args.sampling_rate
                )
                assert converted == args.records and rejected == 0, (converted, rejected)
                if best is None or seconds < best[0]:
                    best = (seconds, cpu)
            warm = _convert(root, cache, workers, args.chunk_size, args.start_method, args.sampling_rate)[0]
            rows.append(
                {
                    "workers": workers,
                    "cold_seconds": round(best[0], 3),
                    "records_per_second": round(args.records / best[0], 1),
                    "cpu_ms_per_record": round(1000 * best[1] / args.records, 2),
                    "warm_seconds": round(warm, 3),
                }
            )
        print(f"\n{'workers':>7} | {'cold s':>7} | {'records/s':>9} | {'CPU ms/record':>13} | {'cached reload s':>15}")
        print(f"{'-' * 7}-+-{'-' * 7}-+-{'-' * 9}-+-{'-' * 13}-+-{'-' * 15}")
        for row in rows:
            print(f"{row['workers']:>7} | {row['cold_seconds']:>7.2f} | {row['records_per_second']:>9.1f} | "
                  f"{row['cpu_ms_per_record']:>13.2f} | {row['warm_seconds']:>15.3f}")
        report = {
            "benchmark": "PTB-XL layout -> Arrow (sssd_hf.data.convert_ptbxl)",
            "records": args.records, "sampling_rate": args.sampling_rate, "chunk_size": args.chunk_size,
            "start_method": args.start_method or "default (fork on Linux)",
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "load_average_1min": round(os.getloadavg()[0], 2)},
            "results": rows,
        }
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(report, f, indent=1)
            print(f"\nwrote {args.json}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
