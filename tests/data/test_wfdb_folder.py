"""Generic WFDB folder + labels CSV -> DatasetDict, with a report of the records left out."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest
import wfdb

from sssd_hf.data.fixtures import fixture_signal, write_fixture_record
from sssd_hf.data.wfdb_folder import convert_wfdb_folder, find_records

LOWER_CASE_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")


@pytest.fixture
def mixed_folder(tmp_path, ptb_record, mitdb_record):
    """Real PTB (1000 Hz, lower-case names) and MIT-BIH (2 leads) records, a 500 Hz record with
    lower-case names, a 5 s record and a listed record whose files are missing."""
    folder = tmp_path / "collection"
    for source, target in ((ptb_record, "ptb/s0010_re"), (mitdb_record, "mitdb/100")):
        os.makedirs(folder / os.path.dirname(target), exist_ok=True)
        for ext in (".hea", ".dat", ".xyz"):
            if os.path.exists(source + ext):
                shutil.copy(source + ext, str(folder / target) + ext)
    write_fixture_record(str(folder / "site_b" / "r500"), fixture_signal(7, 500), 500, LOWER_CASE_LEADS)
    write_fixture_record(str(folder / "site_b" / "short"), fixture_signal(8, 100, seconds=5), 100)
    labels = pd.DataFrame(
        {
            "path": ["ptb/s0010_re.hea", "mitdb/100", "site_b/r500", "site_b/short", "site_b/lost"],
            "codes": ["{'IMI': 100.0, 'SR': 0.0}", "SR", "NORM;SR", "AFIB", "NORM"],
            "fold": ["train", "train", "test", "test", "test"],
        }
    )
    labels.to_csv(tmp_path / "labels.csv", index=False)
    return str(folder), str(tmp_path / "labels.csv")


def test_good_records_load_and_bad_ones_are_reported(mixed_folder, tmp_path):
    folder, labels_csv = mixed_folder
    result = convert_wfdb_folder(folder, labels_csv, record_column="path", labels_column="codes", split_column="fold",
                                 vocabulary="all", cache_dir=str(tmp_path / "cache"), num_workers=0, progress=False)
    ds = result.dataset
    assert ds["train"]["record"] == ["ptb/s0010_re"] and ds["test"]["record"] == ["site_b/r500"]
    reasons = {r.record: r.reason for r in result.rejected}
    assert set(reasons) == {"mitdb/100", "site_b/short", "site_b/lost"}
    assert reasons["mitdb/100"].startswith("not a 12-lead ECG: missing lead(s) I, II, III, aVR, aVL, aVF, V1")
    assert reasons["site_b/short"].startswith("too short: 5.00 s")
    assert reasons["site_b/lost"].startswith("missing file")
    names = ds["train"].features["labels"].feature.names
    assert [names[i] for i in ds["train"][0]["labels"]] == ["IMI", "SR"]
    assert [names[i] for i in ds["test"][0]["labels"]] == ["NORM", "SR"]
    ptb = ds["train"].with_format("numpy")[0]["signal"]
    assert ptb.shape == (12, 1000)  # 10 s of the 1000 Hz record at 100 Hz
    raw_v2 = wfdb.rdrecord(os.path.join(folder, "ptb", "s0010_re"), channel_names=["v2"]).p_signal[:10000:10, 0]
    assert np.corrcoef(ptb[7], raw_v2)[0, 1] > 0.99
    r500 = ds["test"].with_format("numpy")[0]["signal"]
    expected = fixture_signal(7, 500)[3, ::5]  # "avr" -> aVR, 500 -> 100 Hz
    np.testing.assert_allclose(r500[3, 5:-5], expected[5:-5], atol=0.005)
    np.testing.assert_allclose(r500[3], expected, atol=0.03)  # no filter transient at the ends
    assert pd.read_csv(result.report_path)["record"].tolist() == ["mitdb/100", "site_b/short", "site_b/lost"]


def test_windows_and_no_labels_csv(mixed_folder, tmp_path):
    folder, _ = mixed_folder
    assert find_records(folder) == ["mitdb/100", "ptb/s0010_re", "site_b/r500", "site_b/short"]
    result = convert_wfdb_folder(folder, window_seconds=5, window_stride_seconds=5, max_windows=None,
                                 cache_dir=str(tmp_path / "cache"), num_workers=0, progress=False)
    train = result.dataset["train"]
    assert train["record"].count("ptb/s0010_re") == 2  # 10 s -> two 5 s windows
    assert [s for r, s in zip(train["record"], train["start_seconds"]) if r == "site_b/r500"] == [0.0, 5.0]
    assert train["record"].count("site_b/short") == 1 and all(len(labels) == 0 for labels in train["labels"])
    assert [r.record for r in result.rejected] == ["mitdb/100"]


def test_bad_labels_csv_is_refused_with_the_line(mixed_folder, tmp_path):
    folder, labels_csv = mixed_folder
    kwargs = dict(record_column="path", cache_dir=str(tmp_path / "cache"), num_workers=0, progress=False)
    with pytest.raises(ValueError, match="no column"):
        convert_wfdb_folder(folder, labels_csv, labels_column="diagnosis", **kwargs)
    frame = pd.read_csv(labels_csv)
    frame.loc[2, "codes"] = "NORM;HEARTACHE"
    frame.to_csv(labels_csv, index=False)
    with pytest.raises(ValueError, match=r"line 4 \(record site_b/r500\).*'HEARTACHE'"):
        convert_wfdb_folder(folder, labels_csv, labels_column="codes", **kwargs)
    frame.loc[2, "path"] = "mitdb/100"
    frame.to_csv(labels_csv, index=False)
    with pytest.raises(ValueError, match="listed twice"):
        convert_wfdb_folder(folder, labels_csv, labels_column="codes", **kwargs)
