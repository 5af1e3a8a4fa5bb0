"""Linear multistep and LM-ResNet diagnostics: order, error constants, root condition, stability,
modified equations (known values from Hairer, Nørsett, Wanner I §III; Lu et al. 2018), plus measured
behaviour of the recurrences themselves."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy

from nas import schemes
from nas.diagnostics import analyze
from nas.diagnostics.values import K
from nas.schemes import LinearMultistep, LMResNet

R = sympy.Rational


@pytest.mark.parametrize("name, order, constant", [("ab2", 2, R(5, 12)), ("ab3", 3, R(3, 8)),
                                                   ("leapfrog", 2, R(1, 3))])
def test_known_orders_and_error_constants(name, order, constant):
    report = analyze(name)
    assert report.arithmetic == "exact"
    assert report.order == order
    assert report.consistent is True and report.zero_stable is True
    assert report.error_constant == constant
    assert report.error_constants[:order + 1] == (0,) * (order + 1)


def test_leapfrog_normalised_error_constant_and_stability():
    report = analyze("leapfrog")
    assert report.normalized_error_constant == R(1, 6)  # C_3/σ(1), σ(1) = 2
    assert report.characteristic_roots == (-1, 1)
    assert report.real_stability_interval == (0.0, 0.0)
    assert report.imaginary_stability_interval == pytest.approx((-1.0, 1.0), abs=1e-6)


def test_adams_bashforth_stability_intervals():
    assert analyze("ab2").real_stability_interval == pytest.approx((-1.0, 0.0), abs=1e-9)
    assert analyze("ab3").real_stability_interval == pytest.approx((-6 / 11, 0.0), abs=1e-9)
    assert analyze("ab2").imaginary_stability_interval == (0.0, 0.0)


def _grows(alpha, beta, z, steps=4000):
    """Iterate the recurrence on u' = λu with hλ = z from (1, 1, …): does |x| blow up?"""
    k = len(alpha) - 1
    x = [1.0 + 0j] * k
    for _ in range(steps):
        x.append(sum(-alpha[j] * x[-k + j] + z * beta[j] * x[-k + j] for j in range(k)))
        x.pop(0)
        if abs(x[-1]) > 1e3:
            return True
    return False


@pytest.mark.parametrize("name, inside, outside", [
    ("ab2", [-0.9, -0.5], [-1.1, 0.3j]),
    ("leapfrog", [0.9j, 0.5j], [1.1j, -0.05]),
    ("ab3", [-0.5], [-0.6]),
])
def test_stability_intervals_match_the_recurrence(name, inside, outside):
    # measured: where the report says stable, the recurrence stays bounded; outside it grows
    report = analyze(name)
    alpha, beta = [float(a) for a in report.rho], [float(b) for b in report.sigma]
    lo, hi = report.real_stability_interval
    ilo, ihi = report.imaginary_stability_interval
    for z in inside:
        assert (lo < z.real < hi) if z.imag == 0 else (ilo < z.imag < ihi)
        assert not _grows(alpha, beta, z)
    for z in outside:
        assert _grows(alpha, beta, z)


def test_lm_resnet_modified_equation_with_symbolic_k():
    report = analyze("lm_resnet")
    assert report.arithmetic == "symbolic"
    equation = report.modified_equation
    # (1 + k) u̇ + (1 − k)(h/2) ü + O(h²) = f(u)
    assert sympy.simplify(equation.coefficient("lhs", 0, "u'") - (1 + K)) == 0
    assert sympy.simplify(equation.coefficient("lhs", 1, "u''") - (1 - K) / 2) == 0
    assert equation.coefficient("rhs", 0, "f(u)") == 1
    assert [t.factor for t in equation.lhs] == ["u'", "u''"] and len(equation.rhs) == 1
    assert equation.remainder == 2
    assert equation.text() == "(k + 1)*u' + (1 - k)/2*h*u'' = f(u) + O(h^2)"


def test_lm_resnet_symbolic_conditions():
    report = analyze("lm_resnet")
    assert report.order == 0
    assert report.consistent == sympy.Eq(K, 0)
    assert report.order_when == ((1, sympy.Eq(K, 0)),)
    assert sympy.simplify(report.time_scale - (1 + K)) == 0
    assert report.effective_order == 1
    condition = report.zero_stable
    truth = {k: bool(condition.subs(K, k)) for k in (-2, -1, R(-99, 100), 0, R(1, 2), 1, R(101, 100))}
    assert truth == {-2: False, -1: False, R(-99, 100): True, 0: True, R(1, 2): True, 1: True,
                     R(101, 100): False}


@pytest.mark.parametrize("k", [Fraction(-1), Fraction(-1, 2), Fraction(0), Fraction(3, 10), Fraction(1),
                               Fraction(3, 2), -0.999, 0.25, 1.0, 1.001])
def test_numeric_k_agrees_with_the_symbolic_conditions(k):
    symbolic = analyze("lm_resnet")
    report = analyze(LMResNet(k=k, learn="fixed"))
    assert report.zero_stable == bool(symbolic.zero_stable.subs(K, sympy.nsimplify(k)))
    assert report.consistent == (k == 0)
    assert report.order == (1 if k == 0 else 0)
    if k != -1:  # k = −1: ρ'(1) = 0, no time scale
        assert float(report.time_scale) == pytest.approx(1 + float(k))


def test_inconsistent_and_unstable_schemes_are_analysed():
    # ρ = (ζ − 1)²: ρ'(1) = 0 ≠ σ(1): inconsistent; double root on the unit circle: not zero-stable
    report = analyze(LinearMultistep(alpha=[1, -2, 1], beta=[0, 1, 0]))
    assert report.order == 0 and report.consistent is False and report.zero_stable is False
    assert report.real_stability_interval == (0.0, 0.0)
    # ρ(1) ≠ 0: not even constants are preserved; root 2 outside the unit disc
    report = analyze(LinearMultistep(alpha=[0, -2, 1], beta=[0, 1, 0]))
    assert report.order == 0 and report.consistent is False and report.zero_stable is False
    assert report.error_constant is None and report.linear_modified_equation is None
    # float coefficients, zero-stable but inconsistent
    report = analyze(LinearMultistep(alpha=[0.5, -1.5, 1.0], beta=[0.0, 1.0, 0.0]))
    assert report.arithmetic == "float" and report.order == 0 and report.zero_stable is True
    assert report.time_scale == pytest.approx(0.5)


def test_float_multistep_matches_the_exact_one():
    exact = analyze("ab3")
    scheme = schemes.get("ab3")
    approx = analyze(LinearMultistep(alpha=[float(a) for a in scheme.alpha], beta=[float(b) for b in scheme.beta]))
    assert approx.arithmetic == "float" and approx.order == exact.order
    assert approx.error_constant == pytest.approx(float(exact.error_constant))
    assert approx.real_stability_interval == pytest.approx(exact.real_stability_interval)


@pytest.mark.parametrize("name", ["ab2", "ab3", "leapfrog"])
def test_principal_root_series_starts_with_the_error_constant(name):
    # ζ₁(z) = e^z − (C_{p+1}/σ(1)) z^{p+1} + …, so log ζ₁(z)/h = λ(1 − C_{p+1}/σ(1) (hλ)^p + …)
    report = analyze(name)
    p = report.order
    linear = report.linear_modified_equation
    assert linear.coefficient("rhs", 0, "lambda*u") == 1
    assert all(linear.coefficient("rhs", q, f"lambda^{q + 1}*u") == 0 for q in range(1, p))
    assert linear.coefficient("rhs", p, f"lambda^{p + 1}*u") == -report.normalized_error_constant


def test_lm_resnet_principal_root_follows_the_rescaled_equation():
    # consistent with (1 + k) u' = f: the leading coefficient of the linear modified equation is 1/(1 + k)
    linear = analyze("lm_resnet").linear_modified_equation
    assert sympy.simplify(linear.coefficient("rhs", 0, "lambda*u") - 1 / (1 + K)) == 0


def test_modified_equation_coefficients_are_taylor_sums_about_the_reference_step():
    # AB2 about r = 1: Σ α_j (j − 1)^q / q! = (0, 1, 1/2, 1/6); Σ β_j (j − 1)^m / m! = (1, 1/2, −1/4)
    equation = analyze("ab2").modified_equation
    assert [equation.coefficient("lhs", q - 1, f) for q, f in [(1, "u'"), (2, "u''"), (3, "u'''")]] \
        == [1, R(1, 2), R(1, 6)]
    assert [t.coefficient for t in equation.rhs] == [1, R(1, 2), R(-1, 4)]
