#!/usr/bin/env python
"""Train SSSD-ECG / SSSD-ECG-nle with accelerate and export a pipeline folder.

    accelerate launch training/train_sssd_ecg.py --config training/configs/sssd_ecg_nle_afib.yaml \\
        --dataset data/ptbxl [--key value ...] [--resume latest]

Every setting of the YAML config can be overridden as ``--key value`` (``--model.channels 64``
for model settings).  ``--resume latest`` continues from the newest complete checkpoint in
``output_dir/checkpoints`` (or starts afresh when there is none); ``--resume PATH`` from a given one.
The run ends with ``output_dir/pipeline`` (EMA weights), loadable with
``SSSDECGPipeline.from_pretrained``.  See ``training/README.md``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train SSSD-ECG / SSSD-ECG-nle (any config key can be overridden with --key value)",
        usage="%(prog)s --config CONFIG.yaml [--resume latest|PATH] [--key value ...]",
    )
    parser.add_argument("--config", required=True, help="YAML config (see training/configs/)")
    parser.add_argument("--resume", default=None, help="'latest' or a checkpoint folder")
    args, overrides = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from sssd_hf.training import CheckpointError, ConfigError, load_config, run_training

    try:
        config = load_config(args.config, overrides)
        pipeline_dir = run_training(
            config, resume=args.resume, argv=sys.argv if argv is None else ["training/train_sssd_ecg.py", *argv]
        )
    except (ConfigError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"pipeline saved to {pipeline_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
