"""Progress of long evaluation steps: a tqdm bar on a terminal, plain log lines otherwise.

On a terminal (stderr is a TTY) training shows a tqdm bar; when stderr goes to a file or a pipe
each epoch writes one line instead, so a log tells what is happening::

    [TRTR] epoch 3/30: loss 0.3121, val AUC 0.8012 (best 0.8012 at epoch 3), 41 s elapsed, at most 6m20s left

Modes (``TrainingConfig.progress`` and the ``mode`` arguments): ``"auto"`` (bar on a TTY, lines
otherwise), ``"bar"``, ``"lines"``, ``"none"``.  Everything goes to ``sys.stderr``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Iterator, Optional

MODES = ("auto", "bar", "lines", "none")


def resolve_mode(mode: str) -> str:
    """``"bar"``, ``"lines"`` or ``"none"`` for ``mode`` (``"auto"``: bar when stderr is a terminal)."""
    if mode not in MODES:
        raise ValueError(f"progress mode must be one of {list(MODES)}, got {mode!r}")
    if mode != "auto":
        return mode
    isatty = getattr(sys.stderr, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


def format_seconds(seconds: float) -> str:
    """``"41 s"``, ``"6m20s"``, ``"1h05m"``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def log_line(text: str, mode: str = "auto") -> None:
    """Write ``text`` as one line to stderr (through tqdm, so that it does not break a bar)."""
    mode = resolve_mode(mode)
    if mode == "none":
        return
    if mode == "bar":
        from tqdm.auto import tqdm

        tqdm.write(text, file=sys.stderr)
    else:
        print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def stage(name: str, detail: str = "", mode: str = "auto") -> Iterator[None]:
    """Log the start and the end (with elapsed time) of one step of the evaluation."""
    start = time.perf_counter()
    log_line(f"[{name}] started{': ' + detail if detail else ''}", mode)
    yield
    log_line(f"[{name}] done in {format_seconds(time.perf_counter() - start)}", mode)


class EpochProgress:
    """Progress of one classifier training: a bar over optimisation steps, or one line per epoch.

    Args:
        desc: what is trained (e.g. ``"TRTR"``); prefixes every line.
        epochs: the maximum number of epochs; steps_per_epoch: batches per epoch.
        mode: see the module docstring.
    """

    def __init__(self, desc: str, epochs: int, steps_per_epoch: int, mode: str = "auto"):
        self.desc, self.epochs, self.mode = desc, int(epochs), resolve_mode(mode)
        self.start = time.perf_counter()
        self.bar = None
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.epochs * steps_per_epoch, desc=desc, file=sys.stderr)

    def step(self) -> None:
        """One optimisation step done."""
        if self.bar is not None:
            self.bar.update(1)

    def epoch(
        self,
        epoch: int,
        loss: float,
        val_auc: Optional[float] = None,
        best_auc: Optional[float] = None,
        best_epoch: Optional[int] = None,
    ) -> None:
        """Report the end of ``epoch`` (1-based): mean training loss and validation macro AUC."""
        elapsed = time.perf_counter() - self.start
        left = elapsed / epoch * (self.epochs - epoch)
        if self.bar is not None:
            postfix = {"loss": f"{loss:.4f}"}
            if val_auc is not None:
                postfix["val_auc"] = f"{val_auc:.4f}"
            self.bar.set_postfix(postfix)
            return
        if self.mode == "none":
            return
        parts = [f"[{self.desc}] epoch {epoch}/{self.epochs}: loss {loss:.4f}"]
        if val_auc is not None:
            best = f" (best {best_auc:.4f} at epoch {best_epoch})" if best_auc is not None else ""
            parts.append(f"val AUC {val_auc:.4f}{best}")
        parts.append(f"{format_seconds(elapsed)} elapsed")
        parts.append(f"at most {format_seconds(left)} left" if epoch < self.epochs else "last epoch")
        log_line(", ".join(parts), self.mode)

    def close(self, message: Optional[str] = None) -> None:
        """Close the bar; log ``message`` (e.g. why training stopped)."""
        if self.bar is not None:
            self.bar.close()
        if message:
            log_line(f"[{self.desc}] {message}", self.mode)
