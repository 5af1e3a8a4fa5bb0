"""One driver per run (issue 22, defect 3: two searches on one run name both ran, 6 trials in a 3-trial run and
every baseline twice): ``nas.driver_lock`` on local folders and on S3 (moto), the second ``nas search`` /
``nas evaluate`` refused with one line naming the running driver, and a killed driver's lock never blocking
``--resume``."""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from run_folders import make_run
from test_search_run import run_env, tiny_space

from nas.cli import main
from nas.driver_lock import LOCK_FILE, DriverLock, Holder, RunLocked
from nas.storage import Location


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """A storage root: a local folder, or a prefix in a new bucket of the session's moto server."""
    if request.param == "local":
        return Location.from_uri(tmp_path / "store")
    return Location.from_uri(request.getfixturevalue("s3_uri")("store"))


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def plant(run: Location, *, host=None, pid=None, heartbeat=None, command="nas search") -> Holder:
    """A lock file as another driver would have written it."""
    holder = Holder(host=host or socket.gethostname(), pid=os.getpid() if pid is None else pid, command=command,
                    started="2026-12-06T21:00:00+00:00", heartbeat=time.time() if heartbeat is None else heartbeat,
                    token="f" * 32)
    run.write_bytes(LOCK_FILE, holder.to_bytes())
    return holder


def test_a_second_lock_is_refused_naming_the_first_and_free_once_released(store):
    run = store / "run"
    first = DriverLock(run, "nas search").acquire()
    try:
        with pytest.raises(RunLocked) as refused:
            DriverLock(run, "nas evaluate").acquire()
        message = str(refused.value)
        assert "has a running driver: 'nas search' on host" in message
        assert f"pid {os.getpid()}, started {first.holder.started!r}" in message and "\n" not in message
        assert Holder.from_bytes(run.read_bytes(LOCK_FILE)).token == first.holder.token  # untouched
    finally:
        first.release()
    assert not run.is_file(LOCK_FILE)
    with DriverLock(run, "nas evaluate") as second:
        assert Holder.from_bytes(run.read_bytes(LOCK_FILE)).command == "nas evaluate"
    assert second.holder is None and not run.is_file(LOCK_FILE)


@pytest.mark.parametrize("case", ["dead pid here", "old heartbeat elsewhere", "old heartbeat, live pid here"])
def test_a_stale_lock_is_taken_over(store, case):
    run = store / "run"
    old = time.time() - 3600
    if case == "dead pid here":
        plant(run, pid=dead_pid())
    elif case == "old heartbeat elsewhere":
        plant(run, host="node-that-died", pid=1, heartbeat=old)
    else:  # a pid reused by another process: the heartbeat says the driver is gone
        plant(run, heartbeat=old)
    with DriverLock(run, "nas search") as lock:
        assert Holder.from_bytes(run.read_bytes(LOCK_FILE)).token == lock.holder.token
    assert not run.is_file(LOCK_FILE)


@pytest.mark.parametrize("case", ["live pid here", "fresh heartbeat elsewhere"])
def test_a_live_lock_is_never_taken_over_nor_removed(store, case):
    run = store / "run"
    planted = plant(run, host="gpu-7", pid=1) if case == "fresh heartbeat elsewhere" else plant(run)
    lock = DriverLock(run, "nas search")
    with pytest.raises(RunLocked, match=f"on host '{planted.host}', pid {planted.pid}"):
        lock.acquire()
    lock.release()  # a refused driver gives back nothing it does not hold
    assert Holder.from_bytes(run.read_bytes(LOCK_FILE)) == planted


def test_a_half_written_lock_counts_as_held_until_it_is_old(tmp_path):
    run = Location.from_uri(tmp_path / "run")
    run.write_bytes(LOCK_FILE, b"")  # a driver between creating its lock and writing it
    with pytest.raises(RunLocked, match="another driver is taking the run's lock"):
        DriverLock(run, "nas search").acquire()
    os.utime(run.local_path / LOCK_FILE, (time.time() - 3600,) * 2)
    with DriverLock(run, "nas search"):
        pass
    assert sorted(os.listdir(run.local_path)) == []


def test_a_lock_alone_leaves_no_folder_behind(tmp_path):
    with DriverLock(tmp_path / "results" / "run", "nas search"):
        assert (tmp_path / "results" / "run" / LOCK_FILE).is_file()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------- the CLI
def test_a_second_search_on_a_running_run_is_one_line_exit_2_and_writes_nothing(store, tmp_path, capsys):
    space_file = tmp_path / "tiny.yaml"
    space_file.write_text(yaml.safe_dump(tiny_space()))
    root = store.uri if not store.is_local else store.path
    planted = plant(store / "tiny", host="gpu-7", pid=4242)
    before = {name: (store / "tiny").read_bytes(name) for name in (store / "tiny").list()}
    option = "--results-dir" if store.is_local else "--storage"
    for resume in ([], ["--resume"]):
        assert main(["search", str(space_file), option, str(root), *resume]) == 2
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("nas search: error: "), captured.err
        assert f"has a running driver: 'nas search' on host 'gpu-7', pid 4242, started {planted.started!r}" in lines[0]
    assert {name: (store / "tiny").read_bytes(name) for name in (store / "tiny").list()} == before


def test_evaluate_of_a_run_with_a_running_driver_is_refused(tmp_path, capsys, one_thread):
    run_dir = make_run(tmp_path / "results", "busy", [{"scheme": "euler", "baseline": True}, {"scheme": "heun"}])
    plant(Location.from_uri(run_dir), command="nas search")
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    assert main(["evaluate", str(run_dir), "--top", "1", "--seeds", "2", "--epochs", "1"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and f"has a running driver: 'nas search' on host '{socket.gethostname()}', pid " \
        f"{os.getpid()}" in lines[0], lines
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before  # no evaluation/ folder


@pytest.mark.slow
def test_two_drivers_on_one_run_name_the_second_is_refused_and_the_run_is_intact(tmp_path):
    space_file = tmp_path / "tiny.yaml"
    space_file.write_text(yaml.safe_dump(tiny_space(search={"trials": 3})))
    results = tmp_path / "results"
    command = [sys.executable, "-m", "nas.cli", "search", str(space_file), "--results-dir", str(results)]
    first = subprocess.Popen(command, env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lock = results / "tiny" / LOCK_FILE
        deadline = time.monotonic() + 240
        while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lock.exists(), "the first driver never took the run's lock"
        second = subprocess.run(command, env=run_env(), capture_output=True, text=True, timeout=240)
        assert first.poll() is None, "the first driver ended before the second one was checked"
        assert second.returncode == 2 and second.stdout == ""
        lines = second.stderr.splitlines()
        assert len(lines) == 1 and f"pid {first.pid}, started " in lines[0] and "has a running driver" in lines[0]
        assert first.wait(timeout=400) == 0, first.stderr.read()[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    frame = pd.read_csv(results / "tiny" / "trials.csv")
    assert len(frame) == 3 and frame["trial_id"].is_unique
    assert sorted(frame.loc[frame["baseline"], "scheme_name"]) == ["euler", "lm_resnet"]  # each baseline once
    assert not lock.exists()


@pytest.mark.slow
def test_a_lock_left_by_a_dead_driver_does_not_block_resume(ray_session, tmp_path):
    from nas.search import run

    space = tiny_space(search={"trials": 2}, baselines=False)
    run(space, results_dir=tmp_path, progress=False)
    run_dir = Location.from_uri(tmp_path / "tiny")
    rows = (tmp_path / "tiny" / "trials.csv").read_bytes()
    plant(run_dir, host="gpu-7", pid=1)  # a live driver elsewhere: refused, the run untouched
    with pytest.raises(RunLocked, match="gpu-7"):
        run(space, results_dir=tmp_path, progress=False, resume=True)
    assert (tmp_path / "tiny" / "trials.csv").read_bytes() == rows
    plant(run_dir, pid=dead_pid())  # a driver killed on this machine (SIGKILL: its lock stays)
    result = run(space, results_dir=tmp_path, progress=False, resume=True)
    assert sorted(result.trials["trial_id"]) == sorted(pd.read_csv(io.BytesIO(rows))["trial_id"])
    assert not run_dir.is_file(LOCK_FILE)
    assert json.loads((tmp_path / "tiny" / "search.json").read_text())["run"] == "tiny"
