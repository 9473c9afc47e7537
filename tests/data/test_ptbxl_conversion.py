"""PTB-XL folder -> DatasetDict: splits, features, exact signals, caching, resuming, parallelism."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest

import sssd_hf.data.convert as convert_module
from sssd_hf.data.fixtures import expected_fixture_window
from sssd_hf.data.labels import map_to_vocabulary
from sssd_hf.data.ptbxl import convert_ptbxl, load_ptbxl, stream_ptbxl
from sssd_hf.data.ptbxl_layout import read_database
from sssd_hf.data.records import WindowSpec
from sssd_hf.vocabulary import get_vocabulary


def _rows(dataset):
    """All rows of a split as plain Python/NumPy values, by ecg_id."""
    return {row["ecg_id"]: row for row in dataset.with_format("numpy")}


def test_splits_features_and_exact_content(ptbxl_root, tmp_path):
    result = convert_ptbxl(ptbxl_root, cache_dir=str(tmp_path), num_workers=0, chunk_size=5, progress=False)
    ds = result.dataset
    assert list(ds) == ["train", "validation", "test"] and result.rejected == []
    metadata = read_database(ptbxl_root).set_index("ecg_id")
    for split, folds in {"train": set(range(1, 9)), "validation": {9}, "test": {10}}.items():
        assert set(ds[split]["strat_fold"]) <= folds
    assert sum(len(d) for d in ds.values()) == len(metadata) == 12
    features = ds["train"].features
    assert features["signal"].shape == (12, 1000) and features["signal"].dtype == "float32"
    vocabulary = features["labels"].feature.names
    assert tuple(vocabulary) == get_vocabulary("all")
    for split in ds:
        for ecg_id, row in _rows(ds[split]).items():
            source = metadata.loc[ecg_id]
            np.testing.assert_array_equal(row["signal"], expected_fixture_window(ecg_id, WindowSpec()))
            assert [vocabulary[i] for i in row["labels"]] == map_to_vocabulary(source["statements"], vocabulary)
            assert row["patient_id"] == int(source["patient_id"]) and row["sex"] == source["sex"]
            assert row["strat_fold"] == source["strat_fold"]
            missing_age = np.isnan(source["age"]) and (row["age"] is None or np.isnan(row["age"]))
            assert missing_age or row["age"] == pytest.approx(source["age"])


def test_500_hz_superdiagnostic_and_drop_unlabeled(ptbxl_root, tmp_path):
    ds = load_ptbxl(ptbxl_root, sampling_rate=500, vocabulary="superdiagnostic", drop_unlabeled=True,
                    cache_dir=str(tmp_path), num_workers=0, progress=False)
    assert ds["train"].features["signal"].shape == (12, 5000)
    assert ds["train"].features["labels"].feature.names == ["CD", "HYP", "MI", "NORM", "STTC"]
    statements = read_database(ptbxl_root).set_index("ecg_id")["statements"]
    labelled = {i for i, s in statements.items() if map_to_vocabulary(s, get_vocabulary("superdiagnostic"))}
    assert {i for split in ds.values() for i in split["ecg_id"]} == labelled < set(statements.index)
    row = ds["test"].with_format("numpy")[0]
    np.testing.assert_array_equal(row["signal"], expected_fixture_window(row["ecg_id"], WindowSpec(500, 5000)))


def test_second_run_reads_the_cache_not_wfdb(ptbxl_copy, tmp_path):
    first = convert_ptbxl(ptbxl_copy, cache_dir=str(tmp_path), num_workers=0, progress=False)
    shutil.rmtree(os.path.join(ptbxl_copy, "records100"))
    os.makedirs(os.path.join(ptbxl_copy, "records100"))  # the folder must exist, its files are not read again
    second = convert_ptbxl(ptbxl_copy, cache_dir=str(tmp_path), num_workers=0, progress=False)
    assert second.cache_dir == first.cache_dir and second.rejected == []
    assert second.dataset["train"]["ecg_id"] == first.dataset["train"]["ecg_id"]
    other = convert_ptbxl(ptbxl_copy, vocabulary="rhythm", cache_dir=str(tmp_path), num_workers=0, progress=False)
    assert other.cache_dir != first.cache_dir and len(other.rejected) == 12  # new settings: converted again


def test_interrupted_conversion_resumes_without_duplicates(ptbxl_root, tmp_path, monkeypatch):
    real_chunk, calls, fail_at = convert_module._convert_chunk, [], [3]

    def dies_on_third_chunk(*args):
        calls.append(args[4])
        if len(calls) == fail_at[0]:
            raise KeyboardInterrupt
        return real_chunk(*args)

    monkeypatch.setattr(convert_module, "_convert_chunk", dies_on_third_chunk)
    kwargs = dict(num_workers=0, chunk_size=2, progress=False)
    fail_at[0] = None
    reference = _rows(load_ptbxl(ptbxl_root, cache_dir=str(tmp_path / "ref"), **kwargs)["train"])
    num_chunks = len(calls)
    calls.clear()
    fail_at[0] = 3
    with pytest.raises(KeyboardInterrupt):
        convert_ptbxl(ptbxl_root, cache_dir=str(tmp_path / "run"), **kwargs)
    calls.clear()
    fail_at[0] = None
    resumed = convert_ptbxl(ptbxl_root, cache_dir=str(tmp_path / "run"), **kwargs)
    assert len(calls) == num_chunks - 2  # the two finished chunks are not converted again
    assert not any(name.startswith(".tmp") for _, _, files in os.walk(resumed.cache_dir) for name in files)
    rows = _rows(resumed.dataset["train"])
    assert sorted(rows) == sorted(reference) and len(resumed.dataset["train"]) == len(reference)
    for ecg_id, row in rows.items():
        np.testing.assert_array_equal(row["signal"], reference[ecg_id]["signal"])


def test_parallel_workers_give_the_same_dataset(ptbxl_root, tmp_path):
    serial = convert_ptbxl(ptbxl_root, cache_dir=str(tmp_path / "a"), num_workers=0, chunk_size=3, progress=False)
    parallel = convert_ptbxl(ptbxl_root, cache_dir=str(tmp_path / "b"), num_workers=2, chunk_size=3, progress=False)
    for split in serial.dataset:
        assert serial.dataset[split]["ecg_id"] == parallel.dataset[split]["ecg_id"]
        np.testing.assert_array_equal(np.asarray(serial.dataset[split].with_format("numpy")["signal"]),
                                      np.asarray(parallel.dataset[split].with_format("numpy")["signal"]))


def test_missing_and_corrupt_records_are_reported_not_fatal(ptbxl_copy, tmp_path):
    metadata = read_database(ptbxl_copy)
    gone, corrupt = metadata["filename_lr"].iloc[0], metadata["filename_lr"].iloc[5]
    os.unlink(os.path.join(ptbxl_copy, gone + ".dat"))
    with open(os.path.join(ptbxl_copy, corrupt + ".dat"), "r+b") as f:
        f.truncate(100)
    result = convert_ptbxl(ptbxl_copy, cache_dir=str(tmp_path), num_workers=2, chunk_size=4, progress=False)
    assert {r.record: r.reason.split(":")[0] for r in result.rejected} == {
        gone: "missing file",
        corrupt: "Corrupt WFDB record " + os.path.join(ptbxl_copy, corrupt),
    }
    assert sum(len(d) for d in result.dataset.values()) == 10
    report = pd.read_csv(result.report_path)
    assert list(report.columns) == ["split", "record", "reason"] and set(report["record"]) == {gone, corrupt}


def test_streaming_matches_the_cached_dataset(ptbxl_root, tmp_path):
    cached = _rows(
        load_ptbxl(ptbxl_root, splits=["test", "validation"], cache_dir=str(tmp_path), num_workers=0, progress=False)[
            "test"
        ]
    )
    streamed = stream_ptbxl(ptbxl_root, splits=["test", "validation"])
    assert set(streamed) == {"test", "validation"}
    rows = list(streamed["test"])
    assert [r["ecg_id"] for r in rows] == sorted(cached)
    np.testing.assert_array_equal(np.asarray(rows[0]["signal"], dtype=np.float32), cached[rows[0]["ecg_id"]]["signal"])


def test_clear_errors_for_bad_inputs(ptbxl_copy, tmp_path):
    kwargs = dict(cache_dir=str(tmp_path), num_workers=0, progress=False)
    with pytest.raises(FileNotFoundError, match="ptbxl_database.csv"):
        convert_ptbxl(str(tmp_path / "nowhere"), **kwargs)
    with pytest.raises(ValueError, match="250"):
        convert_ptbxl(ptbxl_copy, sampling_rate=250, **kwargs)
    with pytest.raises(ValueError, match="'XYZ'"):
        convert_ptbxl(ptbxl_copy, vocabulary="NORM,XYZ", **kwargs)
    with pytest.raises(ValueError, match="Unknown split"):
        convert_ptbxl(ptbxl_copy, splits=["holdout"], **kwargs)
    path = os.path.join(ptbxl_copy, "ptbxl_database.csv")
    frame = pd.read_csv(path)
    frame.loc[3, "scp_codes"] = "{'NORM': 100.0"  # truncated
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=f"ecg_id {frame.loc[3, 'ecg_id']}"):
        convert_ptbxl(ptbxl_copy, **kwargs)
