"""``sssd-ecg evaluate`` end to end on small simulated data, and its input errors."""

import json
import os

import numpy as np
import pytest

from sssd_hf.cli import main
from sssd_hf.evaluation.data import ECGSet, save_npz

from .conftest import evaluate_argv, write_cli_inputs

FAST = ["--classifier", "tiny", "--epochs", "4", "--batch-size", "8", "--learning-rate", "0.01", "--eval-every", "2",
        "--bootstrap", "20", "--cpu"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, real_train, real_test, independent):
    folder = write_cli_inputs(tmp_path_factory.mktemp("inputs"), real_train, real_test, independent)
    rng = np.random.default_rng(0)
    copies = ECGSet(real_train.signal[:24] + rng.normal(0, 0.01, real_train.signal[:24].shape).astype(np.float32),
                    real_train.labels[:24], real_train.label_names, name="copies")
    save_npz(folder / "copies.npz", copies)
    return folder


@pytest.fixture(scope="module")
def full_report(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    code = main(
        evaluate_argv(
            inputs / "real.npz",
            inputs / "synthetic.npz",
            out,
            "--protocols",
            "TRTR,TSTR,TRTS,augment",
            "--augment-statement",
            "STACH",
            "--statements",
            "SBRAD,STACH",
            "--save-classifiers",
            *FAST,
        )
    )
    assert code == 0
    return out


def test_report_files_are_complete(full_report):
    names = sorted(os.listdir(full_report))
    assert names == [
        "classifiers",
        "measurements_real.csv",
        "measurements_real_baseline.csv",
        "measurements_synthetic.csv",
        "privacy.md",
        "report.html",
        "report.json",
    ]
    assert sorted(os.listdir(full_report / "classifiers")) == ["TRTR", "TSTR", "augment"]
    from sssd_hf.evaluation.classifier import ECGClassifierModel

    assert ECGClassifierModel.from_pretrained(full_report / "classifiers" / "TSTR").config.label_names == [
        "NORM",
        "SBRAD",
        "SR",
        "STACH",
    ]


def test_json_report_content(full_report):
    report = json.loads((full_report / "report.json").read_text())
    assert set(report) >= {"inputs", "options", "utility", "features", "physiology", "privacy", "headline", "examples"}
    head = report["headline"]
    for protocol in ("TRTR", "TSTR", "TRTS", "augment"):
        assert 0.0 <= head[f"{protocol}_roc_auc"] <= 1.0
        assert len(report["utility"]["protocols"][protocol]["history"]) == 2
    assert head["memorisation_flagged"] is False
    assert head["frechet_synthetic"] is None  # 12 records per half-fold, 16 embedding dimensions: too few
    assert "needs at least 32 records per set" in head["frechet_synthetic_not_computed"]
    assert head["mmd2_real_baseline"] >= 0 and head["mmd2_real_baseline_n"] == 12
    numbers = [k for k, v in head.items()
               if not k.endswith(("_ci", "_n", "_not_computed")) and not isinstance(v, (bool, str))]
    assert len(numbers) >= 18
    for key in numbers:  # every headline number carries its n and an interval, or says why it is missing
        assert f"{key}_n" in head and f"{key}_ci" in head
        if head[key] is None:
            assert head[f"{key}_not_computed"]
        else:
            lo, hi = head[f"{key}_ci"]
            assert lo <= hi and head[f"{key}_n"] > 0
    assert head["TSTR_roc_auc_n"] == 24 and head["privacy_status"] == "not flagged"
    assert report["privacy"]["degenerate"]["n"] == 0
    physiology = report["physiology"]
    assert set(physiology["synthetic_vs_real"]["groups"]) == {"all", "SBRAD", "STACH"}
    assert physiology["failures"]["synthetic"]["n_records"] == 24
    assert report["inputs"]["real_train"]["n_records"] == 36 and report["inputs"]["real_test"]["n_records"] == 24
    assert report["examples"] == ["SBRAD", "STACH"]  # the --statements, shown as real/synthetic pairs


def test_html_report_has_tables_and_embedded_figures(full_report):
    page = (full_report / "report.html").read_text()
    for heading in (
        "Downstream utility",
        "Feature-space distances",
        "Physiological plausibility",
        "Privacy audit",
        "Example ECGs",
    ):
        assert heading in page
    assert page.count("data:image/png;base64,") >= 12
    assert "not flagged" in page and "FLAGGED" not in page
    assert "<h2>Headline</h2>" in page and "frechet: not computed, needs at least 32 records per set" in page
    assert not [n for n in os.listdir(full_report) if n.startswith(".tmp")]


def test_copied_training_records_are_flagged_in_the_report(inputs, tmp_path, capsys):
    code = main(evaluate_argv(inputs / "real.npz", inputs / "copies.npz", tmp_path, "--sections", "privacy", *FAST))
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["headline"]["memorisation_flagged"] is True and report["privacy"]["memorisation_rate"] == 1.0
    assert "FLAGGED" in (tmp_path / "report.html").read_text()
    summary = (tmp_path / "privacy.md").read_text()
    assert "**FLAGGED**" in summary and "Memorisation rate: 100.00%, 98% bootstrap interval 100.0%-100.0%" in summary
    assert "of n = 24 synthetic ECGs" in summary and "Exact copies of training records: 0." in summary
    assert '"memorisation_flagged": true' in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--synthetic", "missing.npz"], "ECG data not found|no such file or folder"),
        (["--labels", "AFIB,NOTACODE"], "NOTACODE"),
        (["--labels", "AFIB"], r"statement\(s\) \['AFIB'\] are not labelled"),
        (["--protocols", "TRTR,TSRT"], "unknown protocol"),
        (["--protocols", "augment"], "augment_statement"),
        (["--sections", "utility,style"], "unknown section"),
        (["--classifier", "resnet9000"], "unknown --classifier"),
        (["--test-split", "holdout"], "no split 'holdout'"),
    ],
)
def test_input_errors_exit_2_with_a_message(inputs, tmp_path, capsys, extra, message):
    missing = extra[0] == "--synthetic"  # a missing synthetic input replaces the existing one
    synthetic = tmp_path / extra[1] if missing else inputs / "synthetic.npz"
    # other extras come after FAST: later options override earlier ones in argparse
    code = main(evaluate_argv(inputs / "real.npz", synthetic, tmp_path / "r", *FAST, *([] if missing else extra)))
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("sssd-ecg evaluate: error:")
    import re

    assert re.search(message, err), err
    assert not os.path.exists(tmp_path / "r" / "report.json")


def test_flat_synthetic_ecgs_are_reported_degenerate(inputs, real_train, tmp_path, capsys):
    flat = ECGSet(np.zeros((12, 12, 1000), np.float32), real_train.labels[:12], real_train.label_names, name="flat")
    save_npz(tmp_path / "flat.npz", flat)
    assert main(evaluate_argv(inputs / "real.npz", tmp_path / "flat.npz", tmp_path / "r", "--sections", "privacy",
                              *FAST)) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["privacy"]["status"] == "degenerate" and report["headline"]["memorisation_flagged"] is False
    assert report["headline"]["degenerate_rate"] == 1.0 and report["headline"]["memorisation_rate"] is None
    assert "**DEGENERATE**" in (tmp_path / "r" / "privacy.md").read_text()


def test_arrays_in_the_sssd_ecg_lead_order_are_refused(real_pool, tmp_path, capsys):
    from sssd_hf.leads import STANDARD_LEADS

    signal, _, _ = real_pool
    sssd_order = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "III", "aVR", "aVL", "aVF"]
    stored = signal[:, [STANDARD_LEADS.index(n) for n in sssd_order]]  # what the published SSSD-ECG arrays hold
    labels = np.zeros((len(signal), 1), np.uint8)
    np.savez(tmp_path / "sssd.npz", signal=stored, labels=labels, label_names=np.array(["NORM"]))
    sssd = tmp_path / "sssd.npz"
    code = main(evaluate_argv(sssd, sssd, tmp_path / "r", "--real-test", str(sssd), *FAST))
    assert code == 2
    err = capsys.readouterr().err
    assert "break Einthoven's and Goldberger's relations" in err and "SSSD-ECG array order I, II, V1-V6, III" in err
    assert not os.path.exists(tmp_path / "r" / "report.json")


def test_real_input_without_test_fold(inputs, tmp_path, capsys):
    code = main(evaluate_argv(inputs / "synthetic.npz", inputs / "synthetic.npz", tmp_path, *FAST))
    assert code == 2
    assert "has no train/test splits; give the test fold with --real-test" in capsys.readouterr().err


def test_datasets_folders_with_validation_split(real_train, real_test, independent, tmp_path):
    """Inputs in the data module's schema: Array2D signal, labels as a sequence of ClassLabel."""
    import datasets

    from sssd_hf.data.features import labels_feature, signal_feature

    features = datasets.Features({"signal": signal_feature(1000), "labels": labels_feature(real_train.label_names)})

    def to_dataset(ecgs):
        return datasets.Dataset.from_dict({"signal": ecgs.signal, "labels": ecgs.label_lists()}, features=features)

    datasets.DatasetDict(
        {
            "train": to_dataset(real_train.subset(range(0, 36, 2))),
            "validation": to_dataset(real_train.subset(range(1, 36, 2))),
            "test": to_dataset(real_test),
        }
    ).save_to_disk(tmp_path / "real")
    datasets.DatasetDict(
        {
            "train": to_dataset(independent.subset(range(0, 24, 2))),
            "test": to_dataset(independent.subset(range(1, 24, 2))),
        }
    ).save_to_disk(tmp_path / "synthetic")
    argv = evaluate_argv(tmp_path / "real", tmp_path / "synthetic", tmp_path / "out", "--sections", "utility", *FAST)
    code = main(argv)
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["utility"]["tracking_set"] == "real[validation]"
    protocols = report["utility"]["protocols"]
    assert protocols["TSTR"]["train_set"] == "synthetic[train]" and protocols["TSTR"]["n_train"] == 12
    assert protocols["TRTS"]["test_set"] == "synthetic[test]" and protocols["TRTR"]["test_set"] == "real[test]"
    assert report["inputs"]["synthetic"]["n_records"] == 24


def test_with_the_data_modules_real_and_synthetic_datasets(tmp_path, capsys):
    """PTB-XL layout -> convert-ptbxl -> build-dataset (tiny pipeline) -> evaluate -> card privacy section."""
    from sssd_hf.data.fixtures import write_ptbxl_fixture
    from sssd_hf.testing import make_tiny_pipeline

    from ..conftest import fixture_path

    write_ptbxl_fixture(tmp_path / "ptbxl", fixture_path("ptbxl", "ptbxl_database_sample.csv"), num_records=48)
    make_tiny_pipeline(label_names=("NORM", "AFIB", "SR", "STACH"), sample_length=1000, seed=0).save_pretrained(
        tmp_path / "pipe"
    )
    assert (
        main(
            [
                "convert-ptbxl",
                str(tmp_path / "ptbxl"),
                "--out",
                str(tmp_path / "real"),
                "--num-workers",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    build = [
        "build-dataset",
        "--model",
        str(tmp_path / "pipe"),
        "--like",
        str(tmp_path / "ptbxl"),
        "--steps",
        "2",
        "--no-progress",
    ]
    assert main(build + ["--out", str(tmp_path / "synthetic")]) == 0
    assert (
        main(
            evaluate_argv(
                tmp_path / "real",
                tmp_path / "synthetic",
                tmp_path / "report",
                "--labels",
                "NORM,AFIB,SR",
                "--sections",
                "utility,physiology,privacy",
                *FAST,
            )
        )
        == 0
    )
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert (
        report["inputs"]["real_test"]["name"] == "real[test]"
        and report["utility"]["tracking_set"] == "real[validation]"
    )
    assert report["utility"]["protocols"]["TSTR"]["train_set"] == "synthetic[train]"
    smallest = min(report["inputs"]["real_test"]["n_records"], report["inputs"]["synthetic_test"]["n_records"])
    assert smallest < 10  # a test fold this small is not measured: the report says so instead of computing
    assert report["physiology"]["not_computed"] == ("needs at least 10 records in each of the real test, synthetic "
                                                    f"and real baseline sets; the smallest has {smallest}")
    assert report["headline"]["physiology_mean_ks_synthetic"] is None
    assert (
        main(
            build + ["--out", str(tmp_path / "synthetic"), "--privacy-report", str(tmp_path / "report" / "privacy.md")]
        )
        == 0
    )
    assert "Membership-inference attack" in (tmp_path / "synthetic" / "README.md").read_text()
