"""search_spaces/tied.yaml end to end, in make-test-sized form: tied trials, tied baselines and the untied
ResNet of the same depth. A real Ray Tune + Optuna search on tiny MNIST-1D (the session's Ray)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nas import safe_yaml

ROOT = Path(__file__).resolve().parents[1]


def tiny_tied_space() -> dict:
    """The shipped space with its data, budget and depth shrunk; its schemes, tying and baselines as shipped."""
    space = safe_yaml.load_file(ROOT / "search_spaces" / "tied.yaml")
    space["data"] = {"name": "mnist1d", "seed": 0, "num_samples": 200}
    space["train"] = {**space["train"], "epochs": 1, "batch_size": 64}
    # racing (on in the shipped space) is tested in test_search_racing: here 6 trials, each baseline once
    space["search"] = {**{k: v for k, v in space["search"].items() if k != "race"}, "trials": 6,
                       "time_budget": None, "grace_period": 1}
    space["network"] = {**space["network"], "widths": [4, 8], "steps_per_stage": 2}
    space["baselines"] = {"network": {**space["baselines"]["network"], "widths": [4, 8], "steps_per_stage": 2}}
    return space


@pytest.mark.slow
def test_tied_space_runs_end_to_end_with_tied_baselines_and_the_untied_resnet(ray_session, tmp_path):
    from nas.search import run

    space = tiny_tied_space()
    assert space["network"]["tie"] == "stage"  # the shipped space ties
    run(space, results_dir=tmp_path, progress=False)
    frame = pd.read_csv(tmp_path / "tied" / "trials.csv")
    assert len(frame) == 6 and (frame["status"].isin(["completed", "stopped", "duplicate"])).all()
    baselines = frame[frame["baseline"]].set_index("option")
    assert sorted(baselines.index) == ["baseline_euler", "baseline_euler_untied", "baseline_lm_resnet"]
    assert baselines.loc["baseline_euler", "tie"] == "stage" and baselines.loc["baseline_lm_resnet", "tie"] == "stage"
    assert baselines.loc["baseline_euler_untied", "tie"] == "none"
    untied = json.loads((tmp_path / "tied" / baselines.loc["baseline_euler_untied", "trial_dir"] / "spec.json")
                        .read_text())
    assert untied["steps_per_stage"] == 2 and untied["widths"] == [4, 8] and "tie" not in untied
    searched = frame[~frame["baseline"] & (frame["status"] != "duplicate")]
    assert (searched["tie"] == "stage").all() and (searched["norm"] == "none").all()
    # the residual functions are tied: a 4-stage rk4 network has the parameters of an Euler one
    tied_params = frame[frame["tie"] == "stage"]
    learned = tied_params["scheme"].str.contains('"learn": "layer"')  # LM-ResNet's k_n: one scalar per step
    assert tied_params[~learned]["params"].nunique() == 1
    assert baselines.loc["baseline_euler_untied", "params"] > baselines.loc["baseline_euler", "params"]
