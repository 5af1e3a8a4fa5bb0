"""The Ray Tune driver shared by ``nas search`` and ``nas evaluate`` (and by racing next).

A command that runs trials on Ray Tune is a ``TuneCommand`` (its own parts: where its run is, what it checks,
how it builds its Tuner, what it records) driven by ``drive(command, request)`` through three named phases,
in the manner of optuna's ``_optimize`` -> ``_run_trial``:

- **prepare**: resolve and check everything, nothing written: the request's names and storage, the run's
  lock (``nas.driver_lock``), the command's own checks, every saved training state and Tune experiment file
  of a resumed run (``nas.resumable``, ``nas.driver.signatures``), this machine's resources; then the data
  set is loaded once;
- **execute**: an embedded Ray started (or a cluster joined), the run's start file written, the Tuner built or
  restored and run, SIGINT / SIGTERM routed into Tune's graceful stop (``signals``); library chatter goes to
  the run's log;
- **finish**: the command's records and outputs from what Tune left, the interruption raised again with the
  command that resumes the run (``Interrupted.with_hint``), the command's summary printed.

Modules:

- ``request``  ``TuneRequest`` (a frozen value: what the user asked) and ``PreparedRun`` (what prepare resolved);
- ``command``  ``TuneCommand``: the interface a command implements, each method saying when it is called
               (with ``TuneSettings`` and ``TrialFunction``, the values it returns);
- ``phases``   ``drive``: the three phases;
- ``signals``  ``tune_signal_handling``: the first signal becomes Tune's graceful stop.
"""
from __future__ import annotations

from .command import TrialFunction, TuneCommand, TuneSettings
from .phases import drive
from .request import PreparedRun, TuneRequest
from .signals import tune_signal_handling

__all__ = ["drive", "TuneCommand", "TuneSettings", "TrialFunction", "TuneRequest", "PreparedRun", "tune_signal_handling"]
