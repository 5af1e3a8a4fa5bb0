"""The typed trial record (nas.search.trial_record): metrics.json round-trips unchanged, old records load, and
a record of the wrong shape is refused with the key named."""
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from nas.search.records import TrialFolder, read_record, trial_row
from nas.search.trial_record import TrialRecord

RUN = Path(__file__).resolve().parents[1] / "results" / "reference" / "reference"
REFERENCE_RECORDS = sorted(RUN.glob("trials/*/metrics.json"))

# What the search trainable writes after an epoch (device fields, history and all).
TRAINED = {
    "trial_id": "t1", "run": "r", "node_id": "abc", "pid": 12, "config": {"scheme": "named"}, "gpu_ids": ["0"],
    "device": "cpu", "device_note": "fell back to CPU", "started_at": 1.5, "option": "named", "baseline": False,
    "scheme_name": "rk4", "params": 100, "diagnostics": {"order": 4, "zero_stable": True, "error_norm": None},
    "constraints": {"constraint_min_order": -2.0}, "feasible": True, "architecture_id": "a", "training_id": "b",
    "resumed_from_epoch": 0, "status": "stopped", "message": "",
    "final": {"epoch": 1, "val_acc": 0.5, "val_loss": 1.0, "train_loss": 1.2, "train_acc": 0.4},
    "best": {"epoch": 1, "val_acc": 0.5, "val_loss": 1.0}, "epochs_run": 1, "flops": 2000,
    "history": [{"epoch": 1, "val_acc": 0.5, "val_loss": 1.0}], "wall_time": 2.0, "cpu_time": 1.0, "ended_at": 3.5}


def test_the_committed_reference_records_round_trip_unchanged():
    assert len(REFERENCE_RECORDS) > 100
    statuses = set()
    for path in REFERENCE_RECORDS:
        data = json.loads(path.read_text())
        record = TrialRecord.from_dict(data)
        assert record.to_dict() == data, path
        assert record.trial_id == path.parent.name and record.run == "reference"
        statuses.add(record.status)
    assert {"completed", "stopped", "duplicate"} <= statuses  # the duplicate's record has other keys


def test_records_of_every_writer_round_trip_with_their_keys():
    assert list(TrialRecord.from_dict(TRAINED).to_dict()) == list(TRAINED)  # today's key order too
    # an error before the network was built: no size, no final; an error during fit: "final" written as null
    early = {"trial_id": "t", "run": "r", "status": "error", "message": "cannot build", "epochs_run": 0,
             "wall_time": 0.1, "ended_at": 2.0}
    during = {**TRAINED, "status": "error", "message": "RuntimeError: boom", "final": None}
    for data in (early, during):
        assert TrialRecord.from_dict(data).to_dict() == data
    # the writer's own null: a record built with final=None writes it only when asked to
    built = TrialRecord(**{**TRAINED, "final": None})
    assert "final" not in built.to_dict()
    assert replace(built, null_keys=frozenset({"final"})).to_dict()["final"] is None


def test_an_old_minimal_record_loads_with_defaults():
    record = TrialRecord.from_dict({"trial_id": "t", "run": "r", "status": "completed"})
    assert (record.message, record.epochs_run, record.history, record.device) == ("", 0, None, None)


@pytest.mark.parametrize("key, value, match", [
    ("params", "100", "key 'params' must be an integer, got '100'"),
    ("params", True, "key 'params' must be an integer, got True"),
    ("feasible", 1, "key 'feasible' must be true or false, got 1"),
    ("wall_time", "2s", "key 'wall_time' must be a number"),
    ("history", {"epoch": 1}, "key 'history' must be a list"),
    ("history", [1, 2], "key 'history' must be a list of per-epoch objects"),
    ("gpu_ids", [0], "key 'gpu_ids' must be a list of strings"),
    ("final", {"val_acc": "high"}, "key 'final': 'val_acc' must be a number"),
    ("status", "finished", "key 'status': unknown status 'finished'"),
    ("trial_id", None, "key 'trial_id' is missing or null"),
    ("colour", "red", "unknown key 'colour'"),
])
def test_a_record_of_the_wrong_shape_is_refused_naming_the_key(key, value, match):
    with pytest.raises(ValueError, match=match):
        TrialRecord.from_dict({**TRAINED, key: value})


def test_a_record_without_its_required_keys_or_not_an_object_is_refused():
    with pytest.raises(ValueError, match="key 'run' is missing"):
        TrialRecord.from_dict({"trial_id": "t", "status": "completed"})
    with pytest.raises(ValueError, match="expected a JSON object"):
        TrialRecord.from_dict([TRAINED])


def test_a_folder_reads_as_a_record_and_a_bad_one_names_its_file(tmp_path):
    folder = TrialFolder(tmp_path / "t1")
    assert read_record(tmp_path / "t1") is None  # not written yet
    folder.publish({"scheme": {}}, {"seed": 0}, TRAINED)
    assert read_record(tmp_path / "t1") == TrialRecord.from_dict(TRAINED)
    (tmp_path / "t1" / "metrics.json").write_text(json.dumps({**TRAINED, "epochs_run": 1.5}))
    with pytest.raises(ValueError, match=r"t1/metrics.json: trial record: key 'epochs_run' must be an integer"):
        read_record(tmp_path / "t1")


def test_the_reference_trials_csv_rows_come_back_from_the_records():
    committed = pd.read_csv(RUN / "trials.csv", dtype={"trial_id": str}).set_index("trial_id")
    for path in REFERENCE_RECORDS[:20]:
        row = trial_row(path.parent, RUN)
        expected = committed.loc[row["trial_id"]]
        for column in ("status", "best_val_acc", "val_acc", "params", "flops", "epochs_run", "option", "feasible",
                       "architecture_id"):
            assert row[column] == expected[column], (row["trial_id"], column)
