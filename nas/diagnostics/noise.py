"""Diagnostics of a noise schedule: the stochastic modified equation per step, the total injected
variance over depth and the weak order (Sun, Tao, Du, "Stochastic Training of Residual Networks: a
Differential Equation Viewpoint" (2018); SCIENCE.md §4).

A noisy step x_{n+1} = x_n + η_n h F_n(x_n), η_n = E[η_n] + sd(η_n) ξ_n, is an Euler–Maruyama step of
    dX = E[η](t) F dt + sd(η)(t) √h F dW,
and the additive kind x_{n+1} = x_n + h F + √h σ_n ε of dX = F dt + σ(t) dW. Every per-step number is read
from the schedule's own methods (``mean``, ``variance``, ``drift_scale``, ``diffusion_scale``,
``additive_variance``, ``total_variance``): the formulas live in one place, ``nas.schemes.noise``.
"""
from __future__ import annotations


import sympy

from nas.checks import is_int, step_size
from nas.limits import MAX_STEPS
from nas.schemes.noise import NoiseSchedule

from . import values
from .report import NoiseReport

DEFAULT_DEPTH = 10
COLUMNS = ("step", "t", "mean", "variance", "drift_scale", "diffusion_scale", "additive_variance")


def analyze_noise(schedule: NoiseSchedule, depth: int | None = None, h: float | None = None) -> NoiseReport:
    """The report of ``schedule`` over ``depth`` steps of size ``h`` (defaults: 10 steps, h = 1/depth)."""
    depth = DEFAULT_DEPTH if depth is None else depth
    if not is_int(depth) or not 1 <= depth <= MAX_STEPS:
        raise ValueError(f"depth: number of steps must be an integer in 1..{MAX_STEPS} (the most steps a network "
                         f"has), got {depth!r}")
    h = 1.0 / depth if h is None else step_size(h)
    rows = tuple(
        (n, (n + 1) / depth, schedule.mean(n, depth), schedule.variance(n, depth), schedule.drift_scale(n, depth),
         schedule.diffusion_scale(n, depth, h), schedule.additive_variance(n, depth, h))
        for n in range(depth)
    )
    noisy = schedule.kind != "none"
    if not noisy:
        sde = "dX = F dt (no noise: the deterministic scheme)"
    elif schedule.multiplicative:
        sde = "dX = E[eta](t) F dt + sd(eta)(t) sqrt(h) F dW"
    else:
        sde = "dX = F dt + sigma(t) dW"
    notes = []
    if noisy:
        level = "one draw per sample" if schedule.per_sample else "independent draws per element"
        notes.append(f"{schedule.kind}: {level}; eval mode uses the expectation E[eta_n] (no sampling)")
        if all(row[3] == 0 and row[6] == 0 for row in rows):
            notes.append("every step has zero variance with these parameters: the noise is inactive")
    weak = 1 if noisy else None
    strong = (sympy.Rational(1, 2) if schedule.multiplicative else sympy.Integer(1)) if noisy else None
    return NoiseReport(
        name=str(schedule), scheme=schedule.to_dict(), arithmetic=values.FLOAT, order=weak, notes=tuple(notes),
        noise_kind=schedule.kind, shape=schedule.shape, depth=depth, h=h, multiplicative=schedule.multiplicative,
        per_sample=schedule.per_sample, sde=sde, columns=COLUMNS, steps=rows,
        total_injected_variance=float(schedule.total_variance(depth, h)), weak_order=weak, strong_order=strong,
    )


__all__ = ["COLUMNS", "DEFAULT_DEPTH", "analyze_noise"]
