"""One record -> checked 12-lead windows, or a clear rejection reason."""

import os
import shutil

import numpy as np
import pytest
import wfdb
from scipy.signal import decimate

from sssd_hf.data.fixtures import fixture_signal, write_fixture_record
from sssd_hf.data.records import RecordRejected, WindowSpec, load_windows, read_twelve_leads, resample
from sssd_hf.data.wfdb_io import write_wfdb_record
from sssd_hf.leads import STANDARD_LEADS


def test_real_ptb_record_lower_case_leads_are_matched(ptb_record):
    signal, rate = read_twelve_leads(ptb_record)
    raw = wfdb.rdrecord(ptb_record)
    assert raw.sig_name[:6] == ["i", "ii", "iii", "avr", "avl", "avf"] and "vx" in raw.sig_name
    assert rate == 1000 and signal.shape == (12, 10000)  # first 10 s and signal.dtype == np.float32
    for row, lead in enumerate(STANDARD_LEADS):  # each standard lead comes from its own channel
        np.testing.assert_allclose(signal[row], raw.p_signal[:, raw.sig_name.index(lead.lower())], atol=1e-6)


def test_real_ptb_record_resampled_to_100_hz(ptb_record):
    windows, dropped = load_windows(
        ptb_record, WindowSpec(sampling_rate=100, num_samples=1000, stride=1000, max_windows=None)
    )
    assert dropped == [] and [start for start, _ in windows] == [0]  # 10 s -> one 10 s window
    raw = wfdb.rdrecord(ptb_record, channel_names=["ii"]).p_signal[:, 0]
    window = windows[0][1][1]  # lead II, 0-10 s
    assert np.corrcoef(window, raw[0:10000:10])[0, 1] > 0.99  # the same waveform, every 10th sample
    reference = decimate(raw, 10, ftype="fir", zero_phase=True)  # another anti-aliasing filter
    inner = slice(50, 950)  # away from the record's ends, where the two filters' edge handling differs
    np.testing.assert_allclose(window[inner], reference[inner], atol=0.005)  # 5 uV


def test_mitdb_two_lead_record_is_rejected_clearly(mitdb_record):
    with pytest.raises(RecordRejected) as info:
        load_windows(mitdb_record, WindowSpec())
    message = str(info.value)
    assert "not a 12-lead ECG" in message and "MLII" in message and "aVR" in message


def test_resample_keeps_a_sine_wave():
    t = np.arange(5000) / 500
    wave = np.sin(2 * np.pi * 1.5 * t)[None].astype(np.float32)
    out = resample(wave, 500, 100)
    assert out.shape == (1, 1000)
    np.testing.assert_allclose(out[0], np.sin(2 * np.pi * 1.5 * np.arange(1000) / 100), atol=0.01)
    with pytest.raises(ValueError, match="cannot resample"):
        resample(wave, 500, 100.01)


def _write(directory, name, signal, rate=100, leads=STANDARD_LEADS):
    write_wfdb_record(str(directory), name, signal, rate, leads)
    return os.path.join(str(directory), name)


def test_bad_records_are_rejected_with_their_reason(tmp_path, ptb_record):
    good = fixture_signal(1, 100)
    short = _write(tmp_path, "short", good[:, :500])
    flat = good.copy()
    flat[8] = 0.0
    flat_path = _write(tmp_path, "flat", flat)
    loud = write_wfdb_record(str(tmp_path), "loud", good * 60, 100, adc_gain=10.0)  # ~90 mV: wrong units
    nan_path = os.path.join(str(tmp_path), "nan")
    digital = np.round(good.T * 1000).astype(np.int16)
    digital[100:200, 4] = -32768  # WFDB's "no sample" value
    wfdb.wrsamp("nan", fs=100, units=["mV"] * 12, sig_name=list(STANDARD_LEADS), d_signal=digital, fmt=["16"] * 12,
                adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(tmp_path))
    truncated = os.path.join(str(tmp_path), "s0010_re")
    for ext in (".hea", ".xyz"):
        shutil.copy(ptb_record + ext, truncated + ext)
    with open(ptb_record + ".dat", "rb") as src, open(truncated + ".dat", "wb") as dst:
        dst.write(src.read()[:1000])
    headerless = _write(tmp_path, "gone", good)
    os.unlink(headerless + ".dat")
    garbage = tmp_path / "garbage.hea"
    garbage.write_text("this is not a header\n")

    expected = {
        short: "too short: 5.00 s < 10.00 s",
        flat_path: "flat line (peak-to-peak < 0.01 mV) in lead(s) V3",
        loud: "implausible amplitude",
        nan_path: "NaN or infinite samples in lead(s) aVL",
        truncated: "Corrupt WFDB record",
        headerless: "missing file",
        str(tmp_path / "garbage"): "Corrupt WFDB record",
        str(tmp_path / "absent"): "missing file",
    }
    for path, reason in expected.items():
        with pytest.raises(RecordRejected) as info:
            load_windows(path, WindowSpec())
        assert reason in str(info.value), (path, str(info.value))


def test_units_are_converted_and_checked(tmp_path):
    signal = fixture_signal(3, 100)
    digital = np.round(signal.T * 1000).astype(np.int16)
    common = dict(
        fs=100,
        sig_name=list(STANDARD_LEADS),
        d_signal=digital,
        fmt=["16"] * 12,
        baseline=[0] * 12,
        write_dir=str(tmp_path),
    )
    wfdb.wrsamp("micro", units=["uV"] * 12, adc_gain=[1.0] * 12, **common)  # 1 adu = 1 uV
    windows, _ = load_windows(str(tmp_path / "micro"), WindowSpec())
    np.testing.assert_allclose(windows[0][1], signal, atol=1e-3)
    wfdb.wrsamp("temperature", units=["degC"] * 12, adc_gain=[1000.0] * 12, **common)
    with pytest.raises(RecordRejected, match="not a voltage unit"):
        load_windows(str(tmp_path / "temperature"), WindowSpec())


def test_bad_windows_are_dropped_and_reported(tmp_path):
    signal = fixture_signal(4, 100, seconds=30)
    signal[2, 1500:1600] = 0  # not flat over a whole window: kept
    signal[:, 2000:3000] = 0  # the third window is flat everywhere
    write_fixture_record(str(tmp_path / "long"), signal, 100)
    windows, dropped = load_windows(str(tmp_path / "long"), WindowSpec(stride=1000, max_windows=None))
    assert [start for start, _ in windows] == [0, 1000]
    assert len(dropped) == 1 and dropped[0].startswith("window at 20.00 s: flat line")
