"""The figures of a model's card: ``stability.png`` (the scheme's region of absolute stability, or one region per
learned step), ``coefficients.png`` (learned coefficients against depth), ``refinement.png`` (a tied
network's depth-refinement curve) and ``coefficient_trajectory.png`` (a network that learned its scheme's
coefficients, ``learn_scheme``: the learned scheme epoch by epoch), drawn by ``nas.diagnostics``."""
from __future__ import annotations

from pathlib import Path

MAX_REGIONS = 6  # learned per-step coefficients: at most this many regions overlaid in one plot
TRAJECTORY_FILE = "coefficient_trajectory.png"
PLOT_FILES = ("stability.png", "coefficients.png", "refinement.png", TRAJECTORY_FILE)  # every figure a card may have


def stability_schemes(scheme, per_step: list[dict]) -> list:
    """The schemes whose stability regions describe a trained network (the family's ``stability_proxy``).

    A fixed scheme stands for itself; a scheme with learned coefficients gives one scheme per learned step
    (its per-channel mean), at most ``MAX_REGIONS`` of them spread over depth. Families without a linear
    stability region (reversible schemes) give none.
    """
    from ..families.registry import family_of

    family = family_of(scheme)
    names = family.learned_coefficients(scheme)
    if not names:
        proxy = family.stability_proxy(scheme)
        return [] if proxy is None else [proxy]
    learned = [row for row in per_step if all(row.get(name) is not None for name in names)]
    if len(learned) > MAX_REGIONS:
        learned = [learned[round(i * (len(learned) - 1) / (MAX_REGIONS - 1))] for i in range(MAX_REGIONS)]
    proxies = [family.stability_proxy(scheme, {name: row[name] for name in names},
                                      name=f"step {row['depth']}: {scheme.name}") for row in learned]
    return [proxy for proxy in proxies if proxy is not None]


def write_card_plots(spec, model, per_step, folder: Path, refinement=None) -> list[str]:
    """``stability.png`` (regions of the scheme, or of each learned step), ``coefficients.png`` (learned
    coefficients against depth) and ``refinement.png`` (tied networks: accuracy and change of the logits
    against the refinement factor) when they apply; returns the file names written."""
    from .. import diagnostics

    written = []
    schemes = stability_schemes(spec.scheme, per_step)
    if schemes:
        diagnostics.plot_stability_regions(schemes, folder / "stability.png",
                                           title=f"Stability region: {spec.scheme}")
        written.append("stability.png")
    if any(row.get("k") is not None for row in per_step) and getattr(spec.scheme, "learned", False):
        diagnostics.plot_coefficients(model, folder / "coefficients.png")
        written.append("coefficients.png")
    if refinement:
        from ..diagnostics.plots import plot_refinement

        plot_refinement(refinement, folder / "refinement.png", title=f"Depth refinement: {spec.scheme}")
        written.append("refinement.png")
    return written


def write_trajectory_plot(trained_spec, trial_metrics: dict | None, folder: Path) -> list[str]:
    """``coefficient_trajectory.png``: the coefficients of the scheme a network learned (``trained_spec``, the
    spec it trained with, ``learn_scheme`` on), epoch by epoch, from the per-epoch θ its trial recorded
    (``metrics.json`` ``history``, ``nas.networks.learned.trial_history_entry``). Returns ``[]`` (nothing drawn)
    for a network with fixed coefficients or a trial that recorded no θ (e.g. one trained before θ was kept)."""
    if getattr(trained_spec, "learn_scheme", "none") == "none":
        return []
    history = [entry for entry in (trial_metrics or {}).get("history") or ()
               if isinstance(entry, dict) and entry.get("coefficients")]
    if not history:
        return []
    from ..diagnostics import plot_coefficient_trajectory
    from ..networks.learned import coefficient_trajectory

    trajectory = coefficient_trajectory(trained_spec, history)
    plot_coefficient_trajectory(trajectory, folder / TRAJECTORY_FILE,
                                title=f"Learned coefficients over {len(trajectory)} epochs, from "
                                      f"{trained_spec.scheme.name} (order {trained_spec.learn_order} kept)")
    return [TRAJECTORY_FILE]


__all__ = ["MAX_REGIONS", "PLOT_FILES", "TRAJECTORY_FILE", "stability_schemes", "write_card_plots",
           "write_trajectory_plot"]
