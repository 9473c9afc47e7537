"""Tests of sssd_hf.export: WFDB/CSV/NPZ/DICOM/EDF+ round trips, metadata and bad inputs."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import wfdb

from sssd_hf.data.wfdb_io import read_wfdb_record
from sssd_hf.export import (
    EXPORT_FORMATS,
    SCPECG_LEAD_CODES,
    ecg_to_csv,
    export_ecgs,
    read_dicom_ecg,
    read_edf_ecg,
    read_npz,
    record_names,
    write_csv_zip,
    write_dicom_ecg,
    write_dicom_files,
    write_edf_ecg,
    write_edf_files,
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
        ({"formats": ("wfdb", "xyz")}, "xyz"),
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


# --------------------------------------------------------------------------- DICOM and EDF+


@pytest.fixture
def strict_pydicom(monkeypatch):
    """pydicom raises, instead of warning, on any value that breaks its VR rules (writing and reading)."""
    from pydicom import config

    monkeypatch.setattr(config.settings, "writing_validation_mode", config.RAISE)
    monkeypatch.setattr(config.settings, "reading_validation_mode", config.RAISE)


def test_dicom_round_trip_lead_codes_rate_and_synthetic_statement(ecgs, tmp_path, strict_pydicom):
    import pydicom

    ecgs[1, STANDARD_LEADS.index("V2"), 500] = 90.0  # mV: needs a coarser sensitivity than 1 uV
    paths = write_dicom_files(tmp_path / "dcm", ecgs, FS, labels=LABELS, settings=SETTINGS)
    assert [p.rsplit("/", 1)[-1] for p in paths] == [s + ".dcm" for s in record_names(3)]
    assert json.loads((tmp_path / "dcm" / "metadata.json").read_text())["ecgs"][0]["statements"] == ["NORM", "SR"]
    for i, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        assert ds.file_meta.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.1.1.9.1.1" == ds.SOPClassUID
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.Modality == "ECG" and str(ds.PatientName) == "SYNTHETIC^ECG"
        assert ds.PatientID.startswith("SYNTHETIC-") and "SYNTHETIC ECG" in ds.ImageComments
        group = ds.WaveformSequence[0]
        assert group.WaveformSampleInterpretation == "SS" and group.WaveformBitsAllocated == 16
        assert float(group.SamplingFrequency) == 200.0  # 100 Hz upsampled x2 to the IOD's minimum
        channels = group.ChannelDefinitionSequence
        assert [c.ChannelSourceSequence[0].CodeValue for c in channels] == [
            "5.6.3-9-1", "5.6.3-9-2", "5.6.3-9-61", "5.6.3-9-62", "5.6.3-9-63", "5.6.3-9-64",
            "5.6.3-9-3", "5.6.3-9-4", "5.6.3-9-5", "5.6.3-9-6", "5.6.3-9-7", "5.6.3-9-8"]
        assert {c.ChannelSourceSequence[0].CodingSchemeDesignator for c in channels} == {"SCPECG"}
        assert {(u.CodeValue, u.CodingSchemeDesignator) for c in channels
                for u in c.ChannelSensitivityUnitsSequence} == {("uV", "UCUM")}
        # pydicom's own reader gives back the millivolts within half a quantisation step.
        values_mv = ds.waveform_array(0).T / 1000.0  # (12, 2000)
        steps_mv = np.array([float(c.ChannelSensitivity) for c in channels])[:, None] / 1000.0
        assert np.all(np.abs(values_mv[:, ::2] - ecgs[i]) <= steps_mv / 2 + 1e-9)
        raw = np.frombuffer(group.WaveformData, "<i2")
        assert raw.min() > -32768  # no sample at the int16 limit (the padding value): nothing clipped
        back = read_dicom_ecg(path)
        assert back["lead_names"] == list(STANDARD_LEADS) and back["sampling_rate"] == 200.0
        assert any("SYNTHETIC ECG" in a for a in back["annotations"])
        assert [a for a in back["annotations"] if a.startswith("statement:")] == [
            f"statement: {d}" for d in json.loads((tmp_path / "dcm" / "metadata.json").read_text())["ecgs"][i][
                "descriptions"]]
    sensitivities = [float(c.ChannelSensitivity) for c in pydicom.dcmread(paths[1]).WaveformSequence[0]
                     .ChannelDefinitionSequence]
    assert sensitivities == [1.0] * 7 + [5.0] + [1.0] * 4  # 90 mV in V2 needs 5 uV steps; the others keep 1 uV
    assert np.isclose(read_dicom_ecg(paths[1])["ecg"][7, 1000], 90.0, atol=0.0025)


def test_dicom_at_500_hz_is_stored_as_is_with_fresh_uids(tmp_path, strict_pydicom):
    x = np.random.default_rng(2).normal(0, 0.3, size=(12, 5000)).astype(np.float32)
    a = read_dicom_ecg(write_dicom_ecg(tmp_path / "a.dcm", x, 500, codes=["AFIB"]))
    b = read_dicom_ecg(write_dicom_ecg(tmp_path / "b.dcm", x, 500))
    assert a["sampling_rate"] == 500.0 and a["ecg"].shape == (12, 5000)
    assert np.abs(a["ecg"] - x).max() <= 0.0005 + 1e-9
    assert a["dataset"].SOPInstanceUID != b["dataset"].SOPInstanceUID
    assert a["dataset"].PatientID != b["dataset"].PatientID
    assert "statement: AFIB - atrial fibrillation" in a["annotations"]


def test_edf_round_trip_units_labels_rate_and_synthetic_statement(ecgs, tmp_path):
    ecgs[2, 0, 10] = -250.0  # mV: a wide physical range, still no clipping
    paths = write_edf_files(tmp_path / "edf", ecgs, FS, labels=LABELS, settings=SETTINGS)
    assert [p.rsplit("/", 1)[-1] for p in paths] == [s + ".edf" for s in record_names(3)]
    for i, path in enumerate(paths):
        back = read_edf_ecg(path)
        assert back["lead_names"] == list(STANDARD_LEADS) and back["units"] == ["mV"] * 12
        assert back["sampling_rate"] == FS and back["ecg"].shape == (12, 1000)
        ranges = np.array([max(1.0, float(np.abs(lead).max())) for lead in ecgs[i]])[:, None]
        # physical range <= 2.5 x the peak (1-2-5 steps); a 16-bit step is 2 * range / 65535.
        assert np.all(np.abs(back["ecg"] - ecgs[i]) <= 2 * 2.5 * ranges / 65535)
        assert "SYNTHETIC ECG - no patient data" in back["annotations"]
        assert [a for a in back["annotations"] if a.startswith("statement:")] == [f"statement: {c}" for c in LABELS[i]]
        assert "SYNTHETIC" in back["patient_name"]
    assert np.isclose(read_edf_ecg(paths[2])["ecg"][0, 10], -250.0, atol=0.02)


def test_edf_of_a_short_ecg_keeps_every_sample(tmp_path):
    x = np.random.default_rng(3).normal(0, 0.2, size=(12, 64)).astype(np.float32)  # 0.64 s at 100 Hz
    back = read_edf_ecg(write_edf_ecg(tmp_path / "short.edf", x, 100))
    assert back["ecg"].shape == (12, 64) and np.abs(back["ecg"] - x).max() < 1e-3


def test_format_table_lists_every_writer_and_each_download_reads_back(ecgs, tmp_path):
    assert list(EXPORT_FORMATS) == ["wfdb", "csv", "npz", "dicom", "edf"]
    paths = export_ecgs(tmp_path / "all", ecgs, FS, labels=LABELS, formats=tuple(EXPORT_FORMATS), stem="run")
    assert {k: p.rsplit("/", 1)[-1] for k, p in paths.items()} == {
        "wfdb": "run_wfdb.zip", "csv": "run_csv.zip", "npz": "run.npz", "dicom": "run_dicom.zip", "edf": "run_edf.zip"}
    for fmt in ("dicom", "edf"):
        with zipfile.ZipFile(paths[fmt]) as archive:
            suffix = EXPORT_FORMATS[fmt].record_suffixes[0]
            assert sorted(archive.namelist()) == [s + suffix for s in record_names(3)] + ["metadata.json"]
            archive.extractall(tmp_path / fmt)
    assert np.abs(read_edf_ecg(tmp_path / "edf" / "ecg_0001.edf")["ecg"] - ecgs[1]).max() < 1e-3
    assert np.abs(read_dicom_ecg(tmp_path / "dicom" / "ecg_0001.dcm")["ecg"][:, ::2] - ecgs[1]).max() <= 5e-4 + 1e-9
    assert not [p for p in (tmp_path / "all").iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize("fmt", ["dicom", "edf"])
def test_dicom_and_edf_refuse_bad_batches_before_writing(ecgs, tmp_path, fmt):
    bad_nan = ecgs.copy()
    bad_nan[1, STANDARD_LEADS.index("V4"), 3] = np.nan
    huge = ecgs.copy()
    huge[2, STANDARD_LEADS.index("aVF"), 7] = 5e4  # 50 V: microvolts passed as millivolts
    cases = [
        (bad_nan, {}, r"ECG 1 .*V4"),
        (huge, {}, r"ECG 2 lead aVF reaches 5e\+04 mV.*microvolts"),
        (ecgs[0], {}, "leading axis"),
        (ecgs[:, :11], {}, "11 leads but 12"),
    ]
    if fmt == "dicom":
        cases.append((ecgs[:, :2], {"lead_names": ["MLII", "V5"]}, "standard lead names"))
        cases.append((ecgs, {"sampling_rate": 2000}, "200-1000 Hz"))
    for batch, kwargs, message in cases:
        args = {"sampling_rate": FS, **kwargs}
        with pytest.raises(ValueError, match=message):
            export_ecgs(tmp_path / "exp", batch, formats=(fmt,), **args)
        with pytest.raises(ValueError, match=message):
            (write_dicom_files if fmt == "dicom" else write_edf_files)(tmp_path / "dir", batch, **args)
    assert not (tmp_path / "exp").exists() and not (tmp_path / "dir").exists()


def test_dicom_lead_code_table_is_cid_3001():
    assert SCPECG_LEAD_CODES["I"] == ("5.6.3-9-1", "Lead I") and SCPECG_LEAD_CODES["aVF"][0] == "5.6.3-9-64"
    assert list(SCPECG_LEAD_CODES) == list(STANDARD_LEADS)
