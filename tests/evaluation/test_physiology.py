"""Fiducial measurements (the delineator, checked on real LUDB ECGs) and real-vs-synthetic distances."""

import os

import numpy as np
import pytest

from sssd_hf.evaluation import ludb
from sssd_hf.evaluation.data import ECGSet
from sssd_hf.evaluation.delineation import resample
from sssd_hf.evaluation.physiology import (
    compare_measurements,
    distribution_distance,
    failure_summary,
    measure_record,
    measure_records,
    summarize_distances,
)
from sssd_hf.leads import STANDARD_LEADS

from .conftest import LABEL_NAMES, SAMPLING_RATE
from .test_delineation import BOUNDS

LUDB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "ludb")


@pytest.fixture(scope="module")
def measured(real_train, real_test, noise):
    subset = lambda s: s.subset(np.r_[0:5, 8:13, 16:21] if len(s) == 24 else np.r_[0:5, 12:17, 24:29])  # noqa: E731
    sets = {"train": subset(real_train), "test": subset(real_test), "noise": subset(noise)}
    return sets, {name: measure_records(s) for name, s in sets.items()}


def test_heart_rate_of_simulated_ecgs(real_test):
    for index, expected_rate in ((0, 50), (10, 72), (20, 115)):
        row = measure_record(real_test.signal[index], SAMPLING_RATE, real_test.lead_names)
        assert row["status"] == "ok", row["error"]
        assert row["heart_rate"] == pytest.approx(expected_rate, abs=5)


@pytest.mark.parametrize("record", [53, 63, 70])
def test_measurements_of_real_ecgs_match_cardiologists(record):
    """LUDB records (not used to fit the delineator) at 100 Hz against their lead II annotations."""
    signal, fs, waves = ludb.read_record(LUDB, record)
    ref = ludb.reference_intervals(waves["ii"], fs)
    row = measure_record(resample(signal, fs, 100), 100, STANDARD_LEADS)
    assert row["status"] == "ok", row["error"]
    bounds = BOUNDS[record]
    assert row["heart_rate"] == pytest.approx(ref["heart_rate_bpm"], abs=bounds["heart_rate_bpm"])
    assert row["qrs_duration"] == pytest.approx(ref["qrs_ms"], abs=bounds["qrs_ms"])
    assert row["pr_interval"] == pytest.approx(ref["pr_ms"], abs=bounds["pr_ms"])
    assert row["qt_interval"] == pytest.approx(ref["qt_ms"], abs=bounds["qt_ms"])
    assert row["qtc_bazett"] == pytest.approx(row["qt_interval"] / np.sqrt(60.0 / row["heart_rate"]), rel=0.05)
    assert row["r_amplitude_II"] > 0.2


def test_no_pr_interval_in_atrial_fibrillation():
    signal, fs, waves = ludb.read_record(LUDB, 51)
    assert ludb.reference_intervals(waves["ii"], fs)["n_p_waves"] == 0
    row = measure_record(signal, fs, STANDARD_LEADS)
    assert row["status"] == "ok" and np.isnan(row["pr_interval"]) and row["qrs_duration"] > 120


def test_real_vs_real_is_closer_than_real_vs_noise(measured):
    sets, tables = measured
    same = compare_measurements(
        tables["test"], tables["train"], sets["test"], sets["train"], ["SBRAD", "STACH"], min_records=3
    )
    noise = compare_measurements(
        tables["test"], tables["noise"], sets["test"], sets["noise"], ["SBRAD", "STACH"], min_records=3
    )
    assert summarize_distances(same)["mean_ks_statistic"] < 0.5
    assert same["groups"]["all"]["heart_rate"]["wasserstein_iqr"] < 0.5
    assert (tables["test"]["status"] == "ok").all()
    # Gaussian noise has no QRS complexes: (almost) nothing is measured, and what is, is far off
    noise_ok = int((tables["noise"]["status"] == "ok").sum())
    assert noise_ok <= 2 and (tables["noise"]["status"] != "ok").sum() == len(tables["noise"]) - noise_ok
    assert noise["groups"]["all"]["heart_rate"]["n_synthetic"] == noise_ok
    noise_ks = summarize_distances(noise)["mean_ks_statistic"]
    assert noise_ks is None if noise_ok < 2 else noise_ks > 0.5
    assert set(same["groups"]) == {"all", "SBRAD", "STACH"}
    assert same["groups"]["STACH"]["heart_rate"]["n_real"] == 5


def test_identical_inputs_have_zero_distance(measured):
    sets, tables = measured
    comparison = compare_measurements(
        tables["test"], tables["test"], sets["test"], sets["test"], ["NORM"], min_records=3
    )
    for group in comparison["groups"].values():
        for d in group.values():
            if d["wasserstein"] is not None:
                assert d["wasserstein"] == 0.0 and d["ks_statistic"] == 0.0


def test_failures_are_counted_not_dropped():
    rng = np.random.default_rng(0)
    signal = np.zeros((3, 12, 1000), np.float32)
    signal[1] = 0.2  # flat line with an offset
    signal[2] = rng.normal(0, 1e-4, (12, 1000))
    ecgs = ECGSet(signal, np.zeros((3, len(LABEL_NAMES))), LABEL_NAMES, SAMPLING_RATE, name="flat")
    table = measure_records(ecgs)
    assert len(table) == 3
    summary = failure_summary(table)
    assert summary["n_records"] == 3
    assert summary["status"]["ok"] < 3 and sum(summary["status"].values()) == 3
    failed = table[table["status"] != "ok"]
    assert (failed["error"] != "").all()
    assert summary["missing"]["qt_interval"] >= len(failed)


def test_small_groups_are_skipped_with_a_reason(measured):
    sets, tables = measured
    out = compare_measurements(
        tables["test"], tables["train"], sets["test"], sets["train"], ["STACH", "AFIB"], min_records=6
    )
    assert "STACH" in out["skipped"] and "AFIB" in out["skipped"] and set(out["groups"]) == {"all"}


def test_distribution_distance_edge_cases():
    assert distribution_distance([1.0], [2.0, 3.0])["wasserstein"] is None
    d = distribution_distance([1.0, 2.0, np.nan, 3.0], [11.0, 12.0, 13.0])
    assert d["n_real"] == 3 and d["wasserstein"] == pytest.approx(10.0) and d["ks_statistic"] == 1.0


def test_bad_delineation_lead():
    with pytest.raises(ValueError, match="delineation lead 'X'"):
        measure_record(np.zeros((12, 100)), 100, STANDARD_LEADS, delineation_lead="X")


def test_parallel_measurement_matches_sequential(real_test):
    subset = real_test.subset([0, 9, 18])
    sequential = measure_records(subset)
    parallel = measure_records(subset, num_workers=2, chunk_size=1)
    assert list(sequential["status"]) == list(parallel["status"])
    assert list(sequential.columns) == list(parallel.columns)
    numeric = sequential.columns.drop(["status", "error"])
    # batches of different sizes round the network's sums differently: equal to float32 precision
    np.testing.assert_allclose(sequential[numeric].to_numpy(float), parallel[numeric].to_numpy(float), rtol=1e-4)


def test_real_ptb_record(tmp_path):
    """The real 1000 Hz PTB record (lower-case lead names), resampled to 100 Hz."""
    from scipy.signal import resample_poly

    from sssd_hf.data.wfdb_io import read_wfdb_record
    from sssd_hf.leads import canonical_lead_name

    from ..conftest import fixture_path

    record = read_wfdb_record(fixture_path("ptb", "s0010_re"))
    names = [canonical_lead_name(n) for n in record.lead_names[:12]]
    assert record.sampling_rate == 1000
    signal = resample_poly(record.signal[:12, :10_000], 1, 10, axis=1)
    row = measure_record(signal, 100, names)
    assert row["status"] == "ok", row["error"]
    assert 40 <= row["heart_rate"] <= 120
    assert 60 <= row["qrs_duration"] <= 160 and 300 <= row["qt_interval"] <= 500
