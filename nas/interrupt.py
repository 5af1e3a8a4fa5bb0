"""SIGINT and SIGTERM: end a long run cleanly, record what is unfinished, say how to continue.

``catch_signals()`` installs one handler for both signals (main thread only) for the length of a ``with``
block. Outside a graceful section a signal raises ``Interrupted`` at once (a ``KeyboardInterrupt``, so
``except Exception`` blocks do not swallow it and atomic writers remove their temporaries). Inside
``catcher.graceful(stop)`` the first signal calls ``stop()`` instead, which asks the running loop to wind
down and save its state (Ray Tune's own graceful stop, see ``nas.search.run``); the loop returns normally,
the caller records its unfinished work and then calls ``catcher.check()``, which raises ``Interrupted``.
A second signal always raises at once, as a second Ctrl-C does in Ray Tune.

The CLI turns ``Interrupted`` into one line on stderr and exit status 128 + signal number (130 for SIGINT,
143 for SIGTERM, the shell's convention). Any long-running command (``nas search``, a future
``nas evaluate``) uses the same three pieces: ``catch_signals``, ``graceful`` or ``check``, ``Interrupted``.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A run ended by a signal. ``hint`` (e.g. the resume command) is appended to the message."""

    def __init__(self, signum: int, hint: str = ""):
        super().__init__(signum, hint)
        self.signum = int(signum)
        self.hint = hint

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    def with_hint(self, hint: str) -> "Interrupted":
        return Interrupted(self.signum, hint)

    def __str__(self) -> str:
        return f"interrupted by {self.signal_name}" + (f"; {self.hint}" if self.hint else "")


class SignalCatcher:
    """Records the first SIGINT / SIGTERM; see the module docstring."""

    def __init__(self):
        self.received: int | None = None
        self._stop: Callable[[], bool] | None = None
        self._previous: dict = {}

    def __enter__(self) -> "SignalCatcher":
        if threading.current_thread() is threading.main_thread():  # signal.signal works there only
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def reinstall(self) -> None:
        """Take the signals back after a library installed its own handler beneath Python's (``ray.init``
        installs a C++ failure handler for SIGTERM in the driver, which prints a stack and aborts)."""
        if self._previous:
            for signum in SIGNALS:
                signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        first = self.received is None
        if first:
            self.received = signum
        if first and self._stop is not None and self._stop():
            return  # the loop winds down by itself; check() raises after it returned
        raise Interrupted(self.received)

    @contextlib.contextmanager
    def graceful(self, stop: Callable[[], bool]) -> Iterator["SignalCatcher"]:
        """Within the block, the first signal calls ``stop()`` (True: the loop will stop by itself)."""
        self._stop = stop
        try:
            yield self
        finally:
            self._stop = None

    def check(self) -> None:
        """Raise ``Interrupted`` if a signal arrived."""
        if self.received is not None:
            raise Interrupted(self.received)


def catch_signals() -> SignalCatcher:
    return SignalCatcher()


__all__ = ["Interrupted", "SignalCatcher", "catch_signals", "SIGNALS"]
