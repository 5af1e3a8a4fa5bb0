"""The ``constraints`` section: which feasibility rules a search hands to Optuna.

    constraints: {min_order: 2, zero_stable: true, max_params: 50000}

This module only reads the section; ``nas.search.constraints`` computes each trial's constraint values.
"""
from __future__ import annotations

from dataclasses import dataclass

from nas.domains import check_mapping, check_scalar


@dataclass(frozen=True)
class Constraints:
    """Feasibility rules handed to Optuna as constraints (value ≤ 0 is feasible)."""

    min_order: int | None = None
    zero_stable: bool = False
    max_params: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        out = []
        if self.min_order is not None:
            out.append("min_order")
        if self.zero_stable:
            out.append("zero_stable")
        if self.max_params is not None:
            out.append("max_params")
        return tuple(out)


def parse_constraints(raw, path: str = "constraints") -> Constraints:
    """The ``constraints`` section (None: no constraint)."""
    raw = {} if raw is None else raw
    check_mapping(raw, path, {"min_order", "zero_stable", "max_params"})
    min_order = raw.get("min_order")
    max_params = raw.get("max_params")
    return Constraints(
        min_order=None if min_order is None else check_scalar(min_order, f"{path}.min_order", "int", 0, 8),
        zero_stable=check_scalar(raw.get("zero_stable", False), f"{path}.zero_stable", "bool"),
        max_params=None if max_params is None else check_scalar(max_params, f"{path}.max_params", "int", low=1),
    )


__all__ = ["Constraints", "parse_constraints"]
