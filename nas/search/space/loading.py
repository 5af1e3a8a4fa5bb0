"""Reading a search space: a YAML file, the embedded default, a mapping or a ``SearchSpace`` -> ``SearchSpace``.

Files are read with ``nas.safe_yaml`` (bounded aliases and size, no duplicate keys, plain data only); the
format is described in the package docstring (``nas.search.space``).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from nas.domains import SpaceError
from .search_space import SearchSpace

EMBEDDED_DEFAULT = "quick.yaml"  # shipped inside nas.search, the space of ``nas search`` without a file


def load_space(source=None) -> SearchSpace:
    """A ``SearchSpace`` from a YAML path (None: the embedded ``quick.yaml``), a mapping or a SearchSpace.

    Files are read with ``nas.safe_yaml`` (bounded aliases and size, no duplicate keys, plain data only).
    """
    from nas import safe_yaml

    if isinstance(source, SearchSpace):
        return source
    if isinstance(source, dict):
        return SearchSpace.from_dict(source)
    if source is None:
        text = resources.files("nas.search").joinpath(EMBEDDED_DEFAULT).read_text(encoding="utf-8")
        label = EMBEDDED_DEFAULT
        raw = safe_yaml.loads(text, label)
    else:
        path = Path(source)
        label = path.name
        if not path.is_file():
            raise SpaceError(f"{source}: no such search-space file")
        try:
            raw = safe_yaml.load_file(path, label)
        except ValueError as exc:
            raise SpaceError(str(exc)) from None
    if raw is None:
        raise SpaceError(f"{label}: the file is empty")
    return SearchSpace.from_dict(raw, source=label)


__all__ = ["load_space", "EMBEDDED_DEFAULT"]
