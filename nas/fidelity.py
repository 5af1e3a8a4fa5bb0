"""Equal fidelity: which trials of a run are compared, and at which training budget (pandas only, no torch).

ASHA stops poor trials at its rungs, so a run mixes trials trained for 4, 8 or 15 epochs. Comparing their
accuracies (or correlating a coefficient with them) mostly measures how long each trial ran. Following the
NAS best-practice checklist (Lindauer & Hutter, "Best practices for scientific research on neural
architecture search", JMLR 2020: compare architectures under the same evaluation protocol), the
leaderboard compares, per run:

1. by default, the trials that ran the full budget: status ``completed`` with ``epochs_run`` equal to the
   run's ``train.epochs`` (``search.json``); their values are unchanged, ``budget`` = that number of epochs;
2. if fewer than 2 such trials exist, every finished trial (``completed`` or ``stopped``) at the highest
   rung all of them reached, r = the smallest ``epochs_run`` among them: ``val_acc`` / ``val_loss`` become
   those of epoch r and ``best_val_acc`` the best validation accuracy over epochs 1..r, read from the
   per-epoch ``history`` in each trial's ``metrics.json``; ``budget`` = r. A trial without that history is
   left out;
3. ``all_budgets=True``: every row as recorded, ``budget`` = its ``epochs_run``.

``vs_resnet`` is recomputed at the compared budget (the plain ResNet baseline ran the full budget, so its
history holds every rung).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .safe_load import read_json

FULL = "full"
RUNG = "rung"
MIN_FULL = 2  # fewer trials at the full budget than this: compare at the common rung instead


def run_epochs(frame: pd.DataFrame, run_dir: str) -> int | None:
    """The run's full budget in epochs: ``train.epochs`` of its ``search.json`` (else the most epochs any
    completed trial of the run ran; None without either)."""
    path = Path(run_dir) / "search.json"
    if path.is_file():
        epochs = (read_json(path).get("train") or {}).get("epochs")
        if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0:
            return epochs
    done = frame[(frame["run_dir"] == run_dir) & (frame["status"] == "completed")]["epochs_run"].dropna()
    return int(done.max()) if len(done) else None


def _history(row) -> list[dict] | None:
    from .leaderboard import trial_folder
    from .search.records import read_record

    try:
        record = read_record(trial_folder(row))
    except ValueError:  # not a trial record: the trial is left out, like one without history
        return None
    return (record.history or None) if record is not None else None


def _at_epoch(row, epoch: int) -> dict | None:
    """``val_acc``, ``val_loss`` at ``epoch`` and the best ``val_acc`` over epochs 1..epoch, from history."""
    history = _history(row)
    if history is None:
        return None
    upto = [h for h in history if isinstance(h, dict) and isinstance(h.get("epoch"), int) and h["epoch"] <= epoch]
    last = [h for h in upto if h["epoch"] == epoch]
    accs = [h.get("val_acc") for h in upto if isinstance(h.get("val_acc"), (int, float))]
    if not last or not accs:
        return None
    best = max(accs)
    best_entry = next(h for h in upto if h.get("val_acc") == best)
    return {"val_acc": last[0].get("val_acc"), "val_loss": last[0].get("val_loss"), "best_val_acc": best,
            "best_val_loss": best_entry.get("val_loss"), "best_epoch": best_entry["epoch"]}


def equal_budget(frame: pd.DataFrame, *, all_budgets: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """The finished rows of ``frame`` compared at equal budget (see the module docstring), with a ``budget``
    column, and one line per run saying which budget is compared and how many finished trials were left out.

    ``frame`` is ``nas.leaderboard.load``'s (duplicates already removed, or they are left out here as not
    finished).
    """
    from .leaderboard import METRIC, resnet_reference

    if "epochs_run" not in frame.columns:  # a trials table that does not record epochs
        frame = frame.assign(epochs_run=np.nan)
    finished = frame[frame["finished"]].copy()
    finished["budget"] = finished["epochs_run"]
    if all_budgets:
        finished.attrs = dict(frame.attrs)
        return finished, ["all budgets: every finished trial at the epochs it ran (column budget)"]
    parts, notes = [], []
    for run_dir, group in finished.groupby("run_dir", sort=False):
        run = group["run"].iloc[0]
        epochs = run_epochs(frame, run_dir)
        full = group[(group["status"] == "completed") & (group["epochs_run"] == epochs)] if epochs else group[:0]
        if len(full) >= MIN_FULL:
            parts.append(full.assign(budget=epochs))
            notes.append(f"run {run}: comparing the {len(full)} trials that ran the full budget of {epochs} "
                         f"epochs; {len(group) - len(full)} finished trial(s) stopped earlier left out "
                         "(--all-budgets shows them)")
            continue
        if group["epochs_run"].isna().all():
            parts.append(group)
            notes.append(f"run {run}: no epochs recorded; comparing all {len(group)} finished trials as recorded")
            continue
        rung = int(group["epochs_run"].min())
        rows, missing = [], 0
        for index, row in group.iterrows():
            if pd.isna(row["epochs_run"]):
                missing += 1
                continue
            if row["epochs_run"] == rung:
                rows.append(row)
                continue
            values = _at_epoch(row, rung) if rung > 0 else None
            if values is None:
                missing += 1
                continue
            changed = row.copy()
            for key, value in values.items():
                changed[key] = np.nan if value is None or (isinstance(value, float) and math.isnan(value)) else value
            rows.append(changed)
        part = pd.DataFrame(rows, columns=group.columns).assign(budget=rung)
        parts.append(part)
        notes.append(f"run {run}: fewer than {MIN_FULL} trials ran the full budget"
                     f"{'' if epochs is None else f' of {epochs} epochs'}; comparing all {len(part)} finished "
                     f"trials at epoch {rung}, the highest rung all of them reached"
                     + (f" ({missing} without a per-epoch history left out)" if missing else ""))
    out = pd.concat(parts) if parts else finished[:0]
    out = out.astype({c: finished[c].dtype for c in ("baseline", "finished") if c in finished.columns})
    out["vs_resnet"] = out[METRIC] - resnet_reference(out)
    out.attrs = dict(frame.attrs)
    return out, notes


def rank_architectures(frame: pd.DataFrame, top: int | None = None, *, metric: str | None = None) -> pd.DataFrame:
    """The distinct architectures of ``frame`` (``nas.leaderboard.load``), best first, ranked at equal budget:
    duplicates and baselines left out, one row per (run, ``architecture_id``) -- its best seed, with ``seeds``,
    ``<metric>_mean`` and ``<metric>_std`` when it has several -- sorted by the mean over its seeds. This is
    what ``nas evaluate`` retrains. In a raced run the architectures raced to every seed of the list come
    first (``nas.leaderboard.raced_order``), as the leaderboard shows them."""
    from .leaderboard import METRIC, aggregate_seeds, descending, raced_order, sort_trials, without_duplicates

    metric = metric or METRIC
    if isinstance(top, bool) or top is not None and (not isinstance(top, int) or top < 1):
        raise ValueError(f"top: must be a positive integer, got {top!r}")
    frame, _ = without_duplicates(frame)
    compared, _ = equal_budget(frame)
    compared = compared[~compared["baseline"].astype(bool)]
    ranked = aggregate_seeds(sort_trials(compared, metric), metric)
    mean = f"{metric}_mean"
    if mean not in ranked.columns:
        ranked = ranked.assign(seeds=1, **{mean: ranked[metric], f"{metric}_std": np.nan})
    ranked = ranked.sort_values([mean, metric], ascending=not descending(metric), kind="stable",
                                na_position="last")
    ranked = raced_order(ranked, metric).reset_index(drop=True)
    return ranked.head(top) if top else ranked


def leaderboard_ranking(frame: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """The ranking of ``nas leaderboard RUN`` (its default trials view), best first: duplicates left out,
    finished trials at equal budget (``equal_budget``), sorted by ``metric``, one row per architecture when some
    architecture has several seeds (``nas.leaderboard.one_row_per_architecture``: its best seed; in a raced run
    the fully raced first). Baselines are ranked among the searched trials, as the leaderboard lists them
    (marked ``[baseline]``). ``nas export --top`` exports its first rows; ``nas evaluate`` retrains the searched
    architectures of ``rank_architectures`` (the same comparison with the baselines left out of the ranks, and
    retrained beside them)."""
    from .leaderboard import METRIC, check_runs_have_finished_trials, one_row_per_architecture, sort_trials
    from .leaderboard import without_duplicates

    metric = metric or METRIC
    frame, _ = without_duplicates(frame)
    check_runs_have_finished_trials(frame)
    compared, _ = equal_budget(frame)
    ranked, _ = one_row_per_architecture(sort_trials(compared, metric), metric)
    return ranked.reset_index(drop=True)


__all__ = ["equal_budget", "rank_architectures", "leaderboard_ranking", "run_epochs", "MIN_FULL"]
