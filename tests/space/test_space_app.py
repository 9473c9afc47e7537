"""Handler tests of the Space (space/app.py), without a browser."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import wfdb
from PIL import Image

from sssd_hf.export import read_npz
from sssd_hf.leads import STANDARD_LEADS
from sssd_hf.plotting import paper_layout


# -- statements and presets ------------------------------------------------------------------
def test_statements_grouped_with_descriptions(app):
    choices = app.statement_choices(["SR", "AFIB", "LVOLT", "NORM", "IMI", "MI"])
    assert choices["rhythm"] == [("AFIB - atrial fibrillation", "AFIB"), ("SR - sinus rhythm", "SR")]
    assert choices["form"] == [("LVOLT - low QRS voltages in the frontal and horizontal leads", "LVOLT")]
    assert choices["diagnostic"] == [("IMI - inferior myocardial infarction", "IMI"),
                                     ("MI - myocardial infarction", "MI"), ("NORM - normal ECG", "NORM")]


def test_presets_follow_the_vocabulary(app):
    names = [name for name, _ in app.available_presets(["AFIB", "NORM", "SR", "IMI"])]
    assert names == ["Normal ECG, sinus rhythm", "Atrial fibrillation", "Inferior myocardial infarction"]
    assert app.apply_preset("Inferior myocardial infarction", ["IMI", "SR"]) == (["SR"], [], ["IMI"])
    with pytest.raises(app.SpaceInputError, match="Unknown preset"):
        app.apply_preset("Atrial fibrillation", ["NORM"])  # AFIB not in this model


# -- validation ------------------------------------------------------------------------------
@pytest.fixture
def info(app, tiny_loader):
    return tiny_loader()[1]


def valid_args(**overrides):
    args = dict(statements=["NORM", "SR"], unconditional=False, num_ecgs=2, sampler="ddim",
                num_inference_steps=10, seed=3, guidance_scale=1.0)
    args.update(overrides)
    return args


def test_valid_request(app, info):
    request, warnings = app.validate_request(**valid_args(num_ecgs=8.0, statements=["NORM", "SR", "NORM"]), info=info)
    assert request == app.GenerationRequest(("NORM", "SR"), False, 8, "ddim", 10, 3, 1.0)
    assert warnings == []


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_ecgs": 9}, "Number of ECGs must be between 1 and 8, got 9"),
        ({"num_ecgs": 0}, "between 1 and 8"),
        ({"num_ecgs": 2.5}, "whole number"),
        ({"num_ecgs": None}, "whole number"),
        ({"num_inference_steps": 0}, "Steps must be between 1 and 200"),
        ({"num_inference_steps": 201}, "Steps must be between 1 and 200"),
        ({"num_inference_steps": float("nan")}, "whole number"),
        ({"seed": -1}, "Seed"),
        ({"seed": "abc"}, "Seed must be a whole number"),
        ({"statements": []}, "Pick at least one statement"),
        ({"statements": None}, "Pick at least one statement"),
        ({"statements": ["NORM", "XYZ"]}, r"XYZ"),
        ({"statements": ["NORM"], "unconditional": True}, "not both"),
        ({"sampler": "euler"}, "Unknown sampler"),
        ({"guidance_scale": 3.0}, "not trained for classifier-free guidance"),
        ({"guidance_scale": float("inf")}, "Guidance must be between"),
    ],
)
def test_bad_requests_are_refused_with_a_message(app, info, overrides, message):
    with pytest.raises(app.SpaceInputError, match=message):
        app.validate_request(**valid_args(**overrides), info=info)


def test_unknown_code_message_lists_valid_codes(app, info):
    with pytest.raises(app.SpaceInputError) as caught:
        app.validate_request(**valid_args(statements=["LBBB"]), info=info)
    assert "['LBBB']" in str(caught.value) and "AFIB, CLBBB" in str(caught.value)


def test_explicit_unconditional_and_short_ddpm_warning(app, info):
    request, warnings = app.validate_request(**valid_args(statements=[], unconditional=True, sampler="ddpm",
                                                          num_inference_steps=20), info=info)
    assert request.statements == () and request.unconditional
    assert len(warnings) == 1 and "20 of 200 steps" in warnings[0]
    assert app.default_steps("ddpm", info) == 200 and app.default_steps("unipc", info) == 20


# -- model loading -----------------------------------------------------------------------------
def test_model_source_order(app, monkeypatch):
    monkeypatch.setattr(app, "_default_pipeline_folder", lambda: "/bundled/pipeline")
    assert app.resolve_model_source({"SSSD_ECG_MODEL": "org/model", "SSSD_ECG_DEMO_TINY": "1"}) == (
        "pretrained", "org/model")
    assert app.resolve_model_source({"SSSD_ECG_DEMO_TINY": "1"})[0] == "tiny"
    assert app.resolve_model_source({}) == ("pretrained", "/bundled/pipeline")
    monkeypatch.setattr(app, "_default_pipeline_folder", lambda: None)
    with pytest.raises(app.ModelUnavailable, match="SSSD_ECG_MODEL"):
        app.resolve_model_source({"SSSD_ECG_DEMO_TINY": "0"})


def test_bundled_default_pipeline_is_found_through_sssd_hf(app, monkeypatch, tmp_path):
    import sssd_hf

    monkeypatch.setattr(sssd_hf, "default_pipeline_path", lambda: str(tmp_path), raising=False)
    assert app._default_pipeline_folder() is None  # a folder without model_index.json is no pipeline
    (tmp_path / "model_index.json").write_text("{}")
    assert app._default_pipeline_folder() == str(tmp_path)

    def missing():
        raise FileNotFoundError("weights not bundled")

    monkeypatch.setattr(sssd_hf, "default_pipeline_path", missing)
    assert app._default_pipeline_folder() is None


def test_model_is_loaded_once_per_process(fresh_singleton, monkeypatch):
    app = fresh_singleton
    monkeypatch.setenv("SSSD_ECG_DEMO_TINY", "1")
    monkeypatch.delenv("SSSD_ECG_MODEL", raising=False)
    calls = []
    real = app.load_pipeline
    monkeypatch.setattr(app, "load_pipeline", lambda kind, value: calls.append(kind) or real(kind, value))
    first, second = app.get_model(), app.get_model()
    assert first[0] is second[0] and calls == ["tiny"]
    assert first[1].label_names == app.DEMO_TINY_LABELS


def test_missing_model_folder_is_reported_once(fresh_singleton, monkeypatch, tmp_path):
    app = fresh_singleton
    monkeypatch.setenv("SSSD_ECG_MODEL", str(tmp_path / "nowhere"))
    with pytest.raises(app.ModelUnavailable, match="Could not load the model"):
        app.get_model()
    monkeypatch.setattr(app, "load_pipeline", lambda *a: pytest.fail("must not retry a failed load"))
    with pytest.raises(app.ModelUnavailable, match="nowhere"):
        app.get_model()


def test_saved_pipeline_folder_loads(fresh_singleton, monkeypatch, tmp_path, tiny_pipe):
    app = fresh_singleton
    tiny_pipe.save_pretrained(tmp_path / "pipe")
    monkeypatch.setenv("SSSD_ECG_MODEL", str(tmp_path / "pipe"))
    pipe, info = app.get_model()
    assert info.label_names == tuple(tiny_pipe.model.config.label_names)
    assert info.source == str(tmp_path / "pipe")


# -- generation ----------------------------------------------------------------------------------
def test_generate_draws_and_packages(app, tiny_loader, tmp_path):
    pipe, info = tiny_loader()
    request, _ = app.validate_request(**valid_args(num_ecgs=2, num_inference_steps=3), info=info)
    seen = []
    result = app.generate_ecgs(request, pipe, info, output_root=tmp_path, progress=lambda f, t: seen.append(f))
    assert result.ecgs.shape == (2, 12, 1000)
    assert result.labels == [["NORM", "SR"], ["NORM", "SR"]]
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    # Images: one PNG per ECG at the plot's paper size.
    assert len(result.images) == 2
    for path, caption in result.images:
        image = Image.open(path)
        assert image.format == "PNG"
        assert image.size == paper_layout(1000, 100, title=True).pixel_size(110)
        assert "NORM, SR" in caption
    # Downloads: WFDB records readable by wfdb, equal to the ECGs within 1 uV.
    with zipfile.ZipFile(result.downloads["wfdb"]) as archive:
        archive.extractall(tmp_path / "wfdb")
    for i in range(2):
        record = wfdb.rdrecord(str(tmp_path / "wfdb" / f"ecg_{i:04d}"))
        assert record.sig_name == list(STANDARD_LEADS)
        assert np.abs(record.p_signal.T - result.ecgs[i]).max() <= 1e-3
        assert "statements: NORM,SR" in record.comments
        assert "scheduler: DDIMScheduler" in record.comments and "seed: 3" in record.comments
    npz = read_npz(result.downloads["npz"])
    assert np.array_equal(npz["ecgs"], result.ecgs)
    assert npz["metadata"]["settings"]["num_inference_steps"] == 3
    assert "**2 ECG(s)**" in result.summary_markdown()


def test_same_seed_same_ecgs(app, tiny_loader, tmp_path):
    pipe, info = tiny_loader()
    make = lambda seed: app.generate_ecgs(  # noqa: E731
        app.validate_request(**valid_args(num_ecgs=1, num_inference_steps=2, seed=seed), info=info)[0],
        pipe, info, output_root=tmp_path).ecgs
    a, b, c = make(5), make(5), make(6)
    assert np.array_equal(a, b) and not np.allclose(a, c)


@pytest.mark.parametrize("sampler, scheduler", [("ddpm", "SSSDECGScheduler"), ("ddim", "DDIMScheduler"),
                                                ("dpmsolver++", "DPMSolverMultistepScheduler"),
                                                ("unipc", "UniPCMultistepScheduler")])
def test_every_sampler_runs_without_touching_the_shared_pipeline(app, tiny_loader, tmp_path, sampler, scheduler):
    pipe, info = tiny_loader()
    original = pipe.scheduler
    request, _ = app.validate_request(**valid_args(num_ecgs=1, sampler=sampler, num_inference_steps=3), info=info)
    result = app.generate_ecgs(request, pipe, info, output_root=tmp_path)
    assert result.settings["scheduler"] == scheduler
    assert np.isfinite(result.ecgs).all()
    assert pipe.scheduler is original


def test_unconditional_and_guided_models(app, tmp_path):
    from sssd_hf.testing import make_tiny_pipeline

    plain = make_tiny_pipeline(label_names=None)
    info = app.model_info(plain, "unconditional")
    assert not info.conditional and not info.supports_guidance
    with pytest.raises(app.SpaceInputError, match="unconditional"):
        app.validate_request(**valid_args(), info=info)
    request, _ = app.validate_request(**valid_args(statements=[], num_inference_steps=2, num_ecgs=1), info=info)
    result = app.generate_ecgs(request, plain, info, output_root=tmp_path)
    assert result.labels == [[]]

    guided = make_tiny_pipeline(label_names=("NORM", "AFIB"), learn_null_label=True)
    info = app.model_info(guided, "guided")
    assert info.supports_guidance
    request, _ = app.validate_request(**valid_args(statements=["AFIB"], guidance_scale=2.5, num_inference_steps=2,
                                                   num_ecgs=1), info=info)
    result = app.generate_ecgs(request, guided, info, output_root=tmp_path)
    assert result.settings["guidance_scale"] == 2.5 and result.labels == [["AFIB"]]


def test_old_output_folders_are_pruned(app, tmp_path):
    import os
    import time

    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    app.prune_outputs(tmp_path, max_age_s=3600)
    assert not old.exists() and new.exists()


# -- the Gradio layer ------------------------------------------------------------------------------
def test_gradio_handler_turns_errors_into_messages(app, tiny_loader):
    import gradio as gr

    handler = app._gradio_handler(tiny_loader)
    with pytest.raises(gr.Error, match="between 1 and 8"):
        handler(["SR"], [], ["NORM"], False, 50, "ddim", 3, 0, 1.0)
    with pytest.raises(gr.Error, match="Pick at least one statement"):
        handler([], [], [], False, 1, "ddim", 3, 0, 1.0)

    def broken_loader():
        pipe, info = tiny_loader()
        return None, info  # calling None fails deep inside generation

    with pytest.raises(gr.Error) as caught:
        app._gradio_handler(broken_loader)(["SR"], [], [], False, 1, "ddim", 2, 0, 1.0)
    assert "Generation failed" in str(caught.value) and "Traceback" not in str(caught.value)

    def no_model():
        raise app.ModelUnavailable("No model is available: set SSSD_ECG_MODEL")

    with pytest.raises(gr.Error, match="No model is available"):
        app._gradio_handler(no_model)(["SR"], [], [], False, 1, "ddim", 2, 0, 1.0)


def test_gradio_handler_returns_gallery_files_and_summary(app, tiny_loader):
    gallery, files, summary = app._gradio_handler(tiny_loader)(["AFIB"], [], [], False, 2, "unipc", 2, 1, 1.0)
    assert gallery.selected_index == 0  # opens on the first ECG
    assert [item["caption"] for item in gallery.value] == ["ECG 1/2: AFIB  (seed 1)", "ECG 2/2: AFIB  (seed 1)"]
    assert all(item["image"]["path"].endswith(".png") for item in gallery.value)
    assert [f.rsplit("/", 1)[-1] for f in files] == ["sssd_ecg_wfdb.zip", "sssd_ecg_csv.zip", "sssd_ecg.npz"]
    assert "AFIB - atrial fibrillation" in summary


def _component_labels(demo):
    return {c.get("props", {}).get("elem_id"): c.get("props", {}) for c in demo.config["components"]}


def test_page_lists_the_model_vocabulary(app, tiny_loader):
    demo = app.build_demo(tiny_loader)
    components = _component_labels(demo)
    rhythm = components["statements-rhythm"]["choices"]
    assert [list(c) for c in rhythm] == [["AFIB - atrial fibrillation", "AFIB"], ["SR - sinus rhythm", "SR"],
                                         ["STACH - sinus tachycardia", "STACH"]]
    assert components["guidance"]["visible"] is False  # the tiny model has no null label
    assert "Normal ECG, sinus rhythm" in [c[0] for c in components["preset"]["choices"]]
    assert demo.config["components"] and "generate" in components


def test_page_without_a_model_says_so(app):
    def no_model():
        raise app.ModelUnavailable("No model is available: this installation has no bundled default pipeline.")

    demo = app.build_demo(no_model)
    texts = [c.get("props", {}).get("value") for c in demo.config["components"]]
    assert any("No model available" in str(t) and "no bundled default pipeline" in str(t) for t in texts)
    assert "generate" not in _component_labels(demo)


def test_app_queue_limits_concurrent_generations(app, tiny_loader):
    demo = app.build_app(2, tiny_loader)
    assert demo._queue.default_concurrency_limit == 2 and demo._queue.max_size == 32
    generate = [fn for fn in demo.fns.values() if fn.name == "generate"]
    assert len(generate) == 1 and generate[0].concurrency_limit == "default"  # i.e. the queue's limit
    with pytest.raises(ValueError, match="concurrency"):
        app.build_app(0, tiny_loader)
