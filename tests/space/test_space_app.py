"""The Gradio wiring of space/app.py, in-process, with the real bundled default pipeline."""

from __future__ import annotations

import os

import pytest

from sssd_hf.app import ModelStore, presets
from sssd_hf.export import EXPORT_FORMATS
from sssd_hf.schedulers.samplers import SAMPLERS

gr = pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[space]')")


@pytest.fixture(scope="module")
def store(default_store):
    """The store ``python space/app.py`` builds with no option and no SSSD_ECG_MODEL."""
    return default_store


@pytest.fixture(scope="module")
def demo(app, store):
    return app.build_demo(store)


def components(demo):
    return {c.get("props", {}).get("elem_id"): c.get("props", {}) for c in demo.config["components"]}


def test_page_offers_the_loaded_models_statements_and_presets(demo, store):
    _, info = store.get()
    props = components(demo)
    offered = [code for g in ("rhythm", "form", "diagnostic") for _, code in props[f"statements-{g}"]["choices"]]
    assert sorted(offered) == sorted(info.label_names)
    assert [c[0] for c in props["preset"]["choices"]] == [name for name, _ in presets(info.label_names)]
    assert props["guidance"]["visible"] is info.supports_guidance
    assert props["guidance"]["value"] == info.default_guidance
    assert "Model: `" in str([c.get("props", {}).get("value") for c in demo.config["components"]])


def test_page_samplers_and_formats_come_from_the_registries(demo, store):
    props = components(demo)
    assert [c[1] for c in props["sampler"]["choices"]] == list(SAMPLERS)
    assert [c[0] for c in props["sampler"]["choices"]] == [s.label for s in SAMPLERS.values()]
    info = store.get()[1]
    assert props["sampler"]["value"] == info.default_sampler == "dpm-sde"  # the bundled default's recommendation
    assert props["steps"]["value"] == SAMPLERS["dpm-sde"].default_steps == 20
    assert [c[1] for c in props["formats"]["choices"]] == list(EXPORT_FORMATS)
    assert [c[0] for c in props["formats"]["choices"]] == [f.label for f in EXPORT_FORMATS.values()]
    assert props["formats"]["value"] == list(EXPORT_FORMATS)


def test_generate_endpoint_is_named_after_its_inputs(demo):
    info = demo.get_api_info()["named_endpoints"]["/generate"]
    assert [p["parameter_name"] for p in info["parameters"]] == [
        "rhythm", "form", "diagnostic", "no_statements", "num_ecgs", "sampler", "steps", "seed", "guidance", "formats"]


def test_handler_returns_gallery_files_and_summary(app, store):
    gallery, files, summary = app.make_handler(store)(["SR"], [], [], False, 2, "dpm", 5, 1, 1.0, ["wfdb", "npz"])
    assert gallery.selected_index == 0  # opens on the first ECG
    assert [item["caption"] for item in gallery.value] == ["ECG 1/2: SR  (seed 1)", "ECG 2/2: SR  (seed 1)"]
    assert all(item["image"]["path"].endswith(".png") and os.path.isfile(item["image"]["path"])
               for item in gallery.value)
    assert [os.path.basename(f) for f in files] == ["sssd_ecg_wfdb.zip", "sssd_ecg.npz"]
    assert "SR - sinus rhythm" in summary and "dpm (DPMSolverMultistepScheduler), 5 steps" in summary


@pytest.mark.parametrize(
    "inputs, message",
    [
        ((["SR"], [], [], False, 50, "dpm", 5, 0, 1.0, None), "Number of ECGs must be between 1 and 8"),
        (([], [], [], False, 1, "dpm", 5, 0, 1.0, None), "Pick at least one statement"),
        ((["CLBBB"], [], [], False, 1, "dpm", 5, 0, 1.0, None), r"does not know the statement\(s\) 'CLBBB'"),
        ((["SR"], [], [], False, 1, "dpmsolver++", 5, 0, 1.0, None), "Unknown sampler 'dpmsolver\\+\\+'"),
        ((["SR"], [], [], False, 1, "dpm", 0, 0, 1.0, None), "Steps must be between 1 and"),
        ((["SR"], [], [], False, 1, "dpm", 5, 0, 1.0, []), "Pick at least one download format"),
        (("SR", [], [], False, 1, "dpm", 5, 0, 1.0, None), "must be a list of codes"),
    ],
)
def test_handler_turns_bad_input_into_a_message(app, store, inputs, message):
    with pytest.raises(gr.Error, match=message) as caught:
        app.make_handler(store)(*inputs)
    assert "Traceback" not in str(caught.value)


def test_huge_label_is_truncated_in_the_message(app, store):
    with pytest.raises(gr.Error) as caught:
        app.make_handler(store)(["X" * 200_000], [], [], False, 1, "dpm", 5, 0, 1.0, None)
    assert len(str(caught.value)) < 300 and "200002 characters" in str(caught.value)


def test_guidance_starts_at_the_pipelines_default(app, tmp_path):
    from sssd_hf import SSSDECGPipeline
    from sssd_hf.testing import make_tiny_pipeline

    for name, null_label, expected in (("guided", True, 2.5), ("plain", False, 1.0)):
        tiny = make_tiny_pipeline(label_names=("NORM", "SR"), sample_length=64, learn_null_label=null_label)
        SSSDECGPipeline(model=tiny.model, scheduler=tiny.scheduler, default_guidance_scale=2.5).save_pretrained(
            tmp_path / name)
        guidance = components(app.build_demo(ModelStore(str(tmp_path / name), device="cpu")))["guidance"]
        assert guidance["value"] == expected and guidance["visible"] is null_label


def test_missing_model_is_shown_on_the_page_and_by_the_handler(app, tmp_path):
    broken = ModelStore(str(tmp_path / "no-such-pipeline"), device="cpu")
    demo = app.build_demo(broken)
    texts = [str(c.get("props", {}).get("value")) for c in demo.config["components"]]
    assert any("No model available" in t and "no-such-pipeline" in t for t in texts)
    assert "generate" not in components(demo)
    with pytest.raises(gr.Error, match="Could not load the model"):
        app.make_handler(broken)(["SR"], [], [], False, 1, "dpm", 5, 0, 1.0, None)


def test_app_queue_limits_concurrent_generations(app, store):
    demo = app.build_app(store, 2)
    assert demo._queue.default_concurrency_limit == 2 and demo._queue.max_size == app.MAX_QUEUE
    generate = [fn for fn in demo.fns.values() if fn.name == "generate"]
    assert len(generate) == 1 and generate[0].concurrency_limit == "default"  # i.e. the queue's limit
    for bad in (0, True, "2"):
        with pytest.raises(ValueError, match="concurrency"):
            app.build_app(store, bad)
