"""Learned scheme coefficients: order-preserving parametrisations (every family through one hook), networks
that train them with the weights, and the concrete scheme written back (docs/learned.md)."""
from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.data import load_dataset
from nas.diagnostics import analyze, plot_coefficient_trajectory
from nas.families import registry
from nas.families.multistep import LinearMultistep, MultistepParametrisation
from nas.families.runge_kutta import ButcherTableau, order_condition_rows
from nas.network_kinds import build_network
from nas.networks.learned import (coefficient_parameters, coefficient_trajectory, concrete_network, concrete_spec,
                                  concrete_state_dict, learned_schemes)
from nas.networks.spec import NetworkSpec
from nas.schemes import get
from nas.schemes.noise import NoiseSchedule
from nas.train import TrainConfig, fit, make_optimizer, seeded

pytestmark = pytest.mark.usefixtures("one_thread")
DRAWS = 100
F64 = torch.float64

# a zero-stable 3-step method of order 3 with complex roots: ρ(ζ) = (ζ − 1)(ζ² + 1/4), β from its order conditions
COMPLEX_START = MultistepParametrisation(3, 3, (0.0, math.pi / 2), pairs=1).scheme(torch.tensor([0.0, math.pi / 2],
                                                                                            dtype=torch.float64))

# (case id, starting scheme, order): every (family, s or k, p) the parametrisations support, started at a
# named scheme of that size and order (and multistep methods with a complex root pair)
CASES = [
    ("rk s=2 p=1", get("heun"), 1), ("rk s=2 p=2", get("ralston"), 2),
    ("rk s=3 p=1", get("kutta3"), 1), ("rk s=3 p=2", get("ssprk3"), 2), ("rk s=3 p=3 (Kutta)", get("kutta3"), 3),
    ("rk s=4 p=1", get("rk4"), 1), ("rk s=4 p=2", get("rk38"), 2), ("rk s=4 p=3", get("rk4"), 3),
    ("lmm k=2 p=1", get("ab2"), 1), ("lmm k=2 p=2", get("ab2"), 2),
    ("lmm k=3 p=1", get("ab3"), 1), ("lmm k=3 p=2", get("ab3"), 2), ("lmm k=3 p=3", get("ab3"), 3),
    ("lmm k=3 p=2 complex roots", COMPLEX_START, 2), ("lmm k=3 p=3 complex roots", COMPLEX_START, 3),
    ("lm_resnet", get("lm_resnet", k=0.3), 1), ("momentum", get("momentum", gamma=0.6), 1),
]
IDS = [case[0] for case in CASES]


def parametrisation(scheme, order):
    return registry.family_of(scheme).parametrisation(scheme, order)


def draws(p, seed=0):
    """DRAWS parameter vectors around the starting point: within ±0.15 of it, which keeps Kutta's family away
    from its singular set (c₂ ∈ {0, 2/3, c₃}, c₃ = 0) and the 2-stage family away from α = 0."""
    generator = torch.Generator().manual_seed(seed)
    start = p.free_parameters()
    return [start + 0.3 * (torch.rand(p.size, generator=generator, dtype=F64) - 0.5) for _ in range(DRAWS)]


def rk_residual(scheme: ButcherTableau, order: int) -> float:
    """max |Σ b Φ_t − 1/γ(t)| over the trees of order ≤ ``order`` (float64)."""
    A = torch.tensor([[float(a) for a in row] for row in scheme.A], dtype=F64)
    b = torch.tensor([float(v) for v in scheme.b], dtype=F64)
    M, r = order_condition_rows(A, A.sum(dim=1), order)
    return float((M @ b - r).abs().max())


def lmm_residual(alpha, beta, order: int) -> float:
    """max |C_q| over q = 0 … ``order``: C_q = Σ j^q α_j / q! − Σ j^{q−1} β_j / (q−1)! (SCIENCE.md §3)."""
    worst = abs(sum(alpha))
    for q in range(1, order + 1):
        c = (sum(j ** q * a for j, a in enumerate(alpha)) / math.factorial(q)
             - sum(j ** (q - 1) * b for j, b in enumerate(beta)) / math.factorial(q - 1))
        worst = max(worst, abs(c))
    return worst


def residual(scheme, order: int) -> float:
    if isinstance(scheme, ButcherTableau):
        return rk_residual(scheme, order)
    method = scheme if isinstance(scheme, LinearMultistep) else scheme.multistep()
    alpha, beta = [float(a) for a in method.alpha], [float(b) for b in method.beta]
    if registry.family_of(scheme).name == "lm_resnet":  # consistent with (1 + k) u' = f: ρ(1) = 0 only
        return abs(sum(alpha))
    return lmm_residual(alpha, beta, order)


# --------------------------------------------------------------------------------------- the maths
@pytest.mark.parametrize("case, start, order", CASES, ids=IDS)
def test_every_draw_keeps_the_order_conditions_and_the_analysis_agrees(case, start, order):
    p = parametrisation(start, order)
    assert p.order == order
    for theta in draws(p):
        scheme = p.scheme(theta)
        assert residual(scheme, order) <= 1e-12, (case, theta)
        report = analyze(scheme)
        if registry.family_of(scheme).name == "lm_resnet":
            assert report.effective_order >= order  # order for (1 + k) u' = f
        else:
            assert report.order >= order, (case, theta, report.order)
        if registry.family_of(scheme).name == "multistep":
            assert report.zero_stable is True, (case, theta)


@pytest.mark.parametrize("case, start, order", CASES, ids=IDS)
def test_the_starting_point_is_the_starting_scheme(case, start, order):
    p = parametrisation(start, order)
    got = p.scheme(p.free_parameters()).to_dict()
    want = start.to_dict()
    keys = [key for key in ("A", "b", "alpha", "beta", "k", "gamma") if key in want]
    assert keys
    for key in keys:
        np.testing.assert_allclose(as_array(got[key]), as_array(want[key]), rtol=0, atol=1e-12)


def as_array(value):
    """A JSON coefficient, vector or matrix (numbers and "p/q" strings) as a float array."""
    if isinstance(value, list):
        return np.array([as_array(v) for v in value])
    return float(Fraction(value))


@pytest.mark.parametrize("case, start, order", CASES, ids=IDS)
def test_gradcheck_of_every_parametrisation(case, start, order):
    p = parametrisation(start, order)
    theta = (p.free_parameters() + 0.05).requires_grad_(True)

    def coefficients(t):
        return tuple(v for _, v in sorted(p.coefficients(t).items()))

    assert torch.autograd.gradcheck(coefficients, (theta,), eps=1e-6, atol=1e-8)


def test_the_two_stage_second_order_family_is_the_classical_one():
    """c₂ = a₂₁ = α, b = (1 − 1/(2α), 1/(2α)) (Hairer, Nørsett, Wanner I, §II.1)."""
    p = parametrisation(get("heun"), 2)
    for alpha in (0.25, 0.5, 2 / 3, 1.0, -0.7):
        scheme = p.scheme(torch.tensor([alpha], dtype=F64))
        assert scheme.A[1][0] == alpha
        assert scheme.b == pytest.approx((1 - 1 / (2 * alpha), 1 / (2 * alpha)), abs=1e-15)


def test_complex_root_pairs_have_radius_sigmoid_v_and_angle_phi():
    p = parametrisation(COMPLEX_START, 3)
    assert p.pairs == 1 and p.free_parameters().tolist() == pytest.approx([0.0, math.pi / 2], abs=1e-12)
    theta = torch.tensor([1.2, 0.7], dtype=F64)
    roots = np.roots([float(a) for a in p.scheme(theta).alpha][::-1])
    radius = 1 / (1 + math.exp(-1.2))
    want = [1.0, radius * complex(math.cos(0.7), math.sin(0.7)), radius * complex(math.cos(0.7), -math.sin(0.7))]
    np.testing.assert_allclose(np.sort_complex(roots), np.sort_complex(np.array(want)), atol=1e-12)


def test_multistep_roots_are_the_hyperbolic_tangents_of_the_parameters():
    p = parametrisation(get("ab3"), 2)
    theta = torch.tensor([0.4, -1.3, 0.1, 0.2, 0.3], dtype=F64)
    roots = np.sort(np.roots([float(a) for a in p.scheme(theta).alpha][::-1]).real)
    np.testing.assert_allclose(roots, np.sort([1.0, math.tanh(0.4), math.tanh(-1.3)]), atol=1e-12)


@pytest.mark.parametrize("scheme, order, field", [
    (get("heun"), 3, "learn_order"),  # p > s
    (get("kutta3"), 4, "learn_order"),  # p = 4 not supported
    (get("euler"), 2, "learn_order"),
    (get("ab2"), 3, "learn_order"),  # first Dahlquist barrier
    (get("ab2"), 0, "learn_order"),
    (get("leapfrog"), 2, "alpha"),  # root −1 on the unit circle
    (ButcherTableau(A=[[0, 0], [1, 0]], b=[1, 0]), 2, "scheme"),  # order 1 only
    (LinearMultistep(alpha=[0, -1, 1], beta=[0, 1, 0]), 2, "scheme"),  # Euler as a 2-step method: order 1
    (get("lm_resnet"), 1, "learn_scheme"),  # already learns k
    (get("lm_resnet", k=0.1), 2, "learn_order"),
    (get("momentum"), 2, "learn_order"),
])
def test_unsupported_pairs_and_starting_points_are_refused_by_name(scheme, order, field):
    with pytest.raises(ValueError, match=field):
        parametrisation(scheme, order)


def test_singular_parameters_raise_clearly():
    two_stage = parametrisation(get("heun"), 2)
    with pytest.raises(ValueError, match="singular"):
        two_stage.coefficients(torch.tensor([0.0], dtype=F64))  # α = 0: b₂ = 1/(2α)
    kutta = parametrisation(get("kutta3"), 3)
    with pytest.raises(ValueError, match="c2 = 2/3"):
        kutta.coefficients(torch.tensor([2 / 3, 1.0], dtype=F64))
    with pytest.raises(ValueError, match="singular"):
        kutta.coefficients(torch.tensor([0.5, 0.5], dtype=F64))


# ------------------------------------------------------------------------------------- every family
def test_every_family_learns_or_refuses_at_construction():
    supported = set()
    for name in registry.scheme_names():
        scheme = get(name)
        try:
            spec = NetworkSpec(scheme=scheme, widths=(4,), steps_per_stage=3, learn_scheme="network")
        except ValueError as error:
            assert str(error).split(":")[0] in ("learn_scheme", "learn_order", "alpha", "scheme"), error
            continue
        supported.add(registry.family_of(scheme).name)
        with seeded(0):
            network = build_network(spec)
        network(torch.randn(3, 1, 40)).square().mean().backward()
        (theta,) = coefficient_parameters(network)
        assert theta.grad is not None and theta.grad.abs().sum() > 0, name
    # lm_resnet's named scheme learns k by itself; momentum's starts at a fixed γ
    assert supported == {"runge_kutta", "multistep", "momentum"}
    for family in ("hamiltonian", "leapfrog2"):
        with pytest.raises(ValueError, match=f"learn_scheme: the {family} family"):
            registry.family(family).parametrisation(registry.family(family).named_schemes()[0].build())


def test_spec_json_is_unchanged_without_learning_and_exact_with_it():
    plain = NetworkSpec(scheme="rk4")
    assert "learn_scheme" not in plain.to_dict() and "learn_order" not in plain.to_dict()
    learned = NetworkSpec(scheme="rk4", learn_scheme="stage")
    assert learned.learn_order == 3  # resolved: the highest order rk4 has that the parametrisation keeps
    assert NetworkSpec.from_dict(learned.to_dict()) == learned
    assert learned.to_dict()["learn_scheme"] == "stage"
    with pytest.raises(ValueError, match="learn_scheme: must be one of"):
        NetworkSpec(scheme="rk4", learn_scheme="layer")
    with pytest.raises(ValueError, match="learn_order: only with"):
        NetworkSpec(scheme="rk4", learn_order=2)
    with pytest.raises(ValueError, match="learn_scheme: the memory-efficient"):
        NetworkSpec(scheme="leapfrog", memory_efficient=True, learn_scheme="network")
    with pytest.raises(ValueError, match="nothing to learn"):
        NetworkSpec(scheme="euler", learn_scheme="network")


def test_coefficients_have_their_own_optimizer_group_without_weight_decay():
    config = TrainConfig(lr=0.05, coefficient_lr=0.01, weight_decay=5e-4)
    network = build_network(NetworkSpec(scheme="heun", widths=(4, 8), learn_scheme="step"))
    weights, coefficients = make_optimizer(network, config).param_groups
    assert coefficients["lr"] == 0.01 and coefficients["weight_decay"] == 0.0
    assert weights["lr"] == 0.05 and weights["weight_decay"] == 5e-4
    assert {id(p) for p in coefficients["params"]} == {id(p) for p in coefficient_parameters(network)}
    assert len(coefficients["params"]) == 2 * 2  # one θ per step, 2 stages × 2 steps
    plain = make_optimizer(build_network(NetworkSpec(scheme="heun", widths=(4,))), config)
    assert len(plain.param_groups) == 1  # networks without learned coefficients: as before
    assert "coefficient_lr" not in TrainConfig().to_dict()


# ------------------------------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def tiny_mnist1d():
    return load_dataset("mnist1d", num_samples=200, seed=0)


TRAINED = [
    ("heun", dict(tie="stage", norm="none")),
    ("kutta3", dict(tie="stage", noise=NoiseSchedule(kind="shake", shape="linear", a=0.5))),
    ("rk4", dict()),
    ("ab3", dict(tie="stage", learn_order=2)),
    ({"family": "lm_resnet", "k": "1/5", "learn": "fixed"}, dict()),
    ({"family": "momentum", "gamma": "1/2"}, dict(tie="stage")),
]


@pytest.mark.parametrize("scheme, options", TRAINED, ids=[str(s) for s, _ in TRAINED])
def test_training_moves_the_coefficients_keeps_the_order_and_writes_back_a_scheme(tiny_mnist1d, scheme, options,
                                                                                  tmp_path):
    spec = NetworkSpec(scheme=scheme, widths=(4, 8), steps_per_stage=3, learn_scheme="network", **options)
    with seeded(0):
        network = build_network(spec)
    (before,) = [p.detach().clone() for p in coefficient_parameters(network)]
    result = fit(network, tiny_mnist1d, TrainConfig(epochs=2, batch_size=32, lr=0.05, coefficient_lr=0.05,
                                                    device="cpu"))
    assert result.status == "completed"
    (after,) = coefficient_parameters(network)
    assert not torch.equal(before, after.detach())
    trajectory = coefficient_trajectory(spec, result.history)  # the learned scheme after each epoch
    assert len(trajectory) == 2 and list(trajectory[-1].values()) == [learned_schemes(network)[0][0]]
    figure = plot_coefficient_trajectory(trajectory, tmp_path / "trajectory.png")
    assert figure.stat().st_size > 0

    learned = concrete_spec(network)
    assert learned.learn_scheme == "none" and learned.scheme != spec.scheme
    assert residual(learned.scheme, spec.learn_order) <= 1e-12
    # the written-back spec is a plain spec: exact JSON, and its network is the trained one bit for bit
    assert NetworkSpec.from_dict(learned.to_dict()) == learned
    network.eval()
    rebuilt = concrete_network(network)  # in eval mode too
    x, _ = next(iter(tiny_mnist1d.val.batches(16)))
    with torch.no_grad():
        assert torch.equal(rebuilt(x), network(x))
    assert set(concrete_state_dict(network)) == set(rebuilt.state_dict())


@pytest.mark.parametrize("granularity", ["stage", "step"])
def test_per_stage_and_per_step_training_keeps_every_learned_scheme_zero_stable_of_order_p(tiny_mnist1d, granularity):
    spec = NetworkSpec(scheme="ab3", widths=(4, 8), steps_per_stage=4, tie="stage", norm="none", learn_order=2,
                       learn_scheme=granularity)
    with seeded(0):
        network = build_network(spec)
    fit(network, tiny_mnist1d, TrainConfig(epochs=1, batch_size=32, lr=0.05, coefficient_lr=0.2, device="cpu"))
    schemes = {scheme for row in learned_schemes(network) for scheme in row}
    assert len(schemes) > 1  # stages (steps) learned their own schemes
    for scheme in schemes:
        report = analyze(scheme)
        assert report.zero_stable is True and report.order >= 2
        assert residual(scheme, 2) <= 1e-12


def test_per_step_coefficients_are_one_scheme_per_step():
    network = build_network(NetworkSpec(scheme="ralston", widths=(4, 8), steps_per_stage=2, learn_scheme="step"))
    with torch.no_grad():
        network.stages[1].scheme_parameters.free[1].add_(0.1)
    schemes = learned_schemes(network)
    assert [len(row) for row in schemes] == [2, 2]
    assert schemes[1][1] != schemes[0][0] and rk_residual(schemes[1][1], 2) <= 1e-12
    with pytest.raises(ValueError, match="different schemes"):
        concrete_spec(network)


# ------------------------------------------------------------------------------- nas diagnose --model
def test_diagnose_model_reports_the_learned_scheme_not_the_starting_point(tmp_path, capsys):
    import json

    from run_folders import make_run

    from nas.cli import main

    run = make_run(tmp_path, "learned", [{"scheme": "heun", "tie": "stage", "norm": "none", "steps_per_stage": 2,
                                          "learn_scheme": "network"}])
    trial = run / "trials" / "learned_00000"
    assert json.loads((trial / "spec.json").read_text())["learn_scheme"] == "network"
    assert main(["diagnose", "--model", str(trial)]) == 0
    out = capsys.readouterr().out
    assert "learned scheme (every step; learn_scheme network, order 2 kept):" in out
    assert "order: 2" in out and "modified" in out.lower() and "stability" in out.lower()
    assert main(["diagnose", "--model", str(trial), "--json"]) == 0
    (learned,) = json.loads(capsys.readouterr().out)["learned_schemes"]
    assert learned["steps"] == "every step" and learned["scheme"]["order"] >= 2
    assert learned["scheme"]["scheme"]["b"] != [0.5, 0.5]  # trained away from heun, still order 2


def test_export_writes_the_learned_scheme_into_spec_json_and_the_program_equals_the_trained_network(tmp_path):
    import json

    from run_folders import make_run

    from nas.export import export_trial, read_model

    run = make_run(tmp_path, "learned", [{"scheme": "ab2", "tie": "stage", "steps_per_stage": 3,
                                          "learn_scheme": "network"}])
    trial = run / "trials" / "learned_00000"
    spec, weights = read_model(trial, "trial")
    trained = build_network(spec)
    trained.load_state_dict(weights)
    trained.eval()
    folder = export_trial(run, "learned_00000", tmp_path / "export")
    written = json.loads((folder / "spec.json").read_text())
    assert "learn_scheme" not in written and written["scheme"]["name"] == "learned_lmm2_p2"
    assert NetworkSpec.from_dict(written).scheme == concrete_spec(trained).scheme
    card = json.loads((folder / "card.json").read_text())
    assert card["scheme"]["coefficients"] == written["scheme"]  # the card describes the learned scheme
    program = torch.export.load(str(folder / "model.pt2"))
    x = torch.randn(8, spec.in_channels, 40)  # MNIST-1D inputs
    with torch.no_grad():
        assert torch.equal(program.module()(x), trained(x))


# -------------------------------------------------------------------------------- search and trials.csv
def sampled_specs(space, *, count: int, seed: int) -> list:
    """The NetworkSpecs of ``count`` trials a random Optuna sampler draws from ``space``."""
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    specs = []
    for _ in range(count):
        trial = study.ask()
        constants = space.sampler_function()(trial)  # before trial.params: sampling fills them
        specs.append(space.plan({**trial.params, **constants}, macro="sequence", in_channels=1, num_classes=10).spec)
        study.tell(trial, 0.0)
    return specs


def test_a_space_offers_learned_coefficients_next_to_fixed_ones():
    import optuna

    from nas.search import SpaceError, load_space
    from nas.search.space import SearchSpace

    space = load_space({"scheme": {"family": "runge_kutta", "stages": 2, "coefficients": {"low": 0.2, "high": 0.9}},
                        "network": {"widths": [4, 8], "learn_scheme": ["none", "network"]}})
    specs = sampled_specs(space, count=12, seed=0)
    learned = [s for s in specs if s.learn_scheme == "network"]
    assert learned and len(learned) < len(specs)  # both offered
    for spec in learned:  # the searched tableau is the starting point of the learned one
        assert spec.learn_order >= 1 and spec.scheme.name.startswith("runge_kutta")
    assert SearchSpace.from_dict(space.to_dict(), source=space.source) == space
    with pytest.raises(SpaceError, match="network.learn_scheme"):
        load_space({"scheme": {"family": "named", "names": ["rk4"]}, "network": {"learn_scheme": "layer"}})
    plain = load_space({"scheme": {"family": "named", "names": ["rk4"]}, "network": {"widths": [4, 8]}})
    trial = optuna.create_study().ask()
    assert "learn_scheme" not in plain.sampler_function()(trial)  # spaces without the option: configs unchanged


def test_a_space_searches_the_order_the_learned_coefficients_keep():
    from nas.search import SpaceError, load_space
    from nas.search.space import SearchSpace

    # order-2 starting points: each can keep order 1 or 2
    raw = {"scheme": {"family": "named", "names": ["heun", "ralston"]},
           "network": {"widths": [4, 8], "learn_scheme": ["none", "network"], "learn_order": [1, 2]}}
    space = load_space(raw)
    specs = sampled_specs(space, count=16, seed=1)
    learned = [s for s in specs if s.learn_scheme == "network"]
    assert {s.learn_order for s in learned} == {1, 2}  # both orders searched
    assert all(s.learn_order is None for s in specs if s.learn_scheme == "none")  # fixed schemes keep no order
    assert SearchSpace.from_dict(space.to_dict(), source=space.source) == space
    with pytest.raises(SpaceError, match="network.learn_order: needs learn_scheme"):
        load_space({**raw, "network": {"widths": [4, 8], "learn_order": 2}})
    with pytest.raises(SpaceError, match="network.learn_order"):
        load_space({**raw, "network": {"widths": [4, 8], "learn_scheme": "network", "learn_order": 9}})


def test_trials_csv_records_the_final_learned_coefficients(tmp_path):
    import json

    from run_folders import make_run

    from nas.export import read_model
    from nas.networks.learned import learned_record
    from nas.search.records import LEARNED_FILE, collect_rows, write_trials_csv

    run = make_run(tmp_path, "learned", [{"scheme": "ralston", "learn_scheme": "network"}, {"scheme": "heun"}])
    trial = run / "trials" / "learned_00000"
    spec, weights = read_model(trial, "trial")
    record = learned_record(spec, weights)  # what the search's trainable writes beside the weights
    (trial / LEARNED_FILE).write_text(json.dumps(record))
    assert len(record["schemes"]) == 1 and len(record["schemes"][0]["parameters"]) == len(spec.widths)
    frame = write_trials_csv(run, collect_rows(run))
    learned, plain = frame.iloc[0], frame.iloc[1]
    final = concrete_spec_of(spec, weights).scheme
    assert learned["learn_scheme"] == "network" and learned["learn_order"] == 2
    assert learned["learned_coef_A_1_0"] == final.A[1][0] and learned["learned_coef_b_1"] == final.b[1]
    assert learned["coef_A_1_0"] == pytest.approx(2 / 3)  # the starting point stays in coef_*
    assert json.loads(learned["learned_scheme"]) == final.to_dict()
    assert math.isnan(plain["learned_coef_A_1_0"])
    readme = (Path(__file__).resolve().parents[1] / "results" / "README.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)` \|", readme.split("## trials.csv columns", 1)[1], flags=re.MULTILINE))
    for column in [c for c in frame.columns if c.startswith("learn")]:  # every new column is documented
        assert column in documented or column.startswith("learned_coef_") and "learned_coef_<name>" in documented


def concrete_spec_of(spec, weights):
    network = build_network(spec)
    network.load_state_dict(weights)
    return concrete_spec(network)


def test_depth_refinement_refines_the_learned_scheme():
    from nas.refinement import refined_network

    spec = NetworkSpec(scheme="heun", widths=(4, 8), steps_per_stage=2, tie="stage", norm="none",
                       learn_scheme="network")
    with seeded(0):
        network = build_network(spec)
    with torch.no_grad():
        coefficient_parameters(network)[0].add_(0.3)  # away from heun: a₂₁ = 1.3
    network.eval()
    x = torch.randn(4, 1, 40)
    same = refined_network(network, 1)
    assert same.spec.scheme == concrete_spec(network).scheme and same.spec.learn_scheme == "none"
    with torch.no_grad():
        assert torch.equal(same(x), network(x))
    finer = refined_network(network, 2)
    assert finer.spec.steps_per_stage == 4 and finer.spec.scheme.A[1][0] == pytest.approx(1.3)


def test_nas_train_learns_coefficients_and_reports_the_learned_scheme(capsys, tmp_path):
    import json

    from nas.cli import main

    output = tmp_path / "result.json"
    status = main(["train", "--scheme", "ralston", "--learn-scheme", "network", "--coefficient-lr", "0.1",
                   "--data", "mnist1d", "--num-samples", "100", "--epochs", "1", "--widths", "4,8", "--batch-size",
                   "32", "--device", "cpu", "--output", str(output)])
    out = capsys.readouterr().out
    assert status == 0
    saved = json.loads(output.read_text())
    assert saved["network"]["learn_scheme"] == "network" and saved["network"]["learn_order"] == 2
    assert saved["train"]["config"]["coefficient_lr"] == 0.1
    (learned,) = saved["learned"]["schemes"]
    assert f"learned scheme: {json.dumps(learned['scheme'])}" in out
    assert rk_residual(ButcherTableau.from_dict(learned["scheme"]), 2) <= 1e-12
    assert main(["train", "--scheme", "euler", "--learn-scheme", "network", "--epochs", "1"]) == 2
    assert capsys.readouterr().err.strip().endswith("there is nothing to learn")


# ------------------------------------------------------------------ leaderboard and export card (issue 21, item 3)
def test_the_leaderboard_shows_the_learned_schemes_order_error_constant_and_stability_interval(tmp_path):
    import json

    from run_folders import make_run

    from nas import leaderboard
    from nas.export import read_model
    from nas.networks.learned import learned_record
    from nas.search.records import LEARNED_FILE, collect_rows, write_trials_csv

    run = make_run(tmp_path, "learned", [{"scheme": "ralston", "learn_scheme": "network"},
                                         {"scheme": "ab2", "learn_scheme": "network"}, {"scheme": "heun"}])
    finals = []
    for trial_id in ("learned_00000", "learned_00001"):
        trial = run / "trials" / trial_id
        spec, weights = read_model(trial, "trial")
        (trial / LEARNED_FILE).write_text(json.dumps(learned_record(spec, weights)))
        finals.append(concrete_spec_of(spec, weights).scheme)
    write_trials_csv(run, collect_rows(run))
    frame = leaderboard.load([run]).set_index("trial_id")
    for trial_id, final in zip(("learned_00000", "learned_00001"), finals):
        report = analyze(final, tolerance=1e-9)
        row = frame.loc[trial_id]
        assert row["learned_order"] == report.order == 2  # the learned scheme's, computed from it
        assert row["learned_real_stability_interval"] == pytest.approx(-report.real_stability_interval[0])
        assert bool(row["learned_zero_stable"]) is True
    rk, lmm = frame.loc["learned_00000"], frame.loc["learned_00001"]
    assert rk["learned_error_norm"] == pytest.approx(analyze(finals[0], tolerance=1e-9).principal_error_norm)
    assert rk["learned_error_norm"] != pytest.approx(rk["error_norm"] if rk["error_norm"] == rk["error_norm"] else 0)
    assert lmm["learned_error_constant"] == pytest.approx(
        float(analyze(finals[1], tolerance=1e-9).normalized_error_constant))
    assert math.isnan(frame.loc["learned_00002", "learned_order"])  # fixed coefficients: nothing learned
    shown = leaderboard.display_frame(frame.reset_index())
    assert {"learned_order", "learned_error_constant", "learned_error_norm"} <= set(shown.columns)
    plain = make_run(tmp_path, "plain", [{"scheme": "heun"}])
    assert not [c for c in leaderboard.display_frame(leaderboard.load([plain])).columns if c.startswith("learned")]


def test_a_learning_trial_keeps_theta_per_epoch_and_its_export_card_draws_the_trajectory(tmp_path, tiny_mnist1d):
    import json

    from run_folders import make_run

    from nas.export import export_trial, read_model
    from nas.networks.learned import trial_history_entry
    from nas.search.records import parse_record

    run = make_run(tmp_path, "learned", [{"scheme": "heun", "tie": "stage", "norm": "none",
                                          "learn_scheme": "network"}], epochs=2)
    trial = run / "trials" / "learned_00000"
    spec, _ = read_model(trial, "trial")
    config = TrainConfig.from_dict(json.loads((trial / "train_config.json").read_text()))
    with seeded(config.seed):
        model = build_network(spec)
    history = [trial_history_entry(entry) for entry in fit(model, tiny_mnist1d, config).history]
    assert [sorted(entry) for entry in history] == [["coefficients", "epoch", "val_acc", "val_loss"]] * 2
    assert trial_history_entry({"epoch": 1, "val_acc": 0.5, "val_loss": 1.0, "lr": 0.1}) == \
        {"epoch": 1, "val_acc": 0.5, "val_loss": 1.0}  # fixed coefficients: the record is unchanged
    metrics = json.loads((trial / "metrics.json").read_text())
    metrics["history"] = history  # what the search's trainable records (nas.search.trainable, on_epoch)
    parse_record(metrics, "metrics.json")  # a valid trial record
    (trial / "metrics.json").write_text(json.dumps(metrics))
    folder = export_trial(run, "learned_00000", tmp_path / "export")
    card = json.loads((folder / "card.json").read_text())
    assert "coefficient_trajectory.png" in card["files"] and (folder / "coefficient_trajectory.png").stat().st_size
    assert "(coefficient_trajectory.png)" in (folder / "card.md").read_text()
    fixed = make_run(tmp_path, "fixed", [{"scheme": "heun", "tie": "stage", "norm": "none"}])
    card = json.loads((export_trial(fixed, "fixed_00000", tmp_path / "fixed_export") / "card.json").read_text())
    assert "coefficient_trajectory.png" not in card["files"]


@pytest.mark.slow
def test_a_searched_learning_trial_records_theta_per_epoch_end_to_end(ray_session, tmp_path):
    """A real (tiny) search trial that learns: its metrics.json history holds θ after every epoch, the
    leaderboard analyses its learned scheme and nas export draws the trajectory."""
    import json

    from nas import leaderboard
    from nas.export import export_trial
    from nas.search import run

    space = {"name": "learning", "data": {"name": "mnist1d", "seed": 0, "num_samples": 200},
             "train": {"epochs": 2, "batch_size": 64, "coefficient_lr": 0.1},
             "search": {"trials": 1, "scheduler": "none", "seed": 0},
             "network": {"widths": [4, 8], "steps_per_stage": 2, "tie": "stage", "norm": "none",
                         "learn_scheme": "network"},
             "scheme": {"family": "named", "names": ["ralston"]}}
    found = run(space, results_dir=tmp_path, progress=False)
    (trial_id,) = list(found.trials["trial_id"])
    metrics = json.loads((found.run_dir / "trials" / trial_id / "metrics.json").read_text())
    thetas = [entry["coefficients"] for entry in metrics["history"]]
    assert len(thetas) == 2 and all(len(theta) == 1 for theta in thetas)  # one θ for the network, every epoch
    assert thetas[0] != thetas[1]  # it moved
    row = leaderboard.load([found.run_dir]).iloc[0]
    assert row["learned_order"] == 2 and row["order"] == 2
    card = json.loads((export_trial(found.run_dir, trial_id, tmp_path / "export") / "card.json").read_text())
    assert "coefficient_trajectory.png" in card["files"]

    # nas evaluate's retrainings keep θ per epoch too, so the evaluated export draws its trajectory
    from nas.evaluation import evaluate
    from nas.export import export_evaluated

    evaluate(found.run_dir, top=1, seeds=2, progress=False)
    evaluated = export_evaluated(found.run_dir, tmp_path / "evaluated")
    assert "coefficient_trajectory.png" in json.loads((evaluated / "card.json").read_text())["files"]
