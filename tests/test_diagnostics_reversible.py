"""Reversible schemes: order, step bound, numerical frequency and the BCH modified field (known values),
checked against the schemes' own step functions."""
from __future__ import annotations

import math
from fractions import Fraction

import pytest
import sympy

from nas import schemes
from nas.diagnostics import analyze, lie
from nas.diagnostics.values import MU, ZETA

R = sympy.Rational


@pytest.mark.parametrize("name", ["hamiltonian", "leapfrog2"])
def test_order_step_bound_and_characteristic_polynomial(name):
    report = analyze(name)
    assert report.order == 2 == schemes.info(name).order
    assert report.step_bound == 2  # h ω < 2, i.e. h < 2/√ρ(KᵀDK)
    assert report.periodicity_interval == (0.0, 4.0)
    assert report.volume_preserving is True
    assert sympy.expand(report.characteristic_polynomial - (ZETA ** 2 + (MU - 2) * ZETA + 1)) == 0
    assert "h < 2/sqrt(rho(" in report.stability_condition


def test_leapfrog2_error_constant_and_modified_equation():
    report = analyze("leapfrog2")
    assert report.error_constant == R(1, 12)
    # x_{n+1} − 2x_n + x_{n−1} = h² x'' + h⁴/12 x'''' + …
    assert report.modified_equation.coefficient("lhs", 0, "x''") == 1
    assert report.modified_equation.coefficient("lhs", 2, "x^(4)") == R(1, 12)


def test_numerical_frequency_series():
    # (arccos(1 − μ/2))² = μ (1 + μ/12 + μ²/90 + …)
    linear = analyze("leapfrog2").linear_modified_equation
    assert [t.coefficient for t in linear.rhs] == [-1, R(-1, 12), R(-1, 90)]


def test_bch_known_values():
    # log(e^X e^Y) = X + Y + [X,Y]/2 + [X,[X,Y]]/12 − [Y,[X,Y]]/12 + …
    plain = {(text, c) for d, text, c in lie.lie_terms((("X", Fraction(1)), ("Y", Fraction(1))), 3)}
    assert plain == {("X", 1), ("Y", 1), ("[X,Y]", R(1, 2)), ("[X,[X,Y]]", R(1, 12)), ("[Y,[X,Y]]", R(-1, 12))}
    # Strang: log(e^{X/2} e^Y e^{X/2}) = X + Y − [X,[X,Y]]/24 − [Y,[X,Y]]/12 + O(5)
    strang = {(d, text, c) for d, text, c in lie.lie_terms((("X", Fraction(1, 2)), ("Y", Fraction(1)),
                                                             ("X", Fraction(1, 2))), 4)}
    assert strang == {(1, "X", 1), (1, "Y", 1), (3, "[X,[X,Y]]", R(-1, 24)), (3, "[Y,[X,Y]]", R(-1, 12))}


def _leapfrog2_orbit(h_omega: float, steps: int):
    scheme = schemes.get("leapfrog2")
    force = lambda x: -x  # noqa: E731  (ω = 1, h = h_omega)
    xs = [1.0, scheme.start(force, 1.0, h_omega)]
    for _ in range(steps):
        xs.append(scheme.step(force, xs[-2], xs[-1], h_omega))
    return xs


def _hamiltonian_orbit(h_omega: float, steps: int):
    scheme = schemes.get("hamiltonian")
    y, z, out = 1.0, 0.0, []
    for _ in range(steps):
        y, z = scheme.step(lambda v: v, lambda v: -v, y, z, h_omega)
        out.append(y)
    return out


@pytest.mark.parametrize("orbit", [_leapfrog2_orbit, _hamiltonian_orbit])
def test_step_bound_matches_the_recurrence(orbit):
    bound = float(analyze("leapfrog2").step_bound)
    assert max(abs(x) for x in orbit(0.95 * bound, 5000)) < 50  # neutral: bounded oscillation
    assert max(abs(x) for x in orbit(1.05 * bound, 200)) > 1e6   # beyond the bound: exponential growth


def test_numerical_frequency_matches_the_orbit():
    # measured: x_n = cos(n θ) with θ² = μ(1 + μ/12 + μ²/90 + O(μ³)), μ = (hω)²
    h_omega, steps = 0.3, 400
    xs = _leapfrog2_orbit(h_omega, steps)
    mu = h_omega ** 2
    coefficients = [-float(t.coefficient) for t in analyze("leapfrog2").linear_modified_equation.rhs]
    theta = math.sqrt(mu * sum(c * mu ** q for q, c in enumerate(coefficients)))
    assert max(abs(x - math.cos(n * theta)) for n, x in enumerate(xs)) < 2e-4  # next term: μ⁴/560
    assert max(abs(x - math.cos(n * h_omega)) for n, x in enumerate(xs)) > 1e-2  # the shift is real


def test_leapfrog_midpoint_network_needs_an_imaginary_spectrum():
    assert any("antisymmetric" in note for note in analyze("leapfrog").notes)
