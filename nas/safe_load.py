"""Reading what ``nas`` finds in run, trial and export folders: no code runs, every failure is one ``ValueError``.

Folders travel (a colleague's run folder, a downloaded export), so nothing read from one may execute code:

- ``read_json``: UTF-8 JSON objects up to ``MAX_JSON_BYTES``; a key repeated in one object is refused (the
  standard library would keep the last one silently);
- ``read_weights``: safetensors only — a JSON header plus raw tensor bytes, no pickle; a corrupt file, or a
  pickle saved under that name, is refused;
- ``read_state``: resumable training state with ``torch.load(weights_only=True)``, PyTorch's restricted
  unpickler: tensors, dicts, lists, tuples, numbers, strings and None only, so a pickle that would build any
  other object (and could thereby run code) is refused before anything is built.

``nas search --resume``, ``nas export``, ``nas.load`` and ``nas leaderboard`` read through these, and so should
every new reader (``nas evaluate``). Ray Tune's own experiment files are pickles that ``Tuner.restore``
unpickles: ``--resume`` is documented as being for run folders you created, and refuses folders whose
``search.json`` was not written by ``nas``.
"""
from __future__ import annotations

import json
from pathlib import Path

from .messages import one_line, quote

MAX_JSON_BYTES = 64 * 1024 * 1024


def _label(path, what) -> str:
    return what or str(path)


def read_json(path, what: str | None = None, *, kind: type = dict):
    """The JSON value of ``path`` (a ``kind``, by default an object); ``ValueError`` naming ``what``."""
    path, what = Path(path), _label(path, what)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise ValueError(f"{what}: {size:,} bytes, larger than the limit of {MAX_JSON_BYTES:,}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"{what}: missing") from None
    except OSError as exc:
        raise ValueError(f"{what}: cannot read ({one_line(exc)})") from None
    return parse_json(data, what, kind=kind)


def read_json_at(location, name: str, what: str | None = None, *, kind: type = dict):
    """``read_json`` of the file ``name`` in a ``nas.storage.Location`` (any storage: local or object store)."""
    what = what or location.display(name)
    if location.is_local:
        return read_json(location.local_path / name, what, kind=kind)
    try:
        if not location.is_file(name):
            raise ValueError(f"{what}: missing")
        data = location.read_bytes(name)
    except OSError as exc:
        raise ValueError(f"{what}: cannot read ({one_line(exc)})") from None
    return parse_json(data, what, kind=kind)


def parse_json(data: bytes, what: str, *, kind: type = dict):
    """The checks of ``read_json`` applied to bytes already read."""
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(f"{what}: {len(data):,} bytes, larger than the limit of {MAX_JSON_BYTES:,}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what}: cannot read ({one_line(exc)})") from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except _DuplicateKey as exc:
        raise ValueError(f"{what}: duplicate key {quote(exc.args[0])}; each key may appear once") from None
    except RecursionError:
        raise ValueError(f"{what}: values nested too deeply") from None
    if not isinstance(value, kind):
        raise ValueError(f"{what}: expected a JSON {_json_kind(kind)}, got {type(value).__name__}")
    return value


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _json_kind(kind) -> str:
    return {dict: "object", list: "array"}.get(kind, kind.__name__)


def read_weights(path, what: str | None = None, *, framework: str = "pt", device: str = "cpu") -> dict:
    """The tensors of a safetensors file (``framework`` ``pt`` or ``numpy``: the latter needs no torch)."""
    from safetensors import SafetensorError, safe_open

    path, what = Path(path), _label(path, what)
    if not path.is_file():
        raise ValueError(f"{what}: missing")
    try:
        with safe_open(str(path), framework=framework, device=device) as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{what}: not a readable safetensors file ({one_line(exc)})") from None


def read_state(path, what: str | None = None):
    """Training state saved with ``torch.save``, loaded with ``weights_only=True`` (see the module docstring).

    ``path``: a file path, or a binary file object (bytes read from an object store, ``io.BytesIO``)."""
    import pickle
    import warnings

    import torch

    what = _label(path, what)
    path = path if hasattr(path, "read") else Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about unusual pickle protocols: the error says enough
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{what}: missing") from None
    except pickle.UnpicklingError as exc:
        reason = _unpickler_reason(str(exc))
        raise ValueError(f"{what}: refused: it holds more than tensors and plain data ({reason}); nas loads "
                         "saved state with torch.load(weights_only=True) and never runs code from a file") from None
    except (RuntimeError, EOFError, OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{what}: not a readable torch.save file ({quote(one_line(exc))})") from None


def _unpickler_reason(message: str) -> str:
    for line in message.splitlines():
        if "WeightsUnpickler error:" in line:
            return one_line(line.split("WeightsUnpickler error:", 1)[1]).split(" was not an allowed")[0] or \
                "unsupported pickle content"
    return "unsupported pickle content"


__all__ = ["read_json", "read_json_at", "parse_json", "read_weights", "read_state", "MAX_JSON_BYTES"]
