"""Lead names/derivation and the statement vocabulary."""

import numpy as np
import pytest
import torch

from sssd_hf.leads import (
    canonical_lead_name,
    derive_twelve_leads,
    select_leads,
    validate_generated_leads,
)
from sssd_hf.vocabulary import (
    ALL_STATEMENTS,
    DIAGNOSTIC_STATEMENTS,
    DIAGNOSTIC_SUBCLASSES,
    DIAGNOSTIC_SUPERCLASSES,
    FORM_STATEMENTS,
    RHYTHM_STATEMENTS,
    check_table_matches,
    describe,
    get_vocabulary,
    load_statement_table,
)
from tests.conftest import shared_path


def test_vocabulary_sizes_match_ptbxl():
    assert (len(ALL_STATEMENTS), len(DIAGNOSTIC_STATEMENTS), len(FORM_STATEMENTS), len(RHYTHM_STATEMENTS)) == (
        71,
        44,
        19,
        12,
    )
    assert len(DIAGNOSTIC_SUBCLASSES) == 23 and DIAGNOSTIC_SUPERCLASSES == ("CD", "HYP", "MI", "NORM", "STTC")
    assert list(ALL_STATEMENTS) == sorted(ALL_STATEMENTS)
    assert describe("AFIB") == "AFIB - atrial fibrillation"


def test_embedded_table_equals_ptbxl_file():
    table = load_statement_table(shared_path("data", "ptbxl", "scp_statements.csv"))
    assert check_table_matches(table) == []


def test_vocabulary_lookup_and_errors(tmp_path):
    assert get_vocabulary("rhythm") == RHYTHM_STATEMENTS
    assert get_vocabulary("AFIB, NORM") == ("AFIB", "NORM")
    with pytest.raises(ValueError, match=r"Unknown ECG statement code\(s\) \['AFIBX'\]"):
        get_vocabulary(["AFIBX"])
    with pytest.raises(ValueError, match="duplicate"):
        get_vocabulary(["NORM", "NORM"])
    with pytest.raises(FileNotFoundError):
        load_statement_table(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="missing columns"):
        load_statement_table(tmp_path / "bad.csv")


def test_lead_names_are_matched_case_insensitively():
    assert [canonical_lead_name(n) for n in ("i", "AVR", "avl", "v6")] == ["I", "aVR", "aVL", "V6"]
    with pytest.raises(ValueError, match="MLII"):
        canonical_lead_name("MLII")
    signals = np.arange(24).reshape(3, 8)
    np.testing.assert_array_equal(select_leads(signals, ["i", "ii", "v1"], ["V1", "I"]), signals[[2, 0]])
    with pytest.raises(ValueError, match="Lead aVF is missing"):
        select_leads(signals, ["i", "ii", "v1"], ["aVF"])


@pytest.mark.parametrize("limb", [("I", "II"), ("I", "aVF"), ("II", "aVL"), ("III", "aVR")])
def test_any_two_independent_limb_leads_recover_all_six(limb):
    rng = np.random.default_rng(1)
    lead_i, II = rng.normal(size=(2, 30))
    truth = {
        "I": lead_i,
        "II": II,
        "III": II - lead_i,
        "aVR": -(lead_i + II) / 2,
        "aVL": (lead_i - (II - lead_i)) / 2,
        "aVF": (II + (II - lead_i)) / 2,
    }
    chest = rng.normal(size=(6, 30))
    leads = [*limb, "V1", "V2", "V3", "V4", "V5", "V6"]
    out = derive_twelve_leads(np.stack([truth[limb[0]], truth[limb[1]], *chest]), leads)
    for i, name in enumerate(("I", "II", "III", "aVR", "aVL", "aVF")):
        np.testing.assert_allclose(out[i], truth[name], atol=1e-12)
    np.testing.assert_allclose(out[6:], chest)


def test_bad_lead_layouts_are_rejected():
    with pytest.raises(ValueError, match="duplicates"):
        validate_generated_leads(["aVF", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"])
    with pytest.raises(ValueError, match="two limb leads plus V1-V6"):
        validate_generated_leads(["I", "II", "V1"])
    with pytest.raises(ValueError, match="axis -2"):
        derive_twelve_leads(torch.zeros(2, 7, 10), ["I", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"])
