"""Fixtures for the data tests: real records vendored in tests/fixtures/ and small PTB-XL look-alikes.

Nothing here needs ../shared: the real files are copies made by tests/fixtures/build_fixtures.py.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from tests.conftest import fixture_path

#: 439 real rows (every 10th) of the shared 4,381-row PTB-XL metadata subset.
SUBSET_CSV = fixture_path("ptbxl", "ptbxl_database_sample.csv")
STATEMENTS_CSV = fixture_path("ptbxl", "scp_statements.csv")
#: The first 10 s of the real PTB record (1000 Hz, 15 signals) and of MIT-BIH record 100 (360 Hz, 2 leads).
PTB_RECORD = fixture_path("ptb", "s0010_re")
MITDB_RECORD = fixture_path("mitdb", "100")
#: A real PTB-XL folder in PTB-XL's layout: 6 records at 100 Hz, 2 of them also at 500 Hz.
REAL_PTBXL = fixture_path("ptbxl")

#: The statements of the tiny test pipeline (all common in the PTB-XL subset).
TINY_LABELS = ("NORM", "AFIB", "SR", "STACH", "SBRAD", "IMI", "ASMI")


@pytest.fixture(scope="session")
def subset_csv() -> str:
    return SUBSET_CSV


@pytest.fixture(scope="session")
def statements_csv() -> str:
    return STATEMENTS_CSV


@pytest.fixture(scope="session")
def ptb_record() -> str:
    return PTB_RECORD


@pytest.fixture(scope="session")
def mitdb_record() -> str:
    return MITDB_RECORD


@pytest.fixture(scope="session")
def real_ptbxl() -> str:
    """tests/fixtures/ptbxl: real PTB-XL records (read-only; copy it before changing anything)."""
    return REAL_PTBXL


def fixture_ecg_ids(subset_csv: str) -> list:
    """The first record of each fold, one more AFIB record and the first record without a diagnostic
    superclass (12 records): every split, several statements, one row that ``drop_unlabeled`` drops."""
    from sssd_hf.data.labels import map_to_vocabulary, parse_scp_codes
    from sssd_hf.vocabulary import get_vocabulary

    frame = pd.read_csv(subset_csv, usecols=["ecg_id", "strat_fold", "scp_codes"])
    first = frame.groupby("strat_fold")["ecg_id"].first().tolist()
    afib = frame[frame["scp_codes"].str.contains("'AFIB'") & ~frame["ecg_id"].isin(first)]["ecg_id"].head(1).tolist()
    superclasses = get_vocabulary("superdiagnostic")
    no_superclass = [i for i, cell in zip(frame["ecg_id"], frame["scp_codes"])
                     if i not in first and not map_to_vocabulary(parse_scp_codes(cell), superclasses)]
    return sorted(first + afib + no_superclass[:1])


@pytest.fixture(scope="session")
def ptbxl_root(tmp_path_factory, subset_csv, statements_csv) -> str:
    """A 12-record PTB-XL folder (100 and 500 Hz) with real metadata rows and sinusoid signals."""
    from sssd_hf.data.fixtures import write_ptbxl_fixture

    root = str(tmp_path_factory.mktemp("ptbxl"))
    write_ptbxl_fixture(
        root, subset_csv, ecg_ids=fixture_ecg_ids(subset_csv), sampling_rates=(100, 500), statements_csv=statements_csv
    )
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
