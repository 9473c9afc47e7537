"""``sssd-ecg convert-ptbxl`` and ``sssd-ecg convert-wfdb`` through ``sssd_hf.cli.main``."""

import os
import shutil

import datasets
import numpy as np
import pandas as pd

from sssd_hf.cli import main
from sssd_hf.data.fixtures import expected_fixture_window
from sssd_hf.data.records import WindowSpec


def test_convert_ptbxl_writes_a_loadable_folder(ptbxl_root, tmp_path, capsys):
    out = tmp_path / "ptbxl-arrow"
    args = ["convert-ptbxl", ptbxl_root, "--out", str(out), "--vocabulary", "superdiagnostic", "--splits", "validation,test",
            "--num-workers", "2", "--chunk-size", "1", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main(args) == 0
    ds = datasets.load_from_disk(str(out))
    assert list(ds) == ["validation", "test"] and ds["test"].features["labels"].feature.names == ["CD", "HYP", "MI", "NORM", "STTC"]
    row = ds["test"].with_format("numpy")[0]
    np.testing.assert_array_equal(row["signal"], expected_fixture_window(row["ecg_id"], WindowSpec()))
    assert pd.read_csv(out / "rejected.csv").empty
    assert f"(validation: {len(ds['validation'])}, test: {len(ds['test'])}); 0 record(s)" in capsys.readouterr().out
    assert len(ds["validation"]) >= 1 and set(ds["validation"]["strat_fold"]) == {9}
    assert main(args) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err
    assert main(["convert-ptbxl", str(tmp_path / "nothing"), "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "PTB-XL metadata not found" in capsys.readouterr().err


def test_convert_wfdb_reports_the_rejected_record(tmp_path, ptb_record, mitdb_record, capsys):
    folder = tmp_path / "records"
    folder.mkdir()
    for source in (ptb_record, mitdb_record):
        for ext in (".hea", ".dat", ".xyz"):
            if os.path.exists(source + ext):
                shutil.copy(source + ext, folder)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"record": ["s0010_re", "100"], "labels": ["IMI", "SR"]}).to_csv(labels, index=False)
    out = tmp_path / "out"
    assert main(["convert-wfdb", str(folder), "--labels", str(labels), "--out", str(out), "--window-stride-seconds", "10",
                 "--max-windows", "0", "--num-workers", "0", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]) == 0
    ds = datasets.load_from_disk(str(out))
    assert ds["train"]["record"] == ["s0010_re"] * 3 and ds["train"]["start_seconds"] == [0.0, 10.0, 20.0]
    report = pd.read_csv(out / "rejected.csv", dtype=str)
    assert report["record"].tolist() == ["100"]
    assert report["reason"][0].startswith("not a 12-lead ECG")
    assert "rejected 100: not a 12-lead ECG" in capsys.readouterr().err
