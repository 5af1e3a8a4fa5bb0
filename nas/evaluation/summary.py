"""``evaluation.csv`` (one row per architecture and seed) and ``evaluation.json`` (per architecture).

Per architecture: test accuracy mean, sample standard deviation (ddof = 1), min, max and n over the seeds
that completed; parameters, FLOPs, training time. Against the plain ResNet (the run's ``baseline_euler``,
or the ``resnet_reference`` that ``nas evaluate`` adds): the paired difference over the seeds both
completed, d_i = acc_i − acc_resnet,i, its mean and the 95% confidence interval
mean ± t_{0.975, n−1} · s_d / √n (Student's t, ``scipy.stats.t``; e.g. Montgomery & Runger, *Applied
Statistics and Probability for Engineers*, paired t). Seeds pair the two models' initialisation, data order
and augmentation, which removes part of the seed-to-seed noise from the comparison.

Did the search predict the evaluation (``search_prediction``; the NAS best-practice checklist, Lindauer &
Hutter, JMLR 2020): Spearman's rank correlation ρ (``scipy.stats.spearmanr``: the Pearson correlation of
the ranks, ties at their mean rank) between the search's score (``search_best_val_acc``) and the evaluation's
test mean over the evaluated searched architectures (baselines left out: the search did not choose them);
and the optimism of the search's pick, the rank-1 architecture's search score minus its test mean. Both
scores are accuracies as fractions (0-1), so an optimism of 0.0123 is 1.23 accuracy points; the search
score is a validation accuracy on the run's validation split, so the optimism includes the selection bias
(the best of many noisy scores) and any gap between the validation and test splits.

The columns are documented in ``results/README.md``.
"""
from __future__ import annotations

import math

from nas.search.records import read_trial
from nas.statistics import CONFIDENCE, describe, paired_difference  # noqa: F401 (part of this module's API)
from nas.storage import Location

from .trainable import TRIALS_FOLDER

FORMAT = "nas.evaluation/1"
CSV_FILE = "evaluation.csv"
JSON_FILE = "evaluation.json"
COLUMNS = ("architecture_id", "label", "role", "scheme_name", "source_trial_id", "search_rank",
           "search_best_val_acc", "seed", "status", "test_acc", "test_loss", "best_val_acc", "final_val_acc",
           "epochs_run", "params", "flops", "train_time", "resumed_from_epoch", "job_dir")


def collect_rows(evaluation_dir, jobs: dict, unfinished_status: str = "missing") -> list[dict]:
    """One row per job (in the plan's order) from its folder; a job without a finished folder gets
    ``unfinished_status`` (``interrupted`` after a signal). ``evaluation_dir``: a path or a storage URI /
    ``Location`` (``nas.storage``)."""
    trials = Location.from_uri(evaluation_dir) / TRIALS_FOLDER
    rows = []
    for key, job in jobs.items():
        candidate, seed = job["candidate"], job["seed"]
        record = read_trial(trials / key)
        metrics = (record or {}).get("metrics") or {}
        status = metrics.get("status") or unfinished_status
        if status == "training":
            status = unfinished_status
        test, final, best = metrics.get("test") or {}, metrics.get("final") or {}, metrics.get("best") or {}
        rows.append({
            **{k: candidate.get(k) for k in ("architecture_id", "label", "role", "scheme_name", "source_trial_id",
                                             "search_rank", "search_best_val_acc")},
            "seed": seed, "status": status, "test_acc": test.get("acc"), "test_loss": test.get("loss"),
            "best_val_acc": best.get("val_acc"), "final_val_acc": final.get("val_acc"),
            "epochs_run": metrics.get("epochs_run", 0), "params": metrics.get("params"),
            "flops": metrics.get("flops"), "train_time": metrics.get("train_time"),
            "resumed_from_epoch": metrics.get("resumed_from_epoch"), "job_dir": f"{TRIALS_FOLDER}/{key}",
        })
    return rows


def write_csv(evaluation_root, rows: list[dict]):
    """``evaluation.csv`` in ``evaluation_root`` (the run folder: a path or a storage URI / ``Location``),
    atomically; returns the DataFrame."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("search_rank", "seed", "epochs_run", "params", "flops", "resumed_from_epoch"):
        frame[column] = frame[column].astype("Int64")  # integers with empty cells, not 1.0
    Location.from_uri(evaluation_root).write_csv(CSV_FILE, frame)
    return frame


MIN_SPEARMAN = 3  # with 2 architectures ρ is ±1 whatever the scores: no information
FEW_SPEARMAN = 5  # below this, ρ takes few values (n = 3: -1, -0.5, 0.5, 1) and says little


def search_prediction(architectures: list[dict]) -> dict:
    """How well the search's ranking predicted the evaluation (see the module docstring), from the
    ``architectures`` entries of ``evaluation.json``: ``spearman`` (null with ``note`` saying why when it cannot
    be computed), ``n`` and the ``labels`` it is computed over, and ``optimism`` of the rank-1 pick."""
    from scipy import stats

    searched = [e for e in architectures if e.get("role") == "searched"
                and e.get("search_best_val_acc") is not None and (e.get("test_acc") or {}).get("mean") is not None]
    search = [float(e["search_best_val_acc"]) for e in searched]
    test = [float(e["test_acc"]["mean"]) for e in searched]
    out = {"spearman": None, "n": len(searched), "labels": [e["label"] for e in searched], "note": None,
           "scale": "accuracy as a fraction (0-1): search_best_val_acc (validation) and test_acc mean (test)"}
    if len(searched) < MIN_SPEARMAN:
        out["note"] = (f"not computed: {len(searched)} evaluated searched architecture(s) with a completed seed; "
                       f"a rank correlation needs at least {MIN_SPEARMAN} (evaluate with --top {MIN_SPEARMAN} or "
                       "more)")
    elif len(set(search)) == 1 or len(set(test)) == 1:
        which = "search scores" if len(set(search)) == 1 else "test means"
        out["note"] = f"not computed: the {which} are all equal, so one of the rankings is a single tie"
    else:
        out["spearman"] = float(stats.spearmanr(search, test).statistic)
        if len(searched) < FEW_SPEARMAN:
            out["note"] = (f"only {len(searched)} architectures, fewer than {FEW_SPEARMAN}: rho takes few values "
                           "and is weak evidence either way")
    pick = next((e for e in architectures if e.get("role") == "searched" and e.get("search_rank") == 1), None)
    optimism = {"label": None, "search_best_val_acc": None, "test_mean": None, "value": None, "note": None}
    if pick is None:
        optimism["note"] = "no rank-1 architecture was evaluated"
    else:
        optimism.update(label=pick["label"], search_best_val_acc=pick.get("search_best_val_acc"),
                        test_mean=(pick.get("test_acc") or {}).get("mean"))
        if optimism["test_mean"] is None or optimism["search_best_val_acc"] is None:
            optimism["note"] = "the rank-1 architecture has no completed seed or no search score"
        else:
            optimism["value"] = float(optimism["search_best_val_acc"]) - float(optimism["test_mean"])
    out["optimism"] = optimism
    return out


def summarise(frame, candidates: list[dict], resnet_note: dict, *, run: str, seeds: list[int], epochs: int,
              complete: bool, wall_time: float | None, seed_rule: dict | None = None) -> dict:
    """The evaluation.json document (see the module docstring)."""
    done = frame[frame["status"] == "completed"]
    per_seed = {ident: dict(zip(group["seed"].astype(int), group["test_acc"].astype(float)))
                for ident, group in done.groupby("architecture_id")}
    resnet = next((c for c in candidates if c["label"] == resnet_note["label"]), None)
    reference = per_seed.get(resnet["architecture_id"], {}) if resnet else {}
    architectures = []
    for candidate in candidates:
        ident = candidate["architecture_id"]
        rows = frame[frame["architecture_id"] == ident]
        finished = rows[rows["status"] == "completed"]
        entry = {k: candidate.get(k) for k in ("architecture_id", "label", "role", "scheme_name", "source_trial_id",
                                                 "search_rank", "search_best_val_acc")}
        entry.update(
            n=int(len(finished)), seeds=sorted(int(s) for s in finished["seed"]),
            failed={str(k): int(v) for k, v in rows[rows["status"] != "completed"]["status"].value_counts().items()},
            test_acc=describe(finished["test_acc"].tolist()), test_loss=describe(finished["test_loss"].tolist()),
            best_val_acc=describe(finished["best_val_acc"].tolist()),
            params=_first(finished["params"]), flops=_first(finished["flops"]),
            train_time={"mean": describe(finished["train_time"].tolist())["mean"],
                        "total": float(finished["train_time"].sum()) if len(finished) else 0.0},
            vs_resnet=None if resnet is None or ident == resnet["architecture_id"]
            else paired_difference(per_seed.get(ident, {}), reference),
            spec=candidate["spec"])
        architectures.append(entry)
    return {"format": FORMAT, "run": run, "complete": complete, "seeds": list(seeds), "seed_rule": seed_rule,
            "epochs": epochs, "confidence": CONFIDENCE,
            "resnet": {**resnet_note, "architecture_id": None if resnet is None else resnet["architecture_id"]},
            "architectures": architectures, "search_prediction": search_prediction(architectures),
            "cost": {"train_time_total": float(frame["train_time"].fillna(0).sum()), "wall_time": wall_time}}


def format_summary(document: dict) -> str:
    """The printed summary: test accuracy mean ± std (n) and the difference against the plain ResNet."""
    lines = [f"Final evaluation of run {document['run']!r}: test accuracy over seeds {document['seeds']} "
             f"({document['epochs']} epochs each){'' if document['complete'] else ' -- INCOMPLETE'}",
             f"plain ResNet: {document['resnet']['label']} ({document['resnet']['source']})"]
    for entry in document["architectures"]:
        test, vs = entry["test_acc"], entry.get("vs_resnet")
        text = "no completed seed" if test["mean"] is None else \
            f"{test['mean']:.4f} ± {test['std'] or 0:.4f} (n={test['n']})"
        if vs and vs.get("ci_low") is not None:
            text += f"; vs ResNet {vs['mean']:+.4f} [{vs['ci_low']:+.4f}, {vs['ci_high']:+.4f}] 95% CI"
        lines.append(f"  {entry['label']:<20} {entry['scheme_name']:<24} {text}")
    from nas.leaderboard.analysis import evaluation_notes  # the same lines as the leaderboard's evaluation view

    lines.extend(evaluation_notes(document))
    return "\n".join(lines)


def _first(series):
    values = series.dropna()
    return None if values.empty else int(values.iloc[0])


def write_json(evaluation_root, document: dict) -> None:
    """``evaluation.json`` in ``evaluation_root`` (as ``write_csv``), atomically."""
    from nas.export.card import json_ready  # JSON-ready values (numpy scalars, NaN -> null)

    Location.from_uri(evaluation_root).write_json(JSON_FILE, json_ready(document))


__all__ = ["collect_rows", "write_csv", "describe", "paired_difference", "summarise", "write_json", "COLUMNS",
           "FORMAT", "CSV_FILE", "JSON_FILE", "format_summary", "search_prediction"]
