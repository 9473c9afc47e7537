"""Training at 500 Hz (PTB-XL's records500) and at other window lengths."""

import os
import re

import numpy as np
import pytest

from tests.training.conftest import REPO_ROOT, TINY_CONFIG, make_dataset_dict, run_training

PTBXL_FIXTURE = os.path.join(REPO_ROOT, "tests", "fixtures", "ptbxl")


def _fixture_with_500hz_records() -> str:
    if not os.path.isdir(os.path.join(PTBXL_FIXTURE, "records500")):
        pytest.skip(f"vendored PTB-XL fixture with records500/ not found under {PTBXL_FIXTURE}")
    return PTBXL_FIXTURE


@pytest.fixture(scope="module")
def run_500hz(tmp_path_factory):
    """Two optimizer steps on the vendored PTB-XL folder's 500 Hz records (those present)."""
    root = _fixture_with_500hz_records()
    tmp = tmp_path_factory.mktemp("hz500")
    out = tmp / "out"
    args = ["--dataset", root, "--sampling_rate", "500", "--max_steps", "2", "--output_dir", str(out),
            "--batch_size", "1", "--validation_split", "null", "--sample_inference_steps", "2"]
    result = run_training(args, env={"HF_DATASETS_CACHE": str(tmp / "cache")}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, tmp / "cache"


def test_500hz_run_exports_a_500hz_pipeline(run_500hz, tmp_path):
    import wfdb

    from sssd_hf import SSSDECGPipeline
    from sssd_hf.export import write_csv_files, write_wfdb_records

    out, cache = run_500hz
    pipe = SSSDECGPipeline.from_pretrained(out / "pipeline")
    assert pipe.model.config.sampling_rate == 500 and pipe.model.config.sample_length == 5000
    assert pipe.model.config.s4_max_length == 5000
    result = pipe(labels=[["SR"]], num_inference_steps=2, output_type="np")
    assert result.sampling_rate == 500 and result.ecgs.shape == (1, 12, 5000)
    ecgs, rate, leads, labels = result.ecgs, result.sampling_rate, result.lead_names, result.labels
    [record] = write_wfdb_records(tmp_path / "wfdb", ecgs, rate, leads, labels)
    header = wfdb.rdheader(record)
    assert header.fs == 500 and header.sig_len == 5000
    [csv] = write_csv_files(tmp_path / "csv", ecgs, rate, leads, labels)
    times = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=0)
    assert len(times) == 5000 and times[1] - times[0] == pytest.approx(1 / 500)
    assert list((out / "samples" / "step-2").glob("*.png"))  # checkpoint plots drawn at 500 Hz
    # only the records present at 500 Hz were used; the missing ones are in the rejection report
    [report] = list(cache.glob("sssd_hf/ptbxl500-*/rejected.csv"))
    assert "missing file" in report.read_text()


def test_500hz_folder_with_a_missing_split_is_a_clear_error(tmp_path):
    root = _fixture_with_500hz_records()
    result = run_training(["--dataset", root, "--sampling_rate", "500", "--max_steps", "1", "--batch_size", "1",
                           "--output_dir", str(tmp_path / "out")], env={"HF_DATASETS_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 2
    assert "'validation' split has no records" in result.stderr and "--validation_split null" in result.stderr
    assert not (tmp_path / "out" / "pipeline").exists()


def test_unknown_ptbxl_rate_is_refused_before_conversion(tmp_path):
    root = _fixture_with_500hz_records()
    result = run_training(["--dataset", root, "--sampling_rate", "250", "--output_dir", str(tmp_path / "out")],
                          env={"HF_DATASETS_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 2 and "PTB-XL provides records at [100, 500] Hz" in result.stderr
    assert not (tmp_path / "cache").exists()


@pytest.fixture(scope="module")
def long_dataset(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("data") / "long")
    make_dataset_dict(num_train=8, num_validation=2, length=200).save_to_disk(path)
    return path


def test_random_crop_windows_train_a_shorter_model(long_dataset, tmp_path):
    from sssd_hf import SSSDECGPipeline

    out = tmp_path / "out"
    args = ["--dataset", long_dataset, "--sample_length", "50", "--crop", "random", "--sampling_rate", "20",
            "--max_steps", "2", "--batch_size", "2", "--output_dir", str(out), "--sample_inference_steps", "1"]
    result = run_training(args)
    assert result.returncode == 0, result.stderr[-3000:]
    config = SSSDECGPipeline.from_pretrained(out / "pipeline").model.config
    assert (config.sample_length, config.s4_max_length, config.sampling_rate) == (50, 50, 20)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"sample_length": 100, "model.s4_max_length": 64}, "exceeds model.s4_max_length 64"),
        ({"sample_length": 1}, "sample_length must be at least 2 samples"),
        ({"crop": "middle"}, "crop must be one of"),
        ({"sampling_rate": 0}, "sampling_rate must be a positive number of Hz"),
        ({"sampling_rate": 500, "model.sampling_rate": 100}, "sampling_rate 500 Hz differs from model.sampling_rate"),
        ({"sample_length": 100, "model.sample_length": 50}, "differs from model.sample_length"),
    ],
)
def test_lengths_and_rates_the_model_cannot_take_are_refused(overrides, message):
    from sssd_hf.training import ConfigError, load_config

    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(TINY_CONFIG, {"dataset": "somewhere", **overrides})


def test_window_longer_than_the_records_is_refused():
    from sssd_hf.training import ConfigError, load_config
    from sssd_hf.training.trainer import training_window

    config = load_config(TINY_CONFIG, {"dataset": "x", "sample_length": 15000, "sampling_rate": 500})
    with pytest.raises(ConfigError, match=re.escape("sample_length 15000 samples (30 s at 500 Hz) is longer than the "
                                                    "dataset's records (5000 samples = 10 s)")):
        training_window(config, 5000)
    assert training_window(load_config(TINY_CONFIG, {"dataset": "x", "sample_length": 1250}), 5000) == 1250
    assert training_window(load_config(TINY_CONFIG, {"dataset": "x"}), 5000) == 5000


def test_crops_are_slices_of_the_record_and_reproducible():
    from sssd_hf.training.data import ECGSplit, ShardedEpochOrder, _MicroBatches, crop_offsets

    dataset = make_dataset_dict(num_train=6, num_validation=1, length=200)
    leads = ["I", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    full = ECGSplit(dataset["train"], leads, ["SR"])
    order = ShardedEpochOrder(6, 2, seed=3)
    for crop in ("start", "center", "random"):
        cut = ECGSplit(dataset["train"], leads, ["SR"], window=50, crop=crop)
        a, b = _MicroBatches(cut, order)[5], _MicroBatches(cut, order)[5]
        assert a["signal"].shape == (2, 8, 50)
        assert np.array_equal(a["signal"], b["signal"])  # same micro-step, same crop
        whole = full.batch(order.indices(5))["signal"].numpy()
        for row in range(2):
            starts = [s for s in range(151) if np.array_equal(whole[row, :, s : s + 50], a["signal"][row].numpy())]
            assert starts and (crop != "start" or starts[0] == 0) and (crop != "center" or starts[0] == 75)
    offsets = crop_offsets(200, 50, "random", 1000, np.random.default_rng(0))
    assert offsets.min() == 0 and offsets.max() == 150  # every start is reachable
    with pytest.raises(ValueError, match="does not fit"):
        ECGSplit(dataset["train"], leads, ["SR"], window=201)
