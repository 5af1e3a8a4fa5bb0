"""Every sampler ``nas search --sampler`` offers runs a real search (issue 22, defect 2: nsga2 never worked,
Ray pickles the Tuner with its searcher and Optuna's NSGA-II sampler holds a lock), and a new search that
fails before its first trial leaves no half-written run folder behind."""
from __future__ import annotations

import pickle

import pandas as pd
import pytest
from test_search_run import tiny_space

from nas.search.space import OBJECTIVES, SAMPLERS, SINGLE_OBJECTIVE_SAMPLERS

# Sampling only (no baselines: every trial is the sampler's proposal), 3 trials of at most 2 epochs.
SETTINGS = {"trials": 3, "scheduler": "asha", "grace_period": 1, "seed": 0}
CASES = [(sampler, objectives) for sampler in SAMPLERS for objectives in (["val_acc"], ["val_acc", "params"])]


def sampler_space(sampler: str, objectives) -> dict:
    return tiny_space(baselines=False, search={**SETTINGS, "sampler": sampler, "objectives": objectives})


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_sampler_pickles_and_samples_after_unpickling(name):
    import optuna

    from nas.search.run import make_sampler

    sampler = pickle.loads(pickle.dumps(make_sampler(name, 0)))
    study = optuna.create_study(sampler=sampler, direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_float("y", 0, 1), n_trials=4)
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 4
    pickle.dumps(sampler)  # still picklable after use (Tune snapshots the searcher during the search)


@pytest.mark.slow
@pytest.mark.parametrize("sampler,objectives", CASES, ids=[f"{s}-{len(o)}obj" for s, o in CASES])
def test_every_sampler_runs_a_real_search(ray_session, tmp_path, sampler, objectives):
    import optuna

    from nas.search import run

    if len(objectives) > 1 and sampler in SINGLE_OBJECTIVE_SAMPLERS:
        with pytest.raises(ValueError, match=f"search.sampler: {sampler} optimises one objective"):
            run(sampler_space(sampler, objectives), results_dir=tmp_path, progress=False)
        assert list(tmp_path.iterdir()) == []
        return
    run(sampler_space(sampler, objectives), results_dir=tmp_path, progress=False)
    run_dir = tmp_path / "tiny"
    frame = pd.read_csv(run_dir / "trials.csv")
    assert len(frame) == 3 and set(frame["status"]) <= {"completed", "stopped", "duplicate"}, frame["status"]
    assert (run_dir / "pareto.csv").exists() == (len(objectives) > 1)
    study = optuna.load_study(study_name="tiny", storage=optuna.storages.RDBStorage(
        f"sqlite:///{run_dir / 'optuna.db'}"))
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 3 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert [d.name.lower()[:3] for d in study.directions] == [OBJECTIVES[o] for o in objectives]  # max, min
    assert all(len(t.values) == len(objectives) for t in trials)


@pytest.mark.slow
def test_a_search_that_fails_before_its_first_trial_leaves_nothing_behind(ray_session, tmp_path, monkeypatch):
    import sys

    import optuna

    from nas.search import run

    run_module = sys.modules["nas.search.run"]  # the package attribute ``run`` is the function
    # The sampler that broke every nsga2 search: Optuna's own, with its lock (cannot be pickled).
    monkeypatch.setattr(run_module, "make_sampler", lambda name, seed: optuna.samplers.NSGAIISampler(seed=seed))
    with pytest.raises(TypeError, match="pickle"):
        run(sampler_space("nsga2", ["val_acc"]), results_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []  # no run folder, no study: the same command can run again
    monkeypatch.undo()
    run(sampler_space("nsga2", ["val_acc"]), results_dir=tmp_path, progress=False)
    assert len(pd.read_csv(tmp_path / "tiny" / "trials.csv")) == 3
