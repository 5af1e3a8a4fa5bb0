"""A local file system for Ray Tune's storage whose every file write is atomic.

Tune writes its experiment state (``experiment_state-*.json``, the searcher's pickle) atomically in a
staging folder, then *copies* it into ``RunConfig.storage_path`` with ``pyarrow.fs.copy_files``, which
truncates and rewrites the target in place. A driver killed during such a copy (it happens every few
seconds while trials checkpoint) leaves an empty experiment state, and ``Tuner.restore`` then forgets every
trial. Handing Tune this file system (``RunConfig(storage_filesystem=...)``) makes each copy write beside
the target and rename it into place (``nas.atomic``), so a kill leaves the previous complete file.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pyarrow
import pyarrow.fs as pafs


class WriteOnlyStream:
    """The write-only binary stream pyarrow's ``PyFileSystem`` expects from ``open_output_stream``, over the
    stream ``self._target`` (subclasses set it and say what closing means)."""

    _target = None

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def write(self, data) -> int:
        return self._target.write(data)

    def tell(self) -> int:
        return self._target.tell()

    def flush(self) -> None:
        self._target.flush()


class _AtomicWriter(WriteOnlyStream):
    """A writable binary file that appears at ``path`` only when closed."""

    def __init__(self, path: str):
        folder = os.path.dirname(path) or "."
        os.makedirs(folder, exist_ok=True)
        fd, self._temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-", dir=folder)
        self._handle = self._target = os.fdopen(fd, "wb")
        self._path = path

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        if self._handle.closed:
            return
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.chmod(self._temporary, 0o644)
        os.replace(self._temporary, self._path)


class DelegatingFileSystemHandler(pafs.FileSystemHandler):
    """A ``pyarrow.fs.FileSystemHandler`` that passes every operation to the file system ``base``; subclasses
    change only what they must (atomic writes here, signatures in ``nas.driver.signatures``)."""

    def __init__(self, base):
        self._base = base

    def __ne__(self, other) -> bool:
        return not self == other

    def normalize_path(self, path):
        return self._base.normalize_path(path)

    def get_file_info(self, paths):
        return self._base.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self._base.get_file_info(selector)

    def create_dir(self, path, recursive):
        self._base.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self._base.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self._base.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        raise OSError("refusing to delete the contents of the root folder")

    def delete_file(self, path):
        self._base.delete_file(path)

    def move(self, src, dest):
        self._base.move(src, dest)

    def copy_file(self, src, dest):
        self._base.copy_file(src, dest)

    def open_input_stream(self, path):
        return self._base.open_input_stream(path)

    def open_input_file(self, path):
        return self._base.open_input_file(path)

    def open_output_stream(self, path, metadata):
        return self._base.open_output_stream(path, metadata=metadata)

    def open_append_stream(self, path, metadata):
        return self._base.open_append_stream(path, metadata=metadata)


class AtomicLocalFileSystemHandler(DelegatingFileSystemHandler):
    """``pyarrow.fs.LocalFileSystem`` with atomic ``open_output_stream`` and ``copy_file``."""

    def __init__(self):
        super().__init__(pafs.LocalFileSystem())

    def __eq__(self, other) -> bool:
        return isinstance(other, AtomicLocalFileSystemHandler)

    def __reduce__(self):  # workers receive the file system with the storage context
        return (AtomicLocalFileSystemHandler, ())

    def get_type_name(self) -> str:
        return "nas-atomic-local"

    def copy_file(self, src, dest):
        with self.open_output_stream(dest, None) as out, open(src, "rb") as source:
            shutil.copyfileobj(source, out)

    def open_output_stream(self, path, metadata):
        return pyarrow.PythonFile(_AtomicWriter(path), mode="w")


def atomic_local_filesystem() -> pafs.PyFileSystem:
    return pafs.PyFileSystem(AtomicLocalFileSystemHandler())


__all__ = ["atomic_local_filesystem", "AtomicLocalFileSystemHandler", "DelegatingFileSystemHandler", "WriteOnlyStream"]
