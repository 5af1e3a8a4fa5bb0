"""Stopping a `nas` driver subprocess at a chosen moment (the kill / interrupt-and-resume tests)."""
from __future__ import annotations

import os
import signal
import time


def signal_when(driver, predicate, signum, what: str, timeout: float = 240, poll: float = 0.05,
                group: bool = False) -> int:
    """Send ``signum`` to ``driver`` (a ``subprocess.Popen`` started with ``start_new_session=True``) as soon as
    ``predicate()`` holds, and return its exit status. SIGKILL, and any signal with ``group=True``, goes to its
    whole process group (the driver and the Ray it started, at once, as ``timeout``, systemd and Slurm send
    SIGTERM); other signals to the driver alone, which handles them. The driver is killed whatever happens; an
    ``AssertionError`` naming ``what`` if the predicate never held."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and driver.poll() is None:
            if predicate():
                os.killpg(driver.pid, signum) if group or signum == signal.SIGKILL else os.kill(driver.pid, signum)
                return driver.wait(timeout=120)
            time.sleep(poll)
        raise AssertionError(f"{what} never reached the point to stop it")
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
