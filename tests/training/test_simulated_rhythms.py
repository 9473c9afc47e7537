"""The NeuroKit2-simulated rhythm corpus behind the bundled demonstration model."""

import numpy as np
import pytest

from sssd_hf.data.simulated import (
    SIMULATED_RATES,
    SIMULATED_STATEMENTS,
    make_simulated_dataset,
    plan_records,
    rate_in_definition,
    remove_baseline,
    simulate_ecg,
)
from sssd_hf.evaluation.label_control import measure_rhythm


def test_simulated_rates_stay_inside_the_definitions_with_a_margin():
    for code, (low, high) in SIMULATED_RATES.items():
        assert rate_in_definition(code, low - 3.9) and rate_in_definition(code, high + 3.9)
    assert rate_in_definition("SR", 60) and rate_in_definition("SR", 100)
    assert not rate_in_definition("SBRAD", 60) and not rate_in_definition("STACH", 100)
    with pytest.raises(ValueError, match="AFIB"):
        rate_in_definition("AFIB", 80)


def test_plan_is_balanced_deterministic_and_checked():
    plan = plan_records(20, seed=3)
    assert [r.statement for r in plan[:6]] == list(SIMULATED_STATEMENTS) * 2
    for code in SIMULATED_STATEMENTS:
        rows = [r for r in plan if r.statement == code]
        assert len(rows) == 20 and sorted({r.strat_fold for r in rows}) == list(range(1, 11))
        low, high = SIMULATED_RATES[code]
        assert all(low <= r.heart_rate <= high for r in rows)
    assert plan == plan_records(20, seed=3) and plan != plan_records(20, seed=4)
    with pytest.raises(ValueError, match="cannot produce statement"):
        plan_records(2, statements=["SR", "AFIB"])


def test_simulated_records_are_consistent_twelve_lead_ecgs_with_the_labeled_rate():
    from sssd_hf.data.ptbxl import ptbxl_features

    dataset = make_simulated_dataset(per_statement=1, seed=5)  # 3 records, all fold 1 -> train
    assert list(dataset) == ["train"]
    train = dataset["train"]
    assert train.features == ptbxl_features(SIMULATED_STATEMENTS, 1000)
    plan = {r.ecg_id: r for r in plan_records(1, seed=5)}
    for row in train.with_format("numpy"):
        signal = row["signal"]
        assert signal.shape == (12, 1000) and signal.dtype == np.float32
        i, ii, iii, avr, avl, avf = signal[:6]
        np.testing.assert_allclose(iii, ii - i, atol=1e-5)  # Einthoven
        np.testing.assert_allclose(avf, ii - i / 2, atol=1e-5)  # Goldberger
        assert 0.5 < np.ptp(ii) < 3.0  # millivolts
        code = SIMULATED_STATEMENTS[int(row["labels"][0])]
        rhythm = measure_rhythm(ii, 100)
        assert code == plan[int(row["ecg_id"])].statement
        assert rhythm.regular and rate_in_definition(code, rhythm.heart_rate)
        assert abs(rhythm.heart_rate - plan[int(row["ecg_id"])].heart_rate) < 5


def test_remove_baseline_keeps_the_ecg_band_and_drops_drift():
    t = np.arange(3000) / 100.0
    drift = 0.8 * np.sin(2 * np.pi * 0.05 * t) + 0.5  # 0.05 Hz wander and a DC offset, mV
    qrs_band = 0.3 * np.sin(2 * np.pi * 10.0 * t)
    filtered = remove_baseline(np.stack([drift + qrs_band, qrs_band]), 100)
    inner = slice(500, 2500)  # away from the filter's edges
    np.testing.assert_allclose(filtered[0, inner], qrs_band[inner], atol=0.03)
    np.testing.assert_allclose(filtered[1, inner], qrs_band[inner], atol=0.01)


def test_simulated_ecg_has_no_start_up_transient():
    """The simulator's first seconds swing the baseline by up to 1 mV; none of it may remain:
    every lead's slow baseline (1 s moving average) stays near zero over the whole window."""
    ecg = simulate_ecg(75.0, seed=7)
    assert ecg.shape == (12, 1000)
    kernel = np.ones(100) / 100
    for lead in ecg:
        baseline = np.convolve(lead, kernel, mode="valid")
        assert np.abs(baseline).max() < 0.15, np.abs(baseline).max()


def test_a_heart_rate_that_hangs_neurokit2_is_nudged_not_fatal(caplog):
    """NeuroKit2 0.2.13 loops forever at 108.8 bpm whatever the seed; the CPU-time guard stops it
    and the retry at 108.9 bpm succeeds."""
    with caplog.at_level("WARNING", logger="sssd_hf.data.simulated"):
        ecg = simulate_ecg(108.8, seed=411434665)
    assert ecg.shape == (12, 1000) and np.isfinite(ecg).all()
    assert "stuck" in caplog.text and "108.90 bpm" in caplog.text
    rhythm = measure_rhythm(ecg[1], 100)
    assert rhythm.regular and abs(rhythm.heart_rate - 108.9) < 5
