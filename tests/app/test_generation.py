"""Generation with the real bundled default pipeline (few-step sampler, 1-2 ECGs): images and every download."""

from __future__ import annotations

import os
import time
import zipfile

import numpy as np
import pytest
import wfdb
from PIL import Image

from sssd_hf.app import GenerationRequest, generate_ecgs, model_info, prune_outputs, validate_request
from sssd_hf.export import EXPORT_FORMATS, read_npz
from sssd_hf.leads import STANDARD_LEADS
from sssd_hf.plotting import paper_layout
from sssd_hf.schedulers.samplers import SAMPLERS


def request_for(info, **overrides):
    values = dict(statements=["SR"], num_ecgs=2, sampler="dpm", num_inference_steps=5, seed=3)
    values.update(overrides)
    return validate_request(info, **values)[0]


@pytest.fixture(scope="module")
def result(default_model, tmp_path_factory):
    pipe, info = default_model
    seen = []
    out = generate_ecgs(request_for(info), pipe, info, tmp_path_factory.mktemp("out"),
                        progress=lambda fraction, text: seen.append(fraction))
    out.progress_seen = seen
    return out


def test_ecgs_labels_and_progress(result):
    assert result.ecgs.shape == (2, 12, 1000) and result.ecgs.dtype == np.float32
    assert np.isfinite(result.ecgs).all() and 0.01 < np.abs(result.ecgs).max() < 20  # millivolts
    assert result.labels == [["SR"], ["SR"]] and result.lead_names == list(STANDARD_LEADS)
    seen = result.progress_seen
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    assert "**2 ECG(s)**" in result.summary_markdown() and "SR - sinus rhythm" in result.summary_markdown()


def test_one_png_per_ecg_on_ecg_paper(result):
    assert len(result.images) == 2
    for path, caption in result.images:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == paper_layout(1000, 100, title=True).pixel_size(110)
        assert caption.startswith("ECG ") and "SR" in caption and "seed 3" in caption


def test_every_registered_format_is_written(result):
    assert list(result.downloads) == list(EXPORT_FORMATS)
    folder = {os.path.dirname(p) for p in result.downloads.values()} | {os.path.dirname(p) for p, _ in result.images}
    assert len(folder) == 1  # one folder per request
    for fmt, path in result.downloads.items():
        assert os.path.basename(path) == EXPORT_FORMATS[fmt].file_name.format(stem="sssd_ecg")
        assert os.path.getsize(path) > 0
        if path.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                assert archive.testzip() is None and "metadata.json" in archive.namelist()


def test_wfdb_and_npz_hold_the_ecgs_and_settings(result, tmp_path):
    with zipfile.ZipFile(result.downloads["wfdb"]) as archive:
        archive.extractall(tmp_path)
    for i in range(2):
        record = wfdb.rdrecord(str(tmp_path / f"ecg_{i:04d}"))
        assert record.sig_name == list(STANDARD_LEADS) and record.fs == 100
        assert np.abs(record.p_signal.T - result.ecgs[i]).max() <= 1e-3
        assert "statements: SR" in record.comments
        assert "scheduler: DPMSolverMultistepScheduler" in record.comments and "seed: 3" in record.comments
    npz = read_npz(result.downloads["npz"])
    assert np.array_equal(npz["ecgs"], result.ecgs)
    assert npz["metadata"]["settings"]["sampler"] == "dpm"
    assert npz["metadata"]["settings"]["num_inference_steps"] == 5


def test_same_seed_same_ecgs(default_model, tmp_path):
    pipe, info = default_model

    def make(seed):
        return generate_ecgs(request_for(info, num_ecgs=1, seed=seed, formats=["npz"]), pipe, info, tmp_path).ecgs

    a, b, c = make(5), make(5), make(6)
    assert np.array_equal(a, b) and not np.allclose(a, c)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_every_sampler_runs_without_touching_the_shared_pipeline(default_model, tmp_path, sampler):
    pipe, info = default_model
    original = pipe.scheduler
    expected = SAMPLERS[sampler].scheduler_class or type(original).__name__
    result = generate_ecgs(request_for(info, num_ecgs=1, sampler=sampler, num_inference_steps=3, formats=["npz"]),
                           pipe, info, tmp_path)
    assert result.settings["scheduler"] == expected and result.settings["sampler"] == sampler
    assert np.isfinite(result.ecgs).all()
    assert pipe.scheduler is original


def test_a_failed_request_leaves_no_folder(default_model, tmp_path):
    pipe, info = default_model
    valid = request_for(info, num_ecgs=1, formats=["npz"])
    # Bypassing validation, a format the export table does not know fails after the PNG is drawn.
    broken = GenerationRequest(**{**valid.__dict__, "formats": ("npz", "no-such-format")})
    with pytest.raises(ValueError, match="no-such-format"):
        generate_ecgs(broken, pipe, info, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unconditional_and_guided_models(tmp_path):
    from sssd_hf.testing import make_tiny_pipeline

    plain = make_tiny_pipeline(label_names=None)
    info = model_info(plain, "plain")
    request = validate_request(info, [], num_inference_steps=2, formats=["npz"])[0]
    result = generate_ecgs(request, plain, info, tmp_path)
    assert result.labels == [[]] and "statements *none*" in result.summary_markdown()

    guided = make_tiny_pipeline(label_names=("NORM", "AFIB"), learn_null_label=True)
    info = model_info(guided, "guided")
    request = validate_request(info, ["AFIB"], guidance_scale=2.5, num_inference_steps=2, formats=["npz"])[0]
    result = generate_ecgs(request, guided, info, tmp_path)
    assert result.settings["guidance_scale"] == 2.5 and result.labels == [["AFIB"]]
    assert "guidance 2.5" in result.summary_markdown()


def test_the_pipelines_default_guidance_is_used_when_the_request_gives_none(tmp_path):
    from sssd_hf import SSSDECGPipeline
    from sssd_hf.app import with_scheduler
    from sssd_hf.testing import make_tiny_pipeline

    tiny = make_tiny_pipeline(label_names=("NORM", "AFIB"), learn_null_label=True)
    pipe = SSSDECGPipeline(model=tiny.model, scheduler=tiny.scheduler, default_num_inference_steps=3,
                           default_guidance_scale=2.5)
    runner = with_scheduler(pipe, tiny.scheduler)  # the per-request pipeline keeps the pipeline's settings
    assert runner.model is pipe.model and runner.default_guidance == 2.5 and runner.default_steps == 3
    info = model_info(pipe, "guided")
    results = {}
    for name, guidance in (("default", None), ("explicit", 2.5), ("off", 1.0)):
        request = request_for(info, statements=["AFIB"], num_ecgs=1, num_inference_steps=2, guidance_scale=guidance,
                              formats=["npz"])
        results[name] = generate_ecgs(request, pipe, info, tmp_path)
    assert results["default"].settings["guidance_scale"] == 2.5
    assert read_npz(results["default"].downloads["npz"])["metadata"]["settings"]["guidance_scale"] == 2.5
    np.testing.assert_array_equal(results["default"].ecgs, results["explicit"].ecgs)
    assert not np.allclose(results["default"].ecgs, results["off"].ecgs)


def test_old_output_folders_are_pruned(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    prune_outputs(tmp_path, max_age_s=3600)
    assert not old.exists() and new.exists()
    prune_outputs(tmp_path / "missing")  # no folder yet: nothing to do
