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

One module per job: :mod:`.plan` (1), :mod:`.generate` (2), :mod:`.merge` and :mod:`.card` (3),
:mod:`.wfdb_export`, :mod:`.state` (``OUT/.build``) and :mod:`.build` (the entry point); the
chunk engine is :mod:`sssd_hf.data.chunks`, shared with :mod:`sssd_hf.data.convert`, and the
upload is :mod:`sssd_hf.data.publish`.
"""

from .build import BuildResult, build_synthetic_dataset
from .card import write_card
from .generate import load_pipeline
from .plan import PlannedECG, Selection, parse_oversample, plan_synthetic, synthetic_features
from .state import BUILD_DIR, BUILD_FORMAT_VERSION, DATA_DIR, WFDB_DIR
from .wfdb_export import export_wfdb

__all__ = [
    "BUILD_DIR", "BUILD_FORMAT_VERSION", "BuildResult", "DATA_DIR", "PlannedECG", "Selection", "WFDB_DIR",
    "build_synthetic_dataset", "export_wfdb", "load_pipeline", "parse_oversample", "plan_synthetic",
    "synthetic_features", "write_card",
]
