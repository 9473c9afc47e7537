"""The NeuroKit2-simulated rhythm corpus behind the bundled demonstration model."""

import numpy as np
import pytest

from sssd_hf.data.simulated import (
    RATE_DEFINITIONS,
    SIMULATED_RATES,
    SIMULATED_STATEMENTS,
    make_simulated_dataset,
    measure_rhythm,
    plan_records,
    rate_in_definition,
)


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


def test_noise_is_not_a_regular_rhythm():
    rng = np.random.default_rng(0)
    assert not any(measure_rhythm(0.3 * rng.standard_normal(1000), 100).regular for _ in range(5))
    assert np.isnan(measure_rhythm(np.zeros(1000), 100).heart_rate)
