"""Config files and command-line overrides: values, types and the errors for bad input."""

import glob
import os

import pytest

from sssd_hf.training.config import ConfigError, load_config

from .conftest import REPO_ROOT, TINY_CONFIG

CONFIGS = sorted(glob.glob(os.path.join(REPO_ROOT, "training", "configs", "*.yaml")))


def test_overrides_are_typed_and_nested():
    config = load_config(TINY_CONFIG, ["--dataset", "d", "--learning_rate", "1e-4", "--model.channels=16",
                                       "--sample_labels", "[[SR], [STACH, SBRAD]]", "--max_grad_norm", "null"])
    assert config.learning_rate == pytest.approx(1e-4) and isinstance(config.learning_rate, float)
    assert config.model["channels"] == 16
    assert config.model["num_layers"] == 2  # untouched keys of the file survive a nested override
    assert config.sample_labels == [["SR"], ["STACH", "SBRAD"]]
    assert config.max_grad_norm is None


@pytest.mark.parametrize("path", CONFIGS, ids=[os.path.basename(p) for p in CONFIGS])
def test_shipped_configs_are_valid(path):
    config = load_config(path, ["--dataset", "somewhere"])
    assert config.num_train_timesteps == 200
    assert len(config.model["generated_leads"]) == 8


def test_paper_recipes():
    sssd = load_config(os.path.join(REPO_ROOT, "training/configs/sssd_ecg_ptbxl.yaml"), {"dataset": "d"})
    assert (sssd.learning_rate, sssd.batch_size, sssd.max_steps) == (2e-4, 8, 100_000)
    assert sssd.model["label_embedding"] == "multi_hot" and sssd.model["label_names"] == "all"
    nle = load_config(os.path.join(REPO_ROOT, "training/configs/sssd_ecg_nle_afib.yaml"), {"dataset": "d"})
    assert nle.model["label_names"] == ["AFIB"] and nle.model["label_embedding"] == "nle"
    assert nle.model["generated_leads"] == ["I", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="Config file not found"):
        load_config(str(tmp_path / "nope.yaml"))


def test_unknown_keys_are_named_with_a_suggestion(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: d\nlearning_rat: 0.1\n")
    with pytest.raises(ConfigError, match="'learning_rat'.*Did you mean learning_rate"):
        load_config(str(bad))
    with pytest.raises(ConfigError, match="Unknown config key 'batchsize'"):
        load_config(TINY_CONFIG, ["--dataset", "d", "--batchsize", "3"])
    with pytest.raises(ConfigError, match="Unknown model key 'chanels'.*channels"):
        load_config(TINY_CONFIG, ["--dataset", "d", "--model.chanels", "3"])


def test_unknown_statement_codes_are_named():
    with pytest.raises(ConfigError, match=r"\['XYZ'\]"):
        load_config(TINY_CONFIG, ["--dataset", "d", "--model.label_names", "[SR, XYZ]"])


@pytest.mark.parametrize(
    "override, message",
    [
        (["--batch_size", "many"], "batch_size must be a number"),
        (["--batch_size", "0"], "batch_size must be at least 1"),
        (["--mixed_precision", "fp8"], "mixed_precision must be one of"),
        (["--condition_dropout", "0.1"], "learn_null_label"),
        (["--dataset", "null"], "No dataset given"),
        (["--max_steps"], "needs a value"),
    ],
)
def test_bad_values(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TINY_CONFIG, ["--dataset", "d", *override])


def test_script_reports_bad_input_in_one_line(capsys, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "train_sssd_ecg", os.path.join(REPO_ROOT, "training", "train_sssd_ecg.py")
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert "Config file not found" in capsys.readouterr().err
    assert script.main(["--config", TINY_CONFIG, "--dataset", str(tmp_path / "no-data")]) == 2
    assert "Dataset not found" in capsys.readouterr().err
