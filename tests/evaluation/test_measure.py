"""``sssd-ecg measure`` and :mod:`sssd_hf.evaluation.measure`: inputs, rows, bad inputs."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from sssd_hf.cli import main
from sssd_hf.evaluation import measure as m
from sssd_hf.evaluation.delineation import resample
from sssd_hf.evaluation.ludb import read_record

LUDB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "ludb")
LUDB_LEADS = ["i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"]


@pytest.fixture(scope="module")
def record53():
    signal, fs, _ = read_record(LUDB, 53)
    return signal, fs


def _run(capsys, *argv):
    code = main(["measure", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_on_a_wfdb_folder_and_a_single_record(tmp_path, capsys):
    out = tmp_path / "m.csv"
    code, stdout, err = _run(capsys, os.path.join(LUDB, "data"), os.path.join(LUDB, "data", "70.hea"), "--out", out)
    assert code == 0, err
    table = pd.read_csv(out, dtype={"record": str})
    assert list(table.columns) == m.COLUMNS
    assert list(table["record"]) == ["51", "53", "63", "70", "70"]
    assert (table["sampling_rate_hz"] == 500).all()
    assert table.loc[0:3, "heart_rate_bpm"].between(40, 160).all()
    assert table["qrs_ms_status"].eq("ok").all() and table["qt_ms_status"].eq("ok").all()
    af = table.iloc[0]  # record 51: atrial fibrillation
    assert np.isnan(af["pr_ms"]) and af["pr_ms_status"] == "no_p_waves"
    assert table.iloc[1:]["pr_ms"].between(80, 300).all()
    assert "measured 5 record(s)" in stdout
    with open(out) as handle:  # an unavailable measure is an empty cell
        assert ",," in handle.read().splitlines()[1]


def test_any_sampling_rate_and_lead_case(tmp_path, capsys, record53):
    from sssd_hf.data.wfdb_io import write_wfdb_record

    signal, fs = record53
    write_wfdb_record(tmp_path, "r250", resample(signal, fs, 250), 250, [n.upper() for n in LUDB_LEADS])
    write_wfdb_record(tmp_path, "r100", resample(signal, fs, 100), 100, LUDB_LEADS)
    code, _, err = _run(capsys, tmp_path / "r250", tmp_path / "r100.dat", "--out", tmp_path / "m.csv")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "m.csv")
    assert list(table["sampling_rate_hz"]) == [250, 100]
    for name, tolerance in (("heart_rate_bpm", 2), ("qrs_ms", 12), ("qt_ms", 20), ("pr_ms", 20)):
        assert abs(table[name][0] - table[name][1]) <= tolerance, name


def test_npz_export_and_saved_dataset(tmp_path, capsys, record53):
    import datasets

    from sssd_hf.export import write_npz

    signal, fs = record53
    x100 = resample(signal, fs, 100).astype(np.float32)
    batch = np.stack([x100, x100[:, ::-1].copy()])
    write_npz(tmp_path / "gen.npz", batch, 100)
    datasets.DatasetDict({"test": datasets.Dataset.from_dict({"signal": batch, "sampling_rate": [100.0, 100.0]})}
                         ).save_to_disk(str(tmp_path / "ds"))
    code, _, err = _run(capsys, tmp_path / "gen.npz", tmp_path / "ds", "--out", tmp_path / "m.csv")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "m.csv", dtype={"record": str})
    assert len(table) == 4 and list(table["record"][2:]) == ["test/0", "test/1"]
    assert table["record"][0] != table["record"][1]
    assert table["qrs_ms"][0] == pytest.approx(table["qrs_ms"][2], abs=0.1)  # the same ECG twice
    assert table["heart_rate_bpm"][0] == pytest.approx(table["heart_rate_bpm"][2], abs=0.1)


def test_measure_arrays_matches_the_cli_function(record53):
    signal, fs = record53
    table = m.measure_arrays(signal[None], fs, LUDB_LEADS)
    assert list(table["record"]) == ["0"] and table["qrs_ms_status"][0] == "ok"


# --------------------------------------------------------------------------------------- bad inputs


def _error(capsys, tmp_path, *inputs):
    out = tmp_path / "bad.csv"
    code, _, err = _run(capsys, *inputs, "--out", out)
    assert code == 2
    assert not out.exists() and not list(tmp_path.glob("bad.csv.tmp*"))  # nothing half-written
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_missing_input(tmp_path, capsys):
    assert "input not found" in _error(capsys, tmp_path, tmp_path / "nothing")
    assert "input not found" in _error(capsys, tmp_path, tmp_path / "nothing.npz")


def test_one_bad_input_stops_before_measuring(tmp_path, capsys):
    err = _error(capsys, tmp_path, os.path.join(LUDB, "data", "53"), tmp_path / "nothing")
    assert "nothing" in err


def test_corrupt_header(tmp_path, capsys):
    for ext in ("hea", "dat"):
        shutil.copy(os.path.join(LUDB, "data", f"53.{ext}"), tmp_path / f"53.{ext}")
    (tmp_path / "53.hea").write_text("53 12 500 garbage\nnot a signal line\n")
    assert "Corrupt WFDB record" in _error(capsys, tmp_path, tmp_path / "53")
    shutil.copy(os.path.join(LUDB, "data", "53.hea"), tmp_path / "53.hea")
    (tmp_path / "53.dat").write_bytes((tmp_path / "53.dat").read_bytes()[:1000])  # truncated signal file
    assert "Corrupt WFDB record" in _error(capsys, tmp_path, tmp_path / "53")


def test_missing_signal_file(tmp_path, capsys):
    shutil.copy(os.path.join(LUDB, "data", "53.hea"), tmp_path / "53.hea")
    err = _error(capsys, tmp_path, tmp_path / "53")
    assert "53" in err


def test_two_lead_record_without_lead_ii(tmp_path, capsys):
    """Like MIT-BIH record 100 (MLII, V5): MLII is not a standard lead name, so there is no lead II."""
    from sssd_hf.data.wfdb_io import write_wfdb_record

    rng = np.random.default_rng(0)
    write_wfdb_record(tmp_path, "mit", rng.normal(0, 0.1, (2, 3600)), 360, ["MLII", "V5"])
    err = _error(capsys, tmp_path, tmp_path / "mit")
    assert "no lead II" in err and "MLII" in err


def test_real_mit_bih_record_is_refused(tmp_path, capsys):
    mit = os.path.join(os.path.dirname(LUDB), "mitdb", "100")
    assert "no lead II among its leads ['MLII', 'V5']" in _error(capsys, tmp_path, mit + ".hea")


def test_unknown_lead_names(tmp_path, capsys):
    from sssd_hf.export import write_npz

    write_npz(tmp_path / "x.npz", np.zeros((1, 2, 1000)), 100, ["foo", "bar"])
    err = _error(capsys, tmp_path, tmp_path / "x.npz")
    assert "none of its lead names ['foo', 'bar']" in err
    write_npz(tmp_path / "y.npz", np.zeros((1, 3, 1000)), 100, ["foo", "v1", "AVF"])
    assert "no lead II among its leads ['foo', 'v1', 'AVF']" in _error(capsys, tmp_path, tmp_path / "y.npz")


def test_nan_samples(tmp_path, capsys, record53):
    from sssd_hf.export import write_npz

    signal, fs = record53
    x = resample(signal, fs, 100)[None].astype(np.float32)
    write_npz(tmp_path / "ok.npz", x, 100)
    x[0, 3, 500] = np.nan
    np.savez(tmp_path / "nan.npz", ecgs=x, lead_names=np.array(LUDB_LEADS), sampling_rate=np.float64(100))
    err = _error(capsys, tmp_path, tmp_path / "ok.npz", tmp_path / "nan.npz")
    assert "NaN" in err and "nan.npz" in err


def test_wrong_shape_npz(tmp_path, capsys):
    np.savez(tmp_path / "flat.npz", ecgs=np.zeros((12, 1000, 2, 2), np.float32), sampling_rate=np.float64(100))
    assert "(records, leads, samples)" in _error(capsys, tmp_path, tmp_path / "flat.npz")
    np.savez(tmp_path / "leads.npz", ecgs=np.zeros((2, 8, 1000), np.float32), sampling_rate=np.float64(100))
    assert "12 lead names" in _error(capsys, tmp_path, tmp_path / "leads.npz")
    np.savez(tmp_path / "none.npz", other=np.zeros(3))
    assert "no 'ecgs'" in _error(capsys, tmp_path, tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert "not a readable .npz" in _error(capsys, tmp_path, tmp_path / "junk.npz")


def test_too_short_and_too_slow(tmp_path, capsys):
    np.savez(tmp_path / "short.npz", ecgs=np.zeros((1, 12, 100), np.float32), sampling_rate=np.float64(100))
    assert "1.00 s long; at least 2 s" in _error(capsys, tmp_path, tmp_path / "short.npz")
    np.savez(tmp_path / "slow.npz", ecgs=np.zeros((1, 12, 1000), np.float32), sampling_rate=np.float64(20))
    assert "at least 50 Hz" in _error(capsys, tmp_path, tmp_path / "slow.npz")


def test_folder_without_records_and_bad_out(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert "neither WFDB records" in _error(capsys, tmp_path, tmp_path / "empty")
    code, _, err = _run(capsys, os.path.join(LUDB, "data", "53"), "--out", tmp_path / "no" / "such" / "m.csv")
    assert code == 2 and "output folder does not exist" in err
    code, _, err = _run(capsys, os.path.join(LUDB, "data", "53"), "--out", tmp_path / "m.txt")
    assert code == 2 and ".csv" in err
