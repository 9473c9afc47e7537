"""training/evaluate_default.py (fold-10 figures of the PTB-XL default) and write_default_card.py,
on the real PTB-XL records vendored in tests/fixtures/ptbxl (CC BY 4.0)."""

import importlib.util
import json
import os

import numpy as np
import pytest

from .conftest import REPO_ROOT

PTBXL = os.path.join(REPO_ROOT, "tests", "fixtures", "ptbxl")
CODES = ["NORM", "SR", "SBRAD", "STACH", "AFIB", "CRBBB"]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO_ROOT, "training", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def evaluate_default():
    return _script("evaluate_default")


@pytest.fixture(scope="module")
def real_fidelity(evaluate_default):
    sets = evaluate_default.real_sets(PTBXL, CODES)
    records = evaluate_default.merge(list(sets.values()))
    return records, evaluate_default.fidelity(records["signal"], records["labels"])


def test_wilson_interval_matches_the_formula(evaluate_default):
    assert evaluate_default.wilson(0, 10) == pytest.approx([0.0, 0.2775], abs=1e-4)
    assert evaluate_default.wilson(5, 10) == pytest.approx([0.2366, 0.7634], abs=1e-4)
    assert evaluate_default.wilson(10, 10)[1] == pytest.approx(1.0)
    assert all(np.isnan(evaluate_default.wilson(0, 0)))


def test_sinus_groups_leave_out_other_rhythms(evaluate_default):
    group = evaluate_default.rhythm_group
    assert group(["NORM", "SR"], "SR") and group(["NORM", "SR"], "NORM")
    assert not group(["NORM", "SBRAD"], "NORM")  # a bradycardic NORM is not 60-100 bpm
    assert group(["NORM", "SBRAD"], "SBRAD") and not group(["SR"], "AFIB")


def test_fidelity_of_real_ptbxl_records_is_what_their_statements_say(real_fidelity):
    """The yardstick on real ECGs: labelled SBRAD / SR / STACH records lie in their rate bands, real
    AFIB is irregular and sinus rhythm is not (the same delineator the card's figures use)."""
    records, fid = real_fidelity
    assert fid["n"] == len(records["signal"]) == 6
    for code in ("SBRAD", "SR", "STACH"):
        entry = fid["heart_rate"][code]["in_range"]
        assert entry["n"] >= 1 and entry["fraction"] == 1.0, (code, entry)
    assert fid["afib_rr"]["AFIB"]["irregular"]["fraction"] == 1.0
    assert fid["afib_rr"]["SR"]["irregular"]["fraction"] == 0.0
    assert fid["afib_rr"]["SR"]["rr_cv"]["median"] < 0.05 < fid["afib_rr"]["AFIB"]["rr_cv"]["median"]
    amplitude = fid["amplitude_mv"]
    assert set(amplitude) >= {"I", "II", "V1", "V6"} and all(0.2 < a["median"] < 5.0 for a in amplitude.values())


def test_split_provenance_finds_copies_in_the_wrong_fold(evaluate_default):
    """The fidelity stage's check that the copy keeps each record's fold, on the fixture's real splits."""
    real = evaluate_default.real_sets(PTBXL, CODES)
    same = evaluate_default.split_provenance(real, real)
    assert all(p["source_records_in_real_split"] and p["n"] == len(real[s]["ecg_id"]) for s, p in same.items())
    swapped = evaluate_default.split_provenance({"train": real["test"], "test": real["train"]}, real)
    assert not swapped["train"]["source_records_in_real_split"]
    assert swapped["train"]["outside"] == [int(i) for i in real["test"]["ecg_id"][:10]]


def test_the_card_carries_the_measured_figures(real_fidelity, tmp_path):
    from sssd_hf.testing import make_tiny_pipeline

    _, fid = real_fidelity
    pipeline = tmp_path / "pipeline"
    make_tiny_pipeline(label_names=tuple(CODES)).save_pretrained(str(pipeline))
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    headline = {"memorisation_flagged": False, "privacy_status": "ok"}
    for key, value in {"TRTR_roc_auc": 0.8, "TSTR_roc_auc": 0.72, "TRTS_roc_auc": 0.75, "memorisation_rate": 0.01,
                       "membership_inference_auc": 0.51, "degenerate_rate": 0.0}.items():
        headline.update({key: value, f"{key}_ci": [value - 0.05, value + 0.05], f"{key}_n": 255})
    results = {"sampling": {"dataset": {"scheduler": "dpm", "steps": 20}}, "evaluate": {"headline": headline},
               "fidelity": {"synthetic_all_folds": fid, "real_fold10": fid, "real_folds1_8": fid,
                            "amplitude_within_real_fold10_p5_p95": {lead: True for lead in fid["amplitude_mv"]}}}
    # The guidance stage ran with another sampler than the synthetic copy: the card says so.
    results["guidance"] = {"per_label_set": 4, "label_sets": [["SBRAD"], ["NORM", "SR"]], "scale_1": fid}
    results["sampling"]["guidance"] = {"scheduler": "ddpm", "steps": 200}
    (results_dir / "fold10.json").write_text(json.dumps(results))
    (results_dir / "generated_vs_real.png").write_bytes(b"\x89PNG\r\n")
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("\n".join(json.dumps(r) for r in [
        {"step": 25, "loss": 0.1, "window_seconds": 30.0}, {"step": 50, "loss": 0.05, "window_seconds": 30.0},
        {"step": 50, "validation_loss": 0.04}]) + "\n")
    card_script = _script("write_default_card")
    assert card_script.main(["--pipeline", str(pipeline), "--results", str(results_dir / "fold10.json"),
                             "--metrics", str(metrics), "--ptbxl", PTBXL]) == 0
    card = (pipeline / "README.md").read_text()
    assert "license: cc-by-4.0" in card and "Scientific Data 7, 154" in card
    assert "0.800 [0.750, 0.850] (n = 255)" in card and "TSTR / TRTR = 0.90" in card
    assert "| SBRAD | heart rate < 60 bpm | 100 %" in card and "flagged: **no**" in card
    assert "50 optimizer steps" in card and "0.0400 at 50" in card
    assert "DPM-Solver++ (`--scheduler dpm`) in 20 steps" in card
    assert "--stages dataset,evaluate,fidelity,figure --scheduler dpm --steps 20" in card
    assert "sampled with DDPM (`--scheduler ddpm`) in 200 steps" in card
    assert "--stages guidance --scheduler ddpm --steps 200" in card
    real_sr = fid["afib_rr"]["SR"]["rr_cv"]["median"]
    assert f"| SR median RR CV (real PTB-XL folds 1-8: {real_sr:.2f}) |" in card  # measured by the fidelity stage
    assert (pipeline / "generated_vs_real.png").is_file()


def test_bad_inputs_are_refused_with_one_line_before_any_work(evaluate_default, tmp_path, capsys):
    from sssd_hf.testing import make_tiny_pipeline

    pipeline = tmp_path / "pipeline"
    make_tiny_pipeline(label_names=tuple(CODES)).save_pretrained(str(pipeline))
    work = tmp_path / "work"
    cases = [
        (["--pipeline", str(tmp_path), "--work", str(work)], "is not a pipeline folder"),
        (["--pipeline", str(pipeline), "--ptbxl", str(tmp_path), "--work", str(work)], "is not a PTB-XL folder"),
        (["--pipeline", str(pipeline), "--ptbxl", PTBXL, "--work", str(work), "--stages", "fidelity,plots"],
         "unknown stage(s) ['plots']"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            evaluate_default.main(args)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not work.exists()  # refused before anything was written

    card_script = _script("write_default_card")
    corrupt = tmp_path / "fold10.json"
    corrupt.write_text("{not json")
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"step": 1, "loss": 0.1}\n')
    partial = tmp_path / "partial.json"
    partial.write_text('{"sampling": {}}')
    base = ["--pipeline", str(pipeline), "--metrics", str(metrics), "--ptbxl", PTBXL]
    for results, message in ((tmp_path / "missing.json", "not found"), (corrupt, "is not a fold10.json"),
                             (partial, "lacks the stage(s) ['dataset', 'evaluate', 'fidelity']")):
        with pytest.raises(SystemExit):
            card_script.main([*base, "--results", str(results)])
        assert message in capsys.readouterr().err
    assert not (pipeline / "generated_vs_real.png").exists()  # the card folder was not touched


def test_a_partial_card_says_what_is_not_measured_yet(real_fidelity, tmp_path, capsys):
    """``--partial``: only the guidance stage has run; the card gives its table and names the missing figures,
    and without ``--partial`` the same results are refused."""
    from sssd_hf import SSSDECGPipeline
    from sssd_hf.testing import make_tiny_pipeline

    _, fid = real_fidelity
    pipeline = tmp_path / "pipeline"
    tiny = make_tiny_pipeline(label_names=tuple(CODES), learn_null_label=True)
    SSSDECGPipeline(model=tiny.model, scheduler=tiny.scheduler, default_guidance_scale=3.0).save_pretrained(
        str(pipeline))
    results = tmp_path / "fold10.json"
    results.write_text(json.dumps({
        "guidance": {"per_label_set": 4, "label_sets": [["SBRAD"], ["NORM", "SR"]], "scale_1": fid, "scale_3": fid},
        "sampling": {"guidance": {"scheduler": "dpm", "steps": 20}}}))
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"step": 50, "loss": 0.05, "window_seconds": 30.0}\n{"step": 50, "validation_loss": 0.04}\n')
    args = ["--pipeline", str(pipeline), "--results", str(results), "--metrics", str(metrics), "--ptbxl", PTBXL]
    card_script = _script("write_default_card")
    with pytest.raises(SystemExit):
        card_script.main(args)
    assert "lacks the stage(s) ['dataset', 'evaluate', 'fidelity']" in capsys.readouterr().err
    assert card_script.main([*args, "--partial"]) == 0
    card = (pipeline / "README.md").read_text()
    assert "**Not measured yet on fold 10**" in card and "### Classifier-free guidance" in card
    assert "| guidance 1 | guidance 3 |" in card and "--guidance-per-label 4 --guidance-scales 1 3" in card
    assert "Calls apply classifier-free guidance 3 unless told otherwise" in card
    assert "| SR median RR CV (real PTB-XL folds 1-8: 0.02) |" in card  # the reference before fidelity ran
    assert "### Downstream utility" not in card and not (pipeline / "generated_vs_real.png").exists()


def test_the_sinus_rhythm_limitation_names_the_sampler_of_its_figures():
    """Figures from the deterministic solver point to the stochastic ones; figures from a stochastic one say
    that the deterministic solver is worse (the advice must not recommend the sampler already used)."""
    card_script = _script("write_default_card")
    deterministic = card_script.sampler_advice({"fidelity": {}, "sampling": {"dataset": {"scheduler": "dpm"}}})
    stochastic = card_script.sampler_advice({"fidelity": {}, "sampling": {"dataset": {"scheduler": "dpm-sde"}}})
    guidance_only = card_script.sampler_advice({"sampling": {"guidance": {"scheduler": "ddpm"}}})
    assert "`--scheduler dpm-sde`" in deterministic and "more evenly" in deterministic
    assert "come from a stochastic sampler" in stochastic and "`--scheduler dpm-sde`" not in stochastic
    assert guidance_only == stochastic

