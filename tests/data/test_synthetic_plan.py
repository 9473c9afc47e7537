"""Which synthetic ECGs a build generates, from real PTB-XL metadata rows (no model needed)."""

from collections import Counter

import pytest

from sssd_hf.data.labels import map_to_vocabulary
from sssd_hf.data.ptbxl_layout import read_database
from sssd_hf.data.synthetic import Selection, parse_oversample, plan_synthetic

LABELS = ("NORM", "AFIB", "SR", "STACH", "SBRAD", "IMI", "ASMI", "WPW")


@pytest.fixture(scope="module")
def metadata(subset_csv):
    return read_database(subset_csv).set_index("ecg_id")


def test_one_ecg_per_labelled_record_in_its_fold(subset_csv, metadata):
    plan, stats = plan_synthetic(subset_csv, LABELS, Selection())
    labelled = [i for i, s in metadata["statements"].items() if map_to_vocabulary(s, LABELS)]
    assert [p.source_ecg_id for p in plan] == labelled
    assert stats == {"source_rows": 439, "skipped_unlabeled": 439 - len(labelled)}
    assert [p.ecg_id for p in plan] == list(range(1, len(plan) + 1))
    for p in plan[:300]:
        assert p.strat_fold == metadata.loc[p.source_ecg_id, "strat_fold"]
        assert list(p.labels) == map_to_vocabulary(metadata.loc[p.source_ecg_id, "statements"], LABELS)
        assert p.split == {9: "validation", 10: "test"}.get(p.strat_fold, "train")


def test_splits_subset_limit_and_oversampling(subset_csv):
    plan, _ = plan_synthetic(subset_csv, LABELS, Selection(splits=["test"], subset=["AFIB", "WPW"], limit=10,
                                                           oversample=parse_oversample(["AFIB=3", "WPW=2"])))
    sources = Counter(p.source_ecg_id for p in plan)
    assert len(sources) == 10 and all(p.strat_fold == 10 for p in plan)
    for p in plan:
        assert {"AFIB", "WPW"} & set(p.labels)
        assert sources[p.source_ecg_id] == (3 if "AFIB" in p.labels else 2)
    copies = [p.copy for p in plan if p.source_ecg_id == plan[0].source_ecg_id]
    assert copies == list(range(len(copies)))


def test_per_statement_count(subset_csv):
    plan, _ = plan_synthetic(subset_csv, LABELS, Selection(per_statement=5), seed=1)
    counts = Counter(code for p in plan for code in p.labels)
    available = Counter(code for p in plan_synthetic(subset_csv, LABELS, Selection())[0] for code in p.labels)
    for code in LABELS:
        assert counts[code] >= min(5, available[code])
    assert len(plan) <= 5 * len(LABELS)
    again, _ = plan_synthetic(subset_csv, LABELS, Selection(per_statement=5), seed=1)
    other, _ = plan_synthetic(subset_csv, LABELS, Selection(per_statement=5), seed=2)
    assert again == plan and other != plan  # seeded choice


def test_bad_options_name_the_problem(subset_csv):
    with pytest.raises(ValueError, match=r"--subset: Unknown ECG statement code\(s\) \['LVH'\]"):
        plan_synthetic(subset_csv, LABELS, Selection(subset=["LVH"]))
    with pytest.raises(ValueError, match="--oversample: .*'XYZ'"):
        plan_synthetic(subset_csv, LABELS, Selection(oversample={"XYZ": 2}))
    with pytest.raises(ValueError, match="CODE=FACTOR"):
        parse_oversample(["AFIB:2"])
    with pytest.raises(ValueError, match="CODE=FACTOR"):
        parse_oversample(["AFIB=0"])
    with pytest.raises(ValueError, match="Unknown split"):
        plan_synthetic(subset_csv, LABELS, Selection(splits=["dev"]))
    with pytest.raises(ValueError, match="No record"):
        plan_synthetic(subset_csv, ("PACE",), Selection(splits=["test"], subset=["PACE"], min_likelihood=101))


def test_like_accepts_a_ptbxl_folder(ptbxl_root):
    from_folder, stats = plan_synthetic(ptbxl_root, LABELS, Selection())
    metadata = read_database(ptbxl_root)
    assert stats["source_rows"] == len(metadata) == 12
    assert {p.source_ecg_id for p in from_folder} <= set(metadata["ecg_id"])
