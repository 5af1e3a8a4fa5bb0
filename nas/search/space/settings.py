"""The ``search`` section of a space: the driver's settings (trials, sampler, scheduler, objectives, ...).

The same checks serve the space file, the command-line flags of ``nas search`` and ``SearchSettings`` itself
(``SETTING_CHECKS``), so a value is judged the same way wherever it comes from.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from nas import checks
from nas.limits import MAX_EPOCHS, MAX_RETRIES, MAX_TRIALS, check_count, check_seed
from nas.vocabulary import OBJECTIVES  # objective -> Optuna direction; the first is the primary one
from nas.vocabulary import parse_objectives as _parse_objectives

from nas.domains import SpaceError, check_mapping, fail
from ..racing import parse_race

SAMPLERS = ("tpe", "cmaes", "nsga2", "gp", "random", "qmc")
SINGLE_OBJECTIVE_SAMPLERS = ("cmaes",)  # Optuna's CmaEsSampler refuses a multi-objective study
SCHEDULERS = ("asha", "none")
DUPLICATE_MODES = ("reuse", "reseed")


@dataclass(frozen=True)
class SearchSettings:
    """The ``search`` section: driver defaults that command-line flags override. Validates itself
    (``SETTING_CHECKS``); apply flags with ``dataclasses.replace`` after ``check_setting`` names them.

    ``duplicates``: what a trial whose network, training configuration and seed equal those of an earlier
    trial of the run does: ``reuse`` (default) records the earlier trial's result without training again;
    ``reseed`` trains it with the next seed (seed + number of earlier trials of that architecture).

    ``race``: None (off), or ``nas.search.racing.RaceSettings``: contenders are trained again on the next
    seeds of a fixed list, paired against the incumbent, and the baselines on every seed of it.
    """

    trials: int = 10
    sampler: str = "tpe"
    scheduler: str = "asha"
    objectives: tuple[str, ...] = ("val_acc",)
    grace_period: int = 1
    reduction_factor: int = 2
    cpus_per_trial: float = 1.0
    gpus_per_trial: Any = "auto"
    max_failures: int = 2
    max_concurrent: int | None = None
    time_budget: float | None = None
    seed: int = 0
    duplicates: str = "reuse"
    race: Any = None

    def __post_init__(self):
        for item in fields(self):
            object.__setattr__(self, item.name, check_setting(item.name, getattr(self, item.name), item.name))

    def to_dict(self) -> dict:
        return {"trials": self.trials, "sampler": self.sampler, "scheduler": self.scheduler,
                "objectives": list(self.objectives), "grace_period": self.grace_period,
                "reduction_factor": self.reduction_factor, "cpus_per_trial": self.cpus_per_trial,
                "gpus_per_trial": self.gpus_per_trial, "max_failures": self.max_failures,
                "max_concurrent": self.max_concurrent, "time_budget": self.time_budget, "seed": self.seed,
                "duplicates": self.duplicates,
                **({} if self.race is None else {"race": self.race.to_dict()})}  # runs before racing: no key


def parse_objectives(raw, path: str) -> tuple[str, ...]:
    """The names of the search's objectives (``nas.vocabulary.OBJECTIVES``, in their natural directions)."""
    return tuple(o.name for o in _parse_objectives(raw, path, choices=tuple(OBJECTIVES), error=SpaceError))


def parse_gpus(raw, path: str):
    """``auto`` (a GPU only when the cluster has one) or a number of GPUs >= 0, fractions allowed."""
    return "auto" if raw == "auto" else checks.number_in(raw, path, 0, None, error=SpaceError)


def _optional(check):
    return lambda value, name: None if value is None else check(value, name)


# One check per setting, used for the space file, the command-line flags and SearchSettings itself:
# check(value, name) -> the normalised value, or a ValueError whose message starts with ``name``.
SETTING_CHECKS = {
    "trials": lambda value, name: check_count(value, name, MAX_TRIALS),
    "sampler": lambda value, name: checks.choice(value, name, SAMPLERS),
    "scheduler": lambda value, name: checks.choice(value, name, SCHEDULERS),
    "objectives": parse_objectives,
    "grace_period": lambda value, name: check_count(value, name, MAX_EPOCHS),
    "reduction_factor": lambda value, name: check_count(value, name, MAX_EPOCHS, minimum=2),
    "cpus_per_trial": lambda value, name: checks.number_in(value, name, 0.01, None),
    "gpus_per_trial": parse_gpus,
    "max_failures": lambda value, name: check_count(value, name, MAX_RETRIES, minimum=0),
    "max_concurrent": _optional(lambda value, name: check_count(value, name, MAX_TRIALS)),
    "time_budget": _optional(lambda value, name: checks.positive_number(value, name,
                                                                       what="a positive number of seconds")),
    "seed": check_seed,
    "duplicates": lambda value, name: checks.choice(value, name, DUPLICATE_MODES),
    "race": lambda value, name: parse_race(value, name),
}


def check_setting(field_name: str, value, name: str):
    """``value`` of the setting ``field_name`` checked and normalised; a ``SpaceError`` naming ``name`` (a key
    path such as ``search.trials`` or a flag such as ``--trials``) when it is bad."""
    try:
        return SETTING_CHECKS[field_name](value, name)
    except SpaceError:
        raise
    except ValueError as exc:
        raise SpaceError(str(exc)) from None


def parse_settings(raw, path: str = "search") -> SearchSettings:
    """The ``search`` section (None: every default) as ``SearchSettings``; unknown keys are errors."""
    raw = {} if raw is None else raw
    check_mapping(raw, path, set(SETTING_CHECKS))
    return SearchSettings(**{key: check_setting(key, value, f"{path}.{key}") for key, value in raw.items()})


def check_settings(settings: SearchSettings, train: dict, path: str = "search") -> None:
    """Checks across fields (run them after command-line flags are applied too)."""
    if settings.race is not None and len(settings.objectives) > 1:
        raise fail(f"{path}.race", "racing compares architectures on one objective; this search has "
                                   f"{len(settings.objectives)} ({', '.join(settings.objectives)})")
    if settings.race is not None and settings.duplicates == "reseed":
        raise fail(f"{path}.race", "racing chooses the seeds itself: it cannot be combined with duplicates: reseed")
    if settings.scheduler == "asha" and settings.grace_period > train["epochs"]:
        raise fail(f"{path}.grace_period", f"{settings.grace_period} is more than train.epochs "
                                           f"({train['epochs']}); ASHA's first rung must come before the last "
                                           "epoch (lower grace_period, or scheduler: none)")
    if settings.sampler in SINGLE_OBJECTIVE_SAMPLERS and len(settings.objectives) > 1:
        several = [name for name in SAMPLERS if name not in SINGLE_OBJECTIVE_SAMPLERS]
        raise fail(f"{path}.sampler", f"{settings.sampler} optimises one objective, and the search has "
                                      f"{len(settings.objectives)} ({', '.join(settings.objectives)}); use one of "
                                      f"{', '.join(several)}, or one objective")


__all__ = ["SearchSettings", "SETTING_CHECKS", "check_setting", "check_settings", "parse_settings",
           "parse_objectives", "parse_gpus", "OBJECTIVES", "SAMPLERS", "SINGLE_OBJECTIVE_SAMPLERS", "SCHEDULERS",
           "DUPLICATE_MODES"]
