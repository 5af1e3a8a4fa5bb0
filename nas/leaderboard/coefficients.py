"""Which coefficients work: per family, each searched coefficient against the metric (Spearman and Pearson
correlations, bins), and the learned per-step coefficients read from a trial's weights with ``safetensors``'
numpy backend (no torch)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..checks import is_int, positive_int
from ..messages import quote
from ..paths import contained
from ..safe_load import read_json, read_weights
from .analysis import budget_label, check_columns, descending
from .loading import METRIC, trial_folder


def coefficient_columns(frame: pd.DataFrame) -> list[str]:
    """The ``coef_*`` columns that hold at least one number."""
    return [c for c in frame.columns if c.startswith("coef_")
            and pd.to_numeric(frame[c], errors="coerce").notna().any()]


def varying_coefficients(frame: pd.DataFrame, metric: str):
    """(family, coefficient, sub-frame of [value, metric, budget]) for every coefficient that varies in a
    family (``budget``: the epochs behind each value, ``nas.fidelity``; ``epochs_run`` without it)."""
    done = frame[frame["finished"] & frame[metric].notna()]
    for family, group in done.groupby("family", sort=True):
        budget = group["budget"] if "budget" in group.columns else group.get("epochs_run", np.nan)
        for column in coefficient_columns(group):
            pairs = pd.DataFrame({"value": pd.to_numeric(group[column], errors="coerce"),
                                  "metric": group[metric].astype(float)}).dropna()
            pairs["budget"] = budget
            if pairs["value"].nunique() >= 2:
                yield family, column, pairs


FEW_POINTS = 5  # below this many trials a correlation is marked as weak evidence


def coefficient_correlations(frame: pd.DataFrame, metric: str = METRIC) -> pd.DataFrame:
    """Per family and coefficient: n, Spearman's rank and Pearson's correlation with ``metric``, and a ``note``
    saying when they rest on fewer than ``FEW_POINTS`` trials (a correlation of 3 or 4 points takes few values and
    says little: it is shown, not hidden, and marked).

    Only finished trials, and only coefficients that take at least two values within the family.
    """
    check_columns(frame, [metric], "metric")
    rows = []
    for family, column, pairs in varying_coefficients(frame, metric):
        constant_metric = pairs["metric"].nunique() < 2  # a correlation with a constant is undefined
        rows.append({
            "family": family, "coefficient": column.removeprefix("coef_"), "n": len(pairs),
            "spearman": np.nan if constant_metric else pairs["value"].corr(pairs["metric"], method="spearman"),
            "pearson": np.nan if constant_metric else pairs["value"].corr(pairs["metric"], method="pearson"),
            "min": pairs["value"].min(), "max": pairs["value"].max(), "budget": budget_label(pairs["budget"]),
            "note": f"only {len(pairs)} trials: weak evidence" if len(pairs) < FEW_POINTS else "",
        })
    columns = ["family", "coefficient", "n", "spearman", "pearson", "min", "max", "budget", "note"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["family", "spearman"], key=lambda s: s.abs() if s.name == "spearman" else s,
                           ascending=[True, False], na_position="last", kind="stable").reset_index(drop=True)


def coefficient_bins(frame: pd.DataFrame, metric: str = METRIC, bins: int = 4) -> pd.DataFrame:
    """``metric`` per coefficient bin (equal-count bins; one bin per value when there are few values)."""
    check_columns(frame, [metric], "metric")
    positive_int(bins, "bins")
    rows = []
    for family, column, pairs in varying_coefficients(frame, metric):
        if pairs["value"].nunique() <= bins:
            groups = pairs.groupby("value", sort=True)
            labels = {value: f"{value:g}" for value in pairs["value"].unique()}
        else:
            binned = pd.qcut(pairs["value"], q=bins, duplicates="drop")
            groups = pairs.groupby(binned, sort=True, observed=True)
            labels = {interval: f"[{interval.left:.4g}, {interval.right:.4g}]" for interval in binned.cat.categories}
        for key, group in groups:
            rows.append({"family": family, "coefficient": column.removeprefix("coef_"), "bin": labels[key],
                         "n": len(group), "mean": group["metric"].mean(), "median": group["metric"].median(),
                         "best": group["metric"].max() if descending(metric) else group["metric"].min(),
                         "budget": budget_label(group["budget"])})
    return pd.DataFrame(rows, columns=["family", "coefficient", "bin", "n", "mean", "median", "best", "budget"])


# Learned coefficients are parameters named stages.<stage>.learned_<name>.<j> (set by each family's init_stage).
_LEARNED_KEY = re.compile(r"^stages\.(\d+)\.learned_(\w+?)\.(\d+)$")


def read_learned_coefficients(trial_dir) -> pd.DataFrame:
    """Learned per-step coefficients of one trial, read from its weights without torch.

    One row per learned tensor: stage, index within the stage, global ``depth`` (scheme step number; the
    learned tensors belong to the last steps of each stage, e.g. LM-ResNet steps 1…S−1), name, mean, min, max
    (min = max = value for a scalar; per-channel values give the spread).
    """
    trial_dir = Path(trial_dir)
    spec = read_json(contained(trial_dir, "spec.json", f"{trial_dir}: spec.json"))
    steps = spec.get("steps_per_stage", 1)
    if not is_int(steps) or steps < 1:
        raise ValueError(f"{trial_dir / 'spec.json'}: steps_per_stage must be a positive integer, got {quote(steps)}")
    steps_per_stage = steps
    weights = read_weights(contained(trial_dir, "weights.safetensors", f"{trial_dir}: weights.safetensors"),
                           framework="numpy")
    rows = []
    for key, tensor in weights.items():
        match = _LEARNED_KEY.match(key)
        if match:
            value = np.asarray(tensor, dtype=float)
            rows.append({"stage": int(match[1]), "name": match[2], "index": int(match[3]),
                         "mean": float(value.mean()), "min": float(value.min()), "max": float(value.max())})
    columns = ["stage", "name", "index", "depth", "mean", "min", "max"]
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows)
    owned = out.groupby(["stage", "name"])["index"].transform("max") + 1
    out["depth"] = out["stage"] * steps_per_stage + (steps_per_stage - owned) + out["index"]
    stage_steps = spec.get("stage_steps")  # converted torchvision networks: stages of different depths
    if isinstance(stage_steps, list) and all(isinstance(n, int) and not isinstance(n, bool) for n in stage_steps) \
            and out["stage"].max() < len(stage_steps):
        first = np.concatenate([[0], np.cumsum(stage_steps)[:-1]])
        steps = np.asarray(stage_steps)[out["stage"]]
        out["depth"] = first[out["stage"]] + (steps - owned) + out["index"]
    return out.sort_values(["name", "depth"]).reset_index(drop=True)[columns]


def learned_coefficients(frame: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Learned coefficients against depth for the first ``top`` finished rows of ``frame`` that have any."""
    parts = []
    for _, row in frame[frame["finished"]].iterrows():
        if len(parts) >= top:
            break
        folder = trial_folder(row)
        if not (folder / "weights.safetensors").is_file() or not (folder / "spec.json").is_file():
            continue
        values = read_learned_coefficients(folder)
        if len(values):
            parts.append(values.assign(run=row["run"], trial_id=row["trial_id"], scheme_name=row["scheme_name"],
                                       **{METRIC: row[METRIC]}))
    if not parts:
        return pd.DataFrame(columns=["run", "trial_id", "scheme_name", METRIC, "stage", "name", "index", "depth",
                                     "mean", "min", "max"])
    return pd.concat(parts, ignore_index=True)


__all__ = ["coefficient_columns", "varying_coefficients", "coefficient_correlations", "coefficient_bins",
           "read_learned_coefficients", "learned_coefficients"]
