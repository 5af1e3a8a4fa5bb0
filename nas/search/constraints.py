"""Scheme diagnostics for trial records, and the constraint values handed to Optuna.

Optuna's convention (``trial.set_constraint``): a value ≤ 0 is feasible, and the size of a positive value
says how far from feasible the trial is, which the constrained samplers use.

- ``min_order``: required order − the scheme's order (its family's ``diagnostic_columns``: rooted-tree
  order conditions for Runge-Kutta, C_0 = … = C_p = 0 for multistep methods, LM-ResNet's order as a method
  for (1 + k) u' = f).
- ``zero_stable``: the family's ``zero_stability_violation``: max |ζ| − 1 over the roots of ρ (root
  condition, Hairer, Nørsett, Wanner I, §III.3), a small positive value for a repeated root on the unit
  circle, 0 for one-step methods. A learned LM-ResNet is judged by the k it starts from.
- ``max_params``: (params − budget) / budget.

The numbers come from the scheme's family (``nas.families``), which runs ``nas.diagnostics``.
"""
from __future__ import annotations

from nas.families.multistep import REPEATED_UNIT_ROOT_VIOLATION, ROOT_TOLERANCE


def scheme_diagnostics(scheme) -> dict:
    """order, zero_stable, error_constant, error_norm, real_stability_interval (None where the scheme's report
    has no such value, e.g. the zero-stability of a learned LM-ResNet without an initial k).

    ``real_stability_interval`` is r of the interval [−r, 0]. An analysis that fails raises a
    ``RuntimeError`` naming the scheme: a missing order must never read as order 0.
    """
    from nas.families.registry import family_of

    family = family_of(scheme)
    try:
        return family.diagnostic_columns(scheme)
    except Exception as exc:
        raise RuntimeError(f"diagnostics of scheme {scheme} ({family.name}) failed: "
                           f"{type(exc).__name__}: {exc}") from exc


def zero_stability_violation(scheme) -> float:
    """≤ 0 means zero-stable (the scheme family's ``zero_stability_violation``), see the module docstring."""
    from nas.families.registry import family_of

    return family_of(scheme).zero_stability_violation(scheme)


def constraint_values(constraints, scheme, params: int, diagnostics: dict) -> dict:
    """``{"constraint_<name>": value}`` for every constraint of the space (≤ 0: feasible). A ``min_order``
    constraint on a scheme whose order is unknown (``None``) is a ``ValueError``."""
    out = {}
    if constraints.min_order is not None:
        order = diagnostics.get("order")
        if order is None:  # unknown is not order 0: the trial is an error that says why, not silently infeasible
            raise ValueError(f"constraint min_order: the analysis of scheme {scheme} gives no order to compare "
                             f"with {constraints.min_order}")
        out["constraint_min_order"] = float(constraints.min_order - order)
    if constraints.zero_stable:
        out["constraint_zero_stable"] = zero_stability_violation(scheme)
    if constraints.max_params is not None:
        out["constraint_max_params"] = (params - constraints.max_params) / constraints.max_params
    return out


def feasible(values: dict) -> bool:
    return all(v <= 0 for v in values.values())


__all__ = ["REPEATED_UNIT_ROOT_VIOLATION", "ROOT_TOLERANCE", "scheme_diagnostics", "zero_stability_violation",
           "constraint_values", "feasible"]
