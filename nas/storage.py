"""One storage for runs: a local folder, a shared file system path or an object store, addressed by a URI.

``Location.from_uri(uri)`` accepts what ``pyarrow.fs.FileSystem.from_uri`` accepts -- the abstraction Ray
Tune uses for its own ``storage_path`` -- plus plain paths:

    results                                  a local (or NFS / shared) folder, relative to the working folder
    /mnt/shared/results                      the same, absolute
    s3://bucket/prefix                       S3 (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
    s3://bucket/prefix?endpoint_override=host:9000&scheme=http        or the usual AWS configuration)
    gs://bucket/prefix                       Google Cloud Storage

A ``Location`` is a folder; ``loc / "a" / "b"`` is a sub-folder, and every method takes paths relative to
it. The URI travels to Ray workers as a string (``loc.uri``) and each worker rebuilds its own file system,
so a trial on any node writes to the same place and never to a path that exists only on the driver.

Atomicity (a reader never sees half a file or half a trial folder):

- local file systems: write beside the target, then rename it into place (``nas.atomic``), as before;
- object stores: one PUT of the whole object is atomic, so a file is uploaded from memory in one piece (an
  upload killed part-way leaves no object, never a truncated one). A folder has no rename there, so
  ``publish_folder`` writes its marker file last: a reader treats a folder without its marker as absent.
"""
from __future__ import annotations

import io
import json
import posixpath
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Location", "is_uri", "local_or_uri"]

# Schemes handled by pyarrow.fs.FileSystem.from_uri that name a remote store.
_LOCAL_SCHEMES = ("", "file")
# Google Cloud Storage: the C++ client retries a failing request for 15 minutes by default, deaf to Ctrl-C (a
# nonexistent bucket or missing credentials hung nas that long). Every gs:// location gets this bound instead
# (pyarrow's retry_limit_seconds; a URI may give its own, up to GCS_MAX_RETRY_LIMIT_SECONDS). S3 is already
# bounded by the AWS SDK's connect and request timeouts and its standard retry strategy (3 attempts).
GCS_RETRY_LIMIT_SECONDS = 15
GCS_MAX_RETRY_LIMIT_SECONDS = 600
_GCS_SCHEMES = ("gs", "gcs")


def is_uri(text) -> bool:
    """True when ``text`` names a remote store (``s3://``, ``gs://``, ...); plain paths and ``file://`` are local."""
    if not isinstance(text, str) or "://" not in text:
        return False
    return urllib.parse.urlsplit(text).scheme.lower() not in _LOCAL_SCHEMES


def local_or_uri(value, what: str):
    """``value`` as a ``Path`` when it is local, else checked as a store URI (``ValueError`` naming ``what``)."""
    if is_uri(value):
        Location.from_uri(value, what)
        return value
    return Path(value)


def _bounded_retries(text: str, what: str) -> str:
    """``text`` with ``retry_limit_seconds`` in its query on Google Cloud Storage (``GCS_RETRY_LIMIT_SECONDS``
    unless the URI gives a value in 1 .. ``GCS_MAX_RETRY_LIMIT_SECONDS``). It stays in the URI, so the file
    systems the workers rebuild from it are bounded too."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() not in _GCS_SCHEMES:
        return text
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    given = [value for key, value in query if key == "retry_limit_seconds"]
    if not given:
        query.append(("retry_limit_seconds", str(GCS_RETRY_LIMIT_SECONDS)))
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    try:
        seconds = float(given[-1])
    except ValueError:
        seconds = float("nan")
    if not 1 <= seconds <= GCS_MAX_RETRY_LIMIT_SECONDS:
        raise ValueError(f"{what}: retry_limit_seconds must be a number of seconds in 1 .. "
                         f"{GCS_MAX_RETRY_LIMIT_SECONDS}, got {given[-1][:40]!r}")
    return text


@dataclass(frozen=True)
class Location:
    """A folder in some storage (see the module docstring). Build it with ``Location.from_uri``."""

    uri: str  # what a worker needs to rebuild the location: an absolute local path or scheme://...?query
    filesystem: object  # pyarrow.fs.FileSystem
    path: str  # the folder's path inside ``filesystem``

    # ------------------------------------------------------------------------------- construction
    @classmethod
    def from_uri(cls, uri, what: str = "--storage") -> "Location":
        import pyarrow
        import pyarrow.fs as pafs

        if isinstance(uri, Location):
            return uri
        text = str(uri)
        if not text:
            raise ValueError(f"{what}: give a folder or a URI such as s3://bucket/prefix")
        if not is_uri(text):
            if text.startswith("file://"):
                text = urllib.parse.urlsplit(text).path
            path = Path(text).expanduser().resolve()
            return cls(uri=str(path), filesystem=pafs.LocalFileSystem(), path=str(path))
        text = _bounded_retries(text, what)
        try:
            filesystem, path = pafs.FileSystem.from_uri(text)
        except (pyarrow.ArrowException, OSError, ValueError) as exc:
            raise ValueError(f"{what}: cannot use {text!r}: {exc}") from None
        path = path.rstrip("/")
        if not path:
            raise ValueError(f"{what}: {text!r} names no bucket")
        parts = urllib.parse.urlsplit(text)
        uri = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), parts.query, ""))
        return cls(uri=uri, filesystem=filesystem, path=path)

    # ------------------------------------------------------------------------------------- naming
    @property
    def is_local(self) -> bool:
        return not is_uri(self.uri)

    @property
    def local_path(self) -> Path | None:
        """The folder as a local ``Path`` (None on an object store)."""
        return Path(self.path) if self.is_local else None

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    def __truediv__(self, relative: str) -> "Location":
        relative = str(relative).strip("/")
        if not relative:
            return self
        if any(part in ("", ".", "..") for part in relative.split("/")):
            raise ValueError(f"storage path {relative!r}: must not contain '.', '..' or empty parts")
        if self.is_local:
            path = str(Path(self.path) / relative)
            return Location(uri=path, filesystem=self.filesystem, path=path)
        parts = urllib.parse.urlsplit(self.uri)
        uri = urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"{parts.path}/{relative}", parts.query, ""))
        return Location(uri=uri, filesystem=self.filesystem, path=f"{self.path}/{relative}")

    def display(self, relative: str = "") -> str:
        """A readable name of ``relative`` (the URI without its query: endpoints are not part of the name)."""
        base = self.path if self.is_local else urllib.parse.urlunsplit(urllib.parse.urlsplit(self.uri)[:3] + ("", ""))
        return f"{base}/{relative}" if relative else base

    def __str__(self) -> str:
        return self.display()

    def _full(self, relative: str) -> str:
        relative = str(relative).strip("/")
        return f"{self.path}/{relative}" if relative else self.path

    # ---------------------------------------------------------------------------------- inspection
    def _info(self, relative: str = ""):
        import pyarrow

        try:
            return self.filesystem.get_file_info(self._full(relative))
        except (OSError, pyarrow.ArrowException) as exc:
            raise OSError(f"{self.display(relative)}: {exc}") from None

    def is_file(self, relative: str = "") -> bool:
        import pyarrow.fs as pafs

        return self._info(relative).type == pafs.FileType.File

    def is_dir(self, relative: str = "") -> bool:
        import pyarrow.fs as pafs

        return self._info(relative).type == pafs.FileType.Directory

    def exists(self, relative: str = "") -> bool:
        import pyarrow.fs as pafs

        return self._info(relative).type != pafs.FileType.NotFound

    def check_bucket(self, what: str = "--storage") -> None:
        """On an object store, a ``ValueError`` when the bucket does not exist (nas never creates buckets:
        their region, permissions and lifetime are the owner's choice). Nothing to check locally."""
        if self.is_local:
            return
        import pyarrow.fs as pafs

        bucket = self.path.split("/", 1)[0]
        try:
            missing = self.filesystem.get_file_info(bucket).type == pafs.FileType.NotFound
        except OSError as exc:
            raise ValueError(f"{what}: cannot reach {self.display()}: {exc}") from None
        if missing:
            raise ValueError(f"{what}: bucket {bucket!r} of {self.display()} does not exist; create it first")

    def list(self, relative: str = "") -> list[str]:
        """Names of the entries directly inside ``relative`` (sorted; [] when it does not exist)."""
        import pyarrow.fs as pafs

        folder = self._full(relative)
        selector = pafs.FileSelector(folder, allow_not_found=True, recursive=False)
        return sorted(posixpath.basename(info.path.rstrip("/")) for info in self.filesystem.get_file_info(selector))

    # -------------------------------------------------------------------------------------- reading
    def read_bytes(self, relative: str) -> bytes:
        with self.filesystem.open_input_stream(self._full(relative)) as stream:
            return stream.read()

    def read_text(self, relative: str) -> str:
        return self.read_bytes(relative).decode("utf-8")

    def read_json(self, relative: str):
        return json.loads(self.read_text(relative))

    # -------------------------------------------------------------------------------------- writing
    def write_bytes(self, relative: str, data: bytes) -> None:
        """Replace ``relative`` with ``data`` atomically (rename locally, one whole PUT on an object store)."""
        if self.is_local:
            from nas import atomic

            atomic.write_bytes(self._full(relative), data)
            return
        full = self._full(relative)
        parent = posixpath.dirname(full)
        if parent:
            self.filesystem.create_dir(parent, recursive=True)
        with self.filesystem.open_output_stream(full) as stream:
            stream.write(bytes(data))

    def write_text(self, relative: str, text: str) -> None:
        self.write_bytes(relative, text.encode("utf-8"))

    def write_json(self, relative: str, value, *, indent: int = 2) -> None:
        """JSON with a trailing newline; NaN/inf are rejected (they are not JSON), as ``nas.atomic.write_json``."""
        self.write_text(relative, json.dumps(value, indent=indent, allow_nan=False) + "\n")

    def write_csv(self, relative: str, frame, **options) -> None:
        """A pandas DataFrame as CSV (``index=False`` unless given), atomically."""
        buffer = io.StringIO()
        frame.to_csv(buffer, **{"index": False, **options})
        self.write_text(relative, buffer.getvalue())

    def upload(self, local_file, relative: str) -> None:
        """Copy a local file to ``relative`` (atomically, like ``write_bytes``)."""
        self.write_bytes(relative, Path(local_file).read_bytes())

    def delete(self, relative: str) -> None:
        """Remove a file (nothing when it is absent)."""
        if self.is_file(relative):
            self.filesystem.delete_file(self._full(relative))

    def delete_folder(self, relative: str = "") -> None:
        """Remove the folder ``relative`` and everything in it (nothing when it is absent)."""
        if self.is_dir(relative):
            self.filesystem.delete_dir(self._full(relative))

    def publish_folder(self, relative: str, files: dict, marker: str) -> None:
        """Write the folder ``relative`` holding ``files`` (name -> bytes) so that it appears complete at once.

        Local: built beside its final name and renamed into place (replacing an incomplete folder left by an
        interrupted writer). Object store: every file is one PUT and ``marker`` (one of ``files``) is written
        last, so a reader that asks for the marker never sees a folder that lacks a file.
        """
        if marker not in files:
            raise ValueError(f"publish_folder: the marker {marker!r} is not one of the files")
        if self.is_local:
            from nas import atomic

            target = Path(self._full(relative))
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic.atomic_directory(target, replace=target.exists()) as staging:
                for name, data in files.items():
                    atomic.write_bytes(Path(staging) / name, data)  # each file flushed before the folder appears
            return
        for name, data in files.items():
            if name != marker:
                self.write_bytes(f"{relative}/{name}", data)
        self.write_bytes(f"{relative}/{marker}", files[marker])

    # ------------------------------------------------------------------------------ whole folders
    def download(self, local_folder, *, skip=lambda relative: False) -> Path:
        """Copy this folder's files into ``local_folder`` (created); ``skip(relative_path)`` leaves files out."""
        import pyarrow.fs as pafs

        local_folder = Path(local_folder)
        selector = pafs.FileSelector(self.path, allow_not_found=True, recursive=True)
        for info in self.filesystem.get_file_info(selector):
            if info.type != pafs.FileType.File:
                continue
            relative = info.path[len(self.path):].lstrip("/")
            if not relative or skip(relative):
                continue
            if any(part in ("", ".", "..") for part in relative.split("/")):  # an object name must not escape
                raise ValueError(f"{self.display(relative)}: object name with '.', '..' or empty parts")
            target = local_folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read_bytes(relative))
        return local_folder

    # ------------------------------------------------------------------------------------ Ray Tune
    def tune_storage(self) -> tuple[str, object]:
        """``(storage_path, storage_filesystem)`` for ``ray.tune.RunConfig`` / ``Tuner.restore``.

        Local: the atomic local file system (``nas.tune_filesystem``), so a killed driver never leaves a
        half-copied experiment state. Object store: the store's own file system (a PUT is atomic).
        """
        if self.is_local:
            from nas.tune_filesystem import atomic_local_filesystem

            return self.path, atomic_local_filesystem()
        return self.path, self.filesystem
