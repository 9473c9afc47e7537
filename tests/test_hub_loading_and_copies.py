"""Loading through the Hub cache with diffusers' keyword arguments, and the remote-code copies check."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from sssd_hf import SSSDECGPipeline
from sssd_hf.hub import REMOTE_CODE_FILES, remote_code_files
from sssd_hf.testing import make_tiny_pipeline

from .conftest import REPO_ROOT

CHECK = os.path.join(REPO_ROOT, "utils", "check_copies.py")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _run(pipe):
    return pipe(labels=["NORM", "AFIB"], num_inference_steps=3, generator=torch.Generator().manual_seed(0)).ecgs


def _hub_cache(tmp_path, pipe, repo_id="someone/tiny-ecg"):
    """A Hugging Face cache folder holding ``repo_id`` at ``COMMIT``, as ``snapshot_download`` leaves it."""
    cache = tmp_path / "hf-cache"
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    pipe.save_pretrained(repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return cache


def test_hub_id_loads_offline_from_a_cache_with_diffusers_kwargs(tmp_path):
    pipe = make_tiny_pipeline(sample_length=64)
    cache = _hub_cache(tmp_path, pipe)
    loaded = SSSDECGPipeline.from_pretrained(
        "someone/tiny-ecg", cache_dir=str(cache), local_files_only=True, revision=COMMIT, token=False,
        torch_dtype=torch.float32, trust_remote_code=True,
    )
    np.testing.assert_array_equal(_run(loaded), _run(pipe))
    by_branch = SSSDECGPipeline.from_pretrained("someone/tiny-ecg", cache_dir=str(cache), local_files_only=True)
    np.testing.assert_array_equal(_run(by_branch), _run(pipe))
    with pytest.raises(Exception, match="(?i)cache|local|offline"):  # nothing cached under this id
        SSSDECGPipeline.from_pretrained("someone/absent", cache_dir=str(cache), local_files_only=True)


def test_torch_dtype_forms_and_unknown_arguments(tmp_path):
    make_tiny_pipeline(sample_length=64).save_pretrained(tmp_path / "p")
    as_dict = SSSDECGPipeline.from_pretrained(tmp_path / "p", torch_dtype={"default": torch.bfloat16})
    assert as_dict.model.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="torch_dtype must be a torch.dtype"):
        SSSDECGPipeline.from_pretrained(tmp_path / "p", torch_dtype="float16")
    with pytest.raises(TypeError, match=r"Unexpected arguments: \['colour'\]"):
        SSSDECGPipeline.from_pretrained(tmp_path / "p", colour="red")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="model CPU offload needs an accelerator")
def test_model_cpu_offload_gives_the_same_ecgs():
    pipe = make_tiny_pipeline(sample_length=64)
    reference = _run(pipe.to("cuda"))
    offloaded = make_tiny_pipeline(sample_length=64)
    offloaded.enable_model_cpu_offload()
    np.testing.assert_allclose(_run(offloaded), reference, atol=1e-5)
    assert offloaded.model.device.type == "cpu"  # moved back after the call


def _check(*args):
    return subprocess.run([sys.executable, CHECK, *args], capture_output=True, text=True, timeout=120)


def test_bundled_remote_code_matches_the_package():
    result = _check()
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_finds_and_fixes_drift(tmp_path):
    folder = tmp_path / "pipe"
    make_tiny_pipeline(sample_length=64).save_pretrained(folder)
    assert _check("--folder", str(folder)).returncode == 0
    (folder / "scheduler" / "scheduling_sssd_ecg.py").write_text("# edited by hand\n", encoding="utf-8")
    os.unlink(folder / "leads.py")
    result = _check("--folder", str(folder))
    assert result.returncode == 1
    assert "scheduler/scheduling_sssd_ecg.py differs" in result.stdout and "leads.py differs" in result.stdout
    assert "--fix" in result.stderr
    assert _check("--folder", str(folder), "--fix").returncode == 0
    assert _check("--folder", str(folder)).returncode == 0
    expected = remote_code_files()
    for dest, _, _ in REMOTE_CODE_FILES:
        assert (folder / dest).read_text(encoding="utf-8") == expected[dest]


def test_the_check_refuses_a_folder_that_is_not_a_pipeline(tmp_path):
    result = _check("--folder", str(tmp_path))
    assert result.returncode == 2 and "not a pipeline folder" in result.stderr


def test_remote_pipeline_code_has_relative_imports_flattened():
    code = remote_code_files()["pipeline_sssd_ecg.py"]
    assert "from .leads import" in code and "from ..leads" not in code


def test_a_resaved_copy_keeps_the_loaded_folders_card_and_defaults(tmp_path):
    """Saving the bundled PTB-XL pipeline again (e.g. to publish a copy) keeps its model card: the CC BY 4.0
    licence and PTB-XL attribution its weights carry, not a generic card; and its recommended sampler and
    guidance. A pipeline built in memory still gets the generic card."""
    from diffusers import DiffusionPipeline

    from sssd_hf.defaults import default_pipeline_path

    source = default_pipeline_path()
    pipe = SSSDECGPipeline.from_pretrained(source)
    pipe.save_pretrained(tmp_path / "copy")
    card = (tmp_path / "copy" / "README.md").read_text(encoding="utf-8")
    assert card == open(os.path.join(source, "README.md"), encoding="utf-8").read()
    assert "license: cc-by-4.0" in card and "Wagner" in card
    copy = SSSDECGPipeline.from_pretrained(tmp_path / "copy")
    assert copy.default_sampler_name == "dpm-sde" and copy.default_guidance == 3.0
    remote = DiffusionPipeline.from_pretrained(str(tmp_path / "copy"), trust_remote_code=True)
    remote.save_pretrained(tmp_path / "remote-copy")  # diffusers' loader: the card is found via _name_or_path
    assert (tmp_path / "remote-copy" / "README.md").read_text(encoding="utf-8") == card
    make_tiny_pipeline(sample_length=64).save_pretrained(tmp_path / "tiny")
    assert "license: mit" in (tmp_path / "tiny" / "README.md").read_text(encoding="utf-8")
