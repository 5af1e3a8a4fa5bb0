"""Diagnostics of the reversible schemes (Chang, Meng, Haber, Ruthotto, Begert, Holtham, AAAI 2018).

Everything is derived from the schemes' own ``step`` functions (``nas.families.hamiltonian``,
``nas.families.leapfrog2``), evaluated on sympy symbols:

* Linear stability: on the oscillator (ω² ≥ 0 an eigenvalue of the linearised force) the step is a linear
  recurrence with characteristic polynomial χ(ζ; μ), μ = (hω)². Its roots have product 1 (the step
  preserves volume), so they are either on the unit circle (neutral: perturbations neither grow nor decay)
  or one is outside. The periodicity interval (0, μ*) (Lambert & Watson 1976; Hairer, Nørsett, Wanner I,
  §III.10) gives the step bound h ω < √μ*: h < 2/√ρ(KᵀDK) for the leapfrog network, D = diag σ'(Kx + b).
* Order: ``leapfrog2`` is the two-step method x_{n+1} − 2x_n + x_{n−1} = h² F(x_n) for x'' = F, with
  C_q = Σ α_j j^q / q! − Σ β_j j^{q−2} / (q−2)! (ibid. §III.10); ``hamiltonian`` is the composition
  kick(h/2)·drift(h)·kick(h/2) (Störmer–Verlet), whose modified vector field is its BCH series
  (Hairer, Lubich, Wanner, Geometric Numerical Integration (2006), §III.5, §IX).
* Numerical frequency: with det = 1, cos(hω̃) = tr/2, so ω̃²/ω² is the series of arccos(tr/2)²/μ.
"""
from __future__ import annotations

from fractions import Fraction
from math import factorial

import numpy as np
import sympy

from nas.schemes import Hamiltonian, Leapfrog2

from . import lie, series, stability, values
from .report import ModifiedEquation, ReversibleReport, Term

MU = values.MU
ZETA = values.ZETA
# Degree of the BCH series (h-power degree − 1 in the modified field).
BCH_DEGREE = 4


def _hamiltonian_polynomial(scheme: Hamiltonian):
    """χ(ζ; μ) of the network step on y' = a z, z' = −b y (ω² = ab)."""
    a, b, h, y, z = sympy.symbols("a b h y z", positive=True)
    y1, z1 = scheme.step(lambda v: a * v, lambda v: -b * v, y, z, h)
    M = sympy.Matrix([[sympy.diff(y1, y), sympy.diff(y1, z)], [sympy.diff(z1, y), sympy.diff(z1, z)]])
    chi = sympy.expand((ZETA * sympy.eye(2) - M).det())
    return sympy.expand(chi.subs(b, MU / (h ** 2 * a)))  # positive symbols: a h² μ/(a h²) = μ


def _leapfrog2_coefficients(scheme: Leapfrog2):
    """(α, β) of x_{n+2} + α_1 x_{n+1} + α_0 x_n = h² Σ β_j F(x_{n+j}), read off the step with a linear F."""
    L, h = sympy.symbols("L h", positive=True)
    x = sympy.symbols("x0 x1")
    x2 = sympy.expand(scheme.step(lambda v: L * v, x[0], x[1], h))
    alpha = [-sympy.diff(x2, xj).subs(L, 0) for xj in x] + [sympy.Integer(1)]
    beta = [sympy.cancel(sympy.diff(x2, xj, L) / h ** 2) for xj in x] + [sympy.Integer(0)]
    return alpha, beta


def _periodicity_end(chi) -> object:
    """μ* with every root of χ(·; μ) on the unit circle and simple for 0 < μ < μ* (exact when possible).

    Candidates where the root configuration can change: roots colliding (discriminant 0) or passing
    through ±1; each piece between candidates is tested at its midpoint.
    """
    candidates = set()
    for expression in (sympy.discriminant(chi, ZETA), chi.subs(ZETA, 1), chi.subs(ZETA, -1)):
        expression = sympy.expand(expression)
        if expression == 0 or not expression.has(MU):
            continue
        for root in sympy.real_roots(sympy.Poly(expression, MU)):
            if root > 0:
                candidates.add(root)
    points = sorted(candidates, key=lambda r: float(r))

    def stable(mu: float) -> bool:
        coefficients = [complex(c) for c in sympy.Poly(chi.subs(MU, mu), ZETA).all_coeffs()]
        return stability.root_condition(np.roots(coefficients), 1e-9)

    start = sympy.Integer(0)
    for end in points + [None]:
        probe = float(start) + 1.0 if end is None else 0.5 * (float(start) + float(end))
        if not stable(probe):
            return start
        if end is None:
            return sympy.oo
        start = end
    return start


def _frequency_series(chi, terms: int) -> list:
    """e_0 … e_{terms−1} with ω̃² = ω² Σ e_q μ^q, from cos(θ) = tr/2, θ = hω̃ (det = 1, degree 2)."""
    one = Fraction(1)
    n = terms + 2
    trace = -sympy.Poly(chi, ZETA).all_coeffs()[1]
    trace_poly = sympy.Poly(trace, MU).all_coeffs()[::-1]
    u = [Fraction(0)] * n  # u(μ) = 1 − tr/2
    for q, c in enumerate(trace_poly[:n]):
        u[q] += (1 if q == 0 else 0) - Fraction(int(sympy.Rational(c).p), int(sympy.Rational(c).q)) / 2
    # φ(s) = 1 − cos √s = Σ_{m≥1} (−1)^{m+1} s^m / (2m)!; s = θ² = ψ(u), ψ = φ^{-1}
    phi = [Fraction(0)] + [Fraction((-1) ** (m + 1), factorial(2 * m)) for m in range(1, n)]
    psi = series.revert(phi, n, one)
    s = series.compose(psi, u, n)
    return [s[q + 1] for q in range(terms)]


def _linear_equation(chi, terms: int = 3) -> ModifiedEquation:
    e = _frequency_series(chi, terms)
    lhs = (Term(sympy.Integer(1), 0, "x''", "\\ddot x"),)
    rhs = tuple(Term(values.to_sympy(-eq), 2 * q, "omega^" + str(2 * q + 2) + "*x",
                     "\\omega^{" + str(2 * q + 2) + "} x") for q, eq in enumerate(e) if eq != 0)
    return ModifiedEquation(lhs, rhs, 2 * terms)


def _stability_fields(chi):
    end = _periodicity_end(chi)
    constant = sympy.Poly(chi, ZETA).all_coeffs()[-1]
    volume = sympy.expand(constant * (-1) ** sympy.degree(chi, ZETA)) == 1
    interval = (0.0, float(end))
    return end, volume, interval


_LEAPFROG2_TEXT = dict(
    test_equation="x'' = -omega^2 x  (omega^2 >= 0: eigenvalue of K^T D K, D = diag(act'(K x + b)))",
    jacobian="x'' = F(x) with F'(x) = -K^T D K <= 0 (monotone activation): the first-order form has the "
             "imaginary eigenvalues +-i omega, so perturbations neither grow nor decay",
    legend=("F(x) = -K^T act(K x + b): the layer's force", "D = diag(act'(K x + b)) >= 0",
            "mu = (h omega)^2"),
)
_HAMILTONIAN_TEXT = dict(
    test_equation="y' = a z, z' = -b y  (omega^2 = a b: eigenvalue of (K1^T D1 K1)(K2^T D2 K2))",
    jacobian="(y, z)' = (K1^T D1 K1 z, -K2^T D2 K2 y) linearised has the eigenvalues +-i omega, "
             "omega^2 >= 0 an eigenvalue of (K1^T D1 K1)(K2^T D2 K2): purely imaginary (arbitrarily deep)",
    legend=("A = (0, G(y)): kick, G(y) = -K2^T act(K2 y + b2)", "B = (g(z), 0): drift, g(z) = K1^T act(K1 z + b1)",
            "[X,Y] = D_X D_Y - D_Y D_X (Lie derivatives)", "D1, D2 = diag(act'(.)) >= 0", "mu = (h omega)^2"),
)


def _condition_text(end, operator: str) -> str:
    bound = sympy.sqrt(end)
    return f"h < {sympy.sstr(bound)}/sqrt(rho({operator}))  (h omega < {sympy.sstr(bound)})"


def analyze_leapfrog2(scheme: Leapfrog2, tolerance: float = 1e-9) -> ReversibleReport:
    alpha, beta = _leapfrog2_coefficients(scheme)
    # order conditions of a two-step method for x'' = F (C_0 … C_{p+1} = 0)
    count = 8
    C = [sum(alpha), sum(j * a for j, a in enumerate(alpha))]
    for q in range(2, count):
        C.append(sum(sympy.Integer(j) ** q * a for j, a in enumerate(alpha)) / factorial(q)
                 - sum(sympy.Integer(j) ** (q - 2) * b for j, b in enumerate(beta)) / factorial(q - 2))
    zeros = 0
    while zeros < len(C) and C[zeros] == 0:
        zeros += 1
    order = max(zeros - 2, 0)
    error_constant = C[zeros] if zeros < len(C) else None
    # modified equation about the step where F is evaluated (r = 1)
    reference = max(j for j, b in enumerate(beta) if b != 0)
    lhs, rhs = [], []
    for q in range(2, order + 4):
        c = sum(a * sympy.Integer(j - reference) ** q for j, a in enumerate(alpha)) / factorial(q)
        if c != 0:
            text = "x" + ("''" if q == 2 else f"^({q})")
            latex = "\\ddot x" if q == 2 else f"x^{{({q})}}"
            lhs.append(Term(c, q - 2, text, latex))
    for m in range(0, order + 2):
        d = sum(b * sympy.Integer(j - reference) ** m for j, b in enumerate(beta)) / factorial(m)
        if d != 0:
            text = "F(x)" if m == 0 else f"(d/dt)^{m} F(x)"
            latex = "F(x)" if m == 0 else f"\\frac{{d^{{{m}}}}}{{dt^{{{m}}}}} F(x)"
            rhs.append(Term(d, m, text, latex))
    modified = ModifiedEquation(tuple(lhs), tuple(rhs), order + 2)
    chi = sympy.expand(sum(a * ZETA ** j for j, a in enumerate(alpha))
                       + MU * sum(b * ZETA ** j for j, b in enumerate(beta)))
    end, volume, interval = _stability_fields(chi)
    return ReversibleReport(
        name=scheme.name, scheme=scheme.to_dict(), arithmetic=values.EXACT, order=order,
        notes=(f"two-step method for x'' = F(x): alpha = {[sympy.sstr(a) for a in alpha]}, "
               f"beta = {[sympy.sstr(b) for b in beta]}",),
        ode_form=scheme.ode_form, test_equation=_LEAPFROG2_TEXT["test_equation"], error_constant=error_constant,
        characteristic_polynomial=chi, volume_preserving=volume, periodicity_interval=interval,
        step_bound=sympy.sqrt(end), stability_condition=_condition_text(end, "K^T D K"),
        jacobian_spectrum=_LEAPFROG2_TEXT["jacobian"], legend=_LEAPFROG2_TEXT["legend"],
        modified_equation=modified, linear_modified_equation=_linear_equation(chi),
    )


def analyze_hamiltonian(scheme: Hamiltonian, tolerance: float = 1e-9) -> ReversibleReport:
    # nas.integrate runs kick(h/2) drift(h) kick(h/2); the network step is drift(h) kick(h) with Z
    # staggered by half a step, the same map up to that half kick (conjugate, same long-time behaviour).
    terms = lie.lie_terms((("A", Fraction(1, 2)), ("B", Fraction(1)), ("A", Fraction(1, 2))), BCH_DEGREE)
    higher = [d for d, _, c in terms if d >= 2 and c != 0]
    order = (min(higher) - 1) if higher else BCH_DEGREE
    network_terms = lie.lie_terms((("B", Fraction(1)), ("A", Fraction(1))), 2)
    network_order = min([d for d, _, c in network_terms if d >= 2] or [3]) - 1
    lhs = (Term(sympy.Integer(1), 0, "(y,z)'", "(\\dot y, \\dot z)"),)
    rhs = tuple(Term(c, d - 1, text, text) for d, text, c in terms)
    modified = ModifiedEquation(lhs, rhs, BCH_DEGREE)
    chi = _hamiltonian_polynomial(scheme)
    end, volume, interval = _stability_fields(chi)
    return ReversibleReport(
        name=scheme.name, scheme=scheme.to_dict(), arithmetic=values.EXACT, order=order,
        notes=(f"the network step (Y_j, Z_j) -> (Y_j+1, Z_j+1) alone is symplectic Euler (order {network_order}); "
               "reading Z at half steps (the half kicks of nas.integrate) makes it Stormer-Verlet",),
        ode_form=scheme.ode_form, test_equation=_HAMILTONIAN_TEXT["test_equation"], error_constant=None,
        characteristic_polynomial=chi, volume_preserving=volume, periodicity_interval=interval,
        step_bound=sympy.sqrt(end),
        stability_condition=_condition_text(end, "(K1^T D1 K1)(K2^T D2 K2)"),
        jacobian_spectrum=_HAMILTONIAN_TEXT["jacobian"], legend=_HAMILTONIAN_TEXT["legend"],
        modified_equation=modified, linear_modified_equation=_linear_equation(chi),
    )


__all__ = ["analyze_hamiltonian", "analyze_leapfrog2"]
