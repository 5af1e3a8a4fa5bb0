"""One driver per run: ``driver.lock`` in the run folder names the process that runs it.

``nas search`` and ``nas evaluate`` take the lock of a run before they read or write its state, and give it
back when they end. A second driver on the same run (a second search started by mistake, an evaluation while
the search still runs) is refused with a ``RunLocked`` (a ``ValueError``) naming the running driver: its
command, host, pid and start time. Two drivers on one run would otherwise both write it (twice the trials,
every baseline twice).

The lock file is a small JSON object: ``host``, ``pid``, ``command``, ``started``, ``heartbeat`` (seconds
since the epoch, rewritten every ``HEARTBEAT_SECONDS`` by a thread of the driver) and a random ``token``.
A driver killed with SIGKILL cannot remove its lock, so a lock is **stale**, and taken over by the next
driver (``--resume``), when

- its host is this host and its pid is no longer alive, or
- its heartbeat is older than ``STALE_SECONDS`` (``$NAS_LOCK_STALE_SECONDS``), whatever the host (a pid
  reused by another process, a driver on another machine of a shared folder).

What each storage guarantees (docs/cluster.md):

- local and shared file systems: the lock is created with ``O_CREAT | O_EXCL``, which is atomic (on NFS
  since v3), so of two drivers exactly one gets it; a stale lock is renamed aside before it is replaced
  and the renamed file is checked to be the stale one.
- object stores (S3, GCS through ``pyarrow.fs``) have no atomic create-if-absent: the lock is written, read
  back after ``SETTLE_SECONDS`` and compared with what was written; the driver whose token is not there
  gives up. Two drivers started within the same moment can still both pass, so there it is best effort.
"""
from __future__ import annotations

import datetime
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .messages import quote
from .storage import Location

LOCK_FILE = "driver.lock"
HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 300.0  # ten missed heartbeats
SETTLE_SECONDS = 1.0  # object stores: wait this long between writing the lock and reading it back
LOCK_LIMIT = 4096  # bytes: a lock file is one small JSON object

__all__ = ["DriverLock", "RunLocked", "Holder", "LOCK_FILE", "HEARTBEAT_SECONDS", "STALE_SECONDS",
           "stale_seconds", "is_lock_entry"]


def is_lock_entry(name: str) -> bool:
    """Whether a run folder's entry ``name`` belongs to the lock (the lock, its renamed-aside and temporary
    copies), so that a folder holding only these holds no run."""
    return name == LOCK_FILE or name.startswith((f".{LOCK_FILE}.", ".driver.tmp-"))


class RunLocked(ValueError):
    """The run has a running driver (the message names it)."""


def stale_seconds() -> float:
    """``STALE_SECONDS``, or ``$NAS_LOCK_STALE_SECONDS`` when set (a positive number)."""
    text = os.environ.get("NAS_LOCK_STALE_SECONDS")
    if not text:
        return STALE_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value < float("inf")):
        raise ValueError(f"NAS_LOCK_STALE_SECONDS: must be a positive number of seconds, got {quote(text)}")
    return value


@dataclass(frozen=True)
class Holder:
    """What a lock file says about the driver holding it."""

    host: str
    pid: int
    command: str
    started: str
    heartbeat: float
    token: str

    @classmethod
    def from_bytes(cls, data: bytes) -> "Holder | None":
        """The holder of a lock file's content, None when it is not a lock ``nas`` wrote (or half of one)."""
        if len(data) > LOCK_LIMIT:
            return None
        try:
            value = json.loads(data.decode("utf-8"))
            holder = cls(host=str(value["host"]), pid=int(value["pid"]), command=str(value["command"]),
                         started=str(value["started"]), heartbeat=float(value["heartbeat"]),
                         token=str(value["token"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None
        return holder

    def to_bytes(self) -> bytes:
        return (json.dumps({"host": self.host, "pid": self.pid, "command": self.command, "started": self.started,
                            "heartbeat": self.heartbeat, "token": self.token}) + "\n").encode("utf-8")

    def is_stale(self, now: float, bound: float) -> bool:
        """See the module docstring: a dead pid on this host, or a heartbeat older than ``bound`` seconds."""
        if now - self.heartbeat > bound:
            return True
        return self.host == socket.gethostname() and not _pid_alive(self.pid)

    def describe(self, now: float) -> str:
        return (f"{quote(self.command, 60)} on host {quote(self.host, 80)}, pid {self.pid}, "
                f"started {quote(self.started, 40)}"
                f" (last heartbeat {max(0.0, now - self.heartbeat):.0f} s ago)")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return False
    return True


class DriverLock:
    """The lock of the run folder ``run_dir`` (a ``nas.storage.Location``) for ``command``.

    ``with DriverLock(run_dir, "nas search") as lock:`` takes it (or raises ``RunLocked``), keeps its heartbeat
    while the block runs and gives it back at the end; a run folder that the lock alone created is removed
    with it. ``stop()`` ends the heartbeat early (before the caller removes the whole run folder).
    """

    def __init__(self, run_dir, command: str):
        self.run_dir = Location.from_uri(run_dir)
        self.command = command
        self.holder: Holder | None = None
        self._created: Path | None = None
        self._mutex = threading.Lock()  # heartbeat writes vs stop()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------- public
    def __enter__(self) -> "DriverLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> "DriverLock":
        bound = stale_seconds()
        now = time.time()
        self.holder = Holder(host=socket.gethostname(), pid=os.getpid(), command=self.command,
                             started=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                             heartbeat=now, token=uuid.uuid4().hex)
        if self.run_dir.is_local:
            self._acquire_local(bound)
        else:
            self._acquire_object(bound)
        self._thread = threading.Thread(target=self._beat, name="nas-driver-lock", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the heartbeat (the lock file stays until ``release``, or goes with its folder)."""
        with self._mutex:
            self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def release(self) -> None:
        """Stop the heartbeat and remove the lock if it is still ours; never raises for a missing lock."""
        self.stop()
        if self.holder is None:
            return
        try:
            current = self._read()
            if current is not None and current.token == self.holder.token:
                self.run_dir.delete(LOCK_FILE)
            if self._created is not None:
                folder = self.run_dir.local_path
                while True:
                    if folder.is_dir() and not any(folder.iterdir()):
                        folder.rmdir()
                    elif folder.exists():  # holds a run now: keep it and everything above
                        break
                    if folder == self._created or folder == folder.parent:
                        break
                    folder = folder.parent
        except OSError:  # the lock is stale once its heartbeat ages: never hide the driver's own outcome
            pass
        self.holder = None

    # ------------------------------------------------------------------------------------ helpers
    def _refuse(self, holder: Holder | None, now: float) -> RunLocked:
        where = self.run_dir.display()
        if holder is None:
            return RunLocked(f"{where}: another driver is taking the run's lock ({LOCK_FILE} is being written); "
                             "a run has one driver")
        bound = stale_seconds()
        return RunLocked(f"{where} has a running driver: {holder.describe(now)}; a run has one driver: wait for it "
                         f"to end or stop it (the lock of a killed driver is taken over by --resume once its pid is "
                         f"gone on its host, or {bound:.0f} s after its last heartbeat)")

    def _read(self) -> Holder | None:
        try:
            return Holder.from_bytes(self.run_dir.read_bytes(LOCK_FILE))
        except (FileNotFoundError, OSError):
            return None

    def _acquire_local(self, bound: float) -> None:
        folder = self.run_dir.local_path
        if not folder.exists():
            top = folder
            while not top.parent.exists():
                top = top.parent
            folder.mkdir(parents=True)
            self._created = top  # the outermost folder the lock created, removed with it if still empty
        path = folder / LOCK_FILE
        for _ in range(5):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                now = time.time()
                holder = self._read()
                if holder is None:
                    if not _old(path, bound, now):  # being written by a driver that just created it
                        raise self._refuse(None, now) from None
                elif not holder.is_stale(now, bound):
                    raise self._refuse(holder, now) from None
                _break_local(path, holder)
                continue
            try:
                os.write(fd, self.holder.to_bytes())
                os.fsync(fd)
            finally:
                os.close(fd)
            return
        raise self._refuse(self._read(), time.time())

    def _acquire_object(self, bound: float) -> None:
        now = time.time()
        if self.run_dir.is_file(LOCK_FILE):
            holder = self._read()
            if holder is not None and not holder.is_stale(now, bound):
                raise self._refuse(holder, now)
        self.run_dir.write_bytes(LOCK_FILE, self.holder.to_bytes())
        # No create-if-absent on an object store: a driver that wrote at the same moment overwrote ours or
        # will have been overwritten by it; after a pause, whoever's token is there holds the run.
        time.sleep(SETTLE_SECONDS)
        current = self._read()
        if current is None or current.token != self.holder.token:
            self.holder = None  # not ours: release() must not delete it
            raise self._refuse(current, time.time())

    def _beat(self) -> None:
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            with self._mutex:
                if self._stopped.is_set() or self.holder is None:
                    return
                try:
                    current = self._read()
                    if current is None or current.token != self.holder.token:
                        return  # taken over (after a stall longer than the stale bound): nothing of ours to renew
                    self.holder = Holder(**{**self.holder.__dict__, "heartbeat": time.time()})
                    self.run_dir.write_bytes(LOCK_FILE, self.holder.to_bytes())  # atomic replace / one PUT
                except OSError:
                    continue  # a storage hiccup: try again at the next beat


def _old(path: Path, bound: float, now: float) -> bool:
    try:
        return now - path.stat().st_mtime > bound
    except FileNotFoundError:
        return True


def _break_local(path: Path, stale: Holder | None) -> None:
    """Remove the stale lock at ``path``: rename it aside (only one breaker can), then check that what was
    renamed is the stale lock and not one a faster driver took meanwhile (which is put back)."""
    aside = path.with_name(f".{LOCK_FILE}.stale-{uuid.uuid4().hex}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    try:
        moved = Holder.from_bytes(aside.read_bytes())
        if stale is not None and moved is not None and moved.token != stale.token:
            try:
                os.link(aside, path)  # put the live lock back, unless yet another driver holds the name
            except FileExistsError:
                pass
    finally:
        aside.unlink(missing_ok=True)
