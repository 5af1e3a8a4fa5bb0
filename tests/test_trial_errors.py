"""One trial run directly, with Tune's context faked: a failed scheme analysis ends it as an ``error`` whose
record says why (never order 0), and its FLOPs are counted once."""
from __future__ import annotations

from types import SimpleNamespace

import optuna
import pytest

from nas import schemes
from nas.data_info import INFO
from nas.families import registry
from nas.search import load_space
from nas.search.constraints import constraint_values
from nas.search.records import TRIALS_FOLDER, read_trial
from nas.search.space import Constraints
from nas.search.trainable import TrialSetup, train_trial


def _fake_tune(monkeypatch) -> list:
    """Tune's trial context and ``report`` faked; returns the list the reports go to."""
    import ray
    from ray import tune

    reports = []
    monkeypatch.setattr(tune, "get_context", lambda: SimpleNamespace(get_trial_id=lambda: "t0"))
    monkeypatch.setattr(tune, "report", lambda metrics, checkpoint=None: reports.append(metrics))
    monkeypatch.setattr(ray, "get_runtime_context", lambda: SimpleNamespace(get_node_id=lambda: "node0"))
    return reports


def _config_and_plan(space):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    constants = space.sampler_function()(trial)  # suggests first: trial.params is filled by it
    config = {**trial.params, **constants}
    info = INFO[space.data["name"]]
    return config, space.plan(config, macro=info.macro, in_channels=info.in_channels, num_classes=info.num_classes)


def test_min_order_of_an_unknown_order_is_an_error_not_order_zero():
    constraints = Constraints(min_order=2)
    with pytest.raises(ValueError, match="min_order: the analysis of scheme rk4 gives no order to compare with 2"):
        constraint_values(constraints, schemes.get("rk4"), 100, {"order": None})
    assert constraint_values(constraints, schemes.get("rk4"), 100, {"order": 4}) == {"constraint_min_order": -2.0}


def test_a_trial_whose_analysis_fails_is_recorded_with_the_reason(tmp_path, monkeypatch):
    space = load_space(None)
    config, plan = _config_and_plan(space)
    info = INFO[space.data["name"]]

    def broken(scheme, tolerance):
        raise ModuleNotFoundError("No module named 'sympy'")  # e.g. a missing optional dependency

    monkeypatch.setattr(registry.family_of(plan.scheme), "analyze", broken)
    reports = _fake_tune(monkeypatch)
    data = SimpleNamespace(macro=info.macro, in_channels=info.in_channels, num_classes=info.num_classes)
    setup = TrialSetup(run="r", run_dir=str(tmp_path), space=space, train=dict(space.train), seed=0)

    train_trial(config, data=data, setup=setup)

    metrics = read_trial(tmp_path / TRIALS_FOLDER / "t0")["metrics"]
    assert metrics["status"] == "error" and metrics["epochs_run"] == 0
    assert metrics["message"].startswith("cannot analyse the scheme: diagnostics of scheme")
    assert "ModuleNotFoundError: No module named 'sympy'" in metrics["message"]
    assert "diagnostics" not in metrics  # no made-up order
    assert len(reports) == 1 and reports[0]["status"] == "error" and reports[0]["feasible"] is False


def test_a_trial_counts_its_flops_once(tmp_path, monkeypatch):
    import nas.train
    from nas.data import load_dataset

    space = load_space(None)
    config, _ = _config_and_plan(space)
    calls = []
    count = nas.train.forward_flops
    monkeypatch.setattr(nas.train, "forward_flops", lambda model, example: calls.append(1) or count(model, example))
    reports = _fake_tune(monkeypatch)
    data = load_dataset("mnist1d", seed=0, num_samples=200)
    setup = TrialSetup(run="r", run_dir=str(tmp_path), space=space, train={**space.train, "epochs": 2}, seed=0)

    train_trial(config, data=data, setup=setup)

    metrics = read_trial(tmp_path / TRIALS_FOLDER / "t0")["metrics"]
    assert metrics["status"] == "completed" and len(reports) == 2
    assert len(calls) == 1 and metrics["flops"] > 0
    assert [r["flops"] for r in reports] == [metrics["flops"]] * 2


ORPHAN_SCRIPT = """
import os, sys, time
from nas.search.trainable import exit_if_orphaned

raylet = os.getpid()
ready_r, ready_w = os.pipe()
if os.fork():  # the "raylet": waits for its worker's first check, then dies as a killed cluster would
    os.read(ready_r, 1)
    os._exit(0)
exit_if_orphaned(raylet)
print("written while the raylet lived", flush=True)
os.write(ready_w, b"x")
deadline = time.monotonic() + 30
while os.getppid() == raylet and time.monotonic() < deadline:
    time.sleep(0.01)
exit_if_orphaned(raylet)
print("written after the raylet died", flush=True)
"""


def test_a_worker_whose_raylet_died_ends_itself_before_writing(tmp_path):
    # A worker that outlives its cluster (the driver killed with its local Ray) must not write the trial
    # folder a resumed run now owns. The worker here is a forked child; capture_output waits for it too (it
    # holds the pipe), so a print after the second check would be seen.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", ORPHAN_SCRIPT], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["written while the raylet lived"]
