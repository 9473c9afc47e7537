"""``sssd-ecg generate`` end to end with a tiny saved pipeline (and the bundled one where it matters)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import wfdb

from sssd_hf.cli import main
from sssd_hf.export import read_dicom_ecg, read_edf_ecg, read_npz
from sssd_hf.leads import STANDARD_LEADS
from sssd_hf.seeding import ecg_generators

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def model_dir(tiny_pipeline, tmp_path):
    path = tmp_path / "model"
    tiny_pipeline.save_pretrained(path)
    return str(path)


def _metadata(out):
    return json.loads((out / "metadata.json").read_text())


def test_generate_writes_wfdb_records_readable_by_wfdb(model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["generate", "--model", model_dir, "--labels", "NORM,SR", "--num", "2", "--out", str(out),
                 "--steps", "3", "--plot"])
    assert code == 0, capsys.readouterr().err
    record = wfdb.rdrecord(str(out / "ecg_0000"))
    assert record.sig_name == list(STANDARD_LEADS)
    assert record.fs == 100 and record.units == ["mV"] * 12 and record.p_signal.shape == (64, 12)
    assert any("NORM" in c and "SR" in c for c in record.comments)
    assert (out / "ecg_0001.hea").is_file() and (out / "ecg_0001.png").is_file()
    assert not [n for n in os.listdir(out) if n.startswith(".tmp")]
    meta = _metadata(out)
    assert meta["complete"] is True and [e["record"] for e in meta["ecgs"]] == ["ecg_0000", "ecg_0001"]


def test_generate_npy_and_csv_formats_and_determinism(model_dir, tmp_path):
    for fmt in ("npy", "csv"):
        assert main(["generate", "--model", model_dir, "--labels", "AFIB", "--out", str(tmp_path / fmt),
                     "--format", fmt, "--steps", "3", "--scheduler", "ddim", "--seed", "7"]) == 0
    data = read_npz(tmp_path / "npy" / "ecgs.npz")
    csv = np.loadtxt(tmp_path / "csv" / "ecg_0000.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(csv[:, 1:].T, data["ecgs"][0], atol=1e-5)
    assert data["labels"] == [["AFIB"]]
    assert data["metadata"]["settings"]["sampler"] == "ddim"


def test_batches_are_written_as_they_come_and_match_one_pipeline_call(model_dir, tiny_pipeline, tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--model", model_dir, "--labels", "SR", "--num", "5", "--batch-size", "2",
                 "--out", str(out), "--format", "npz", "--steps", "4", "--scheduler", "dpm", "--seed", "3"]) == 0
    written = read_npz(out / "ecgs.npz")
    from sssd_hf.schedulers.samplers import make_scheduler

    tiny_pipeline.scheduler = make_scheduler("dpm", tiny_pipeline.scheduler.config)
    direct = tiny_pipeline(labels=["SR"] * 5, num_inference_steps=4, batch_size=5,
                           generator=ecg_generators(3, range(5)))
    np.testing.assert_allclose(written["ecgs"], direct.ecgs, atol=1e-6)
    assert _metadata(out)["num_ecgs"] == 5 and written["metadata"]["ecgs"][4]["record"] == "ecg_0004"


def test_each_ecg_is_the_same_whatever_the_batch_size(model_dir, tmp_path):
    runs = {}
    for batch_size in ("1", "3"):
        out = tmp_path / f"b{batch_size}"
        assert main(["generate", "--model", model_dir, "--labels", "AFIB", "--num", "4", "--batch-size", batch_size,
                     "--out", str(out), "--format", "npz", "--steps", "3", "--scheduler", "ddpm", "--seed", "5"]) == 0
        runs[batch_size] = read_npz(out / "ecgs.npz")["ecgs"]
    np.testing.assert_allclose(runs["1"], runs["3"], atol=1e-5)
    assert not np.allclose(runs["1"][0], runs["1"][1])  # different ECGs get different noise


def test_dicom_and_edf_formats(model_dir, tmp_path):
    for fmt in ("dicom", "edf"):
        assert main(["generate", "--model", model_dir, "--labels", "NORM", "--num", "2", "--out", str(tmp_path / fmt),
                     "--format", fmt, "--steps", "2", "--scheduler", "dpm"]) == 0
    assert main(["generate", "--model", model_dir, "--labels", "NORM", "--num", "2", "--out", str(tmp_path / "npz"),
                 "--format", "npz", "--steps", "2", "--scheduler", "dpm"]) == 0
    ecgs = read_npz(tmp_path / "npz" / "ecgs.npz")["ecgs"]
    dicom = read_dicom_ecg(tmp_path / "dicom" / "ecg_0001.dcm")
    assert dicom["lead_names"] == list(STANDARD_LEADS) and dicom["sampling_rate"] == 200.0
    assert np.abs(dicom["ecg"][:, ::2] - ecgs[1]).max() <= 5e-4 + 1e-9
    edf = read_edf_ecg(tmp_path / "edf" / "ecg_0000.edf")
    assert edf["ecg"].shape == (12, 64) and np.abs(edf["ecg"] - ecgs[0]).max() < 1e-3
    assert "statement: NORM" in edf["annotations"]


def test_pipeline_default_steps_are_honoured_for_ddpm(tiny_pipeline, tmp_path):
    tiny_pipeline.register_to_config(default_num_inference_steps=2)
    tiny_pipeline.save_pretrained(tmp_path / "model")
    assert main(["generate", "--model", str(tmp_path / "model"), "--labels", "SR", "--out", str(tmp_path / "a")]) == 0
    assert _metadata(tmp_path / "a")["settings"]["num_inference_steps"] == 2
    assert main(["generate", "--model", str(tmp_path / "model"), "--labels", "SR", "--out", str(tmp_path / "b"),
                 "--scheduler", "unipc"]) == 0
    assert _metadata(tmp_path / "b")["settings"]["num_inference_steps"] == 20  # the sampler registry's default


def test_the_folders_default_sampler_is_used_and_recorded_and_can_be_overridden(tiny_pipeline, tmp_path, capsys):
    from sssd_hf import SSSDECGPipeline

    SSSDECGPipeline(model=tiny_pipeline.model, scheduler=tiny_pipeline.scheduler,
                    default_sampler="dpm").save_pretrained(tmp_path / "model")
    base = ["generate", "--model", str(tmp_path / "model"), "--labels", "SR", "--num", "2", "--format", "npz"]
    assert main(base + ["--out", str(tmp_path / "default")]) == 0
    assert main(base + ["--out", str(tmp_path / "dpm"), "--scheduler", "dpm", "--steps", "20"]) == 0
    assert main(base + ["--out", str(tmp_path / "ddpm"), "--scheduler", "ddpm"]) == 0
    settings = {n: _metadata(tmp_path / n)["settings"] for n in ("default", "dpm", "ddpm")}
    assert settings["default"]["sampler"] == "dpm" and settings["default"]["num_inference_steps"] == 20
    assert settings["default"]["scheduler"] == "DPMSolverMultistepScheduler"
    assert settings["ddpm"]["sampler"] == "ddpm"
    assert settings["ddpm"]["scheduler"] == type(tiny_pipeline.scheduler).__name__
    default, dpm = (read_npz(tmp_path / n / "ecgs.npz")["ecgs"] for n in ("default", "dpm"))
    np.testing.assert_array_equal(default, dpm)
    # an unknown recommendation is one line naming it, before the weights load
    index_path = tmp_path / "model" / "model_index.json"
    index_path.write_text(json.dumps(dict(json.loads(index_path.read_text()), default_sampler="euler")))
    capsys.readouterr()
    assert main(base + ["--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "default_sampler: unknown sampler 'euler'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_an_older_run_is_refused_then_replaced_with_overwrite(model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["generate", "--model", model_dir, "--labels", "SR", "--steps", "2", "--scheduler", "dpm",
            "--out", str(out)]
    assert main(base + ["--num", "3", "--plot"]) == 0
    before = sorted(os.listdir(out))
    capsys.readouterr()
    assert main(base + ["--num", "1"]) == 2
    assert "is not empty" in capsys.readouterr().err and sorted(os.listdir(out)) == before
    assert main(base + ["--num", "1", "--overwrite"]) == 0
    assert sorted(os.listdir(out)) == ["ecg_0000.dat", "ecg_0000.hea", "metadata.json"]
    assert _metadata(out)["num_ecgs"] == 1
    (out / "notes.txt").write_text("mine")
    assert main(base + ["--num", "1", "--overwrite"]) == 2
    assert "did not write (notes.txt)" in capsys.readouterr().err and (out / "ecg_0000.hea").is_file()
    (out / "notes.txt").unlink()
    (out / "ecg_0001").mkdir()  # a folder with a run file's name is still not ours
    assert main(base + ["--num", "1", "--overwrite"]) == 2
    assert "did not write (ecg_0001)" in capsys.readouterr().err


def test_bad_output_is_refused_before_the_model_loads(tmp_path, capsys):
    missing_model = str(tmp_path / "nowhere")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    # A broken model folder would fail to load: each error below comes first.
    broken = tmp_path / "broken"
    broken.mkdir()
    assert main(["generate", "--model", missing_model, "--labels", "NORM", "--out", str(tmp_path / "y")]) == 2
    assert "No pipeline folder" in capsys.readouterr().err
    assert main(["generate", "--labels", "SR", "--out", str(a_file)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["generate", "--labels", "SR", "--out", str(a_file / "sub")]) == 2
    assert "cannot be written" in capsys.readouterr().err
    assert a_file.read_text() == "x"


def test_label_step_and_number_errors_come_before_loading_weights(model_dir, tmp_path, capsys):
    # Corrupt weights: any error that is reported instead of the load error was found before loading.
    weights = os.path.join(model_dir, "model", "diffusion_pytorch_model.safetensors")
    with open(weights, "r+b") as f:
        f.truncate(100)
    base = ["generate", "--model", model_dir, "--out", str(tmp_path / "x")]
    cases = [
        (["--labels", "CLBBB"], "Unknown ECG statement code(s) ['CLBBB']"),
        (["--labels", "NORM", "--steps", "0"], "--steps must be at least 1, got 0"),
        (["--labels", "NORM", "--steps", "500"], "steps must be an integer from 1 to 200, got 500"),
        (["--labels", "NORM", "--num", "0"], "--num must be from 1 to 100000, got 0"),
        (["--labels", "NORM", "--num", "1000000000"], "build-dataset"),
        (["--labels", "NORM", "--num", "30000", "--format", "npy"], "--num must be from 1 to 20000"),
        (["--labels", "NORM", "--batch-size", "0"], "--batch-size"),
        (["--labels", "NORM", "--seed", "-1"], "--seed must be 0 or more"),
        (["--steps", "2"], "--labels"),
        (["--labels", "NORM", "--unconditional"], "not both"),
        (["--labels", "NORM", "--device", "quantum"], "not a device name"),
        (["--labels", "NORM"], "cannot load the pipeline"),
    ]
    if not torch.cuda.is_available():
        cases.append((["--labels", "NORM", "--device", "cuda"], "sees no CUDA GPU"))
    for extra, message in cases:
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (extra, err)
    assert not (tmp_path / "x").exists()  # a failed run leaves no empty folder behind


def test_pickled_or_missing_weights_are_refused(model_dir, tmp_path, capsys):
    folder = os.path.join(model_dir, "model")
    weights = os.path.join(folder, "diffusion_pytorch_model.safetensors")
    os.replace(weights, os.path.join(folder, "diffusion_pytorch_model.bin"))
    assert main(["generate", "--model", model_dir, "--labels", "NORM", "--out", str(tmp_path / "x")]) == 2
    assert "only pickled weights (diffusion_pytorch_model.bin)" in capsys.readouterr().err
    os.unlink(os.path.join(folder, "diffusion_pytorch_model.bin"))
    assert main(["generate", "--model", model_dir, "--labels", "NORM", "--out", str(tmp_path / "x")]) == 2
    assert "holds no weights" in capsys.readouterr().err
    shutil.rmtree(os.path.join(model_dir, "scheduler"))
    assert main(["generate", "--model", model_dir, "--labels", "NORM", "--out", str(tmp_path / "x")]) == 2
    assert "scheduler_config.json" in capsys.readouterr().err


def _start_generate(model_dir, out, extra=()):
    """A real ``sssd-ecg generate`` process (60 ECGs of 20 steps, one at a time) writing into ``out``."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "sssd_hf.cli", "generate", "--model", model_dir, "--labels", "SR",
                             "--num", "60", "--batch-size", "1", "--steps", "20", "--out", str(out), *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(proc, path):
    deadline = time.monotonic() + 240
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
        time.sleep(0.05)


def _records(out):
    return sorted(n[:-4] for n in os.listdir(out) if n.endswith(".hea"))


def _signals(out):
    return np.stack([wfdb.rdrecord(str(out / name)).p_signal for name in _records(out)])


def _uninterrupted(model_dir, out, extra=()):
    assert main(["generate", "--model", model_dir, "--labels", "SR", "--num", "60", "--batch-size", "16",
                 "--steps", "20", "--out", str(out), *extra]) == 0


def test_interrupted_run_keeps_its_finished_records_and_resumes_exactly(model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    proc = _start_generate(model_dir, out)
    try:
        _wait_for(proc, out / "ecg_0002.hea")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "--resume" in err and "--overwrite" in err
    meta = _metadata(out)
    on_disk = _records(out)
    assert meta["complete"] is False and meta["num_requested"] == 60
    assert [e["record"] for e in meta["ecgs"]] == on_disk and 3 <= len(on_disk) < 60
    for name in on_disk:
        assert wfdb.rdrecord(str(out / name)).p_signal.shape == (64, 12)
    assert not [n for n in os.listdir(out) if n.startswith(".tmp")]
    kept = {name: (out / f"{name}.dat").read_bytes() for name in on_disk}

    assert main(["generate", "--model", model_dir, "--labels", "SR", "--num", "60", "--batch-size", "16",
                 "--steps", "20", "--out", str(out), "--resume"]) == 0
    assert f"kept the first {len(on_disk)}" in capsys.readouterr().out
    assert _metadata(out)["complete"] is True and len(_records(out)) == 60
    assert {name: (out / f"{name}.dat").read_bytes() for name in on_disk} == kept  # untouched
    _uninterrupted(model_dir, tmp_path / "whole")
    np.testing.assert_array_equal(_signals(out), _signals(tmp_path / "whole"))


def test_a_killed_run_resumes_exactly_even_where_metadata_lags_its_files(model_dir, tmp_path):
    out = tmp_path / "out"
    proc = _start_generate(model_dir, out, ["--plot"])
    try:
        _wait_for(proc, out / "ecg_0004.png")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    meta = _metadata(out)
    assert meta["complete"] is False and len(meta["ecgs"]) <= len(_records(out))
    # metadata.json is rewritten every 5 s only, so a kill usually leaves finished files it does not
    # list; make that lag certain (two listed ECGs dropped) and leave a half-written temp file behind
    meta["ecgs"] = meta["ecgs"][:-2]
    (out / "metadata.json").write_text(json.dumps(meta))
    (out / ".tmp-ecg_0009.dat").write_bytes(b"half")
    (out / ".tmp-wfdb-killed").mkdir(exist_ok=True)  # what the WFDB writer leaves when killed mid-record
    (out / ".tmp-wfdb-killed" / "ecg_0009.hea").write_text("half")
    assert main(["generate", "--model", model_dir, "--labels", "SR", "--num", "60", "--batch-size", "7",
                 "--steps", "20", "--out", str(out), "--plot", "--resume"]) == 0
    _uninterrupted(model_dir, tmp_path / "whole", ["--plot"])
    assert sorted(os.listdir(out)) == sorted(os.listdir(tmp_path / "whole"))
    np.testing.assert_array_equal(_signals(out), _signals(tmp_path / "whole"))


def test_resume_refuses_a_run_it_cannot_continue_before_loading(model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["generate", "--model", model_dir, "--labels", "SR", "--steps", "2", "--out", str(out)]

    def refused(extra, message):
        capsys.readouterr()
        assert main(base + extra) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err

    refused(["--num", "3", "--resume"], "does not exist")
    assert not out.exists()
    assert main(base + ["--num", "3"]) == 0
    before = {n: (out / n).read_bytes() for n in os.listdir(out)}
    refused(["--num", "3", "--resume", "--overwrite"], "not both")
    refused(["--num", "3", "--resume"], "is complete (3 ECGs); nothing to resume")
    meta = _metadata(out)
    meta["complete"] = False
    (out / "metadata.json").write_text(json.dumps(meta))
    before["metadata.json"] = (out / "metadata.json").read_bytes()
    refused(["--num", "3", "--resume", "--seed", "1"], "used --seed 0, not 1")
    refused(["--num", "4", "--resume"], "used --num 3, not 4")
    refused(["--num", "3", "--resume", "--format", "csv"], "used --format wfdb, not csv")
    refused(["--num", "3", "--resume", "--steps", "3"], "used --steps 2, not 3")
    capsys.readouterr()
    assert main(["generate", "--model", model_dir, "--labels", "AFIB", "--steps", "2", "--out", str(out),
                 "--num", "3", "--resume"]) == 2
    assert "was for statements SR" in capsys.readouterr().err
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} == before  # nothing touched
    (out / "metadata.json").write_text("{not json")
    refused(["--num", "3", "--resume"], "metadata.json is not a readable run description")
    (out / "metadata.json").unlink()
    refused(["--num", "3", "--resume"], "has no metadata.json")


def test_bundled_pipeline_is_the_default_and_few_steps_work(tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--labels", "SR", "--out", str(out), "--scheduler", "dpm", "--steps", "3"]) == 0
    meta = _metadata(out)
    assert meta["settings"]["model"].endswith("default_pipeline") and meta["num_samples"] == 1000
    assert meta["settings"]["guidance_scale"] == 3.0  # the bundled pipeline's recommended guidance
    assert main(["generate", "--labels", "CLBBB", "--out", str(tmp_path / "x"), "--steps", "3"]) == 2


@pytest.fixture
def guided_model_dir(tmp_path):
    """A tiny pipeline trained-for-guidance (a null label) whose folder recommends guidance 2."""
    from sssd_hf import SSSDECGPipeline
    from sssd_hf.testing import make_tiny_pipeline

    tiny = make_tiny_pipeline(label_names=("NORM", "AFIB", "SR"), sample_length=64, seed=0, learn_null_label=True)
    SSSDECGPipeline(model=tiny.model, scheduler=tiny.scheduler, default_guidance_scale=2.0).save_pretrained(
        tmp_path / "guided")
    return str(tmp_path / "guided")


def test_the_folders_default_guidance_is_used_and_recorded_and_can_be_overridden(guided_model_dir, model_dir,
                                                                                  tmp_path):
    from sssd_hf import SSSDECGPipeline

    base = ["generate", "--model", guided_model_dir, "--labels", "SR", "--num", "2", "--steps", "2", "--seed", "4",
            "--format", "npz"]
    runs = {}
    for name, extra in (("default", []), ("two", ["--guidance-scale", "2"]), ("off", ["--guidance-scale", "1"]),
                        ("three", ["--guidance-scale", "3.5"])):
        assert main(base + ["--out", str(tmp_path / name), *extra]) == 0
        runs[name] = read_npz(tmp_path / name / "ecgs.npz")
    assert [_metadata(tmp_path / n)["settings"]["guidance_scale"] for n in runs] == [2.0, 2.0, 1.0, 3.5]
    assert runs["default"]["metadata"]["settings"]["guidance_scale"] == 2.0  # the .npz says so too
    np.testing.assert_array_equal(runs["default"]["ecgs"], runs["two"]["ecgs"])
    assert not np.allclose(runs["default"]["ecgs"], runs["off"]["ecgs"])
    assert not np.allclose(runs["default"]["ecgs"], runs["three"]["ecgs"])
    pipe = SSSDECGPipeline.from_pretrained(guided_model_dir)
    direct = pipe(labels=["SR"] * 2, num_inference_steps=2, generator=ecg_generators(4, range(2)))
    np.testing.assert_allclose(runs["default"]["ecgs"], direct.ecgs, atol=1e-6)
    # a folder that recommends nothing: no guidance, recorded as 1.0
    assert main(["generate", "--model", model_dir, "--labels", "SR", "--steps", "2",
                 "--out", str(tmp_path / "p")]) == 0
    assert _metadata(tmp_path / "p")["settings"]["guidance_scale"] == 1.0


def test_bad_guidance_is_refused_before_the_model_loads(guided_model_dir, model_dir, tmp_path, capsys):
    for folder in (model_dir, guided_model_dir):  # corrupt weights: an error reported instead came first
        with open(os.path.join(folder, "model", "diffusion_pytorch_model.safetensors"), "r+b") as f:
            f.truncate(100)
    index_path = os.path.join(model_dir, "model_index.json")  # a model without a null label
    index = json.loads(open(index_path).read())

    def refused(folder, extra, message, folder_default=None):
        with open(index_path, "w") as f:
            json.dump(index if folder_default is None else dict(index, default_guidance_scale=folder_default), f)
        out = tmp_path / "x"
        assert main(["generate", "--model", folder, "--labels", "SR", "--out", str(out), *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (extra, err)
        assert not out.exists()

    refused(guided_model_dir, ["--guidance-scale=-1"], "--guidance-scale must be a finite number >= 0, got -1.0")
    refused(guided_model_dir, ["--guidance-scale", "nan"], "--guidance-scale must be a finite number >= 0, got nan")
    refused(guided_model_dir, ["--guidance-scale", "inf"], "--guidance-scale must be a finite number >= 0, got inf")
    refused(model_dir, ["--guidance-scale", "2"], "--guidance-scale 2 needs a model trained for classifier-free")
    refused(model_dir, [], "default_guidance_scale 2 needs a model trained for classifier-free", folder_default=2.0)
    refused(model_dir, [], "default_guidance_scale must be a finite number >= 0, got -3", folder_default=-3)
    # guidance 1 (none) passes every check: the corrupt weights are what stops these
    refused(model_dir, ["--guidance-scale", "1"], "cannot load the pipeline")
    refused(model_dir, ["--guidance-scale", "1"], "cannot load the pipeline", folder_default=2.0)
    refused(guided_model_dir, [], "cannot load the pipeline")


def test_resume_refuses_another_guidance_scale(guided_model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["generate", "--model", guided_model_dir, "--labels", "SR", "--steps", "2", "--num", "3", "--out", str(out)]
    assert main(base) == 0
    meta = _metadata(out)
    meta["complete"] = False
    (out / "metadata.json").write_text(json.dumps(meta))
    before = {n: (out / n).read_bytes() for n in os.listdir(out)}
    capsys.readouterr()
    assert main(base + ["--resume", "--guidance-scale", "1"]) == 2
    err = capsys.readouterr().err
    assert "used --guidance-scale 2.0, not 1.0" in err and len(err.strip().splitlines()) == 1, err
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} == before  # nothing touched
    # a run written before --guidance-scale existed generated without guidance
    del meta["settings"]["guidance_scale"]
    (out / "metadata.json").write_text(json.dumps(meta))
    assert main(base + ["--resume"]) == 2
    assert "used --guidance-scale 1.0, not 2.0" in capsys.readouterr().err
    meta["settings"]["guidance_scale"] = 2.0
    (out / "metadata.json").write_text(json.dumps(meta))
    assert main(base + ["--resume", "--guidance-scale", "2"]) == 0  # the same guidance, given or by default
    assert _metadata(out)["complete"] is True and _metadata(out)["settings"]["guidance_scale"] == 2.0
