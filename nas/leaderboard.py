"""Leaderboards over search runs: which schemes and which coefficients work (pandas only, no torch).

A run folder (``results/<name>/``, written by ``nas.search``) holds ``trials.csv`` with one row per trial
(scheme family, one ``coef_*`` column per coefficient, noise schedule, architecture, status, metrics,
scheme diagnostics) and ``trials/<trial_id>/`` with the trial's ``spec.json`` and best weights.

``load(runs)`` reads one or many runs into one DataFrame and adds, per row:

- ``run_dir``    absolute path of the run folder (trial folders are relative to it);
- ``finished``   status is ``completed`` or ``stopped`` (ASHA): the trial has best-validation weights;
- ``vs_resnet``  ``best_val_acc`` minus that of the plain ResNet baseline of the same run (``euler``,
                 ``baseline=True``, no noise) that ran the full budget (status ``completed``): > 0 reads
                 "better than ResNet"; empty when the run has no such trial.

Rows with status ``duplicate`` (``duplicate_of``: a trial that was not trained again because an earlier trial
of the run trained the same network with the same configuration and seed) carry another trial's result:
``without_duplicates`` leaves them out of every view and counts them.

The rest are views of that frame: ``family_summary``, ``pareto_front``, ``coefficient_correlations``
(Spearman and Pearson), ``coefficient_bins``, ``learned_coefficients`` (read from the weights with
``safetensors``' numpy backend, so this module never imports torch) and ``write_plots``.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .atomic import atomic_path, staged_files
from .checks import is_int, positive_int
from .messages import quote
from .paths import contained
from .safe_load import read_json, read_weights
from .storage import Location, is_uri
from .vocabulary import DUPLICATE_STATUS, LOWER_IS_BETTER, SCORED_STATUSES, STATUSES, maximised, pareto_mask
from .vocabulary import parse_objectives as _parse_objectives
from .vocabulary import pareto_front as _pareto_front

FINISHED_STATUSES = SCORED_STATUSES  # the trials with best-validation weights
METRIC = "best_val_acc"  # the ranking metric: accuracy of the best-validation epoch (the exported weights)
RESNET_SCHEME = "euler"
DEFAULT_RESULTS_ROOT = Path("results")

# Compact column set of the printed table; files (csv, parquet) get every column.
TABLE_COLUMNS = ("run", "trial_id", "family", "scheme_name", "noise_kind", "status", "best_val_acc", "vs_resnet",
                 "val_acc", "params", "flops", "order", "zero_stable", "epochs_run", "budget")
FORMATS = ("table", "csv", "markdown", "parquet")
VIEWS = ("trials", "families", "coefficients", "bins", "evaluation")


# ------------------------------------------------------------------------------------------- loading
def resolve_run(run, results_root=DEFAULT_RESULTS_ROOT) -> Path:
    """The run folder of ``run``: a path to it, or a run name under ``results_root``.

    Either may be a storage URI (``s3://bucket/prefix/run``, ``nas.storage``): the run's records are then
    copied to a local temporary folder (named like the run, removed when the process exits) and that
    folder is returned, so every reader works on the same files as for a local run.
    """
    if is_uri(str(run)):
        return _local_copy(Location.from_uri(str(run), f"run {str(run)!r}"), run)
    if is_uri(str(results_root)) and not Path(str(run)).is_absolute():
        from .paths import check_run_name

        check_run_name(str(run), f"run {str(run)!r}")
        return _local_copy(Location.from_uri(str(results_root), "--results-root") / str(run), run)
    candidates = [Path(run)]
    if not Path(run).is_absolute():
        candidates.append(Path(results_root) / run)
    for candidate in candidates:
        if candidate.is_dir():
            if not (candidate / "trials.csv").is_file():
                raise ValueError(f"run {str(run)!r}: {candidate} is not a run folder (no trials.csv)")
            return candidate.resolve()
    looked = " or ".join(str(c) for c in dict.fromkeys(candidates))
    raise ValueError(f"run {str(run)!r}: no such run folder (looked for {looked})")


# Files of a run in storage that readers never need: Ray's experiment (pickles), resumable training states,
# the study and the log.
_NOT_FETCHED = ("tune/", "optuna.db", "search.log")
_fetched: dict[str, Path] = {}


def _local_copy(location, run) -> Path:
    """A local copy of the run folder at ``location`` (once per process and URI); see ``resolve_run``."""
    import atexit
    import shutil
    import tempfile

    if location.uri in _fetched:
        return _fetched[location.uri]
    try:
        if not location.is_file("trials.csv"):
            what = "is not a run folder (no trials.csv)" if location.exists() else "does not exist"
            raise ValueError(f"run {str(run)!r}: {location} {what}")
        root = Path(tempfile.mkdtemp(prefix="nas-run-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        folder = location.download(root / location.name, skip=lambda relative: relative.startswith(_NOT_FETCHED)
                                   or relative.endswith(".resume_state.pt"))
    except OSError as exc:
        raise ValueError(f"run {str(run)!r}: cannot read {location}: {exc}") from None
    _fetched[location.uri] = folder.resolve()
    return _fetched[location.uri]


def read_search_config(run_dir) -> dict:
    """The resolved search configuration of a run (``search.json``), ``{}`` when the run has none."""
    path = Path(run_dir) / "search.json"
    if not path.is_file():
        return {}
    return read_json(path)


def _as_bool(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no", ""):
            return False
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return pd.NA
    if isinstance(value, (int, float, np.integer, np.floating)):
        return bool(value)
    raise ValueError(f"expected a boolean, got {value!r}")


def _read_trials(run_dir: Path) -> pd.DataFrame:
    path = run_dir / "trials.csv"
    try:
        frame = pd.read_csv(path, dtype={"trial_id": str, "trial_dir": str, "scheme": str})
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read trials table ({exc})") from None
    for column in ("trial_id", "status"):
        if len(frame) and column not in frame.columns:
            raise ValueError(f"{path}: missing column {column!r}")
    _check_numbers(frame, path)
    return frame


# Columns of trials.csv that hold numbers (results/README.md); coef_* and constraint_* columns too.
NUMERIC_COLUMNS = ("val_acc", "val_loss", "best_val_acc", "params", "flops", "epochs_run", "wall_time",
                   "steps_per_stage", "h", "noise_param", "order", "error_constant", "error_norm",
                   "real_stability_interval", "seed", "best_val_loss", "best_epoch")


def _check_numbers(frame: pd.DataFrame, path: Path) -> None:
    """Numeric columns converted to numbers; a cell that is not one (empty cells are) is a ``ValueError``."""
    for column in frame.columns:
        if column not in NUMERIC_COLUMNS and not column.startswith(("coef_", "constraint_")):
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = bad.to_numpy().argmax()
            trial = frame["trial_id"].iloc[row] if "trial_id" in frame.columns else f"row {row + 1}"
            raise ValueError(f"{path}: column {column}, trial {trial}: {quote(frame[column].iloc[row])} is not a "
                             "number")
        frame[column] = values


def load(runs, *, results_root=DEFAULT_RESULTS_ROOT) -> pd.DataFrame:
    """Every trial of the given runs (names under ``results_root`` or folders) as one DataFrame.

    A run may be given once only; a missing folder or one without ``trials.csv`` is a ``ValueError``.
    """
    if isinstance(runs, (str, Path)):
        runs = [runs]
    runs = list(runs)
    if not runs:
        raise ValueError("runs: give at least one run folder or name")
    folders = [resolve_run(run, results_root) for run in runs]
    seen = set()
    for run, folder in zip(runs, folders):
        if folder in seen:
            raise ValueError(f"run {str(run)!r}: given twice ({folder})")
        seen.add(folder)
    frames = []
    for folder in folders:
        frame = _read_trials(folder)
        if "run" not in frame.columns:
            frame.insert(0, "run", folder.name)
        frame["run_dir"] = str(folder)
        frames.append(frame)
    frame = _normalise(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])
    frame.attrs["run_dirs"] = [str(folder) for folder in folders]  # runs without a single row stay known
    return frame


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in ("status", "family", "scheme_name", "run", "trial_id"):
        if column not in frame.columns:
            frame[column] = pd.Series(dtype="str")
        frame[column] = frame[column].astype("str")
    for column in ("baseline", "feasible", "zero_stable", "share_stage_weights"):
        if column in frame.columns:
            frame[column] = frame[column].map(_as_bool).astype("boolean")
    if "baseline" not in frame.columns:
        frame["baseline"] = pd.array([False] * len(frame), dtype="boolean")
    frame["baseline"] = frame["baseline"].fillna(False)
    if METRIC not in frame.columns:
        frame[METRIC] = np.nan
    frame["finished"] = frame["status"].isin(FINISHED_STATUSES)
    frame["vs_resnet"] = frame[METRIC] - _resnet_reference(frame)
    return frame


def _resnet_reference(frame: pd.DataFrame) -> pd.Series:
    """Per row, ``best_val_acc`` of the plain ResNet baseline of the same run that completed its full budget
    (NaN if none; the best one if a run somehow has several)."""
    is_resnet = (frame["baseline"].astype(bool) & (frame["scheme_name"] == RESNET_SCHEME)
                 & (frame["status"] == "completed"))
    if "noise_kind" in frame.columns:
        is_resnet &= frame["noise_kind"].isna() | (frame["noise_kind"].astype(str) == "none")
    best = frame[is_resnet].groupby("run_dir")[METRIC].max()
    return frame["run_dir"].map(best).astype("float64")


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


# ------------------------------------------------------------------------------------ filters, order
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


# -------------------------------------------------------------------------------------- summaries
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


# ---------------------------------------------------------------------------- coefficient analysis
def coefficient_columns(frame: pd.DataFrame) -> list[str]:
    """The ``coef_*`` columns that hold at least one number."""
    return [c for c in frame.columns if c.startswith("coef_")
            and pd.to_numeric(frame[c], errors="coerce").notna().any()]


def _varying(frame: pd.DataFrame, metric: str):
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


def coefficient_correlations(frame: pd.DataFrame, metric: str = METRIC) -> pd.DataFrame:
    """Per family and coefficient: n, Spearman's rank and Pearson's correlation with ``metric``.

    Only finished trials, and only coefficients that take at least two values within the family.
    """
    check_columns(frame, [metric], "metric")
    rows = []
    for family, column, pairs in _varying(frame, metric):
        constant_metric = pairs["metric"].nunique() < 2  # a correlation with a constant is undefined
        rows.append({
            "family": family, "coefficient": column.removeprefix("coef_"), "n": len(pairs),
            "spearman": np.nan if constant_metric else pairs["value"].corr(pairs["metric"], method="spearman"),
            "pearson": np.nan if constant_metric else pairs["value"].corr(pairs["metric"], method="pearson"),
            "min": pairs["value"].min(), "max": pairs["value"].max(), "budget": budget_label(pairs["budget"]),
        })
    columns = ["family", "coefficient", "n", "spearman", "pearson", "min", "max", "budget"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["family", "spearman"], key=lambda s: s.abs() if s.name == "spearman" else s,
                           ascending=[True, False], na_position="last", kind="stable").reset_index(drop=True)


def coefficient_bins(frame: pd.DataFrame, metric: str = METRIC, bins: int = 4) -> pd.DataFrame:
    """``metric`` per coefficient bin (equal-count bins; one bin per value when there are few values)."""
    check_columns(frame, [metric], "metric")
    positive_int(bins, "bins")
    rows = []
    for family, column, pairs in _varying(frame, metric):
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


def trial_folder(row) -> Path:
    """The trial's folder: ``trial_dir`` (or ``trials/<trial_id>``) inside its run folder, never outside it
    (``nas.paths.contained``: no absolute path, ``..`` or symbolic link leads elsewhere)."""
    trial_dir = row.get("trial_dir") if hasattr(row, "get") else None
    if trial_dir is None or (isinstance(trial_dir, float) and math.isnan(trial_dir)):
        trial_dir = Path("trials") / str(row["trial_id"])
    return contained(row["run_dir"], trial_dir, f"{Path(row['run_dir']) / 'trials.csv'}: trial {row['trial_id']}: "
                                                "trial_dir")


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


# --------------------------------------------------------------------------------------------- output
def render(frame: pd.DataFrame, fmt: str = "table", *, float_digits: int = 4) -> str:
    """``frame`` as text: ``table`` (aligned plain text), ``csv`` or ``markdown`` (GitHub pipe table)."""
    if fmt == "csv":
        return frame.to_csv(index=False)
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            signed = column.startswith("vs_") or column.endswith("vs_resnet") or column in ("spearman", "pearson")
            pattern = f"{{:+.{float_digits}f}}" if signed else f"{{:.{float_digits}g}}"
            if not signed and column.endswith(("acc", "best", "median", "mean")):
                pattern = f"{{:.{float_digits}f}}"
            shown[column] = shown[column].map(lambda v, p=pattern: "" if pd.isna(v) else p.format(v))
    shown = shown.astype(object).where(shown.notna(), "")
    if fmt == "markdown":
        # numbers are formatted above; tabulate must not re-parse "+0.0100" back into 0.01
        return shown.to_markdown(index=False, disable_numparse=True) + "\n"
    if fmt == "table":
        return shown.to_string(index=False) + "\n"
    raise ValueError(f"format: must be one of {', '.join(FORMATS)}, got {fmt!r}")


def write_table(frame: pd.DataFrame, path, fmt: str) -> Path:
    """Write ``frame`` atomically as ``fmt`` (parquet keeps dtypes; text formats go through ``render``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    with atomic_path(path) as temporary:
        if fmt == "parquet":
            frame.reset_index(drop=True).to_parquet(temporary, index=False)
        else:
            temporary.write_text(render(frame, fmt), encoding="utf-8")
    return Path(path)


def display_frame(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The printed view: a rank column, baselines marked in ``scheme_name``, the chosen columns."""
    if columns is None:  # the default set, minus what these runs do not record
        columns = [c for c in TABLE_COLUMNS if c in frame.columns]
    check_columns(frame, columns, "columns")
    out = frame[list(columns)].copy()
    if "scheme_name" in out.columns:
        marked = frame["baseline"].astype(bool).to_numpy()
        out["scheme_name"] = [f"{name} [baseline]" if is_baseline else name
                              for name, is_baseline in zip(out["scheme_name"].astype(str), marked)]
    out.insert(0, "rank", range(1, len(out) + 1))
    return out.reset_index(drop=True)


# ------------------------------------------------------------------------------- final evaluation
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
        document = read_json(path)
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


# ---------------------------------------------------------------------------------------------- plots
def _figure(width=6.4, height=4.8):
    # The object-oriented API with an Agg canvas: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path) -> Path:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110)
    return Path(path)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "unnamed"


def plot_coefficients(frame: pd.DataFrame, folder, metric: str = METRIC) -> list[Path]:
    """One PNG per family: ``metric`` against each varying coefficient (baselines as stars, ResNet line)."""
    varying: dict[str, list] = {}
    for family, column, pairs in _varying(frame, metric):
        varying.setdefault(family, []).append((column, pairs))
    paths = []
    resnet = frame[metric] - frame["vs_resnet"]
    resnet_level = resnet.dropna().max() if resnet.notna().any() else None
    for family, panels in varying.items():
        columns = min(3, len(panels))
        rows = math.ceil(len(panels) / columns)
        figure = _figure(max(5.5, 4.0 * columns), 3.4 * rows)
        axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
        group = frame[(frame["family"] == family) & frame["finished"]]
        for ax, (column, pairs) in zip(axes, panels):
            is_baseline = group.loc[pairs.index, "baseline"].astype(bool)
            # stopped early (by ASHA or the time budget): hollow markers, their values are from fewer epochs
            stopped = (group.loc[pairs.index, "status"] != "completed") & ~is_baseline
            full = ~is_baseline & ~stopped
            ax.scatter(pairs["value"][full], pairs["metric"][full], s=18, alpha=0.8, color="tab:blue",
                       label="searched")
            if stopped.any():
                ax.scatter(pairs["value"][stopped], pairs["metric"][stopped], s=18, alpha=0.8, facecolors="none",
                           edgecolors="tab:blue", label="searched, stopped early")
            if is_baseline.any():
                ax.scatter(pairs["value"][is_baseline], pairs["metric"][is_baseline], marker="*", s=120,
                           color="tab:red", label="baseline")
            if resnet_level is not None:
                ax.axhline(resnet_level, color="tab:gray", linestyle="--", linewidth=1, label="ResNet")
            ax.set_xlabel(column.removeprefix("coef_"))
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        axes[0].legend(fontsize="small")
        figure.suptitle(f"{family}: {metric} against each coefficient")
        paths.append(_save(figure, Path(folder) / f"coefficients_{_safe_name(family)}.png"))
    return paths


def plot_pareto(frame: pd.DataFrame, path, objectives="best_val_acc,params") -> Path:
    """All finished trials and the Pareto front of two objectives (first on y, second on x)."""
    objectives = parse_objectives(objectives)
    (y_name, _), (x_name, _) = objectives[:2]
    check_columns(frame, [x_name, y_name], "pareto")
    done = frame[frame["finished"]].dropna(subset=[x_name, y_name])
    front = pareto_front(frame, objectives)
    figure = _figure()
    ax = figure.subplots()
    for index, (family, group) in enumerate(done.groupby("family")):
        color = f"C{index % 10}"
        stopped = group["status"] != "completed"  # stopped early: hollow markers (fewer epochs behind them)
        ax.scatter(group[x_name][~stopped], group[y_name][~stopped], s=18, alpha=0.7, color=color, label=family)
        if stopped.any():
            ax.scatter(group[x_name][stopped], group[y_name][stopped], s=18, alpha=0.7, facecolors="none",
                       edgecolors=color, label=f"{family} (stopped early)")
    baselines = done[done["baseline"].astype(bool)]
    if len(baselines):
        ax.scatter(baselines[x_name], baselines[y_name], marker="*", s=140, color="tab:red", label="baseline")
    if len(front):
        ordered = front.sort_values(x_name)
        ax.step(ordered[x_name], ordered[y_name], where="post", color="black", linewidth=1.2,
                label="Pareto front")
    if x_name in ("params", "flops"):
        ax.set_xscale("log")
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(f"Pareto front: {y_name} vs {x_name}")
    return _save(figure, path)


def plot_learned(frame: pd.DataFrame, path, top: int = 5) -> Path | None:
    """Learned coefficients (mean, and min–max band for per-channel ones) against depth for the top rows."""
    values = learned_coefficients(frame, top)
    if values.empty:
        return None
    figure = _figure()
    ax = figure.subplots()
    for (run, trial_id, name), group in values.groupby(["run", "trial_id", "name"], sort=False):
        label = f"{group['scheme_name'].iloc[0]} {trial_id} ({run}): {name}"
        line, = ax.plot(group["depth"], group["mean"], marker="o", label=label)
        if (group["max"] > group["min"]).any():
            ax.fill_between(group["depth"], group["min"], group["max"], color=line.get_color(), alpha=0.2)
    if "k" in set(values["name"]):
        ax.axhline(0.0, color="tab:gray", linestyle=":", linewidth=1, label="k = 0 (ResNet step)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("depth (scheme step)")
    ax.set_ylabel("learned coefficient")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    ax.set_title("Learned coefficients against depth")
    return _save(figure, path)


def _plottable_scheme(row):
    """The scheme of a row as something with a stability region (its family's ``stability_proxy``), or None.

    Learned coefficients are drawn at their mean over the network (read from the weights); reversible
    schemes have no linear stability region to draw.
    """
    from .families.registry import family_of
    from .schemes import from_dict

    text = row.get("scheme")
    if not isinstance(text, str):
        return None
    scheme = from_dict(json.loads(text))
    family = family_of(scheme)
    label = f"{row['scheme_name']} {row['trial_id']}"
    names = family.learned_coefficients(scheme)
    if not names:
        return family.stability_proxy(scheme, name=label)
    folder = trial_folder(row)
    if not (folder / "weights.safetensors").is_file():
        return None
    learned = read_learned_coefficients(folder)
    means = {name: learned.loc[learned["name"] == name, "mean"].mean() for name in names}
    if any(pd.isna(value) for value in means.values()):
        return None
    return family.stability_proxy(scheme, means, name=f"{label} (mean learned {', '.join(names)})")


def plot_stability(frame: pd.DataFrame, path, top: int = 5) -> Path | None:
    """Stability regions of the top finished trials' schemes overlaid (drawn by ``nas.diagnostics``)."""
    schemes, seen = [], set()
    for _, row in frame[frame["finished"]].iterrows():
        if len(schemes) >= top:
            break
        key = (row.get("scheme"), row["run_dir"], row["trial_id"])
        scheme = _plottable_scheme(row) if key not in seen else None
        seen.add(key)
        if scheme is not None:
            schemes.append(scheme)
    if not schemes:
        return None
    from .diagnostics import plot_stability_regions  # lazy: sympy-heavy, only needed for this plot

    return Path(plot_stability_regions(schemes, path, title=f"Stability regions of the top {len(schemes)} schemes"))


def write_plots(frame: pd.DataFrame, folder, *, objectives="best_val_acc,params", top: int = 5,
                metric: str = METRIC) -> list[Path]:
    """Every leaderboard plot as PNG in ``folder``; ``frame`` should be sorted (the top rows are "best").

    All plots are drawn into a staging folder beside ``folder`` first and moved in only when every one
    succeeded: a failure (a corrupt weights file, say) leaves ``folder`` as it was, or absent.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"plots: {folder} exists and is not a folder")
    parse_objectives(objectives)
    with staged_files(folder) as staging:
        paths = plot_coefficients(frame, staging, metric)
        paths.append(plot_pareto(frame, staging / "pareto.png", objectives))
        for plot, name in ((plot_learned, "learned_coefficients.png"), (plot_stability, "stability_regions.png")):
            written = plot(frame, staging / name, top)
            if written is not None:
                paths.append(written)
    return [folder / path.name for path in paths]


__all__ = ["load", "resolve_run", "read_search_config", "finished_trials", "without_duplicates", "aggregate_seeds",
           "check_runs_have_finished_trials", "budget_label", "filter_family", "sort_trials", "family_summary",
           "pareto_front", "pareto_mask", "parse_objectives",
           "coefficient_columns", "coefficient_correlations", "coefficient_bins", "learned_coefficients",
           "read_learned_coefficients", "render", "write_table", "display_frame", "plot_coefficients",
           "plot_pareto", "plot_learned", "plot_stability", "write_plots", "FINISHED_STATUSES", "STATUSES",
           "LOWER_IS_BETTER", "METRIC", "TABLE_COLUMNS", "FORMATS", "VIEWS"]
