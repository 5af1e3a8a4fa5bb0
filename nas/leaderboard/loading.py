"""Reading runs into one frame: a run folder (local or in storage), its ``search.json`` and its ``trials.csv``,
with the columns every view reads (``run_dir``, ``finished``, ``vs_resnet``); where a trial's files are."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..limits import MAX_SEED
from ..messages import printable, printable_tree, quote
from ..paths import contained
from ..safe_load import read_json
from ..storage import Location, is_uri
from ..vocabulary import SCORED_STATUSES
from .learned import with_learned_diagnostics

FINISHED_STATUSES = SCORED_STATUSES  # the trials with best-validation weights
METRIC = "best_val_acc"  # the ranking metric: accuracy of the best-validation epoch (the exported weights)
RESNET_SCHEME = "euler"
DEFAULT_RESULTS_ROOT = Path("results")


def resolve_run(run, results_root=DEFAULT_RESULTS_ROOT) -> Path:
    """The run folder of ``run``: a path to it, or a run name under ``results_root``.

    Either may be a storage URI (``s3://bucket/prefix/run``, ``nas.storage``): the run's records are then
    copied to a local temporary folder (named like the run, removed when the process exits) and that
    folder is returned, so every reader works on the same files as for a local run.
    """
    if is_uri(str(run)):
        return _local_copy(Location.from_uri(str(run), f"run {str(run)!r}"), run)
    if is_uri(str(results_root)) and not Path(str(run)).is_absolute():
        from ..paths import check_run_name

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
# the study and the logs (of the search and of the final evaluation).
_NOT_FETCHED = ("tune/", "optuna.db", "search.log", "evaluation/tune/", "evaluation/evaluation.log")
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
    return printable_tree(read_json(path))  # its text reaches terminals and cards: control characters escaped


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
    _escape_text(frame)
    return frame


def _escape_text(frame: pd.DataFrame) -> None:
    """Control characters in the table's text escaped (``nas.messages.printable``): a ``scheme_name`` holding
    terminal escapes is shown as text by every reader (leaderboard, search progress, export cards)."""
    for column in frame.columns:
        if frame[column].dtype == object or isinstance(frame[column].dtype, pd.StringDtype):
            frame[column] = frame[column].map(lambda v: printable(v) if isinstance(v, str) else v)


# Columns of trials.csv that hold numbers (results/README.md); coef_* and constraint_* columns too.
NUMERIC_COLUMNS = ("val_acc", "val_loss", "best_val_acc", "params", "flops", "epochs_run", "wall_time",
                   "steps_per_stage", "h", "noise_param", "order", "error_constant", "error_norm",
                   "real_stability_interval", "seed", "best_val_loss", "best_epoch")


# The values each column can hold (low, high, inf allowed), checked when trials.csv is read back: a table edited
# or damaged by hand (best_val_acc = inf) must not rank first, nor be exported as rank 1. Empty cells pass.
# A diverged trial records val_loss inf (nas.search.trainable), so losses may be infinite.
RANGES = {"val_acc": (0, 1, False), "best_val_acc": (0, 1, False), "val_loss": (0, None, True),
          "best_val_loss": (0, None, True), "params": (0, None, False), "flops": (0, None, False),
          "epochs_run": (0, None, False), "best_epoch": (0, None, False), "wall_time": (0, None, False),
          "steps_per_stage": (1, None, False), "h": (0, None, False), "seed": (0, MAX_SEED, False)}
FINITE_PREFIXES = ("coef_",)  # scheme coefficients are finite numbers (or empty)


def _check_numbers(frame: pd.DataFrame, path: Path) -> None:
    """Numeric columns converted to numbers; a cell that is not one (empty cells are), or one outside its
    column's range (``RANGES``), is a ``ValueError`` naming the column, the trial and the value."""
    for column in frame.columns:
        if column not in NUMERIC_COLUMNS and not column.startswith(("coef_", "constraint_")):
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            raise ValueError(f"{path}: column {column}, trial {_trial_of(frame, bad)}: "
                             f"{quote(frame[column].iloc[bad.to_numpy().argmax()])} is not a number")
        low, high, infinite = RANGES.get(column, (None, None, not column.startswith(FINITE_PREFIXES)))
        present = values.notna()
        out = present & ~np.isfinite(values.astype(float)) if not infinite else present & False
        if low is not None:
            out |= present & (values < low)
        if high is not None:
            out |= present & (values > high)
        if out.any():
            value = values[out].iloc[0]
            allowed = "a finite number" if low is None else \
                f"{'a' if infinite else 'a finite'} number in [{low}, {'inf' if high is None else high}]"
            raise ValueError(f"{path}: column {column}, trial {_trial_of(frame, out)}: {float(value):g} is out of "
                             f"range (expected {allowed}); the table was edited or damaged")
        frame[column] = values


def _trial_of(frame: pd.DataFrame, mask) -> str:
    row = mask.to_numpy().argmax()
    return frame["trial_id"].iloc[row] if "trial_id" in frame.columns else f"row {row + 1}"


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
        frame["race_seeds"] = race_seeds(folder)
        frames.append(frame)
    frame = _normalise(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])
    frame = with_learned_diagnostics(frame)  # learned schemes: their order, error constant, stability interval
    frame.attrs["run_dirs"] = [str(folder) for folder in folders]  # runs without a single row stay known
    return frame


def race_seeds(folder: Path) -> float:
    """The seed list's length of a raced run (``search.json`` ``settings.race.max_seeds``); NaN when the run
    was not raced (or has no readable ``search.json``)."""
    path = folder / "search.json"
    if not path.is_file():
        return math.nan
    try:
        race = (read_json(path, f"{path}").get("settings") or {}).get("race")
    except ValueError:
        return math.nan
    seeds = race.get("max_seeds") if isinstance(race, dict) else None
    return float(seeds) if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds > 0 else math.nan


def is_plain_resnet(frame: pd.DataFrame) -> pd.Series:
    """The rows of a run's plain ResNet baseline that completed its full budget (``euler``, no noise; beside
    tied baselines, the untied ResNet is a third baseline, not the reference)."""
    is_resnet = (frame["baseline"].astype(bool) & (frame["scheme_name"] == RESNET_SCHEME)
                 & (frame["status"] == "completed"))
    if "noise_kind" in frame.columns:
        is_resnet &= frame["noise_kind"].isna() | (frame["noise_kind"].astype(str) == "none")
    if "option" in frame.columns:
        is_resnet &= frame["option"].astype(str) != "baseline_euler_untied"
    return is_resnet


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
    frame["vs_resnet"] = frame[METRIC] - resnet_reference(frame)
    return frame


def resnet_reference(frame: pd.DataFrame) -> pd.Series:
    """Per row, ``best_val_acc`` of the plain ResNet baseline of the same run that completed its full budget
    (NaN if none; the best one if a run somehow has several)."""
    best = frame[is_plain_resnet(frame)].groupby("run_dir")[METRIC].max()
    return frame["run_dir"].map(best).astype("float64")


def trial_folder(row) -> Path:
    """The trial's folder: ``trial_dir`` (or ``trials/<trial_id>``) inside its run folder, never outside it
    (``nas.paths.contained``: no absolute path, ``..`` or symbolic link leads elsewhere)."""
    trial_dir = row.get("trial_dir") if hasattr(row, "get") else None
    if trial_dir is None or (isinstance(trial_dir, float) and math.isnan(trial_dir)):
        trial_dir = Path("trials") / str(row["trial_id"])
    return contained(row["run_dir"], trial_dir, f"{Path(row['run_dir']) / 'trials.csv'}: trial {row['trial_id']}: "
                                                "trial_dir")


__all__ = ["resolve_run", "read_search_config", "load", "resnet_reference", "trial_folder", "DEFAULT_RESULTS_ROOT",
           "FINISHED_STATUSES", "METRIC", "RESNET_SCHEME", "NUMERIC_COLUMNS", "is_plain_resnet", "race_seeds"]
