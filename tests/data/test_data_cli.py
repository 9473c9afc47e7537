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
    args = [
        "convert-ptbxl",
        ptbxl_root,
        "--out",
        str(out),
        "--vocabulary",
        "superdiagnostic",
        "--splits",
        "validation,test",
        "--num-workers",
        "2",
        "--chunk-size",
        "1",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-progress",
    ]
    assert main(args) == 0
    ds = datasets.load_from_disk(str(out))
    assert list(ds) == ["validation", "test"] and ds["test"].features["labels"].feature.names == [
        "CD",
        "HYP",
        "MI",
        "NORM",
        "STTC",
    ]
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
    assert (
        main(
            [
                "convert-wfdb",
                str(folder),
                "--labels",
                str(labels),
                "--out",
                str(out),
                "--window-stride-seconds",
                "10",
                "--max-windows",
                "0",
                "--num-workers",
                "0",
                "--cache-dir",
                str(tmp_path / "cache"),
                "--no-progress",
            ]
        )
        == 0
    )
    ds = datasets.load_from_disk(str(out))
    assert ds["train"]["record"] == ["s0010_re"] and ds["train"]["start_seconds"] == [0.0]  # the 10 s fixture
    report = pd.read_csv(out / "rejected.csv", dtype=str)
    assert report["record"].tolist() == ["100"]
    assert report["reason"][0].startswith("not a 12-lead ECG")
    assert "rejected 100: not a 12-lead ECG" in capsys.readouterr().err


def _rows_without(csv_path, known):
    """Rows of a PTB-XL metadata file with no statement (likelihood > 0 or not) among ``known``."""
    import ast

    frame = pd.read_csv(csv_path, usecols=["scp_codes"])
    return sum(1 for codes in frame["scp_codes"] if not set(ast.literal_eval(codes)) & set(known))


def test_build_dataset_defaults_to_the_bundled_model_and_reports_skipped_rows(subset_csv, tmp_path, capsys):
    import json

    out = tmp_path / "synthetic"
    assert main(["build-dataset", "--like", subset_csv, "--out", str(out), "--limit", "2", "--steps", "1",
                 "--chunk-size", "2", "--no-progress"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    known = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "sssd_hf", "default_pipeline",
                                        "model", "config.json")))["label_names"]
    skipped = _rows_without(subset_csv, known)
    assert 0 < skipped < len(pd.read_csv(subset_csv))
    assert f"Skipped {skipped} source row(s) that carry no statement the model knows" in printed
    assert "Dataset ready in" in printed
    assert main(["build-dataset", "--like", subset_csv, "--out", str(tmp_path / "x"), "--steps", "0"]) == 2
    assert "--steps must be at least 1, got 0" in capsys.readouterr().err
