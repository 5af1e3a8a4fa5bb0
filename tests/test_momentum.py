"""Momentum ResNets (Sander, Ablin, Blondel, Peyré, ICML 2021): the scheme, its maths (known values, exact and
symbolic, and measured convergence), its networks, and its exact memory-efficient mode.

The family also runs every test that enumerates the registry (schemes, diagnostics, networks, stepper,
tests/test_families.py): this module tests what is particular to it.
"""
from __future__ import annotations

import cmath
import json
import math
from fractions import Fraction as Fr
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy
import torch
from memory_checks import gradient_differences, saved_bytes
from torch.nn import functional as F

from nas import integrate, schemes
from nas.cli import main
from nas.diagnostics import analyze
from nas.families import momentum as family
from nas.families.momentum import Momentum, divide, momentum_step, multiply
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.networks.reference import ReferenceResNet, copy_weights
from nas.search import load_space

pytestmark = pytest.mark.usefixtures("one_thread")  # module-scoped, in conftest.py
ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------- value

def test_registry_lists_momentum_and_builds_it_like_lm_resnet():
    assert "momentum" in schemes.names() and "momentum" in schemes.families()
    assert schemes.get("momentum") == Momentum(gamma=Fr(1, 2), learn="fixed")
    assert schemes.get("momentum", gamma=0.5) == Momentum(gamma=0.5)
    assert schemes.get("momentum", gamma=0.9, learn="layer").learned
    scheme = schemes.get("momentum", gamma=Fr(9, 10))
    assert json.loads(json.dumps(scheme.to_dict())) == {"family": "momentum", "name": "momentum",
                                                        "gamma": "9/10", "learn": "fixed"}
    assert schemes.from_dict(scheme.to_dict()) == scheme


@pytest.mark.parametrize("kwargs, message", [
    (dict(gamma=1), r"gamma: must be in \[0, 1\)"),
    (dict(gamma=-0.1), r"gamma: must be in \[0, 1\)"),
    (dict(gamma="x"), r"gamma: cannot read 'x'"),
    (dict(learn="channel"), r"learn: must be one of fixed, layer"),
])
def test_bad_values_are_value_errors_naming_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Momentum(**kwargs)


# ------------------------------------------------------------------------------ maths: known values

def test_one_and_two_steps_by_hand_in_exact_arithmetic():
    # f(x) = 2x, γ = 1/3, h = 1/2, x_0 = 3: v_1 = (2/3)(1/2)·6 = 2, x_1 = 5; v_2 = 2/3 + (1/3)·10 = 4, x_2 = 9
    g, h = Fr(1, 3), Fr(1, 2)
    x1, v1 = momentum_step(Fr(3), None, (1 - g) * h * 6, g)
    assert (x1, v1) == (5, 2)
    x2, v2 = momentum_step(x1, v1, (1 - g) * h * 2 * x1, g)
    assert (x2, v2) == (9, 4)
    # the inverse of the paper, exactly: x_1 = x_2 − v_2, v_1 = (v_2 − (1 − γ) h f(x_1)) / γ
    assert x2 - v2 == x1 and (v2 - (1 - g) * h * 2 * x1) / g == v1


def test_two_step_form_derived_symbolically():
    # v_n = x_n − x_{n−1} turns the step into x_{n+1} − (1+γ) x_n + γ x_{n−1} = (1 − γ) h f(x_n)
    g, h, x0, f0, f1 = sympy.symbols("gamma h x0 f0 f1")
    x1, v1 = momentum_step(x0, None, (1 - g) * h * f0, g)
    x2, _ = momentum_step(x1, v1, (1 - g) * h * f1, g)
    assert sympy.expand(x2 - (1 + g) * x1 + g * x0 - (1 - g) * h * f1) == 0
    method = Momentum(gamma=Fr(2, 7)).multistep()
    assert method.alpha == (Fr(2, 7), Fr(-9, 7), 1) and method.beta == (0, Fr(5, 7), 0)


def test_order_error_constant_and_modified_equation_derived_symbolically():
    g = sympy.Symbol("gamma")
    alpha, beta = [g, -(1 + g), 1], [0, 1 - g, 0]
    C = [sum(a for a in alpha),
         sum(j * a for j, a in enumerate(alpha)) - sum(beta),
         sum(j**2 * a for j, a in enumerate(alpha)) / 2 - sum(j * b for j, b in enumerate(beta))]
    assert [sympy.simplify(c) for c in C] == [0, 0, (1 + g) / 2]  # consistent, order 1
    # modified equation about t_n (r = 1): c_q = Σ α_j (j−1)^q / q!, d_0 = σ(1) = 1 − γ
    c1 = sum(a * (j - 1) for j, a in enumerate(alpha))
    c2 = sum(a * (j - 1) ** 2 for j, a in enumerate(alpha)) / 2
    assert sympy.simplify(c1 / (1 - g)) == 1
    assert sympy.simplify(c2 / (1 - g) - (1 + g) / (2 * (1 - g))) == 0
    # second-order limit: u = v/h, u_{n+1} = γ u_n + (1 − γ) f  ⇔  ε (u_{n+1} − u_n)/h + u_{n+1} = f, ε = γh/(1−γ)
    h, u0, f = sympy.symbols("h u0 f", positive=True)
    u1 = g * u0 + (1 - g) * f
    eps = g * h / (1 - g)
    assert sympy.simplify(eps * (u1 - u0) / h + u1 - f) == 0


@pytest.mark.parametrize("gamma", [Fr(0), Fr(1, 2), Fr(9, 10), Fr(1, 3)])
def test_diagnostics_report_the_exact_values(gamma):
    report = analyze(schemes.get("momentum", gamma=gamma))
    assert report.arithmetic == "exact" and report.order == 1 and report.consistent is True
    assert report.zero_stable is True and report.time_scale == 1
    assert report.rho == (gamma, -(1 + gamma), 1) and report.sigma == (0, 1 - gamma, 0)
    coefficient = (1 + gamma) / (2 * (1 - gamma))
    assert report.normalized_error_constant == coefficient
    equation = report.modified_equation
    assert equation.coefficient("lhs", 0, "u'") == 1 and equation.coefficient("rhs", 0, "f(u)") == 1
    assert equation.coefficient("lhs", 1, "u''") == coefficient and equation.remainder == 2
    # the boundary of the real stability interval is ζ = −1: z = −2(1 + γ)/(1 − γ)
    assert report.real_stability_interval[0] == pytest.approx(float(-2 * (1 + gamma) / (1 - gamma)), abs=1e-6)
    assert any(note.startswith("second-order limit: eps x'' + x' = f(x), eps = gamma h/(1 - gamma) = "
                               f"{gamma / (1 - gamma)}*h") for note in report.notes)
    assert Momentum(gamma=gamma).epsilon == gamma / (1 - gamma)


def test_nas_diagnose_prints_the_second_order_limit_and_the_modified_equation(capsys):
    assert main(["diagnose", "momentum", "--gamma", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "modified_equation: u' + 3/2*h*u'' = f(u) + O(h^2)" in out
    assert "second-order limit: eps x'' + x' = f(x), eps = gamma h/(1 - gamma) = 1*h" in out
    assert main(["diagnose", "rk4", "--gamma", "0.5"]) == 2
    assert "--gamma: only applies to momentum" in capsys.readouterr().err


# --------------------------------------------------------------------------- maths: measured behaviour

def _slope(errors, steps):
    return float(np.polyfit(np.log([1.0 / n for n in steps]), np.log(errors), 1)[0])


@pytest.mark.parametrize("gamma, steps", [(0.5, (40, 80, 160, 320)), (0.9, (640, 1280, 2560, 5120))])
def test_first_order_convergence_to_u_dot_equals_f_at_fixed_gamma(gamma, steps):
    # u' = −u, u(0) = 1 on [0, 1]; at γ = 0.9 the asymptotic regime needs h ≪ (1 − γ)/γ
    errors = []
    for n in steps:
        x = integrate(lambda u: -u, torch.tensor(1.0, dtype=torch.float64), schemes.get("momentum", gamma=gamma),
                      1.0 / n, n)
        errors.append(abs(x.item() - math.exp(-1.0)))
    assert _slope(errors, steps) == pytest.approx(1.0, abs=0.1)


def _second_order_solution(eps, lam, t, x0, v0):
    """x(t) of ε x'' + x' = λ x, x(0) = x0, x'(0) = v0 (roots of ε r² + r − λ = 0)."""
    d = cmath.sqrt(1 + 4 * eps * lam)
    r1, r2 = (-1 + d) / (2 * eps), (-1 - d) / (2 * eps)
    b = (v0 - r1 * x0) / (r2 - r1)
    return ((x0 - b) * cmath.exp(r1 * t) + b * cmath.exp(r2 * t)).real


@pytest.mark.parametrize("eps, v0", [(0.5, 0.0), (0.1, 0.0), (0.5, 1.0)])
def test_convergence_to_the_second_order_limit_with_gamma_eps_over_eps_plus_h(eps, v0):
    # ε x'' + x' = −x on [0, 1]; ε = 0.5 oscillates (complex roots), unlike any solution of x' = −x
    steps = (32, 64, 128, 256)
    exact = _second_order_solution(eps, -1.0, 1.0, 1.0, v0)
    errors = []
    for n in steps:
        h = 1.0 / n
        start = torch.tensor(1.0, dtype=torch.float64)
        x0 = start if v0 == 0 else (start, torch.tensor(v0, dtype=torch.float64))
        x = integrate(lambda u: -u, x0, schemes.get("momentum", gamma=eps / (eps + h)), h, n)
        errors.append(abs(x.item() - exact))
    assert _slope(errors, steps) == pytest.approx(1.0, abs=0.1)
    assert errors[-1] < 2e-3 < abs(exact - math.exp(-1.0))  # it is the second-order equation it solves


def test_integrate_with_gamma_zero_is_euler_exactly():
    x0 = torch.randn(7, dtype=torch.float64)
    fns = [lambda u, n=n: torch.sin(u + n) - 0.3 * u for n in range(12)]
    for h in (1.0, 0.1):
        assert torch.equal(integrate(fns, x0, schemes.get("momentum", gamma=0), h, 12),
                           integrate(fns, x0, "euler", h, 12))


# ------------------------------------------------------------------------------------------- networks

INPUTS = {"sequence": lambda: torch.randn(8, 1, 40), "image": lambda: torch.randn(4, 3, 16, 16),
          "mlp": lambda: torch.randn(8, 2)}


@pytest.mark.parametrize("macro", list(INPUTS))
def test_network_with_gamma_zero_equals_the_resnet_exactly(macro):
    torch.manual_seed(0)
    x = INPUTS[macro]()
    net = build_network(NetworkSpec(scheme=schemes.get("momentum", gamma=0), macro=macro, in_channels=x.shape[1],
                                    widths=(8, 16), steps_per_stage=3))
    ref = ReferenceResNet(macro, x.shape[1], 10, (8, 16), 3)
    copy_weights(ref, net)
    for mode in (True, False):
        net.train(mode), ref.train(mode)
        assert torch.equal(net(x), ref(x))


def test_network_step_computes_the_momentum_formula_and_reports_its_coefficients():
    torch.manual_seed(1)
    net = build_network(NetworkSpec(scheme=schemes.get("momentum", gamma=0.25), widths=(8,), steps_per_stage=3,
                                    h=0.5)).eval()
    stage, (f0, f1, f2) = net.stages[0], net.stages[0].residuals
    x0 = torch.randn(4, 8, 40)
    v1 = 0.375 * f0(x0)
    x1 = x0 + v1
    v2 = 0.25 * v1 + 0.375 * f1(x1)
    x2 = x1 + v2
    x3 = x2 + 0.25 * v2 + 0.375 * f2(x2)
    assert torch.allclose(stage(x0), x3, atol=1e-6)
    rows = net.coefficients()
    assert rows[0]["startup"] and rows[0]["beta"] == [0.75, 0.0]
    assert rows[2] == {"step": 2, "startup": False, "h": 0.5, "gamma": 0.25, "alpha": [0.25, -1.25, 1.0],
                       "beta": [0.0, 0.75, 0.0], "stage": 0}


def test_learned_gamma_is_one_parameter_per_step_and_receives_gradients():
    net = build_network(NetworkSpec(scheme=schemes.get("momentum", gamma=0.9, learn="layer"), widths=(4, 8),
                                    steps_per_stage=3))
    gammas = [(name, p) for name, p in net.named_parameters() if "learned_gamma" in name]
    assert [name for name, _ in gammas] == [f"stages.{s}.learned_gamma.{n}" for s in range(2) for n in range(3)]
    assert all(p.item() == pytest.approx(0.9) for _, p in gammas)
    F.cross_entropy(net(torch.randn(6, 1, 12)), torch.randint(0, 10, (6,))).backward()
    assert all(p.grad is not None and p.grad.item() != 0 for _, p in gammas)
    assert net.coefficients()[1]["gamma"] == pytest.approx(0.9)


# ------------------------------------------------------------------------- exact memory-efficient mode

@pytest.mark.parametrize("gamma", [Fr(1, 2), Fr(9, 10), Fr(1, 7), Fr(3, 2)])
def test_exact_multiplication_by_gamma_inverts_bit_for_bit(gamma):
    torch.manual_seed(2)
    n = round(float(gamma) * 2**30)
    V = torch.cat([torch.randint(-2**40, 2**40, (1000,)), torch.tensor([0, 1, -1, 7, 2**61, -2**61])])
    B = torch.randint(0, 2**20, V.shape)
    W, B2 = multiply(V.clone(), B.clone(), n)  # in place
    assert torch.equal(torch.stack(divide(W, B2, n)), torch.stack((V, B)))
    # ⌊V n / 2^30⌋, written with Python's exact integers
    assert W.tolist() == [v * n >> 30 for v in V.tolist()]


def test_exact_multiplication_known_values():
    # γ = 1/2: 7 → 3, the lost bit 1 pushed: B ← 2B + 1; and back
    W, B = multiply(torch.tensor([7]), torch.tensor([5]), 2**29)
    assert (W.item(), B.item()) == (3, 11)
    assert [t.item() for t in divide(W, B, 2**29)] == [7, 5]


def _stage(gamma, steps, dtype, h=1.0, learn="fixed", width=16):
    torch.manual_seed(0)
    spec = NetworkSpec(scheme=schemes.get("momentum", gamma=gamma, learn=learn), widths=(width,),
                       steps_per_stage=steps, h=h)
    return build_network(spec).to(dtype).stages[0]


def _float_inversion(stage, x):
    """The paper's inverse in floating point: x_n = x_{n+1} − v_{n+1}, v_n = (v_{n+1} − (1−γ) h f(x_n)) / γ."""
    g, h = stage.state.gamma, stage.h
    with torch.no_grad():
        v = torch.zeros_like(x)
        for f in stage.residuals:
            v = g * v + (1 - g) * h * f(x)
            x = x + v
        for f in reversed(stage.residuals):
            x = x - v
            v = (v - (1 - g) * h * f(x)) / g
    return x


@pytest.mark.parametrize("gamma", [0.9, 0.5])
def test_float32_inversion_over_100_steps_is_exact_where_plain_float_drifts(gamma):
    stage = _stage(gamma, 100, torch.float32)
    torch.manual_seed(1)
    x = torch.randn(8, 16, 32)
    with torch.no_grad():
        states = stage.forward_states(x)  # train mode: batch statistics, recomputed exactly in the inverse
    recovered = stage.reconstruct_input(states)
    bits = family._fraction_bits(torch.float32)
    assert torch.equal(family._to_fixed(recovered, bits)[0], family._to_fixed(x, bits)[0])  # every bit of the state
    assert (recovered - x).abs().max().item() <= 2.0 ** -(bits + 1)  # only the input's rounding onto the grid
    drift = ((_float_inversion(stage.eval(), x) - x).abs().max() / x.abs().max()).item()
    assert drift > (1e-5 if gamma == 0.9 else 1.0)  # measured 6.7e-3 and 3e22 (docs/reversible.md)


def _twins(gamma, learn="fixed", steps=6):
    spec = NetworkSpec(scheme=schemes.get("momentum", gamma=gamma, learn=learn), widths=(4, 8),
                       steps_per_stage=steps, h=1.0)
    torch.manual_seed(3)
    plain = build_network(spec).double()
    efficient = build_network(spec.replace(memory_efficient=True)).double()
    efficient.load_state_dict(plain.state_dict())
    return plain, efficient


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("gamma, learn", [(0.5, "fixed"), (0.9, "fixed"), (0.9, "layer"), (0.3, "layer")])
def test_memory_efficient_gradients_equal_plain_autograd_in_float64(gamma, learn, train):
    plain, efficient = _twins(gamma, learn)
    plain.train(train), efficient.train(train)
    torch.manual_seed(5)
    x = torch.randn(6, 1, 12, dtype=torch.float64)
    assert max(gradient_differences(plain, efficient, x, torch.randint(0, 10, (6,)))) <= 1e-6
    for (key, a), b in zip(plain.state_dict().items(), efficient.state_dict().values()):
        assert torch.allclose(a, b, rtol=0, atol=1e-9), key  # batch statistics counted once, as in plain mode


def test_memory_efficient_stage_passes_gradcheck():
    torch.manual_seed(1)
    spec = NetworkSpec(scheme=schemes.get("momentum", gamma=0.7), widths=(4,), steps_per_stage=3,
                       memory_efficient=True)
    stage = build_network(spec).double().stages[0]
    x = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(stage, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_saved_activations_are_flat_in_depth_up_to_the_information_the_contraction_destroys():
    x = torch.randn(4, 1, 12)
    saved = {}
    for gamma in (0.9, 0.5):
        for steps in (4, 16, 128):
            spec = NetworkSpec(scheme=schemes.get("momentum", gamma=gamma), widths=(8,), steps_per_stage=steps,
                               memory_efficient=True)
            saved[gamma, steps] = saved_bytes(build_network(spec), x)
    plain = saved_bytes(build_network(spec.replace(memory_efficient=False, steps_per_stage=16)), x)
    buffer = 8 * 4 * 8 * 12  # one int64 state of the stage
    assert saved[0.9, 4] == saved[0.9, 16] == saved[0.9, 128] < plain / 5
    # γ = 1/2 loses one bit per element and step: a new 63-bit buffer (and its step index) every ~62 steps
    assert saved[0.5, 4] == saved[0.5, 16] == saved[0.9, 4]
    assert saved[0.5, 128] - saved[0.5, 16] in (buffer + 8, 2 * (buffer + 8))


def test_gamma_zero_refuses_the_memory_efficient_mode():
    with pytest.raises(ValueError, match="gamma = 0 forgets the velocity"):
        build_network(NetworkSpec(scheme=schemes.get("momentum", gamma=0), widths=(4,), memory_efficient=True))


def test_a_diverging_memory_efficient_stage_gives_a_non_finite_output():
    stage = _stage(0.5, 3, torch.float64, width=4)
    with torch.no_grad():
        states = stage.forward_states(torch.full((2, 4, 5), 1e300, dtype=torch.float64))
    assert len(states) == 1 and torch.isnan(states[0]).all()


# ------------------------------------------------------------------------------------------ search

def test_a_search_block_samples_gamma_and_learn_and_shipped_spaces_have_one():
    space = load_space({"scheme": {"family": "momentum", "gamma": {"low": 0.1, "high": 0.9},
                                   "learn": ["fixed", "layer"]}, "network": {"widths": [4, 8]}})
    (block,) = space.schemes
    scheme = block.build({"momentum.gamma": 0.25, "momentum.learn": "layer"})
    assert scheme == Momentum(gamma=0.25, learn="layer")
    with pytest.raises(ValueError, match=r"scheme.gamma: must be below 1"):
        load_space({"scheme": {"family": "momentum", "gamma": [0.5, 1.0]}})
    shipped = load_space(ROOT / "search_spaces" / "reversible.yaml")
    assert any(block.family == "momentum" for block in shipped.schemes)


def test_search_end_to_end_writes_coef_gamma(ray_session, tmp_path):
    from nas.search import run

    space = {"name": "momentum", "data": {"name": "mnist1d", "num_samples": 200, "seed": 0},
             "train": {"epochs": 1, "batch_size": 64},
             "search": {"trials": 2, "scheduler": "none", "seed": 0},
             "network": {"widths": [4, 8], "steps_per_stage": 2},
             "scheme": {"family": "momentum", "gamma": {"low": 0.1, "high": 0.9}, "learn": ["fixed", "layer"]}}
    run(space, results_dir=tmp_path, progress=False)
    frame = pd.read_csv(tmp_path / "momentum" / "trials.csv")
    assert len(frame) == 2 and set(frame["family"]) == {"momentum"}
    assert set(frame["status"]) == {"completed"}
    assert frame["coef_gamma"].between(0.1, 0.9).all()
    assert (frame["order"] == 1).all() and frame["zero_stable"].all()
    assert "| `coef_gamma` |" in (ROOT / "results" / "README.md").read_text()  # the column is documented
