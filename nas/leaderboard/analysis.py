"""Views of the trials frame (``nas.leaderboard.load``): duplicates left out, finished trials, filters and order,
seeds aggregated per architecture, the family summary, the Pareto front, and the final evaluation's view."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..messages import printable_tree
from ..safe_load import read_json
from ..vocabulary import DUPLICATE_STATUS, maximised
from ..vocabulary import parse_objectives as _parse_objectives
from ..vocabulary import pareto_front as _pareto_front
from .loading import METRIC, is_plain_resnet


def without_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows that are not duplicates (they carry another trial's result) and how many were left out."""
    is_duplicate = frame["status"] == DUPLICATE_STATUS
    out = frame[~is_duplicate]
    out.attrs = dict(frame.attrs)
    return out, int(is_duplicate.sum())


def finished_trials(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["finished"]]


def check_runs_have_finished_trials(frame: pd.DataFrame) -> None:
    """A ``ValueError`` naming the first run without a single finished trial (nothing to rank or export)."""
    run_dirs = dict.fromkeys([*frame.attrs.get("run_dirs", []), *frame["run_dir"].unique()])
    for run_dir in run_dirs:
        group = frame[frame["run_dir"] == run_dir]
        if not group["finished"].any():
            counts = group["status"].value_counts()
            statuses = ", ".join(f"{status} {count}" for status, count in counts.items()) or "none yet"
            raise ValueError(f"run {run_dir}: no finished trial (completed or stopped); trials: {statuses}")
    if frame.empty:
        raise ValueError("runs: no trials at all")


def filter_family(frame: pd.DataFrame, family: str | Sequence[str] | None) -> pd.DataFrame:
    """Rows of the given family (or families); an unknown family is a ``ValueError`` listing the known."""
    if family is None:
        return frame
    wanted = [family] if isinstance(family, str) else list(family)
    known = sorted(frame["family"].dropna().unique())
    unknown = [f for f in wanted if f not in known]
    if unknown:
        raise ValueError(f"family: no trials of family {', '.join(map(repr, unknown))}; "
                         f"families in these runs: {', '.join(known) or 'none'}")
    return frame[frame["family"].isin(wanted)]


def check_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: unknown column {', '.join(map(repr, missing))}; "
                         f"columns: {', '.join(frame.columns)}")


def descending(column: str) -> bool:
    return maximised(column)


def sort_trials(frame: pd.DataFrame, column: str = METRIC, ascending: bool | None = None) -> pd.DataFrame:
    """Sorted by ``column`` in its natural direction (accuracies descending, costs ascending), NaN last."""
    check_columns(frame, [column], "sort")
    if ascending is None:
        ascending = not descending(column)
    keys = [column] + ([METRIC] if column != METRIC else [])
    return frame.sort_values(keys, ascending=[ascending] + [False] * (len(keys) - 1), na_position="last",
                             kind="stable")


def aggregate_seeds(frame: pd.DataFrame, metric: str = METRIC) -> pd.DataFrame:
    """One row per architecture (same run and ``architecture_id``) when some architecture was trained with
    several seeds (``search: {duplicates: reseed}``): the first row of each in ``frame``'s order (sort it
    first: the best seed) with ``seeds`` (n), ``<metric>_mean`` and ``<metric>_std`` (sample standard
    deviation, ddof 1; empty for one seed) over the seeds. ``frame`` unchanged when every architecture has one
    trial."""
    if "architecture_id" not in frame.columns or frame.empty:
        return frame
    keys = frame["run_dir"].astype(str) + "/" + frame["architecture_id"].astype("object").where(
        frame["architecture_id"].notna(), "trial:" + frame["trial_id"].astype(str)).astype(str)
    values = frame[metric].astype(float).groupby(keys)
    if values.size().max() < 2:
        return frame
    out = frame.assign(seeds=keys.map(values.count()).astype(int), **{
        f"{metric}_mean": keys.map(values.mean()), f"{metric}_std": keys.map(values.std(ddof=1))})
    out = out[~keys.duplicated()]
    out.attrs = dict(frame.attrs)
    return out


def paired_with_resnet(aggregated: pd.DataFrame, frame: pd.DataFrame, metric: str = METRIC) -> pd.DataFrame:
    """``aggregated`` (one row per architecture) with the paired difference of its full-budget seeds against the
    run's plain ResNet on the same seeds (``nas.statistics.paired_difference``): ``vs_resnet_paired``, its 95%
    interval ``vs_resnet_ci_low`` / ``vs_resnet_ci_high`` and ``shared_seeds``; and ``fully_raced`` (the
    architecture has every seed of a raced run's list). Unchanged when no plain ResNet has two seeds."""
    from ..statistics import paired_difference

    if "seed" not in frame.columns or "architecture_id" not in frame.columns:
        return aggregated
    full = frame[(frame["status"] == "completed") & frame[metric].notna() & frame["seed"].notna()]
    resnet = {run: dict(zip(group["seed"].astype(int), group[metric].astype(float)))
              for run, group in full[is_plain_resnet(full)].groupby("run_dir")}
    if not any(len(seeds) > 1 for seeds in resnet.values()):
        return aggregated
    per_seed = {key: dict(zip(group["seed"].astype(int), group[metric].astype(float)))
                for key, group in full.groupby(["run_dir", "architecture_id"])}
    rows = []
    for _, row in aggregated.iterrows():
        ours = per_seed.get((row["run_dir"], row.get("architecture_id")), {})
        difference = paired_difference(ours, resnet.get(row["run_dir"], {}))
        rows.append({"vs_resnet_paired": difference["mean"], "vs_resnet_ci_low": difference["ci_low"],
                     "vs_resnet_ci_high": difference["ci_high"], "shared_seeds": difference["n"]})
    extra = pd.DataFrame(rows, index=aggregated.index, dtype="float64")
    out = pd.concat([aggregated, extra], axis=1)
    out.attrs = dict(aggregated.attrs)
    return out


def raced_order(aggregated: pd.DataFrame, metric: str = METRIC) -> pd.DataFrame:
    """Architectures of raced runs with every seed of the race's list first (``fully_raced``), then by the mean
    over their seeds (``<metric>_mean``, or ``metric``): the ranking racing produced. Unchanged for runs
    that were not raced."""
    if "race_seeds" not in aggregated.columns or not aggregated["race_seeds"].notna().any():
        return aggregated
    seeds = aggregated["seeds"] if "seeds" in aggregated.columns else pd.Series(1, index=aggregated.index)
    mean = f"{metric}_mean" if f"{metric}_mean" in aggregated.columns else metric
    out = aggregated.assign(fully_raced=(seeds >= aggregated["race_seeds"]).astype(bool))
    out = out.sort_values(["fully_raced", mean], ascending=[False, not descending(metric)], kind="stable",
                          na_position="last")
    out.attrs = dict(aggregated.attrs)
    return out


def one_row_per_architecture(frame: pd.DataFrame, metric: str = METRIC) -> tuple[pd.DataFrame, list[str]]:
    """(rows, notes) of the leaderboard's trials view of a sorted frame: when some architecture has several
    seeds, one row per architecture (``aggregate_seeds``: its best seed, the mean and std over its seeds) with the
    paired difference against the plain ResNet and, in a raced run, the fully raced architectures first
    (``raced_order``); ``frame`` unchanged otherwise. ``notes`` say what was done (printed on stderr)."""
    aggregated = aggregate_seeds(frame, metric)
    if len(aggregated) == len(frame):
        return frame, []
    notes = [f"{len(frame)} trials of {len(aggregated)} architectures: one row per architecture, its best seed, "
             "with the mean and standard deviation over its seeds"]
    aggregated = raced_order(paired_with_resnet(aggregated, frame, metric), metric)
    if "fully_raced" in aggregated.columns:
        notes.append("raced run: architectures trained on every seed of the race's list (fully_raced) rank first, "
                     "then by the mean over their seeds; vs_resnet_paired is the paired difference against the "
                     "plain ResNet on the same seeds, with its 95% interval")
    return aggregated, notes


def budget_label(values) -> str:
    """The training budget(s) behind a group of rows (``nas.fidelity``'s ``budget`` column): ``15`` or ``4-15``."""
    values = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    if values.empty:
        return ""
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}-{high}"


def family_summary(frame: pd.DataFrame, metric: str = METRIC) -> pd.DataFrame:
    """Per family: trials, finished, best / median / mean ``metric`` of the finished ones, the best trial.

    Baselines form their own rows (``family`` suffixed `` (baseline)``) so they never lift a family.
    """
    check_columns(frame, [metric], "metric")
    rows = []
    labels = frame["family"].where(~frame["baseline"].astype(bool), frame["family"] + " (baseline)")
    for label, group in frame.groupby(labels, sort=True):
        done = group[group["finished"] & group[metric].notna()]
        best = None
        if len(done):
            best = done.loc[done[metric].idxmax() if descending(metric) else done[metric].idxmin()]
        rows.append({
            "family": label,
            "trials": len(group),
            "finished": int(group["finished"].sum()),
            "best": np.nan if best is None else best[metric],
            "median": done[metric].median() if len(done) else np.nan,
            "mean": done[metric].mean() if len(done) else np.nan,
            "best_vs_resnet": np.nan if best is None else best["vs_resnet"],
            "best_trial": None if best is None else best["trial_id"],
            "best_scheme": None if best is None else best["scheme_name"],
            "best_run": None if best is None else best["run"],
            **({"budget": budget_label(done["budget"])} if "budget" in frame.columns else {}),
        })
    out = pd.DataFrame(rows)
    return out.sort_values("best", ascending=not descending(metric), na_position="last", kind="stable") \
        .reset_index(drop=True) if len(out) else out


def parse_objectives(text: str | Sequence[str]) -> list[tuple[str, bool]]:
    """``"val_acc,params"`` → [("val_acc", maximise), ("params", minimise)]; ``col:max`` / ``col:min`` force
    a direction (``nas.vocabulary.parse_objectives``; a Pareto front needs two)."""
    return _parse_objectives(text, "pareto", at_least=2)


def pareto_front(frame: pd.DataFrame, objectives="best_val_acc,params") -> pd.DataFrame:
    """The finished, feasible trials on the Pareto front of ``objectives``, sorted by the first objective
    (``nas.vocabulary.pareto_front``)."""
    objectives = parse_objectives(objectives)
    check_columns(frame, [name for name, _ in objectives], "pareto")
    return _pareto_front(frame, objectives)


EVALUATION_FILE = "evaluation.json"  # written by nas evaluate (nas.evaluation.summary)


def evaluation_view(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per architecture evaluated by ``nas evaluate`` in the runs of ``frame``: test accuracy mean,
    std, min, max over ``n`` seeds, the paired difference against the plain ResNet (``vs_resnet``) with
    its 95% interval, the search's score (``search_best_val_acc``) and ``optimism`` = search score − test mean
    (searched architectures; fractions 0-1); best test mean first. ``attrs["notes"]``: per run, the seed
    rule, the Spearman correlation between search score and test mean and the rank-1 pick's optimism
    (``nas.evaluation.summary.search_prediction``; runs evaluated before these were recorded say so). A
    ``ValueError`` when no run has an ``evaluation.json``."""
    rows, notes = [], []
    run_dirs = list(dict.fromkeys([*frame.attrs.get("run_dirs", []), *frame["run_dir"].unique()]))
    for run_dir in run_dirs:
        path = Path(run_dir) / EVALUATION_FILE
        if not path.is_file():
            continue
        document = printable_tree(read_json(path))  # shown in terminals: control characters escaped
        notes.extend(_prediction_notes(document, Path(run_dir).name))
        for entry in document.get("architectures") or []:
            test, vs = entry.get("test_acc") or {}, entry.get("vs_resnet") or {}
            search = entry.get("search_best_val_acc")
            optimism = None if entry.get("role") != "searched" or search is None or test.get("mean") is None \
                else search - test["mean"]
            rows.append({"run": document.get("run", Path(run_dir).name), "label": entry.get("label"),
                         "scheme_name": entry.get("scheme_name"), "role": entry.get("role"),
                         "search_rank": entry.get("search_rank"), "n": entry.get("n"),
                         "test_mean": test.get("mean"), "test_std": test.get("std"), "test_min": test.get("min"),
                         "test_max": test.get("max"), "vs_resnet": vs.get("mean"),
                         "vs_resnet_ci_low": vs.get("ci_low"), "vs_resnet_ci_high": vs.get("ci_high"),
                         "search_best_val_acc": search, "optimism": optimism,
                         "params": entry.get("params"), "flops": entry.get("flops"),
                         "train_time": (entry.get("train_time") or {}).get("mean"),
                         "architecture_id": entry.get("architecture_id"), "complete": document.get("complete")})
    if not rows:
        raise ValueError("--view evaluation: no run has an evaluation.json; run nas evaluate RUN first")
    out = pd.DataFrame(rows)
    for column in ("test_mean", "test_std", "test_min", "test_max", "vs_resnet", "vs_resnet_ci_low",
                   "vs_resnet_ci_high", "search_best_val_acc", "optimism", "train_time"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    out = out.sort_values("test_mean", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    out.attrs["notes"] = notes
    return out


# evaluation.json files written before nas evaluate recorded its seed rule used seeds 0..N-1
LEGACY_SEEDS = "seeds 0..N-1 (evaluated before fresh seeds: seed 0 may be the search's own training run)"


def evaluation_notes(document: dict) -> list[str]:
    """An ``evaluation.json`` document's seed rule, Spearman correlation between the search's score and the
    test mean, and the rank-1 pick's optimism, as lines of text (the evaluation view's notes and
    ``nas evaluate``'s printed summary)."""
    rule = document.get("seed_rule")
    lines = [f"seeds: {rule.get('description') if isinstance(rule, dict) else LEGACY_SEEDS}"]
    prediction = document.get("search_prediction")
    if not isinstance(prediction, dict):
        return lines + ["search vs evaluation: not recorded (evaluated before nas evaluate reported the Spearman "
                        "correlation and the optimism)"]
    rho = prediction.get("spearman")
    text = (f"search vs evaluation: Spearman rho {'n/a' if rho is None else f'{rho:+.2f}'} between search "
            f"val. acc. and test mean over {prediction.get('n')} searched architectures")
    if prediction.get("note"):
        text += f" ({prediction['note']})"
    lines.append(text)
    optimism = prediction.get("optimism") or {}
    if optimism.get("value") is None:
        lines.append(f"optimism of the search's pick: n/a ({optimism.get('note')})")
    else:
        lines.append(f"optimism of the search's pick ({optimism['label']}): search val. acc. "
                     f"{optimism['search_best_val_acc']:.4f} - test mean {optimism['test_mean']:.4f} = "
                     f"{optimism['value']:+.4f} ({100 * optimism['value']:+.2f} accuracy points)")
    return lines


def _prediction_notes(document: dict, name: str) -> list[str]:
    run = document.get("run", name)
    return [f"run {run}: {line}" for line in evaluation_notes(document)]


__all__ = ["without_duplicates", "finished_trials", "check_runs_have_finished_trials", "filter_family", "check_columns",
           "descending", "sort_trials", "aggregate_seeds", "budget_label", "family_summary", "parse_objectives",
           "pareto_front", "evaluation_view", "evaluation_notes", "EVALUATION_FILE"]
