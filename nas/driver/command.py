"""``TuneCommand``: the parts of a Ray Tune command that are its own, plugged into ``nas.driver.drive``.

As optuna's ``BaseSampler`` does for its optimisation loop, each method says when the driver calls it; the
driver owns the order, the lock, Ray's lifecycle, the resume checks, the signals and the hint, so a command
(``nas search``, ``nas evaluate``, racing next) holds none of them.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Mapping

from nas.driver_lock import DriverLock

from .request import PreparedRun, TuneRequest


@dataclass(frozen=True)
class TuneSettings:
    """A new run's Tune settings that are the command's own (a restored run keeps those it was started with).

    The driver adds the rest, the same for every command: the experiment's storage, ``verbose=0``, markers
    kept (``CheckpointConfig(num_to_keep=None)``: see ``nas.resumable``) and ``reuse_actors=True`` (a worker
    keeps torch, sympy and its warmed-up kernels between trials: seconds per trial on a small machine)."""

    tune_config: Mapping[str, object]  # tune.TuneConfig arguments: searcher, scheduler, samples, concurrency...
    max_failures: int  # Tune retries a trial whose worker died; it continues from its saved state
    callbacks: tuple = ()  # Tune callbacks (the progress view), when the request asks for progress
    param_space: Mapping[str, object] | None = None


@dataclass(frozen=True)
class TrialFunction:
    """The function trainable of a run and what ``tune.with_parameters`` passes it besides the data set."""

    function: Callable  # called as function(config, data=..., setup=...)
    setup: object  # the run-level settings every trial needs (a frozen value)
    resources: object  # the per-trial resource request (tune.with_resources)


class TuneCommand(abc.ABC):
    """A command that runs Ray Tune trials; the driver calls its methods in the order they are listed."""

    name: str = ""  # "nas search": the run lock's holder, the banner
    log_file: str = ""  # the run's log in the prepared folder (library chatter; nas.driver.logs.run_log)

    # ---------------------------------------------------------------------------------------- prepare
    @abc.abstractmethod
    def locate(self, request: TuneRequest) -> object:
        """First: resolve the request's run (its name and storage) and check what that needs; nothing is read
        from the run yet and nothing written. Returns the command's own value for the run, passed back to
        ``lock``, ``prepare`` and ``resume_command``. From then on an interruption names the resume command."""

    def lock(self, run) -> DriverLock:
        """Second: take the run's lock before its state is read (a second driver is refused, naming the first);
        the driver gives it back at the end. ``run``: what ``locate`` returned, here a ``nas.storage.Location``."""
        return DriverLock(run, self.name).acquire()

    @abc.abstractmethod
    def prepare(self, request: TuneRequest, run) -> PreparedRun:
        """Under the lock: decide between a new and a resumed run, read what a resume continues, check every
        flag, network and budget. Nothing is written. The driver then checks a resumed run's saved states and
        experiment files and this machine's resources, and loads the data set (``PreparedRun.data``)."""

    # ---------------------------------------------------------------------------------------- execute
    @abc.abstractmethod
    def begin(self, prepared: PreparedRun, resources: dict) -> None:
        """Ray is up and the trial ``resources`` are known: write what marks a new run started
        (``prepared.start_file``); a resumed run keeps its own."""

    @abc.abstractmethod
    def trial_function(self, prepared: PreparedRun, resources: dict) -> TrialFunction:
        """The trainable of every trial (a new or a restored run)."""

    @abc.abstractmethod
    def tune_settings(self, prepared: PreparedRun, resources: dict, progress: bool) -> TuneSettings:
        """A new run's Tune settings (not called when Tune's experiment is restored)."""

    @abc.abstractmethod
    def describe(self, prepared: PreparedRun, per_trial: str) -> str:
        """The banner's description of the run, printed before Tune starts (``per_trial``: "1 CPU + 0.5 GPU")."""

    def discard(self, prepared: PreparedRun, lock: DriverLock) -> None:
        """A new run failed before or while Tune ran (the exception is raised again afterwards): remove what it
        left, when that lets the same command simply run again. Default: keep everything."""

    # ----------------------------------------------------------------------------------------- finish
    @abc.abstractmethod
    def record(self, prepared: PreparedRun, grid, interrupted_by: str | None) -> object:
        """Tune has returned and every worker of an embedded Ray is gone: write the run's records and outputs
        from ``grid`` (Tune's ``ResultGrid``) and the trial folders; ``interrupted_by`` names the signal that
        stopped the run (its unfinished trials are recorded as interrupted). Returns the command's result."""

    def show(self, request: TuneRequest, prepared: PreparedRun, result) -> None:
        """With ``request.progress``, after the outputs are written (and the run was not interrupted): print
        the command's summary. Default: nothing."""

    @abc.abstractmethod
    def resume_command(self, request: TuneRequest, run) -> str:
        """The shell command that continues the run (the hint of an interruption after ``locate``)."""


__all__ = ["TuneCommand", "TuneSettings", "TrialFunction"]
