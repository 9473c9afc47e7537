"""``sssd-ecg build-dataset`` end to end with a tiny pipeline: Hub-ready folder, card, WFDB export,
resuming after an interruption or a kill, two processes, and the errors users can hit."""

import glob
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import datasets
import numpy as np
import pytest
from huggingface_hub import DatasetCard

import sssd_hf.data.synthetic.generate as synthetic_generate
from sssd_hf.cli import main
from sssd_hf.data.labels import map_to_vocabulary
from sssd_hf.data.ptbxl import load_ptbxl
from sssd_hf.data.ptbxl_layout import read_database
from sssd_hf.data.synthetic import synthetic_features

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_LABELS = ("NORM", "AFIB", "SR", "STACH", "SBRAD", "IMI", "ASMI")  # as tests/data/conftest.py's tiny pipeline

#: The same generation settings for every build below; only --limit and --chunk-size vary.
COMMON = ["--oversample", "AFIB=2", "--steps", "2", "--seed", "7", "--batch-size", "4", "--no-progress"]


def _build_args(model, like, out, limit=16, chunk_size=4, *extra):
    return ["build-dataset", "--model", model, "--like", like, "--out", str(out), "--limit", str(limit),
            "--chunk-size", str(chunk_size), *COMMON, *extra]


def _signals(folder):
    """{ecg_id: (split, source_ecg_id, copy, labels, signal)} of a built folder, via load_dataset."""
    ds = datasets.load_dataset(str(folder))
    rows = {}
    for split, data in ds.items():
        for row in data.with_format("numpy"):
            rows[int(row["ecg_id"])] = (
                split,
                int(row["source_ecg_id"]),
                int(row["copy"]),
                list(row["labels"]),
                row["signal"],
            )
    return rows


def _assert_same_ecgs(rows, reference):
    common = sorted(set(rows) & set(reference))
    assert common == sorted(reference) or common == sorted(rows)
    for ecg_id in common:
        assert rows[ecg_id][:4] == reference[ecg_id][:4]
        np.testing.assert_allclose(rows[ecg_id][4], reference[ecg_id][4], atol=1e-5)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_pipeline_dir, subset_csv):
    out = tmp_path_factory.mktemp("reference") / "synthetic"
    assert main(_build_args(tiny_pipeline_dir, subset_csv, out, 16, 4, "--wfdb-export")) == 0
    return out


def test_load_dataset_gives_the_planned_ecgs(reference, subset_csv):
    ds = datasets.load_dataset(str(reference))
    assert list(ds) == ["train", "validation", "test"]
    assert ds["train"].features == synthetic_features(TINY_LABELS, 1000)
    metadata = read_database(subset_csv).set_index("ecg_id")
    rows = _signals(reference)
    assert sorted(rows) == list(range(1, len(rows) + 1))
    sources = [s for s in metadata.index if map_to_vocabulary(metadata.loc[s, "statements"], TINY_LABELS)][:16]
    assert sorted({r[1] for r in rows.values()}) == sources
    for split, source, copy, labels, ecg in rows.values():
        codes = [TINY_LABELS[i] for i in labels]
        assert codes == map_to_vocabulary(metadata.loc[source, "statements"], TINY_LABELS)
        assert split == {9: "validation", 10: "test"}.get(metadata.loc[source, "strat_fold"], "train")
        assert copy in ((0, 1) if "AFIB" in codes else (0,))
        assert ecg.shape == (12, 1000) and np.isfinite(ecg).all() and ecg.std() > 0
    afib_sources = {r[1] for r in rows.values() if TINY_LABELS.index("AFIB") in r[3]}
    assert len(rows) == 16 + len(afib_sources) and afib_sources
    assert not os.path.exists(os.path.join(reference, ".build", "chunks"))  # merged and cleaned up


def test_dataset_card(reference, tiny_pipeline_dir):
    card = DatasetCard.load(os.path.join(reference, "README.md"))
    data = card.data.to_dict()
    assert data["license"] == "cc-by-4.0" and data["task_categories"] and data["size_categories"] == ["n<1K"]
    # No configs block: the shards' names are datasets' default layout, which gives the splits.
    assert "configs" not in data
    assert sorted(glob.glob(os.path.join(reference, "data", "*.parquet"))) == [
        os.path.join(reference, "data", f"{split}-00000-of-00001.parquet") for split in ("test", "train", "validation")
    ]
    assert [f["name"] for f in data["dataset_info"]["features"]] == [
        "ecg_id",
        "source_ecg_id",
        "copy",
        "strat_fold",
        "labels",
        "signal",
    ]
    counts = {s["name"]: s["num_examples"] for s in data["dataset_info"]["splits"]}
    assert counts == {split: len(d) for split, d in datasets.load_dataset(str(reference)).items()}
    weights = glob.glob(os.path.join(tiny_pipeline_dir, "**", "*.safetensors"), recursive=True)
    for path in weights:  # provenance: the exact weight files
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() in card.text
    for needed in (
        "## Provenance",
        "## Intended use",
        "## Limitations",
        "## Privacy evaluation",
        "10.1038/s41597-020-0495-6",
        "2301.08227",
        "2407.11108",
        "ptbxl_database_sample.csv",
        "SSSD-ECG-nle",
    ):
        assert needed in card.text, needed


def _copy_with_changed_test_split(reference, out):
    """A copy of the built folder ``reference`` at ``out`` whose test-split signals are negated."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.copytree(reference, out, ignore=shutil.ignore_patterns(".build", "wfdb"))
    shard = os.path.join(out, "data", "test-00000-of-00001.parquet")
    table = pq.read_table(shard)
    column = table.schema.get_field_index("signal")
    field = table.schema.field(column)
    negated = [(-np.asarray(ecg, dtype=np.float32)).tolist() for ecg in table["signal"].to_pylist()]
    table = table.set_column(column, field, pa.array(negated, type=field.type))
    pq.write_table(table, shard)


def test_load_dataset_reads_each_copy_not_a_cached_one(reference, tmp_path):
    """Two copies in folders of the same name, one with other signals: ``datasets.load_dataset`` of each
    gives its own rows.  (With the ``configs`` block that cards used to carry, datasets keyed its cache on
    the block alone and returned the first copy's rows for both.)"""
    first, second = tmp_path / "a" / "synthetic", tmp_path / "b" / "synthetic"
    _copy_with_changed_test_split(reference, first)
    _copy_with_changed_test_split(first, second)  # negated twice: the reference's test signals again
    reference_rows, first_rows, second_rows = _signals(reference), _signals(first), _signals(second)
    test_ids = [i for i, row in reference_rows.items() if row[0] == "test"]
    assert test_ids
    for ecg_id in test_ids:
        np.testing.assert_allclose(first_rows[ecg_id][4], -reference_rows[ecg_id][4])
        np.testing.assert_allclose(second_rows[ecg_id][4], reference_rows[ecg_id][4])


def test_load_dataset_folder_reads_copies_written_with_a_configs_block(reference, tmp_path):
    """Copies built before the card dropped its ``configs`` block still load from their own files through
    ``sssd_hf.data.load_dataset_folder`` (what evaluate and the card's figures use)."""
    from sssd_hf.data import load_dataset_folder

    splits = ("train", "validation", "test")
    legacy_block = ("configs:\n- config_name: default\n  data_files:\n"
                    + "".join(f"  - split: {s}\n    path: data/{s}-*.parquet\n" for s in splits))
    folders = [tmp_path / "a" / "legacy", tmp_path / "b" / "legacy"]
    _copy_with_changed_test_split(reference, folders[0])
    _copy_with_changed_test_split(folders[0], folders[1])
    for folder in folders:
        card = (folder / "README.md").read_text()
        (folder / "README.md").write_text(card.replace("---\n", "---\n" + legacy_block, 1))
    loaded = [np.stack(load_dataset_folder(folder)["test"].with_format("numpy")["signal"][:]) for folder in folders]
    np.testing.assert_allclose(loaded[0], -loaded[1])


def test_wfdb_export_reads_back_as_ptbxl(reference, tmp_path):
    exported = load_ptbxl(os.path.join(reference, "wfdb"), vocabulary=list(TINY_LABELS), cache_dir=str(tmp_path),
                          num_workers=0, progress=False)
    rows = _signals(reference)
    assert sum(len(d) for d in exported.values()) == len(rows)
    for split, data in exported.items():
        for row in data.with_format("numpy"):
            expected = rows[int(row["ecg_id"])]
            assert split == expected[0] and list(row["labels"]) == expected[3]
            np.testing.assert_allclose(row["signal"], expected[4], atol=0.0006)  # 1 uV WFDB resolution
    assert os.path.isfile(os.path.join(reference, "wfdb", "records100", "00000", "00001_lr.hea"))


def test_interrupted_build_resumes_where_it_stopped(reference, tiny_pipeline_dir, subset_csv, tmp_path, monkeypatch):
    real_write, real_generate, generated = synthetic_generate._write_chunk, synthetic_generate._generate_chunk, []

    def interrupted_after_two_chunks(path, *args):
        if len(os.listdir(os.path.dirname(path))) == 2:
            raise KeyboardInterrupt
        return real_write(path, *args)

    def recording(pipe, records, *args):
        generated.extend(r.ecg_id for r in records)
        return real_generate(pipe, records, *args)

    out = tmp_path / "synthetic"
    monkeypatch.setattr(synthetic_generate, "_write_chunk", interrupted_after_two_chunks)
    assert main(_build_args(tiny_pipeline_dir, subset_csv, out, 8, 3)) == 130  # Ctrl-C
    assert sorted(os.listdir(out / ".build" / "chunks")) == ["chunk-000000.parquet", "chunk-000001.parquet"]
    assert not (out / "README.md").exists() and not (out / "data").exists()
    monkeypatch.setattr(synthetic_generate, "_write_chunk", real_write)
    monkeypatch.setattr(synthetic_generate, "_generate_chunk", recording)
    assert main(_build_args(tiny_pipeline_dir, subset_csv, out, 8, 3, "--shard-size", "3")) == 0
    rows = _signals(out)
    shards = sorted(os.listdir(out / "data"))
    train_rows = sum(1 for r in rows.values() if r[0] == "train")
    assert [n for n in shards if n.startswith("train-")] == [f"train-{i:05d}-of-{-(-train_rows // 3):05d}.parquet"
                                                             for i in range(-(-train_rows // 3))]
    assert generated == list(range(7, len(rows) + 1))  # chunks 0 and 1 (ecg_id 1-6) were not generated again
    _assert_same_ecgs(rows, _signals(reference))


@pytest.mark.slow
def test_killed_build_resumes_without_duplicates_or_gaps(reference, tiny_pipeline_dir, subset_csv, tmp_path):
    out = tmp_path / "synthetic"
    args = _build_args(tiny_pipeline_dir, subset_csv, out, 12, 1)
    process = subprocess.Popen(
        [sys.executable, "-m", "sssd_hf.cli", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    chunks = out / ".build" / "chunks"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if chunks.is_dir() and len([n for n in os.listdir(chunks) if n.endswith(".parquet")]) >= 3:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    done = sorted(n for n in os.listdir(chunks) if n.endswith(".parquet"))
    assert 3 <= len(done) < 12 and not (out / "README.md").exists()
    assert main(args) == 0
    rows = _signals(out)
    assert sorted(rows) == list(range(1, len(rows) + 1))  # nothing missing, nothing twice
    assert len({(r[1], r[2]) for r in rows.values()}) == len(rows)
    _assert_same_ecgs(rows, _signals(reference))  # the ECGs do not depend on chunking or the kill


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_generate_disjoint_shards(reference, tiny_pipeline_dir, subset_csv, tmp_path):
    """Two ranks started the way ``accelerate launch``/``torchrun`` start them (same environment
    variables, gloo on CPU): each generates its own chunks, rank 0 merges them."""
    out = tmp_path / "synthetic"
    command = [sys.executable, "-m", "sssd_hf.cli", *_build_args(tiny_pipeline_dir, subset_csv, out, 16, 2)]
    common = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", ACCELERATE_USE_CPU="true", WORLD_SIZE="2",
                  LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    ranks = [subprocess.Popen(command, cwd=REPO_ROOT, env=dict(common, RANK=str(r), LOCAL_RANK=str(r)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    outputs = [rank.communicate(timeout=300) for rank in ranks]
    for rank, (_, stderr) in zip(ranks, outputs):
        assert rank.returncode == 0, stderr[-3000:]
    counts = [int(out_.split("generated ")[1].split()[0]) for out_, _ in outputs]
    assert [f"process {r}/2" in outputs[r][0] for r in (0, 1)] == [True, True]
    rows = _signals(out)
    assert all(c > 0 for c in counts) and sum(counts) == len(rows)  # disjoint shards covering the plan
    _assert_same_ecgs(rows, _signals(reference))


def test_rerun_is_a_no_op_and_other_settings_are_refused(
    reference, tiny_pipeline_dir, subset_csv, capsys, monkeypatch
):
    before = {p: os.path.getmtime(p) for p in glob.glob(os.path.join(reference, "data", "*.parquet"))}
    monkeypatch.setattr(
        synthetic_generate, "_generate_chunk", lambda *a: pytest.fail("a finished build generated again")
    )
    assert main(_build_args(tiny_pipeline_dir, subset_csv, reference, 16, 4)) == 0
    assert {p: os.path.getmtime(p) for p in before} == before
    capsys.readouterr()
    assert main(_build_args(tiny_pipeline_dir, subset_csv, reference, 16, 4, "--steps", "3")) == 2
    assert "different settings (changed: num_inference_steps)" in capsys.readouterr().err


def test_push_to_hub_offline_fails_clearly(reference, tiny_pipeline_dir, subset_csv, capsys, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert (
        main(_build_args(tiny_pipeline_dir, subset_csv, reference, 16, 4, "--push-to-hub", "someone/synthetic-ptbxl"))
        == 2
    )
    err = capsys.readouterr().err
    assert "offline mode is on (HF_HUB_OFFLINE=1)" in err and "hf upload someone/synthetic-ptbxl" in err
    assert datasets.load_dataset(str(reference))["train"].num_rows > 0  # the folder stays complete


def test_unusable_inputs(tiny_pipeline_dir, subset_csv, tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert main(_build_args(tiny_pipeline_dir, subset_csv, tmp_path / "busy")) == 2
    assert "holds no build-dataset state" in capsys.readouterr().err
    assert main(_build_args(tiny_pipeline_dir, subset_csv, tmp_path / "o1", 16, 4, "--subset", "LVH")) == 2
    assert "--subset: Unknown ECG statement code(s) ['LVH']" in capsys.readouterr().err
    assert main(_build_args(tiny_pipeline_dir, str(tmp_path / "missing.csv"), tmp_path / "o2")) == 2
    assert "PTB-XL metadata not found" in capsys.readouterr().err
    assert main(_build_args(str(tmp_path / "no-model"), subset_csv, tmp_path / "o3")) == 2
    assert "no-model" in capsys.readouterr().err
    assert (
        main(
            _build_args(
                tiny_pipeline_dir, subset_csv, tmp_path / "o4", 16, 4, "--card-template", str(tmp_path / "t.md")
            )
        )
        == 2
    )
    assert "Dataset card template not found" in capsys.readouterr().err
    assert (
        main(
            _build_args(
                tiny_pipeline_dir, subset_csv, tmp_path / "o5", 16, 4, "--privacy-report", str(tmp_path / "p.json")
            )
        )
        == 2
    )
    assert "--privacy-report file not found" in capsys.readouterr().err
    assert not (tmp_path / "o4").exists() and not (tmp_path / "o5").exists()  # refused before writing anything


def test_privacy_report_and_card_options_update_a_finished_build(reference, tiny_pipeline_dir, subset_csv, tmp_path):
    report = tmp_path / "privacy.json"
    report.write_text('{"dcr_synthetic_median": 1.23, "membership_inference": {"auc": 0.51}}')
    args = _build_args(tiny_pipeline_dir, subset_csv, reference, 16, 4, "--privacy-report", str(report),
                       "--training-data", "PTB-XL folds 1-8", "--license", "cc-by-sa-4.0")
    assert main(args) == 0
    card = DatasetCard.load(os.path.join(reference, "README.md"))
    assert card.data.license == "cc-by-sa-4.0"
    assert "- **dcr_synthetic_median**: 1.23" in card.text and "  - **auc**: 0.51" in card.text
    assert "**Training data of the model:** PTB-XL folds 1-8" in card.text


def test_the_sampler_is_a_setting_of_the_build(reference, tiny_pipeline_dir, subset_csv, tmp_path, capsys):
    """``--scheduler`` picks a sampler of the one registry; it is part of the build's settings, so a
    finished DDPM build is not resumed with DPM-Solver++, and the ECGs differ from the DDPM ones."""
    capsys.readouterr()
    assert main(_build_args(tiny_pipeline_dir, subset_csv, reference, 16, 4, "--scheduler", "dpm")) == 2
    assert "different settings (changed: scheduler)" in capsys.readouterr().err
    out = tmp_path / "dpm"
    assert main(_build_args(tiny_pipeline_dir, subset_csv, out, 4, 4, "--scheduler", "dpm")) == 0
    dpm, ddpm = _signals(out), _signals(reference)
    assert set(dpm) <= set(ddpm)
    for ecg_id, row in dpm.items():
        assert row[:4] == ddpm[ecg_id][:4] and np.isfinite(row[4]).all()
        assert not np.allclose(row[4], ddpm[ecg_id][4])
    with pytest.raises(SystemExit):
        main(_build_args(tiny_pipeline_dir, subset_csv, tmp_path / "x", 4, 4, "--scheduler", "euler"))
    assert "invalid choice: 'euler'" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_the_sampler_defaults_to_the_pipelines_and_the_card_names_it(reference, subset_csv, tmp_path):
    """``--scheduler`` left out: the pipeline's ``default_sampler`` (else ``ddpm``) with its default steps,
    the same ECGs as asking for it, named in the settings and the card."""
    from sssd_hf import SSSDECGPipeline
    from sssd_hf.testing import make_tiny_pipeline

    assert _build_settings(reference)["scheduler"] == "ddpm"  # the tiny pipeline recommends none
    assert "sampler `ddpm` (DDPM, all steps" in DatasetCard.load(os.path.join(reference, "README.md")).text
    tiny = make_tiny_pipeline(label_names=TINY_LABELS, sample_length=1000, seed=0)
    model = str(tmp_path / "recommends-dpm")
    SSSDECGPipeline(model=tiny.model, scheduler=tiny.scheduler, default_sampler="dpm").save_pretrained(model)
    common = ["build-dataset", "--model", model, "--like", subset_csv, "--limit", "2", "--chunk-size", "2",
              "--seed", "7", "--batch-size", "4", "--no-progress"]  # no --steps: the sampler's default
    assert main(common + ["--out", str(tmp_path / "default")]) == 0
    assert main(common + ["--out", str(tmp_path / "explicit"), "--scheduler", "dpm", "--steps", "20"]) == 0
    settings = _build_settings(tmp_path / "default")
    assert settings["scheduler"] == "dpm" and settings["num_inference_steps"] == 20
    assert "sampler `dpm` (DPM-Solver++ (few steps)), 20 denoising steps" in DatasetCard.load(
        os.path.join(tmp_path / "default", "README.md")).text
    _assert_same_ecgs(_signals(tmp_path / "default"), _signals(tmp_path / "explicit"))


def _build_settings(folder):
    with open(os.path.join(folder, ".build", "build.json"), encoding="utf-8") as f:
        return json.load(f)["settings"]


def test_guidance_defaults_to_the_pipelines_and_is_recorded(reference, subset_csv, tmp_path, capsys):
    """``--guidance-scale`` left out: the pipeline's ``default_guidance_scale`` (else 1), recorded in
    the build's settings and card; an explicit value overrides it and is a setting of the build."""
    from sssd_hf import SSSDECGPipeline
    from sssd_hf.testing import make_tiny_pipeline

    assert _build_settings(reference)["guidance_scale"] == 1.0  # the tiny pipeline recommends none
    tiny = make_tiny_pipeline(label_names=TINY_LABELS, sample_length=1000, seed=0, learn_null_label=True)
    model = str(tmp_path / "guided")
    SSSDECGPipeline(model=tiny.model, scheduler=tiny.scheduler, default_guidance_scale=2.0).save_pretrained(model)
    builds = {"default": [], "two": ["--guidance-scale", "2"], "off": ["--guidance-scale", "1"]}
    for name, extra in builds.items():
        assert main(_build_args(model, subset_csv, tmp_path / name, 2, 2, *extra)) == 0
    assert [_build_settings(tmp_path / name)["guidance_scale"] for name in builds] == [2.0, 2.0, 1.0]
    assert "guidance scale 2.0" in DatasetCard.load(os.path.join(tmp_path / "default", "README.md")).text
    default, two, off = (_signals(tmp_path / name) for name in builds)
    assert len(default) >= 2
    _assert_same_ecgs(default, two)
    assert all(not np.allclose(default[i][4], off[i][4]) for i in default)
    capsys.readouterr()
    assert main(_build_args(model, subset_csv, tmp_path / "default", 2, 2, "--guidance-scale", "1")) == 2
    assert "different settings (changed: guidance_scale)" in capsys.readouterr().err
    assert main(_build_args(model, subset_csv, tmp_path / "bad", 2, 2, "--guidance-scale=-1")) == 2
    assert "--guidance-scale must be a finite number >= 0" in capsys.readouterr().err
