"""SIGINT / SIGTERM during ``tuner.fit()``: the first signal becomes Ray Tune's graceful stop."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading


@contextlib.contextmanager
def tune_signal_handling(signals):
    """Around ``tuner.fit()`` of any command that runs Ray Tune: route the first SIGINT / SIGTERM caught by
    ``signals`` (``nas.interrupt``) into Ray Tune's graceful stop, which saves the experiment state with the
    unfinished trials still marked running (so ``Tuner.restore`` continues them) and stops the trials.

    Tune installs that stop as its SIGINT handler and, always, as its SIGUSR1 handler; with
    ``TUNE_DISABLE_SIGINT_HANDLER=1`` SIGINT stays with ``nas.interrupt`` (which also knows SIGTERM and which
    signal came), and our handler calls the SIGUSR1 one Tune installed for this run. Tune's messages about the
    interruption (they suggest ``Tuner.restore``) are dropped: ``nas`` prints its own resume command.
    """
    if not hasattr(signal, "SIGUSR1") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    previous_usr1 = signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # never call an earlier run's stale handler
    tune_logger = logging.getLogger("ray.tune.tune")
    quiet = lambda record: signals.received is None  # noqa: E731
    tune_logger.addFilter(quiet)

    def stop_tune() -> bool:
        handler = signal.getsignal(signal.SIGUSR1)
        if not callable(handler):  # Tune's loop has not started (or has ended): stop at once instead
            return False
        handler(signal.SIGUSR1, None)
        return True

    try:
        with signals.graceful(stop_tune):
            yield
    finally:
        tune_logger.removeFilter(quiet)
        signal.signal(signal.SIGUSR1, previous_usr1)
        if previous_env is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = previous_env


__all__ = ["tune_signal_handling"]
