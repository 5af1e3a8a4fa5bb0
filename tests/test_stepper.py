"""nas.integrate is a correct fixed-step solver: measured convergence orders match declared orders."""
import math

import numpy as np
import pytest
import torch

from nas import schemes
from nas.solver import integrate

LAMBDA = -1.3
T = 1.0


def _first_order_ode_scheme(name):
    # Reversible families integrate other ODE forms (second-order, partitioned); they test themselves.
    return getattr(schemes.get(name) if name != "lm_resnet" else schemes.get(name, k=0), "ode_form",
                   "first_order") == "first_order"


def measured_order(scheme, startup="runge_kutta", lam=LAMBDA, exact=None, steps=(40, 80, 160, 320)):
    """Least-squares slope of log(error) against log(h) on u' = λu, u(0) = 1 (float64)."""
    exact = math.exp(lam * T) if exact is None else exact
    errors = []
    for n in steps:
        x = integrate(lambda u: lam * u, torch.tensor(1.0, dtype=torch.float64), scheme, T / n, n, startup=startup)
        errors.append(abs(x.item() - exact))
    hs = [T / n for n in steps]
    return np.polyfit(np.log(hs), np.log(errors), 1)[0]


DECLARED = [n for n in schemes.names() if schemes.info(n).order is not None and _first_order_ode_scheme(n)]


@pytest.mark.parametrize("name", DECLARED)
def test_measured_convergence_order_equals_declared_order(name):
    assert abs(measured_order(schemes.get(name)) - schemes.info(name).order) <= 0.2


def test_lm_resnet_with_k_zero_is_first_order():
    assert abs(measured_order(schemes.get("lm_resnet", k=0)) - 1) <= 0.2


@pytest.mark.parametrize("k", [0.3, -0.5])
def test_lm_resnet_with_k_nonzero_converges_to_the_solution_of_one_plus_k_u_dot_equals_f(k):
    # (1+k) u' = λu  ⇒  u(T) = exp(λT/(1+k)); the error against it falls like h.
    exact = math.exp(LAMBDA * T / (1 + k))
    order = measured_order(schemes.get("lm_resnet", k=k), exact=exact)
    assert abs(order - 1) <= 0.2
    x = integrate(lambda u: LAMBDA * u, torch.tensor(1.0, dtype=torch.float64), schemes.get("lm_resnet", k=k), T / 640, 640)
    assert abs(x.item() - exact) < 1e-2 < abs(x.item() - math.exp(LAMBDA * T))


def test_euler_start_up_lowers_the_order_of_a_third_order_method():
    assert abs(measured_order(schemes.get("ab3"), startup="euler") - 2) <= 0.2
    assert abs(measured_order(schemes.get("ab3"), startup="runge_kutta") - 3) <= 0.2


def test_known_values_of_single_steps():
    # One RK4 step on u' = u from 1 gives the Taylor polynomial of e^h to degree 4, exactly.
    h = 0.5
    x = integrate(lambda u: u, 1.0, "rk4", h, 1)
    assert x == pytest.approx(1 + h + h**2 / 2 + h**3 / 6 + h**4 / 24, rel=0, abs=1e-15)
    # AB2 after one RK4 start-up step: x2 = x1 + h(3/2 f(x1) − 1/2 f(x0)).
    x1 = 1 + h + h**2 / 2 + h**3 / 6 + h**4 / 24
    assert integrate(lambda u: u, 1.0, "ab2", h, 2) == pytest.approx(x1 + h * (1.5 * x1 - 0.5), abs=1e-15)


def test_a_sequence_of_functions_is_one_function_per_step():
    # f_n(x) = n: Euler sums h·n over n = 0..3.
    fns = [lambda x, n=n: torch.full_like(x, float(n)) for n in range(4)]
    assert integrate(fns, torch.zeros(2), "euler", 0.5, 4).tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="got 4 callables for 3 steps"):
        integrate(fns, torch.zeros(2), "euler", 0.5, 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="h: must be positive"):
        integrate(lambda x: x, 1.0, "euler", 0.0, 3)
    with pytest.raises(ValueError, match="startup: must be one of"):
        integrate(lambda x: x, 1.0, "ab2", 0.1, 3, startup="midpoint")
    with pytest.raises(ValueError, match="unknown scheme"):
        integrate(lambda x: x, 1.0, "rk7", 0.1, 3)
    with pytest.raises(ValueError, match="learned k"):
        integrate(lambda x: x, 1.0, "lm_resnet", 0.1, 3)
