"""Torch layers that apply a ``nas.schemes.noise.NoiseSchedule`` to one step's increment.

A layer is called as ``layer(increment, x)`` (x: the step's input state, unused by the current kinds but
part of the hook so that state-dependent noise fits in) and returns the perturbed increment. Train/eval
semantics and the formulas are documented once, in ``nas.schemes.noise``: training samples with torch's
global RNG; eval returns the expectation of the training step and never calls a random function (the
branch is on ``self.training`` in Python, which ``torch.export`` specialises away).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _per_sample_shape(increment: torch.Tensor) -> tuple[int, ...]:
    # (batch, 1, 1, ...): one draw per sample, broadcast over channels and positions.
    return (increment.shape[0],) + (1,) * (increment.dim() - 1)


class NoiseLayer(nn.Module):
    """Base class: ``forward`` samples in training mode and returns the expectation in eval mode."""

    def forward(self, increment: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        if self.training:
            return self.sample(increment)
        return self.expectation(increment)

    def sample(self, increment: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def expectation(self, increment: torch.Tensor) -> torch.Tensor:
        return increment


class NoNoise(NoiseLayer):
    """The step has no noise (kind ``none``, or a schedule value that makes the step deterministic)."""

    def sample(self, increment):
        return increment


class StochasticDepth(NoiseLayer):
    """η ~ Bernoulli(p) per sample; eval: p · increment (expectation scaling, Huang et al. 2016)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def sample(self, increment):
        gate = increment.new_empty(_per_sample_shape(increment)).bernoulli_(self.p)
        return increment * gate

    def expectation(self, increment):
        return increment * self.p

    def extra_repr(self):
        return f"p={self.p:g}"


class ResidualDropout(NoiseLayer):
    """Inverted dropout on the increment: η = m/p, m ~ Bernoulli(p) per element; eval: the increment."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def sample(self, increment):
        return F.dropout(increment, p=1.0 - self.p, training=True)

    def extra_repr(self):
        return f"keep={self.p:g}"


class Shake(NoiseLayer):
    """η ~ U(1 − a, 1 + a) per sample (single-branch shake, Gastaldi 2017); eval: the increment."""

    def __init__(self, a: float):
        super().__init__()
        self.a = a

    def sample(self, increment):
        eta = increment.new_empty(_per_sample_shape(increment)).uniform_(1.0 - self.a, 1.0 + self.a)
        return increment * eta

    def extra_repr(self):
        return f"a={self.a:g}"


class AdditiveGaussian(NoiseLayer):
    """increment + √h σ ε, ε ~ N(0, 1) per element (Euler–Maruyama with diffusion σ); eval: the increment."""

    def __init__(self, sigma: float, h: float):
        super().__init__()
        self.sigma, self.h = sigma, h
        self.scale = math.sqrt(h) * sigma

    def sample(self, increment):
        return increment + self.scale * torch.randn_like(increment)

    def extra_repr(self):
        return f"sigma={self.sigma:g}, h={self.h:g}"


def noise_layer(schedule, n: int, N: int, h: float) -> NoiseLayer:
    """The layer for step n (0-based, over the whole network) of N scheme steps with step size h."""
    value = schedule.step_value(n, N)
    kind = schedule.kind
    # A step the schedule leaves deterministic gets no random op at all (e.g. the first half under "step").
    if kind == "none" or (kind in ("stochastic_depth", "dropout") and value == 1.0) or value == 0.0:
        return NoNoise()
    if kind == "stochastic_depth":
        return StochasticDepth(value)
    if kind == "dropout":
        return ResidualDropout(value)
    if kind == "shake":
        return Shake(value)
    if kind == "gaussian":
        return AdditiveGaussian(value, h)
    raise ValueError(f"noise.kind: no layer for kind {kind!r}")


__all__ = ["NoiseLayer", "NoNoise", "StochasticDepth", "ResidualDropout", "Shake", "AdditiveGaussian",
           "noise_layer"]
