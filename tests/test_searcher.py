"""The searcher (nas.search.searcher.ConstrainedOptunaSearch) called directly: proposals, duplicates held and
released, concurrency, racing's queue; the private attributes of Ray's OptunaSearch it relies on (a contract
that fails loudly on a Ray upgrade); and a pickled searcher refers to the installed class, never to a copy."""
from __future__ import annotations

import pickle

import optuna
import pytest
import ray
from test_search_run import tiny_space

from nas.search.duplicates import DUPLICATE_OF, TRAIN_SEED, TrainingIndex
from nas.search.racing import Race, RaceSettings
from nas.search.searcher import RACED, ConstrainedOptunaSearch
from nas.search.space import load_space

ONE_ARCHITECTURE = {"network": {"widths": [4, 8], "steps_per_stage": 1},
                    "scheme": [{"family": "named", "names": "heun"}], "constraints": {}}


def searcher(race=None, baselines=True, **changes):
    space = load_space(tiny_space(**{**ONE_ARCHITECTURE, "baselines": baselines, **changes}))
    index = TrainingIndex(space=space, macro="sequence", in_channels=1, num_classes=10, train=space.train, seed=0)
    study = optuna.storages.InMemoryStorage()
    return ConstrainedOptunaSearch(space=space.sampler_function(), metric="val_acc", mode="max",
                                   sampler=optuna.samplers.RandomSampler(seed=0), study_name="unit", storage=study,
                                   baselines=space.baseline_labels(), index=index, total=20,
                                   race=None if race is None else Race.of(race, 0))


def done(result_value=0.5, status="completed"):
    return {"val_acc": result_value, "status": status, "epoch": 2}


def test_baselines_are_proposed_first_then_the_space():
    search = searcher()
    assert [search.suggest(f"t{i}")["scheme"] for i in range(2)] == ["baseline_euler", "baseline_lm_resnet"]
    assert search.suggest("t2")["scheme"] == "named"


def test_a_duplicate_of_a_running_trial_is_held_then_released_as_a_duplicate():
    search = searcher(baselines=False)
    first = search.suggest("t0")
    assert DUPLICATE_OF not in first
    assert search.suggest("t1") is None  # the same training, still running: held, no slot taken
    search.on_trial_complete("t0", done(0.75))
    released = search.suggest("t2")  # the held proposal starts now, as a duplicate of t0 with its result
    assert released[DUPLICATE_OF] == "t0" and released["duplicate_result"]["val_acc"] == 0.75
    trials = search._ot_study.get_trials(deepcopy=False)
    assert trials[0].state == optuna.trial.TrialState.COMPLETE and trials[0].value == 0.75


def test_concurrency_counts_only_trials_that_train():
    search = searcher(baselines=False, scheme=[{"family": "named", "names": ["heun", "rk4", "ralston"]}])
    search.set_max_concurrency(1)
    assert search.suggest("t0") is not None
    assert search.suggest("t1") is None  # one trains: no second slot
    search.on_trial_complete("t0", done())
    assert search.suggest("t2") is not None


def test_racing_queues_every_baseline_seed_and_re_runs_of_a_contender_marked_raced():
    search = searcher(race=RaceSettings(max_seeds=2, share=1.0))
    baselines = [search.suggest(f"b{i}") for i in range(4)]  # 2 baselines x 2 seeds, queued first
    assert sorted((c["scheme"], c[TRAIN_SEED]) for c in baselines) == [
        ("baseline_euler", 0), ("baseline_euler", 1), ("baseline_lm_resnet", 0), ("baseline_lm_resnet", 1)]
    assert [RACED in c for c in baselines].count(True) == 2  # the second seed of each is a re-run
    for i in range(4):
        search.on_trial_complete(f"b{i}", done(0.5))
    first = search.suggest("t0")
    search.on_trial_complete("t0", done(0.9))  # better than the incumbent on seed 0: raced on seed 1
    again = search.suggest("t1")
    assert again[TRAIN_SEED] == 1 and again[RACED] and again["scheme"] == first["scheme"]


def test_ray_optuna_search_still_has_the_private_state_the_searcher_uses():
    """``ConstrainedOptunaSearch`` reads ``_ot_trials`` (Tune trial id -> optuna Trial), ``_ot_study``,
    ``_completed_trials``, ``_metric`` and ``_mode`` of Ray's ``OptunaSearch`` and overrides ``restore``. This
    test is why ``pyproject.toml`` bounds ``ray`` below the next minor release: a Ray that changes them must
    fail here, not in a user's search."""
    search = searcher(baselines=False)
    search.suggest("t0")
    assert isinstance(search._ot_trials, dict) and isinstance(search._ot_trials["t0"], optuna.trial.Trial)
    assert isinstance(search._ot_study, optuna.Study)
    assert isinstance(search._completed_trials, set)
    assert (search._metric, search._mode) == ("val_acc", "max")
    search.on_trial_complete("t0", done())
    assert search._ot_study.get_trials(deepcopy=False)[0].state == optuna.trial.TrialState.COMPLETE
    major, minor = (int(p) for p in ray.__version__.split(".")[:2])
    assert (major, minor) <= (2, 60), f"ray {ray.__version__}: check this contract, then raise the bound"


def test_a_pickled_searcher_refers_to_the_installed_class_so_a_resumed_run_runs_the_installed_code(monkeypatch):
    from ray import cloudpickle

    search = searcher(baselines=False)
    saved = cloudpickle.dumps(search)  # what Tune writes into tuner.pkl and the searcher state
    assert b"nas.search.searcher" in saved and b"ConstrainedOptunaSearch" in saved
    # A fix made after the run started (here: a patched method of the installed class) reaches the restored
    # searcher: the class is looked up by name on unpickling, its code is not in the file.
    monkeypatch.setattr(ConstrainedOptunaSearch, "_slot_free", lambda self: "installed code")
    restored = pickle.loads(saved)
    assert type(restored) is ConstrainedOptunaSearch and restored._slot_free() == "installed code"
