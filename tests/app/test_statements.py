"""Statement choices and presets follow whatever vocabulary the loaded model has."""

from __future__ import annotations

import pytest

from sssd_hf.app import RequestError, apply_preset, presets, statement_choices, statement_group
from sssd_hf.vocabulary import STATEMENTS_BY_CODE

#: A vocabulary like the one the default model will be retrained on (PTB-XL, ~27 statements).
PTBXL_LIKE = ("NORM", "SR", "AFIB", "SBRAD", "STACH", "SARRH", "CRBBB", "CLBBB", "LVH", "IMI", "ASMI", "PVC", "LAFB",
              "IRBBB", "1AVB", "NDT", "NST_", "ISC_", "LVOLT", "ABQRS", "QWAVE", "LNGQT", "LMI", "AMI", "ALMI",
              "ISCAL", "ILMI")


def test_statements_grouped_with_descriptions():
    choices = statement_choices(["SR", "AFIB", "LVOLT", "NORM", "IMI", "MI"])
    assert choices["rhythm"] == [("AFIB - atrial fibrillation", "AFIB"), ("SR - sinus rhythm", "SR")]
    assert choices["form"] == [("LVOLT - low QRS voltages in the frontal and horizontal leads", "LVOLT")]
    assert choices["diagnostic"] == [("IMI - inferior myocardial infarction", "IMI"),
                                     ("MI - myocardial infarction", "MI"), ("NORM - normal ECG", "NORM")]


def test_choices_of_the_bundled_model_are_its_statements(default_model, bundled_label_names):
    _, info = default_model
    choices = statement_choices(info.label_names)
    offered = [code for group in choices.values() for _, code in group]
    assert sorted(offered) == sorted(bundled_label_names)
    for group, entries in choices.items():
        assert all(statement_group(code) == group for _, code in entries)


def test_every_statement_of_a_ptbxl_vocabulary_is_offered_once():
    assert len(set(PTBXL_LIKE)) == 27 and all(c in STATEMENTS_BY_CODE for c in PTBXL_LIKE)
    choices = statement_choices(PTBXL_LIKE)
    offered = [code for group in choices.values() for _, code in group]
    assert sorted(offered) == sorted(PTBXL_LIKE)
    assert {code for _, code in choices["rhythm"]} == {"SR", "AFIB", "SBRAD", "STACH", "SARRH"}


def test_presets_of_the_bundled_model_use_only_its_statements(default_model):
    _, info = default_model
    offered = presets(info.label_names)
    assert len(offered) == len(info.label_names)
    assert all(set(codes) <= set(info.label_names) for _, codes in offered)
    names = [name for name, _ in offered]
    assert len(set(names)) == len(names)


def test_presets_pair_non_rhythm_statements_with_sinus_rhythm():
    offered = dict(presets(PTBXL_LIKE))
    assert list(offered)[0] == "Normal ECG, sinus rhythm" and offered["Normal ECG, sinus rhythm"] == ("NORM", "SR")
    assert offered["Atrial fibrillation"] == ("AFIB",)
    assert offered["Inferior myocardial infarction, sinus rhythm"] == ("IMI", "SR")
    assert offered["Complete right bundle branch block, sinus rhythm"] == ("CRBBB", "SR")
    assert len(offered) == 27
    # Without SR in the vocabulary there is nothing to pair with.
    assert dict(presets(["NORM", "AFIB"])) == {"Normal ECG": ("NORM",), "Atrial fibrillation": ("AFIB",)}
    assert presets([]) == []


def test_apply_preset_fills_the_groups():
    assert apply_preset("Inferior myocardial infarction, sinus rhythm", PTBXL_LIKE) == {
        "rhythm": ["SR"], "form": [], "diagnostic": ["IMI"]}


@pytest.mark.parametrize("name", ["Atrial fibrillation", "", None, "x" * 100_000])
def test_preset_the_model_does_not_offer_is_refused_briefly(name):
    with pytest.raises(RequestError, match="Unknown preset") as caught:
        apply_preset(name, ["NORM", "SR"])
    assert len(str(caught.value)) < 200
