"""Real Ray Tune + Optuna searches on tiny MNIST-1D data (1-2 epochs, a few hundred samples).

In-process searches share the session's Ray (``ray_session``); the kill-and-resume and two-node tests run
the driver as a subprocess, as a user would.
"""
from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# The contract of trials.csv (results/README.md documents every column).
CONTRACT = ["trial_id", "run", "family", "scheme_name", "scheme", "noise_kind", "noise_shape", "noise_param",
            "macro", "widths", "steps_per_stage", "h", "share_stage_weights", "status", "val_acc", "val_loss",
            "best_val_acc", "params", "flops", "epochs_run", "wall_time", "order", "zero_stable",
            "error_constant", "error_norm", "real_stability_interval", "feasible", "baseline", "seed", "trial_dir"]
PATTERN_COLUMNS = ("coef_A_", "coef_b_", "coef_c_", "coef_alpha_", "coef_beta_", "constraint_")


def tiny_space(**changes) -> dict:
    space = {
        "name": "tiny",
        "data": {"name": "mnist1d", "num_samples": 200, "seed": 0},
        "train": {"epochs": 2, "batch_size": 64},
        "search": {"trials": 4, "scheduler": "asha", "grace_period": 1, "seed": 0},
        "baselines": True,
        "network": {"widths": [4, 8], "steps_per_stage": [1, 2]},
        "scheme": [{"family": "runge_kutta", "label": "rk", "stages": [2, 3]},
                   {"family": "multistep", "label": "lmm", "steps": 2},
                   {"family": "named", "names": ["rk4", "heun"]}],
        "constraints": {"zero_stable": True, "max_params": 1500},
    }
    for key, value in changes.items():
        both_mappings = isinstance(value, dict) and isinstance(space.get(key), dict)
        space[key] = {**space[key], **value} if both_mappings else value
    return space


def documented_columns() -> set[str]:
    text = (ROOT / "results" / "README.md").read_text()
    section = text.split("## trials.csv columns", 1)[1]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))


def check_documented(columns) -> None:
    documented = documented_columns()
    patterns = tuple(d.split("<", 1)[0] for d in documented if "<" in d)  # coef_A_<i>_<j> -> coef_A_
    for column in columns:
        if column.startswith(PATTERN_COLUMNS):
            assert column.startswith(patterns), f"trials.csv column {column!r} matches no documented pattern"
        else:
            assert column in documented, f"trials.csv column {column!r} is not documented in results/README.md"


def run_env() -> dict:
    return {**os.environ, "MPLBACKEND": "Agg", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def test_search_writes_documented_trials_csv_trial_folders_study_and_pareto(ray_session, tmp_path):
    import optuna
    from safetensors.torch import load_file

    from nas.network_kinds import build_network
    from nas.search import run

    result = run(tiny_space(search={"objectives": ["val_acc", "params"]}), results_dir=tmp_path, progress=False)
    run_dir = tmp_path / "tiny"
    assert result.run_dir == run_dir
    frame = pd.read_csv(run_dir / "trials.csv")
    assert list(frame.columns[:5]) == CONTRACT[:5]
    assert set(CONTRACT) <= set(frame.columns)
    check_documented(frame.columns)
    assert len(frame) == 4 and frame["trial_id"].is_unique
    assert set(frame["status"]) <= {"completed", "stopped"}
    assert (frame["epochs_run"] >= 1).all() and (frame["epochs_run"] <= 2).all()

    baselines = frame[frame["baseline"]]
    assert sorted(baselines["option"]) == ["baseline_euler", "baseline_lm_resnet"]
    assert set(baselines["scheme_name"]) == {"euler", "lm_resnet"}
    # feasibility is the budget and zero-stability, as the constraint columns say
    assert (frame["feasible"] == ((frame["params"] <= 1500) & (frame["constraint_zero_stable"] <= 0))).all()

    # every trial folder rebuilds its network and loads its best weights
    for row in frame.itertuples():
        folder = run_dir / row.trial_dir
        spec = json.loads((folder / "spec.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["status"] == row.status and metrics["best"]["val_acc"] == pytest.approx(row.best_val_acc)
        model = build_network(spec)
        model.load_state_dict(load_file(folder / "weights.safetensors"))
        assert sum(p.numel() for p in model.parameters()) == row.params
        assert json.loads((folder / "train_config.json").read_text())["epochs"] == 2

    # the Optuna study lives in the run folder, one finished trial per Tune trial, constraints attached
    storage = optuna.storages.RDBStorage(f"sqlite:///{run_dir / 'optuna.db'}")
    study = optuna.load_study(study_name="tiny", storage=storage)
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.user_attrs["tune_trial_id"] for t in trials) == sorted(frame["trial_id"])
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    by_id = frame.set_index("trial_id")
    for t in trials:
        row = by_id.loc[t.user_attrs["tune_trial_id"]]
        assert t.constraints["max_params"] == pytest.approx(row["constraint_max_params"])
        assert t.values == pytest.approx([row["val_acc"], row["params"]])

    config = json.loads((run_dir / "search.json").read_text())
    assert config["data"]["name"] == "mnist1d" and config["data"]["num_samples"] == 200
    assert config["train"]["epochs"] == 2 and config["settings"]["objectives"] == ["val_acc", "params"]

    # pareto.csv: the non-dominated scored feasible trials in (val_acc max, params min)
    pareto = pd.read_csv(run_dir / "pareto.csv")
    scored = frame[frame["status"].isin(["completed", "stopped"]) & frame["feasible"]]
    values = np.column_stack([-scored["val_acc"], scored["params"]])

    def dominated(v):
        return bool(np.any(np.all(values <= v, axis=1) & np.any(values < v, axis=1)))

    front_ids = set(pareto["trial_id"])
    assert front_ids, "an empty Pareto front"
    for trial_id, v in zip(scored["trial_id"], values):
        assert (trial_id in front_ids) == (not dominated(v))


def test_diverged_trials_are_recorded_and_the_search_goes_on(ray_session, tmp_path):
    from nas.search import run

    space = tiny_space(train={"epochs": 2, "batch_size": 64, "lr": 1e12, "schedule": "constant"},
                       search={"trials": 2, "scheduler": "none"}, baselines=False)
    run(space, name="nan", results_dir=tmp_path, progress=False)
    frame = pd.read_csv(tmp_path / "nan" / "trials.csv")
    assert len(frame) == 2
    assert set(frame["status"]) == {"diverged"}
    assert (frame["val_acc"] == 0).all() and frame["val_loss"].isna().all()
    for row in frame.itertuples():
        metrics = json.loads((tmp_path / "nan" / row.trial_dir / "metrics.json").read_text())
        assert "loss became" in metrics["message"]


@pytest.mark.slow
def test_a_trial_whose_worker_dies_is_retried_from_its_last_epoch(ray_session, tmp_path):
    import threading

    from nas.search import run

    space = tiny_space(data={"num_samples": 1500}, train={"epochs": 4, "batch_size": 64},
                       search={"trials": 1, "scheduler": "none"}, baselines=False,
                       scheme={"family": "named", "names": ["rk4"]}, network={"steps_per_stage": 2})
    trials = tmp_path / "die" / "trials"
    killed = []

    def kill_the_worker_after_its_first_epoch():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            # published trial folders only: a hidden staging folder is renamed away while being read
            for state in trials.glob("[!.]*/.resume_state.pt"):
                try:
                    metrics = json.loads((state.parent / "metrics.json").read_text())
                except (OSError, ValueError):
                    continue
                os.kill(metrics["pid"], signal.SIGKILL)
                killed.append(metrics)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_worker_after_its_first_epoch, daemon=True)
    killer.start()
    run(space, name="die", results_dir=tmp_path, progress=False)
    killer.join(timeout=5)
    assert killed, "the worker was never killed"
    frame = pd.read_csv(tmp_path / "die" / "trials.csv")
    assert len(frame) == 1 and frame.loc[0, "status"] == "completed" and frame.loc[0, "epochs_run"] == 4
    metrics = json.loads((tmp_path / "die" / frame.loc[0, "trial_dir"] / "metrics.json").read_text())
    assert metrics["pid"] != killed[0]["pid"]  # a new worker finished it ...
    assert metrics["resumed_from_epoch"] >= 1  # ... from its saved state, not from scratch


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def completed_trials(run_dir: Path) -> list[Path]:
    out = []
    for path in (run_dir / "trials").glob("*/metrics.json"):
        try:
            if json.loads(path.read_text())["status"] == "completed":
                out.append(path)
        except (OSError, ValueError):
            pass
    return out


@pytest.mark.slow
def test_killed_driver_is_resumed_without_losing_or_repeating_trials(tmp_path):
    import optuna

    space_file = tmp_path / "resume.yaml"
    space_file.write_text(yaml.safe_dump(tiny_space(
        name="resume", train={"epochs": 3, "batch_size": 64}, search={"trials": 5, "scheduler": "none"},
        data={"num_samples": 300})))
    results = tmp_path / "results"
    run_dir = results / "resume"
    command = [sys.executable, "-m", "nas.cli", "search", str(space_file), "--results-dir", str(results)]
    driver = subprocess.Popen(command, env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        first = wait_for(lambda: completed_trials(run_dir), 240, "the first completed trial")[0]
        before = first.read_bytes(), first.stat().st_mtime_ns
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray it started, at once
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert not (run_dir / "trials.csv").exists()

    done = subprocess.run([*command, "--resume"], env=run_env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    frame = pd.read_csv(run_dir / "trials.csv")
    # 5 trials, plus any that completed after Tune's last experiment snapshot before the kill: Tune forgets
    # those and trains their slot again; those whose result reached Optuna keep their row (write_outputs)
    assert len(frame) >= 5 and frame["trial_id"].is_unique
    # A resumed trial whose training a forgotten folder had completed reports it as its duplicate instead of
    # training it again; that folder keeps its row, which the duplicate's row names.
    trained = frame[frame["status"] != "duplicate"]
    assert set(trained["status"]) == {"completed"} and (trained["epochs_run"] == 3).all()
    duplicates = frame[frame["status"] == "duplicate"]
    assert set(duplicates["duplicate_of"].astype(str)) <= set(trained["trial_id"])
    # the trial that had finished before the kill was not run again
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before
    for row in trained.itertuples():
        history = json.loads((run_dir / row.trial_dir / "metrics.json").read_text())
        assert history["final"]["epoch"] == 3
    study = optuna.load_study(study_name="resume",
                              storage=optuna.storages.RDBStorage(f"sqlite:///{run_dir / 'optuna.db'}"))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    told = {t.user_attrs["tune_trial_id"] for t in complete}
    # every result the study holds has its row; a row the study does not hold is an original that a resumed
    # duplicate reported (the study heard its value through the duplicate)
    assert told <= set(frame["trial_id"])
    assert set(frame["trial_id"]) - told <= set(duplicates["duplicate_of"].astype(str))
    # an Optuna trial whose Tune trial was lost with the driver ends as FAIL with the reason, never RUNNING forever
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in study.get_trials(deepcopy=False))
    assert "Leaderboard" in done.stdout


@pytest.mark.slow
def test_two_node_cluster_with_s3_storage_puts_every_nodes_trials_in_the_bucket(tmp_path, s3_uri):
    from ray.cluster_utils import Cluster

    from nas.storage import Location

    cluster = Cluster(initialize_head=True, connect=False,
                      head_node_args={"num_cpus": 1, "include_dashboard": False,
                                      "object_store_memory": 80 * 1024**2})
    try:
        cluster.add_node(num_cpus=1, object_store_memory=80 * 1024**2)
        cluster.wait_for_nodes()
        space_file = tmp_path / "cluster.yaml"
        space_file.write_text(yaml.safe_dump(tiny_space(name="cluster", search={"trials": 4, "scheduler": "none"},
                                                        baselines=False)))
        root = s3_uri("runs")
        done = subprocess.run([sys.executable, "-m", "nas.cli", "search", str(space_file), "--address",
                               cluster.address, "--storage", root],
                              env={**run_env(), "NAS_DRIVER_DIR": str(tmp_path / "driver")}, cwd=tmp_path,
                              capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, done.stderr[-2000:]
        run = Location.from_uri(root) / "cluster"
        frame = pd.read_csv(io.StringIO(run.read_text("trials.csv")))
        assert len(frame) == 4 and set(frame["status"]) == {"completed"}
        nodes = {node.node_id for node in cluster.list_all_nodes()}
        assert len(nodes) == 2 and set(frame["node"]) == nodes
        for row in frame.itertuples():  # the second node's trials too: their folders are in the bucket
            metrics = json.loads((run / row.trial_dir).read_text("metrics.json"))
            assert metrics["node_id"] == row.node and (run / row.trial_dir).is_file("weights.safetensors")
        assert not (tmp_path / "results").exists()
    finally:
        cluster.shutdown()
