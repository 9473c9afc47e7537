"""load_ptbxl on real PTB-XL records: tests/fixtures/ptbxl (6 records at 100 Hz, 2 of them at 500 Hz)."""

import os

import numpy as np
import wfdb

from sssd_hf.data.ptbxl import convert_ptbxl, load_ptbxl
from sssd_hf.leads import STANDARD_LEADS


def test_real_records_load_with_their_splits_and_statements(real_ptbxl, tmp_path):
    ds = load_ptbxl(real_ptbxl, cache_dir=str(tmp_path), num_workers=0, progress=False)
    ids = {split: sorted(d["ecg_id"]) for split, d in ds.items()}
    assert ids == {"train": [1, 2, 108, 307], "validation": [17], "test": [180]}  # folds 1-8, 9, 10
    names = ds["train"].features["labels"].feature.names
    codes = {names[k] for split in ds.values() for row in split["labels"] for k in row}
    assert {"NORM", "AFIB", "SBRAD", "STACH", "CLBBB"} <= codes
    row = ds["test"].with_format("numpy")[0]
    raw = wfdb.rdrecord(os.path.join(real_ptbxl, "records100", "00000", "00180_lr"))
    assert [n.upper() for n in raw.sig_name] == [n.upper() for n in STANDARD_LEADS]
    np.testing.assert_allclose(row["signal"], raw.p_signal.T, atol=1e-6)  # mV, leads in PTB-XL order
    assert 0.3 < np.abs(row["signal"]).max() < 10.0  # a real ECG in millivolts


def test_500_hz_records_and_the_missing_ones_are_reported(real_ptbxl, tmp_path):
    result = convert_ptbxl(real_ptbxl, sampling_rate=500, cache_dir=str(tmp_path), num_workers=0, progress=False)
    loaded = sorted(i for d in result.dataset.values() for i in d["ecg_id"])
    assert loaded == [2, 180]  # only these two are vendored at 500 Hz
    assert result.dataset["test"].features["signal"].shape == (12, 5000)
    assert len(result.rejected) == 4
