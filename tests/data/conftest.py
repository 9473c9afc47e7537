"""Fixtures for the data tests: real material from ../shared/data and small PTB-XL look-alikes."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_DATA = os.path.join(os.path.dirname(REPO_ROOT), "shared", "data")
SUBSET_CSV = os.path.join(SHARED_DATA, "ptbxl", "ptbxl_database_subset.csv")
STATEMENTS_CSV = os.path.join(SHARED_DATA, "ptbxl", "scp_statements.csv")
PTB_RECORD = os.path.join(SHARED_DATA, "ptb", "s0010_re")
MITDB_RECORD = os.path.join(SHARED_DATA, "mitdb", "100")

#: The statements of the tiny test pipeline (all common in the PTB-XL subset).
TINY_LABELS = ("NORM", "AFIB", "SR", "STACH", "SBRAD", "IMI", "ASMI")


def _require(path: str) -> str:
    if not os.path.exists(path) and not os.path.exists(path + ".hea"):
        pytest.skip(f"test material {path} is absent (expected the shared data folder at {SHARED_DATA})")
    return path


@pytest.fixture(scope="session")
def subset_csv() -> str:
    return _require(SUBSET_CSV)


@pytest.fixture(scope="session")
def statements_csv() -> str:
    return _require(STATEMENTS_CSV)


@pytest.fixture(scope="session")
def ptb_record() -> str:
    return _require(PTB_RECORD)


@pytest.fixture(scope="session")
def mitdb_record() -> str:
    return _require(MITDB_RECORD)


def fixture_ecg_ids(subset_csv: str) -> list:
    """The first record of each fold plus two more AFIB records: every split, several statements."""
    frame = pd.read_csv(subset_csv, usecols=["ecg_id", "strat_fold", "scp_codes"])
    first = frame.groupby("strat_fold")["ecg_id"].first().tolist()
    afib = frame[frame["scp_codes"].str.contains("'AFIB'") & ~frame["ecg_id"].isin(first)]["ecg_id"].head(2).tolist()
    return sorted(first + afib)


@pytest.fixture(scope="session")
def ptbxl_root(tmp_path_factory, subset_csv, statements_csv) -> str:
    """A 12-record PTB-XL folder (100 and 500 Hz) with real metadata rows and sinusoid signals."""
    from sssd_hf.data.fixtures import write_ptbxl_fixture

    root = str(tmp_path_factory.mktemp("ptbxl"))
    write_ptbxl_fixture(root, subset_csv, ecg_ids=fixture_ecg_ids(subset_csv), sampling_rates=(100, 500), statements_csv=statements_csv)
    return root


@pytest.fixture
def ptbxl_copy(ptbxl_root, tmp_path) -> str:
    """A private copy of :func:`ptbxl_root` that a test may damage."""
    return shutil.copytree(ptbxl_root, str(tmp_path / "ptbxl"))


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory) -> str:
    """A saved tiny random pipeline over :data:`TINY_LABELS` (fast on CPU, not a real ECG model)."""
    from sssd_hf.testing import make_tiny_pipeline

    folder = str(tmp_path_factory.mktemp("tiny") / "pipeline")
    make_tiny_pipeline(label_names=TINY_LABELS, sample_length=1000, seed=0).save_pretrained(folder)
    return folder
