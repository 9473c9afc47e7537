"""Shared pieces of the benchmark scripts: timing, machine description, FLOP counts, output."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from typing import Callable, Dict, List

import torch

from sssd_hf.utils import atomic_write_text


def machine() -> Dict[str, str]:
    """What the numbers were measured on."""
    info = {"python": platform.python_version(), "torch": torch.__version__, "threads": str(torch.get_num_threads())}
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(0)
    else:
        cpu = platform.processor() or "cpu"
        try:
            with open("/proc/cpuinfo") as f:
                cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
        info["device"] = f"{cpu}, {os.cpu_count()} cores"
    return info


def timed(fn: Callable[[], object], repeats: int, device: str) -> List[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` (CUDA synchronised)."""
    out = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - start)
    return out


def peak_memory_mb(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
    except ImportError:
        return float("nan")


def forward_flops(config, batch: int, length: int) -> float:
    """Floating-point operations of one forward pass (multiply-add = 2), S4 kernels cached.

    Counts the convolutions and linear maps exactly and each real FFT of size n as
    2.5 n log2 n; elementwise work (gates, norms, GELU) is left out (< 2 %).
    """
    c, s, g, n_layers = config.channels, config.skip_channels, config.in_channels, config.num_layers
    h = 2 * c
    fft = 2.5 * (2 * length) * math.log2(2 * length)
    per_block = (
        2 * c * h * 3 * length  # width-3 conv C -> 2C
        + 2
        * (
            2 * h * h * length + 2 * h * fft + 8 * h * (length + 1)
        )  # two S4: output proj, rfft+irfft, spectrum product
        + 2 * c * c * length
        + 2 * c * s * length  # residual and skip 1x1
    )
    head = 2 * g * c * length + 2 * s * s * length + 2 * s * g * length
    return batch * (n_layers * per_block + head)


def write_results(path: str, results: dict) -> None:
    atomic_write_text(path, json.dumps(results, indent=2, sort_keys=True) + "\n")


def print_table(rows: List[Dict[str, object]], columns: List[str]) -> None:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in columns))


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)
