"""Runge-Kutta diagnostics: rooted trees, order conditions, stability, modified equations.

Known values are textbook ones (Hairer, Nørsett, Wanner I; Butcher 2016; Hairer, Lubich, Wanner 2006);
the measured checks compare one numerical step with the exact flow of the truncated modified equation.
"""
from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest
import sympy
from scipy.integrate import solve_ivp

from nas import schemes
from nas.diagnostics import analyze, runge_kutta, trees
from nas.schemes import ButcherTableau

R = sympy.Rational


# --- rooted trees -----------------------------------------------------------------------------------------

def test_number_of_rooted_trees_per_order_is_oeis_a000081():
    assert [len(trees.trees_of_order(n)) for n in range(1, 9)] == [1, 1, 2, 4, 9, 20, 48, 115]


@pytest.mark.parametrize("n", range(1, 9))
def test_symmetry_and_density_count_labelled_trees(n):
    # Σ n!/σ(t) = n^{n−1} (Cayley: labelled rooted trees); Σ n!/(σ(t)γ(t)) = (n−1)! (increasing labellings).
    level = trees.trees_of_order(n)
    assert sum(Fraction(math.factorial(n), trees.symmetry(t)) for t in level) == n ** (n - 1)
    assert sum(Fraction(math.factorial(n), trees.symmetry(t) * trees.density(t)) for t in level) \
        == math.factorial(n - 1)


def test_elementary_differentials_of_order_three():
    assert [trees.differential(t) for t in trees.trees_up_to(3)] == ["f", "f'f", "f''(f,f)", "f'f'f"]


# --- order, stage order -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, order", [("euler", 1), ("midpoint", 2), ("heun", 2), ("ralston", 2),
                                         ("kutta3", 3), ("ssprk3", 3), ("rk4", 4), ("rk38", 4)])
def test_known_orders(name, order):
    report = analyze(name)
    assert report.order == order
    assert report.arithmetic == "exact"
    assert report.stage_order == 1  # explicit methods: C(2) fails at the second stage


def test_registered_runge_kutta_orders_match_the_registry():
    for name in schemes.names():
        scheme = schemes.get(name)
        if isinstance(scheme, ButcherTableau):
            assert analyze(scheme).order == schemes.info(name).order, name


def test_perturbed_tableau_gets_the_lower_order():
    rng = random.Random(5)
    rk4 = schemes.get("rk4")
    for _ in range(5):
        A = [list(row) for row in rk4.A]
        i = rng.randrange(1, 4)
        j = rng.randrange(0, i)
        A[i][j] += Fraction(rng.randint(1, 9), 100)
        report = analyze(ButcherTableau(A=A, b=rk4.b))
        assert report.order < 4
        q = report.order + 1  # the first failing order has a failing condition
        assert report.conditions[q - 1][1] < report.conditions[q - 1][2]
    # b perturbed within Σ b = 1: Σ b c = 1/2 fails, order 1
    b = [rk4.b[0] + Fraction(1, 100), rk4.b[1] - Fraction(1, 100), rk4.b[2], rk4.b[3]]
    assert analyze(ButcherTableau(A=rk4.A, b=b)).order == 1


def test_float_tableau_uses_float_arithmetic_with_a_tolerance():
    rk4 = schemes.get("rk4")
    as_float = ButcherTableau(A=[[float(a) for a in row] for row in rk4.A], b=[float(v) for v in rk4.b])
    report = analyze(as_float)
    assert report.arithmetic == "float" and report.order == 4
    assert all(isinstance(c, float) for c in report.stability_polynomial)
    perturbed = ButcherTableau(A=[[float(a) for a in row] for row in rk4.A],
                               b=[1 / 6 + 1e-4, 1 / 3 - 1e-4, 1 / 3, 1 / 6])
    assert analyze(perturbed).order == 1


# --- stability ----------------------------------------------------------------------------------------------

def test_rk4_stability_polynomial_is_the_exponential_taylor_polynomial():
    assert analyze("rk4").stability_polynomial == (1, 1, R(1, 2), R(1, 6), R(1, 24))


def test_stability_polynomial_of_s_stage_order_s_methods_is_truncated_exponential():
    for name in ("euler", "midpoint", "heun", "ralston", "kutta3", "ssprk3", "rk4", "rk38"):
        report = analyze(name)
        assert report.stability_polynomial == tuple(R(1, math.factorial(q)) for q in range(report.order + 1))


@pytest.mark.parametrize("name, real, imaginary", [
    ("euler", 2.0, 0.0), ("heun", 2.0, 0.0), ("kutta3", 2.5127453266, math.sqrt(3)),
    ("rk4", 2.7852935634, 2 * math.sqrt(2)),
])
def test_stability_intervals(name, real, imaginary):
    report = analyze(name)
    assert report.real_stability_interval[0] == pytest.approx(-real, abs=1e-9)
    assert report.real_stability_interval[1] == 0
    assert report.imaginary_stability_interval == pytest.approx((-imaginary, imaginary), abs=1e-9)


def test_stability_interval_matches_amplification_factor():
    # measured: |R| ≤ 1 just inside the real interval and > 1 just outside
    for name in ("rk4", "kutta3", "ssprk3"):
        report = analyze(name)
        coefficients = [float(c) for c in report.stability_polynomial]
        edge = report.real_stability_interval[0]
        assert abs(np.polynomial.polynomial.polyval(edge * 0.999, coefficients)) <= 1
        assert abs(np.polynomial.polynomial.polyval(edge * 1.001, coefficients)) > 1


# --- error coefficients and modified equation ------------------------------------------------------------

def test_principal_error_coefficients_of_heun():
    # local error of Heun: h³ (1/12 f''(f,f) − 1/6 f'f'f)  (Φ − 1/γ)/σ for the two trees of order 3
    terms = {t.factor: t.coefficient for t in analyze("heun").principal_error_coefficients}
    assert terms == {"f''(f,f)": R(1, 12), "f'f'f": R(-1, 6)}
    assert analyze("heun").principal_error_norm == sympy.sqrt(R(1, 144) + R(1, 36))


def test_rk4_principal_error_norm():
    # Σ τ(t)² over the nine trees of order 5 (Butcher's A^(5) ≈ 1.45e-2 for the classic method)
    report = analyze("rk4")
    assert len(report.principal_error_coefficients) == 9
    assert float(report.principal_error_norm) == pytest.approx(0.0145046, rel=1e-5)


def test_euler_modified_equation_is_f_minus_half_h_fprime_f():
    equation = analyze("euler").modified_equation
    assert equation.coefficient("rhs", 0, "f") == 1
    assert equation.coefficient("rhs", 1, "f'f") == R(-1, 2)
    assert equation.remainder == 2


def test_euler_modified_field_at_second_order():
    # Hairer, Lubich, Wanner (2006), §IX.1: f̃ = f − h/2 f'f + h²/12 (f''(f,f) + 4 f'f'f) + O(h³)
    weights = runge_kutta.elementary_weights(schemes.get("euler"), 3)
    b = runge_kutta.modified_field_coefficients(weights, 3)
    cherry, tall = trees.trees_of_order(3)
    assert b[cherry] / trees.symmetry(cherry) == Fraction(1, 12)
    assert b[tall] / trees.symmetry(tall) == Fraction(4, 12)


def test_modified_field_of_the_exact_flow_is_f():
    # Φ = 1/γ is the exact solution: the recursion must return b(•) = 1 and b(t) = 0 otherwise
    exact = {t: Fraction(1, trees.density(t)) for t in trees.trees_up_to(8)}
    b = runge_kutta.modified_field_coefficients(exact, 8)
    assert all(b[t] == (1 if t == trees.LEAF else 0) for t in b)


@pytest.mark.parametrize("name", ["euler", "heun", "kutta3", "rk4", "rk38"])
def test_linear_modified_equation_agrees_with_the_tall_trees(name):
    # For f(u) = λu only the chains f'…f survive (F = λ^q u): log R(z)/h must equal their coefficients,
    # and the leading one is the z^{p+1} coefficient of R − e^z.
    report = analyze(name)
    p = report.order
    weights = runge_kutta.elementary_weights(schemes.get(name), p + 1)
    b = runge_kutta.modified_field_coefficients(weights, p + 1)
    linear = report.linear_modified_equation
    for q in range(1, p + 1):
        factor = "lambda" + (f"^{q + 1}" if q else "") + "*u"
        assert linear.coefficient("rhs", q, factor) == b[trees.tall(q + 1)]
    R_next = report.stability_polynomial[p + 1] if p + 1 < len(report.stability_polynomial) else 0
    leading = R_next - R(1, math.factorial(p + 1))
    assert linear.coefficient("rhs", p, f"lambda^{p + 1}*u") == leading


def _modified_flow_defect(name: str, h: float, terms: int) -> float:
    """|one step − exact h-flow of the modified equation truncated after h^terms| for u' = u² + sin u."""
    tableau = schemes.get(name)
    y = sympy.Symbol("y")
    f = y ** 2 + sympy.sin(y)
    derivatives = [f]
    for _ in range(terms + 1):
        derivatives.append(sympy.diff(derivatives[-1], y))
    weights = runge_kutta.elementary_weights(tableau, terms + 1)
    b = runge_kutta.modified_field_coefficients(weights, terms + 1)

    def F(tree):
        value = derivatives[len(tree)]
        for child in tree:
            value = value * F(child)
        return value

    H = sympy.Symbol("H")
    field = sum(H ** (trees.order(t) - 1) * sympy.Rational(b[t]) / trees.symmetry(t) * F(t)
                for t in trees.trees_up_to(terms + 1))
    modified = sympy.lambdify((y, H), field)
    f_num = sympy.lambdify(y, f)
    y0 = 0.3
    A, bw = [[float(a) for a in row] for row in tableau.A], [float(v) for v in tableau.b]
    ks = []
    for i in range(tableau.stages):
        ks.append(f_num(y0 + h * sum(A[i][j] * ks[j] for j in range(i))))
    step = y0 + h * sum(bi * k for bi, k in zip(bw, ks))
    flow = solve_ivp(lambda t, u: [modified(u[0], h)], (0.0, h), [y0], method="DOP853", rtol=1e-13,
                     atol=1e-16).y[0, -1]
    return abs(step - flow)


@pytest.mark.parametrize("name, terms", [("euler", 1), ("euler", 2), ("heun", 3), ("kutta3", 3), ("rk4", 4)])
def test_step_follows_the_modified_equation(name, terms):
    # Backward error analysis: truncating after h^N leaves a one-step defect O(h^{N+2}).
    hs = [0.1, 0.05, 0.025]
    defects = [_modified_flow_defect(name, h, terms) for h in hs]
    slope = np.polyfit(np.log(hs), np.log(defects), 1)[0]
    assert slope == pytest.approx(terms + 2, abs=0.3)


# --- beyond the registry: orders 5 and 6 ------------------------------------------------------------------

F = Fraction
DOPRI5 = ButcherTableau(  # Dormand & Prince (1980), the order-5 weights
    A=[[0] * 7, [F(1, 5)] + [0] * 6, [F(3, 40), F(9, 40)] + [0] * 5, [F(44, 45), F(-56, 15), F(32, 9)] + [0] * 4,
       [F(19372, 6561), F(-25360, 2187), F(64448, 6561), F(-212, 729)] + [0] * 3,
       [F(9017, 3168), F(-355, 33), F(46732, 5247), F(49, 176), F(-5103, 18656)] + [0] * 2,
       [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0]],
    b=[F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0], name="dopri5")
BUTCHER6 = ButcherTableau(  # Butcher (1964), 7 stages, order 6
    A=[[0] * 7, [F(1, 3)] + [0] * 6, [0, F(2, 3)] + [0] * 5, [F(1, 12), F(1, 3), F(-1, 12)] + [0] * 4,
       [F(-1, 16), F(9, 8), F(-3, 16), F(-3, 8)] + [0] * 3, [0, F(9, 8), F(-3, 8), F(-3, 4), F(1, 2)] + [0] * 2,
       [F(9, 44), F(-9, 11), F(63, 44), F(18, 11), 0, F(-16, 11), 0]],
    b=[F(11, 120), 0, F(27, 40), F(27, 40), F(-4, 15), F(-4, 15), F(11, 120)], name="butcher6")


def test_order_five_and_six_methods():
    dopri = analyze(DOPRI5)
    assert dopri.order == 5 and dopri.conditions[5] == (6, 9, 20)
    # Dormand & Prince (1980) quote A^(6) ≈ 3.99e-4 for the fifth-order weights
    assert float(dopri.principal_error_norm) == pytest.approx(3.99e-4, rel=2e-3)
    assert analyze(BUTCHER6).order == 6
    assert len(analyze(BUTCHER6).principal_error_coefficients) == 48  # the trees of order 7


@pytest.mark.parametrize("name", ["euler", "kutta3", "rk4"])
def test_linear_modified_equation_matches_sympy_series_of_log_R(name):
    report = analyze(name)
    z = sympy.Symbol("z")
    R_z = sum(c * z ** q for q, c in enumerate(report.stability_polynomial))
    n = report.order + 1  # the report keeps h^0 … h^p
    log_series = sympy.series(sympy.log(R_z), z, 0, n + 1).removeO()
    assert report.linear_modified_equation.remainder == n
    for q in range(n):
        factor = "lambda" + (f"^{q + 1}" if q else "") + "*u"
        expected = log_series.coeff(z, q + 1)
        assert report.linear_modified_equation.coefficient("rhs", q, factor) == expected
