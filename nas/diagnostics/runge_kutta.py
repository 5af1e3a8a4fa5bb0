"""Diagnostics of an explicit Runge-Kutta method (Butcher tableau).

Order conditions and error coefficients come from rooted trees (Butcher 1963; Hairer, Nørsett, Wanner,
Solving ODEs I (1993), §II.2): the method's B-series coefficient of tree t is the elementary weight
Φ(t) = bᵀ u(t) with u(•) = 1 and u([t1 … tm]) = Π_k A u(t_k) (componentwise), the exact solution's is
1/γ(t), and the local error is Σ_t h^|t| (Φ(t) − 1/γ(t)) F(t) / σ(t).

The modified equation (backward error analysis, Hairer, Lubich, Wanner, Geometric Numerical Integration
(2006), §IX.9) is the B-series vector field ũ' = Σ_t h^{|t|−1} b(t) F(t)(ũ) / σ(t) whose exact h-flow is
the numerical step; b follows from Φ by the recursion Φ(t) = Σ_{j≥1} (∂_b^{j−1} b)(t) / j!, with the Lie
derivative (∂_b a)(t) = Σ over edge cuts of t of a(v) b(u) (see :func:`nas.diagnostics.trees.cuts`).

Arithmetic follows the tableau: Fractions stay exact (reported as sympy Rationals), floats are compared
with a tolerance.
"""
from __future__ import annotations

from fractions import Fraction
from math import factorial

import sympy

from nas.schemes import ButcherTableau

from . import series, stability, trees, values
from .report import ModifiedEquation, RungeKuttaReport, Term

# Order conditions are checked for trees up to this order (so orders up to 7 are recognised with their
# principal error coefficients; 286 trees).
MAX_TREE_ORDER = 8


def elementary_weights(tableau: ButcherTableau, max_order: int = MAX_TREE_ORDER) -> dict:
    """Φ(t) for every rooted tree t with |t| ≤ max_order, in the tableau's arithmetic."""
    A, b = tableau.A, tableau.b
    s = len(b)
    one = [Fraction(1)] * s
    stage_weights: dict = {}
    weights: dict = {}
    for tree in trees.trees_up_to(max_order):
        u = one
        for child in tree:
            child_u = stage_weights[child]
            Au = [sum((A[i][j] * child_u[j] for j in range(i)), Fraction(0)) for i in range(s)]
            u = [x * y for x, y in zip(u, Au)]
        stage_weights[tree] = u
        weights[tree] = sum((bi * ui for bi, ui in zip(b, u)), Fraction(0))
    return weights


def order_from_weights(weights: dict, tolerance: float, max_order: int = MAX_TREE_ORDER):
    """(order, conditions): the largest p with Φ(t) = 1/γ(t) for all |t| ≤ p, and per order q the tuple
    (q, trees satisfied, trees)."""
    conditions = []
    order = None
    for q in range(1, max_order + 1):
        level = trees.trees_of_order(q)
        satisfied = sum(values.is_zero(weights[t] - Fraction(1, trees.density(t)), tolerance) for t in level)
        conditions.append((q, satisfied, len(level)))
        if order is None and satisfied < len(level):
            order = q - 1
    return (max_order if order is None else order), tuple(conditions)


def stage_order(tableau: ButcherTableau, tolerance: float, limit: int = MAX_TREE_ORDER) -> int:
    """Largest q ≤ limit with B(q): Σ b_i c_i^{k−1} = 1/k and C(q): Σ_j a_ij c_j^{k−1} = c_i^k / k, k ≤ q."""
    A, b, c = tableau.A, tableau.b, tableau.c
    s = len(b)
    for k in range(1, limit + 1):
        b_ok = values.is_zero(sum((b[i] * c[i] ** (k - 1) for i in range(s)), Fraction(0)) - Fraction(1, k),
                              tolerance)
        c_ok = all(values.is_zero(sum((A[i][j] * c[j] ** (k - 1) for j in range(s)), Fraction(0))
                                  - c[i] ** k / k, tolerance) for i in range(s))
        if not (b_ok and c_ok):
            return k - 1
    return limit


def modified_field_coefficients(weights: dict, max_order: int) -> dict:
    """b(t) for |t| ≤ max_order: the B-series coefficients of the modified vector field.

    Solves Φ(t) = Σ_{j=1}^{|t|} D_j(t)/j! with D_1 = b and D_j = ∂_b D_{j−1}, order by order (every D_j(t)
    with j ≥ 2 involves only smaller trees).
    """
    b: dict = {}
    derivatives: dict = {}  # (j, tree) -> D_j(tree)
    for q in range(1, max_order + 1):
        for tree in trees.trees_of_order(q):
            correction = 0
            for j in range(2, q + 1):
                value = 0
                for (v, u), count in trees.cuts(tree):
                    previous = b[v] if j == 2 else derivatives.get((j - 1, v), 0)
                    value = value + count * previous * b[u]
                derivatives[(j, tree)] = value
                correction = correction + value * Fraction(1, factorial(j))
            b[tree] = weights[tree] - correction
    return b


def stability_polynomial(weights: dict, stages: int) -> list:
    """Coefficients of R(z) = 1 + Σ_q z^q bᵀA^{q−1}1 (lowest first); z^q's coefficient is Φ(tall tree q)."""
    coefficients = [Fraction(1)] + [weights[trees.tall(q)] for q in range(1, stages + 1)]
    while len(coefficients) > 1 and coefficients[-1] == 0:
        coefficients.pop()
    return coefficients


def stability_intervals(R: list) -> tuple:
    """(r_real, r_imag): |R| ≤ 1 on [−r_real, 0] and on i·[−r_imag, r_imag]."""
    R = [float(c) for c in R]
    n = len(R)
    # real axis: p(t) = R(−t)² − 1 ≤ 0
    R_neg = [c * (-1) ** q for q, c in enumerate(R)]
    real_poly = series.multiply(R_neg, R_neg, 2 * n - 1)
    real_poly[0] -= 1.0
    # imaginary axis: |R(iy)|² − 1 = Re² + Im² − 1
    re_part = [c * ((-1) ** (q // 2) if q % 2 == 0 else 0) for q, c in enumerate(R)]
    im_part = [c * ((-1) ** (q // 2) if q % 2 == 1 else 0) for q, c in enumerate(R)]
    imag_poly = series.add(series.multiply(re_part, re_part, 2 * n - 1),
                           series.multiply(im_part, im_part, 2 * n - 1), 2 * n - 1)
    imag_poly[0] -= 1.0
    return stability.polynomial_extent(real_poly), stability.polynomial_extent(imag_poly)


def linear_modified_series(R: list, terms: int) -> list:
    """d_0 … d_{terms−1} with log R(z) = z Σ d_q z^q (so ũ' = λ Σ d_q (hλ)^q ũ on u' = λu)."""
    one = R[0] if isinstance(R[0], float) else Fraction(1)
    w = [c * one for c in R[: terms + 1]] + [one - one] * max(0, terms + 1 - len(R))
    w[0] = one - one
    log = series.log1p(w, terms + 1, one)
    return log[1:]


def analyze_runge_kutta(tableau: ButcherTableau, tolerance: float = 1e-9) -> RungeKuttaReport:
    """The full report of an explicit Runge-Kutta method (see :class:`RungeKuttaReport`)."""
    if tableau.stages > MAX_TREE_ORDER:  # the stability polynomial needs trees up to order s
        raise ValueError(f"stages: the diagnostics cover tableaux of up to {MAX_TREE_ORDER} stages (rooted trees "
                         f"up to order {MAX_TREE_ORDER}), got {tableau.stages}")
    arithmetic = values.EXACT if tableau.is_exact else values.FLOAT
    weights = elementary_weights(tableau)
    order, conditions = order_from_weights(weights, tolerance)
    notes = []
    if order >= MAX_TREE_ORDER:
        notes.append(f"order conditions hold for every tree up to order {MAX_TREE_ORDER}: order >= {order}")

    def finish(value):
        return values.finish(value, arithmetic)

    # principal error coefficients and the modified equation (trees of order p+1)
    principal: list = []
    lhs = (Term(sympy.Integer(1), 0, "u'", "\\dot u"),)
    rhs = [Term(sympy.Integer(1), 0, "f", "f", trees.bracket(trees.LEAF))]
    if order < MAX_TREE_ORDER:
        b = modified_field_coefficients(weights, order + 1)
        for tree in trees.trees_of_order(order + 1):
            tau = (weights[tree] - Fraction(1, trees.density(tree))) / trees.symmetry(tree)
            principal.append(Term(finish(tau), order + 1, trees.differential(tree),
                                  trees.differential(tree, latex=True), trees.bracket(tree)))
            coefficient = b[tree] / trees.symmetry(tree)
            if not values.is_zero(coefficient, tolerance):
                rhs.append(Term(finish(coefficient), order, trees.differential(tree),
                                trees.differential(tree, latex=True), trees.bracket(tree)))
        squares = sum((values.to_sympy(t.coefficient) ** 2 for t in principal), sympy.Integer(0))
        norm = finish(sympy.sqrt(squares))
        modified = ModifiedEquation(lhs, tuple(rhs), order + 1)
    else:
        norm = None
        modified = ModifiedEquation(lhs, tuple(rhs), MAX_TREE_ORDER)

    R = stability_polynomial(weights, tableau.stages)
    real_extent, imag_extent = stability_intervals(R)

    linear_terms = max(order, 1) + 1
    d = linear_modified_series(R, linear_terms)
    linear_rhs = tuple(Term(finish(dq), q, "lambda" + (f"^{q + 1}" if q else "") + "*u",
                            "\\lambda" + (f"^{{{q + 1}}}" if q else "") + " u")
                       for q, dq in enumerate(d) if not values.is_zero(dq, tolerance))
    linear = ModifiedEquation(lhs, linear_rhs, linear_terms)

    return RungeKuttaReport(
        name=tableau.name or str(tableau),
        scheme=tableau.to_dict(),
        arithmetic=arithmetic,
        order=order,
        notes=tuple(notes),
        stages=tableau.stages,
        max_tree_order=MAX_TREE_ORDER,
        conditions=conditions,
        stage_order=stage_order(tableau, tolerance),
        principal_error_coefficients=tuple(principal),
        principal_error_norm=norm,
        stability_polynomial=finish(R),
        real_stability_interval=(-real_extent, 0.0),
        imaginary_stability_interval=(-imag_extent, imag_extent),
        modified_equation=modified,
        linear_modified_equation=linear,
    )


__all__ = ["MAX_TREE_ORDER", "analyze_runge_kutta", "elementary_weights", "linear_modified_series",
           "modified_field_coefficients", "order_from_weights", "stability_intervals", "stability_polynomial",
           "stage_order"]
