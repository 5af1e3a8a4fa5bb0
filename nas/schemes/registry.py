"""The scheme registry: ``get(name)``, ``names()``, ``info(name)`` and ``register``.

Tests, the CLI and listings enumerate the registry, so registering a scheme brings it into every test.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .serialization import check_keys


@dataclass(frozen=True)
class SchemeInfo:
    """A registry entry. ``order`` is the textbook order (None when it depends on parameters)."""

    name: str
    build: Callable[..., Any]
    order: int | None
    source: str
    description: str


_REGISTRY: dict[str, SchemeInfo] = {}
# family name (the "family" key of a scheme's JSON form) -> class with from_dict
_FAMILIES: dict[str, type] = {}


def register(name: str, build: Callable[..., Any], order: int | None, source: str, description: str) -> None:
    if name in _REGISTRY:
        raise ValueError(f"scheme {name!r} is already registered")
    _REGISTRY[name] = SchemeInfo(name, build, order, source, description)


def register_family(family: str, cls: type) -> None:
    if family in _FAMILIES and _FAMILIES[family] is not cls:
        raise ValueError(f"scheme family {family!r} is already registered")
    _FAMILIES[family] = cls


def names() -> list[str]:
    """Registered scheme names, in registration order."""
    return list(_REGISTRY)


def families() -> list[str]:
    return list(_FAMILIES)


def info(name: str) -> SchemeInfo:
    if name not in _REGISTRY:
        raise ValueError(f"unknown scheme {name!r}; known schemes: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def get(name: str, **params):
    """The scheme registered as ``name``; ``params`` go to its constructor (e.g. ``get('lm_resnet', k=0.3)``)."""
    entry = info(name)
    try:
        return entry.build(**params)
    except TypeError as exc:
        raise ValueError(f"scheme {name!r}: bad parameters {params}: {exc}") from None


def from_dict(data: dict):
    """Rebuild any scheme from its JSON form (dispatch on its "family" key)."""
    if not isinstance(data, dict):
        raise ValueError(f"scheme: expected a mapping, got {type(data).__name__}")
    family = data.get("family")
    if family not in _FAMILIES:
        raise ValueError(f"scheme.family: unknown family {family!r}; known families: {', '.join(_FAMILIES)}")
    return _FAMILIES[family].from_dict(data)


def resolve(scheme):
    """A scheme object from a scheme object, a registered name or a JSON dict."""
    if isinstance(scheme, str):
        return get(scheme)
    if isinstance(scheme, dict):
        return from_dict(scheme)
    if type(scheme) in _FAMILIES.values():
        return scheme
    raise TypeError(
        f"expected a scheme (one of {', '.join(c.__name__ for c in _FAMILIES.values())}), "
        f"a registered name or a JSON dict; got {type(scheme).__name__}"
    )


__all__ = ["SchemeInfo", "register", "register_family", "names", "families", "info", "get", "from_dict",
           "resolve", "check_keys"]
