"""Label control of rate-defined statements: one R-peak detector, regular-rhythm rule, summaries."""

import numpy as np
import pytest

from sssd_hf.evaluation.label_control import in_range, label_control, measure_rhythm, summarize
from sssd_hf.evaluation.physiology import measure_record
from sssd_hf.leads import STANDARD_LEADS


def pulse_train(bpm: float, seconds: float = 10.0, sampling_rate: int = 100, jitter_s: float = 0.0, seed: int = 0):
    """A lead of stylised beats every 60/bpm s (R wave 1 mV and 30 ms wide, a small S wave, a
    0.3 mV T wave at a Bazett-like delay), beat times jittered by up to ``jitter_s``, small noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    beats = np.arange(0.4, seconds - 0.2, 60.0 / bpm)
    beats = beats + rng.uniform(-jitter_s, jitter_s, size=beats.size)

    def wave(center, width, amplitude):
        return amplitude * np.exp(-0.5 * ((t - center) / width) ** 2)

    t_delay = 0.28 * np.sqrt(60.0 / bpm)
    lead = sum(wave(b, 0.03, 1.0) + wave(b + 0.04, 0.03, -0.2) + wave(b + t_delay, 0.05, 0.3) for b in beats)
    return lead + 0.01 * rng.standard_normal(t.size)


def twelve_leads(lead_ii):
    ecg = np.zeros((12, lead_ii.size), np.float32)
    ecg[STANDARD_LEADS.index("II")] = lead_ii
    return ecg


@pytest.mark.parametrize("bpm", [48.0, 75.0, 120.0])
def test_regular_pulse_train_gives_its_rate(bpm):
    rhythm = measure_rhythm(pulse_train(bpm), 100)
    assert rhythm.regular and abs(rhythm.heart_rate - bpm) < 2, rhythm


def test_noise_and_irregular_beats_are_not_a_regular_rhythm():
    rng = np.random.default_rng(0)
    assert not any(measure_rhythm(0.3 * rng.standard_normal(1000), 100).regular for _ in range(5))
    assert not measure_rhythm(pulse_train(70, jitter_s=0.3, seed=2), 100).regular
    flat = measure_rhythm(np.zeros(1000), 100)
    assert np.isnan(flat.heart_rate) and flat.num_beats == 0 and not flat.regular


def test_in_range_needs_both_the_definition_and_a_regular_rhythm():
    sr = measure_rhythm(pulse_train(75), 100)
    assert in_range("SR", sr) and not in_range("STACH", sr) and not in_range("SBRAD", sr)
    irregular = measure_rhythm(pulse_train(75, jitter_s=0.3, seed=2), 100)
    assert not in_range("SR", irregular)


def test_label_control_groups_by_statement_and_skips_other_codes():
    ecgs = np.stack([twelve_leads(pulse_train(bpm, seed=i)) for i, bpm in enumerate([50, 52, 80, 80, 130, 80])])
    result = label_control(ecgs, ["SBRAD", "SBRAD", "SR", "STACH", "STACH", "NORM"], 100)
    assert sorted(result) == ["SBRAD", "SR", "STACH"]
    assert result["SBRAD"]["n"] == 2 and result["SBRAD"]["in_range"] == 1.0
    assert result["SR"]["in_range"] == 1.0
    assert result["STACH"]["in_range"] == 0.5 and result["STACH"]["rate_in_range_any_detection"] == 0.5
    assert 75 < result["STACH"]["heart_rate_median"] < 135
    with pytest.raises(ValueError, match="2 ECGs but 1 statements"):
        label_control(ecgs[:2], ["SR"])
    with pytest.raises(ValueError, match="not a rate-defined statement"):
        summarize("AFIB", [])


def test_label_control_and_physiology_share_one_detector():
    lead = pulse_train(66, seed=4)
    row = measure_record(twelve_leads(lead), 100, STANDARD_LEADS)
    # physiology's beats come from the delineator (QRS onsets), label control's from NeuroKit2 R peaks: they agree
    assert row["heart_rate"] == pytest.approx(measure_rhythm(lead, 100).heart_rate, abs=0.5)
