"""nas.resumable: the crash-consistency rule of both trainables (the resumable state is written with the
record, before it), the state's round trip, the best-epoch bookkeeping and the pre-Ray check of every state."""
from __future__ import annotations

import os

import pytest
import torch

from nas.resumable import (RESUME_FILE, ResumableTraining, check_resume_states, diverged_final, epoch_final,
                           read_resume_state)
from nas.search.records import TrialFolder, read_trial
from nas.storage import Location

SPEC, TRAIN = {"kind": "test"}, {"epochs": 3}


def _epoch(epoch: int, val_acc: float) -> dict:
    return {"epoch": epoch, "val_acc": val_acc, "val_loss": 1.0 - val_acc, "train_loss": 0.5, "train_acc": 0.6,
            "lr": 0.1}


def _fit_state(epoch: int) -> dict:
    return {"epoch": epoch, "model": {"w": torch.full((2,), float(epoch))}, "history": []}


class RecordingLocation:
    """A trial folder's Location that remembers the order of its writes (and forwards them)."""

    def __init__(self, location: Location, writes: list):
        self._location, self._writes = location, writes

    def __getattr__(self, name):
        return getattr(self._location, name)

    def write_bytes(self, relative, data):
        self._writes.append(relative)
        return self._location.write_bytes(relative, data)

    def write_json(self, relative, value):
        self._writes.append(relative)
        return self._location.write_json(relative, value)

    def publish_folder(self, relative, files, marker):
        self._writes.extend(files)
        return self._location.publish_folder(relative, files, marker)


def _training(tmp_path, keep_best_weights=True, writes=None) -> ResumableTraining:
    folder = TrialFolder(tmp_path / "trials" / "t0")
    if writes is not None:
        folder.location = RecordingLocation(folder.location, writes)
    return ResumableTraining.start(folder, keep_best_weights=keep_best_weights)


@pytest.mark.parametrize("first", [True, False], ids=["first publication", "later publication"])
def test_the_state_is_written_with_the_record_and_before_it(tmp_path, first):
    writes = []
    training = _training(tmp_path, writes=writes)
    if not first:
        training.publish(SPEC, TRAIN, {"status": "training", "epochs_run": 0})
        writes.clear()
    training.observe(_epoch(1, 0.5), _fit_state(1))
    training.publish(SPEC, TRAIN, {"status": "stopped", "epochs_run": 1}, fit_state=_fit_state(1))
    assert RESUME_FILE in writes and writes[-1] == "metrics.json"
    assert writes.index(RESUME_FILE) < writes.index("metrics.json")
    # what the record says and what the state holds are the same epoch
    assert read_trial(training.folder.location._location)["metrics"]["epochs_run"] == 1
    assert read_resume_state(training.folder.location._location)["train"]["epoch"] == 1


def test_a_record_without_a_fit_state_writes_no_state(tmp_path):
    training = _training(tmp_path)
    training.publish(SPEC, TRAIN, {"status": "error", "epochs_run": 0})
    assert not training.folder.location.is_file(RESUME_FILE)


def test_a_later_attempt_continues_from_the_saved_state(tmp_path):
    training = _training(tmp_path)
    training.observe(_epoch(1, 0.5), _fit_state(1))
    training.observe(_epoch(2, 0.4), _fit_state(2))  # not better: the best stays epoch 1
    training.publish(SPEC, TRAIN, {"status": "stopped"}, fit_state=_fit_state(2))

    again = _training(tmp_path)
    assert again.resumed_from_epoch == 0
    again.resume()
    assert again.resumed_from_epoch == 2
    assert again.best == {"epoch": 1, "val_acc": 0.5, "val_loss": 0.5}
    assert torch.equal(again.best_weights["w"], torch.full((2,), 1.0))
    assert again.previous_wall >= 0.0 and again.elapsed()[0] >= again.previous_wall


def test_an_evaluation_keeps_no_best_weights(tmp_path):
    training = _training(tmp_path, keep_best_weights=False)
    assert training.observe(_epoch(1, 0.5), _fit_state(1)) is True
    training.publish(SPEC, TRAIN, {"status": "training"}, fit_state=_fit_state(1))
    assert read_resume_state(training.folder.location)["best_weights"] == {}
    again = _training(tmp_path, keep_best_weights=False)
    again.resume()
    assert again.best_weights == {} and again.best["epoch"] == 1


def test_the_best_epoch_is_the_highest_validation_accuracy(tmp_path):
    training = _training(tmp_path)
    assert [training.observe(_epoch(e, acc), _fit_state(e)) for e, acc in ((1, 0.3), (2, 0.6), (3, 0.6))] \
        == [True, True, False]  # a tie does not move the best
    assert training.best["epoch"] == 2
    assert torch.equal(training.best_weights["w"], torch.full((2,), 2.0))


def test_finish_deletes_the_state_and_keeps_the_record(tmp_path):
    training = _training(tmp_path)
    training.publish(SPEC, TRAIN, {"status": "stopped"}, fit_state=_fit_state(1))
    training.publish(SPEC, TRAIN, {"status": "completed"})
    training.finish()
    assert not training.folder.location.is_file(RESUME_FILE)
    assert read_trial(training.folder.location)["metrics"]["status"] == "completed"
    again = _training(tmp_path)
    again.resume()  # nothing to resume: a fresh start
    assert again.fit_state is None and again.resumed_from_epoch == 0


def test_a_state_that_is_not_a_trial_state_is_refused_naming_the_file(tmp_path):
    folder = tmp_path / "trials" / "t7"
    folder.mkdir(parents=True)
    torch.save({"train": {}}, folder / RESUME_FILE)
    with pytest.raises(ValueError, match=r"t7/\.resume_state\.pt: not a nas trial state"):
        _training(tmp_path).resume(Location.from_uri(folder))
    with pytest.raises(ValueError, match=r"^--resume: t7/\.resume_state\.pt: not a nas trial state"):
        check_resume_states(tmp_path / "trials")


def test_check_resume_states_accepts_good_states_and_folders_without_one(tmp_path):
    training = _training(tmp_path)
    training.publish(SPEC, TRAIN, {"status": "stopped"}, fit_state=_fit_state(1))
    (tmp_path / "trials" / "t1").mkdir()
    check_resume_states(tmp_path / "trials")
    check_resume_states(tmp_path / "missing")  # no trial folder yet


def test_a_worker_whose_raylet_is_gone_writes_nothing(tmp_path):
    # the orphan check runs before any write: run it in a child whose "raylet" is not its parent
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- the child ends with os._exit either way
        training = ResumableTraining(TrialFolder(tmp_path / "trials" / "t0"), started=0.0, cpu_started=0.0,
                                     raylet=os.getppid() + 1)
        try:
            training.publish(SPEC, TRAIN, {"status": "stopped"}, fit_state=_fit_state(1))
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 1
    assert not (tmp_path / "trials" / "t0").exists()


def test_final_entries():
    assert epoch_final(_epoch(2, 0.5)) == {"epoch": 2, "val_acc": 0.5, "val_loss": 0.5, "train_loss": 0.5,
                                           "train_acc": 0.6}
    assert diverged_final(3) == {"epoch": 4, "val_acc": 0.0, "val_loss": None}
