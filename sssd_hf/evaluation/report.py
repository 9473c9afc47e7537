"""The whole evaluation of a synthetic ECG set, as a JSON summary and a self-contained HTML report.

:func:`run_evaluation` runs the sections (each optional):

- ``utility``: the downstream-classifier protocols (:mod:`.train_classifier`);
- ``features``: Frechet distance and MMD in the real-trained classifier's embedding, for the
  synthetic set and for a real-vs-real baseline (the two halves of the real test fold);
- ``physiology``: NeuroKit2 measurements of the real test fold and the synthetic test set (the
  synthetic copy of the test fold when the synthetic data has splits: same statements), per-feature
  and per-statement distances, and a real-vs-real baseline (a real training subsample of the
  same size against the real test fold);
- ``privacy``: the audit of :mod:`.privacy` against the real training fold and the test fold.

:func:`write_report` writes ``report.json``, ``report.html`` (tables and embedded PNG figures),
the measurement tables as CSV and optionally the trained classifiers, each file atomically.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..utils import atomic_path, atomic_write_text
from . import plots
from .data import ECGSet, check_compatible
from .progress import stage
from .train_classifier import PROTOCOLS, TrainingConfig

SECTIONS: Tuple[str, ...] = ("utility", "features", "physiology", "privacy")
METRIC_NAMES: Tuple[str, ...] = ("roc_auc", "f1", "g_mean")
#: Physiology distances are computed only with at least this many records in each compared set.
MIN_PHYSIOLOGY_RECORDS = 10
#: Bootstrap resamples of the feature-space and physiology intervals (at most; they are slower than the metrics').
MAX_SECTION_BOOTSTRAP = 200


@dataclass
class EvaluationOptions:
    """What :func:`run_evaluation` does.

    Attributes:
        sections: subset of :data:`SECTIONS`.
        protocols: downstream protocols (``augment`` needs ``augment_statement``).
        label_names: classifier vocabulary (default: the real training set's).
        augment_statement: statement whose synthetic positives are added in ``augment``.
        training: classifier hyper-parameters (architecture preset, epochs, bootstrap, ...).
        statements: statements compared one by one in ``physiology`` (default: the 5 most
            frequent in the synthetic set).
        max_records: cap on records per set in ``features``, ``physiology`` and for the
            synthetic and held-out sides of ``privacy`` (the training side is never capped).
        num_workers: processes for the NeuroKit2 delineation.
        alpha, flag_pvalue: memorisation quantile and flagging level (:mod:`.privacy`).
        n_examples: statements shown as real-vs-synthetic ECG pairs.
        device: torch device of the distance computations (default: CUDA when available).
        seed: seed of every random choice.
    """

    sections: Sequence[str] = SECTIONS
    protocols: Sequence[str] = ("TRTR", "TSTR", "TRTS")
    label_names: Optional[Sequence[str]] = None
    augment_statement: Optional[str] = None
    training: TrainingConfig = field(default_factory=TrainingConfig)
    statements: Optional[Sequence[str]] = None
    max_records: Optional[int] = None
    num_workers: int = 0
    alpha: float = 0.05
    flag_pvalue: float = 0.01
    n_examples: int = 3
    device: Optional[str] = None
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [s for s in self.sections if s not in SECTIONS]
        if unknown:
            raise ValueError(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
        unknown = [p for p in self.protocols if p not in PROTOCOLS]
        if unknown:
            raise ValueError(f"unknown protocol(s) {unknown}; choose from {list(PROTOCOLS)}")
        if "augment" in self.protocols and not self.augment_statement:
            raise ValueError("the augment protocol needs augment_statement (e.g. AFIB)")
        if self.max_records is not None and self.max_records < 4:
            raise ValueError(f"max_records must be at least 4, got {self.max_records}")


@dataclass
class EvaluationResult:
    """Output of :func:`run_evaluation`: the JSON-ready ``report``, PNG ``figures`` by name,
    measurement ``tables`` (pandas DataFrames) by name and trained ``models`` by protocol."""

    report: Dict
    figures: Dict[str, bytes] = field(default_factory=dict)
    tables: Dict[str, object] = field(default_factory=dict)
    models: Dict[str, object] = field(default_factory=dict)


def _cap(ecgs: ECGSet, max_records: Optional[int], rng: np.random.Generator) -> ECGSet:
    if max_records is None or len(ecgs) <= max_records:
        return ecgs
    return ecgs.subset(
        np.sort(rng.choice(len(ecgs), max_records, replace=False)), f"{ecgs.name} (random {max_records})"
    )


def _describe(ecgs: ECGSet) -> Dict:
    counts = ecgs.labels.sum(axis=0)
    return {
        "name": ecgs.name,
        "n_records": len(ecgs),
        "n_samples": ecgs.num_samples,
        "sampling_rate": ecgs.sampling_rate,
        "label_counts": {code: int(c) for code, c in zip(ecgs.label_names, counts) if c},
    }


def run_evaluation(
    real_train: ECGSet,
    real_test: ECGSet,
    synthetic: ECGSet,
    options: Optional[EvaluationOptions] = None,
    synthetic_train: Optional[ECGSet] = None,
    synthetic_test: Optional[ECGSet] = None,
    real_validation: Optional[ECGSet] = None,
) -> EvaluationResult:
    """Evaluate ``synthetic`` against the real folds; see the module docstring.

    Args:
        real_train: the real data the generator was trained on (training fold).
        real_test: held-out real data (test fold): classifiers are tested on it and it is the
            reference of the privacy audit.
        synthetic: all synthetic ECGs (audited for privacy; example ECGs).
        synthetic_train / synthetic_test: synthetic sets for TSTR / TRTS (default ``synthetic``);
            ``synthetic_test`` is also the set compared in ``features`` and ``physiology``.
        real_validation: validation set of the classifiers (default: a hold-out of ``real_train``).
    """
    options = options or EvaluationOptions()
    for other in (real_test, synthetic, synthetic_train, synthetic_test, real_validation):
        if other is not None:
            check_compatible(real_train, other)
    synthetic_train = synthetic if synthetic_train is None else synthetic_train
    synthetic_test = synthetic if synthetic_test is None else synthetic_test
    from .. import __version__

    result = EvaluationResult(report={
        "sssd_hf_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "inputs": {key: _describe(s) for key, s in [("real_train", real_train), ("real_test", real_test),
                                                       ("synthetic", synthetic), ("synthetic_train", synthetic_train),
                                                       ("synthetic_test", synthetic_test)]},
        "options": _options_dict(options),
    })
    rng = np.random.default_rng(options.seed)
    classifier = None
    mode = options.training.progress
    if "utility" in options.sections:
        with stage("utility", f"protocols {','.join(options.protocols)}", mode):
            classifier = _utility(
                result, real_train, real_test, synthetic_train, synthetic_test, real_validation, options
            )
    if "features" in options.sections:
        with stage("features", "classifier embeddings, Frechet distance and MMD", mode):
            _features(result, classifier, real_train, real_test, synthetic_test, options, rng)
    if "physiology" in options.sections:
        n_measured = 3 * min(len(real_test), options.max_records or len(real_test))
        with stage("physiology", f"NeuroKit2 delineation of ~{n_measured} records", mode):
            _physiology(result, real_train, real_test, synthetic_test, options, rng)
    if "privacy" in options.sections:
        with stage("privacy", f"distances of {len(synthetic)} synthetic to {len(real_train)} training records", mode):
            _privacy(result, real_train, real_test, synthetic, options, rng)
    _examples(result, real_test, synthetic, options)
    result.report["headline"] = headline(result.report)
    return result


def _options_dict(options: EvaluationOptions) -> Dict:
    out = asdict(options)
    out["sections"], out["protocols"] = list(options.sections), list(options.protocols)
    return out


def _utility(result, real_train, real_test, synthetic_train, synthetic_test, real_validation, options):
    from .train_classifier import run_protocols

    protocols = run_protocols(
        options.protocols,
        real_train,
        real_test,
        synthetic_train,
        synthetic_test,
        options.training,
        options.label_names,
        options.augment_statement,
        real_validation,
    )
    result.report["utility"] = {"protocols": {p: r.summary() for p, r in protocols.items()},
                                "tracking_set": next(iter(protocols.values())).validation_set}
    for name, r in protocols.items():
        result.models[name] = r.model
        result.figures[f"roc_{name}"] = plots.roc_curves(
            r.references, r.scores, r.label_names, f"{name}: trained on {r.train_set}"
        )
    result.figures["convergence"] = plots.convergence({p: r.history for p, r in protocols.items() if p != "TRTS"})
    real_trained = [r.model for p, r in protocols.items() if p in ("TRTR", "TRTS")]
    return real_trained[0] if real_trained else None


def _features(result, classifier, real_train, real_test, synthetic, options, rng):
    from .feature_distance import feature_distances
    from .train_classifier import embed, fit_classifier

    if classifier is None:
        vocabulary = list(options.label_names or real_train.label_names)
        classifier, _ = fit_classifier(
            real_train.with_vocabulary(vocabulary), options.training, desc="train embedding classifier"
        )
    if len(real_test) < 4:
        raise ValueError(f"{real_test.name}: the feature distances need at least 4 real test records")
    order = rng.permutation(len(real_test))
    half_a, half_b = real_test.subset(order[: len(order) // 2]), real_test.subset(order[len(order) // 2:])
    half_a, half_b = _cap(half_a, options.max_records, rng), _cap(half_b, options.max_records, rng)
    candidate = _cap(synthetic, len(half_b), rng)
    vocab = list(classifier.config.label_names)
    emb = {name: embed(classifier, s.with_vocabulary(vocab), desc=f"embed {name}")
           for name, s in (("reference", half_a), ("real", half_b), ("synthetic", candidate))}
    n_boot = min(options.training.n_bootstrap, MAX_SECTION_BOOTSTRAP)
    result.report["features"] = {
        "embedding": f"penultimate layer of the real-trained classifier ({classifier.embedding_dim} features)",
        "reference": f"half of {real_test.name} ({len(half_a)} records)",
        "real_baseline": feature_distances(emb["reference"], emb["real"], seed=options.seed, n_bootstrap=n_boot),
        "synthetic": feature_distances(emb["reference"], emb["synthetic"], seed=options.seed, n_bootstrap=n_boot),
    }


def _default_statements(synthetic: ECGSet, options: EvaluationOptions) -> List[str]:
    if options.statements is not None:
        return list(options.statements)
    counts = synthetic.labels.sum(axis=0)
    return [synthetic.label_names[k] for k in np.argsort(-counts, kind="stable")[:5] if counts[k] > 0]


def _physiology(result, real_train, real_test, synthetic, options, rng):
    from .physiology import compare_measurements, failure_summary, feature_names, measure_records, summarize_distances

    real = _cap(real_test, options.max_records, rng)
    synth = _cap(synthetic, options.max_records, rng)
    baseline = _cap(real_train, len(real), rng)
    smallest = min(len(real), len(synth), len(baseline))
    if smallest < MIN_PHYSIOLOGY_RECORDS:
        result.report["physiology"] = {
            "not_computed": f"needs at least {MIN_PHYSIOLOGY_RECORDS} records in each of the real test, synthetic and "
                            f"real baseline sets; the smallest has {smallest}"}
        return
    measured = {key: measure_records(s, num_workers=options.num_workers)
                for key, s in (("real", real), ("synthetic", synth), ("real_baseline", baseline))}
    statements = _default_statements(synthetic, options)
    comparison = compare_measurements(measured["real"], measured["synthetic"], real, synth, statements)
    reference = compare_measurements(measured["real"], measured["real_baseline"], real, baseline, statements)
    result.report["physiology"] = {
        "sets": {"real": real.name, "synthetic": synth.name, "real_baseline": baseline.name},
        "statements": statements,
        "synthetic_vs_real": comparison,
        "real_baseline_vs_real": reference,
        "summary": {
            group: {
                "synthetic": summarize_distances(comparison, group),
                "real_baseline": summarize_distances(reference, group),
            }
            for group in comparison["groups"]
        },
        "failures": {key: failure_summary(table) for key, table in measured.items()},
        "mean_ks_ci": {
            key: _ks_interval(measured["real"], measured[key], options) for key in ("synthetic", "real_baseline")
        },
        "n_records": {"real": len(real), "synthetic": len(synth), "real_baseline": len(baseline)},
    }
    result.tables.update({f"measurements_{key}": table for key, table in measured.items()})
    features = feature_names(real.lead_names)
    result.figures["feature_histograms"] = plots.feature_histograms(measured["real"], measured["synthetic"], features)


def _ks_interval(real_table, other_table, options: EvaluationOptions):
    """Percentile-bootstrap interval of the mean KS statistic over features (all records; both tables resampled)."""
    from .physiology import compare_measurements, summarize_distances

    n_boot = min(options.training.n_bootstrap, MAX_SECTION_BOOTSTRAP)
    rng = np.random.default_rng(options.seed + 1)
    values = []
    for _ in range(n_boot):
        i, j = rng.integers(0, len(real_table), len(real_table)), rng.integers(0, len(other_table), len(other_table))
        comparison = compare_measurements(real_table.iloc[i].reset_index(drop=True),
                                          other_table.iloc[j].reset_index(drop=True))
        value = summarize_distances(comparison, "all")["mean_ks_statistic"]
        if value is not None:
            values.append(value)
    if not values:
        return None
    lo, hi = np.quantile(values, [0.025, 0.975])
    return [float(lo), float(hi)]


def _privacy(result, real_train, real_test, synthetic, options, rng):
    from .privacy import MIN_HOLDOUT, MIN_TRAIN, privacy_audit

    holdout = _cap(real_test, options.max_records, rng)
    synth = _cap(synthetic, options.max_records, rng)
    if len(holdout) < MIN_HOLDOUT or len(real_train) < MIN_TRAIN:
        result.report["privacy"] = {"flagged": False,
                                    "not_computed": f"needs at least {MIN_HOLDOUT} held-out and {MIN_TRAIN} training "
                                                    f"records; got {len(holdout)} and {len(real_train)}"}
        return
    audit = privacy_audit(real_train, holdout, synth, options.alpha, options.flag_pvalue,
                          n_bootstrap=options.training.n_bootstrap, seed=options.seed, device=options.device)
    mia = audit.pop("membership_inference")
    similarity_synthetic, similarity_holdout = audit.pop("similarity_synthetic"), audit.pop("similarity_holdout")
    result.figures["similarity_histogram"] = plots.similarity_histogram(similarity_synthetic, similarity_holdout,
                                                                        audit["threshold"])
    if mia is not None:
        result.figures["attack_roc"] = plots.attack_roc(mia.pop("is_member"), mia.pop("scores"), mia["roc_auc"])
    if audit["closest_pairs"]:
        result.figures["closest_pairs"] = plots.closest_pairs(synth, real_train, audit["closest_pairs"])
    audit["membership_inference"] = mia
    audit["sets"] = {"train": real_train.name, "holdout": holdout.name, "synthetic": synth.name}
    result.report["privacy"] = audit


def _examples(result, real_test, synthetic, options):
    shown = []
    for code in _default_statements(synthetic, options):
        if len(shown) == options.n_examples:
            break
        if code not in real_test.label_names:
            continue
        real_idx, synth_idx = real_test.positives(code), synthetic.positives(code)
        if real_idx.size and synth_idx.size:
            try:
                result.figures[f"ecg_real_{code}"] = plots.ecg_png(
                    real_test, int(real_idx[0]), f"real {code}: {real_test.name} #{real_idx[0]}"
                )
                result.figures[f"ecg_synthetic_{code}"] = plots.ecg_png(
                    synthetic, int(synth_idx[0]), f"synthetic {code}: #{synth_idx[0]}"
                )
            except ValueError as exc:  # e.g. not the 12 standard leads
                result.report["examples_skipped"] = str(exc)
                return
            shown.append(code)
    result.report["examples"] = shown


def headline(report: Dict) -> Dict:
    """The few numbers that summarise a report.

    Every number ``key`` comes with ``key_ci`` (bootstrap interval, ``None`` without resamples)
    and ``key_n`` (the records it is computed on); a number that was not computed is ``None``
    with ``key_not_computed`` saying why.
    """
    out: Dict = {}

    def put(key, value, ci, n, reason=None):
        out[key], out[f"{key}_ci"], out[f"{key}_n"] = value, ci, n
        if value is None:
            out[f"{key}_not_computed"] = reason or "undefined on these records"

    for protocol, summary in report.get("utility", {}).get("protocols", {}).items():
        for metric in METRIC_NAMES:
            m = summary["metrics"][metric]
            skipped = m.get("skipped") or {}
            put(f"{protocol}_{metric}", m[metric], m.get(f"{metric}_ci"), summary["n_test"],
                "no statement has both positive and negative test records" if skipped else None)
    features = report.get("features", {})
    for role in ("synthetic", "real_baseline") if features else ():
        f = features[role]
        for key in ("frechet", "mmd2"):
            put(f"{key}_{role}", f[key], f.get(f"{key}_ci"), min(f["n_reference"], f["n_candidate"]),
                f.get(f"{key}_not_computed"))
    physiology = report.get("physiology", {})
    if "not_computed" in physiology:
        for role in ("synthetic", "real_baseline"):
            put(f"physiology_mean_ks_{role}", None, None, None, physiology["not_computed"])
    elif physiology:
        summary = physiology["summary"]["all"]
        for role in ("synthetic", "real_baseline"):
            put(f"physiology_mean_ks_{role}", summary[role]["mean_ks_statistic"], physiology["mean_ks_ci"][role],
                physiology["n_records"][role], "no feature was measured on enough records of both sets")
    if "privacy" in report:
        p = report["privacy"]
        out["memorisation_flagged"] = bool(p["flagged"])
        if "not_computed" in p:
            put("memorisation_rate", None, None, None, p["not_computed"])
            put("membership_inference_auc", None, None, None, p["not_computed"])
            return out
        out["privacy_status"] = p["status"]
        put("memorisation_rate", p["memorisation_rate"], p["memorisation_rate_ci"], p["n_synthetic"],
            "every synthetic ECG is degenerate" if p["status"] == "degenerate" else None)
        mia = p["membership_inference"]
        put("membership_inference_auc", mia and mia["roc_auc"], mia and mia["roc_auc_ci"],
            mia and mia["n_members"] + mia["n_non_members"], None if mia else "every synthetic ECG is degenerate")
        put("degenerate_rate", p["degenerate"]["rate"], p["degenerate"]["rate_ci"], p["degenerate"]["n_records"])
    return out


# ----------------------------------------------------------------------------------------- writing


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_report(
    result: EvaluationResult, out_dir: str | os.PathLike, save_classifiers: bool = False
) -> Dict[str, str]:
    """Write ``report.json``, ``report.html``, ``<table>.csv``, ``privacy.md`` (when audited) and
    (optionally) ``classifiers/<protocol>``.

    ``privacy.md`` is a short summary for a dataset card (``sssd-ecg build-dataset --privacy-report``).

    Every file is written to a temporary name and renamed, so an interrupted run leaves no
    half-written file.  Returns ``{"json": path, "html": path, ...}``.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    written: Dict[str, str] = {}
    for name, table in result.tables.items():
        path = os.path.join(out_dir, f"{name}.csv")
        with atomic_path(path, suffix=".csv") as tmp:
            table.to_csv(tmp, index=False)
        written[name] = path
    if save_classifiers:
        for protocol, model in result.models.items():
            if protocol == "TRTS" and "TRTR" in result.models:
                continue  # the same real-trained classifier
            path = os.path.join(out_dir, "classifiers", protocol)
            with atomic_path(path) as tmp:
                model.save_pretrained(tmp)
            written[f"classifier_{protocol}"] = path
    if "privacy" in result.report:
        written["privacy"] = os.path.join(out_dir, "privacy.md")
        atomic_write_text(written["privacy"], privacy_markdown(result.report))
    written["json"] = os.path.join(out_dir, "report.json")
    atomic_write_text(written["json"], json.dumps(_jsonable(result.report), indent=2, allow_nan=False) + "\n")
    written["html"] = os.path.join(out_dir, "report.html")
    atomic_write_text(written["html"], render_html(result))
    return written


def privacy_markdown(report: Dict) -> str:
    """The privacy audit of ``report`` as a short Markdown summary (for a dataset card)."""
    p = report["privacy"]
    head = f"Privacy audit by `sssd-ecg evaluate` (sssd-hf {report['sssd_hf_version']}, {report['created']})"
    if "not_computed" in p:
        return f"{head}: not computed ({p['not_computed']}).\n"
    verdict = {
        "flagged": "**FLAGGED**: synthetic ECGs are more similar to training records than held-out real ECGs are",
        "not flagged": "not flagged: no sign that training records are reproduced",
        "degenerate": "**DEGENERATE**: every synthetic ECG is flat or non-physiological; nothing to compare",
    }
    verdict = verdict[p["status"]]
    d = p["degenerate"]
    lines = [f"{head}: {verdict}.", "",
             f"- Training set: {p['sets']['train']}; held-out real set: {p['sets']['holdout']} "
             f"(n = {p['n_holdout']}); synthetic set: {p['sets']['synthetic']}.",
             f"- Degenerate synthetic ECGs (flat or non-physiological, not compared): {d['n']} of {d['n_records']} "
             f"({d['rate']:.1%}{_ci_text(d['rate_ci'], p['ci_level'], percent=True)}).",
             f"- Exact copies of training records: {p['n_exact_copies']}."]
    if p["status"] != "degenerate":
        mia = p["membership_inference"]
        lines += [
            f"- Memorisation rate: {p['memorisation_rate']:.2%}"
            f"{_ci_text(p['memorisation_rate_ci'], p['ci_level'], percent=True)}"
            f" of n = {p['n_synthetic']} synthetic ECGs are more similar to their closest training record than "
            f"{1 - p['alpha']:.0%} of held-out real ECGs are (similarity {p['threshold']:.3f}: normalised "
            "cross-correlation, invariant to time shifts up to 1 s, sign, gain and offset); about "
            f"{p['alpha']:.0%} is expected without copying. Flagged only when the interval lies above that.",
            f"- Median similarity to the closest training record: synthetic {p['median_similarity_synthetic']:.3f}, "
            f"held-out real {p['median_similarity_holdout']:.3f}.",
            f"- Membership-inference attack (similarity to the closest synthetic ECG): ROC-AUC {_fmt(mia['roc_auc'])}"
            f"{_ci_text(mia['roc_auc_ci'], mia['ci_level'])} over {mia['n_members']} training members versus "
            f"{mia['n_non_members']} held-out non-members; 0.5 means no leakage.",
        ]
    return "\n".join(lines + [""])


def _ci_text(ci, level, percent: bool = False) -> str:
    if not ci or ci[0] is None:
        return ""
    fmt = (lambda v: f"{v:.1%}") if percent else _fmt
    return f", {level:.0%} bootstrap interval {fmt(ci[0])}-{fmt(ci[1])}"


# ----------------------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:0.6em 0 1.4em}
th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
.flag{color:#b00;font-weight:bold}.ok{color:#070;font-weight:bold}.note{color:#555;font-size:13px}
.pair{display:flex;gap:8px}.pair figure{margin:0;flex:1}
"""


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return (
            "n/a" if not np.isfinite(value) else f"{value:.{digits}g}" if abs(value) >= 1000 else f"{value:.{digits}f}"
        )
    return html.escape(str(value))


def _ci(value, interval) -> str:
    if not interval or interval[0] is None:
        return _fmt(value)
    return f"{_fmt(value)} [{_fmt(interval[0])}, {_fmt(interval[1])}]"


def _table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _img(result: EvaluationResult, name: str, alt: str) -> str:
    data = result.figures.get(name)
    if data is None:
        return ""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'


def render_html(result: EvaluationResult) -> str:
    """The report as one self-contained HTML page (figures embedded as base64 PNG)."""
    r = result.report
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Synthetic ECG evaluation</title>"
        f"<style>{_CSS}</style></head><body>",
        "<h1>Synthetic ECG evaluation</h1>",
        f"<p class='note'>sssd-hf {html.escape(str(r['sssd_hf_version']))}, {html.escape(r['created'])}</p>",
        _inputs_html(r),
        _headline_html(r.get("headline", {})),
    ]
    if "utility" in r:
        parts.append(_utility_html(result))
    if "features" in r:
        parts.append(_features_html(r["features"]))
    if "physiology" in r:
        parts.append(_physiology_html(result))
    if "privacy" in r:
        parts.append(_privacy_html(result))
    if r.get("examples"):
        parts.append("<h2>Example ECGs: real (left) and synthetic (right)</h2>")
        for code in r["examples"]:
            parts.append(
                f"<h3>{html.escape(code)}</h3><div class='pair'>"
                f"<figure>{_img(result, f'ecg_real_{code}', 'real ' + code)}</figure>"
                f"<figure>{_img(result, f'ecg_synthetic_{code}', 'synthetic ' + code)}</figure></div>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def _headline_html(head: Dict) -> str:
    """Every headline number with its interval and its n, or why it was not computed."""
    rows = []
    for key, value in head.items():
        if key.endswith(("_ci", "_n", "_not_computed")) or isinstance(value, (bool, str)):
            continue
        reason = head.get(f"{key}_not_computed")
        shown = _ci(value, head.get(f"{key}_ci")) if value is not None else f"not computed: {_fmt(reason)}"
        rows.append([html.escape(key), shown, _fmt(head.get(f"{key}_n"))])
    if not rows:
        return ""
    return ("<h2>Headline</h2><p class='note'>Brackets: bootstrap intervals (95%; the privacy ones at the flagging "
            "level); n: records the number is computed on.</p>" + _table(["quantity", "value [interval]", "n"], rows))


def _inputs_html(r: Dict) -> str:
    rows = [[html.escape(key), _fmt(d["name"]), _fmt(d["n_records"]), _fmt(d["n_samples"]), f"{d['sampling_rate']:g}"]
            for key, d in r["inputs"].items()]
    return "<h2>Inputs</h2>" + _table(["role", "set", "records", "samples", "Hz"], rows)


def _utility_html(result: EvaluationResult) -> str:
    protocols = result.report["utility"]["protocols"]
    rows = [
        [p, _fmt(s["train_set"]), _fmt(s["test_set"]), _fmt(s["n_train"]), _fmt(s["n_test"])]
        + [_ci(s["metrics"][m][m], s["metrics"][m][f"{m}_ci"]) for m in METRIC_NAMES]
        for p, s in protocols.items()
    ]
    out = [
        "<h2>Downstream utility</h2>",
        "<p class='note'>Macro averages over statements, with percentile-bootstrap intervals. "
        "TRTR: train real, test real; "
        "TSTR: train synthetic, test real; TRTS: train real, test synthetic; "
        "augment: real plus synthetic positives.</p>",
        _table(["protocol", "trained on", "tested on", "n train", "n test", "ROC-AUC", "F1", "G-mean"], rows),
    ]
    skipped = sorted({code for s in protocols.values() for code in (s["metrics"]["roc_auc"].get("skipped") or {})})
    if skipped:
        out.append("<p class='note'>Left out of the macro averages (no positive or no negative test records): "
                   + html.escape(", ".join(skipped)) + ".</p>")
    labels = next(iter(protocols.values()))["label_names"]
    per_label = [
        [html.escape(code)]
        + [_fmt(s["metrics"]["roc_auc"]["per_label"][code]["roc_auc"]) for s in protocols.values()]
        + [_fmt(next(iter(protocols.values()))["metrics"]["roc_auc"]["per_label"][code]["positives"])]
        for code in labels
    ]
    out += ["<h3>ROC-AUC per statement</h3>", _table(["statement", *protocols, "test positives"], per_label)]
    out += [
        f"<h3>Convergence (tracked on {_fmt(result.report['utility']['tracking_set'])})</h3>",
        _img(result, "convergence", "convergence"),
    ]
    out += ["<h3>ROC curves</h3>"] + [_img(result, f"roc_{p}", f"ROC {p}") for p in protocols]
    return "\n".join(out)


def _features_html(f: Dict) -> str:
    rows = [[name, _ci(f[key]["frechet"], f[key].get("frechet_ci")), _ci(f[key]["mmd2"], f[key].get("mmd2_ci")),
             _fmt(f[key]["n_candidate"])]
            for name, key in (("real (other half of the test fold)", "real_baseline"), ("synthetic", "synthetic"))]
    reasons = sorted({f"{stat}: not computed, {f[key][stat + '_not_computed']}"
                      for key in ("real_baseline", "synthetic") for stat in ("frechet", "mmd2")
                      if f[key].get(stat + "_not_computed")})
    return (
        "<h2>Feature-space distances</h2>"
        f"<p class='note'>{_fmt(f['embedding'])}; reference: {_fmt(f['reference'])}. "
        "Lower is closer; the real row is the "
        "value expected from a fresh real sample. Brackets: 95% bootstrap intervals.</p>"
        + _table(["compared set", "Frechet distance", "MMD²", "records"], rows)
        + "".join(f"<p class='note'>{html.escape(r)}.</p>" for r in reasons)
    )


def _physiology_html(result: EvaluationResult) -> str:
    p = result.report["physiology"]
    if "not_computed" in p:
        return f"<h2>Physiological plausibility</h2><p class='note'>Not computed: {_fmt(p['not_computed'])}.</p>"
    rows = []
    for feature, d in p["synthetic_vs_real"]["groups"]["all"].items():
        base = p["real_baseline_vs_real"]["groups"]["all"][feature]
        rows.append(
            [
                html.escape(feature),
                _fmt(d["real_median"]),
                _fmt(d["synthetic_median"]),
                _fmt(d["wasserstein"]),
                _fmt(d["wasserstein_iqr"]),
                _fmt(d["ks_statistic"]),
                _fmt(base["wasserstein_iqr"]),
                _fmt(base["ks_statistic"]),
            ]
        )
    summary = [
        [
            html.escape(g),
            _fmt(s["synthetic"]["mean_wasserstein_iqr"]),
            _fmt(s["synthetic"]["mean_ks_statistic"]),
            _fmt(s["real_baseline"]["mean_wasserstein_iqr"]),
            _fmt(s["real_baseline"]["mean_ks_statistic"]),
        ]
        for g, s in p["summary"].items()
    ]
    failures = [
        [html.escape(k), _fmt(f["n_records"])]
        + [_fmt(f["status"][s]) for s in ("ok", "no_r_peaks", "delineation_failed")]
        + [_fmt(sum(f["missing"].values()))]
        for k, f in p["failures"].items()
    ]
    skipped = p["synthetic_vs_real"]["skipped"]
    return "\n".join(
        [
            "<h2>Physiological plausibility</h2>",
            f"<p class='note'>sssd-ecg measure (LUDB-validated delineator). Real: {_fmt(p['sets']['real'])}; "
            f"synthetic: {_fmt(p['sets']['synthetic'])}; "
            f"baseline: {_fmt(p['sets']['real_baseline'])} against the same real set. "
            "W/IQR: Wasserstein distance divided by the real "
            "interquartile range.</p>",
            _table(
                [
                    "feature",
                    "real median",
                    "synthetic median",
                    "Wasserstein",
                    "W/IQR",
                    "KS",
                    "baseline W/IQR",
                    "baseline KS",
                ],
                rows,
            ),
            "<h3>Per statement (mean over features)</h3>",
            _table(["group", "synthetic W/IQR", "synthetic KS", "baseline W/IQR", "baseline KS"], summary),
            (
                "<p class='note'>Skipped statements: "
                + html.escape("; ".join(f"{k}: {v}" for k, v in skipped.items()))
                + "</p>"
            )
            if skipped
            else "",
            "<h3>Delineation failures (counted, not dropped)</h3>",
            _table(["set", "records", "ok", "no R peaks", "delineation failed", "missing values"], failures),
            _img(result, "feature_histograms", "feature histograms"),
        ]
    )


def _privacy_html(result: EvaluationResult) -> str:
    p = result.report["privacy"]
    if "not_computed" in p:
        return f"<h2>Privacy audit</h2><p class='note'>Not computed: {_fmt(p['not_computed'])}.</p>"
    verdict = {"flagged": "<span class='flag'>FLAGGED: synthetic ECGs are more similar to training records than "
                          "held-out real ECGs are</span>",
               "not flagged": "<span class='ok'>not flagged</span>",
               "degenerate": "<span class='flag'>DEGENERATE: every synthetic ECG is flat or non-physiological</span>"}
    d = p["degenerate"]
    reasons = f" ({html.escape(', '.join(f'{k}: {v}' for k, v in d['reasons'].items()))})" if d["reasons"] else ""
    rows = [
        [
            "degenerate synthetic ECGs (not compared)",
            f"{d['n']} of {d['n_records']}: {_ci(d['rate'], d['rate_ci'])}" + reasons,
        ],
        ["exact copies of training records", _fmt(p["n_exact_copies"])],
    ]
    if p["status"] != "degenerate":
        mia = p["membership_inference"]
        rate = _ci(p["memorisation_rate"], p["memorisation_rate_ci"])
        rows += [["memorisation rate", f"{rate} of n = {p['n_synthetic']} (expected about {_fmt(p['alpha'])}; "
                                       f"{p['ci_level']:.0%} interval)"],
                 ["synthetic ECGs above threshold", f"{p['n_above']} of {p['n_synthetic']}"],
                 ["threshold (similarity)", f"{_fmt(p['threshold'], 4)} ({1 - p['alpha']:.0%} quantile of n = "
                                            f"{p['n_holdout']} held-out real ECGs)"],
                 ["median similarity synthetic / held-out",
                  f"{_fmt(p['median_similarity_synthetic'], 4)} / {_fmt(p['median_similarity_holdout'], 4)}"],
                 ["membership-inference ROC-AUC", f"{_ci(mia['roc_auc'], mia['roc_auc_ci'])} "
                                                  f"({mia['n_members']} members, {mia['n_non_members']} non-members)"]]
    return "\n".join(
        [
            "<h2>Privacy audit</h2>",
            f"<p>{verdict[p['status']]}</p>",
            f"<p class='note'>Training set: {_fmt(p['sets']['train'])}; held-out: {_fmt(p['sets']['holdout'])}; "
            f"synthetic: {_fmt(p['sets']['synthetic'])}. Similarity: normalised cross-correlation of the "
            "mean-free leads, maximised over time shifts up to 1 s, invariant to sign and gain.</p>",
            _table(["quantity", "value"], rows),
            _img(result, "similarity_histogram", "similarity histogram"),
            _img(result, "attack_roc", "attack ROC"),
            "<h3>Closest pairs</h3>",
            _img(result, "closest_pairs", "closest pairs"),
        ]
    )
