"""The searcher: Ray Tune's ``OptunaSearch`` with constraints, duplicate detection and its own concurrency.

A module-level class, so that Tune's pickled experiment (``tuner.pkl``, the searcher state) refers to it by name:
a resumed run executes the installed code, never a copy saved with the run.

OptunaSearch that hands the trial's constraint values to Optuna before telling the result, never
trains one configuration twice (``nas.search.duplicates``) and limits the trials that train at once.

Ray's OptunaSearch does not pass constraints through (STACK.md); the trainable reports them as
``constraint_<name>`` metrics and they are set here with ``trial.set_constraint`` (≤ 0: feasible).

Racing (``nas.search.racing``, ``search: {race: ...}``): the baselines are queued once per seed of the race's
list; when an architecture finishes its full budget, the race's policy may ask for more seeds of it, and each
is queued as an Optuna trial with the same parameters (``study.enqueue_trial``) and the seed as the user
attribute ``race_seed``. So the study hears every seed as a trial of its own with the same parameters: TPE's
model sees the objective's noise as repeated observations of one point, as it would with a noisy objective,
and no finished trial's value is ever rewritten (Optuna cannot change one). Re-runs carry ``raced`` in their
config, and ASHA never stops them (``nas.search.scheduler``).

Concurrency is counted here (``set_max_concurrency`` returns True, so Tune's ``ConcurrencyLimiter`` leaves
it to us): only trials that train count, so a duplicate, which reports a recorded result at once, never
waits for a slot and never takes one.
"""
from __future__ import annotations

import math

import optuna
from ray.tune.search.optuna import OptunaSearch

from nas.vocabulary import DUPLICATE_STATUS

from .duplicates import DUPLICATE_OF, TRAIN_SEED, trial_seed
from .space import BASELINES

RACE_SEED = "race_seed"  # user attribute of a queued race trial: the seed it trains with
RACED = "raced"  # config key of a re-run on a later seed of the race (never stopped early)


class ConstrainedOptunaSearch(OptunaSearch):
    """OptunaSearch with constraints, duplicate detection and concurrency counted over training trials."""

    def __init__(self, *args, constraint_names=(), baselines=(), index=None, total=None, race=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._constraint_names = tuple(constraint_names)
        self._index = index  # nas.search.duplicates.TrainingIndex, or None: no duplicate detection
        self._total = total  # Tune's num_samples: proposals held plus trials started never exceed it
        self._started = 0
        self._held = []  # (optuna trial, config, original trial id): duplicates of a running trial
        self._training = set()  # trial ids that train (not duplicates)
        self._max_training = None
        # Baseline trials are queued first and recognised by the define-by-run function through their
        # user attribute (a fresh searcher only: a restored one is unpickled, not constructed).
        self._race = race  # nas.search.racing.Race, or None
        self._configs = {}  # trial id -> config (racing: what a finished trial trained)
        self._race_params = {}  # architecture id -> (Optuna params, user attributes) to queue it again
        for seed in (race.seeds if race is not None else (None,)):
            for label in baselines:
                self._ot_study.enqueue_trial({}, user_attrs={"baseline": label,
                                                             **({} if seed is None else {RACE_SEED: seed})})

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self._max_training = max_concurrent
        return True

    def _slot_free(self) -> bool:
        return self._max_training is None or len(self._training) < self._max_training

    def _start(self, trial_id, config, original=None):
        self._started += 1
        if original is None:
            self._training.add(trial_id)
            if self._race is not None:
                self._race.started()
                self._configs[trial_id] = config
        return config

    def _race_config(self, trial_id, config: dict) -> dict:
        """A queued race trial trains on its seed; a re-run after the first seed is marked ``raced``."""
        seed = self._ot_trials[trial_id].user_attrs.get(RACE_SEED)
        if seed is None:
            return config
        return {**config, TRAIN_SEED: int(seed), **({RACED: True} if seed != self._race.seeds[0] else {})}

    def suggest(self, trial_id):
        released = self._release(trial_id)
        if released is not None:
            return released
        if not self._slot_free() or (self._total is not None and self._started + len(self._held) >= self._total):
            return None
        config = super().suggest(trial_id)
        if self._race is not None and isinstance(config, dict):
            config = self._race_config(trial_id, config)
        if self._index is None or not isinstance(config, dict):
            return self._start(trial_id, config) if isinstance(config, dict) else config
        kind, config, original = self._index.admit(trial_id, config)
        if kind == "wait":  # held, not started: the Optuna trial is handed to a later Tune trial id
            self._held.append((self._ot_trials.pop(trial_id), config, original))
            return None
        if kind == "duplicate":
            self._ot_trials[trial_id].set_user_attr(DUPLICATE_OF, original)
        return self._start(trial_id, config, original if kind == "duplicate" else None)

    def _release(self, trial_id):
        """A held proposal that can start now as ``trial_id``: its original finished (a duplicate) or
        failed (it is admitted again, and trains if nothing else trains it)."""
        for position, (ot_trial, config, original) in enumerate(self._held):
            if original in self._index.results:
                del self._held[position]
                self._ot_trials[trial_id] = ot_trial
                ot_trial.set_user_attr(DUPLICATE_OF, original)
                return self._start(trial_id, self._index.mark(config, original), original)
            if original not in self._index.originals.values() and self._slot_free():
                kind, config, new_original = self._index.admit(trial_id, config)
                if kind == "wait":
                    self._held[position] = (ot_trial, config, new_original)
                    continue
                del self._held[position]
                self._ot_trials[trial_id] = ot_trial
                return self._start(trial_id, config, new_original if kind == "duplicate" else None)
        return None

    # After a killed driver is resumed, the searcher state (an older snapshot) may not know that Optuna
    # already holds a trial's result: the study is the record, so such a trial is not told twice.
    def on_trial_result(self, trial_id, result):
        try:
            super().on_trial_result(trial_id, result)
        except optuna.exceptions.UpdateFinishedTrialError:
            self._completed_trials.add(trial_id)

    def on_trial_complete(self, trial_id, result=None, error=False):
        self._training.discard(trial_id)
        if self._race is not None:
            self._race_result(trial_id, result, error)
        if self._index is not None:
            if error:
                self._index.failed(trial_id)
            else:
                self._index.finished(trial_id, result)
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is not None and trial_id not in self._completed_trials:
            result = result or {}
            try:
                ot_trial.set_user_attr("tune_trial_id", trial_id)
            except optuna.exceptions.UpdateFinishedTrialError:
                self._completed_trials.add(trial_id)
                return
            if "status" in result:
                ot_trial.set_user_attr("status", str(result["status"]))
            for name in self._constraint_names:
                value = result.get(f"constraint_{name}")
                # A trial that never reported its constraints is counted as infeasible.
                ot_trial.set_constraint(name, 1.0 if value is None else float(value))
        super().on_trial_complete(trial_id, result=result, error=error)


    def restore(self, checkpoint_path: str):
        """Tune restores the searcher's state (an older snapshot after a SIGKILL); the Optuna study is newer."""
        super().restore(checkpoint_path)
        self._end_lost_trials()

    def _end_lost_trials(self) -> None:
        """Study trials still RUNNING that the restored state does not know belong to Tune trials forgotten with
        the killed driver: nothing will ever tell them. Each ends as FAIL with the reason in its user attribute
        ``lost`` (not RUNNING forever in optuna-dashboard); a race trial among them (a baseline's or a
        contender's seed) is queued again, so that no seed of the race goes missing (the trainable reports, not
        retrains, one whose training completed in a forgotten folder)."""
        known = {t.number for t in self._ot_trials.values()} | {t.number for t, _, _ in self._held}
        for frozen in self._ot_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if frozen.number in known:
                continue
            queued = {k: v for k, v in frozen.user_attrs.items() if k in ("baseline", RACE_SEED)}
            if RACE_SEED in queued:
                self._ot_study.enqueue_trial(dict(frozen.params), user_attrs=queued)
            trial = optuna.trial.Trial(self._ot_study, frozen._trial_id)
            trial.set_user_attr("lost", "its Tune trial was lost when the driver was killed (resumed run)")
            self._ot_study.tell(frozen.number, state=optuna.trial.TrialState.FAIL)

    def _race_result(self, trial_id, result, error) -> None:
        """Tell the race what a trial that trained found, and queue the re-runs it asks for."""
        config = self._configs.pop(trial_id, None)
        if config is None or self._index is None:
            return  # a duplicate (another trial's result) or a trial this searcher did not start
        seed = trial_seed(config, self._index.seed)
        ids = self._index.identify(config, seed)
        if ids is None:
            return
        architecture = ids[0]
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is not None and architecture not in self._race_params:
            attrs = {k: v for k, v in ot_trial.user_attrs.items() if k == "baseline"}
            self._race_params[architecture] = (dict(ot_trial.params), attrs)
        if config.get("scheme") in BASELINES:
            self._race.baseline(architecture)
        value = None if error or not result else result.get(self._metric)
        # "duplicate": a resumed run's trial found the same training completed in a folder Tune forgot
        full_budget = (result or {}).get("status") in ("completed", DUPLICATE_STATUS)
        if value is None or not full_budget or not math.isfinite(float(value)):
            self._race.forget(architecture, seed)  # stopped early, diverged or failed: no full-budget result
        else:
            self._race.record(architecture, seed, float(value) if self._mode == "max" else -float(value))
        for again, next_seed in self._race.next_runs():
            params, attrs = self._race_params[again]
            self._ot_study.enqueue_trial(params, user_attrs={**attrs, RACE_SEED: next_seed})

__all__ = ["ConstrainedOptunaSearch", "RACED", "RACE_SEED"]
