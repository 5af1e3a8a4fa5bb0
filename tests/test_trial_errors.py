"""A trial whose scheme analysis fails ends as an ``error`` whose record says why (never order 0)."""
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


def test_min_order_of_an_unknown_order_is_an_error_not_order_zero():
    constraints = Constraints(min_order=2)
    with pytest.raises(ValueError, match="min_order: the analysis of scheme rk4 gives no order to compare with 2"):
        constraint_values(constraints, schemes.get("rk4"), 100, {"order": None})
    assert constraint_values(constraints, schemes.get("rk4"), 100, {"order": 4}) == {"constraint_min_order": -2.0}


def test_a_trial_whose_analysis_fails_is_recorded_with_the_reason(tmp_path, monkeypatch):
    import ray
    from ray import tune

    space = load_space(None)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    constants = space.sampler_function()(trial)  # suggests first: trial.params is filled by it
    config = {**trial.params, **constants}
    info = INFO[space.data["name"]]
    plan = space.plan(config, macro=info.macro, in_channels=info.in_channels, num_classes=info.num_classes)

    def broken(scheme, tolerance):
        raise ModuleNotFoundError("No module named 'sympy'")  # e.g. a missing optional dependency

    monkeypatch.setattr(registry.family_of(plan.scheme), "analyze", broken)
    reports = []
    monkeypatch.setattr(tune, "get_context", lambda: SimpleNamespace(get_trial_id=lambda: "t0"))
    monkeypatch.setattr(tune, "report", lambda metrics, checkpoint=None: reports.append(metrics))
    monkeypatch.setattr(ray, "get_runtime_context", lambda: SimpleNamespace(get_node_id=lambda: "node0"))
    data = SimpleNamespace(macro=info.macro, in_channels=info.in_channels, num_classes=info.num_classes)
    setup = TrialSetup(run="r", run_dir=str(tmp_path), space=space, train=dict(space.train), seed=0)

    train_trial(config, data=data, setup=setup)

    metrics = read_trial(tmp_path / TRIALS_FOLDER / "t0")["metrics"]
    assert metrics["status"] == "error" and metrics["epochs_run"] == 0
    assert metrics["message"].startswith("cannot analyse the scheme: diagnostics of scheme")
    assert "ModuleNotFoundError: No module named 'sympy'" in metrics["message"]
    assert "diagnostics" not in metrics  # no made-up order
    assert len(reports) == 1 and reports[0]["status"] == "error" and reports[0]["feasible"] is False
