"""nas.driver without Ray: the request value is frozen, the prepare phase runs in order under the run's lock,
and an interruption carries the resume command once the run is located (and the lock is given back)."""
from __future__ import annotations

import dataclasses
import os
import signal

import pytest

from nas.driver import PreparedRun, TuneCommand, TuneRequest, drive
from nas.interrupt import Interrupted


class FakeLock:
    def __init__(self, calls):
        self.calls = calls

    def release(self):
        self.calls.append("release")


class FakeCommand(TuneCommand):
    """Records the driver's calls; ``fail_in`` names the step that is interrupted (or fails) instead."""

    name = "nas fake"
    log_file = "fake.log"

    def __init__(self, fail_in=None, error=None):
        self.calls, self.fail_in, self.error = [], fail_in, error

    def _step(self, name):
        self.calls.append(name)
        if self.fail_in == name:
            if self.error is not None:
                raise self.error
            os.kill(os.getpid(), signal.SIGINT)  # outside Tune, a signal interrupts at once

    def locate(self, request):
        self._step("locate")
        return "the-run"

    def lock(self, run):
        self._step("lock")
        return FakeLock(self.calls)

    def prepare(self, request, run):
        self._step("prepare")
        raise RuntimeError("stop here: the execute phase needs Ray")

    def begin(self, prepared, resources):
        raise AssertionError("not reached")

    trial_function = tune_settings = describe = record = begin

    def resume_command(self, request, run):
        return f"nas fake {run} --resume"


REQUEST = TuneRequest(storage="results", storage_option="--results-dir", flags={"seed": 1})


def test_the_request_is_a_frozen_value():
    with pytest.raises(dataclasses.FrozenInstanceError):
        REQUEST.resume = True
    with pytest.raises(TypeError):
        REQUEST.flags["seed"] = 2  # its flags too
    with pytest.raises(TypeError):
        TuneRequest("results", "--results-dir")  # keyword-only: no positional parameter lists
    assert dataclasses.fields(PreparedRun)  # a value as well
    assert PreparedRun.__dataclass_params__.frozen


def test_the_phases_run_in_order_under_the_lock_and_the_lock_is_given_back():
    command = FakeCommand()
    with pytest.raises(RuntimeError, match="stop here"):
        drive(command, REQUEST)
    assert command.calls == ["locate", "lock", "prepare", "release"]


def test_an_interruption_after_locate_names_the_resume_command():
    command = FakeCommand(fail_in="prepare")
    with pytest.raises(Interrupted) as caught:
        drive(command, REQUEST)
    assert caught.value.hint == "resume with: nas fake the-run --resume"
    assert command.calls[-1] == "release"


def test_an_interruption_before_the_run_is_located_has_no_hint():
    command = FakeCommand(fail_in="locate")
    with pytest.raises(Interrupted) as caught:
        drive(command, REQUEST)
    assert not caught.value.hint
    assert command.calls == ["locate"]


def test_a_refused_lock_is_an_error_without_release():
    command = FakeCommand(fail_in="lock", error=ValueError("run is locked by pid 1"))
    with pytest.raises(ValueError, match="locked"):
        drive(command, REQUEST)
    assert command.calls == ["locate", "lock"]
