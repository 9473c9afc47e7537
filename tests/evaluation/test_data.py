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
    dd = datasets.DatasetDict({"train": _hf_dataset(s.subset(range(4)), True), "test": _hf_dataset(s.subset([4, 5]), True)})
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
