"""Paths ``nas`` reads from data files or writes to: run names, contained paths, output paths.

- **Run names** become folder names and command-line arguments: ASCII letters, digits, ``.``, ``_`` and
  ``-``, starting with a letter or digit (so never ``-x``, which reads as an option, nor ``.``/``..``),
  at most ``MAX_RUN_NAME`` characters.
- **Contained paths**: a path read from a file (``trial_dir`` in ``trials.csv``, ``folder`` in an export's
  ``index.json``) is resolved relative to the folder the user gave, symlinks included, and refused when it
  leaves that folder; an absolute path or ``..`` never points ``nas`` at another run's weights.
- **Output paths** are checked before any work starts: an output file needs an existing parent folder
  (``nas`` creates no folders for a file, so a typo fails instead of scattering folders) and must not be a
  folder; an output folder must not be a file, nor sit below one.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .messages import quote

MAX_RUN_NAME = 100
RUN_NAME_RULE = f"1-{MAX_RUN_NAME} ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"
_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_run_name(name, where: str = "--name") -> str:
    """``name`` if it is a valid run name (see the module docstring), else a ``ValueError``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: a run name is {RUN_NAME_RULE}; got an empty name")
    if len(name) > MAX_RUN_NAME:
        raise ValueError(f"{where}: a run name is {RUN_NAME_RULE}; got {len(name)} characters ({quote(name, 60)})")
    if not _RUN_NAME.fullmatch(name):
        raise ValueError(f"{where}: a run name is {RUN_NAME_RULE}; got {quote(name)}")
    return name


def contained(base, relative, what: str) -> Path:
    """``base / relative`` resolved (symlinks followed); a ``ValueError`` if it is not inside ``base``.

    ``relative`` comes from a file the user may have received from someone else: it must be a relative
    path, and neither ``..`` nor a symbolic link may lead it out of ``base``.
    """
    base = Path(base).resolve()
    text = str(relative)
    if not text or Path(text).is_absolute() or Path(text).anchor:
        raise ValueError(f"{what}: {quote(text)} must be a path relative to {base}")
    target = (base / text).resolve()
    if target != base and not target.is_relative_to(base):
        raise ValueError(f"{what}: {quote(text)} leads outside {base} (to {target}); paths in run and export "
                         "files must stay inside their folder")
    return target


def check_output_file(path, option: str) -> Path:
    """An output file: not a folder, in an existing, writable folder (nothing is created here)."""
    path = Path(path)
    if str(path) in ("", "."):
        raise ValueError(f"{option}: give a file name")
    if path.is_dir():
        raise ValueError(f"{option}: {path} is a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise ValueError(f"{option}: the folder {parent} {what}; nas creates no folders for an output file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: cannot write into {parent} (permission denied)")
    return path


def check_output_folder(path, option: str, *, may_exist: bool = True) -> Path:
    """An output folder (created later, with its parents): not a file, not below a file, writable.

    ``may_exist=False``: an existing folder is refused too (the caller replaces folders only when asked).
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{option}: {path} exists and is not a folder")
        if not may_exist:
            raise ValueError(f"{option}: {path} already exists")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{option}: cannot write into {path} (permission denied)")
        return path
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{option}: {ancestor} is a file, so {path} cannot be created")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{option}: cannot create {path}: {ancestor} is not writable")
    return path


def is_within(path, folder) -> bool:
    """Whether ``path`` is ``folder`` or inside it (both resolved)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or path.is_relative_to(folder)


__all__ = ["check_run_name", "contained", "check_output_file", "check_output_folder", "is_within",
           "MAX_RUN_NAME", "RUN_NAME_RULE"]
