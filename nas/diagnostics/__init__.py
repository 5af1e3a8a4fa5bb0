"""Modified-equation diagnostics: what differential equation a scheme (or a trained network) really
discretises, its order and its stability.

``analyze(scheme)`` returns a :class:`Report` for any scheme object of :mod:`nas.schemes` (or a
registered name, or a scheme's JSON dict); the scheme's family (``nas.families``) picks the analysis:

* :class:`RungeKuttaReport`  (ButcherTableau): rooted-tree order conditions, error coefficients, R(z),
  stability intervals, B-series modified equation;
* :class:`MultistepReport`   (LinearMultistep, LMResNet — symbolic in k when k is learned): ρ, σ, order,
  error constant, root condition, stability, Taylor-form and principal-root modified equations;
* :class:`ReversibleReport`  (Hamiltonian, Leapfrog2): order, step bound h ω < 2, BCH modified field;
* :class:`NoiseReport`       (NoiseSchedule, with ``depth`` and ``h``): SDE terms per step, total variance.

``analyze_network(model)`` gives the per-layer table of a built network (:class:`NetworkReport`);
``plot_stability_regions`` and ``plot_coefficients`` draw PNG figures. Every report has ``to_dict`` /
``report_from_dict`` (exact JSON round trip), ``to_latex`` and a readable ``str``.
"""
from __future__ import annotations

from nas.families import registry as _registry
from nas.schemes.noise import NoiseSchedule

from .multistep import analyze_lm_resnet, analyze_multistep
from .network import analyze_network
from .noise import analyze_noise
from .plots import plot_coefficient_trajectory, plot_coefficients, plot_stability_regions
from .report import (ModifiedEquation, MultistepReport, NetworkReport, NoiseReport, Report, ReversibleReport, RungeKuttaReport,
                     Term, report_from_dict)
from .reversible import analyze_hamiltonian, analyze_leapfrog2
from .runge_kutta import analyze_runge_kutta


def accepted() -> str:
    names = ", ".join([family.scheme_type.__name__ for family in _registry.FAMILIES.values()]
                      + [NoiseSchedule.__name__])
    return f"a scheme object ({names}), a registered scheme name or a scheme's JSON dict"


def analyze(scheme, tolerance: float = 1e-9, *, depth: int | None = None, h: float | None = None) -> Report:
    """The diagnostics report of ``scheme``.

    Exact (sympy Rationals) when the coefficients are Fractions, symbolic in k for a learned LM-ResNet,
    floats otherwise; ``tolerance`` decides float order conditions. A noise schedule is analysed over
    ``depth`` steps of size ``h`` (defaults 10 and 1/depth); those options apply to nothing else. Raises
    ``TypeError`` for anything that is not a scheme, ``ValueError`` for an unknown name, an invalid JSON
    dict or a misplaced option.
    """
    if isinstance(scheme, (str, dict)):
        scheme = _registry.resolve(scheme)
    if isinstance(scheme, NoiseSchedule):
        return analyze_noise(scheme, depth=depth, h=h)
    if not _registry.is_scheme(scheme):
        raise TypeError(f"analyze: expected {accepted()}; got {type(scheme).__name__}")
    for option, value in (("depth", depth), ("h", h)):
        if value is not None:
            raise ValueError(f"{option}: only used for noise schedules, not for {type(scheme).__name__}")
    return _registry.family_of(scheme).analyze(scheme, tolerance)


__all__ = ["ModifiedEquation", "MultistepReport", "NetworkReport", "NoiseReport", "Report", "ReversibleReport", "RungeKuttaReport", "Term",
           "accepted", "analyze", "analyze_hamiltonian", "analyze_network", "analyze_leapfrog2", "analyze_lm_resnet",
           "analyze_multistep", "analyze_noise", "analyze_runge_kutta", "plot_coefficient_trajectory", "plot_coefficients", "plot_stability_regions",
           "report_from_dict"]
