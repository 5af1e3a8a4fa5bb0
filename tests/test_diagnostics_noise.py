"""Noise-schedule diagnostics: SDE terms per step, total injected variance, weak order; Monte Carlo
moments of the actual torch noise layers against the report."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy
import torch

from nas.diagnostics import analyze, report_from_dict
from nas.schemes.noise import NoiseSchedule

SCHEDULES = [NoiseSchedule("stochastic_depth", "linear", p_L=0.5), NoiseSchedule("dropout", "cosine", p_L=0.8),
             NoiseSchedule("shake", "constant", a=0.5), NoiseSchedule("gaussian", "step", sigma_max=0.3),
             NoiseSchedule()]


def test_stochastic_depth_linear_known_values():
    # p_n = 1 − (n+1)/N (1 − p_L): 0.9, 0.8, 0.7, 0.6, 0.5; Σ h² p(1 − p) = 0.04 · 0.95
    report = analyze(NoiseSchedule("stochastic_depth", "linear", p_L=0.5), depth=5, h=0.2)
    assert [row[2] for row in report.steps] == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.5])
    assert [row[3] for row in report.steps] == pytest.approx([0.09, 0.16, 0.21, 0.24, 0.25])
    assert report.total_injected_variance == pytest.approx(0.038)
    assert report.weak_order == 1 and report.strong_order == sympy.Rational(1, 2)
    assert report.sde == "dX = E[eta](t) F dt + sd(eta)(t) sqrt(h) F dW"


@pytest.mark.parametrize("schedule", SCHEDULES, ids=str)
def test_total_variance_is_the_sum_of_the_per_step_variances(schedule):
    report = analyze(schedule, depth=8, h=0.25)
    columns = report.columns
    per_step = sum(0.25 ** 2 * row[columns.index("variance")] + row[columns.index("additive_variance")]
                   for row in report.steps)
    assert report.total_injected_variance == pytest.approx(per_step)
    assert report_from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_additive_noise_has_strong_order_one_and_no_noise_has_no_order():
    assert analyze(NoiseSchedule("gaussian", sigma_max=0.1)).strong_order == 1
    report = analyze(NoiseSchedule())
    assert report.order is None and report.total_injected_variance == 0


@pytest.mark.parametrize("schedule", SCHEDULES[:4], ids=str)
def test_report_moments_match_the_noise_layers(schedule):
    # measured: the increment after the training-mode layer has mean E[η]·I and variance Var(η)·I²
    # (multiplicative) or I and h σ² (additive)
    torch.manual_seed(0)
    depth, h = 4, 0.25
    report = analyze(schedule, depth=depth, h=h)
    columns = report.columns
    for row in report.steps:
        n = row[0]
        layer = schedule.layer(n, depth, h).train()
        increment = torch.full((100_000, 4), 2.0, dtype=torch.float64)
        out = layer(increment, increment)
        mean, variance = float(out.mean()), float(out.var())
        expected_mean = 2.0 * row[columns.index("mean")]
        expected_variance = 4.0 * row[columns.index("variance")] + row[columns.index("additive_variance")]
        assert mean == pytest.approx(expected_mean, abs=0.02)
        assert variance == pytest.approx(expected_variance, abs=0.02 + 0.03 * expected_variance)


def test_options_are_checked():
    with pytest.raises(ValueError, match="depth"):
        analyze(NoiseSchedule(), depth=0)
    with pytest.raises(ValueError, match="only used for noise"):
        analyze("rk4", depth=4)


@pytest.mark.parametrize("schedule", [NoiseSchedule("stochastic_depth", "constant", p_L=0.7),
                                      NoiseSchedule("shake", "constant", a=0.8),
                                      NoiseSchedule("dropout", "constant", p_L=0.6)], ids=str)
def test_noisy_steps_converge_weakly_at_the_reported_order(schedule):
    # F(x) = λx: the exact first two moments of the noisy steps, E[(1 + hηλ)^m], against those of the
    # reported SDE dX = drift λX dt + diffusion λX dW, for which d E[X²]/dt = (2 drift λ + diffusion² λ²) E[X²].
    lam = -1.5
    errors, hs = [], []
    for depth in (20, 40, 80, 160):
        h = 1.0 / depth
        report = analyze(schedule, depth=depth, h=h)
        c = report.columns
        discrete_1 = discrete_2 = 1.0
        exponent_1 = exponent_2 = 0.0
        for row in report.steps:
            mean, variance = row[c.index("mean")], row[c.index("variance")]
            drift, diffusion = row[c.index("drift_scale")], row[c.index("diffusion_scale")]
            discrete_1 *= 1 + h * lam * mean
            discrete_2 *= 1 + 2 * h * lam * mean + h * h * lam * lam * (mean * mean + variance)
            exponent_1 += h * drift * lam
            exponent_2 += h * (2 * drift * lam + diffusion * diffusion * lam * lam)
        errors.append(abs(discrete_1 - math.exp(exponent_1)) + abs(discrete_2 - math.exp(exponent_2)))
        hs.append(h)
    slope = np.polyfit(np.log(hs), np.log(errors), 1)[0]
    assert slope == pytest.approx(analyze(schedule).weak_order, abs=0.1)
