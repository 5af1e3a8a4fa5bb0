"""Scheme diagnostics for trial records, and the constraint values handed to Optuna.

Optuna's convention (``trial.set_constraint``): a value ≤ 0 is feasible, and the size of a positive value
says how far from feasible the trial is, which the constrained samplers use.

- ``min_order``: required order − the scheme's order (Runge-Kutta: rooted-tree order conditions; multistep:
  C_0 = … = C_p = 0; LM-ResNet: its order as a method for (1 + k) u' = f, ``effective_order``).
- ``zero_stable``: max |ζ| − 1 over the roots of ρ (root condition, Hairer, Nørsett, Wanner I, §III.3), and a
  small positive value for a repeated root on the unit circle. Runge-Kutta methods are always zero-stable
  (ρ(ζ) = ζ − 1): 0. A learned LM-ResNet is judged by the k it starts from (its k then moves in training).
- ``max_params``: (params − budget) / budget.

The numbers come from ``nas.diagnostics.analyze``; ``scheme_diagnostics`` flattens a report into the
trials.csv columns (order, zero_stable, error_constant, error_norm, real_stability_interval).
"""
from __future__ import annotations

import math

import numpy as np

# A repeated root on the unit circle violates the root condition although max |ζ| − 1 = 0.
REPEATED_UNIT_ROOT_VIOLATION = 1e-3
# Roots this close to the unit circle count as on it (numerical roots of a double root err by ~1e-8).
ROOT_TOLERANCE = 1e-6


def _number(value):
    """A float from an int / float / sympy number; None for symbols, booleans stay booleans."""
    if value is None or isinstance(value, bool):
        return value
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _analysis_target(scheme):
    """The scheme to analyse: a learned LM-ResNet with an initial k is analysed at that k."""
    from nas.schemes import LMResNet

    if isinstance(scheme, LMResNet) and scheme.learned and scheme.k is not None:
        return LMResNet(k=scheme.k, learn="fixed")
    return scheme


def scheme_diagnostics(scheme) -> dict:
    """order, zero_stable, error_constant, error_norm, real_stability_interval (None where undefined).

    ``real_stability_interval`` is r of the interval [−r, 0]. Empty values (None) mean the diagnostics
    cannot say: a learned LM-ResNet without an initial k, or a family the diagnostics do not know yet.
    """
    out = {"order": None, "zero_stable": None, "error_constant": None, "error_norm": None,
           "real_stability_interval": None}
    try:
        from nas.diagnostics import analyze

        report = analyze(_analysis_target(scheme))
    except (ImportError, TypeError, ValueError):
        return out
    order = getattr(report, "effective_order", None) if scheme.family == "lm_resnet" else report.order
    out["order"] = None if _number(order) is None else int(_number(order))
    zero_stable = getattr(report, "zero_stable", None)
    if scheme.family == "runge_kutta":
        zero_stable = True  # ρ(ζ) = ζ − 1
    out["zero_stable"] = zero_stable if isinstance(zero_stable, bool) else None
    out["error_constant"] = _number(getattr(report, "normalized_error_constant", None))
    out["error_norm"] = _number(getattr(report, "principal_error_norm", None))
    interval = getattr(report, "real_stability_interval", None)
    if interval is not None:
        out["real_stability_interval"] = _number(-interval[0])
    return out


def zero_stability_violation(scheme) -> float:
    """max |ζ| − 1 over the roots of ρ (≤ 0 means zero-stable), see the module docstring."""
    family = scheme.family
    if family == "runge_kutta":
        return 0.0
    target = _analysis_target(scheme)
    if family == "lm_resnet":
        if target.k is None:  # the paper's initialisation k ∈ (−0.1, 0] is zero-stable
            return 0.0
        target = target.multistep()
    if not hasattr(target, "alpha"):
        return 0.0
    rho = [float(a) for a in target.alpha]  # lowest degree first
    roots = np.roots(rho[::-1])
    violation = float(np.abs(roots).max() - 1.0) if len(roots) else -1.0
    if violation > ROOT_TOLERANCE:
        return violation
    # On or inside the unit circle: the root condition also forbids repeated roots of modulus 1, which
    # numerical roots cannot tell from close simple ones; the diagnostics decide (exactly for Fractions).
    try:
        from nas.diagnostics import analyze

        if analyze(target).zero_stable is False:
            return REPEATED_UNIT_ROOT_VIOLATION
    except (ImportError, TypeError, ValueError):
        pass
    return min(violation, 0.0)


def constraint_values(constraints, scheme, params: int, diagnostics: dict) -> dict:
    """``{"constraint_<name>": value}`` for every constraint of the space (≤ 0: feasible)."""
    out = {}
    if constraints.min_order is not None:
        order = diagnostics.get("order")
        out["constraint_min_order"] = float(constraints.min_order - (0 if order is None else order))
    if constraints.zero_stable:
        out["constraint_zero_stable"] = zero_stability_violation(scheme)
    if constraints.max_params is not None:
        out["constraint_max_params"] = (params - constraints.max_params) / constraints.max_params
    return out


def feasible(values: dict) -> bool:
    return all(v <= 0 for v in values.values())


__all__ = ["scheme_diagnostics", "zero_stability_violation", "constraint_values", "feasible"]
