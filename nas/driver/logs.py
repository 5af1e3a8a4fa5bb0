"""Library chatter of a search goes to the run's log file, not to the user's terminal.

Ray prints a token-authentication banner at every ``ray.init`` ("Token authentication is enabled for this
Ray cluster ...") and Ray Tune, Optuna and Python warnings add lines of their own; none of them tells a
``nas`` user anything the progress view does not. ``run_log`` sends the ``ray*`` and ``optuna*`` loggers and
``warnings`` to a log file for the duration of a search and puts that file in the run folder
(``search.log``, appended to on ``--resume``), so the information is kept where it belongs; ``nas evaluate``
uses it the same way for ``evaluation/evaluation.log``. Our own output
(the progress lines, the leaderboard, error messages) is printed, not logged, and is unaffected.

Optuna adds its own stderr handler to the ``optuna`` logger the first time it is imported; a search imports it
lazily, inside ``run_log``, so ``run_log`` imports it first: its handler is then one of those swapped out,
and Optuna's warnings (GPSampler's "greenlet unavailable", the ``ExperimentalWarning`` of QMCSampler and
other samplers built by the driver) reach ``search.log`` only, never the terminal.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

LIBRARY_LOGGERS = ("ray", "optuna")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def quiet_libraries() -> None:
    """Our progress view replaces Tune's status tables; Optuna's per-trial log lines are left out."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter prints nothing at verbose=0
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _library_loggers() -> list[logging.Logger]:
    names = [name for name in list(logging.root.manager.loggerDict)
             if name.split(".")[0] in LIBRARY_LOGGERS]
    return [logging.getLogger(name) for name in sorted(set(names) | set(LIBRARY_LOGGERS))]


@contextlib.contextmanager
def run_log(run_dir, name: str, keep=lambda: True):
    """Route library logs and warnings to a log file while the block runs.

    The log is written to a local temporary file (nothing appears in the run folder before the run exists);
    on the way out it is appended to ``run_dir``/``name`` (a ``nas.storage.Location``: local or object store)
    when ``keep()`` says the run folder exists, and removed otherwise.
    """
    import optuna  # noqa: F401  (installs Optuna's stderr handler now, so that it is swapped out below)
    import ray  # noqa: F401  (imports Ray's loggers and their handlers, so that they can be redirected)
    import ray.tune  # noqa: F401

    fd, temporary = tempfile.mkstemp(prefix="nas-search-", suffix=".log")
    os.close(fd)
    handler = logging.FileHandler(temporary, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    saved = []
    for logger in _library_loggers():
        saved.append((logger, logger.handlers[:], logger.propagate))
        # Only the top-level loggers get our handler; their children propagate to them as configured.
        logger.handlers = [handler] if logger.name in LIBRARY_LOGGERS else []
        logger.propagate = logger.name not in LIBRARY_LOGGERS
    # ray.init resets the "ray" logger (no handlers, no propagation): its records then reach
    # ``logging.lastResort``, which prints to stderr; during the search that last resort is the log file.
    last_resort, logging.lastResort = logging.lastResort, handler
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    saved_warnings = (warnings_logger.handlers[:], warnings_logger.propagate)
    warnings_logger.handlers, warnings_logger.propagate = [handler], False
    try:
        yield Path(temporary)
    finally:
        logging.captureWarnings(False)
        logging.lastResort = last_resort
        warnings_logger.handlers, warnings_logger.propagate = saved_warnings
        for logger, handlers, propagate in saved:
            logger.handlers, logger.propagate = handlers, propagate
        handler.close()
        try:
            text = Path(temporary).read_bytes()
            if text and keep():
                previous = run_dir.read_bytes(name) if run_dir.is_file(name) else b""
                run_dir.write_bytes(name, previous + text)
        except OSError:
            pass  # the log is a courtesy: never let it mask the search's own outcome
        finally:
            Path(temporary).unlink(missing_ok=True)


__all__ = ["run_log", "quiet_libraries"]
