"""How bad input is reported: values quoted briefly, every message on one line.

An error message names the field and the problem and quotes the offending value, but a value read from a
file can be huge (a long string, a list expanded from YAML aliases): ``quote`` keeps at most ``QUOTE_LIMIT``
characters of its ``repr``, so building a message never costs more than reading the value did. The CLI
prints every error through ``one_line``, so a library message with newlines still is a single line.
"""
from __future__ import annotations

import reprlib

QUOTE_LIMIT = 200  # characters of a value's repr quoted in a message

_repr = reprlib.Repr()
# reprlib stops descending into containers early, so a deep or long value is summarised without walking it.
_repr.maxlevel = 4
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdeque = _repr.maxarray = 12
_repr.maxdict = 12
_repr.maxstring = QUOTE_LIMIT
_repr.maxlong = 60
_repr.maxother = QUOTE_LIMIT


def quote(value, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (``…`` marks a cut)."""
    text = _repr.repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def one_line(text) -> str:
    """``text`` with its lines joined by single spaces (messages from libraries may span lines)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


__all__ = ["quote", "one_line", "QUOTE_LIMIT"]
