"""The seeds of a final evaluation: fresh ones, never a seed that a trial of the search trained.

A search selects on one seed's validation accuracy, so the seed that won a selection is optimistically
biased; retraining that seed reproduces the selected run rather than measuring the architecture. Final
numbers therefore come from seeds that no selection step has seen (Lindauer & Hutter, "Best practices for
scientific research on neural architecture search", JMLR 2020; SMAC's intensification keeps its racing seeds
apart from the final evaluation for the same reason).

The rule (``fresh_seeds``): N seeds counting up from ``DEFAULT_FIRST_SEED`` (1000, 1001, ...), skipping
every seed that any trial of the run trained, so it holds for any run whatever seeds its search used.
The run's seeds (``search_seeds``) are read from every row of ``trials.csv`` (column ``seed``, any status)
and from every trial folder's ``train_config.json`` (a trial Ray Tune forgot may have a folder and no row).
An explicit list (``check_seed_list``) is refused if it holds one of them.
"""
from __future__ import annotations

import math
from pathlib import Path

from nas.limits import MAX_SEED, check_seed
from nas.safe_load import read_json
from nas.vocabulary import TRIALS_FOLDER  # the run's trial folders (not evaluation/trials)

DEFAULT_FIRST_SEED = 1000
RULE = "fresh"  # seeds no trial of the run trained
LEGACY_RULE = "0..N-1"  # evaluations before fresh seeds: seeds 0..N-1, seed 0 usually the search's own


def search_seeds(run_dir) -> set[int]:
    """Every seed a trial of the run at ``run_dir`` trained (``trials.csv`` and ``trials/*/train_config.json``);
    a seed that cannot be read is a ``ValueError`` naming its file, since it might be the one to avoid."""
    import pandas as pd

    run_dir = Path(run_dir)
    seeds: set[int] = set()
    frame = pd.read_csv(run_dir / "trials.csv", usecols=lambda c: c in ("trial_id", "seed"),
                        dtype={"trial_id": str})
    if "seed" in frame.columns:
        for trial, value in zip(frame.get("trial_id", frame.index), frame["seed"]):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue  # a trial without a seed in the table: its train_config.json (below) has it
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # pandas reads an integer column with empty cells as floats
            seeds.add(check_seed(value, f"trials.csv: trial {trial}: seed"))
    trials = run_dir / TRIALS_FOLDER
    for path in sorted(trials.glob("*/train_config.json")) if trials.is_dir() else []:
        what = f"{path.relative_to(run_dir)}"
        seeds.add(check_seed(read_json(path, what).get("seed", 0), f"{what}: seed"))  # TrainConfig's default 0
    return seeds


def fresh_seeds(count: int, trained, first: int = DEFAULT_FIRST_SEED) -> tuple[list[int], list[int]]:
    """``count`` seeds from ``first`` up that are not in ``trained``, and the seeds skipped on the way."""
    trained = set(trained)
    chosen, skipped, seed = [], [], check_seed(first, "--first-seed")
    while len(chosen) < count:
        if seed > MAX_SEED:
            raise ValueError(f"--first-seed: {first} leaves fewer than {count} seeds below {MAX_SEED} that the "
                             "search did not train")
        (skipped if seed in trained else chosen).append(seed)
        seed += 1
    return chosen, skipped


def parse_seed_list(text: str) -> list[int]:
    """``--seed-list 1000,1001,...`` as integers (their checks: ``check_seed_list``)."""
    items = [item.strip() for item in str(text).split(",")]
    try:
        return [int(item) for item in items]
    except ValueError:
        raise ValueError(f"--seed-list: expected comma-separated integers, got {text!r}") from None


def check_seed_list(seeds, trained, minimum: int) -> list[int]:
    """An explicit seed list: at least ``minimum`` distinct seeds in 0..2**32-1, none of them trained by the
    search (``trained``); a ``ValueError`` naming the first offending seed."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"--seed-list: expected a list of integers, got {seeds!r}")
    seeds = [check_seed(s, "--seed-list") for s in seeds]
    if len(seeds) < minimum:
        raise ValueError(f"--seed-list: at least {minimum} seeds (the interval of the difference against ResNet "
                         f"needs two), got {len(seeds)}")
    repeated = next((s for i, s in enumerate(seeds) if s in seeds[:i]), None)
    if repeated is not None:
        raise ValueError(f"--seed-list: seed {repeated} is listed twice")
    used = next((s for s in seeds if s in set(trained)), None)
    if used is not None:
        raise ValueError(f"--seed-list: seed {used} was trained by a trial of the search; the evaluation needs "
                         "seeds the search never saw (the default takes fresh ones from "
                         f"{DEFAULT_FIRST_SEED})")
    return seeds


def choose(count: int | None, seed_list, first_seed: int | None, trained, *, default_count: int,
           minimum: int) -> tuple[list[int], dict]:
    """The evaluation's seeds and their record (``evaluation.json`` ``seed_rule``) from the flags:
    ``seed_list`` (exact, refused if the search trained one), or ``count`` fresh seeds from ``first_seed``
    (``DEFAULT_FIRST_SEED`` unless given)."""
    trained = sorted(set(trained))
    if seed_list is not None and first_seed is not None:
        raise ValueError("--seed-list: give either --seed-list or --first-seed, not both")
    if seed_list is not None:
        seeds = check_seed_list(seed_list, trained, minimum)
        if count is not None and count != len(seeds):
            raise ValueError(f"--seeds: {count} does not match the {len(seeds)} seeds of --seed-list")
        return seeds, _described({"rule": RULE, "chosen_by": "--seed-list", "first_seed": None, "skipped": [],
                                  "search_seeds": trained})
    count = default_count if count is None else count
    first = DEFAULT_FIRST_SEED if first_seed is None else check_seed(first_seed, "--first-seed")
    seeds, skipped = fresh_seeds(count, trained, first)
    return seeds, _described({"rule": RULE, "chosen_by": "default" if first_seed is None else "--first-seed",
                              "first_seed": first, "skipped": skipped, "search_seeds": trained})


def legacy_rule() -> dict:
    """The record of an evaluation planned before fresh seeds (its plan has no ``seed_rule``)."""
    return _described({"rule": LEGACY_RULE, "chosen_by": "an evaluation planned before fresh seeds",
                       "first_seed": 0, "skipped": [], "search_seeds": None})


def _described(rule: dict) -> dict:
    return {**rule, "description": describe_rule(rule)}


def describe_rule(rule: dict) -> str:
    """One line saying how the seeds were chosen (recorded as ``description``: the printed summary and the
    leaderboard's evaluation view show it)."""
    if rule.get("rule") == LEGACY_RULE:
        return "seeds 0..N-1 (an evaluation from before fresh seeds: seed 0 may be the search's own run)"
    trained = rule.get("search_seeds") or []
    shown = ", ".join(map(str, trained[:10])) + (", ..." if len(trained) > 10 else "")
    if rule.get("chosen_by") == "--seed-list":
        how = "given with --seed-list"
    else:
        how = f"from {rule.get('first_seed')} up"
        if rule.get("skipped"):
            how += f", skipping {', '.join(map(str, rule['skipped']))}"
    return f"fresh seeds {how}; the search trained seeds {{{shown}}}, none of them evaluated"


__all__ = ["search_seeds", "fresh_seeds", "parse_seed_list", "check_seed_list", "choose", "legacy_rule",
           "describe_rule", "DEFAULT_FIRST_SEED", "RULE", "LEGACY_RULE"]
