"""Search spaces: validation, the define-by-run function, consistency by construction, constraints."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import optuna
import pytest

from nas.diagnostics import analyze
from nas.search import SpaceError, load_space
from nas.search.constraints import (REPEATED_UNIT_ROOT_VIOLATION, constraint_values, scheme_diagnostics,
                                    zero_stability_violation)
from nas.domains import parse_domain
from nas.search.space import BASELINES, SearchSpace

SPACES = Path(__file__).resolve().parents[1] / "search_spaces"
SHIPPED = sorted(SPACES.glob("*.yaml"))

optuna.logging.set_verbosity(optuna.logging.WARNING)


def sample_configs(space: SearchSpace, n: int, seed: int = 0, enqueue_baselines: bool = True):
    """n configs drawn by Optuna's random sampler through the space's define-by-run function."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    if enqueue_baselines:
        for label in space.baseline_labels():
            study.enqueue_trial({}, user_attrs={"baseline": label})
    configs = []
    for _ in range(n):
        trial = study.ask()
        constants = space.sampler_function()(trial)
        configs.append({**trial.params, **constants})
        study.tell(trial, 0.0)
    return configs


def plan(space, config):
    from nas.data_info import INFO

    info = INFO[space.data["name"]]  # the space's own data set (a torchvision network needs 3-channel images)
    return space.plan(config, macro=info.macro, in_channels=info.in_channels, num_classes=info.num_classes)


def test_shipped_spaces_load_and_every_sample_builds():
    assert {p.name for p in SHIPPED} >= {"quick.yaml", "lm_resnet.yaml", "runge_kutta.yaml", "multistep.yaml",
                                         "stochastic.yaml", "reversible.yaml", "cifar10.yaml"}
    for path in SHIPPED:
        space = load_space(path)
        for config in sample_configs(space, 12):
            trial_plan = plan(space, config)
            assert trial_plan.spec.scheme is trial_plan.scheme
            assert trial_plan.option == config["scheme"]


def test_embedded_default_is_quick_yaml():
    assert load_space(None).to_dict() == load_space(SPACES / "quick.yaml").to_dict()


def test_round_trip_of_the_space_mapping():
    space = load_space(SPACES / "quick.yaml")
    again = SearchSpace.from_dict(space.to_dict(), source=space.source)
    assert again == space


def test_constants_are_returned_not_suggested():
    space = load_space({"scheme": {"family": "named", "names": ["rk4"]}, "network": {"widths": [4, 8]}})
    study = optuna.create_study()
    trial = study.ask()
    constants = space.sampler_function()(trial)
    assert trial.params == {}  # nothing to sample
    assert constants == {"scheme": "named", "named.name": "rk4", "noise": "none", "widths": "4-8",
                         "steps_per_stage": 2, "h": 1.0, "share_stage_weights": False}
    assert plan(space, constants).scheme.name == "rk4"


def test_baselines_come_first_and_are_not_options_of_the_sampled_choice():
    space = load_space({"baselines": True, "scheme": [{"family": "named", "names": ["heun", "rk4"]},
                                                      {"family": "runge_kutta", "stages": 2}]})
    configs = sample_configs(space, 30)
    assert [c["scheme"] for c in configs[:2]] == list(BASELINES[:2])  # the untied ResNet only beside tied baselines
    assert {c["scheme"] for c in configs[2:]} == {"named", "runge_kutta"}
    first, second = plan(space, configs[0]), plan(space, configs[1])
    assert first.baseline and first.scheme.name == "euler"
    assert second.baseline and second.scheme.family == "lm_resnet" and second.scheme.learn == "layer"
    assert not any(plan(space, c).baseline for c in configs[2:])


@pytest.mark.parametrize("stages", [1, 2, 3, 4])
def test_runge_kutta_samples_are_consistent_by_construction(stages):
    space = load_space({"scheme": {"family": "runge_kutta", "stages": stages,
                                   "coefficients": {"low": -2.0, "high": 2.0}}})
    for config in sample_configs(space, 8, seed=stages):
        tableau = plan(space, config).scheme
        assert tableau.stages == stages
        assert sum(tableau.b) == pytest.approx(1.0, abs=1e-12)
        for i, row in enumerate(tableau.A):
            assert tableau.c[i] == pytest.approx(sum(row), abs=1e-12)
        assert analyze(tableau).order >= 1  # measured by the rooted-tree order conditions
        # the free entries are exactly the sampled ones
        assert tableau.b[:-1] == tuple(config[f"runge_kutta.b_{i}"] for i in range(stages - 1))


def test_runge_kutta_known_tableau_from_its_free_entries():
    # Kutta's third-order method: a_10 = 1/2, a_20 = -1, a_21 = 2, b_0 = 1/6, b_1 = 2/3 -> b_2 = 1/6.
    space = load_space({"scheme": {"family": "runge_kutta", "stages": 3}})
    config = {"scheme": "runge_kutta", "runge_kutta.stages": 3, "runge_kutta.A_1_0": 0.5,
              "runge_kutta.A_2_0": -1.0, "runge_kutta.A_2_1": 2.0, "runge_kutta.b_0": 1 / 6,
              "runge_kutta.b_1": 2 / 3, "widths": "4-8", "steps_per_stage": 1, "h": 1.0,
              "share_stage_weights": False}
    tableau = plan(space, config).scheme
    assert tableau.b[2] == pytest.approx(1 / 6, abs=1e-15)
    assert tableau.c == pytest.approx((0.0, 0.5, 1.0))
    assert analyze(tableau).order == 3


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_multistep_samples_are_consistent_by_construction(steps):
    space = load_space({"network": {"steps_per_stage": 3},
                        "scheme": {"family": "multistep", "steps": steps}})
    for config in sample_configs(space, 8, seed=steps):
        method = plan(space, config).scheme
        alpha, beta = np.array(method.alpha, dtype=float), np.array(method.beta, dtype=float)
        j = np.arange(len(alpha))
        assert alpha[-1] == 1 and beta[-1] == 0
        assert alpha.sum() == pytest.approx(0.0, abs=1e-12)  # ρ(1) = 0
        assert (j * alpha).sum() == pytest.approx(beta.sum(), abs=1e-12)  # ρ'(1) = σ(1)
        assert analyze(method).order >= 1


def test_multistep_free_entries_rebuild_adams_bashforth_2():
    # α_1 = -1, β_0 = -1/2  ->  α_0 = 0, β_1 = 3/2: AB2, order 2, C_3 = 5/12.
    space = load_space({"scheme": {"family": "multistep", "steps": 2}})
    config = {"scheme": "multistep", "multistep.steps": 2, "multistep.alpha_1": -1.0, "multistep.beta_0": -0.5,
              "widths": "4-8", "steps_per_stage": 2, "h": 1.0, "share_stage_weights": False}
    method = plan(space, config).scheme
    assert method.alpha == (0.0, -1.0, 1.0) and method.beta == (-0.5, 1.5, 0.0)
    report = analyze(method)
    assert report.order == 2
    assert float(report.error_constant) == pytest.approx(5 / 12)


@pytest.mark.parametrize("alpha_1", [-0.5, 0.0, 0.7, 1.5, -2.5])
def test_zero_stability_violation_of_two_step_methods(alpha_1):
    # ρ(ζ) = ζ² + α_1 ζ + α_0 with α_0 = -1 - α_1 = (ζ - 1)(ζ + 1 + α_1): roots 1 and -(1 + α_1).
    alpha_0 = -1.0 - alpha_1
    from nas.schemes import LinearMultistep

    method = LinearMultistep(alpha=[alpha_0, alpha_1, 1.0], beta=[0.0, 2.0 + alpha_1, 0.0])
    expected = max(abs(1 + alpha_1), 1.0) - 1.0
    assert zero_stability_violation(method) == pytest.approx(expected, abs=1e-9)
    assert (expected <= 0) == analyze(method).zero_stable


def test_repeated_unit_root_is_infeasible():
    # ρ(ζ) = (ζ - 1)(ζ + 1)² = ζ³ + ζ² - ζ - 1: max |ζ| = 1 but -1 is a double root.
    from nas.schemes import LinearMultistep

    method = LinearMultistep(alpha=[-1, -1, 1, 1], beta=[0, 0, 4, 0])
    assert analyze(method).zero_stable is False
    assert zero_stability_violation(method) == REPEATED_UNIT_ROOT_VIOLATION


def test_constraint_values_for_known_schemes():
    from nas import schemes

    space = load_space({"constraints": {"min_order": 3, "zero_stable": True, "max_params": 1000},
                        "scheme": {"family": "named", "names": ["rk4", "heun", "leapfrog"]}})
    rk4 = schemes.get("rk4")
    values = constraint_values(space.constraints, rk4, 500, scheme_diagnostics(rk4))
    assert values == {"constraint_min_order": -1.0, "constraint_zero_stable": 0.0, "constraint_max_params": -0.5}
    heun = schemes.get("heun")
    assert constraint_values(space.constraints, heun, 1500, scheme_diagnostics(heun)) == {
        "constraint_min_order": 1.0, "constraint_zero_stable": 0.0, "constraint_max_params": 0.5}
    lm = schemes.get("lm_resnet", k=Fraction(3, 2), learn="fixed")
    assert constraint_values(space.constraints, lm, 10, scheme_diagnostics(lm))["constraint_zero_stable"] == \
        pytest.approx(0.5)


def test_diagnostics_columns_of_known_schemes():
    from nas import schemes

    rk4 = scheme_diagnostics(schemes.get("rk4"))
    assert rk4["order"] == 4 and rk4["zero_stable"] is True
    assert rk4["real_stability_interval"] == pytest.approx(2.7853, abs=1e-4)
    assert rk4["error_norm"] == pytest.approx(np.sqrt(1745) / 2880)
    ab3 = scheme_diagnostics(schemes.get("ab3"))
    assert ab3["order"] == 3 and ab3["error_constant"] == pytest.approx(3 / 8) and ab3["zero_stable"] is True


def test_noise_options_build_schedules():
    space = load_space({"scheme": {"family": "named", "names": ["euler"]},
                        "noise": [{"kind": "none"}, {"kind": "stochastic_depth", "p_L": {"low": 0.5, "high": 1.0}},
                                  {"kind": "shake", "shape": ["linear", "constant"], "a": 0.3}]})
    kinds = set()
    for config in sample_configs(space, 20):
        noise = plan(space, config).spec.noise
        kinds.add("none" if noise is None else noise.kind)
        if noise is not None and noise.kind == "stochastic_depth":
            assert 0.5 <= noise.p_L <= 1.0 and noise.shape == "linear"
    assert kinds == {"none", "stochastic_depth", "shake"}


def test_domains():
    assert parse_domain(3, "x", "int").values() == (3,)
    assert parse_domain([1, 2], "x", "int").mode == "choice"
    assert parse_domain([2], "x", "int").mode == "constant"
    rng = parse_domain({"low": 1e-3, "high": 1e-1, "log": True}, "x", "float")
    assert (rng.low, rng.high, rng.log) == (1e-3, 1e-1, True)
    with pytest.raises(SpaceError, match=r"^x.low: a log range needs low > 0"):
        parse_domain({"low": 0.0, "high": 1.0, "log": True}, "x", "float")
    with pytest.raises(SpaceError, match=r"^x\[1\]: must be 1..4, got 5"):
        parse_domain([1, 5], "x", "int", 1, 4)
