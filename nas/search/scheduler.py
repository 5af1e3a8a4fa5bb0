"""How Tune treats the search's reference trials: baselines run the full budget, duplicates cost nothing.

- ``ReferenceExemptASHA``: ASHA (Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys
  2020) that never stops a baseline trial early -- ``vs_resnet`` compares against a ResNet trained for the
  whole budget, not one cut at a rung -- nor a re-run of a raced architecture (``nas.search.racing``: its
  seeds are compared at the full budget), and leaves duplicates out of its rungs: a duplicate reports
  another trial's result, which must not be counted twice in the rung cut-offs.
- ``TrialResources``: per-trial resources as a function of the config (``tune.with_resources`` accepts one):
  the search's CPU / GPU share for a trial that trains, a sliver of one CPU for a duplicate, which only
  reports a recorded result, so it never waits for a CPU that a training trial holds.

This module imports Ray: the search driver imports it lazily.
"""
from __future__ import annotations

from dataclasses import dataclass

from ray.tune.execution.placement_groups import PlacementGroupFactory
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from .duplicates import is_duplicate
from .space import BASELINES

DUPLICATE_CPU = 0.01


def is_baseline(config) -> bool:
    return (config or {}).get("scheme") in BASELINES


def is_exempt(config) -> bool:
    """Baselines and re-runs of a raced architecture train their full budget (never stopped early)."""
    return is_baseline(config) or bool((config or {}).get("raced"))


class ReferenceExemptASHA(ASHAScheduler):
    """ASHA that lets baselines run every epoch and does not see duplicates (see the module docstring)."""

    def on_trial_result(self, tune_controller, trial, result):
        if is_duplicate(trial.config):
            return TrialScheduler.CONTINUE  # one report of another trial's result: nothing to decide
        action = super().on_trial_result(tune_controller, trial, result)
        # The baseline's results still enter the rungs (they are real results); only the stop is refused.
        # At max_t the trial ends by itself: that STOP is not an early stop.
        if (action == TrialScheduler.STOP and is_exempt(trial.config)
                and result.get(self._time_attr, 0) < self._max_t):
            self._num_stopped -= 1
            return TrialScheduler.CONTINUE
        return action

    def on_trial_complete(self, tune_controller, trial, result):
        if is_duplicate(trial.config):
            self._trial_info.pop(trial.trial_id, None)
            return
        super().on_trial_complete(tune_controller, trial, result)


@dataclass(frozen=True)
class TrialResources:
    """``config -> PlacementGroupFactory``: ``cpu`` / ``gpu`` per training trial, ``DUPLICATE_CPU`` for a
    duplicate."""

    cpu: float
    gpu: float = 0.0

    def __call__(self, config) -> PlacementGroupFactory:
        if is_duplicate(config):
            return PlacementGroupFactory([{"CPU": DUPLICATE_CPU}])
        bundle = {"CPU": self.cpu}
        if self.gpu:
            bundle["GPU"] = self.gpu
        return PlacementGroupFactory([bundle])


__all__ = ["ReferenceExemptASHA", "TrialResources", "is_baseline", "is_exempt", "DUPLICATE_CPU"]
