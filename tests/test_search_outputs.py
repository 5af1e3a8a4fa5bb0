"""write_outputs: the row of a Tune trial that left no folder says why (failed vs never started); a folder
Tune forgot keeps its row only when the sampler holds its result."""
import shutil
from dataclasses import dataclass
from pathlib import Path

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


def test_a_finished_folder_tune_forgot_keeps_its_row_only_when_the_sampler_was_told(tmp_path):
    # After a SIGKILL and --resume, Tune forgets trials that ended after its last snapshot; a folder whose
    # result reached the study keeps its row, one whose driver died before telling the study does not.
    reference = Path(__file__).resolve().parents[1] / "results" / "reference" / "reference" / "trials"
    for trial_id in ("033d0e0c", "0bfc340d"):
        shutil.copytree(reference / trial_id, tmp_path / "trials" / trial_id)
    write_outputs(tmp_path, [], "run", ("val_acc",), told={"033d0e0c"})
    frame = pd.read_csv(tmp_path / "trials.csv", dtype={"trial_id": str})
    assert list(frame["trial_id"]) == ["033d0e0c"] and list(frame["status"]) == ["completed"]
    write_outputs(tmp_path, [], "run", ("val_acc",), told={"033d0e0c", "0bfc340d"})
    assert sorted(pd.read_csv(tmp_path / "trials.csv", dtype={"trial_id": str})["trial_id"]) == ["033d0e0c",
                                                                                                "0bfc340d"]
