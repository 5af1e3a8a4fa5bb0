"""A stage = one scheme applied over ``steps`` steps at constant width, built on ``nas.stepper``.

Every stage class takes ``(scheme, spec, width, first_step, make_residual)`` and exposes
``coefficients()`` (one dict per step: the coefficients that step really uses, learned ones included),
which diagnostics and export cards read.

Noise: a noise layer perturbs the step's *increment* (h Σ b_i k_i for Runge-Kutta, h Σ β_j f_{n+j} for
multistep), never the state combination; see ``nas.schemes.noise``.
"""
from __future__ import annotations

import torch
from torch import nn

from ..schemes import ButcherTableau, LMResNet
from ..stepper import as_floats, multistep_update, runge_kutta_increment, tableau_floats
from .blocks import coefficient_shape


def _noise_layers(spec, first_step: int, steps: int):
    """One noise module per step (global step index n of N), or None when the spec has no noise."""
    if spec.noise is None or spec.noise.kind == "none":
        return None
    return nn.ModuleList(spec.noise.layer(first_step + n, spec.total_steps, spec.h) for n in range(steps))


class RungeKuttaStage(nn.Module):
    """x_{n+1} = x_n + h Σ b_i k_i, k_i = f_{n,i}(x_n + h Σ_j a_ij k_j); f_{n,i} = f_n when stages share weights."""

    def __init__(self, scheme: ButcherTableau, spec, width: int, first_step: int, make_residual):
        super().__init__()
        self.scheme = scheme
        self.h = spec.h
        self.A, self.b = tableau_floats(scheme)
        self.shared = spec.share_stage_weights or scheme.stages == 1
        per_step = 1 if self.shared else scheme.stages
        self.residuals = nn.ModuleList(
            nn.ModuleList(make_residual() for _ in range(per_step)) for _ in range(spec.steps_per_stage)
        )
        self.noise = _noise_layers(spec, first_step, spec.steps_per_stage)

    def forward(self, x):
        s = self.scheme.stages
        for n, fs in enumerate(self.residuals):
            stage_fns = [fs[0]] * s if self.shared else list(fs)
            increment, _ = runge_kutta_increment(stage_fns, x, self.h, self.A, self.b)
            if self.noise is not None:
                increment = self.noise[n](increment, x)
            x = x + increment
        return x

    def coefficients(self) -> list[dict]:
        return [{"step": n, "A": self.A, "b": self.b, "h": self.h} for n in range(len(self.residuals))]


class MultistepStage(nn.Module):
    """x_{n+k} = −Σ α_j x_{n+j} + h Σ β_j f_{n+j}(x_{n+j}) after k−1 plain residual steps.

    Start-up follows the LM-ResNet network convention: the first k−1 steps of every stage are plain residual
    (Euler) steps, since the states before a width change have another shape. For LM-ResNet the
    coefficients come from k_n: a constant, or one trainable scalar (or per-channel vector) per step; only
    the steps that use k_n (steps ≥ 1) own one, so every learned k receives a gradient.
    """

    def __init__(self, scheme, spec, width: int, first_step: int, make_residual):
        super().__init__()
        self.scheme = scheme
        self.h = spec.h
        self.k = scheme.steps
        steps = spec.steps_per_stage
        self.residuals = nn.ModuleList(make_residual() for _ in range(steps))
        self.noise = _noise_layers(spec, first_step, steps)
        self.learned_k = None
        if isinstance(scheme, LMResNet):
            if scheme.learned:
                shape = coefficient_shape(spec.macro, width) if scheme.learn == "channel" else ()
                self.learned_k = nn.ParameterList(
                    nn.Parameter(self._initial_k(scheme, shape)) for _ in range(max(steps - 1, 0))
                )
            else:
                method = scheme.multistep()
                self.alpha, self.beta = as_floats(method.alpha), as_floats(method.beta)
        else:
            self.alpha, self.beta = as_floats(scheme.alpha), as_floats(scheme.beta)

    @staticmethod
    def _initial_k(scheme: LMResNet, shape):
        if scheme.k is not None:
            return torch.full(shape, float(scheme.k))
        # The paper's reference code: 1 − k_n ~ U(1, 1.1), i.e. k_n ~ U(−0.1, 0].
        return -0.1 * torch.rand(shape)

    def _step_coefficients(self, n: int):
        if self.learned_k is None:
            return self.alpha, self.beta
        k = self.learned_k[n - 1]
        return (-k, k - 1.0, 1.0), (0.0, 1.0, 0.0)

    def forward(self, x):
        states, f_values = [], []
        for n, f in enumerate(self.residuals):
            states.append(x)
            f_values.append(f(x))
            if len(states) < self.k:  # start-up: a plain residual step
                increment = self.h * f_values[-1] if self.h != 1 else f_values[-1]
                state_part = x
            else:
                states, f_values = states[-self.k:], f_values[-self.k:]
                alpha, beta = self._step_coefficients(n)
                state_part, increment = multistep_update(states, f_values, alpha, beta, self.h)
            if self.noise is not None:
                increment = self.noise[n](increment, x)
            x = state_part + increment
        return x

    def coefficients(self) -> list[dict]:
        rows = []
        for n in range(len(self.residuals)):
            if n < self.k - 1:
                rows.append({"step": n, "startup": True, "alpha": [-1.0, 1.0], "beta": [1.0, 0.0], "h": self.h})
                continue
            alpha, beta = self._step_coefficients(n)
            row = {"step": n, "startup": False, "h": self.h,
                   "alpha": [_number(a) for a in alpha], "beta": [_number(b) for b in beta]}
            if isinstance(self.scheme, LMResNet):
                row["k"] = _number(self.learned_k[n - 1]) if self.learned_k is not None else float(self.scheme.k)
            rows.append(row)
        return rows


def _number(value):
    """A coefficient as a float, or a list of floats for per-channel values."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.item() if value.numel() == 1 else value.flatten().tolist()
    return float(value)


# scheme family -> stage class; other families (reversible schemes) register theirs here.
STAGES: dict[str, type] = {
    "runge_kutta": RungeKuttaStage,
    "multistep": MultistepStage,
    "lm_resnet": MultistepStage,
}
