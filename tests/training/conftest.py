"""Fixtures for the training tests: a small DatasetDict in the PTB-XL layout and a launcher."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Optional

import numpy as np
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_SCRIPT = os.path.join(REPO_ROOT, "training", "train_sssd_ecg.py")
TINY_CONFIG = os.path.join(REPO_ROOT, "training", "configs", "tiny_cpu.yaml")
VOCABULARY = ("SBRAD", "SR", "STACH", "AFIB")
SAMPLE_LENGTH = 128


def make_dataset_dict(
    num_train: int = 24, num_validation: int = 6, length: int = SAMPLE_LENGTH, seed: int = 0, nan_ids=()
):
    """Random ECG-like records with the features of the PTB-XL datasets (``ecg_id`` 1..N);
    the records ``nan_ids`` are all NaN."""
    from datasets import Dataset, DatasetDict

    from sssd_hf.data.ptbxl import ptbxl_features

    features = ptbxl_features(VOCABULARY, length)
    rng = np.random.default_rng(seed)

    def split(n: int, first_id: int):
        ids = list(range(first_id, first_id + n))
        return Dataset.from_dict(
            {
                "ecg_id": ids,
                "patient_id": ids,
                "signal": [
                    np.full((12, length), np.nan, np.float32)
                    if i in nan_ids
                    else (0.2 * rng.standard_normal((12, length))).astype(np.float32)
                    for i in ids
                ],
                "labels": [[i % 3] if i % 5 else [i % 3, 3] for i in ids],  # every 5th also AFIB
                "age": [None] * n,
                "sex": [None] * n,
                "strat_fold": [1] * n,
            },
            features=features,
        )

    return DatasetDict({"train": split(num_train, 1), "validation": split(num_validation, 1000)})


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("data") / "tiny")
    make_dataset_dict().save_to_disk(path)
    return path


def run_training(
    args: List[str], env: Optional[dict] = None, processes: int = 1, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``training/train_sssd_ecg.py --config tiny_cpu.yaml ARGS`` in fresh process(es).

    One process: ``python train_sssd_ecg.py`` (what ``accelerate launch`` runs for one process).
    Several: ``accelerate launch --multi_gpu --num_processes N`` with ``ACCELERATE_USE_CPU=1``,
    i.e. torch.distributed with the gloo backend on the CPU.
    """
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", **(env or {})}
    script = [TRAIN_SCRIPT, "--config", TINY_CONFIG, *args]
    if processes == 1:
        cmd = [sys.executable, *script]
    else:
        full_env["ACCELERATE_USE_CPU"] = "1"
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(_free_port()), *script]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
