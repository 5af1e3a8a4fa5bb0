"""Resumable training of one Ray Tune trial (``nas search`` and ``nas evaluate`` alike): the state that lets a
trial continue after its worker died, its driver was killed or its run was interrupted, and the one rule
that keeps that state consistent with the trial's record.

The rule (crash consistency): **the resumable state is written with the record, before it.**
``ResumableTraining.publish`` hands the state to ``TrialFolder.publish`` as an extra file, which writes it
before ``metrics.json`` (in the folder's first atomic publication too), so a folder never records an epoch
whose state is missing, whenever the process is killed. A trial that completed or diverged needs no state:
``finish`` deletes it after the final record, and a restarted trial reports that record instead of training.

The state (``.resume_state.pt`` in the trial folder, replaced atomically every epoch): ``fit``'s checkpoint
(``train``), the best epoch so far (``best``) and its weights (``best_weights``; ``{}`` where they are not
kept), the wall and CPU time of the earlier attempts. It is read back with ``torch.load(weights_only=True)``
(``nas.safe_load``): tensors and plain data only, so a planted pickle cannot run code, and a driver checks
every state of a run before Ray starts (``check_resume_states``).

Each report to Tune carries a small marker checkpoint (the epoch, ``report_with_marker``) that tells Tune the
trial can be restored; the training state itself never goes through Tune's checkpoints, whose retention
(``num_to_keep``) can delete the one its last experiment snapshot points to when the driver is killed at the
wrong moment, while a single atomically replaced file cannot go missing.

A worker outlives its cluster when the driver is killed with the local Ray it started (Ray 2.60 gives each
worker its own process group). Such an orphan must not write: a resumed run owns the trial folder by then.
So every publication first checks that the raylet that started the worker (its parent process) is still
there (``exit_if_orphaned``), and the worker ends itself otherwise.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import time
from pathlib import Path

from nas.safe_load import read_state
from nas.storage import Location

RESUME_FILE = ".resume_state.pt"
MARKER_FILE = "epoch.json"
RESUME_KEYS = ("train", "best", "best_weights", "wall_time")
# The metrics of the epoch a record calls "final".
FINAL_KEYS = ("epoch", "val_acc", "val_loss", "train_loss", "train_acc")


def read_resume_state(path) -> dict:
    """A trial's ``.resume_state.pt``, loaded without running code (``nas.safe_load.read_state``).

    ``path``: the file, or the trial folder's ``nas.storage.Location`` (any storage). A state that is refused
    or is not a trial state is a ``ValueError`` naming the file."""
    if isinstance(path, Location):
        label = f"{path.name}/{RESUME_FILE}"
        try:
            source = io.BytesIO(path.read_bytes(RESUME_FILE))
        except OSError as exc:
            raise ValueError(f"{label}: cannot read ({exc})") from None
    else:
        label, source = f"{Path(path).parent.name}/{RESUME_FILE}", path
    saved = read_state(source, label)
    if not isinstance(saved, dict) or any(key not in saved for key in RESUME_KEYS):
        raise ValueError(f"{label}: not a nas trial state (expected the keys {', '.join(RESUME_KEYS)})")
    return saved


def check_resume_states(trials) -> None:
    """Every saved training state in the trial folders below ``trials`` (a path, URI or ``Location``) loads as
    plain tensors and data, before Ray starts: a planted pickle refuses the whole resume, naming the file,
    instead of failing one trial."""
    trials = Location.from_uri(trials)
    for name in trials.list():
        if (trials / name).is_file(RESUME_FILE):
            try:
                read_resume_state(trials / name)
            except ValueError as exc:
                raise ValueError(f"--resume: {exc}") from None


def exit_if_orphaned(raylet: int) -> None:
    """End this worker process at once when the raylet that started it (``raylet``, its parent at the start
    of the trial) is gone: the cluster died under it (e.g. its driver was killed with the local Ray it had
    started), and a resumed run owns the trial's folder now (see the module docstring). ``os._exit``, not an
    exception: the trial runs in a thread of the worker, and nothing of it may be written any more."""
    if os.getppid() != raylet:
        os._exit(1)


def report_with_marker(values: dict) -> None:
    """``ray.tune.report(values)`` with a marker checkpoint of ``values["epoch"]`` (see the module docstring)."""
    from ray import tune

    with tempfile.TemporaryDirectory(prefix="nas-marker-") as directory:
        (Path(directory) / MARKER_FILE).write_text(json.dumps({"epoch": values.get("epoch", 0)}))
        tune.report(values, checkpoint=tune.Checkpoint.from_directory(directory))


def epoch_final(metrics: dict) -> dict:
    """The ``final`` entry of a record written after an epoch (``fit``'s per-epoch metrics)."""
    return {key: metrics[key] for key in FINAL_KEYS}


def diverged_final(epochs_run: int) -> dict:
    """The ``final`` entry of a diverged trial: the epoch that diverged scores nothing."""
    return {"epoch": epochs_run + 1, "val_acc": 0.0, "val_loss": None}


class ResumableTraining:
    """One attempt at training a trial, continuing where the earlier attempts' saved state ends.

    Created when the attempt starts (``start``): it holds the attempt's clocks and the raylet that started the
    worker. ``resume`` then loads the saved state (if any); ``observe`` follows the best epoch after each
    epoch; ``publish`` writes the record with the state (the rule of the module docstring); ``finish``
    deletes the state once the final record is written.

    ``keep_best_weights``: keep the best epoch's weights in the state (a search publishes them as the trial's
    weights when a later epoch does not improve); an evaluation scores the last epoch and saves ``{}``.
    """

    def __init__(self, folder, *, started: float, cpu_started: float, raylet: int, keep_best_weights: bool = True):
        self.folder = folder  # nas.search.records.TrialFolder
        self.started, self.cpu_started, self.raylet = started, cpu_started, raylet
        self.keep_best_weights = keep_best_weights
        self.fit_state: dict | None = None  # fit's checkpoint to continue from
        self.best = {"epoch": None, "val_acc": None, "val_loss": None}
        self.best_weights = None if keep_best_weights else {}
        self.previous_wall, self.previous_cpu = 0.0, 0.0
        # every epoch trained so far (fit's history, resumed runs included), as a record keeps it: validation
        # metrics and, for a network that learns its scheme, θ (nas.networks.learned.trial_history_entry)
        self.history: list[dict] = []

    @classmethod
    def start(cls, folder, keep_best_weights: bool = True) -> "ResumableTraining":
        """An attempt starting now, in this worker, writing to ``folder`` (a ``TrialFolder``)."""
        return cls(folder, started=time.time(), cpu_started=time.process_time(), raylet=os.getppid(),
                   keep_best_weights=keep_best_weights)

    def resume(self, state_folder: Location | None = None) -> None:
        """Continue from the state saved in ``state_folder`` (default: this trial's folder) when there is one;
        a refused state is a ``ValueError`` (deterministic: a retry would read the same file)."""
        source = self.folder.location if state_folder is None else state_folder
        if not source.is_file(RESUME_FILE):
            return
        saved = read_resume_state(source)
        self.fit_state, self.best = saved["train"], saved["best"]
        if self.keep_best_weights:
            self.best_weights = saved["best_weights"]
        self.previous_wall, self.previous_cpu = saved["wall_time"], saved.get("cpu_time", 0.0)

    @property
    def resumed_from_epoch(self) -> int:
        """The epoch this attempt starts after (0 for a fresh start)."""
        return 0 if self.fit_state is None else self.fit_state["epoch"]

    def elapsed(self) -> tuple[float, float]:
        """Wall and CPU seconds of training so far, earlier attempts included."""
        return (self.previous_wall + time.time() - self.started,
                self.previous_cpu + time.process_time() - self.cpu_started)

    def observe(self, metrics: dict, fit_state: dict) -> bool:
        """After an epoch (``fit``'s metrics and checkpoint): follow the history and the best validation
        accuracy; True when this epoch is the new best."""
        from nas.networks.learned import trial_history_entry

        self.history = [trial_history_entry(entry) for entry in fit_state.get("history", [])]
        improved = self.best["val_acc"] is None or metrics["val_acc"] > self.best["val_acc"]
        if improved:
            self.best.update(epoch=metrics["epoch"], val_acc=metrics["val_acc"], val_loss=metrics["val_loss"])
            if self.keep_best_weights:
                self.best_weights = fit_state["model"]
        return improved

    def state_bytes(self, fit_state: dict) -> bytes:
        """The whole resumable state after an epoch whose checkpoint is ``fit_state``, as one file's bytes (one
        atomic write on any storage)."""
        import torch

        wall, cpu = self.elapsed()
        buffer = io.BytesIO()
        torch.save({"train": fit_state, "best": self.best, "best_weights": self.best_weights,
                    "wall_time": wall, "cpu_time": cpu}, buffer)
        return buffer.getvalue()

    def publish(self, spec: dict, train_config: dict, metrics: dict, weights: dict | None = None,
                fit_state: dict | None = None, extra: dict[str, bytes] | None = None) -> None:
        """Write the trial's record (``TrialFolder.publish``) and, given ``fit_state``, the resumable state with it
        and before it. Nothing is written by an orphaned worker (``exit_if_orphaned``)."""
        exit_if_orphaned(self.raylet)
        files = {} if fit_state is None else {RESUME_FILE: self.state_bytes(fit_state)}
        files.update(extra or {})
        self.folder.publish(spec, train_config, metrics, weights, files or None)

    def finish(self) -> None:
        """The final record (completed, diverged) is written: the state is no longer needed."""
        self.folder.location.delete(RESUME_FILE)


__all__ = ["ResumableTraining", "read_resume_state", "check_resume_states", "exit_if_orphaned",
           "report_with_marker", "epoch_final", "diverged_final", "RESUME_FILE", "MARKER_FILE", "RESUME_KEYS"]
