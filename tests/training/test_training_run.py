"""End-to-end runs of training/train_sssd_ecg.py on the CPU: train, kill, resume, export, reload,
generate, and two data-parallel processes."""

import json
import os
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from .conftest import run_training

STEPS = ["--max_steps", "12", "--checkpoint_every", "4", "--validation_every", "4", "--checkpoints_total_limit", "2"]
WEIGHTS = "model.safetensors"
PIPELINE_WEIGHTS = os.path.join("pipeline", "model", "diffusion_pytorch_model.safetensors")


def _ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def _same_tensors(path_a: str, path_b: str) -> bool:
    a, b = load_file(path_a), load_file(path_b)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def full_run(tiny_dataset, tmp_path_factory):
    """The uninterrupted 12-step run every other run is compared with."""
    out = str(tmp_path_factory.mktemp("full") / "run")
    _ok(run_training(["--dataset", tiny_dataset, "--output_dir", out, "--log_with", "tensorboard", *STEPS]))
    return out


def test_run_checkpoints_logs_and_exports(full_run):
    checkpoints = os.path.join(full_run, "checkpoints")
    assert sorted(os.listdir(checkpoints)) == ["checkpoint-12", "checkpoint-8"]  # last 2 kept, no .tmp left
    state = json.load(open(os.path.join(checkpoints, "checkpoint-12", "training_state.json")))
    assert state["step"] == 12 and state["micro_step"] == 12 and state["samples_seen"] == 12 * 4
    metrics = [json.loads(line) for line in open(os.path.join(full_run, "metrics.jsonl"))]
    validation = [m["validation_loss"] for m in metrics if "validation_loss" in m]
    assert len(validation) == 3 and all(np.isfinite(validation))
    throughput = [m for m in metrics if "samples_per_second" in m]
    assert throughput and all(m["samples_per_second"] > 0 and m["cpu_peak_rss_mb"] > 0 for m in throughput)
    assert os.path.getsize(os.path.join(full_run, "samples", "step-12", "0-SR.png")) > 10_000
    events = [
        f
        for _, _, files in os.walk(os.path.join(full_run, "logs"))
        for f in files
        if f.startswith("events.out.tfevents")
    ]
    assert events, "no TensorBoard event file"
    # the exported weights are the EMA, not the raw weights of the last step
    raw = load_file(os.path.join(checkpoints, "checkpoint-12", WEIGHTS))
    exported = load_file(os.path.join(full_run, PIPELINE_WEIGHTS))
    assert raw.keys() == exported.keys()
    assert any(not torch.equal(raw[k], exported[k]) for k in raw)
    card = open(os.path.join(full_run, "pipeline", "README.md")).read()
    assert "accelerate launch training/train_sssd_ecg.py --config" in card and "12 optimizer steps" in card


def test_exported_pipeline_reloads_and_generates(full_run):
    from sssd_hf import SSSDECGPipeline

    pipe = SSSDECGPipeline.from_pretrained(os.path.join(full_run, "pipeline"))
    assert list(pipe.model.config.label_names) == ["SBRAD", "SR", "STACH"]
    out = pipe(labels=["STACH", "SR"], num_inference_steps=3, generator=torch.Generator().manual_seed(0))
    assert out.ecgs.shape == (2, 12, 128) and np.isfinite(out.ecgs).all()
    with pytest.raises(ValueError, match="XYZ"):
        pipe(labels=["XYZ"], num_inference_steps=1)


def test_killed_run_resumes_to_identical_weights(full_run, tiny_dataset, tmp_path):
    out = str(tmp_path / "run")
    args = ["--dataset", tiny_dataset, "--output_dir", out, *STEPS]
    # SIGKILL while checkpoint-8 is being written: steps 5-8 are lost, checkpoint-8.tmp is left behind
    killed = run_training(args, env={"SSSD_HF_TRAIN_FAULT": "kill_in_checkpoint:8"})
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == ["checkpoint-4", "checkpoint-8.tmp"]
    assert not os.path.exists(os.path.join(out, "pipeline"))
    resumed = _ok(run_training([*args, "--resume", "latest"]))
    assert "resumed from" in resumed.stderr and "checkpoint-4 at step 4" in resumed.stderr
    for rel in (os.path.join("checkpoints", "checkpoint-12", WEIGHTS),
                os.path.join("checkpoints", "checkpoint-12", "custom_checkpoint_1.pkl"),  # EMA
                PIPELINE_WEIGHTS):
        if rel.endswith(".pkl"):
            a = torch.load(os.path.join(full_run, rel), weights_only=False)["shadow_params"]
            b = torch.load(os.path.join(out, rel), weights_only=False)["shadow_params"]
            assert all(torch.equal(x, y) for x, y in zip(a, b)), rel
        else:
            assert _same_tensors(os.path.join(full_run, rel), os.path.join(out, rel)), rel
    # and training did change the weights between the resume point and the end
    assert not _same_tensors(
        os.path.join(out, "checkpoints", "checkpoint-8", WEIGHTS),
        os.path.join(out, "checkpoints", "checkpoint-12", WEIGHTS),
    )


def test_corrupt_or_missing_checkpoint_is_a_clear_error(full_run, tiny_dataset, tmp_path):
    out = str(tmp_path / "run")
    shutil.copytree(full_run, out)
    with open(os.path.join(out, "checkpoints", "checkpoint-12", WEIGHTS), "r+b") as f:
        f.truncate(100)
    result = run_training(
        ["--dataset", tiny_dataset, "--output_dir", out, *STEPS, "--max_steps", "16", "--resume", "latest"]
    )
    assert result.returncode == 2
    assert (
        "checkpoint-12 is corrupt or incomplete" in result.stderr
        and "--resume" in result.stderr
        and "checkpoint-8" in result.stderr
    )
    result = run_training(
        ["--dataset", tiny_dataset, "--output_dir", out, "--resume", str(tmp_path / "checkpoint-99")]
    )
    assert result.returncode == 2 and "Checkpoint folder not found" in result.stderr


def test_two_processes_read_disjoint_shards(tiny_dataset, tmp_path):
    out = str(tmp_path / "ddp")
    # 24 records, 2 per process: 6 global batches per epoch; 9 steps = 1.5 epochs
    _ok(run_training(["--dataset", tiny_dataset, "--output_dir", out, "--batch_size", "2", "--max_steps", "9",
                      "--checkpoint_every", "9", "--validation_every", "9", "--record_data_order", "true",
                      "--sample_inference_steps", "1"], processes=2))
    rows = {
        rank: [json.loads(line) for line in open(os.path.join(out, "data_order", f"rank-{rank}.jsonl"))]
        for rank in (0, 1)
    }
    assert [r["micro_step"] for r in rows[0]] == [r["micro_step"] for r in rows[1]] == list(range(9))
    for epoch, steps in ((0, 6), (1, 3)):
        seen = {rank: [i for r in rows[rank] if r["epoch"] == epoch for i in r["ecg_ids"]] for rank in (0, 1)}
        assert len(seen[0]) == len(seen[1]) == 2 * steps
        assert not set(seen[0]) & set(seen[1])
        assert len(set(seen[0]) | set(seen[1])) == 4 * steps
    epoch0 = {i for rank in (0, 1) for r in rows[rank] if r["epoch"] == 0 for i in r["ecg_ids"]}
    assert epoch0 == set(range(1, 25))  # a full epoch covers the split exactly once
    state = json.load(open(os.path.join(out, "checkpoints", "checkpoint-9", "training_state.json")))
    assert state["num_processes"] == 2 and state["samples_seen"] == 9 * 4
