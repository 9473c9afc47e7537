"""Throughput, peak memory and a plain metrics log beside the accelerate trackers."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any, Dict, Optional

import torch


def peak_memory_mb(device: torch.device) -> Dict[str, float]:
    """Peak memory so far in MiB: ``gpu_peak_memory_mb`` (allocated by PyTorch on ``device``)
    for CUDA, and always ``cpu_peak_rss_mb`` (the process's peak resident set size)."""
    out = {}
    if device.type == "cuda":
        out["gpu_peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    out["cpu_peak_rss_mb"] = rss / (2**20 if sys.platform == "darwin" else 2**10)
    return out


class ThroughputMeter:
    """Samples per second between two :meth:`rate` calls (wall clock, all processes together)."""

    def __init__(self):
        self._start = time.perf_counter()
        self._samples = 0

    def add(self, samples: int) -> None:
        self._samples += samples

    def rate(self) -> Dict[str, float]:
        """``{"samples_per_second", "seconds_per_step_window"}`` since the last call; resets."""
        now = time.perf_counter()
        elapsed = max(now - self._start, 1e-9)
        out = {"samples_per_second": self._samples / elapsed, "window_seconds": elapsed}
        self._start, self._samples = now, 0
        return out


class MetricsLog:
    """Appends one JSON object per logging event to ``path`` (main process only)."""

    def __init__(self, path: Optional[str]):
        self.path = path
        if path:
            os.makedirs(os.path.dirname(path), exist_ok=True)

    def write(self, step: int, metrics: Dict[str, Any]) -> None:
        if not self.path:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, **metrics}, sort_keys=True) + "\n")
