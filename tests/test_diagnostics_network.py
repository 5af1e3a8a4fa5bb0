"""Per-layer diagnostics of built networks: learned LM-ResNet k, the per-layer modified-equation
coefficients (1 + k), (1 − k)/2 and zero-stability −1 < k ≤ 1, read from ``model.coefficients()``."""
from __future__ import annotations

import json

import pytest
import torch

from nas.diagnostics import analyze, analyze_network, report_from_dict
from nas.diagnostics.values import K
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.schemes import LMResNet


def _lm_network(learn="layer", steps=3):
    spec = NetworkSpec(scheme={"family": "lm_resnet", "learn": learn}, macro="sequence", widths=(4, 6),
                       steps_per_stage=steps)
    return build_network(spec)


def _set_k(model, values):
    """Assign learned k's in network order (stage by stage, step by step)."""
    parameters = [p for stage in model.stages for p in stage.learned_k]
    assert len(parameters) == len(values)
    with torch.no_grad():
        for p, v in zip(parameters, values):
            value = torch.as_tensor(v, dtype=p.dtype)
            p.copy_(value.reshape(p.shape) if value.numel() == p.numel() else value.expand_as(p))


def test_learned_k_table_matches_the_lm_resnet_formulas():
    model = _lm_network()
    ks = [0.3, -0.5, 1.0, 1.2]
    _set_k(model, ks)
    report = analyze_network(model)
    rows = [r for r, startup in zip(report.rows, report.column("startup")) if not startup]
    index = report.columns.index
    symbolic = analyze("lm_resnet").modified_equation
    for row, k in zip(rows, ks):
        assert row[index("k")] == pytest.approx(k)
        # (1 + k) u̇ + (1 − k)(h/2) ü: the same numbers as the symbolic report at this k
        assert row[index("u_dot")] == pytest.approx(float(symbolic.coefficient("lhs", 0, "u'").subs(K, k)))
        assert row[index("h_u_ddot")] == pytest.approx(float(symbolic.coefficient("lhs", 1, "u''").subs(K, k)))
        assert row[index("zero_stable")] == (-1 < k <= 1)
        assert row[index("consistent")] is False and row[index("order")] == 0
    assert report.all_zero_stable is False
    assert report.unstable_steps == ((1, 2),)
    assert report.k_range == pytest.approx((-0.5, 1.2))
    # start-up steps are plain residual (Euler) steps: u̇ + (h/2) ü = f, order 1
    startup = [r for r in report.rows if r[index("startup")]]
    assert all(r[index("u_dot")] == 1 and r[index("h_u_ddot")] == 0.5 and r[index("order")] == 1 for r in startup)


def test_numeric_k_zero_stability_agrees_with_the_scheme_report():
    model = _lm_network(steps=2)
    for k in (-1.0, -0.999, 0.0, 1.0, 1.001):
        _set_k(model, [k, k])
        report = analyze_network(model)
        assert report.all_zero_stable == analyze(LMResNet(k=k, learn="fixed")).zero_stable


def test_per_channel_k_summarised_and_checked_per_channel():
    model = _lm_network(learn="channel", steps=2)
    channel_values = [torch.linspace(-0.5, 0.5, 4), torch.tensor([0.0, 0.2, -1.0, 0.1, 0.3, 0.4])]
    _set_k(model, channel_values)
    report = analyze_network(model)
    index = report.columns.index
    first, second = [r for r in report.rows if not r[index("startup")]]
    assert (first[index("k_min")], first[index("k_max")]) == pytest.approx((-0.5, 0.5))
    assert first[index("zero_stable")] is True
    assert second[index("zero_stable")] is False  # one channel has k = −1 (double root ζ = 1)
    assert first[index("u_dot")] == pytest.approx(1 + float(channel_values[0].mean()))


@pytest.mark.parametrize("scheme, order", [("rk4", 4), ("ab2", 2), ("leapfrog", 2), ("leapfrog2", 2),
                                           ("euler", 1)])
def test_fixed_scheme_networks_report_the_scheme_order(scheme, order):
    model = build_network(NetworkSpec(scheme=scheme, macro="sequence", widths=(4,), steps_per_stage=3))
    report = analyze_network(model)
    assert report.order == order and report.all_zero_stable is True
    assert report_from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_any_object_with_coefficients_works_and_others_are_rejected():
    class Stub:
        def coefficients(self):
            return [{"stage": 0, "step": 0, "alpha": [0.5, -1.5, 1.0], "beta": [0.0, 1.0, 0.0], "h": 1.0}]

    report = analyze_network(Stub())
    assert report.column("zero_stable") == [True] and report.column("order") == [0]
    assert report.column("u_dot") == [pytest.approx(0.5)]
    with pytest.raises(TypeError, match="coefficients"):
        analyze_network(object())


def test_renderings_list_every_step():
    model = _lm_network()
    report = analyze_network(model)
    assert len(str(report).splitlines()) >= len(report.rows) + 3
    assert report.to_latex().count("\\\\\n") >= len(report.rows)
