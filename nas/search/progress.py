"""What the user sees while a search runs and when it ends.

``ProgressView`` is a Ray Tune callback in the driver: one line when a trial finishes and one every
``every`` seconds otherwise, with trials done / running / total and the best primary objective so far.
``nas evaluate`` uses it too, naming each finished trial by its (architecture, seed) pair (``JobNames``).
``print_leaderboard`` prints the top trials of the finished run (``nas.leaderboard``).
"""
from __future__ import annotations

import sys
import time

from ray.tune import Callback


class JobNames:
    """A finished evaluation trial's name: ``rank1 seed 1001`` from the plan's jobs (picklable: Tune saves the
    callbacks with the experiment)."""

    def __init__(self, jobs: dict):
        self.names = {key: f"{job['candidate']['label']} seed {job['seed']}" for key, job in jobs.items()}

    def __call__(self, trial) -> str:
        name = self.names.get(trial.config.get("job"), f"trial {trial.trial_id}")
        test = (trial.last_result or {}).get("test_acc")
        scored = isinstance(test, float) and test == test
        return f"{name}: test acc {test:.4f}," if scored else f"{name}:"


class ProgressView(Callback):
    """``[  63s] 5/14 done, 2 running | best val_acc 0.9120 (rk_s3, trial 3c2f1_00004)``; ``name(trial)`` names
    a finished trial (default ``trial <id>``)."""

    def __init__(self, total: int, metric: str, mode: str, every: float = 30.0, stream=None, name=None):
        self.total, self.metric, self.mode, self.every = total, metric, mode, every
        self.stream = stream
        self.name = name
        self._reset()

    def _reset(self) -> None:
        self._start = time.monotonic()
        self._last = self._start
        self._best = None  # (value, label)
        self._finished: set = set()  # trial ids; a trial's status changes only after the callbacks ran

    def __getstate__(self):  # Tune pickles callbacks with the experiment; streams do not pickle
        state = dict(self.__dict__)
        state["stream"] = None
        return state

    def setup(self, **info) -> None:
        self._reset()

    def _write(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def _counts(self, trials) -> tuple[int, int]:
        done = {t.trial_id for t in trials if t.status in ("TERMINATED", "ERROR")} | self._finished
        running = sum(t.status == "RUNNING" and t.trial_id not in done for t in trials)
        return len(done), running

    def _line(self, trials, event: str = "") -> str:
        done, running = self._counts(trials)
        best = "—" if self._best is None else f"{self._best[0]:.4f} ({self._best[1]})"
        elapsed = time.monotonic() - self._start
        head = f"[{elapsed:5.0f}s] {done}/{self.total} done, {running} running | best {self.metric} {best}"
        return f"{head}  {event}".rstrip()

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        value = result.get(self.metric)
        if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
            better = self._best is None or (value > self._best[0] if self.mode == "max" else value < self._best[0])
            if better:
                label = (trial.config.get("scheme", "?") if self.name is None
                         else self.name(trial).rstrip(":,").split(":")[0])  # evaluate: "rank1 seed 1001"
                self._best = (float(value), f"{label}, trial {trial.trial_id}")

    def _name(self, trial) -> str:
        return f"trial {trial.trial_id}" if self.name is None else self.name(trial)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._finished.add(trial.trial_id)
        status = (trial.last_result or {}).get("status", "done")
        self._write(self._line(trials, f"{self._name(trial)} {status}"))
        self._last = time.monotonic()

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._finished.add(trial.trial_id)
        self._write(self._line(trials, f"{self._name(trial)} failed"))
        self._last = time.monotonic()

    def on_step_end(self, iteration, trials, **info) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._write(self._line(trials))


def leaderboard_text(run_dir, top: int = 5) -> str:
    """The top ``top`` finished trials of a run at equal budget (``nas.fidelity``), ranked by best validation
    accuracy, duplicates left out, and the line saying which budget is compared."""
    from nas import leaderboard
    from nas.fidelity import equal_budget

    frame, _ = leaderboard.without_duplicates(leaderboard.load(run_dir))
    compared, notes = equal_budget(frame)
    ranked = leaderboard.sort_trials(compared).head(top)
    if ranked.empty:
        return "no finished trials\n"
    return leaderboard.render(leaderboard.display_frame(ranked)) + "".join(f"{note}\n" for note in notes)


def print_leaderboard(run_dir, top: int = 5, stream=None) -> None:
    stream = stream or sys.stdout
    print(f"\nLeaderboard (top {top}, by best validation accuracy):", file=stream)
    print(leaderboard_text(run_dir, top), file=stream, end="", flush=True)


__all__ = ["JobNames", "ProgressView", "print_leaderboard", "leaderboard_text"]
