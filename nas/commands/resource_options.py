"""Flags shared by the commands that run Ray Tune trials (``nas search``, ``nas evaluate``)."""
from __future__ import annotations


def gpus_per_trial(value):
    """``--gpus-per-trial`` as given: None (not given), ``"auto"`` or a number (checked later against the
    cluster); anything else is a ``ValueError`` naming the flag."""
    if value is None or value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"--gpus-per-trial: expected a number or auto, got {value!r}") from None


__all__ = ["gpus_per_trial"]
