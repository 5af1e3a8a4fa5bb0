"""Which models an export writes, read and checked before anything is written: the best finished trials of a
run, one trial, or an architecture of the run's final evaluation; and the run's data set.

``--top K`` exports the first K rows of ``nas leaderboard RUN`` (``nas.fidelity.leaderboard_ranking``): finished
trials compared at equal budget, duplicates left out, one row per architecture (its best seed), baselines ranked
among the searched trials; ``rank`` is that leaderboard rank. ``nas evaluate`` orders the searched architectures
the same way with the baselines left out of the ranks (it retrains them beside), so ``--evaluated --rank R`` is
the R-th searched architecture."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import leaderboard
from ..checks import positive_int
from ..fidelity import leaderboard_ranking
from ..limits import MAX_TOP, check_count
from ..messages import one_line, printable_tree
from ..paths import contained
from ..safe_load import read_json
from .loading import read_model


def select_trials(run, *, top: int | None = 1, trial: str | None = None,
                  results_root=leaderboard.DEFAULT_RESULTS_ROOT):
    """(run folder, rows to export in rank order) — every problem is a ``ValueError`` raised here, first."""
    if trial is not None and top not in (None, 1):
        raise ValueError("choose either --top K or --trial ID, not both")
    if trial is None:
        check_count(positive_int(top, "top"), "top", MAX_TOP)  # each is an exported model
    run_dir = leaderboard.resolve_run(run, results_root)
    frame = leaderboard.load([run_dir])
    ranked = leaderboard_ranking(frame)  # the leaderboard's ranks, baselines among them
    if trial is not None:
        rows = frame[frame["trial_id"] == str(trial)]
        if rows.empty:
            known = ", ".join(ranked["trial_id"].head(10))
            raise ValueError(f"trial: no trial {trial!r} in run {run_dir.name}; finished trials (best first): {known}")
        if not rows["finished"].iloc[0]:
            raise ValueError(f"trial {trial!r}: status {rows['status'].iloc[0]}; only finished trials "
                             f"({', '.join(leaderboard.FINISHED_STATUSES)}) have weights to export")
        chosen = rows
    else:
        # the ranked trials' own rows: at a common rung the ranking compares earlier values, the card reports
        # those of the weights it exports
        chosen = frame.set_index("trial_id", drop=False).loc[list(ranked["trial_id"].head(top))]
    records = []
    for _, row in chosen.iterrows():
        folder = leaderboard.trial_folder(row)
        what = f"trial {row['trial_id']!r} ({folder})"
        spec, weights = read_model(folder, what)
        rank = _rank(ranked, row["trial_id"])
        records.append(dict(row, rank=rank, trial_path=str(folder), spec=spec, weights=weights,
                            trial_metrics=_trial_record(folder, what),
                            eval_batch_size=_eval_batch_size(_optional_json(folder, "train_config.json", what))))
    return run_dir, records


def select_evaluated(run, rank: int = 1, *, results_root=leaderboard.DEFAULT_RESULTS_ROOT):
    """(run folder, record) of the searched architecture of search rank ``rank`` in the run's final evaluation
    (``nas evaluate``): its seed with the median test accuracy (the lower middle one for an even number of
    seeds, ties to the lower seed), read from ``evaluation/<job_dir>`` like a trial folder."""
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"--rank: must be a positive integer, got {rank!r}")
    check_count(rank, "--rank", MAX_TOP)
    run_dir = leaderboard.resolve_run(run, results_root)
    path = run_dir / "evaluation.json"
    if not path.is_file():
        raise ValueError(f"--evaluated: run {run_dir.name} has no evaluation.json; run nas evaluate "
                         f"{run_dir.name} first")
    document = printable_tree(read_json(path, f"--evaluated: {path}"))  # its labels reach card.md
    entries = [e for e in document.get("architectures") or [] if isinstance(e, dict) and e.get("role") == "searched"]
    entry = next((e for e in entries if e.get("search_rank") == rank), None)
    if entry is None:
        known = ", ".join(str(e.get("search_rank")) for e in entries) or "none"
        raise ValueError(f"--rank: run {run_dir.name} has no evaluated architecture of rank {rank} "
                         f"(evaluated ranks: {known})")
    try:
        rows = pd.read_csv(run_dir / "evaluation.csv", dtype={"architecture_id": str, "job_dir": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"--evaluated: cannot read {run_dir / 'evaluation.csv'} ({one_line(exc)})") from None
    done = rows[(rows["architecture_id"] == entry.get("architecture_id")) & (rows["status"] == "completed")]
    done = done.assign(test_acc=pd.to_numeric(done["test_acc"], errors="coerce")).dropna(subset=["test_acc"])
    if done.empty:
        raise ValueError(f"--rank {rank}: architecture {entry.get('label')} has no completed seed to export")
    ordered = done.sort_values(["test_acc", "seed"], kind="stable")
    row = ordered.iloc[(len(ordered) - 1) // 2]
    folder = contained(run_dir / "evaluation", str(row["job_dir"]), f"--evaluated: job_dir {row['job_dir']!r}")
    what = f"evaluated {entry.get('label')} seed {row['seed']} ({folder})"
    spec, weights = read_model(folder, what)
    metrics = _optional_json(folder, "metrics.json", what) or {}
    record = {"trial_id": folder.name, "scheme_name": entry.get("scheme_name") or str(spec.scheme),
              "family": spec.scheme.family, "rank": rank, "baseline": False, "trial_path": str(folder),
              "spec": spec, "weights": weights, "trial_metrics": metrics,
              "eval_batch_size": _eval_batch_size(_optional_json(folder, "train_config.json", what)),
              "val_acc": row.get("final_val_acc"), "best_val_acc": row.get("best_val_acc"),
              "epochs_run": row.get("epochs_run"), "wall_time": row.get("train_time"), "status": row["status"],
              "seed": int(row["seed"]),
              "evaluation": {"label": entry.get("label"), "architecture_id": entry.get("architecture_id"),
                             "source_trial_id": entry.get("source_trial_id"), "seed": int(row["seed"]),
                             "seed_test_acc": float(row["test_acc"]), "seeds": entry.get("seeds"),
                             "test_acc": entry.get("test_acc"), "vs_resnet": entry.get("vs_resnet"),
                             "resnet": document.get("resnet"), "epochs": document.get("epochs"),
                             "complete": document.get("complete")}}
    return run_dir, record


def _rank(ranked, trial_id) -> int | None:
    """The leaderboard rank of a trial; None for a trial the leaderboard does not rank (run for fewer epochs
    than the compared budget, or a seed of an architecture other than its best)."""
    where = (ranked["trial_id"] == trial_id).to_numpy().nonzero()[0]
    return int(where[0]) + 1 if len(where) else None


def _trial_record(folder: Path, what: str) -> dict | None:
    """The search trial's ``metrics.json``, checked as a ``TrialRecord`` (None when the folder has none)."""
    from ..search.records import parse_record

    metrics = _optional_json(folder, "metrics.json", what)
    return None if metrics is None else parse_record(metrics, f"{what}: metrics.json").to_dict()


def _optional_json(folder: Path, name: str, what: str) -> dict | None:
    """A JSON file of a trial folder (None when absent), its text with control characters escaped: it reaches
    the card."""
    path = contained(folder, name, f"{what}: {name}")
    return printable_tree(read_json(path, f"{what}: {name}")) if path.is_file() else None


def _eval_batch_size(train_config: dict | None) -> int:
    value = (train_config or {}).get("eval_batch_size")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1024


def dataset_options(search: dict) -> dict:
    """Arguments of ``nas.data.load_dataset`` that rebuild the run's data (``search.json`` key ``data``)."""
    data = search.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ValueError("search.json: no data set recorded (expected key 'data' with a 'name'); "
                         "cannot compute the test accuracy")
    options = dict(data)
    options.setdefault("seed", search.get("seed", 0))
    return options


def load_data(search: dict):
    """The run's data splits, rebuilt from its ``search.json`` (``dataset_options``)."""
    from ..data import load_dataset

    return load_dataset(**dataset_options(search))


__all__ = ["select_trials", "select_evaluated", "dataset_options", "load_data"]
