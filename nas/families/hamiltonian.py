"""The Hamiltonian network of Chang, Meng, Haber, Ruthotto, Begert, Holtham, "Reversible Architectures for
Arbitrarily Deep Residual Neural Networks" (AAAI 2018, eq. 7): a two-variable Verlet step.

    Y_{j+1} = Y_j + h g_j(Z_j),         g_j(Z) =  K_{j1}ᵀ σ(K_{j1} Z + b_{j1})
    Z_{j+1} = Z_j + h G_j(Y_{j+1}),     G_j(Y) = −K_{j2}ᵀ σ(K_{j2} Y + b_{j2})
    inverse: Z_j = Z_{j+1} − h G_j(Y_{j+1}), then Y_j = Y_{j+1} − h g_j(Z_j)

Exact inverse in exact arithmetic (re-evaluate the same function at a known state and subtract: no
division, no solve), which the memory-efficient mode relies on.

``nas.integrate`` (``ode_form = "partitioned"``) integrates the separable system y' = g(z), z' = G(y), given
as a :class:`SeparableField` (``drift`` = g, ``kick`` = G) or one per step; ``x0`` is the pair (y0, z0) and the
result the pair (y_N, z_N). The network step is the staggered form (Z lives half a step ahead of Y);
``integrate`` adds the half kicks z_{1/2} = z_0 + (h/2) G(y_0) at the start and z_N = z_{N+1/2} − (h/2) G(y_N)
at the end, which makes it the Störmer–Verlet method, order 2 (Hairer, Lubich, Wanner, Geometric Numerical
Integration (2006), §I.3.1 and Theorem II.3.4).

Network stage: the channels split in two halves Y, Z; per step two residual functions f1, f2 of half width:
Y += h f1(Z), Z −= h f2(Y) (drift g = f1, kick G = −f2).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

from .base import NamedScheme, ParameterFreeScheme, StageParts, negated
from .capabilities import ReversibleFamily

NAME = "hamiltonian"


@dataclass(frozen=True)
class SeparableField:
    """The right-hand side of the separable system y' = drift(z), z' = kick(y) (for ``hamiltonian``)."""

    drift: Callable
    kick: Callable

    def __post_init__(self):
        for name in ("drift", "kick"):
            if not callable(getattr(self, name)):
                raise ValueError(f"{name}: expected a callable, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class Hamiltonian(ParameterFreeScheme):
    """The Hamiltonian (Verlet) network step on two channel halves (Chang et al. 2018, eq. 7)."""

    name: str = NAME
    family: str = field(default=NAME, init=False)
    ode_form: ClassVar[str] = "partitioned"
    steps: ClassVar[int] = 1  # one step of the pair (Y, Z)
    reversible: ClassVar[bool] = True

    # The one stepping code: the networks and the diagnostics call these two functions too.
    @staticmethod
    def step(drift, kick, y, z, h):
        """(Y_j, Z_j) → (Y_{j+1}, Z_{j+1}); ``drift`` = g_j, ``kick`` = G_j."""
        y = y + h * drift(z)
        return y, z + h * kick(y)

    @staticmethod
    def inverse_step(drift, kick, y, z, h):
        """(Y_{j+1}, Z_{j+1}) → (Y_j, Z_j), exactly the inverse of :meth:`step` in exact arithmetic."""
        z = z - h * kick(y)
        return y - h * drift(z), z


HAMILTONIAN = Hamiltonian()
"""Chang et al. (AAAI 2018), 'Hamiltonian network'; Verlet. Order 2 for y' = g(z), z' = G(y)."""


@dataclass(frozen=True)
class HamiltonianStageState:
    """A Hamiltonian stage's split: channels [0, half) are y, [half, width) are z."""

    half: int


class HamiltonianFamily(ReversibleFamily):
    name = NAME
    scheme_type = Hamiltonian
    stage_modules = ("drifts", "kicks")

    def named_schemes(self):
        return (NamedScheme.constant(HAMILTONIAN, 2, "Chang et al. (AAAI 2018), 'Hamiltonian network'; Verlet",
                                     "Y += h K1ᵀσ(K1 Z + b1), Z −= h K2ᵀσ(K2 Y + b2); order 2 for y' = g(z), "
                                     "z' = G(y)"),)

    # stepping: Störmer–Verlet for y' = drift(z), z' = kick(y), returns (y_N, z_N) from x0 = (y_0, z_0)
    def integrate(self, scheme, fns, x0, h, steps, startup):
        if not all(isinstance(f, SeparableField) for f in fns):
            raise ValueError("f: the hamiltonian scheme integrates y' = g(z), z' = G(y); pass "
                             "nas.schemes.SeparableField(drift=g, kick=G) (or one per step)")
        if not (isinstance(x0, (tuple, list)) and len(x0) == 2):
            raise ValueError("x0: the hamiltonian scheme needs the pair (y0, z0)")
        y, z = x0
        if steps == 0:
            return y, z
        z = z + (h / 2) * fns[0].kick(y)  # z at t = h/2: the staggered variable of the network step
        for f in fns:
            y, z = scheme.step(f.drift, f.kick, y, z, h)
        return y, z - (h / 2) * fns[-1].kick(y)  # back from t_N + h/2 to t_N

    # network stage
    def init_stage(self, stage, spec, width, first_step, make_residual):
        from torch import nn

        if width % 2:
            raise ValueError(
                f"widths[{first_step // spec.steps_per_stage}] = {width}: the hamiltonian scheme splits the "
                "channels in two halves; every width must be even"
            )
        half, steps = width // 2, spec.steps_per_stage
        drifts = nn.ModuleList(make_residual(half, step=n, role="drift") for n in range(steps))
        kicks = nn.ModuleList(make_residual(half, step=n, role="kick") for n in range(steps))
        return StageParts({"drifts": drifts, "kicks": kicks}, HamiltonianStageState(half))

    @staticmethod
    def _split(stage, x):
        half = stage.state.half
        return x[:, :half], x[:, half:]

    def stage_forward(self, stage, x):
        import torch

        y, z = self._split(stage, x)
        for n, (f1, f2) in enumerate(zip(stage.drifts, stage.kicks)):
            if stage.noise is None:
                y, z = stage.scheme.step(f1, negated(f2), y, z, stage.h)
            else:  # the step's noise perturbs each of its two increments
                y = y + stage.noise[n](stage.h * f1(z), y)
                z = z + stage.noise[n](-stage.h * f2(y), z)
        return torch.cat((y, z), dim=1)

    def stage_coefficients(self, stage):
        return [{"step": n, "h": stage.h, "y_increment": stage.h, "z_increment": -stage.h}
                for n in range(len(stage.drifts))]

    def conversion_reason(self, scheme):
        return ("it splits the channels into two halves, each step evaluating two half-width residual functions "
                "(drift and kick); a torchvision block maps the full width")

    def forward_states(self, stage, x):
        return (self.stage_forward(stage, x),)

    def backward_states(self, stage, x, states, grad_output, accumulate):
        """Inverse step (``Hamiltonian.inverse_step``) fused with the step's vector-Jacobian products."""
        import torch

        from nas.networks.reversible_autograd import local_vjp

        (output,) = states
        y, z = self._split(stage, output)
        gy, gz = self._split(stage, grad_output)
        h = stage.h
        for f1, f2 in zip(reversed(stage.drifts), reversed(stage.kicks)):
            kick, g_kick = local_vjp(f2, f2, y, gz, -h, accumulate)  # −h f2(Y_{j+1})
            z = z - kick
            gy = gy + g_kick
            drift, g_drift = local_vjp(f1, f1, z, gy, h, accumulate)  # h f1(Z_j)
            y = y - drift
            gz = gz + g_drift
        return torch.cat((gy, gz), dim=1)

    def reconstruct_input(self, stage, states):
        import torch

        from nas.networks.reversible_autograd import frozen_batch_norm_statistics

        y, z = self._split(stage, states[-1])
        with torch.no_grad(), frozen_batch_norm_statistics(stage):
            for f1, f2 in zip(reversed(stage.drifts), reversed(stage.kicks)):
                y, z = stage.scheme.inverse_step(f1, negated(f2), y, z, stage.h)
        return torch.cat((y, z), dim=1)

    def paper_residual(self, scheme):
        return "kernel_transpose"

    # diagnostics
    def analyze(self, scheme, tolerance):
        from nas.diagnostics.reversible import analyze_hamiltonian

        return analyze_hamiltonian(scheme, tolerance=tolerance)

    def card_rows(self, scheme):
        return {"ODE form": "partitioned: y' = g(z), z' = G(y) on two channel halves (Verlet; reversible)"}


__all__ = ["HAMILTONIAN", "Hamiltonian", "HamiltonianFamily", "HamiltonianStageState", "SeparableField"]
