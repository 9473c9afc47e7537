"""The one resumable, chunked writer behind :mod:`sssd_hf.data.convert` (WFDB -> Arrow cache) and
:mod:`sssd_hf.data.synthetic` (generated ECGs -> parquet).

A job is cut into :class:`Chunk` s of at most ``chunk_size`` items; a chunk is *done* when all
its output files exist, and each output is written under a temporary name and renamed when
complete (:func:`sssd_hf.utils.atomic_path`), so a killed run loses only the chunks in progress
and the next run does only the pending ones.  :func:`run_chunks` works through the pending
chunks in this process or in a bounded process pool; :func:`for_process` gives each of several
cooperating processes (``accelerate launch``) a disjoint share; :class:`ShardedParquetWriter`
streams rows into fixed-size parquet shards.
"""

from __future__ import annotations

import concurrent.futures as futures
import math
import multiprocessing
import os
import sys
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from ..utils import atomic_path


@dataclass(frozen=True)
class Chunk:
    """Items ``start:stop`` of group ``group`` (a split), the ``index``-th chunk of that group.

    Attributes:
        outputs: the files the chunk writes; the chunk is done when all of them exist (write
            the one that marks completion last).
    """

    group: str
    index: int
    start: int
    stop: int
    outputs: Tuple[str, ...]

    @property
    def size(self) -> int:
        return self.stop - self.start

    def is_done(self) -> bool:
        return all(os.path.isfile(path) for path in self.outputs)


def plan_chunks(group_sizes: Mapping[str, int], chunk_size: int,
                outputs_of: Callable[[str, int], Tuple[str, ...]]) -> List[Chunk]:
    """Chunks of ``chunk_size`` items over each group of ``group_sizes`` (``{group: items}``), in
    order; ``outputs_of(group, index)`` names each chunk's files."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    chunks = []
    for group, size in group_sizes.items():
        for index, start in enumerate(range(0, size, chunk_size)):
            chunks.append(Chunk(group, index, start, min(start + chunk_size, size), tuple(outputs_of(group, index))))
    return chunks


def pending_chunks(chunks: Sequence[Chunk]) -> List[Chunk]:
    """The chunks not done yet."""
    return [chunk for chunk in chunks if not chunk.is_done()]


def for_process(pending: Sequence[Chunk], process_index: int, num_processes: int) -> List[Chunk]:
    """The share of process ``process_index`` of ``num_processes``: every ``num_processes``-th chunk."""
    return list(pending[process_index::num_processes])


def default_start_method() -> str:
    """``fork`` on Linux (workers start instantly with everything imported, as ``datasets.map``
    does), ``spawn`` elsewhere."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


def run_chunks(
    pending: Sequence[Chunk],
    work: Callable,
    arguments: Callable[[Chunk], tuple],
    *,
    num_workers: int = 0,
    start_method: Optional[str] = None,
    progress: bool = True,
    desc: str = "",
    unit: str = "item",
    total: Optional[int] = None,
    initial: int = 0,
) -> None:
    """Call ``work(*arguments(chunk))`` for every pending chunk.

    With ``num_workers <= 1`` in this process, in order; otherwise in a process pool with at most
    two chunks per worker in flight (memory stays bounded), ``work`` then being a picklable
    module-level function.  The progress bar (``total`` items, ``initial`` already done) advances
    by each chunk's size; an error in any chunk stops the run (finished chunks stay done).
    """
    from tqdm.auto import tqdm

    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    num_workers = min(num_workers, len(pending))
    total = sum(chunk.size for chunk in pending) + initial if total is None else total
    with tqdm(total=total, initial=initial, unit=unit, desc=desc, disable=not progress) as bar:
        if num_workers <= 1:
            for chunk in pending:
                work(*arguments(chunk))
                bar.update(chunk.size)
            return
        context = multiprocessing.get_context(start_method or default_start_method())
        with futures.ProcessPoolExecutor(max_workers=num_workers, mp_context=context) as pool:
            queue, in_flight = iter(pending), {}
            try:
                while True:
                    while len(in_flight) < 2 * num_workers:
                        chunk = next(queue, None)
                        if chunk is None:
                            break
                        in_flight[pool.submit(work, *arguments(chunk))] = chunk
                    if not in_flight:
                        return
                    done, _ = futures.wait(in_flight, return_when=futures.FIRST_COMPLETED)
                    for future in done:
                        chunk = in_flight.pop(future)
                        future.result()  # errors writing a chunk (disk full...) stop the run
                        bar.update(chunk.size)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def write_parquet(path: str, table) -> None:
    """Write a pyarrow ``table`` to ``path`` atomically."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


class ShardedParquetWriter:
    """``rows`` rows streamed into shards of ``shard_size`` rows, shard ``i`` of ``n`` written to
    ``path_of(i, n)`` under a temporary name renamed when the shard is full (or closed)."""

    def __init__(self, path_of: Callable[[int, int], str], rows: int, shard_size: int, schema):
        self.path_of, self.shard_size, self.schema = path_of, shard_size, schema
        self.num_shards = math.ceil(rows / shard_size)
        self.shard, self.in_shard, self.written, self.nbytes = 0, 0, 0, 0
        self._writer = self._context = None

    def write(self, table) -> None:
        import pyarrow.parquet as pq

        offset = 0
        while offset < table.num_rows:
            if self._writer is None:
                self._context = atomic_path(self.path_of(self.shard, self.num_shards))
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
