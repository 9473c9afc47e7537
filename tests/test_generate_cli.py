"""``sssd-ecg generate`` end to end with a tiny saved pipeline."""

import os

import numpy as np
import pytest
import wfdb

from sssd_hf.cli import main
from sssd_hf.export import read_npz


@pytest.fixture
def model_dir(tiny_pipeline, tmp_path):
    path = tmp_path / "model"
    tiny_pipeline.save_pretrained(path)
    return str(path)


def test_generate_writes_wfdb_records_readable_by_wfdb(model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["generate", "--model", model_dir, "--labels", "NORM,SR", "--num", "2", "--out", str(out), "--steps", "3", "--plot"])
    assert code == 0, capsys.readouterr().err
    record = wfdb.rdrecord(str(out / "ecg_0000"))
    assert record.sig_name == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    assert record.fs == 100 and record.units == ["mV"] * 12 and record.p_signal.shape == (64, 12)
    assert any("NORM" in c and "SR" in c for c in record.comments)
    assert (out / "ecg_0001.hea").is_file() and (out / "ecg_0001.png").is_file()
    assert not [n for n in os.listdir(out) if n.startswith(".tmp")]


def test_generate_npy_and_csv_formats_and_determinism(model_dir, tmp_path):
    for fmt in ("npy", "csv"):
        assert main(["generate", "--model", model_dir, "--labels", "AFIB", "--out", str(tmp_path / fmt), "--format", fmt,
                     "--steps", "3", "--scheduler", "ddim", "--seed", "7"]) == 0
    data = read_npz(tmp_path / "npy" / "ecgs.npz")
    csv = np.loadtxt(tmp_path / "csv" / "ecg_0000.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(csv[:, 1:].T, data["ecgs"][0], atol=1e-5)
    assert data["labels"] == [["AFIB"]]


def test_generate_errors_are_one_clear_line(model_dir, tmp_path, capsys):
    assert main(["generate", "--model", model_dir, "--labels", "CLBBB", "--out", str(tmp_path / "x"), "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "Unknown ECG statement code(s) ['CLBBB']" in err and "Traceback" not in err
    assert main(["generate", "--model", str(tmp_path / "nowhere"), "--labels", "NORM", "--out", str(tmp_path / "y")]) == 2
    assert "No pipeline folder" in capsys.readouterr().err
    assert main(["generate", "--model", model_dir, "--out", str(tmp_path / "z"), "--steps", "2"]) == 2
    assert "--labels" in capsys.readouterr().err
    assert main(["generate", "--model", model_dir, "--labels", "NORM", "--num", "0", "--out", str(tmp_path / "w")]) == 2
