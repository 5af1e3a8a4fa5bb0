"""Shared checks for the JSON forms of schemes and specs."""
from __future__ import annotations


def check_keys(data, required: set[str], optional: set[str], where: str) -> None:
    """Reject a non-dict, missing keys or unknown keys with a ValueError that names them."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed keys: {allowed}")
    missing = sorted(required - set(data))
    if missing:
        raise ValueError(f"{where}: missing key(s) {', '.join(missing)}")
