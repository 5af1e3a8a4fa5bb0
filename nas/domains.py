"""Search-space values: a constant, a list of choices or a numeric range, and how each reaches Optuna.

In a space file every tunable setting is written one of three ways:

    steps_per_stage: 2                          a constant (never suggested, returned as a constant)
    steps_per_stage: [1, 2]                     a choice   (trial.suggest_categorical)
    k: {low: -0.5, high: 0.9}                   a range    (trial.suggest_float / suggest_int; ``log``, ``step``)

Validation errors are ``SpaceError`` (a ``ValueError``) whose message starts with the key path
(``scheme[1].stages: must be 1..4, got 7``); the loader prefixes the file name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.checks import is_int, is_number
from nas.messages import quote

KINDS = ("bool", "int", "float", "str")


class SpaceError(ValueError):
    """A malformed search space; the message starts with the key path."""


def fail(path: str, message: str) -> SpaceError:
    return SpaceError(f"{path}: {message}")


def check_mapping(raw, path: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
    """A mapping with only ``allowed`` keys and all ``required`` ones (errors name the key path)."""
    if not isinstance(raw, dict):
        raise fail(path, f"expected a mapping, got {_describe(raw)}")
    for key in raw:
        if not isinstance(key, str):
            raise fail(path, f"keys must be strings, got {quote(key)}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        key = unknown[0] if len(unknown[0]) <= 60 else quote(unknown[0], 60)
        where = f"{path}.{key}" if path else key
        raise fail(where, f"unknown key; allowed keys here: {', '.join(sorted(allowed))}")
    missing = sorted(required - set(raw))
    if missing:
        where = f"{path}.{missing[0]}" if path else missing[0]
        raise fail(where, "missing (required)")
    return raw


def _describe(value) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {quote(value)}"


def check_scalar(value, path: str, kind: str, low=None, high=None, choices=None):
    """One constant of type ``kind`` within [low, high] (or among ``choices``)."""
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail(path, f"must be true or false, got {_describe(value)}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise fail(path, f"must be a string, got {_describe(value)}")
        if choices is not None and value not in choices:
            raise fail(path, f"must be one of {', '.join(choices)}, got {quote(value)}")
        return value
    if kind == "int":
        if not is_int(value):
            raise fail(path, f"must be an integer, got {_describe(value)}")
        value = int(value)
    else:
        if not is_number(value):
            raise fail(path, f"must be a finite number, got {_describe(value)}")
        value = float(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise fail(path, f"must be {_bounds(low, high)}, got {quote(value)}")
    return value


def _bounds(low, high) -> str:
    if low is not None and high is not None:
        return f"{low}..{high}"
    return f">= {low}" if low is not None else f"<= {high}"


@dataclass(frozen=True)
class Domain:
    """A constant, a categorical choice or a range of one setting.

    ``kind`` is the value type (bool | int | float | str); ``mode`` is constant | choice | range.
    """

    kind: str
    mode: str
    value: Any = None
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    @property
    def is_constant(self) -> bool:
        return self.mode == "constant"

    def values(self) -> tuple:
        """Every value a constant or a choice can take (ranges: the two bounds)."""
        if self.mode == "constant":
            return (self.value,)
        if self.mode == "choice":
            return self.choices
        return (self.low, self.high)

    def suggest(self, trial, name: str):
        """Ask Optuna for this setting (constants are returned unchanged, nothing is suggested)."""
        if self.mode == "constant":
            return self.value
        if self.mode == "choice":
            return trial.suggest_categorical(name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)


def parse_domain(raw, path: str, kind: str, low=None, high=None, choices=None) -> Domain:
    """Read a constant, a list of choices or ``{low, high[, log, step]}`` (int and float only)."""
    if isinstance(raw, list):
        if not raw:
            raise fail(path, "an empty list of choices")
        values = tuple(check_scalar(v, f"{path}[{i}]", kind, low, high, choices) for i, v in enumerate(raw))
        if len(set(values)) != len(values):
            raise fail(path, f"repeated choices in {list(values)}")
        if len(values) == 1:
            return Domain(kind, "constant", value=values[0])
        return Domain(kind, "choice", choices=values)
    if isinstance(raw, dict):
        if kind not in ("int", "float"):
            raise fail(path, f"a range needs a numeric setting; give a value or a list of choices, got {quote(raw)}")
        check_mapping(raw, path, {"low", "high", "log", "step"}, {"low", "high"})
        lo = check_scalar(raw["low"], f"{path}.low", kind, low, high)
        hi = check_scalar(raw["high"], f"{path}.high", kind, low, high)
        if not lo < hi:
            raise fail(path, f"low must be below high, got low {lo} and high {hi}")
        log = check_scalar(raw.get("log", False), f"{path}.log", "bool")
        if log and lo <= 0:
            raise fail(f"{path}.low", f"a log range needs low > 0, got {lo}")
        step = raw.get("step")
        if step is not None:
            step = check_scalar(step, f"{path}.step", kind, low=0)
            if step <= 0:
                raise fail(f"{path}.step", f"must be positive, got {step}")
            if log:
                raise fail(f"{path}.step", "cannot be combined with log: true")
        return Domain(kind, "range", low=lo, high=hi, log=log, step=step)
    return Domain(kind, "constant", value=check_scalar(raw, path, kind, low, high, choices))


def suggest_into(domain: Domain, trial, name: str, constants: dict):
    """``domain.suggest(trial, name)``, recording the value in ``constants`` when the domain is a constant (the
    define-by-run function returns constants; Optuna only sees the suggested values)."""
    value = domain.suggest(trial, name)
    if domain.is_constant:
        constants[name] = value
    return value


DEFAULT_RANGE = {"low": -1.0, "high": 1.0}


def parse_range(raw, path: str, default: dict = DEFAULT_RANGE, bound: float = 10.0) -> tuple[float, float]:
    """``{low, high}`` with −bound ≤ low < high ≤ bound (the bounds of searched coefficients)."""
    raw = default if raw is None else raw
    check_mapping(raw, path, {"low", "high"}, {"low", "high"})
    low = check_scalar(raw["low"], f"{path}.low", "float", -bound, bound)
    high = check_scalar(raw["high"], f"{path}.high", "float", -bound, bound)
    if not low < high:
        raise fail(path, f"low must be below high, got low {low} and high {high}")
    return low, high


def parse_int_list(raw, path: str) -> tuple[int, ...]:
    if not isinstance(raw, list) or not raw:
        raise fail(path, f"expected a non-empty list of positive integers, got {_describe(raw)}")
    return tuple(check_scalar(v, f"{path}[{i}]", "int", low=1) for i, v in enumerate(raw))


__all__ = ["DEFAULT_RANGE", "Domain", "SpaceError", "check_mapping", "check_scalar", "fail", "parse_domain",
           "parse_int_list", "parse_range", "suggest_into"]
