"""The results vocabulary, defined once: trial statuses, objectives and their directions, the Pareto front,
and the tolerance that decides zero-stability.

``nas.train`` (a run's status), ``nas.search`` (trial records, ``trials.csv``, ``pareto.csv``, Optuna's
directions), ``nas.leaderboard``, ``nas.export`` and ``nas.diagnostics`` (the ``zero_stable`` column) import
these names instead of spelling them out; the columns are documented in ``results/README.md``.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

from nas.messages import quote

# ------------------------------------------------------------------------------------------ statuses
# What ``nas.train.fit`` returns: trained to the end, stopped early (callback / ASHA), or a non-finite loss.
TRAIN_STATUSES = ("completed", "stopped", "diverged")
# A trial's status in its metrics.json and in trials.csv: a training status, or the trial could not run
# (``error``), was cut short by Ctrl-C / SIGTERM (``interrupted``), or repeated an earlier trial's network,
# training and seed and was not trained again (``duplicate``, see nas.search.duplicates), or was created by Tune
# but never trained an epoch because the search's time budget ended first (``not_started``; trials.csv only).
DUPLICATE_STATUS = "duplicate"
NOT_STARTED_STATUS = "not_started"
STATUSES = TRAIN_STATUSES + ("error", "interrupted", DUPLICATE_STATUS, NOT_STARTED_STATUS)
# Statuses whose metrics are a real (possibly early-stopped) training result, with best-validation weights:
# the trials that are ranked, exported and put on a Pareto front.
SCORED_STATUSES = ("completed", "stopped")
# A trial folder with one of these statuses is final: a resumed run reports it instead of training again.
FINAL_STATUSES = ("completed", "diverged")

# -------------------------------------------------------------------------------- objective directions
# Columns where lower is better; every other metric (accuracies) is maximised.
LOWER_IS_BETTER = frozenset({"val_loss", "params", "flops", "wall_time", "epochs_run", "error_constant",
                             "error_norm", "test_loss"})
# The metrics a trial reports to Ray Tune, i.e. what ``nas search --objectives`` may optimise.
SEARCH_OBJECTIVES = ("val_acc", "val_loss", "params", "flops")


def maximised(column: str) -> bool:
    """Whether larger values of ``column`` are better (its natural sort direction is descending)."""
    return column not in LOWER_IS_BETTER


def direction(column: str) -> str:
    """``"max"`` or ``"min"``: Optuna's and Ray Tune's name for the direction of ``column``."""
    return "max" if maximised(column) else "min"


# objective -> Optuna direction, for the metrics a search can optimise
OBJECTIVES = {name: direction(name) for name in SEARCH_OBJECTIVES}


class Objective(NamedTuple):
    """One column to optimise and its direction; a plain ``(name, maximise)`` tuple."""

    name: str
    maximise: bool

    @property
    def mode(self) -> str:
        return "max" if self.maximise else "min"


def parse_objectives(raw, where: str = "objectives", *, choices: Sequence[str] | None = None, at_least: int = 1,
                     error: type[ValueError] = ValueError) -> list[Objective]:
    """``"val_acc,params"`` (or a list of names, or of ``Objective``/``(name, maximise)`` pairs) → objectives.

    ``name:max`` / ``name:min`` force a direction; otherwise it is the column's natural one (``direction``).
    ``choices`` restricts the names; a name listed twice, an empty name or fewer than ``at_least`` objectives
    is an ``error`` whose message starts with ``where`` (``where[i]`` for the i-th item).
    """
    if not isinstance(raw, (str, list, tuple, dict)) or not raw:
        listed = ", ".join(choices) if choices else "e.g. val_acc,params"
        raise error(f"{where}: expected a list of objectives ({listed}), got {quote(raw)}")
    if isinstance(raw, dict):  # name -> "max" | "min"
        raw = [f"{name}:{mode}" for name, mode in raw.items()]
    if not isinstance(raw, str) and all(isinstance(item, tuple) for item in raw):
        items = [(str(name), bool(maximise)) for name, maximise in raw]  # already parsed
    else:
        items = []
        for i, item in enumerate(raw.split(",") if isinstance(raw, str) else raw):
            if not isinstance(item, str):
                raise error(f"{where}[{i}]: must be a string, got {quote(item)}")
            if choices is not None and item.strip() not in choices:  # a restricted list takes natural directions
                raise error(f"{where}[{i}]: must be one of {', '.join(choices)}, got {quote(item.strip())}")
            name, _, forced = item.strip().partition(":")
            if not name:
                raise error(f"{where}: empty objective in {quote(raw)}; expected e.g. val_acc,params")
            if forced not in ("", "max", "min"):
                raise error(f"{where}: direction of {quote(name)} must be max or min, got {quote(forced)}")
            items.append((name, maximised(name) if not forced else forced == "max"))
    names = [name for name, _ in items]
    repeated = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if repeated is not None:
        raise error(f"{where}: objective {quote(repeated)} listed twice")
    if len(items) < at_least:
        count = {1: "one", 2: "two"}.get(at_least, str(at_least))
        raise error(f"{where}: need at least {count} objectives, got {quote(raw)}")
    return [Objective(name, maximise) for name, maximise in items]


# ------------------------------------------------------------------------------------- Pareto front
def pareto_mask(values):
    """Non-dominated rows of ``values`` (n × m, every column to be maximised).

    Row i is dominated when some row j is ≥ in every objective and > in at least one (Deb 2001, §2.4).
    """
    import numpy as np

    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return np.zeros(len(values), dtype=bool)
    at_least = (values[None, :, :] >= values[:, None, :]).all(axis=2)  # [i, j]: j ≥ i everywhere
    better = (values[None, :, :] > values[:, None, :]).any(axis=2)     # [i, j]: j > i somewhere
    return ~(at_least & better).any(axis=1)


def pareto_front(frame, objectives):
    """The scored (``SCORED_STATUSES``), feasible trials of ``frame`` on the Pareto front of ``objectives``
    (anything ``parse_objectives`` reads), sorted by the first objective, best first.

    A trial without a ``feasible`` value counts as feasible; a trial missing an objective is left out.
    """
    import numpy as np

    objectives = parse_objectives(objectives, "pareto", at_least=1)
    names = [o.name for o in objectives]
    candidates = frame[frame["status"].isin(SCORED_STATUSES)]
    if "feasible" in candidates:
        candidates = candidates[candidates["feasible"].astype("boolean").fillna(True).astype(bool)]
    candidates = candidates.dropna(subset=names)
    if candidates.empty:
        return candidates
    signs = np.array([1.0 if o.maximise else -1.0 for o in objectives])
    front = candidates[pareto_mask(candidates[names].to_numpy(dtype=float) * signs)]
    return front.sort_values(names[0], ascending=not objectives[0].maximise, kind="stable")


# --------------------------------------------------------------------------------- zero-stability
# A root ζ of ρ with |ζ| ≤ 1 + ZERO_STABILITY_TOLERANCE counts as on or inside the unit circle, and roots on
# the circle closer than √tolerance count as repeated (root condition, Hairer, Nørsett, Wanner I, §III.3).
# numpy's roots of a double root err by ~√eps ≈ 1e-8 and of a triple root by ~eps^(1/3) ≈ 6e-6, so 1e-6
# keeps double roots on the circle; exact coefficients decide multiplicities exactly (nas.diagnostics).
ZERO_STABILITY_TOLERANCE = 1e-6


# The folder of a run (and of its evaluation, evaluation/trials) that holds one folder per trial.
TRIALS_FOLDER = "trials"

__all__ = ["TRIALS_FOLDER", "TRAIN_STATUSES", "STATUSES", "DUPLICATE_STATUS", "NOT_STARTED_STATUS", "SCORED_STATUSES", "FINAL_STATUSES", "LOWER_IS_BETTER",
           "SEARCH_OBJECTIVES", "OBJECTIVES", "Objective", "maximised", "direction", "parse_objectives",
           "pareto_mask", "pareto_front", "ZERO_STABILITY_TOLERANCE"]
