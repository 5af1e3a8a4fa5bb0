"""A search interrupted by SIGINT / SIGTERM: exit 130 / 143, one line with the resume command, unfinished
trials recorded as ``interrupted`` (trials.csv agrees with the trial folders), and ``--resume`` finishes each
trial exactly once. Real ``nas search`` subprocesses on tiny MNIST-1D, as a user runs them.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from driver_control import signal_when
from hostile import plant_raw_pickle, plant_torch_pickle, snapshot

# Enough epochs that the trial caught midway cannot finish in the time the driver takes to handle the signal
# on a loaded machine (with 4 it sometimes did, and nothing was left to record as interrupted).
EPOCHS = 10
SPACE = {"name": "intr", "data": {"name": "mnist1d", "num_samples": 200, "seed": 0},
         "train": {"epochs": EPOCHS, "batch_size": 64}, "search": {"trials": 3, "scheduler": "none", "seed": 0},
         "network": {"widths": [4, 8], "steps_per_stage": 1},
         "scheme": [{"family": "runge_kutta", "label": "rk", "stages": [2, 3]},
                    {"family": "named", "names": ["rk4", "heun"]}]}


def env() -> dict:
    return {**os.environ, "MPLBACKEND": "Agg", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def statuses(run_dir: Path) -> dict:
    out = {}
    for path in (run_dir / "trials").glob("*/metrics.json"):
        try:
            out[path.parent.name] = json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    return out


def start(tmp_path: Path, *extra) -> subprocess.Popen:
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(SPACE))
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
        return subprocess.Popen([sys.executable, "-m", "nas.cli", "search", "space.yaml", "--results-dir", "out",
                                 *extra], cwd=tmp_path, env=env(), stdout=out, stderr=err, start_new_session=True)


def interrupt_when(driver, predicate, signum):
    return signal_when(driver, predicate, signum, "the search", poll=0.2)


def check_records(run_dir: Path) -> pd.DataFrame:
    """trials.csv agrees with every trial folder; returns it."""
    frame = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    assert frame["trial_id"].is_unique
    folders = statuses(run_dir)
    for row in frame.itertuples():
        if isinstance(row.trial_dir, str):
            assert folders[row.trial_id]["status"] == row.status
        else:
            assert row.status == "interrupted"
    return frame


@pytest.mark.slow
def test_sigint_records_interrupted_trials_and_resume_finishes_each_once(tmp_path):
    import optuna
    import torch

    run_dir = tmp_path / "out" / "intr"
    driver = start(tmp_path)
    first = {}

    def one_completed_one_midway():
        now = statuses(run_dir)
        done = [t for t, m in now.items() if m["status"] == "completed"]
        midway = [t for t, m in now.items() if m["status"] == "stopped"]  # an epoch done, more to go
        if done and midway:
            path = run_dir / "trials" / done[0] / "metrics.json"
            first.update(id=done[0], bytes=path.read_bytes(), mtime=path.stat().st_mtime_ns)
        return bool(done and midway)

    assert interrupt_when(driver, one_completed_one_midway, signal.SIGINT) == 130
    err = (tmp_path / "err.txt").read_text()
    resume = "nas search space.yaml --name intr --results-dir out --resume"
    assert err.splitlines()[-1] == f"nas search: interrupted by SIGINT; resume with: {resume}"
    everything = err + (tmp_path / "out.txt").read_text()
    assert "Tuner.restore" not in everything and "Traceback" not in everything and "Leaderboard" not in everything

    frame = check_records(run_dir)
    assert set(frame["status"]) <= {"completed", "interrupted"} and "interrupted" in set(frame["status"])
    assert frame.set_index("trial_id").loc[first["id"], "status"] == "completed"
    at_interrupt = {row.trial_id: row.epochs_run for row in frame.itertuples() if row.status == "interrupted"}

    # A planted pickle in an interrupted trial's saved state refuses the resume; nothing runs, nothing changes.
    states = sorted(run_dir.glob("trials/*/.resume_state.pt"))
    assert states, "an interrupted trial keeps its resumable state"
    original = states[0].read_bytes()
    marker = tmp_path / "payload-ran"
    plant_torch_pickle(states[0], marker)
    before = snapshot(tmp_path / "out")
    command = [sys.executable, "-m", "nas.cli", *shlex.split(resume)[1:]]
    refused = subprocess.run(command, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and not marker.exists()
    assert refused.stderr.splitlines() == [
        f"nas search: error: --resume: {states[0].parent.name}/.resume_state.pt: refused: it holds more than "
        "tensors and plain data (Unsupported global: GLOBAL io.open); nas loads saved state with "
        "torch.load(weights_only=True) and never runs code from a file"]
    assert snapshot(tmp_path / "out") == before
    states[0].write_bytes(original)
    assert torch.load(states[0], weights_only=True)["train"]["epoch"] >= 1

    # Tune's own pickles (issue 22, defect 10): a payload planted in the searcher state is refused by its missing
    # signature before anything is unpickled; the files the driver wrote (and signed) resume without a flag.
    searcher_states = sorted((run_dir / "tune").glob("searcher-state-*.pkl"))
    assert searcher_states
    original = searcher_states[-1].read_bytes()
    plant_raw_pickle(searcher_states[-1], marker)
    before = snapshot(tmp_path / "out")
    refused = subprocess.run(command, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and not marker.exists()
    assert refused.stderr.splitlines() == [
        f"nas search: error: --resume: {searcher_states[-1]} does not match its signature from this user's nas (Tune "
        "would unpickle it; a run folder written elsewhere or changed since is code); give --trust-run-folder only "
        "if you trust everyone who could write this folder"]
    assert snapshot(tmp_path / "out") == before
    searcher_states[-1].write_bytes(original)

    # The printed command finishes the run: every trial completed once, none trained twice.
    done = subprocess.run(command, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    frame = check_records(run_dir)
    assert len(frame) == 3 and set(frame["status"]) == {"completed"} and (frame["epochs_run"] == EPOCHS).all()
    path = run_dir / "trials" / first["id"] / "metrics.json"
    assert (path.read_bytes(), path.stat().st_mtime_ns) == (first["bytes"], first["mtime"])
    for trial_id, epochs in at_interrupt.items():  # continued from its saved state: no recorded epoch redone
        metrics = statuses(run_dir)[trial_id]
        assert metrics["resumed_from_epoch"] >= epochs and metrics["final"]["epoch"] == EPOCHS, (trial_id, epochs, metrics)
    study = optuna.load_study(study_name="intr",
                              storage=optuna.storages.RDBStorage(f"sqlite:///{run_dir / 'optuna.db'}"))
    told = [t.user_attrs["tune_trial_id"] for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(told) == sorted(frame["trial_id"])  # Optuna was told about each trial exactly once


@pytest.mark.slow
def test_sigterm_is_exit_143_with_the_resume_command(tmp_path):
    """SIGTERM as soon as the search has started: Ray's own SIGTERM handler (installed by ray.init) must not
    take over (it prints a stack and aborts)."""
    run_dir = tmp_path / "out" / "intr"
    driver = start(tmp_path, "--trials", "2")
    started = lambda: "nas search: run 'intr'" in (tmp_path / "out.txt").read_text()  # noqa: E731
    assert interrupt_when(driver, started, signal.SIGTERM) == 143
    err = (tmp_path / "err.txt").read_text()
    assert err.splitlines()[-1] == ("nas search: interrupted by SIGTERM; resume with: nas search space.yaml "
                                    "--name intr --results-dir out --trials 2 --resume")
    assert "Tuner.restore" not in err and "SIGTERM received" not in err and "Traceback" not in err
    if (run_dir / "trials.csv").exists():  # Tune had started: whatever it created is recorded consistently
        assert set(check_records(run_dir)["status"]) <= {"completed", "interrupted"}


@pytest.mark.slow
def test_sigterm_to_the_whole_process_group_ends_as_a_sigterm_to_the_driver(tmp_path):
    """Issue 22, defect 4: ``timeout``, systemd and Slurm signal every process of the job. Ray's processes died
    first, the driver hung and exited 1 with no trials.csv; it must end as a SIGTERM to the driver alone does."""
    run_dir = tmp_path / "out" / "intr"
    driver = start(tmp_path)

    def one_completed():
        return any(m["status"] == "completed" for m in statuses(run_dir).values())

    status = signal_when(driver, one_completed, signal.SIGTERM, "a completed trial", poll=0.2, group=True)
    err = (tmp_path / "err.txt").read_text()
    assert status == 143, err[-2000:]
    assert err.splitlines()[-1] == ("nas search: interrupted by SIGTERM; resume with: nas search space.yaml "
                                    "--name intr --results-dir out --resume")
    assert "Traceback" not in err and "SIGTERM received" not in err
    frame = check_records(run_dir)
    assert "completed" in set(frame["status"]) and set(frame["status"]) <= {"completed", "interrupted"}
