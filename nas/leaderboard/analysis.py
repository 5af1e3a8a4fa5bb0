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
from .loading import METRIC


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
    std, min, max over ``n`` seeds and the paired difference against the plain ResNet (``vs_resnet``) with
    its 95% interval; best test mean first. A ``ValueError`` when no run has an ``evaluation.json``."""
    rows = []
    run_dirs = list(dict.fromkeys([*frame.attrs.get("run_dirs", []), *frame["run_dir"].unique()]))
    for run_dir in run_dirs:
        path = Path(run_dir) / EVALUATION_FILE
        if not path.is_file():
            continue
        document = printable_tree(read_json(path))  # shown in terminals: control characters escaped
        for entry in document.get("architectures") or []:
            test, vs = entry.get("test_acc") or {}, entry.get("vs_resnet") or {}
            rows.append({"run": document.get("run", Path(run_dir).name), "label": entry.get("label"),
                         "scheme_name": entry.get("scheme_name"), "role": entry.get("role"),
                         "search_rank": entry.get("search_rank"), "n": entry.get("n"),
                         "test_mean": test.get("mean"), "test_std": test.get("std"), "test_min": test.get("min"),
                         "test_max": test.get("max"), "vs_resnet": vs.get("mean"),
                         "vs_resnet_ci_low": vs.get("ci_low"), "vs_resnet_ci_high": vs.get("ci_high"),
                         "params": entry.get("params"), "flops": entry.get("flops"),
                         "train_time": (entry.get("train_time") or {}).get("mean"),
                         "architecture_id": entry.get("architecture_id"), "complete": document.get("complete")})
    if not rows:
        raise ValueError("--view evaluation: no run has an evaluation.json; run nas evaluate RUN first")
    out = pd.DataFrame(rows)
    for column in ("test_mean", "test_std", "test_min", "test_max", "vs_resnet", "vs_resnet_ci_low",
                   "vs_resnet_ci_high", "train_time"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out.sort_values("test_mean", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


__all__ = ["without_duplicates", "finished_trials", "check_runs_have_finished_trials", "filter_family", "check_columns",
           "descending", "sort_trials", "aggregate_seeds", "budget_label", "family_summary", "parse_objectives",
           "pareto_front", "evaluation_view", "EVALUATION_FILE"]
