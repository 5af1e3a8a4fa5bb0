"""Ray clusters simulated on this machine (``ray.cluster_utils.Cluster``): the multi-node guard refuses a
local folder that a node cannot see, and declared GPUs are shared by fractional trials."""
from __future__ import annotations

import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from test_search_run import run_env, tiny_space

pytestmark = pytest.mark.slow
RAY = str(Path(sys.executable).with_name("ray"))


def alive_nodes(address: str) -> int:
    status = subprocess.run([RAY, "status", "--address", address], capture_output=True, text=True, timeout=60)
    active = status.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
    return len(re.findall(r"^\s*\d+ node_", active, flags=re.MULTILINE))


def can_unshare_mounts() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture
def head():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, connect=False,
                      head_node_args={"num_cpus": 1, "include_dashboard": False, "object_store_memory": 80 * 1024**2})
    yield cluster
    cluster.shutdown()


def test_a_node_that_cannot_see_the_local_results_folder_is_refused_before_anything_runs(head, tmp_path):
    if not can_unshare_mounts():
        pytest.skip("needs root and unshare(1) to give the second node its own mount namespace")
    results = tmp_path / "results"
    results.mkdir()
    # The second node's raylet and workers live in their own mount namespace, where an empty tmpfs hides
    # the driver's results folder: a node on another machine whose disk lacks that folder.
    node = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs tmpfs "$1" && exec "$2" start --address "$3" --num-cpus 1 '
         '--object-store-memory 80000000 --block', "sh", str(results), RAY, head.address],
        env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while alive_nodes(head.address) < 2:
            assert node.poll() is None and time.monotonic() < deadline, "the second node did not join"
            time.sleep(1)
        space_file = tmp_path / "guard.yaml"
        space_file.write_text(yaml.safe_dump(tiny_space(name="guard", baselines=False)))
        done = subprocess.run([sys.executable, "-m", "nas.cli", "search", str(space_file), "--address", head.address,
                               "--results-dir", str(results)], env=run_env(), capture_output=True, text=True,
                              timeout=300)
    finally:
        os.killpg(node.pid, signal.SIGTERM)
        node.wait(timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"nas search: error: --storage: {results / 'guard'} is not shared with every Ray node")
    assert "object-store URI" in lines[0] and "shared" in lines[0]
    assert list(results.iterdir()) == []  # no run folder, no token file left behind


def test_fractional_gpus_pack_four_trials_on_two_declared_gpus(tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, connect=False,
                      head_node_args={"num_cpus": 2, "num_gpus": 2, "include_dashboard": False,
                                      "object_store_memory": 80 * 1024**2})
    try:
        space_file = tmp_path / "gpus.yaml"
        space_file.write_text(yaml.safe_dump(tiny_space(
            name="gpus", train={"epochs": 2, "batch_size": 64}, data={"num_samples": 400},
            search={"trials": 4, "scheduler": "none"}, baselines=False)))
        done = subprocess.run([sys.executable, "-m", "nas.cli", "search", str(space_file), "--address",
                               cluster.address, "--results-dir", str(tmp_path / "results"), "--gpus-per-trial", "0.5",
                               "--cpus-per-trial", "0.5"], env=run_env(), capture_output=True, text=True, timeout=400)
    finally:
        cluster.shutdown()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "0.5 GPU per trial" in done.stdout
    run_dir = tmp_path / "results" / "gpus"
    frame = pd.read_csv(run_dir / "trials.csv", dtype={"gpu_ids": str})
    assert len(frame) == 4 and set(frame["status"]) == {"completed"}
    # Ray gave each trial half of one of the two declared GPUs: each GPU id went to two trials.
    assert collections.Counter(frame["gpu_ids"]) == {"0": 2, "1": 2}
    # This machine has no GPU: torch was never asked for one, and each trial says it fell back to the CPU.
    assert set(frame["device"]) == {"cpu"}
    assert frame["device_note"].str.startswith("fell back to CPU: Ray assigned GPU").all()
    intervals = []
    for row in frame.itertuples():
        metrics = json.loads((run_dir / row.trial_dir / "metrics.json").read_text())
        assert metrics["gpu_ids"] == [row.gpu_ids] and metrics["device"] == "cpu"
        intervals.append((metrics["started_at"], metrics["ended_at"]))
    # All four ran at once: some instant lies inside every trial's running interval.
    assert max(start for start, _ in intervals) < min(end for _, end in intervals), intervals
