"""Racing end to end (nas.search.racing in a real Ray Tune + Optuna search on tiny MNIST-1D): re-runs of an
architecture on the next seeds of the list, baselines on every seed, ASHA never stopping a re-run, and a
SIGKILL'd driver resumed without training any (architecture, seed) pair twice."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from driver_control import signal_when
from test_search_run import completed_trials, run_env, tiny_space

SEEDS = [3, 4, 5]  # search seed 3, max_seeds 3


def raced_space(**changes) -> dict:
    return tiny_space(**{"train": {"epochs": 2, "batch_size": 64},
                         "search": {"trials": 11, "scheduler": "asha", "grace_period": 1, "seed": 3,
                                    "race": {"max_seeds": 3, "share": 0.5}},
                         "network": {"widths": [4, 8], "steps_per_stage": 2}, "constraints": {}, **changes})


def epochs_trained(run_dir) -> dict[tuple[str, int], list[int]]:
    """(architecture_id, seed) -> the epochs each folder trained of it (duplicates report, they do not train;
    a folder that continued another's state trained from its ``resumed_from_epoch``)."""
    pairs: dict = {}
    for path in (run_dir / "trials").glob("*/metrics.json"):
        metrics = json.loads(path.read_text())
        if metrics.get("status") not in ("duplicate", None) and metrics.get("architecture_id"):
            seed = metrics["config"].get("train_seed") or SEEDS[0]
            trained = metrics["epochs_run"] - (metrics.get("resumed_from_epoch") or 0)
            pairs.setdefault((metrics["architecture_id"], seed), []).append(trained)
    return pairs


def check_trained_once(run_dir, epochs: int = 2) -> None:
    for pair, trained in epochs_trained(run_dir).items():
        assert sum(trained) <= epochs, (pair, trained)  # never more epochs than one training of it


def check_raced(frame: pd.DataFrame) -> None:
    baselines = frame[frame["baseline"]]
    for option, group in baselines.groupby("option"):  # every baseline on every seed of the list
        assert sorted(group["seed"]) == SEEDS, option
        assert group["architecture_id"].nunique() == 1
    searched = frame[~frame["baseline"] & (frame["status"] != "duplicate")]
    raced = searched.groupby("architecture_id")["seed"].apply(sorted)
    assert all(seeds == SEEDS[:len(seeds)] for seeds in raced), raced  # consecutive seeds of the list
    reruns = searched[searched["seed"] != SEEDS[0]]
    assert len(reruns) and (reruns["status"] == "completed").all()  # ASHA never stops a re-run
    assert (reruns["epochs_run"] == 2).all()


@pytest.mark.slow
def test_raced_search_reruns_contenders_on_the_next_seeds_and_baselines_on_every_seed(ray_session, tmp_path):
    from nas.search import run

    run(raced_space(), results_dir=tmp_path, progress=False)
    run_dir = tmp_path / "tiny"
    frame = pd.read_csv(run_dir / "trials.csv")
    assert (frame["status"] == "stopped").any()  # ASHA was on and did stop first-seed trials
    check_raced(frame)
    assert json.loads((run_dir / "search.json").read_text())["settings"]["race"] == {"max_seeds": 3, "share": 0.5}
    check_trained_once(run_dir)


@pytest.mark.slow
def test_killed_raced_search_resumes_without_training_a_pair_twice(tmp_path):
    space_file = tmp_path / "race.yaml"
    space_file.write_text(yaml.safe_dump(raced_space(name="race", search={
        "trials": 10, "scheduler": "none", "seed": 3, "race": {"max_seeds": 3, "share": 0.5}})))
    results = tmp_path / "results"
    run_dir = results / "race"
    command = [sys.executable, "-m", "nas.cli", "search", str(space_file), "--results-dir", str(results)]
    driver = subprocess.Popen(command, env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    status = signal_when(driver, lambda: len(completed_trials(run_dir)) >= 4, signal.SIGKILL, "the raced search")
    assert status == -signal.SIGKILL
    done = subprocess.run([*command, "--resume"], env=run_env(), capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, done.stderr[-2000:]
    frame = pd.read_csv(run_dir / "trials.csv")
    check_raced(frame[frame["status"] != "duplicate"])
    check_trained_once(run_dir)
    # no Optuna trial stays RUNNING forever: one whose Tune trial was lost with the driver ends as FAIL, saying so
    import optuna

    study = optuna.load_study(study_name="race", storage=f"sqlite:///{run_dir / 'optuna.db'}")
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert optuna.trial.TrialState.RUNNING not in states
    assert all("lost" in t.user_attrs for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,)))
