"""Figures (matplotlib, Agg backend, PNG written atomically).

* :func:`plot_stability_regions`: the regions {z = hλ : the method is stable on u' = λu} of several
  schemes overlaid: |R(z)| ≤ 1 for Runge-Kutta, root condition of ρ − zσ for multistep methods (with the
  boundary locus ρ(e^{iθ})/σ(e^{iθ}) drawn too: it shows leapfrog's region, the segment (−i, i)).
* :func:`plot_coefficients`: learned coefficients against depth (LM-ResNet k per step with the channel
  range, the per-layer modified-equation coefficients (1 + k) and (1 − k)/2, and the zero-stability
  bounds −1 < k ≤ 1).
* :func:`plot_refinement`: a tied network's depth refinement (``nas.refinement``): test accuracy and the
  relative change of the logits against the refinement factor.
"""
from __future__ import annotations

import numpy as np

from nas.atomic import atomic_path

from . import stability
from .report import MultistepReport, NetworkReport, Report, RungeKuttaReport

_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
            "tab:gray", "tab:olive", "tab:cyan")


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _report(item) -> Report:
    if isinstance(item, Report):
        return item
    from . import analyze

    return analyze(item)


def has_stability_region(report: Report) -> bool:
    """True for reports whose scheme has a region of absolute stability in the hλ-plane to draw."""
    return isinstance(report, (RungeKuttaReport, MultistepReport))


def check_plottable(report: Report) -> None:
    if isinstance(report, RungeKuttaReport):
        return
    if isinstance(report, MultistepReport):
        if report.arithmetic == "symbolic":
            raise ValueError(f"{report.name}: symbolic coefficients (k) have no stability region to draw; "
                             "give k a value (API: LMResNet(k=0.3, learn='fixed'); CLI: --k 0.3)")
        return
    raise ValueError(f"{report.name}: stability regions are drawn for Runge-Kutta and multistep schemes "
                     f"only, not for {report.kind} reports")


def stability_extent(reports) -> tuple:
    """A plot window (re_min, re_max, im_max) that holds every region."""
    reach = 1.5
    for report in reports:
        for value in (*report.real_stability_interval, *report.imaginary_stability_interval):
            reach = max(reach, abs(float(value)))
        if isinstance(report, MultistepReport):
            for re, im in report.boundary_locus:
                reach = max(reach, min(abs(re), 10.0), min(abs(im), 10.0))
    return -1.15 * reach, 0.35 * reach, 1.15 * reach


def plot_stability_regions(schemes, path, *, resolution: int = 301, title: str | None = None):
    """Overlay the stability regions of ``schemes`` (scheme objects, names or reports) and save a PNG."""
    if isinstance(schemes, (str, dict, Report)) or not hasattr(schemes, "__iter__"):
        schemes = [schemes]
    reports = [_report(s) for s in schemes]
    if not reports:
        raise ValueError("schemes: give at least one scheme to plot")
    for report in reports:
        check_plottable(report)
    plt = _figure()
    from matplotlib.lines import Line2D

    re_min, re_max, im_max = stability_extent(reports)
    re = np.linspace(re_min, re_max, resolution)
    im = np.linspace(-im_max, im_max, resolution)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    handles = []
    for report, colour in zip(reports, _COLOURS * (1 + len(reports) // len(_COLOURS))):
        if isinstance(report, RungeKuttaReport):
            amplification = stability.amplification_grid(
                report.kind, [float(c) for c in report.stability_polynomial], re, im)
        else:
            amplification = stability.amplification_grid(
                report.kind, ([float(a) for a in report.rho], [float(b) for b in report.sigma]), re, im)
            locus = np.asarray(report.boundary_locus, dtype=float)
            if len(locus):
                ax.plot(locus[:, 0], locus[:, 1], color=colour, linestyle="--", linewidth=0.8)
            low, high = report.imaginary_stability_interval
            if report.real_stability_interval == (0.0, 0.0) and high > 0:
                # a region without interior (leapfrog: the open segment (−i r, i r)) is drawn as the segment
                ax.plot([0.0, 0.0], [low, high], color=colour, linewidth=4, alpha=0.8, solid_capstyle="butt")
        ax.contourf(re, im, amplification, levels=[0.0, 1.0 + 1e-9], colors=[colour], alpha=0.18)
        ax.contour(re, im, amplification, levels=[1.0], colors=[colour], linewidths=1.5)
        handles.append(Line2D([], [], color=colour, linewidth=2, label=report.name))
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.axvline(0.0, color="black", linewidth=0.5)
    ax.set_xlabel("Re(hλ)")
    ax.set_ylabel("Im(hλ)")
    ax.set_aspect("equal")
    ax.set_title(title or "Linear stability regions")
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small")
    _save(fig, path)
    plt.close(fig)
    return path


def plot_coefficients(network, path, *, title: str | None = None):
    """Learned coefficients against depth from a :class:`NetworkReport` (or a model with coefficients())."""
    if not isinstance(network, NetworkReport):
        from .network import analyze_network

        network = analyze_network(network)
    ks = network.column("k")
    if all(k is None for k in ks):
        raise ValueError(f"{network.name}: the network has no learned coefficient k to plot")
    depth = np.arange(len(ks))
    steps = [i for i, k in enumerate(ks) if k is not None]
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    k = np.array([ks[i] for i in steps], dtype=float)
    k_min = np.array([network.column("k_min")[i] for i in steps], dtype=float)
    k_max = np.array([network.column("k_max")[i] for i in steps], dtype=float)
    x = depth[steps]
    ax.fill_between(x, k_min, k_max, color="tab:blue", alpha=0.2, label="k range over channels")
    ax.plot(x, k, "o-", color="tab:blue", label="k (mean)")
    ax.plot(x, 1 + k, "s--", color="tab:green", markersize=4, label="1 + k  (coefficient of u')")
    ax.plot(x, (1 - k) / 2, "^--", color="tab:orange", markersize=4, label="(1 - k)/2  (of h u'')")
    for bound in (-1.0, 1.0):
        ax.axhline(bound, color="tab:red", linewidth=0.8, linestyle=":")
    unstable = [i for i, flag in zip(steps, [network.column("zero_stable")[i] for i in steps]) if flag is False]
    if unstable:
        ax.plot(unstable, [ks[i] for i in unstable], "x", color="tab:red", markersize=10, label="not zero-stable")
    starts = [i for i, s in enumerate(network.column("startup")) if s]
    for i in starts:
        ax.axvline(i, color="gray", linewidth=0.5, alpha=0.5)
    ax.set_xlabel("step (depth; thin lines: start-up step of a stage)")
    ax.set_ylabel("coefficient")
    ax.set_title(title or f"Learned coefficients: {network.name}")
    ax.legend(fontsize="small", loc="best")
    _save(fig, path)
    plt.close(fig)
    return path


def plot_coefficient_trajectory(trajectory, path, *, title: str | None = None):
    """Learned scheme coefficients against the epoch, from ``nas.networks.learned.coefficient_trajectory`` (one
    dict per epoch: parameter name -> concrete scheme); every coefficient column of the family
    (``coefficient_columns``: A, b, c; α, β; k; γ), one line each, for each learned parameter."""
    from nas.families.registry import family_of

    if not trajectory:
        raise ValueError("trajectory: no epoch recorded learned coefficients")
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    epochs = np.arange(1, len(trajectory) + 1)
    names = list(trajectory[0])
    for name in names:
        rows = [family_of(epoch[name]).coefficient_columns(epoch[name].to_dict()) for epoch in trajectory]
        for column in rows[0]:
            label = column.removeprefix("coef_") if len(names) == 1 else f"{name}: {column.removeprefix('coef_')}"
            ax.plot(epochs, [row[column] for row in rows], "o-", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("coefficient")
    ax.set_title(title or f"Learned coefficients: {trajectory[-1][names[0]]}")
    ax.legend(fontsize="small", loc="best", ncol=2)
    _save(fig, path)
    plt.close(fig)
    return path


def _save(fig, path) -> None:
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=110, bbox_inches="tight")


__all__ = ["check_plottable", "has_stability_region", "plot_coefficients", "plot_stability_regions", "stability_extent"]


def plot_refinement(rows, path, title: str = "Depth refinement") -> None:
    """Accuracy (left) and relative change of the logits per refinement (right, log scale) against the factor,
    one line per scheme (``nas.refinement.RefinementRow`` objects or their dicts)."""
    plt = _figure()
    rows = [row if isinstance(row, dict) else row.to_dict() for row in rows]
    schemes = list(dict.fromkeys(row["scheme"] for row in rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for colour, scheme in zip(_COLOURS, schemes):
        mine = [row for row in rows if row["scheme"] == scheme]
        left.plot([r["factor"] for r in mine], [100 * r["accuracy"] for r in mine], "o-", color=colour, label=scheme)
        changed = [r for r in mine if r["change"] is not None and r["change"] > 0]
        if changed:
            right.loglog([r["factor"] for r in changed], [r["change"] for r in changed], "o-", color=colour,
                         label=scheme)
    for axis in (left, right):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("refinement factor (steps × factor, h / factor)")
        axis.grid(True, which="both", alpha=0.3)
    left.set_ylabel("test accuracy (%)")
    right.set_ylabel("relative change of the logits\nagainst the previous factor")
    left.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as target:
        fig.savefig(target, dpi=110, format="png")
    plt.close(fig)
