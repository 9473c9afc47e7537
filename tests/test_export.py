"""Tests of sssd_hf.export: WFDB/CSV/NPZ round trips, metadata and bad inputs."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import wfdb

from sssd_hf.data.wfdb_io import read_wfdb_record
from sssd_hf.export import (
    ecg_to_csv,
    export_ecgs,
    read_npz,
    record_names,
    write_csv_zip,
    write_npz,
    write_wfdb_records,
    write_wfdb_zip,
)
from sssd_hf.leads import STANDARD_LEADS

FS = 100
LABELS = [["NORM", "SR"], ["AFIB"], []]
SETTINGS = {"model": "tiny-test", "scheduler": "DDIMScheduler", "num_inference_steps": 20, "seed": 7,
            "guidance_scale": 1.0}


@pytest.fixture
def ecgs():
    """(3, 12, 1000) mV: smooth random waves with a few sharp +-3 mV spikes."""
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(0, 0.05, size=(3, 12, 1000)), axis=-1)
    x[:, :, ::97] += 3.0 * rng.choice([-1, 1], size=x[:, :, ::97].shape)
    return x.astype(np.float32)


def test_wfdb_zip_round_trip_within_1_uv(ecgs, tmp_path):
    zip_path = write_wfdb_zip(tmp_path / "out.zip", ecgs, FS, labels=LABELS, settings=SETTINGS)
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path / "x")
    stems = record_names(3)
    assert names == sorted([s + ext for s in stems for ext in (".dat", ".hea")] + ["metadata.json"])
    for i, stem in enumerate(stems):
        record = wfdb.rdrecord(str(tmp_path / "x" / stem))
        assert record.fs == FS
        assert record.sig_name == list(STANDARD_LEADS)
        assert record.units == ["mV"] * 12
        assert np.abs(record.p_signal.T - ecgs[i]).max() <= 1e-3  # 1 uV
        statements = [c for c in record.comments if c.startswith("statements:")]
        assert statements == [f"statements: {','.join(LABELS[i]) if LABELS[i] else 'none (unconditional)'}"]
        assert "seed: 7" in record.comments and "model: tiny-test" in record.comments
        # The project's own reader agrees.
        assert np.allclose(read_wfdb_record(tmp_path / "x" / stem).signal, ecgs[i], atol=1e-3)
    meta = json.loads((tmp_path / "x" / "metadata.json").read_text())
    assert meta["settings"] == SETTINGS
    assert meta["sampling_rate"] == FS and meta["units"] == "mV" and meta["num_samples"] == 1000
    assert [e["statements"] for e in meta["ecgs"]] == LABELS
    assert meta["ecgs"][1]["descriptions"] == ["AFIB - atrial fibrillation"]


def test_csv_zip_round_trip(ecgs, tmp_path):
    zip_path = write_csv_zip(tmp_path / "csv.zip", ecgs, FS, labels=LABELS, settings=SETTINGS)
    with zipfile.ZipFile(zip_path) as archive:
        assert sorted(archive.namelist()) == [s + ".csv" for s in record_names(3)] + ["metadata.json"]
        for i, stem in enumerate(record_names(3)):
            text = archive.read(stem + ".csv").decode()
            header, *_ = text.splitlines()
            assert header.split(",") == ["time_s", *STANDARD_LEADS]
            table = np.loadtxt(text.splitlines()[1:], delimiter=",")
            assert table.shape == (1000, 13)
            assert np.allclose(table[:, 0], np.arange(1000) / FS)
            assert np.abs(table[:, 1:].T - ecgs[i]).max() <= 1e-6
        assert json.loads(archive.read("metadata.json"))["settings"]["scheduler"] == "DDIMScheduler"


def test_npz_round_trip_without_pickle(ecgs, tmp_path):
    path = write_npz(tmp_path / "out.npz", ecgs, FS, labels=LABELS, settings=SETTINGS)
    data = read_npz(path)
    assert np.array_equal(data["ecgs"], ecgs) and data["ecgs"].dtype == np.float32
    assert data["lead_names"] == list(STANDARD_LEADS)
    assert data["sampling_rate"] == FS
    assert data["labels"] == LABELS
    assert data["metadata"]["settings"]["seed"] == 7
    with np.load(path, allow_pickle=False) as raw:
        assert {"ecgs", "lead_names", "sampling_rate", "labels", "metadata"} <= set(raw.files)


def test_npz_path_without_extension_is_kept(ecgs, tmp_path):
    path = write_npz(tmp_path / "batch.data", ecgs, FS)
    assert [p.name for p in tmp_path.iterdir()] == ["batch.data"]
    assert read_npz(path)["labels"] == [[], [], []]


def test_export_all_formats_and_plain_wfdb_directory(ecgs, tmp_path):
    paths = export_ecgs(tmp_path / "exp", ecgs, FS, labels=LABELS, settings=SETTINGS, stem="run1")
    assert {k: p.rsplit("/", 1)[-1] for k, p in paths.items()} == {
        "wfdb": "run1_wfdb.zip", "csv": "run1_csv.zip", "npz": "run1.npz"}
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == ["run1.npz", "run1_csv.zip", "run1_wfdb.zip"]
    records = write_wfdb_records(tmp_path / "plain", ecgs[:1], FS, labels=LABELS[:1])
    assert np.abs(wfdb.rdrecord(records[0]).p_signal.T - ecgs[0]).max() <= 1e-3
    assert (tmp_path / "plain" / "metadata.json").is_file()


def test_other_lead_sets_are_kept(tmp_path):
    two = np.random.default_rng(1).normal(size=(1, 2, 360)).astype(np.float32)
    path = write_wfdb_zip(tmp_path / "mit.zip", two, 360, lead_names=["MLII", "V5"])
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path)
    record = wfdb.rdrecord(str(tmp_path / "ecg_0000"))
    assert record.sig_name == ["MLII", "V5"] and record.fs == 360
    assert "MLII" in ecg_to_csv(two[0], 360, ["MLII", "V5"]).splitlines()[0]


def test_nan_names_ecg_and_lead_and_writes_nothing(ecgs, tmp_path):
    ecgs[2, STANDARD_LEADS.index("aVL"), 5] = np.nan
    with pytest.raises(ValueError, match=r"ECG 2 .*aVL"):
        export_ecgs(tmp_path / "exp", ecgs, FS, labels=LABELS)
    assert not (tmp_path / "exp").exists()
    with pytest.raises(ValueError, match="NaN"):
        write_npz(tmp_path / "a.npz", ecgs, FS)
    assert list(tmp_path.iterdir()) == []


def test_out_of_range_for_wfdb_is_refused_before_any_file(ecgs, tmp_path):
    ecgs[1, 0, 0] = 40.0  # mV: beyond 16-bit at 1 uV resolution
    with pytest.raises(ValueError, match=r"ECG 1 .*40\.0 mV"):
        export_ecgs(tmp_path / "exp", ecgs, FS, formats=("csv", "npz", "wfdb"))
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lead_names": STANDARD_LEADS[:11]}, "12 leads but 11"),
        ({"labels": [["NORM"]]}, "1 label lists were given for 3 ECGs"),
        ({"sampling_rate": 0}, "sampling_rate"),
        ({"settings": {"seed": object()}}, "JSON"),
        ({"formats": ("wfdb", "edf")}, "edf"),
    ],
)
def test_bad_arguments(ecgs, tmp_path, kwargs, message):
    args = {"sampling_rate": FS, **kwargs}
    with pytest.raises(ValueError, match=message):
        export_ecgs(tmp_path / "exp", ecgs, **args)
    assert not (tmp_path / "exp").exists()


def test_single_ecg_needs_a_batch_axis(ecgs, tmp_path):
    with pytest.raises(ValueError, match="leading axis"):
        write_npz(tmp_path / "a.npz", ecgs[0], FS)
