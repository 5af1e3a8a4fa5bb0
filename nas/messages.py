"""How bad input is reported: values quoted briefly, every message on one line.

An error message names the field and the problem and quotes the offending value, but a value read from a
file can be huge (a long string, a list expanded from YAML aliases): ``quote`` keeps at most ``QUOTE_LIMIT``
characters of its ``repr``, so building a message never costs more than reading the value did. The CLI
prints every error through ``one_line``, so a library message with newlines still is a single line.
"""
from __future__ import annotations

import re
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


# C0 controls (ESC, BEL, CR, newline, ...), DEL, C1 controls (CSI as one byte), Unicode line and paragraph
# separators and the bidirectional overrides and isolates (text that reads differently than it is).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text) -> str:
    """``text`` with every control character escaped (``\x1b``, ``\n``, ``\u202e``).

    Text read from a run folder (a ``scheme_name`` in ``trials.csv``, a label in ``evaluation.json``) may come
    from someone else: printed raw, ``\x1b]0;...\x07\x1b[2J`` retitles and clears the terminal, and in a
    Markdown card it hides or reorders text. Everything else is kept as it is.
    """
    text = str(text)
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def printable_tree(value):
    """``value`` (JSON-like: dicts, lists, strings, numbers) with ``printable`` applied to every string."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_tree(k): printable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(printable_tree(v) for v in value)
    return value


__all__ = ["quote", "one_line", "printable", "printable_tree", "QUOTE_LIMIT"]
