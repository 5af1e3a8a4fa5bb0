"""Reversible network stages and the residual forms of Chang et al. (AAAI 2018), registered in
``stages.STAGES`` and ``blocks.RESIDUAL_FORMS``.

Stages (each runs its scheme's own stepping code, ``nas.schemes.reversible``, or ``nas.stepper``):

- :class:`HamiltonianStage` (``hamiltonian``): the channels split in two halves Y, Z; per step two residual
  functions f1, f2 of half width: Y += h f1(Z), Z −= h f2(Y) (drift g = f1, kick G = −f2).
- :class:`Leapfrog2Stage` (``leapfrog2``): x_{n+1} = 2x_n − x_{n−1} − h² f_n(x_n) (force F = −f), started
  with zero velocity, x_1 = x_0 − (h²/2) f_0(x_0).
- :class:`ReversibleMultistepStage` (``multistep``, ``lm_resnet``): the plain ``MultistepStage`` plus the
  memory-efficient mode for two-step methods that invert without division (|α_0| = 1, β_0 = 0), i.e. the
  two-step ``leapfrog`` = the paper's midpoint network x_{n+1} = x_{n−1} + 2h f_n(x_n).

Residual forms (``NetworkSpec.residual``), with σ = ReLU ∘ BN (batch norm's shift is the bias b, its
scale a per-channel normalisation, as in the paper's reference implementation):

- ``kernel_transpose``: f(x) = Kᵀ σ(K x), K a 3-tap convolution and Kᵀ the transposed convolution with the
  same kernel (the adjoint of K: ``mlp`` uses Wᵀ). The Hamiltonian and leapfrog networks' form.
- ``single_layer``: f(x) = σ(K x). The midpoint network's form.
- ``antisymmetric``: f(x) = σ((K − Kᵀ) x): K − Kᵀ has imaginary eigenvalues, which makes the midpoint
  network stable for |hλ| < 1 (Chang et al. §3.2; Haber & Ruthotto, Inverse Problems 2017).

Every reversible stage also accepts the default ``preact`` form (the Hamiltonian stage with ``preact``
functions on the two halves is a RevNet): reversibility never depends on what f is.

LM-ResNet with k ≠ 0 is invertible, x_{n−1} = (x_{n+1} − (1 − k_n) x_n − f_n(x_n)) / k_n, but it is not
supported in memory-efficient mode: the inversion multiplies round-off by 1/|k_n| per step (the paper's
initialisation k_n ∈ (−0.1, 0] gives ≥ 10× per step, so reconstructed states are garbage after a few
steps), and a learned k_n can cross 0 during training, where the step is not invertible at all.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..schemes import Hamiltonian, Leapfrog2, LinearMultistep, LMResNet
from ..stepper import as_floats, multistep_update, scale
from .blocks import RESIDUAL_FORMS
from .reversible_autograd import (frozen_batch_norm_statistics, local_vjp, reject_noise, run_memory_efficient,
                                  use_memory_efficient_path)
from .stages import STAGES, MultistepStage, _noise_layers

# ---------------------------------------------------------------------------------------------- forms

_NORMS = {"image": nn.BatchNorm2d, "sequence": nn.BatchNorm1d, "mlp": nn.BatchNorm1d}
_KERNEL = 3


class _Kernel(nn.Module):
    """One square operator K (3-tap convolution, or a matrix for ``mlp``) with its adjoint Kᵀ."""

    def __init__(self, macro: str, width: int):
        super().__init__()
        self.macro = macro
        if macro == "image":
            self.op = nn.Conv2d(width, width, _KERNEL, padding=_KERNEL // 2, bias=False)
        elif macro == "sequence":
            self.op = nn.Conv1d(width, width, _KERNEL, padding=_KERNEL // 2, bias=False)
        else:
            self.op = nn.Linear(width, width, bias=False)

    def apply_weight(self, x, weight):
        if self.macro == "image":
            return F.conv2d(x, weight, padding=_KERNEL // 2)
        if self.macro == "sequence":
            return F.conv1d(x, weight, padding=_KERNEL // 2)
        return F.linear(x, weight)

    def forward(self, x):
        return self.op(x)

    def transpose(self, x):
        """Kᵀ x: the transposed convolution with the same kernel (the adjoint of a zero-padded 'same' conv)."""
        if self.macro == "image":
            return F.conv_transpose2d(x, self.op.weight, padding=_KERNEL // 2)
        if self.macro == "sequence":
            return F.conv_transpose1d(x, self.op.weight, padding=_KERNEL // 2)
        return F.linear(x, self.op.weight.t())

    def antisymmetric_weight(self):
        """The weight of K − Kᵀ: Kᵀ as a convolution has in/out channels swapped and the taps flipped."""
        w = self.op.weight
        if self.macro == "mlp":
            return w - w.t()
        return w - w.transpose(0, 1).flip(tuple(range(2, w.dim())))


class KernelTransposeResidual(nn.Module):
    """f(x) = Kᵀ σ(K x), σ = ReLU ∘ BN (Chang et al. 2018, eqs. 7 and 10)."""

    def __init__(self, macro: str, width: int):
        super().__init__()
        self.kernel = _Kernel(macro, width)
        self.norm = _NORMS[macro](width)

    def forward(self, x):
        return self.kernel.transpose(F.relu(self.norm(self.kernel(x))))


class SingleLayerResidual(nn.Module):
    """f(x) = σ(K x), or σ((K − Kᵀ) x) when ``antisymmetric`` (Chang et al. 2018, eq. 8)."""

    def __init__(self, macro: str, width: int, antisymmetric: bool = False):
        super().__init__()
        self.kernel = _Kernel(macro, width)
        self.norm = _NORMS[macro](width)
        self.antisymmetric = antisymmetric

    def forward(self, x):
        if self.antisymmetric:
            u = self.kernel.apply_weight(x, self.kernel.antisymmetric_weight())
        else:
            u = self.kernel(x)
        return F.relu(self.norm(u))


RESIDUAL_FORMS["kernel_transpose"] = lambda macro, width, spec: KernelTransposeResidual(macro, width)
RESIDUAL_FORMS["single_layer"] = lambda macro, width, spec: SingleLayerResidual(macro, width)
RESIDUAL_FORMS["antisymmetric"] = lambda macro, width, spec: SingleLayerResidual(macro, width, antisymmetric=True)


# --------------------------------------------------------------------------------------------- stages

def _negated(f):
    return lambda x: -f(x)


def _older_state(a, c, x, x_next, increment):
    """x_{n−1} from x_{n+1} = a x_n + c x_{n−1} + increment (c = ±1), mirroring the forward arithmetic.

    The forward pass computes (c x_{n−1} + a x_n) + increment; undoing its operations in reverse order,
    t = x_{n+1} − increment then x_{n−1} = c (t − a x_n), recovers x_{n−1} bit for bit whenever the forward
    operations rounded nothing. (Order matters in float32: (a x_n + increment) − x_{n+1} gave leapfrog2
    gradients 100× further from plain autograd's at h = 0.1 in ``benchmarks/reversible_memory.py --drift``.)
    Coefficients 0 and ±1 cost no arithmetic: every op here is a pass over an activation, and
    memory-efficient mode adds these to a training step.
    """
    t = x_next - increment
    if a == 0:
        return t if c == 1 else -t
    a_x = scale(a, x)
    return t - a_x if c == 1 else a_x - t


def _two_step_backward(residuals, a, c, d, d0, x0, x_before_last, x_last, grad_last, accumulate):
    """Backward through x_1 = x_0 + d0 f_0(x_0), x_{n+1} = a x_n + c x_{n−1} + d f_n(x_n) (c = ±1).

    Walks n = N−1 … 1 reconstructing x_{n−1} = c (x_{n+1} − a x_n − d f_n(x_n)) while accumulating
    dL/dx_n; the start step is recomputed from the saved input x_0 (exact).
    """
    x_next, x_cur = x_last, x_before_last
    g_next, g_cur = grad_last, torch.zeros_like(grad_last)  # dL/dx_{n+1} (complete), dL/dx_n (partial)
    for n in range(len(residuals) - 1, 0, -1):
        f = residuals[n]
        increment, g_through_f = local_vjp(f, f, x_cur, g_next, d, accumulate)
        x_older = _older_state(a, c, x_cur, x_next, increment)
        g_cur = g_cur + g_through_f
        if a != 0:
            g_cur = g_cur + scale(a, g_next)
        g_older = g_next if c == 1 else -g_next
        x_next, x_cur = x_cur, x_older
        g_next, g_cur = g_cur, g_older
    _, g_through_f = local_vjp(residuals[0], residuals[0], x0, g_next, d0, accumulate)
    return g_cur + g_next + g_through_f


class HamiltonianStage(nn.Module):
    """Y_{j+1} = Y_j + h f1_j(Z_j), Z_{j+1} = Z_j − h f2_j(Y_{j+1}) on the two channel halves."""

    supports_memory_efficient = True

    def __init__(self, scheme: Hamiltonian, spec, width: int, first_step: int, make_residual):
        super().__init__()
        if width % 2:
            stage = first_step // spec.steps_per_stage
            raise ValueError(
                f"widths[{stage}] = {width}: the hamiltonian scheme splits the channels in two halves; "
                "every width must be even"
            )
        reject_noise(spec, "hamiltonian")
        self.scheme = scheme
        self.h = spec.h
        self.half = width // 2
        self.memory_efficient = spec.memory_efficient
        form = RESIDUAL_FORMS[spec.residual]
        steps = spec.steps_per_stage
        self.drifts = nn.ModuleList(form(spec.macro, self.half, spec) for _ in range(steps))
        self.kicks = nn.ModuleList(form(spec.macro, self.half, spec) for _ in range(steps))
        self.noise = _noise_layers(spec, first_step, steps)

    def _split(self, x):
        return x[:, : self.half], x[:, self.half:]

    def _run(self, x):
        y, z = self._split(x)
        for n, (f1, f2) in enumerate(zip(self.drifts, self.kicks)):
            if self.noise is None:
                y, z = self.scheme.step(f1, _negated(f2), y, z, self.h)
            else:  # the step's noise perturbs each of its two increments
                y = y + self.noise[n](self.h * f1(z), y)
                z = z + self.noise[n](-self.h * f2(y), z)
        return torch.cat((y, z), dim=1)

    def forward(self, x):
        if use_memory_efficient_path(self):
            return run_memory_efficient(self, x)
        return self._run(x)

    def forward_states(self, x):
        return (self._run(x),)

    def backward_states(self, x, states, grad_output, accumulate):
        """Inverse step (``Hamiltonian.inverse_step``) fused with the step's vector-Jacobian products."""
        (output,) = states
        y, z = self._split(output)
        gy, gz = self._split(grad_output)
        h = self.h
        for f1, f2 in zip(reversed(self.drifts), reversed(self.kicks)):
            kick, g_kick = local_vjp(f2, f2, y, gz, -h, accumulate)  # −h f2(Y_{j+1})
            z = z - kick
            gy = gy + g_kick
            drift, g_drift = local_vjp(f1, f1, z, gy, h, accumulate)  # h f1(Z_j)
            y = y - drift
            gz = gz + g_drift
        return torch.cat((gy, gz), dim=1)

    @torch.no_grad()
    def reconstruct_input(self, states):
        """The stage input recovered from ``forward_states`` by inverting every step (no gradients)."""
        y, z = self._split(states[-1])
        with frozen_batch_norm_statistics(self):
            for f1, f2 in zip(reversed(self.drifts), reversed(self.kicks)):
                y, z = self.scheme.inverse_step(f1, _negated(f2), y, z, self.h)
        return torch.cat((y, z), dim=1)

    def coefficients(self) -> list[dict]:
        return [{"step": n, "h": self.h, "y_increment": self.h, "z_increment": -self.h}
                for n in range(len(self.drifts))]


class Leapfrog2Stage(nn.Module):
    """x_1 = x_0 − (h²/2) f_0(x_0); x_{n+1} = 2x_n − x_{n−1} − h² f_n(x_n) (Störmer, force F = −f)."""

    supports_memory_efficient = True

    def __init__(self, scheme: Leapfrog2, spec, width: int, first_step: int, make_residual):
        super().__init__()
        reject_noise(spec, "leapfrog2")
        self.scheme = scheme
        self.h = spec.h
        self.memory_efficient = spec.memory_efficient
        self.residuals = nn.ModuleList(make_residual() for _ in range(spec.steps_per_stage))
        self.noise = _noise_layers(spec, first_step, spec.steps_per_stage)

    def _run(self, x):
        h2 = self.h * self.h
        previous = x
        for n, f in enumerate(self.residuals):
            force = _negated(f)
            if self.noise is not None:
                increment = self.noise[n]((h2 / 2 if n == 0 else h2) * force(x), x)
                previous, x = x, (x if n == 0 else 2 * x - previous) + increment
            elif n == 0:
                previous, x = x, self.scheme.start(force, x, self.h)
            else:
                previous, x = x, self.scheme.step(force, previous, x, self.h)
        return previous, x

    def forward(self, x):
        if use_memory_efficient_path(self):
            return run_memory_efficient(self, x)
        return self._run(x)[1]

    def forward_states(self, x):
        return self._run(x)

    def backward_states(self, x, states, grad_output, accumulate):
        h2 = self.h * self.h
        return _two_step_backward(self.residuals, 2.0, -1.0, -h2, -h2 / 2, x, *states, grad_output, accumulate)

    @torch.no_grad()
    def reconstruct_input(self, states):
        """x_0 from (x_{N−1}, x_N) by ``Leapfrog2.inverse_step`` (no gradients)."""
        x, x_next = states
        with frozen_batch_norm_statistics(self):
            for f in reversed(self.residuals[1:]):
                x, x_next = self.scheme.inverse_step(_negated(f), x, x_next, self.h), x
        return x

    def coefficients(self) -> list[dict]:
        h2 = self.h * self.h
        return [{"step": 0, "startup": True, "h": self.h, "alpha": [-1.0, 1.0], "force": h2 / 2}] + [
            {"step": n, "startup": False, "h": self.h, "alpha": [1.0, -2.0, 1.0], "force": h2}
            for n in range(1, len(self.residuals))
        ]


def _division_free_inverse(scheme) -> str | None:
    """None when a multistep scheme inverts step by step without division, else the reason it does not."""
    if isinstance(scheme, LMResNet):
        return ("lm_resnet inverts as x_{n-1} = (x_{n+1} - (1-k) x_n - f_n(x_n)) / k: dividing by k amplifies "
                "round-off by 1/|k| per step and fails at k = 0, so it is not supported")
    assert isinstance(scheme, LinearMultistep)
    if scheme.steps != 2:
        return f"only two-step methods invert from the last two states; {scheme} has {scheme.steps} step(s)"
    if scheme.beta[0] != 0:
        return f"beta[0] = {scheme.beta[0]} != 0: the inverse would need f at the unknown older state"
    if abs(scheme.alpha[0]) != 1:
        return f"|alpha[0]| = {abs(scheme.alpha[0])} != 1: the inverse would divide by alpha[0]"
    return None


class ReversibleMultistepStage(MultistepStage):
    """``MultistepStage`` with a memory-efficient mode for the division-free invertible two-step methods.

    x_{n+1} = −α_1 x_n − α_0 x_{n−1} + h β_1 f_n(x_n) inverts as
    x_{n−1} = (x_{n+1} + α_1 x_n − h β_1 f_n(x_n)) / (−α_0), no division when α_0 = ±1. The first
    (start-up, Euler) step is recomputed from the stage input.
    """

    supports_memory_efficient = True

    def __init__(self, scheme, spec, width: int, first_step: int, make_residual):
        super().__init__(scheme, spec, width, first_step, make_residual)
        self.memory_efficient = spec.memory_efficient
        reason = _division_free_inverse(scheme)
        if reason is None:  # x_{n+1} = a x_n + c x_{n−1} + d f_n(x_n)
            alpha, beta = as_floats(scheme.alpha), as_floats(scheme.beta)
            self._a, self._c, self._d = -alpha[1], -alpha[0], self.h * beta[1]
        if self.memory_efficient:
            if reason is not None:
                raise ValueError(f"memory_efficient: needs a reversible scheme; {scheme} cannot be inverted "
                                 f"step by step: {reason}")
            reject_noise(spec, str(scheme))

    def forward(self, x):
        if use_memory_efficient_path(self):
            return run_memory_efficient(self, x)
        return super().forward(x)

    def forward_states(self, x):
        # The same arithmetic as MultistepStage.forward, keeping the last two states (β_0 = 0: f_{n−1} unused).
        previous = x
        for n, f in enumerate(self.residuals):
            if n == 0:
                increment = self.h * f(x) if self.h != 1 else f(x)
                previous, x = x, x + increment
            else:
                state_part, increment = multistep_update([previous, x], [None, f(x)], self.alpha, self.beta, self.h)
                previous, x = x, state_part + increment
        return previous, x

    def backward_states(self, x, states, grad_output, accumulate):
        return _two_step_backward(self.residuals, self._a, self._c, self._d, self.h, x, *states, grad_output,
                                  accumulate)

    @torch.no_grad()
    def reconstruct_input(self, states):
        """x_0 from (x_{N−1}, x_N): x_{n−1} = −α_0 (x_{n+1} + α_1 x_n − h β_1 f_n(x_n)) (no gradients)."""
        x, x_next = states
        with frozen_batch_norm_statistics(self):
            for f in reversed(self.residuals[1:]):
                x, x_next = _older_state(self._a, self._c, x, x_next, self._d * f(x)), x
        return x


STAGES["hamiltonian"] = HamiltonianStage
STAGES["leapfrog2"] = Leapfrog2Stage
STAGES["multistep"] = ReversibleMultistepStage
STAGES["lm_resnet"] = ReversibleMultistepStage

__all__ = ["HamiltonianStage", "Leapfrog2Stage", "ReversibleMultistepStage", "KernelTransposeResidual",
           "SingleLayerResidual"]
