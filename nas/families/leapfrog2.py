"""The leapfrog network of Chang, Meng, Haber, Ruthotto, Begert, Holtham (AAAI 2018, eq. 10): Störmer's rule
for x'' = F(x), second order in time.

    x_{j+1} = 2x_j − x_{j−1} + h² F_j(x_j),   F_j(x) = −K_jᵀ σ(K_j x + b_j)
    inverse: x_{j−1} = 2x_j − x_{j+1} + h² F_j(x_j)

(The paper's "midpoint network" is the registry's two-step ``leapfrog`` of the multistep family, not this.)

``nas.integrate`` (``ode_form = "second_order"``) takes the force F of x'' = F(x); ``x0`` is x(0) (zero initial
velocity) or the pair (x(0), x'(0)); the result is x_N. The first step is the Taylor start
x_1 = x_0 + h v_0 + (h²/2) F(x_0), which keeps Störmer's global order 2 (Hairer, Lubich, Wanner, Geometric
Numerical Integration (2006), §I.1.4).

Network stage: x_{n+1} = 2x_n − x_{n−1} − h² f_n(x_n) (force F = −f), started with zero velocity,
x_1 = x_0 − (h²/2) f_0(x_0).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from .base import NamedScheme, ParameterFreeScheme, StageParts, negated
from .capabilities import ConvertibleFamily, ReversibleFamily

NAME = "leapfrog2"


@dataclass(frozen=True)
class Leapfrog2(ParameterFreeScheme):
    """The second-order-in-time leapfrog network step (Chang et al. 2018, eq. 10): Störmer's rule."""

    name: str = NAME
    family: str = field(default=NAME, init=False)
    ode_form: ClassVar[str] = "second_order"
    steps: ClassVar[int] = 2  # x_{j+1} depends on x_j and x_{j−1}
    reversible: ClassVar[bool] = True

    @staticmethod
    def start(force, x0, h, v0=None):
        """x_1 = x_0 + h v_0 + (h²/2) F(x_0) (v_0 = 0 when None: the network convention)."""
        x1 = x0 + (h * h / 2) * force(x0)
        return x1 if v0 is None else x1 + h * v0

    @staticmethod
    def step(force, x_previous, x, h):
        """x_{j+1} = 2x_j − x_{j−1} + h² F(x_j)."""
        return 2 * x - x_previous + (h * h) * force(x)

    @staticmethod
    def inverse_step(force, x, x_next, h):
        """x_{j−1} = 2x_j − (x_{j+1} − h² F(x_j)): :meth:`step` solved for the older state, its operations
        undone in reverse order (which keeps the floating-point inversion closest to exact)."""
        return 2 * x - (x_next - (h * h) * force(x))


LEAPFROG2 = Leapfrog2()
"""Chang et al. (AAAI 2018), 'leapfrog network'; Störmer. Order 2 for x'' = F(x)."""


class Leapfrog2Family(ReversibleFamily, ConvertibleFamily):
    name = NAME
    scheme_type = Leapfrog2
    stage_modules = ("residuals",)

    def named_schemes(self):
        return (NamedScheme.constant(LEAPFROG2, 2, "Chang et al. (AAAI 2018), 'leapfrog network'; Störmer",
                                     "x_{n+1} = 2x_n − x_{n−1} − h² Kᵀσ(Kx_n + b); order 2 for x'' = F(x)"),)

    # stepping: Störmer's rule for x'' = F(x), returns x_N from x0 = x(0) or (x(0), x'(0))
    def integrate(self, scheme, fns, x0, h, steps, startup):
        if not all(callable(f) for f in fns):
            raise ValueError("f: the leapfrog2 scheme integrates x'' = F(x); pass the force F (callable)")
        x, v0 = (x0[0], x0[1]) if isinstance(x0, (tuple, list)) else (x0, None)
        if steps == 0:
            return x
        previous, x = x, scheme.start(fns[0], x, h, v0)
        for f in fns[1:]:
            previous, x = x, scheme.step(f, previous, x, h)
        return x

    # network stage
    def init_stage(self, stage, spec, width, first_step, make_residual):
        from torch import nn

        return StageParts({"residuals": nn.ModuleList(make_residual(step=n) for n in range(spec.steps_per_stage))})

    def _run(self, stage, x):
        h2 = stage.h * stage.h
        previous = x
        for n, f in enumerate(stage.residuals):
            force = negated(f)
            if stage.noise is not None:
                increment = stage.noise[n]((h2 / 2 if n == 0 else h2) * force(x), x)
                previous, x = x, (x if n == 0 else 2 * x - previous) + increment
            elif n == 0:
                previous, x = x, stage.scheme.start(force, x, stage.h)
            else:
                previous, x = x, stage.scheme.step(force, previous, x, stage.h)
            x = stage.after_step(x)
        return previous, x

    def stage_forward(self, stage, x):
        return self._run(stage, x)[1]

    def stage_coefficients(self, stage):
        h2 = stage.h * stage.h
        return [{"step": 0, "startup": True, "h": stage.h, "alpha": [-1.0, 1.0], "force": h2 / 2}] + [
            {"step": n, "startup": False, "h": stage.h, "alpha": [1.0, -2.0, 1.0], "force": h2}
            for n in range(1, len(stage.residuals))
        ]

    # converted networks and memory-efficient mode: started from rest (zero velocity) at every stage
    def forward_states(self, stage, x):
        return self._run(stage, x)

    def backward_states(self, stage, x, states, grad_output, accumulate):
        from nas.networks.reversible_autograd import two_step_backward

        h2 = stage.h * stage.h
        return two_step_backward(stage.residuals, x, *states, grad_output, accumulate, a=2.0, c=-1.0, d=-h2, d0=-h2 / 2)

    def reconstruct_input(self, stage, states):
        """x_0 from (x_{N−1}, x_N) by ``Leapfrog2.inverse_step`` (no gradients)."""
        import torch

        from nas.networks.reversible_autograd import frozen_batch_norm_statistics

        x, x_next = states
        with torch.no_grad(), frozen_batch_norm_statistics(stage):
            for f in reversed(stage.residuals[1:]):
                x, x_next = stage.scheme.inverse_step(negated(f), x, x_next, stage.h), x
        return x

    def paper_residual(self, scheme):
        return "kernel_transpose"

    # diagnostics
    def analyze(self, scheme, tolerance):
        from nas.diagnostics.reversible import analyze_leapfrog2

        return analyze_leapfrog2(scheme, tolerance=tolerance)

    def card_rows(self, scheme):
        return {"ODE form": "second order: x'' = F(x), F = -f (Störmer; reversible), zero initial velocity"}


__all__ = ["LEAPFROG2", "Leapfrog2", "Leapfrog2Family"]
