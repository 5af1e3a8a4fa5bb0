"""The diagnosed order is the order the stepper really converges with (one test over the registry).

u' = λu, λ = −1, in float64 torch tensors, integrated to T = 1 with h = 1/N by ``nas.integrate``; the
slope of log(error) against log(h) is the measured order. LM-ResNet with k ≠ 0 is inconsistent with
u' = f (diagnosed order 0); it converges to the solution of (1 + k) u' = f, at its ``effective_order``.
The reversible schemes integrate their own ODE forms (the harmonic oscillator as y' = z, z' = −y, or
x'' = −x).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from nas import schemes
from nas.diagnostics import analyze
from nas import integrate  # the public API (nas.solver.integrate)

LAMBDA = -1.0
STEPS = [16, 32, 64, 128]


def _measured_order(scheme, exact: float) -> float:
    x0 = torch.ones(3, dtype=torch.float64)
    errors = []
    for n in STEPS:
        x = integrate(lambda u: LAMBDA * u, x0, scheme, 1.0 / n, n)
        errors.append(float((x - exact).abs().max()))
    return float(np.polyfit(np.log([1.0 / n for n in STEPS]), np.log(errors), 1)[0])


@pytest.mark.parametrize("name", schemes.names())
def test_diagnosed_order_equals_measured_convergence_order(name):
    scheme = schemes.get(name)
    if isinstance(scheme, schemes.LMResNet):
        k = Fraction(3, 10)
        fixed = schemes.get(name, k=k)
        report = analyze(fixed)
        assert report.order == 0  # inconsistent with u' = f
        assert report.time_scale == 1 + k
        measured = _measured_order(fixed, math.exp(LAMBDA / float(report.time_scale)))
        assert measured == pytest.approx(report.effective_order, abs=0.2)
        # k = 0 is forward Euler written as a two-step method: consistent, order 1
        plain = schemes.get(name, k=0)
        assert analyze(plain).order == 1
        assert _measured_order(plain, math.exp(LAMBDA)) == pytest.approx(1, abs=0.2)
        return
    report = analyze(scheme)
    if getattr(scheme, "ode_form", "first_order") in ("partitioned", "second_order"):
        measured = _measured_reversible_order(scheme)  # reversible schemes integrate their own ODE form
    else:
        measured = _measured_order(scheme, math.exp(LAMBDA))
    assert measured == pytest.approx(report.order, abs=0.2)


def _measured_reversible_order(scheme) -> float:
    """Harmonic oscillator ω = 1 to T = 1: hamiltonian as y' = z, z' = −y; leapfrog2 as x'' = −x."""
    from nas.schemes import SeparableField

    errors = []
    for n in STEPS:
        one, zero = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
        if scheme.ode_form == "partitioned":
            y, z = integrate(SeparableField(drift=lambda v: v, kick=lambda v: -v), (one, zero), scheme, 1.0 / n, n)
            error = max(float((y - math.cos(1.0)).abs().max()), float((z + math.sin(1.0)).abs().max()))
        else:
            x = integrate(lambda v: -v, (one, zero), scheme, 1.0 / n, n)
            error = float((x - math.cos(1.0)).abs().max())
        errors.append(error)
    return float(np.polyfit(np.log([1.0 / n for n in STEPS]), np.log(errors), 1)[0])
