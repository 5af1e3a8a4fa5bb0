"""write_outputs: the row of a Tune trial that left no folder says why (failed vs never started)."""
from dataclasses import dataclass

import pandas as pd

from nas.search.run import write_outputs


@dataclass
class FakeResult:  # the two attributes write_outputs reads from a ray.tune.Result
    path: str
    error: Exception | None = None
    metrics: dict | None = None


def test_a_trial_cut_by_the_time_budget_is_not_started_and_a_failed_one_is_an_error(tmp_path):
    grid = [FakeResult(path=str(tmp_path / "tune" / "trial_aaaa0001")),
            FakeResult(path=str(tmp_path / "tune" / "trial_aaaa0002"), error=RuntimeError("worker died\nOOM"))]
    write_outputs(tmp_path, grid, "run", ("val_acc",))
    frame = pd.read_csv(tmp_path / "trials.csv", dtype={"trial_id": str}).set_index("trial_id")
    assert frame.loc["aaaa0001", "status"] == "not_started"
    assert "time budget" in frame.loc["aaaa0001", "message"]
    assert frame.loc["aaaa0002", "status"] == "error" and frame.loc["aaaa0002", "message"] == "OOM"
    assert (frame["epochs_run"] == 0).all()
