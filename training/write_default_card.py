#!/usr/bin/env python
"""Write the model card of the PTB-XL default pipeline from its run and its fold-10 measurements.

    python training/write_default_card.py --pipeline sssd_hf/default_pipeline \
        --results training/results/ptbxl_default/fold10.json --metrics training/results/ptbxl_default/metrics.jsonl

Every number in the card comes from ``--results`` (``training/evaluate_default.py``), ``--metrics``
(the run's ``metrics.jsonl``) or the PTB-XL folder (training counts per statement); the card is
rendered from ``sssd_hf/templates/model_card.md`` and written atomically as ``PIPELINE/README.md``;
the figure is copied beside it.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
from typing import Dict, List

import yaml

CONFIG = "training/configs/ptbxl_default.yaml"
RESUME = (
    "OMP_NUM_THREADS=2 accelerate launch --num_processes 1 --num_machines 1 --mixed_precision bf16 "
    "--dynamo_backend no training/train_sssd_ecg.py --config training/configs/ptbxl_default.yaml"
)
ATTRIBUTION = (
    "PTB-XL (Wagner, Strodthoff, Bousseljot, Kreiseler, Lunze, Samek, Schaeffter: *PTB-XL, a large publicly "
    "available electrocardiography dataset*, Scientific Data 7, 154, 2020; PhysioNet), licensed CC BY 4.0. "
    "These weights are derived from PTB-XL and are shared under the same licence."
)


def training_counts(ptbxl: str, codes) -> dict:
    """Training records (folds 1-8) carrying each statement (any likelihood, as the run used)."""
    import pandas as pd

    table = pd.read_csv(os.path.join(ptbxl, "ptbxl_database.csv"), usecols=["scp_codes", "strat_fold"])
    train = table[table["strat_fold"] <= 8]
    counts = {code: 0 for code in codes}
    for text in train["scp_codes"]:
        for code in ast.literal_eval(text):
            if code in counts:
                counts[code] += 1
    return {"records": int(len(train)), "per_statement": counts}


def run_summary(metrics_path: str) -> dict:
    rows = [json.loads(line) for line in open(metrics_path, encoding="utf-8") if line.strip()]
    steps = [r for r in rows if "loss" in r]
    validation = [r for r in rows if "validation_loss" in r]
    best = min(validation, key=lambda r: r["validation_loss"])
    return {"steps": max(r["step"] for r in steps), "train_seconds": sum(r.get("window_seconds", 0) for r in steps),
            "validation": [(r["step"], r["validation_loss"]) for r in validation], "best": best}


#: RR irregularity of real PTB-XL folds 1-8 (``fidelity.real_folds1_8.afib_rr`` of
#: training/results/ptbxl_default/fold10.json, same delineator), for a --partial card made before
#: the fidelity stage has measured it.
PTBXL_FOLDS1_8_RR = {"SR": {"rr_cv": {"median": 0.02}, "irregular": {"fraction": 0.0672}},
                     "AFIB": {"rr_cv": {"median": 0.18}, "irregular": {"fraction": 0.9315}}}


def real_rr_reference(results: dict) -> dict:
    """RR irregularity of real training-fold ECGs per rhythm (``{"SR": {"rr_cv": ..., "irregular": ...},
    "AFIB": ...}``): measured by the fidelity stage when it ran, else :data:`PTBXL_FOLDS1_8_RR`."""
    fidelity = results.get("fidelity")
    return fidelity["real_folds1_8"]["afib_rr"] if fidelity else PTBXL_FOLDS1_8_RR


def validation_curve(points) -> str:
    """``(step, loss)`` pairs as text: at 500 x 2^k steps, every 8,000 steps and the last one."""
    last = points[-1][0]
    keep = [(step, loss) for step, loss in points
            if step == last or step % 8000 == 0 or (step % 500 == 0 and (step // 500) & (step // 500 - 1) == 0)]
    return ", ".join(f"{loss:.4f} at {step:,}" for step, loss in keep)


def schedule_text(train_config: dict) -> str:
    """The optimizer and learning-rate schedule of the run's config, in words."""
    lr, warmup = train_config["learning_rate"], train_config.get("lr_warmup_steps", 0)
    text = f"Adam, learning rate {lr} after {warmup} warm-up steps"
    if train_config.get("lr_scheduler") == "warmup_stable_decay":
        total, decay = train_config["max_steps"], train_config["lr_decay_steps"]
        text += f", held to step {total - decay:,}, then decayed linearly to 0 at step {total:,}"
    return text


def guidance_text(pipeline: str) -> str:
    """A sentence on the guidance the pipeline applies by default (``default_guidance_scale``)."""
    with open(os.path.join(pipeline, "model_index.json"), encoding="utf-8") as handle:
        scale = json.load(handle).get("default_guidance_scale")
    if scale is None or float(scale) == 1.0:
        return ""
    return (f" Calls apply classifier-free guidance {float(scale):g} unless told otherwise "
            f"(`default_guidance_scale` in `model_index.json`; `guidance_scale=1` or `sssd-ecg generate "
            f"--guidance-scale 1` turns it off), the setting the figures below measure.")


def stopped_text(run: dict, train_config: dict) -> str:
    """A sentence when the run ended before its planned ``max_steps``; empty otherwise."""
    if run["steps"] >= train_config["max_steps"]:
        return ""
    return (f" The run was stopped at step {run['steps']:,} of the planned {train_config['max_steps']:,} for lack "
            "of machine time.")


def sinus_rhythm_text(results: dict) -> str:
    """The limitation on sinus-rhythm regularity, from the measured share of irregular SR ECGs (the
    synthetic copy against real fold 10; without the copy, the fresh ECGs of the largest guidance scale
    against PTB-XL's 2 %)."""
    if "fidelity" in results:
        fid = results["fidelity"]
        generated, real = fid["synthetic_all_folds"]["afib_rr"]["SR"], fid["real_fold10"]["afib_rr"]["SR"]
        reference = "real fold-10 ones"
    else:
        scales = sorted((k for k in results["guidance"] if k.startswith("scale_")), key=lambda k: float(k[6:]))
        generated = results["guidance"][scales[-1]]["afib_rr"]["SR"]
        real = real_rr_reference(results)["SR"]
        reference = "real PTB-XL folds 1-8 ones"
    if not generated["irregular"].get("n"):
        return ""
    share, real_share = generated["irregular"]["fraction"], real["irregular"]["fraction"] or 0.0
    if share <= max(0.15, 2 * real_share):
        return ""
    return (f" Sinus rhythm is too irregular: {100 * share:.0f} % of the generated sinus-rhythm ECGs have an RR "
            f"coefficient of variation above 0.1 (median {generated['rr_cv']['median']:.2f}), against "
            f"{100 * real_share:.0f} % of {reference} (median {real['rr_cv']['median']:.2f}); beat-to-beat "
            f"timing is the weakest part of this model.{sampler_advice(results)}")


def sampler_advice(results: dict) -> str:
    """Which samplers space the beats more evenly, worded for the sampler the figures were made with."""
    used = results.get("sampling", {}).get("dataset" if "fidelity" in results else "guidance", {}).get("scheduler")
    where = "(measured in `training/results/ptbxl_default/README.md`, \"Sinus rhythm\")"
    if used in ("dpm-sde", "ddpm"):
        return (" These figures come from a stochastic sampler; the deterministic DPM-Solver++ (`--scheduler "
                f"dpm`) spaces the beats less evenly at the same cost {where}.")
    return (" Stochastic samplers (`--scheduler dpm-sde`, or `ddpm --steps 25`) space the beats more evenly "
            f"than the deterministic DPM-Solver++ at the same cost {where}.")


def _pct(entry: dict) -> str:
    if not entry or not entry.get("n"):
        return "n = 0"
    low, high = entry["ci95"]
    return f"{100 * entry['fraction']:.0f} % [{100 * low:.0f}, {100 * high:.0f}] (n = {entry['n']})"


def _med(entry: dict, unit: str) -> str:
    if not entry or not entry.get("n"):
        return "n = 0"
    low, high = entry["median_ci95"]
    value = f"{entry['median']:.3g} {unit}".rstrip()
    return f"{value} [{low:.3g}, {high:.3g}] (n = {entry['n']})"


def _auc(headline: dict, protocol: str) -> str:
    value, ci, n = (headline.get(f"{protocol}_roc_auc{s}") for s in ("", "_ci", "_n"))
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] (n = {n})" if value is not None else "not computed"


def utility_text(results: dict) -> str:
    headline = results["evaluate"]["headline"]
    trtr, tstr = headline["TRTR_roc_auc"], headline["TSTR_roc_auc"]
    return "\n".join([
        "| protocol | macro ROC-AUC on fold 10 [95 % bootstrap CI] |",
        "|---|---|",
        f"| TRTR (real folds 1-8 -> real fold 10) | {_auc(headline, 'TRTR')} |",
        f"| TSTR (synthetic copy of folds 1-8 -> real fold 10) | {_auc(headline, 'TSTR')} |",
        f"| TRTS (real folds 1-8 -> synthetic copy of fold 10) | {_auc(headline, 'TRTS')} |",
        "",
        f"TSTR / TRTR = {tstr / trtr:.2f} (goal: >= 0.85). Classifier: sssd-hf's default "
        f"`xresnet1d18_small` on the model's statements, trained on folds 1-8 (at most {epochs_text(results)}, "
        "one-cycle schedule) with early stopping on fold 9.",
    ])


def epochs_text(results: dict) -> str:
    epochs = results["evaluate"].get("epochs")
    return f"{epochs} epochs" if epochs else "30 epochs, evaluate's default"


def fidelity_rows(fid: dict, reference: dict, reference2: dict) -> str:
    lines = ["| statement | measure | generated (all folds) | real fold 10 | real folds 1-8 |",
             "|---|---|---|---|---|"]
    for code, bounds in (("SBRAD", "< 60 bpm"), ("SR", "60-100 bpm"), ("NORM", "60-100 bpm"),
                         ("STACH", ">= 100 bpm")):
        row = [fid["heart_rate"][code]["in_range"], reference["heart_rate"][code]["in_range"],
               reference2["heart_rate"][code]["in_range"]]
        lines.append(f"| {code} | heart rate {bounds} | " + " | ".join(_pct(r) for r in row) + " |")
        row = [fid["heart_rate"][code]["bpm"], reference["heart_rate"][code]["bpm"],
               reference2["heart_rate"][code]["bpm"]]
        lines.append(f"| {code} | median heart rate | " + " | ".join(_med(r, "bpm") for r in row) + " |")
    for code in ("AFIB", "SR"):
        row = [fid["afib_rr"][code], reference["afib_rr"][code], reference2["afib_rr"][code]]
        lines.append(f"| {code} | RR irregular (CV > 0.1) | " + " | ".join(_pct(r["irregular"]) for r in row) + " |")
        lines.append(f"| {code} | median RR CV | " + " | ".join(_med(r["rr_cv"], "") for r in row) + " |")
    row = [fid["qrs"]["CRBBB"], reference["qrs"]["CRBBB"], reference2["qrs"]["CRBBB"]]
    lines.append("| CRBBB | QRS >= 120 ms | " + " | ".join(_pct(r["wide"]) for r in row) + " |")
    lines.append("| CRBBB | median QRS | " + " | ".join(_med(r["qrs_ms"], "ms") for r in row) + " |")
    return "\n".join(lines)


def amplitude_rows(fid: dict, reference: dict, within: dict) -> str:
    lines = ["| lead | generated median [CI] | real fold 10 median | real fold 10 5th-95th pct | within |",
             "|---|---|---|---|---|"]
    for lead, entry in fid["amplitude_mv"].items():
        real = reference["amplitude_mv"][lead]
        lines.append(f"| {lead} | {_med(entry, 'mV')} | {real['median']:.2f} mV | "
                     f"{real['p5_p95'][0]:.2f}-{real['p5_p95'][1]:.2f} mV | {'yes' if within[lead] else 'no'} |")
    return "\n".join(lines)


def guidance_rows(guidance: dict, real_rr: dict) -> str:
    scales = [k for k in guidance if k.startswith("scale_")]
    lines = ["| measure | " + " | ".join(f"guidance {k[6:]}" for k in scales) + " |",
             "|---|" + "---|" * len(scales)]
    for code in ("SBRAD", "NORM", "STACH"):
        lines.append(f"| {code} heart rate in range | "
                     + " | ".join(_pct(guidance[k]["heart_rate"][code]["in_range"]) for k in scales) + " |")
    for code in ("SBRAD", "NORM", "STACH"):
        lines.append(f"| {code} median heart rate | "
                     + " | ".join(_med(guidance[k]["heart_rate"][code]["bpm"], "bpm") for k in scales) + " |")
    lines.append("| sinus rhythm (SR) RR irregular | "
                 + " | ".join(_pct(guidance[k]["afib_rr"]["SR"]["irregular"]) for k in scales) + " |")
    for code in ("SR", "AFIB"):
        lines.append(f"| {code} median RR CV (real PTB-XL folds 1-8: {real_rr[code]['rr_cv']['median']:.2f}) | "
                     + " | ".join(_med(guidance[k]["afib_rr"][code]["rr_cv"], "") for k in scales) + " |")
    lines.append("| AFIB RR irregular | " + " | ".join(_pct(guidance[k]["afib_rr"]["AFIB"]["irregular"])
                                                     for k in scales) + " |")
    lines.append("| CRBBB QRS >= 120 ms | " + " | ".join(_pct(guidance[k]["qrs"]["CRBBB"]["wide"])
                                                       for k in scales) + " |")
    return "\n".join(lines)


def privacy_text(results: dict) -> str:
    h = results["evaluate"]["headline"]

    def ci(key):
        low, high = h[f"{key}_ci"]
        return f"{h[key]:.3f} [{low:.3f}, {high:.3f}] (n = {h[f'{key}_n']})"

    return "\n".join([
        f"- flagged: **{'yes' if h['memorisation_flagged'] else 'no'}** (status: {h['privacy_status']})",
        f"- memorisation rate (synthetic ECGs closer to a training record than the held-out quantile): "
        f"{ci('memorisation_rate')}",
        f"- membership-inference AUC (training vs held-out records by distance to the synthetic set; 0.5 = no "
        f"leak): {ci('membership_inference_auc')}",
        f"- degenerate (flat or constant) synthetic ECGs: {ci('degenerate_rate')}",
    ])


def sampler_text(sampling: dict) -> str:
    """``{"scheduler": "dpm", "steps": 20}`` as card text."""
    from sssd_hf.schedulers.samplers import SAMPLERS

    known = SAMPLERS.get(sampling["scheduler"])
    name = known.label.split(" (")[0].split(",")[0] if known else sampling["scheduler"]
    guidance = sampling.get("guidance_scale", 1.0)
    guided = f", classifier-free guidance {guidance:g}" if guidance != 1.0 else ""
    return f"{name} (`--scheduler {sampling['scheduler']}`) in {sampling['steps']} steps{guided}"


def reproduce_commands(results: dict) -> str:
    """The ``evaluate_default.py`` command(s) that made ``results``: one per sampler used."""
    base = "python training/evaluate_default.py --pipeline sssd_hf/default_pipeline --ptbxl ../shared/data/ptbxl \\\n"
    by_sampler: Dict[tuple, List[str]] = {}
    for stage in ("dataset", "guidance"):
        if stage in results["sampling"] and (stage == "dataset" or "guidance" in results):
            sampling = results["sampling"][stage]
            by_sampler.setdefault((sampling["scheduler"], sampling["steps"]), []).append(stage)
    commands = []
    for (scheduler, steps), stages in by_sampler.items():
        guidance = ""
        if "dataset" in stages:
            stages = ["dataset", "evaluate", "fidelity", *stages[1:], "figure"]
            scale = results["sampling"]["dataset"].get("guidance_scale", 1.0)
            guidance = f" --guidance-scale {scale:g}" if scale != 1.0 else ""
            epochs = results.get("evaluate", {}).get("epochs")
            guidance += f" --epochs {epochs}" if epochs else ""
        if "guidance" in stages:
            scales = " ".join(k[6:] for k in results["guidance"] if k.startswith("scale_"))
            guidance += f" --guidance-per-label {results['guidance']['per_label_set']} --guidance-scales {scales}"
        commands.append(f"{base}    --work /tmp/eval-default --stages {','.join(stages)} "
                        f"--scheduler {scheduler} --steps {steps}{guidance}")
    return "\n".join(commands)


def partial_evaluation_text(results: dict, command: str) -> str:
    """The Evaluation section when only the guidance stage has run (``--partial``)."""
    guidance = results["guidance"]
    return "\n\n".join([
        "**Not measured yet on fold 10**: the synthetic copy of the slice and with it TSTR / TRTR / TRTS, the "
        "fidelity of the copy, lead amplitudes and the privacy audit (`training/evaluate_default.py --stages "
        "dataset,evaluate,fidelity,figure`). What is measured: fresh ECGs per label set, 95 % intervals "
        "(Wilson for proportions, bootstrap for medians), heart rate, RR intervals and QRS from `sssd-ecg "
        "measure`'s delineator (validated on LUDB: median error QRS 5.8 ms, HR 0.2 bpm at 100 Hz). Made with:",
        f"\n```bash\n{command}\n```",
        "### Classifier-free guidance",
        f"{guidance['per_label_set']} fresh ECGs per label set "
        f"({', '.join('+'.join(r) for r in guidance['label_sets'])}), sampled with "
        f"{sampler_text(results['sampling']['guidance'])}, same seeds at every scale:",
        guidance_rows(guidance, real_rr_reference(results)),
    ])


def evaluation_text(results: dict, command: str) -> str:
    if "evaluate" not in results:
        return partial_evaluation_text(results, command)
    fid = results["fidelity"]
    sampling = results["sampling"]["dataset"]
    parts = [
        f"All figures on fold 10 (never used for training or selection), ECGs sampled with "
        f"{sampler_text(sampling)}; 95 % intervals (Wilson for proportions, "
        "bootstrap otherwise). Heart rate, RR intervals and QRS come from `sssd-ecg measure`'s delineator "
        "(validated on LUDB: median error QRS 5.8 ms, HR 0.2 bpm at 100 Hz). The generated set is "
        "the synthetic copy of the slice made by `sssd-ecg build-dataset` (one ECG per real record, conditioned "
        "on its statements). Made with:",
        f"\n```bash\n{command}\n```",
        "### Downstream utility", utility_text(results),
        "### Statement fidelity",
        "SR and NORM rows: records of sinus rhythm only (no SBRAD, STACH, AFIB or SARRH statement).",
        fidelity_rows(fid["synthetic_all_folds"], fid["real_fold10"], fid["real_folds1_8"]),
        "### Lead amplitudes (robust peak-to-peak, 0.5th-99.5th percentile over 10 s)",
        amplitude_rows(fid["synthetic_all_folds"], fid["real_fold10"], fid["amplitude_within_real_fold10_p5_p95"]),
    ]
    if "guidance" in results:
        guidance = results["guidance"]
        parts += ["### Classifier-free guidance",
                  f"{guidance['per_label_set']} fresh ECGs per label set "
                  f"({', '.join('+'.join(r) for r in guidance['label_sets'])}), sampled with "
                  f"{sampler_text(results['sampling']['guidance'])}, same seeds at every scale:",
                  guidance_rows(guidance, real_rr_reference(results))]
    parts += ["### Privacy audit (synthetic set against the training records, fold 10 as the held-out reference)",
              privacy_text(results),
              "### Generated next to real",
              "Lead II of fold-10 records (left) and of the synthetic ECG generated for the same statements (right):",
              "![generated vs real](generated_vs_real.png)"]
    return "\n\n".join(parts)


def main(argv=None) -> int:
    from sssd_hf.hub import render_model_card
    from sssd_hf.models.modeling_sssd_ecg import SSSDECGModel
    from sssd_hf.utils import atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default="sssd_hf/default_pipeline")
    parser.add_argument("--results", default="training/results/ptbxl_default/fold10.json")
    parser.add_argument("--metrics", default="training/results/ptbxl_default/metrics.jsonl")
    parser.add_argument("--ptbxl", default="../shared/data/ptbxl")
    parser.add_argument("--machine", default="a 2-core x86-64 CPU (no GPU)")
    parser.add_argument("--partial", action="store_true",
                        help="write the card from the guidance stage alone when the fold-10 stages (dataset, "
                        "evaluate, fidelity, figure) have not run yet; the card says which figures are missing")
    args = parser.parse_args(argv)
    for flag, path in (("--results", args.results), ("--metrics", args.metrics),
                       ("--pipeline", os.path.join(args.pipeline, "model", "config.json")),
                       ("--ptbxl", os.path.join(args.ptbxl, "ptbxl_database.csv"))):
        if not os.path.isfile(path):
            parser.error(f"{flag}: {path} not found")
    try:
        results = json.load(open(args.results, encoding="utf-8"))
        missing = [key for key in ("evaluate", "fidelity") if key not in results]
        if "dataset" not in results.get("sampling", {}):
            missing.insert(0, "dataset")
        if "guidance" in results and "guidance" not in results.get("sampling", {}):
            missing.append("guidance (its sampler)")
    except (json.JSONDecodeError, AttributeError, TypeError):
        parser.error(f"--results: {args.results} is not a fold10.json of training/evaluate_default.py")
    if missing and args.partial and "guidance" in results.get("sampling", {}):
        missing = []
    if missing:
        parser.error(f"--results: {args.results} lacks the stage(s) {missing}; run training/evaluate_default.py")
    config = SSSDECGModel.load_config(os.path.join(args.pipeline, "model"))
    model = SSSDECGModel.from_config(config)
    params = sum(p.numel() for p in model.parameters())
    codes = list(model.config.label_names)
    counts = training_counts(args.ptbxl, codes)
    run = run_summary(args.metrics)
    train_config = yaml.safe_load(open(CONFIG, encoding="utf-8"))
    table = ", ".join(f"`{c}` {n}" for c, n in sorted(counts["per_statement"].items(), key=lambda kv: -kv[1]))
    curve = validation_curve(run["validation"])
    evaluate_command = reproduce_commands(results)
    extra = {
        "license": "cc-by-4.0",
        "intended_use": (
            "Research on ECG methods with synthetic data (train-on-synthetic, augmentation, sharing ECG-like data "
            "without exposing patients) **at the scale of this small model**, and a working default for "
            "`sssd-ecg generate` and the Space. **Not for clinical use**: never use its ECGs for diagnosis or "
            "clinical decisions. Check the figures below for the statements you need before relying on them."
            f"{guidance_text(args.pipeline)}"
        ),
        "training_data": (
            f"The real PTB-XL slice shipped to sssd-hf developers (`../shared/data/ptbxl`, ecg_id 1-1999 at "
            f"100 Hz): folds 1-8 for training ({counts['records']:,} records), fold 9 for selection (245), "
            f"fold 10 held out for the figures (255). Statements: every PTB-XL statement with at least 30 "
            f"training records ({len(codes)}; training records per statement: {table}); rarer ones, e.g. "
            f"`CLBBB` (22), are not in the vocabulary. {ATTRIBUTION}"
        ),
        "training": (
            f"SSSD-ECG-nle ({params:,} parameters: {model.config.num_layers} residual blocks x "
            f"{model.config.channels} channels, bidirectional S4 with HiPPO-LegS state "
            f"{model.config.s4_state_size}, the nle label embedding with a learned null label for "
            f"classifier-free guidance), sized from measured step times on {args.machine}. "
            f"{run['steps']:,} optimizer steps of batch {train_config['batch_size']} "
            f"({run['steps'] * train_config['batch_size']:,} ECGs seen, "
            f"{run['steps'] * train_config['batch_size'] / counts['records']:.0f} epochs), "
            f"{schedule_text(train_config)}, "
            f"{int(100 * train_config['condition_dropout'])} % condition dropout, bf16 autocast, exported EMA "
            f"weights (decay {train_config['ema_decay']}); {run['train_seconds'] / 3600:.1f} h of training steps "
            f"on {args.machine}, over several sessions (resumed exactly from committed checkpoints). "
            f"EMA validation loss (64 fold-9 records, fixed noise): {curve}.{stopped_text(run, train_config)}"
            f"\n\nCommand (from the repository root, `../shared` beside it; `--resume latest` continues an "
            f"interrupted run):\n\n```bash\n{RESUME}\n```"
        ),
        "evaluation": evaluation_text(results, evaluate_command),
        "limitations": (
            f"A small model ({params / 1e6:.1f} M parameters vs the papers' ~50 M) trained on a small slice of PTB-XL "
            f"({counts['records']:,} training records vs PTB-XL's ~17,000) on a CPU, so rare statements (about 30 "
            "training records each) are learned weakly; see the figures above. The slice's population is "
            f"PTB-XL's (German adults, 1989-1996). 100 Hz only.{sinus_rhythm_text(results)} Not for clinical use."
        ),
    }
    with open(os.path.join(args.pipeline, "model_index.json"), encoding="utf-8") as handle:
        extra["default_sampler"] = json.load(handle).get("default_sampler")
    card = render_model_card(model.config, extra)
    figure = os.path.join(os.path.dirname(args.results), "generated_vs_real.png")
    if os.path.isfile(figure):
        shutil.copyfile(figure, os.path.join(args.pipeline, "generated_vs_real.png"))
    atomic_write_text(os.path.join(args.pipeline, "README.md"), card)
    print(f"wrote {os.path.join(args.pipeline, 'README.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
