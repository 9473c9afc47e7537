"""``python space/app.py`` started with no settings serves the bundled default; its /generate API works
with gradio_client (keyword arguments named after the inputs) and returns ECG images and files."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from sssd_hf.defaults import DEFAULT_PIPELINE_DIR
from sssd_hf.export import EXPORT_FORMATS, read_npz

gradio_client = pytest.importorskip("gradio_client", reason="gradio_client is not installed (it comes with gradio)")


@pytest.fixture(scope="module")
def client(space_server):
    return gradio_client.Client(space_server, verbose=False)


def test_generate_endpoint_returns_images_and_every_download(client, bundled_label_names):
    assert "SR" in bundled_label_names
    gallery, files, summary = client.predict(api_name="/generate", rhythm=["SR"], form=[], diagnostic=[],
                                             no_statements=False, num_ecgs=2, sampler="dpm", steps=5, seed=7,
                                             guidance=1.0, formats=list(EXPORT_FORMATS))
    images = gallery["value"]
    assert [item["caption"] for item in images] == ["ECG 1/2: SR  (seed 7)", "ECG 2/2: SR  (seed 7)"]
    for item in images:
        with open(item["image"], "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    names = sorted(os.path.basename(f) for f in files)
    assert names == sorted(spec.file_name.format(stem="sssd_ecg") for spec in EXPORT_FORMATS.values())
    npz = read_npz(next(f for f in files if f.endswith(".npz")))
    assert npz["ecgs"].shape == (2, 12, 1000) and np.isfinite(npz["ecgs"]).all()
    assert npz["metadata"]["settings"]["model"] == DEFAULT_PIPELINE_DIR  # the bundled default was served
    assert npz["metadata"]["settings"]["sampler"] == "dpm"
    for path in files:
        if path.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                assert archive.testzip() is None
    assert "**2 ECG(s)**" in summary and "`" + DEFAULT_PIPELINE_DIR + "`" in summary


def test_defaults_of_the_api_are_the_registries(client):
    parameters = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/generate"]["parameters"]
    defaults = {p["parameter_name"]: p.get("parameter_default") for p in parameters}
    # the served (bundled) pipeline's default_sampler, and every format of the export registry
    assert defaults["sampler"] == "dpm-sde" and defaults["formats"] == list(EXPORT_FORMATS)


@pytest.mark.parametrize("overrides, message", [
    ({"rhythm": ["X" * 200_000]}, "200002 characters"),
    ({"rhythm": []}, "Pick at least one statement"),
    ({"rhythm": ["NOPE"]}, "does not know the statement"),
    ({"num_ecgs": 99}, "Number of ECGs must be between 1 and 8"),
    ({"steps": 100_000}, "Steps must be between 1 and"),
    ({"sampler": "s" * 100_000}, "Unknown sampler"),
])
def test_bad_api_input_gets_a_short_message(client, overrides, message):
    values = dict(rhythm=["SR"], form=[], diagnostic=[], no_statements=False, num_ecgs=1, sampler="dpm", steps=5,
                  seed=0, guidance=1.0, formats=["npz"])
    values.update(overrides)
    with pytest.raises(gradio_client.exceptions.AppError) as caught:
        client.predict(api_name="/generate", **values)
    assert message in str(caught.value) and len(str(caught.value)) < 300
