"""Input checks shared by the value types (``NetworkSpec``, ``TrainConfig``, ``SearchSettings``, noise
schedules, data requests, converted specs) and the search-space parser.

Every check returns the normalised value (``int`` / ``float``) or raises ``error`` (``ValueError`` by
default; the search-space parser passes its ``SpaceError``) with a message that starts with ``name``, the
key path or flag the value came from, so one bad input gives one line that says where it is.
``bool`` is never accepted as a number (it is an ``int`` subclass in Python).
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Sequence

from nas.messages import quote


def is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def positive_int(value, name: str, *, error: type[ValueError] = ValueError) -> int:
    if not is_int(value) or value <= 0:
        raise error(f"{name}: must be a positive integer, got {quote(value)}")
    return int(value)


def int_at_least(value, name: str, minimum: int, *, error: type[ValueError] = ValueError) -> int:
    if not is_int(value) or value < minimum:
        raise error(f"{name}: must be an integer >= {minimum}, got {quote(value)}")
    return int(value)


def finite_number(value, name: str, *, error: type[ValueError] = ValueError) -> float:
    if not is_number(value):
        raise error(f"{name}: must be a finite number, got {quote(value)}")
    return float(value)


def positive_number(value, name: str, *, what: str = "a positive number",
                    error: type[ValueError] = ValueError) -> float:
    """A finite number > 0; ``what`` words the message (e.g. "a positive number of seconds")."""
    if not is_number(value) or not value > 0:
        raise error(f"{name}: must be {what}, got {quote(value)}")
    return float(value)


def step_size(value, name: str = "h", *, error: type[ValueError] = ValueError) -> float:
    """A step size h: a finite number > 0."""
    if not is_number(value) or not value > 0:
        raise error(f"{name}: step size must be a positive number, got {quote(value)}")
    return float(value)


def number_in(value, name: str, low, high, *, low_open: bool = False, high_open: bool = True,
              error: type[ValueError] = ValueError) -> float:
    """A finite number in the interval from ``low`` to ``high`` (None: unbounded above), open or closed."""
    ok = is_number(value) and (value > low if low_open else value >= low) and (
        high is None or (value < high if high_open else value <= high))
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open or high is None else "]"
        raise error(f"{name}: must be a number in {left}{low}, {'inf' if high is None else high}{right}, "
                    f"got {quote(value)}")
    return float(value)


def flag(value, name: str, *, error: type[ValueError] = ValueError) -> bool:
    if not isinstance(value, bool):
        raise error(f"{name}: must be true or false, got {quote(value)}")
    return value


def choice(value, name: str, choices: Sequence[str], *, error: type[ValueError] = ValueError) -> str:
    if not isinstance(value, str) or value not in choices:
        raise error(f"{name}: must be one of {', '.join(choices)}, got {quote(value)}")
    return value


__all__ = ["is_int", "is_number", "positive_int", "int_at_least", "finite_number", "positive_number", "step_size", "number_in",
           "flag", "choice"]
