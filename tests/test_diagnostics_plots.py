"""Figures: stability regions and learned coefficients are written as PNG files; the amplification grid
behind the region plot agrees with the root finder and with the reported intervals."""
from __future__ import annotations

import numpy as np
import pytest

from nas.diagnostics import analyze, plot_coefficients, plot_stability_regions, stability
from nas.diagnostics.report import NetworkReport
from nas.schemes import LMResNet

PNG = b"\x89PNG\r\n\x1a\n"


def test_stability_regions_png(tmp_path):
    path = tmp_path / "figures" / "regions.png"
    plot_stability_regions(["euler", "rk4", "ab2", "leapfrog", LMResNet(k=0.3, learn="fixed")], path)
    assert path.read_bytes()[:8] == PNG
    assert [p.name for p in path.parent.iterdir()] == ["regions.png"]  # no temporary left behind


def test_companion_eigenvalues_match_numpy_roots():
    report = analyze("ab3")
    alpha, beta = [float(a) for a in report.rho], [float(b) for b in report.sigma]
    re, im = np.linspace(-1.0, 0.3, 7), np.linspace(-0.8, 0.8, 5)
    grid = stability.amplification_grid("multistep", (alpha, beta), re, im)
    for i, y in enumerate(im):
        for j, x in enumerate(re):
            expected = np.max(np.abs(stability.multistep_roots(alpha, beta, complex(x, y))))
            assert grid[i, j] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name", ["rk4", "kutta3", "ab2"])
def test_region_grid_agrees_with_the_real_interval(name):
    report = analyze(name)
    edge = report.real_stability_interval[0]
    if report.kind == "runge_kutta":
        kind, coefficients = "runge_kutta", [float(c) for c in report.stability_polynomial]
    else:
        kind, coefficients = "multistep", ([float(a) for a in report.rho], [float(b) for b in report.sigma])
    inside = stability.amplification_grid(kind, coefficients, np.array([0.99 * edge]), np.array([0.0]))
    outside = stability.amplification_grid(kind, coefficients, np.array([1.01 * edge]), np.array([0.0]))
    assert inside[0, 0] <= 1 < outside[0, 0]


def test_unplottable_schemes_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="symbolic"):
        plot_stability_regions("lm_resnet", tmp_path / "x.png")
    with pytest.raises(ValueError, match="Runge-Kutta and multistep"):
        plot_stability_regions("hamiltonian", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def _network_report(ks):
    columns = ("stage", "step", "startup", "k", "k_min", "k_max", "u_dot", "h_u_ddot", "consistent",
               "zero_stable", "order")
    rows = [(0, 0, True, None, None, None, 1.0, 0.5, True, True, 1)]
    rows += [(0, n + 1, False, k, k - 0.1, k + 0.1, 1 + k, (1 - k) / 2, False, -1 < k <= 1, 0)
             for n, k in enumerate(ks)]
    return NetworkReport(name="stub", scheme={}, arithmetic="float", order=0, columns=columns, rows=tuple(rows))


def test_coefficient_plot_png(tmp_path):
    path = tmp_path / "k.png"
    plot_coefficients(_network_report([-0.05, 0.2, 1.3]), path)
    assert path.read_bytes()[:8] == PNG


def test_coefficient_plot_needs_learned_coefficients(tmp_path):
    report = _network_report([])
    with pytest.raises(ValueError, match="no learned coefficient"):
        plot_coefficients(report, tmp_path / "k.png")
