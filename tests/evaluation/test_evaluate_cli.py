"""``sssd-ecg evaluate`` utility runs: progress, classifier cache, whole-folder reports, bad inputs."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sssd_hf.cli import main

from .conftest import evaluate_argv, write_cli_inputs

FAST = [
    "--classifier",
    "tiny",
    "--epochs",
    "2",
    "--batch-size",
    "8",
    "--learning-rate",
    "0.01",
    "--bootstrap",
    "10",
    "--cpu",
    "--progress",
    "lines",
    "--sections",
    "utility",
]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, real_train, real_test, independent):
    return write_cli_inputs(tmp_path_factory.mktemp("inputs"), real_train, real_test, independent)


def _evaluate(inputs, out, *extra, synthetic="synthetic.npz"):
    return main(evaluate_argv(inputs / "real.npz", inputs / synthetic, out, "--protocols", "TRTR,TSTR", *FAST, *extra))


def test_progress_lines_cache_reuse_and_report(inputs, tmp_path, capsys):
    cache = tmp_path / "cache"
    assert _evaluate(inputs, tmp_path / "rep", "--cache-dir", str(cache)) == 0
    err = capsys.readouterr().err
    for expected in (
        "[evaluate] records: real_train 36",
        "classifier tiny",
        "[TRTR] epoch 1/2: loss",
        "[TSTR] epoch 2/2",
        "[TRTR] test macro ROC-AUC",
        "[utility] done in",
    ):
        assert expected in err
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    trtr = report["utility"]["protocols"]["TRTR"]
    lo, hi = trtr["metrics"]["roc_auc"]["roc_auc_ci"]
    assert lo <= trtr["metrics"]["roc_auc"]["roc_auc"] <= hi and trtr["from_cache"] is False
    assert report["utility"]["tracking_set"] == "real.npz[train] (random 4 held out for validation)"
    assert _evaluate(inputs, tmp_path / "rep2", "--cache-dir", str(cache)) == 0
    err = capsys.readouterr().err
    assert "[TRTR] reusing the classifier trained earlier" in err and "[TRTR] epoch" not in err
    again = json.loads((tmp_path / "rep2" / "report.json").read_text())["utility"]["protocols"]["TRTR"]
    assert again["from_cache"] is True and again["metrics"]["roc_auc"] == trtr["metrics"]["roc_auc"]


def test_a_previous_report_is_replaced_whole(inputs, tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "report.json").write_text("{}")
    (out / "measurements_real.csv").write_text("stale")
    assert _evaluate(inputs, out, "--no-cache") == 0
    assert sorted(os.listdir(out)) == ["report.html", "report.json"]
    assert json.loads((out / "report.json").read_text())["headline"]["TSTR_roc_auc"] >= 0
    assert os.listdir(tmp_path) == ["rep"]  # no partial or previous folder left next to it


def test_an_interrupted_run_leaves_the_previous_report(inputs, tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "report.json").write_text('{"previous": true}')
    command = [
        sys.executable,
        "-m",
        "sssd_hf.cli",
        *evaluate_argv(
            inputs / "real.npz",
            inputs / "synthetic.npz",
            out,
            "--protocols",
            "TRTR,TSTR",
            *FAST,
            "--epochs",
            "500",
            "--patience",
            "0",
            "--no-cache",
        ),
    ]
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 240
        seen = []
        for line in proc.stderr:  # wait until training runs, then interrupt it
            seen.append(line)
            if line.startswith("[TRTR] epoch 1/500") or time.monotonic() > deadline:
                break
        assert any(line.startswith("[TRTR] epoch 1/500") for line in seen), "".join(seen)[-2000:]
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, rest[-2000:]
    assert "interrupted" in rest
    assert os.listdir(out) == ["report.json"] and json.loads((out / "report.json").read_text()) == {"previous": True}
    assert os.listdir(tmp_path) == ["rep"]


def test_stale_partial_folders_of_killed_runs_are_removed(inputs, tmp_path):
    stale = tmp_path / ".rep.partial-999999999-abc"  # no such process
    stale.mkdir()
    (stale / "report.json").write_text("half")
    assert _evaluate(inputs, tmp_path / "rep", "--no-cache") == 0
    assert sorted(os.listdir(tmp_path)) == ["rep"]


def _npz(path, signal, rate=None, names=("NORM", "SR")):
    arrays = dict(
        signal=signal.astype(np.float32), labels=np.zeros((1, len(names)), np.uint8), label_names=np.array(names)
    )
    if rate is not None:
        arrays["sampling_rate"] = np.asarray(rate)
    np.savez(path, **arrays)


def test_a_signal_without_record_axis_is_blamed_on_the_signal(inputs, tmp_path, capsys):
    _npz(tmp_path / "one.npz", np.zeros((12, 1000)))
    assert main(evaluate_argv(inputs / "real.npz", tmp_path / "one.npz", tmp_path / "rep", *FAST)) == 2
    err = capsys.readouterr().err
    assert "one.npz: signal must have shape (N records, leads, samples), got (12, 1000)" in err
    assert "leading record axis" in err and "labels" not in err
    assert not (tmp_path / "rep").exists()


def test_a_sampling_rate_override_that_contradicts_the_stored_rate_is_refused(inputs, tmp_path, capsys):
    _npz(tmp_path / "hr.npz", np.zeros((1, 12, 1000)), rate=500.0)
    argv = evaluate_argv(inputs / "real.npz", tmp_path / "hr.npz", tmp_path / "rep", *FAST)
    assert main([*argv, "--sampling-rate", "100"]) == 2
    err = capsys.readouterr().err
    assert "hr.npz: stores a sampling rate of 500 Hz but 100 Hz was requested (--sampling-rate)" in err
    assert main([*argv, "--sampling-rate", "500"]) == 2  # the override agrees: now the real data's rate differs
    assert "real.npz: stores a sampling rate of 100 Hz but 500 Hz" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--classifier", "resnet9000"], "unknown --classifier 'resnet9000'"),
        (["--threads", "0"], "--threads must be >= 1"),
        (["--sampling-rate", "nan"], "--sampling-rate must be a positive number"),
        (["--bootstrap", "-1"], "--bootstrap must be >= 0"),
        (["--patience", "-2"], "patience must be >= 0"),
        (["--validation-fraction", "0.7"], "validation_fraction must be in"),
    ],
)
def test_bad_arguments(inputs, tmp_path, capsys, extra, message):
    assert _evaluate(inputs, tmp_path / "rep", "--no-cache", *extra) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "rep").exists()


def test_bad_report_folders_are_refused_before_any_work(inputs, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert _evaluate(inputs, tmp_path, "--no-cache") == 2
    assert "holds other files (notes.txt...) and no report.json" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["notes.txt"]
    assert _evaluate(inputs, tmp_path / "notes.txt") == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert main(evaluate_argv(tmp_path / "missing.npz", inputs / "synthetic.npz", tmp_path / "rep")) == 2
    assert "--real" in capsys.readouterr().err


def test_the_help_names_the_real_presets():
    from sssd_hf.cli import build_parser
    from sssd_hf.evaluation.classifier import PRESETS
    from sssd_hf.evaluation.cli import _PRESET_HELP
    from sssd_hf.evaluation.train_classifier import DEFAULT_PRESET

    named = {word.strip(",()") for word in _PRESET_HELP.split() if word.strip(",()") in PRESETS}
    assert named == set(PRESETS)
    assert f"{DEFAULT_PRESET} (the default" in _PRESET_HELP
    assert build_parser().parse_args(evaluate_argv("a", "b", "c")).classifier is None
