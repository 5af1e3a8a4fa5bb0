"""nas.vocabulary: statuses, objectives and directions, the Pareto front, the zero-stability tolerance, each
defined once and used by search records, the leaderboard, training and the diagnostics."""
import numpy as np
import pandas as pd
import pytest

from nas import leaderboard, train, vocabulary
from nas.diagnostics import stability
from nas.families import multistep
from nas.search import records, space
from nas.domains import SpaceError


def test_every_module_uses_the_one_vocabulary():
    assert records.STATUSES is vocabulary.STATUSES and leaderboard.STATUSES is vocabulary.STATUSES
    assert leaderboard.FINISHED_STATUSES is vocabulary.SCORED_STATUSES
    assert records.FINAL_STATUSES is vocabulary.FINAL_STATUSES
    assert set(train.STATUSES) < set(vocabulary.STATUSES)
    assert space.OBJECTIVES is vocabulary.OBJECTIVES
    assert records.pareto_front is vocabulary.pareto_front
    assert stability.ROOT_TOLERANCE == multistep.ROOT_TOLERANCE == vocabulary.ZERO_STABILITY_TOLERANCE


def test_directions_are_natural_unless_forced():
    assert vocabulary.OBJECTIVES == {"val_acc": "max", "val_loss": "min", "params": "min", "flops": "min"}
    assert vocabulary.parse_objectives("best_val_acc, flops:max") == [("best_val_acc", True), ("flops", True)]
    assert vocabulary.parse_objectives({"val_acc": "max", "params": "min"}) == [("val_acc", True), ("params", False)]
    assert vocabulary.parse_objectives(["val_loss"])[0].mode == "min"


@pytest.mark.parametrize("raw, kwargs, message", [
    ("", {}, "expected a list of objectives"),
    ("val_acc,,params", {}, "empty objective"),
    ("val_acc:up", {}, "must be max or min"),
    ("val_acc,val_acc", {}, "'val_acc' listed twice"),
    ("val_acc", {"at_least": 2}, "at least two"),
    ("val_acc,accuracy", {"choices": ("val_acc", "params")}, r"where\[1\]: must be one of val_acc, params"),
    ("val_acc:min", {"choices": ("val_acc",)}, r"where\[0\]: must be one of val_acc"),
])
def test_bad_objectives_name_themselves(raw, kwargs, message):
    with pytest.raises(ValueError, match=message):
        vocabulary.parse_objectives(raw, "where", **kwargs)
    with pytest.raises(SpaceError):
        vocabulary.parse_objectives(raw, "where", error=SpaceError, **kwargs)


def test_search_and_leaderboard_fronts_agree():
    frame = pd.DataFrame({
        "trial_id": list("abcdefg"),
        "status": ["completed", "stopped", "completed", "completed", "diverged", "completed", "error"],
        "feasible": [True, True, True, False, True, None, True],
        "val_acc": [0.9, 0.8, 0.7, 0.99, 0.99, 0.85, 0.99],
        "params": [300, 100, 200, 10, 10, 300, 10],
    })
    front = vocabulary.pareto_front(frame, {"val_acc": "max", "params": "min"})
    # d is infeasible, e diverged, g an error; c (0.7, 200) is dominated by b, f (0.85, 300) by a
    assert list(front["trial_id"]) == ["a", "b"]
    frame["finished"] = frame["status"].isin(leaderboard.FINISHED_STATUSES)
    assert list(leaderboard.pareto_front(frame, "val_acc,params")["trial_id"]) == ["a", "b"]
    assert list(records.pareto_front(frame, ["val_acc", "params"])["trial_id"]) == ["a", "b"]


def test_pareto_mask_of_nothing_is_empty():
    assert vocabulary.pareto_mask(np.zeros((0, 2))).shape == (0,)
