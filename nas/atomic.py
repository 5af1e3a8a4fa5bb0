"""Atomic file and folder writes: write beside the target, then rename into place.

``os.replace`` is atomic on POSIX when source and target are on the same file system, which is why the
temporary file or folder is always created in the target's own folder. A reader therefore sees either
the old content or the complete new one, never a half-written file, and an interrupted writer (an
exception, Ctrl-C) leaves only its temporary, which is removed on the way out.

Libraries that write by path (``torch.export.save``, ``safetensors``, ``matplotlib``, ``pandas``) use
``atomic_path``; text and bytes have shortcuts; a whole folder (an export) uses ``atomic_directory``.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "atomic_open", "write_text", "write_bytes", "write_json", "atomic_directory", "staged_files"]


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temporary_name(target: Path, directory: bool) -> Path:
    # Hidden, in the same folder, keeping the suffix so that writers that infer the format from the
    # extension (matplotlib's savefig, pandas) still do the right thing.
    prefix = f".{target.stem}.tmp-"
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=target.suffix, dir=target.parent)
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_path(path, *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    >>> with atomic_path("table.csv") as tmp:      # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    target = Path(path)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(target, directory=False)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:  # flush the writer's data before the rename publishes it
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp creates 0600; a result file should read like any other
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", encoding: str | None = "utf-8", **kwargs):
    """``open`` for writing that publishes the file only when the ``with`` block ends without error."""
    if not any(flag in mode for flag in "wx"):
        raise ValueError(f"mode: atomic_open writes whole files; use 'w' or 'wb', got {mode!r}")
    if "b" in mode:
        encoding = None
    with atomic_path(path) as temporary, open(temporary, mode.replace("x", "w"), encoding=encoding,
                                               **kwargs) as handle:
        yield handle


def write_text(path, text: str) -> Path:
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)


def write_bytes(path, data: bytes) -> Path:
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_json(path, value, *, indent: int = 2) -> Path:
    """JSON with a trailing newline; NaN/inf are rejected (they are not JSON)."""
    import json

    return write_text(path, json.dumps(value, indent=indent, allow_nan=False) + "\n")


@contextlib.contextmanager
def atomic_directory(path, *, replace: bool = False, replaceable=None) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it is renamed to ``path``.

    ``replace``: when ``path`` already exists it is swapped out (renamed aside, then deleted) after the
    new folder is complete; otherwise an existing ``path`` is a ``FileExistsError`` raised before anything
    is written. On error the temporary folder is deleted and ``path`` is untouched.
    ``replaceable(path)``, when given, is called on an existing ``path`` just before it is swapped out and
    raises to keep it (the folder may have changed while the new one was being written).
    """
    target = Path(path)
    if target.exists() and not replace:
        raise FileExistsError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(target, directory=True)
    try:
        yield temporary
        os.chmod(temporary, 0o755)  # mkdtemp creates 0700
        if target.exists():
            if replaceable is not None:
                replaceable(target)
            # rename() cannot replace a non-empty folder: move the old one aside first. The window in
            # which ``path`` is absent is two renames long; the old content is never half-deleted.
            old = _temporary_name(target, directory=True)
            os.rmdir(old)
            os.replace(target, old)
            os.replace(temporary, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _fsync_folder(target.parent)


@contextlib.contextmanager
def staged_files(folder) -> Iterator[Path]:
    """Yield a staging folder; the files written into it move into ``folder`` only if the block succeeds.

    For a set of outputs that belong together (the leaderboard's plots): ``folder`` may already hold other
    files (each staged file replaces its namesake), and a failure part-way leaves ``folder`` exactly as it
    was, or absent. The staging folder sits inside ``folder`` when it exists, else in its nearest existing
    ancestor: on ``folder``'s file system either way, so the moves are renames; ``folder`` and its missing
    parents are created only on success.
    """
    target = Path(folder)
    anchor = target.absolute()
    while not anchor.exists():
        anchor = anchor.parent
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=anchor))
    try:
        yield staging
        target.mkdir(parents=True, exist_ok=True)
        for item in sorted(staging.iterdir()):
            os.chmod(item, 0o644)
            os.replace(item, target / item.name)
        _fsync_folder(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
