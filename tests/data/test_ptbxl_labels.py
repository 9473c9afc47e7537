"""scp_codes parsing and vocabulary mapping, checked against PTB-XL's own statement table."""

import pandas as pd
import pytest

from sssd_hf.data.labels import map_to_vocabulary, parse_label_cell, parse_scp_codes
from sssd_hf.data.ptbxl_layout import read_database
from sssd_hf.vocabulary import ALL_STATEMENTS, DIAGNOSTIC_SUPERCLASSES, get_vocabulary


def test_every_real_row_parses_to_known_codes(subset_csv):
    frame = read_database(subset_csv)
    assert len(frame) == 439  # every 10th row of the shared 4,381-row subset
    codes = {code for statements in frame["statements"] for code in statements}
    assert codes <= set(ALL_STATEMENTS)
    first = frame.iloc[0]
    assert first["ecg_id"] == 2 and first["statements"] == {"NORM": 80.0, "SBRAD": 0.0}


def test_parse_scp_codes_never_evaluates_code(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(ValueError, match="not a Python dict literal"):
        parse_scp_codes(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    assert not marker.exists()
    with pytest.raises(ValueError, match="expected a dict"):
        parse_scp_codes("['NORM']")
    with pytest.raises(ValueError, match="code -> number"):
        parse_scp_codes("{'NORM': 'high'}")


def _benchmark_superclasses(table: pd.DataFrame, statements: dict) -> set:
    """PTB-XL benchmark's aggregation: diagnostic statements -> their diagnostic_class."""
    return {
        table.loc[c, "diagnostic_class"] for c in statements if c in table.index and table.loc[c, "diagnostic"] == 1
    }


def test_superclass_mapping_matches_the_ptbxl_benchmark(subset_csv, statements_csv):
    table = pd.read_csv(statements_csv, index_col=0)
    frame = read_database(subset_csv)
    vocabulary = get_vocabulary("superdiagnostic")
    assert vocabulary == DIAGNOSTIC_SUPERCLASSES == ("CD", "HYP", "MI", "NORM", "STTC")
    for statements in frame["statements"].head(800):
        assert set(map_to_vocabulary(statements, vocabulary)) == _benchmark_superclasses(table, statements)


def test_subclass_and_min_likelihood():
    statements = {"ILMI": 100.0, "IMI": 35.0, "SR": 0.0}
    assert map_to_vocabulary(statements, get_vocabulary("subdiagnostic")) == ["IMI"]
    assert map_to_vocabulary(statements, get_vocabulary("all")) == ["ILMI", "IMI", "SR"]
    assert map_to_vocabulary(statements, get_vocabulary("all"), min_likelihood=50) == ["ILMI"]
    assert map_to_vocabulary(statements, get_vocabulary("rhythm")) == ["SR"]
    assert map_to_vocabulary(statements, ["SR", "MI"]) == ["SR", "MI"]  # vocabulary order
    with pytest.raises(ValueError, match="'XYZ'"):
        map_to_vocabulary({"XYZ": 100.0}, ALL_STATEMENTS)


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("{'NORM': 80.0, 'SR': 0.0}", {"NORM": 80.0, "SR": 0.0}),
        ("['AFIB', 'LAO/LAE']", {"AFIB": 100.0, "LAO/LAE": 100.0}),
        ("norm; sr|PRC(S)", {"NORM": 100.0, "SR": 100.0, "PRC(S)": 100.0}),
        ("", {}),
        (float("nan"), {}),
    ],
)
def test_parse_label_cell_forms(cell, expected):
    assert parse_label_cell(cell) == expected
