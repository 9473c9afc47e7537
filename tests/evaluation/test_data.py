"""ECGSet validation and the loaders (.npz, datasets folders, parquet)."""

import numpy as np
import pytest

from sssd_hf.evaluation.data import ECGSet, concat, load_ecg_sets, pick_split, save_npz


def _small(n=4, length=50, names=("AFIB", "NORM")):
    rng = np.random.default_rng(0)
    labels = np.zeros((n, len(names)), np.uint8)
    labels[np.arange(n), np.arange(n) % len(names)] = 1
    return ECGSet(rng.normal(size=(n, 12, length)).astype(np.float32), labels, names, name="small")


def test_labels_from_code_lists_and_indices():
    signal = np.zeros((3, 12, 10), np.float32)
    by_code = ECGSet(signal, [["AFIB"], ["NORM", "SR"], []], ("AFIB", "NORM", "SR"))
    by_index = ECGSet(signal, [[0], [1, 2], []], ("AFIB", "NORM", "SR"))
    np.testing.assert_array_equal(by_code.labels, [[1, 0, 0], [0, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(by_code.labels, by_index.labels)
    assert by_code.label_lists() == [["AFIB"], ["NORM", "SR"], []]


@pytest.mark.parametrize(
    "signal, labels, names, message",
    [
        (np.zeros((2, 12)), np.zeros((2, 1)), ("NORM",), "shape"),
        (np.zeros((2, 8, 10)), np.zeros((2, 1)), ("NORM",), "8 leads"),
        (np.full((2, 12, 10), np.nan), np.zeros((2, 1)), ("NORM",), "NaN"),
        (np.zeros((2, 12, 10)), np.zeros((3, 1)), ("NORM",), "shape"),
        (np.zeros((2, 12, 10)), np.full((2, 1), 2), ("NORM",), "only 0 and 1"),
        (np.zeros((2, 12, 10)), np.zeros((2, 1)), ("NOTACODE",), "NOTACODE"),
        (np.zeros((2, 12, 10)), [["NORM"], ["AFIB"]], ("NORM",), "unknown label 'AFIB'"),
        (np.zeros((2, 12, 10)), [[0], [5]], ("NORM",), "class index 5"),
        (np.zeros((2, 12, 10)), np.zeros((2, 2)), ("NORM", "NORM"), "duplicates"),
    ],
)
def test_bad_inputs_are_named(signal, labels, names, message):
    with pytest.raises(ValueError, match=message):
        ECGSet(signal, labels, names)


def test_with_vocabulary_reorders_adds_and_drops():
    s = _small()
    t = s.with_vocabulary(["NORM", "SR"])
    np.testing.assert_array_equal(t.labels[:, 0], s.labels[:, 1])
    assert t.labels[:, 1].sum() == 0
    with pytest.raises(ValueError, match="PVC"):
        s.positives("PVC")


def test_concat_aligns_vocabularies_and_rejects_other_lengths():
    a = _small(names=("AFIB",))
    b = _small(names=("NORM",))
    both = concat([a, b])
    assert both.label_names == ("AFIB", "NORM") and len(both) == 8
    assert both.labels[:4, 1].sum() == 0 and both.labels[4:, 0].sum() == 0
    with pytest.raises(ValueError, match="samples"):
        concat([a, _small(length=60)])


def test_npz_roundtrip_with_splits(tmp_path):
    s = _small(n=6)
    path = tmp_path / "ecgs.npz"
    save_npz(path, s, split=["train"] * 4 + ["test"] * 2)
    sets = load_ecg_sets(path)
    assert sorted(sets) == ["test", "train"]
    np.testing.assert_array_equal(sets["train"].signal, s.signal[:4])
    np.testing.assert_array_equal(sets["test"].labels, s.labels[4:])
    assert pick_split(sets, "test", "real").name.endswith("[test]")
    with pytest.raises(ValueError, match="available splits are"):
        pick_split(sets, "validation", "real")


def test_npz_without_split_is_all(tmp_path):
    path = tmp_path / "x.npz"
    save_npz(path, _small())
    sets = load_ecg_sets(path)
    assert list(sets) == ["all"] and pick_split(sets, "train", "synthetic") is sets["all"]


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_ecg_sets(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_ecg_sets(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, signal=np.zeros((1, 12, 5)))
    with pytest.raises(ValueError, match=r"missing array\(s\) \['labels', 'label_names'\]"):
        load_ecg_sets(partial)
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(ValueError, match="neither a saved dataset nor parquet"):
        load_ecg_sets(empty)


def _hf_dataset(s: ECGSet, class_labels: bool):
    import datasets

    label = datasets.ClassLabel(names=list(s.label_names)) if class_labels else datasets.Value("string")
    features = datasets.Features({
        "signal": datasets.Array2D(shape=(12, s.num_samples), dtype="float32"),
        "labels": datasets.Sequence(label),
    })
    return datasets.Dataset.from_dict({"signal": s.signal, "labels": s.label_lists()}, features=features)


def test_saved_dataset_dict_with_class_labels(tmp_path):
    import datasets

    s = _small(n=6)
    dd = datasets.DatasetDict(
        {"train": _hf_dataset(s.subset(range(4)), True), "test": _hf_dataset(s.subset([4, 5]), True)}
    )
    dd.save_to_disk(tmp_path / "real")
    sets = load_ecg_sets(tmp_path / "real")
    assert sorted(sets) == ["test", "train"]
    np.testing.assert_allclose(sets["test"].signal, s.signal[4:])
    np.testing.assert_array_equal(sets["train"].labels, s.labels[:4])
    assert sets["train"].label_names == s.label_names


def test_parquet_folder_with_string_labels(tmp_path):
    s = _small(n=5)
    folder = tmp_path / "synthetic" / "data"
    folder.mkdir(parents=True)
    _hf_dataset(s, False).to_parquet(str(folder / "train-00000-of-00001.parquet"))
    sets = load_ecg_sets(tmp_path / "synthetic")
    (split,) = sets.values()
    assert len(split) == 5 and split.label_names == ("AFIB", "NORM")
    np.testing.assert_array_equal(split.labels, s.labels)
    single = load_ecg_sets(folder / "train-00000-of-00001.parquet")
    np.testing.assert_allclose(next(iter(single.values())).signal, s.signal)


def _real_ptbxl_records():
    """(6, 12, 1000) mV: the six real PTB-XL records of tests/fixtures/ptbxl, as stored (12 leads each)."""
    import glob
    import os

    import wfdb

    from ..conftest import fixture_path

    heads = sorted(glob.glob(os.path.join(fixture_path("ptbxl", "records100"), "*", "*_lr.hea")))
    return np.stack([wfdb.rdrecord(h[: -len(".hea")]).p_signal.T for h in heads]).astype(np.float32)


def test_real_records_satisfy_einthoven_and_goldberger():
    from sssd_hf.evaluation.data import check_lead_order, limb_lead_residual
    from sssd_hf.leads import STANDARD_LEADS

    signal = _real_ptbxl_records()
    assert limb_lead_residual(signal, STANDARD_LEADS) < 0.01  # 1 uV rounding of PTB-XL's derived leads
    assert check_lead_order(signal, STANDARD_LEADS, "real") < 0.01


def test_sssd_ecg_lead_order_is_refused_with_the_likely_order(tmp_path):
    from sssd_hf.leads import STANDARD_LEADS

    signal = _real_ptbxl_records()
    sssd_order = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "III", "aVR", "aVL", "aVF"]
    stored = signal[:, [STANDARD_LEADS.index(n) for n in sssd_order]]
    labels = np.zeros((len(signal), 1), np.uint8)
    np.savez(tmp_path / "sssd.npz", signal=stored, labels=labels, label_names=np.array(["NORM"]))
    with pytest.raises(ValueError, match=r"sssd.npz: its limb leads break .* SSSD-ECG array order I, II, V1-V6, III"):
        load_ecg_sets(tmp_path / "sssd.npz")
    np.savez(tmp_path / "named.npz", signal=stored, labels=labels, label_names=np.array(["NORM"]),
             lead_names=np.array(sssd_order))  # the same array with its lead names: accepted
    assert load_ecg_sets(tmp_path / "named.npz")["all"].lead_names == tuple(sssd_order)
    swapped = signal[:, [0, 1, 2, 4, 3, 5, 6, 7, 8, 9, 10, 11]]  # aVR and aVL swapped
    np.savez(tmp_path / "swapped.npz", signal=swapped, labels=labels, label_names=np.array(["NORM"]))
    with pytest.raises(ValueError, match="aVR and aVL swapped"):
        load_ecg_sets(tmp_path / "swapped.npz")


def test_limb_leads_that_fit_no_known_order_are_warned_about(tmp_path):
    rng = np.random.default_rng(0)
    signal = _real_ptbxl_records()
    scrambled = signal.copy()
    scrambled[:, 2] = rng.normal(0, 0.3, scrambled[:, 2].shape)  # lead III replaced by noise
    np.savez(tmp_path / "odd.npz", signal=scrambled, labels=np.zeros((6, 1), np.uint8), label_names=np.array(["NORM"]))
    with pytest.warns(UserWarning, match="no known lead order fits"):
        load_ecg_sets(tmp_path / "odd.npz")
