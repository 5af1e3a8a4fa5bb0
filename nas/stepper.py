"""The one stepping code: explicit Runge-Kutta and linear multistep steps, and ``integrate``.

Networks are built on the same functions (``runge_kutta_increment``, ``multistep_update``) that the
fixed-step solver ``nas.integrate`` (:mod:`nas.solver`) uses, so a network *is* the scheme applied to its
residual functions. The families (``nas.families``) do the stepping of their schemes with these functions.
This module is below the families: it imports none of them (``nas.solver`` dispatches to them from above).

Coefficients may be Python numbers (fixed schemes: exact zeros are skipped, ones are not multiplied, so a
scheme network costs no more than the hand-written network it equals) or tensors (learned coefficients,
e.g. LM-ResNet's k_n).
"""
from __future__ import annotations

from fractions import Fraction
from numbers import Number
from typing import Callable, Sequence

STARTUPS = ("runge_kutta", "euler")


def _is_zero(c) -> bool:
    return isinstance(c, Number) and c == 0


def scale(c, x):
    """c · x, without a multiplication when c is the number 1."""
    if isinstance(c, Number) and c == 1:
        return x
    return c * x


def linear_combination(coefficients: Sequence, values: Sequence):
    """Σ c_i v_i over the entries whose coefficient is not the number 0 (None when all are 0)."""
    total = None
    for c, v in zip(coefficients, values):
        if _is_zero(c):
            continue
        term = scale(c, v)
        total = term if total is None else total + term
    return total


def runge_kutta_increment(stage_fns: Sequence[Callable], x, h, A: Sequence[Sequence], b: Sequence):
    """h Σ_i b_i k_i with k_i = f_i(x + h Σ_{j<i} a_ij k_j) (Hairer, Nørsett, Wanner I, eq. II.1.8).

    ``stage_fns`` has one callable per stage (the same callable s times for an ODE-faithful step).
    Returns ``(increment, k_1)``; k_1 = f_1(x) is returned so multistep start-up can reuse it.
    """
    ks = []
    for i, f in enumerate(stage_fns):
        shift = linear_combination([h * a for a in A[i][:i]], ks)
        ks.append(f(x if shift is None else x + shift))
    increment = linear_combination([h * bi for bi in b], ks)
    return increment, ks[0]


def multistep_update(states: Sequence, f_values: Sequence, alpha: Sequence, beta: Sequence, h):
    """Split the explicit k-step update into ``(state_part, increment)``.

        x_{n+k} = −Σ_{j<k} α_j x_{n+j}  +  h Σ_{j<k} β_j f_{n+j}          (α_k = 1, β_k = 0)

    ``states`` and ``f_values`` hold the last k states and residual values, oldest first. The split is
    where noise enters a multistep network: it perturbs the increment, never the state combination.
    """
    state_part = linear_combination([-a for a in alpha[:-1]], states)
    increment = linear_combination([h * bj for bj in beta[:-1]], f_values)
    return state_part, increment


def as_floats(values):
    return [float(v) if isinstance(v, Fraction) else v for v in values]


def tableau_floats(tableau):
    """(A, b) as Python floats for the stepping code."""
    return [as_floats(row) for row in tableau.A], as_floats(tableau.b)
