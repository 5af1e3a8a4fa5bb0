"""A report's text as nas states a scheme's order: its ``order`` line gives ``nas.families.base.scheme_order``,
the order of trials.csv and the leaderboard, for every text a user reads (``nas diagnose``, export cards).

The report itself keeps ``order`` as the classical order for u' = f (with ``effective_order`` beside it); for a
scheme consistent with T u' = f, T != 1 (LM-ResNet: T = 1 + k), that classical order is 0 and the line names
both.
"""
from __future__ import annotations

from nas.families.base import scheme_order


def stated_order_text(report) -> str:
    """The report's text with its ``order`` line giving the order the leaderboard gives
    (``nas.families.base.scheme_order``); for a scheme consistent with T u' = f, T ≠ 1 (LM-ResNet), the line
    also names that equation and keeps the classical order for u' = f beside it."""
    text = str(report)
    order = scheme_order(report)
    if order is None or order == report.order:
        return text
    scale = report.time_scale
    scale = f"{scale:.6g}" if isinstance(scale, float) else str(scale)
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("  order: "))
    lines[at] = (f"  order: {order} (as a method for {scale} u' = f, the equation it is consistent with; "
                 f"{report.order} for u' = f)")
    return "\n".join(lines)


__all__ = ["stated_order_text"]
