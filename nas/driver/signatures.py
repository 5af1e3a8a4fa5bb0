"""Keyed signatures of a run's Tune experiment: ``--resume`` unpickles only what this user's ``nas`` wrote.

Ray Tune's restore unpickles its experiment files (``tuner.pkl``, ``searcher-state-*.pkl``, the cloudpickled
objects inside ``experiment_state-*.json``, each trial's ``params.pkl``), so a run folder someone else wrote is
code. Every file the driver writes into ``<run>/tune`` goes through ``signing_filesystem`` (the file system handed
to Tune), which records HMAC-SHA256(key, relative path, content) in ``<run>/tune-signatures.json`` *before* the
file appears (so a driver killed between the two, even by SIGKILL, leaves a file whose signature is recorded: the
last two contents of each path are accepted). The key is a per-user secret outside every run folder:
``$NAS_STATE_DIR/resume.key`` (default ``~/.config/nas/resume.key``), 32 random bytes created with mode 0600 on
first use.

Before ``Tuner.restore``, ``verify_experiment`` checks every file Tune reads (each file directly in ``tune/``
and every ``*.pkl`` below it): a file without a matching signature refuses the resume, naming the file, unless
the user passed ``--trust-run-folder``. Without the key nobody can forge a signature, so a copied, planted or
edited file is refused; a run folder is resumable by the account (and the key) that ran it, wherever the folder
is moved. Files written by trials themselves (checkpoint markers, results) are not unpickled by Tune and are not
signed; the trials' own saved state is checked separately (``weights_only``, ``nas.search.trainable``).
"""
from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from pathlib import Path

import pyarrow.fs as pafs

from nas.tune_filesystem import DelegatingFileSystemHandler, WriteOnlyStream

SIGNATURE_FILE = "tune-signatures.json"  # beside the experiment folder, in the run (or evaluation) folder
FORMAT = "nas.tune-signatures/1"
KEY_FILE = "resume.key"
KEEP = 2  # contents accepted per path: the one being written and the one it replaces
TRUST_FLAG = "--trust-run-folder"


def state_dir() -> Path:
    """Where per-user state lives: ``$NAS_STATE_DIR``, default ``~/.config/nas``."""
    return Path(os.environ.get("NAS_STATE_DIR") or Path.home() / ".config" / "nas").expanduser()


def secret_key() -> bytes:
    """This user's signing key (created 0600 on first use); refused when others may read it."""
    path = state_dir() / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        # first use: a complete private file is linked into place, so two drivers starting at once agree on
        # one key (the loser's link fails) and none ever reads a half-written one
        fd, temporary = tempfile.mkstemp(prefix=f".{KEY_FILE}.tmp-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    if path.stat().st_mode & 0o077:
        raise ValueError(f"{path}: the resume signing key is readable or writable by others; chmod 600 it (or remove "
                         "it: runs signed with it then need --trust-run-folder to resume)")
    key = path.read_bytes()
    if len(key) < 32:
        raise ValueError(f"{path}: the resume signing key is truncated ({len(key)} bytes); remove it to make a new one")
    return key


def _digest(key: bytes, relative: str, data: bytes) -> str:
    return hmac.new(key, relative.encode() + b"\0" + data, hashlib.sha256).hexdigest()


def _read_all(filesystem, path: str) -> bytes:
    with filesystem.open_input_stream(path) as stream:
        return stream.read()


class _Signatures:
    """The signature file of one experiment, kept in memory by the driver and rewritten on each change."""

    def __init__(self, base, run_path: str, experiment: str, key: bytes):
        self._base = base
        self._run = run_path.rstrip("/")
        self._experiment = experiment
        self._key = key
        self._lock = threading.Lock()  # Tune's syncer thread and the driver loop both write
        self._files = _load(base, self._run)

    def relative(self, path: str) -> str | None:
        """``path`` relative to the run folder when it is a file Tune's restore reads (``_needs_signature``),
        else None (trial results, checkpoints, anything outside the experiment: not signed)."""
        prefix = f"{self._run}/{self._experiment}/"
        path = str(path)
        if not path.startswith(prefix) or not _needs_signature(path[len(prefix):]):
            return None
        return path[len(self._run) + 1:]

    def record(self, path: str, data: bytes) -> None:
        relative = self.relative(path)
        if relative is None:
            return
        digest = _digest(self._key, relative, data)
        with self._lock:
            kept = [d for d in self._files.get(relative, []) if d != digest]
            self._files[relative] = [digest, *kept][:KEEP]
            document = json.dumps({"format": FORMAT, "files": self._files}, indent=1, sort_keys=True) + "\n"
            with self._base.open_output_stream(f"{self._run}/{SIGNATURE_FILE}") as out:
                out.write(document.encode())


def _load(base, run_path: str) -> dict:
    """The recorded digests (``{relative path: [hex, ...]}``); empty when there is no readable signature file."""
    try:
        document = json.loads(_read_all(base, f"{run_path}/{SIGNATURE_FILE}"))
    except (OSError, ValueError):
        return {}
    files = document.get("files") if isinstance(document, dict) and document.get("format") == FORMAT else None
    if not isinstance(files, dict):
        return {}
    return {str(k): [str(d) for d in v][:KEEP] for k, v in files.items() if isinstance(v, list)}


class _SigningStream(WriteOnlyStream):
    """A writable stream that signs what was written before the underlying stream commits it on close."""

    def __init__(self, stream, path: str, signatures: _Signatures):
        self._target, self._path, self._signatures = stream, path, signatures
        self._chunks: list[bytes] = []
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self._chunks.append(data)
        return self._target.write(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        # the signature first: a kill between the two leaves the old file, whose digest is still kept
        self._signatures.record(self._path, b"".join(self._chunks))
        self._target.close()


class SigningFileSystemHandler(DelegatingFileSystemHandler):
    """Delegates to ``base``; in the driver that created it, signs each file written into the run folder.

    Workers receive a non-signing copy (``__reduce__``): they write trial checkpoints, which Tune does not
    unpickle, and hold no key."""

    def __init__(self, base, run_path: str | None = None, experiment: str | None = None, sign: bool = False):
        super().__init__(base)
        self._run_path = run_path
        self._experiment = experiment
        self._signatures = _Signatures(base, run_path, experiment, secret_key()) if sign else None

    def __eq__(self, other) -> bool:
        return isinstance(other, SigningFileSystemHandler) and other._base == self._base

    def __reduce__(self):
        return (SigningFileSystemHandler, (self._base, self._run_path, self._experiment, False))

    def get_type_name(self) -> str:
        return "nas-signing"

    def _signed(self, path) -> bool:
        return self._signatures is not None and self._signatures.relative(path) is not None

    def move(self, src, dest):
        if self._signed(dest):
            self._signatures.record(dest, _read_all(self._base, src))
        self._base.move(src, dest)

    def copy_file(self, src, dest):
        if self._signed(dest):
            self._signatures.record(dest, _read_all(self._base, src))
        self._base.copy_file(src, dest)

    def open_output_stream(self, path, metadata):
        import pyarrow

        stream = self._base.open_output_stream(path, metadata=metadata)
        if not self._signed(path):
            return stream
        return pyarrow.PythonFile(_SigningStream(stream, path, self._signatures), mode="w")

    def open_append_stream(self, path, metadata):
        if self._signed(path):
            raise OSError(errno.ENOTSUP, "appending to a signed experiment file is not supported", path)
        return self._base.open_append_stream(path, metadata=metadata)


def signing_filesystem(base, run_path: str, experiment: str) -> pafs.PyFileSystem:
    """``base`` wrapped so that this process signs every file Tune writes into ``<run_path>/<experiment>`` that its
    restore reads (see the module docstring)."""
    return pafs.PyFileSystem(SigningFileSystemHandler(base, run_path, experiment, sign=True))


def _needs_signature(relative_to_experiment: str) -> bool:
    """Files Tune's restore reads and may unpickle: every file directly in ``tune/``, and ``*.pkl`` below it.
    Temporaries of an interrupted atomic write (``.name.tmp-*``) are never read."""
    name = relative_to_experiment.rsplit("/", 1)[-1]
    if name.startswith("."):
        return False
    return "/" not in relative_to_experiment or name.endswith(".pkl")


def verify_experiment(base, run_path: str, experiment: str, shown, trust: bool = False) -> None:
    """Refuse (``ValueError`` naming the file) to restore the experiment ``<run_path>/<experiment>`` unless every
    file Tune reads there carries this user's signature. ``trust`` (``--trust-run-folder``) skips the check and
    signs those files instead (the folder is adopted: a later resume needs no flag).
    ``shown(relative)`` is how a file is named in the message (a path or URI)."""
    run_path = run_path.rstrip("/")
    key = secret_key()
    signed = _load(base, run_path)
    root = f"{run_path}/{experiment}"
    infos = base.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    adopted = _Signatures(base, run_path, experiment, key) if trust else None
    for info in sorted(infos, key=lambda i: i.path):
        if info.type != pafs.FileType.File:
            continue
        inside = info.path[len(root) + 1:]
        if not _needs_signature(inside):
            continue
        relative = f"{experiment}/{inside}"
        data = _read_all(base, info.path)
        if adopted is not None:  # the user vouched for the folder: sign it, later resumes need no flag
            adopted.record(info.path, data)
            continue
        digest = _digest(key, relative, data)
        if not any(hmac.compare_digest(digest, d) for d in signed.get(relative, [])):
            why = "has no signature" if relative not in signed else "does not match its signature"
            raise ValueError(f"--resume: {shown(relative)} {why} from this user's nas (Tune would unpickle it; a run "
                             f"folder written elsewhere or changed since is code); give {TRUST_FLAG} only if you "
                             "trust everyone who could write this folder")


__all__ = ["signing_filesystem", "verify_experiment", "secret_key", "state_dir", "SigningFileSystemHandler",
           "SIGNATURE_FILE", "TRUST_FLAG"]
