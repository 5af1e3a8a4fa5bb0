"""Searches whose run folder is in an object store: moto's S3 server on localhost (``s3_server``), the driver
as a subprocess as a user runs it. Trials, trials.csv, the resumable states and the run files are in the
bucket; nothing is written to a local results folder; the leaderboard, export and ``nas.load`` read the
bucket; a driver killed with SIGKILL resumes from the bucket with every trial finished once; ``nas evaluate``
of a run in the bucket writes its evaluation there and nothing locally."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from nas.storage import Location
from test_search_run import run_env, tiny_space, wait_for

pytestmark = pytest.mark.slow


def storage_env(tmp_path) -> dict:
    return {**run_env(), "NAS_DRIVER_DIR": str(tmp_path / "driver")}


def cli(*args, env, cwd, timeout=400):
    return subprocess.run([sys.executable, "-m", "nas.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def search_in_bucket(tmp_path, s3_uri, space: dict):
    """``nas search`` of ``space`` into the bucket's ``runs`` prefix, from an empty local working folder:
    ``(root URI, working folder, environment, completed process)``."""
    space_file = tmp_path / f"{space['name']}.yaml"
    space_file.write_text(yaml.safe_dump(space))
    root = s3_uri("runs")
    work = tmp_path / "work"
    work.mkdir()
    env = storage_env(tmp_path)
    return root, work, env, cli("search", str(space_file), "--storage", root, env=env, cwd=work)


def test_search_in_s3_then_leaderboard_export_and_load_read_the_bucket(s3_uri, tmp_path):
    import optuna
    import torch

    import nas

    root, work, env, done = search_in_bucket(tmp_path, s3_uri, tiny_space(
        name="s3run", train={"epochs": 1, "batch_size": 64}, search={"trials": 3, "scheduler": "none"},
        baselines=False))
    assert done.returncode == 0, done.stderr[-2000:]
    # Library chatter (Ray's token-authentication banner, Ray / Tune / Optuna logs) stays in the run's log.
    assert done.stderr == ""
    assert "Token authentication" not in done.stdout and "Leaderboard" in done.stdout
    assert list(work.iterdir()) == []  # no local results folder

    run = Location.from_uri(root) / "s3run"
    assert {"search.json", "trials.csv", "trials", "tune", "optuna.db", "search.log"} <= set(run.list())
    assert "ray" in run.read_text("search.log")
    frame = pd.read_csv(io.StringIO(run.read_text("trials.csv")), dtype={"trial_id": str})
    assert len(frame) == 3 and set(frame["status"]) == {"completed"}
    for row in frame.itertuples():
        assert row.trial_dir == f"trials/{row.trial_id}"
        assert {"spec.json", "train_config.json", "metrics.json", "weights.safetensors"} <= set(
            (run / row.trial_dir).list())
        assert json.loads((run / row.trial_dir).read_text("metrics.json"))["device"] == "cpu"
    # The study stayed with the driver (SQLite under NAS_DRIVER_DIR) and opens with Optuna's storage API,
    # the one optuna-dashboard uses; its copy beside the run holds the same trials.
    study_file = tmp_path / "driver" / "runs" / "s3" / run.path / "optuna.db"
    study = optuna.load_study(study_name="s3run", storage=optuna.storages.RDBStorage(f"sqlite:///{study_file}"))
    assert sorted(t.user_attrs["tune_trial_id"] for t in study.trials) == sorted(frame["trial_id"])
    (tmp_path / "copy.db").write_bytes(run.read_bytes("optuna.db"))
    copy = optuna.load_study(study_name="s3run", storage=f"sqlite:///{tmp_path / 'copy.db'}")
    assert len(copy.trials) == 3

    board = cli("leaderboard", run.uri, "--format", "csv", env=env, cwd=work)
    assert board.returncode == 0, board.stderr
    ranked = pd.read_csv(io.StringIO(board.stdout), dtype={"trial_id": str})
    assert sorted(ranked["trial_id"]) == sorted(frame["trial_id"])
    exported = cli("export", "s3run", "--results-root", root, "--out", str(tmp_path / "export"), env=env, cwd=work)
    assert exported.returncode == 0, exported.stderr
    best = ranked["trial_id"].iloc[0]
    assert (tmp_path / "export" / best / "model.pt2").is_file()

    # nas.load reads an export kept in the bucket
    shelf = Location.from_uri(s3_uri("exports"))
    for path in (tmp_path / "export").rglob("*"):
        if path.is_file():
            shelf.upload(path, str(path.relative_to(tmp_path / "export")))
    model = nas.load(shelf.uri)
    local = nas.load(tmp_path / "export")
    x = torch.randn(2, 1, 40)
    assert torch.equal(model(x), local(x))


def trial_statuses(run: Location) -> dict:
    out = {}
    for name in run.list("trials"):
        try:
            out[name] = json.loads((run / "trials" / name).read_text("metrics.json"))
        except (OSError, ValueError):
            pass
    return out


def test_killed_driver_resumes_from_the_bucket_with_every_trial_finished_once(s3_uri, tmp_path):
    import optuna

    space_file = tmp_path / "resume.yaml"
    space_file.write_text(yaml.safe_dump(tiny_space(
        name="resume", train={"epochs": 2, "batch_size": 64}, search={"trials": 4, "scheduler": "none"},
        data={"num_samples": 300})))
    root = s3_uri("runs")
    run = Location.from_uri(root) / "resume"
    env = storage_env(tmp_path)
    command = [sys.executable, "-m", "nas.cli", "search", str(space_file), "--storage", root]
    driver = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        first = wait_for(lambda: [t for t, m in trial_statuses(run).items() if m["status"] == "completed"], 300,
                         "the first completed trial in the bucket")[0]
        before = (run / "trials" / first).read_bytes("metrics.json")
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray it started, at once
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    time.sleep(1)
    assert not run.is_file("trials.csv")

    done = subprocess.run([*command, "--resume"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    frame = pd.read_csv(io.StringIO(run.read_text("trials.csv")), dtype={"trial_id": str})
    # 4 trials, plus any that completed after Tune's last experiment snapshot before the kill: Tune forgets
    # those and trains their slot again; those whose result reached Optuna keep their row (write_outputs)
    assert len(frame) >= 4 and frame["trial_id"].is_unique
    # a resumed trial whose training a forgotten folder completed is recorded as its duplicate, not trained again
    trained, duplicates = frame[frame["status"] != "duplicate"], frame[frame["status"] == "duplicate"]
    assert set(trained["status"]) == {"completed"} and (trained["epochs_run"] == 2).all()
    assert set(duplicates["duplicate_of"].astype(str)) <= set(trained["trial_id"])
    assert (run / "trials" / first).read_bytes("metrics.json") == before  # not trained again
    folders = trial_statuses(run)
    for trial_id in trained["trial_id"]:
        assert folders[trial_id]["final"]["epoch"] == 2
        assert not (run / "trials" / trial_id).is_file(".resume_state.pt")  # completed: state removed
    # Optuna (the driver-side study) was told each trial's result once; a row it does not hold is an original
    # that a resumed duplicate reported
    study = optuna.load_study(study_name="resume", storage=optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 'driver' / 'runs' / 's3' / run.path / 'optuna.db'}"))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    told = {t.user_attrs["tune_trial_id"] for t in complete}
    assert told <= set(frame["trial_id"])
    assert set(frame["trial_id"]) - told <= set(duplicates["duplicate_of"].astype(str))


def test_evaluate_a_run_in_s3_writes_its_evaluation_to_the_bucket(s3_uri, tmp_path):
    # two trials of zero-stable named schemes under a loose parameter cap: both feasible, so there is a rank 1
    root, work, env, searched = search_in_bucket(tmp_path, s3_uri, tiny_space(
        name="s3eval", train={"epochs": 1, "batch_size": 64}, search={"trials": 2, "scheduler": "none"},
        baselines=False, scheme=[{"family": "named", "names": ["rk4", "heun"]}], constraints={"max_params": 100000}))
    assert searched.returncode == 0, searched.stderr[-2000:]

    done = cli("evaluate", "s3eval", "--storage", root, "--top", "1", "--seeds", "2", env=env, cwd=work)
    assert done.returncode == 0, done.stderr[-2000:]
    # Ray's token-authentication banner and Tune's logs go to evaluation/evaluation.log in the bucket.
    assert done.stderr == ""
    assert "Token authentication" not in done.stdout and "Final evaluation of run 's3eval'" in done.stdout
    assert list(work.iterdir()) == []  # nothing written locally

    run = Location.from_uri(root) / "s3eval"
    evaluation = run / "evaluation"
    assert {"evaluation.csv", "evaluation.json"} <= set(run.list())
    assert {"plan.json", "trials", "tune", "evaluation.log"} <= set(evaluation.list())
    assert "ray" in evaluation.read_text("evaluation.log")
    frame = pd.read_csv(io.StringIO(run.read_text("evaluation.csv")), dtype={"architecture_id": str})
    # rank 1 and the plain ResNet nas evaluate adds (the run has no baseline), fresh seeds 1000 and 1001 (the
    # search trained others, read from the run's copy of the bucket), 1 epoch each
    assert sorted(frame["label"]) == ["rank1", "rank1", "resnet_reference", "resnet_reference"]
    assert set(frame["status"]) == {"completed"} and (frame["epochs_run"] == 1).all()
    assert sorted(frame["seed"]) == [1000, 1000, 1001, 1001]
    trained = sorted(set(pd.read_csv(io.StringIO(run.read_text("trials.csv")))["seed"]))
    assert run.read_json("evaluation.json")["seed_rule"]["search_seeds"] == trained and 1000 not in trained
    for row in frame.itertuples():
        pair = evaluation / row.job_dir
        assert {"spec.json", "train_config.json", "metrics.json", "weights.safetensors"} <= set(pair.list())
        assert not pair.is_file(".resume_state.pt")  # completed: its state is removed from the bucket
        assert json.loads(pair.read_text("metrics.json"))["test"]["acc"] == pytest.approx(row.test_acc)
    document = run.read_json("evaluation.json")
    assert document["complete"] and document["run"] == "s3eval"
    assert [a["test_acc"]["n"] for a in document["architectures"]] == [2, 2]

    # the run given as a URI: the leaderboard's evaluation view reads evaluation.json from the bucket
    board = cli("leaderboard", run.uri, "--view", "evaluation", "--format", "csv", env=env, cwd=work)
    assert board.returncode == 0, board.stderr
    assert sorted(pd.read_csv(io.StringIO(board.stdout))["label"]) == ["rank1", "resnet_reference"]


@pytest.mark.slow
def test_a_duplicate_in_s3_is_recorded_as_a_duplicate(s3_uri, tmp_path):
    # One architecture, three trials: the second and third are duplicates of the first; in the bucket they
    # were recorded as not_started (their folder went to a local path built from the URI).
    root, work, env, done = search_in_bucket(tmp_path, s3_uri, tiny_space(
        name="s3dup", train={"epochs": 1, "batch_size": 64},
        search={"trials": 3, "scheduler": "none", "max_concurrent": 1}, baselines=False,
        network={"widths": [4, 8], "steps_per_stage": 1}, scheme=[{"family": "named", "names": "heun"}]))
    assert done.returncode == 0, done.stderr[-2000:]
    run = Location.from_uri(root) / "s3dup"
    frame = pd.read_csv(io.StringIO(run.read_text("trials.csv")), dtype={"trial_id": str})
    assert sorted(frame["status"]) == ["completed", "duplicate", "duplicate"]
    original = frame.loc[frame["status"] == "completed", "trial_id"].item()
    assert (frame.loc[frame["status"] == "duplicate", "duplicate_of"] == original).all()
    assert list(work.iterdir()) == []  # nothing written locally
