"""Merge finished chunks into the published ``data/<split>-0000i-of-0000n.parquet`` shards."""

from __future__ import annotations

import glob
import os
from typing import Dict, Tuple

from ..chunks import ShardedParquetWriter
from .plan import _split_counts
from .state import DATA_DIR, _Paths


def _shard_path(paths: _Paths, split: str):
    return lambda index, count: paths.shard(split, index, count)


def _merge_chunks(
    paths: _Paths, plan, num_chunks: int, features, shard_size: int
) -> Tuple[Dict[str, int], Dict[str, int]]:
    """Stream the chunk files, in order, into parquet shards per split (one pass, one chunk in
    memory); returns rows and Arrow bytes per split."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    missing = [i for i in range(num_chunks) if not os.path.isfile(paths.chunk(i))]
    if missing:
        raise RuntimeError(
            f"chunk(s) {missing[:10]} of {num_chunks} are missing; run the same command again to finish them"
        )
    schema = features.arrow_schema
    split_rows = _split_counts(plan)
    os.makedirs(os.path.join(paths.out, DATA_DIR), exist_ok=True)
    for stale in glob.glob(os.path.join(paths.out, DATA_DIR, "*.parquet")):
        os.unlink(stale)  # shards of an interrupted merge of this same build
    writers = {split: ShardedParquetWriter(_shard_path(paths, split), rows, shard_size, schema)
               for split, rows in split_rows.items()}
    for chunk_index in range(num_chunks):
        table = pq.read_table(paths.chunk(chunk_index))
        for split, writer in writers.items():
            writer.write(table.filter(pc.equal(table["split"], split)).select(schema.names).cast(schema))
    for split, writer in writers.items():
        writer.close()
        if writer.written != split_rows[split]:
            raise RuntimeError(f"{split}: merged {writer.written} rows but the plan has {split_rows[split]}")
    return split_rows, {split: writer.nbytes for split, writer in writers.items()}
