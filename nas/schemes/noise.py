"""Noise schedules: stochastic training as an Euler–Maruyama discretisation of an SDE.

Sun, Tao, Du, "Stochastic Training of Residual Networks: a Differential Equation Viewpoint" (2018).
Write step n of a scheme network as x_{n+1} = S_n + I_n, where I_n is the step's *increment*
(h Σ b_i k_i for Runge-Kutta, h Σ β_j f_{n+j} for multistep; for LM-ResNet I_n = f_n(x_n)) and S_n the
state part (x_n, or −Σ α_j x_{n+j}). A noise schedule perturbs I_n and nothing else, the same way for
every scheme (the families' stage hooks, ``nas.families``):

    multiplicative kinds   x_{n+1} = S_n + η_n ⊙ I_n,          η_n = E[η_n] + sd(η_n) ξ_n
    additive kind          x_{n+1} = S_n + I_n + √h σ_n ε_n,    ε_n ~ N(0, 1) elementwise

With I_n = h F_n(x_n) the multiplicative step is an Euler–Maruyama step of
    dX = E[η](t) F dt + sd(η)(t) √h F dW        (drift E[η]·F, diffusion sd(η)·√h·F)
and the additive one of dX = F dt + σ(t) dW (diffusion σ, independent of F).

Kinds (p_n, a_n, σ_n: the schedule value of step n, see "Shapes"):

    kind               training sample                              E[η]    Var(η)        eval step
    none               η = 1                                         1       0             S + I
    stochastic_depth   η ~ Bernoulli(p_n), one per sample            p_n     p_n(1 − p_n)  S + p_n I
    dropout            η = m / p_n, m ~ Bernoulli(p_n) per element   1       (1 − p_n)/p_n S + I
    shake              η ~ U(1 − a_n, 1 + a_n), one per sample       1       a_n²/3        S + I
    gaussian           additive √h σ_n ε, ε ~ N(0, 1) per element    1       0 (+ h σ_n²)  S + I

Train / eval semantics (the one place they are defined):
- Training mode samples the noise with torch's global RNG (``torch.manual_seed`` makes it reproducible).
- Eval mode is deterministic and equals the *expectation* of the training step given its input,
  E[S + η I] = S + E[η] I. Stochastic depth uses **expectation scaling** as Huang, Sun, Liu, Sedra,
  Weinberger, "Deep Networks with Stochastic Depth" (ECCV 2016): train with the raw Bernoulli gate, scale
  the increment by p_n at eval, so its η has E = p_n, Var = p_n(1 − p_n) as in the SDE above. ``dropout``
  is "dropout inside the residual branch" taken as an **inverted** dropout mask on the whole increment
  (Srivastava et al. 2014 with the usual 1/p training scaling), so E = 1, Var = (1 − p)/p and eval is the
  plain step. ``shake`` is the single-branch form of shake-shake (Gastaldi 2017). Eval mode calls no
  random function, so an eval-mode ``torch.export`` graph holds no random op.

Shapes over depth. Step n = 0 … N−1 of the N scheme steps of a network sits at depth t_n = (n + 1)/N, its
end point, so that the last step gets the final value exactly as in Huang et al. (their block l = n + 1):
    profile d_n:  constant 1;  linear t_n;  cosine (1 − cos(π t_n))/2;  step 0 for t_n ≤ 1/2 else 1
    p_n = 1 − d_n (1 − p_L)     (stochastic_depth, dropout; p_L = keep probability of the last step)
    a_n = d_n · a,  σ_n = d_n · σ_max   (shake, gaussian)
so ``linear`` is the stochastic-depth rule p_n = 1 − (n/N)(1 − p_L) with Huang's 1-based block index, and
every shape reaches the full strength (p_L, a, σ_max) at the last step.

A useful number per network (SCIENCE.md §4): the total injected variance Σ_n h² Var(η_n) (Σ_n h σ_n² for
additive noise), ``total_variance(N, h)``.

This module is torch-free (diagnostics and leaderboards read it); the torch layers are in
``nas.networks.noise``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from nas.checks import finite_number, is_int, step_size

from .serialization import check_keys

KINDS = ("none", "stochastic_depth", "dropout", "shake", "gaussian")
SHAPES = ("constant", "linear", "cosine", "step")
# kind -> the one strength parameter it takes (None: no parameter)
PARAMETER = {"none": None, "stochastic_depth": "p_L", "dropout": "p_L", "shake": "a", "gaussian": "sigma_max"}
_PARAMETERS = ("p_L", "sigma_max", "a")
_RANGES = {"p_L": "a keep probability in (0, 1]", "sigma_max": "a standard deviation >= 0",
           "a": "a half-width in [0, 1]"}
_KEEP_PROBABILITY_KINDS = ("stochastic_depth", "dropout")
# Kinds whose noise multiplies one whole sample's increment (vs. independent noise per element).
PER_SAMPLE_KINDS = ("stochastic_depth", "shake")


def _check_step(n, N) -> None:
    if not is_int(N) or N <= 0:
        raise ValueError(f"N: number of steps must be a positive integer, got {N!r}")
    if not is_int(n) or not 0 <= n < N:
        raise ValueError(f"n: step index must be an integer in [0, {N - 1}], got {n!r}")


def depth_profile(shape: str, n: int, N: int) -> float:
    """d_n ∈ [0, 1]: the fraction of the full noise strength at step n of N (see the module docstring)."""
    _check_step(n, N)
    t = (n + 1) / N
    if shape == "constant":
        return 1.0
    if shape == "linear":
        return t
    if shape == "cosine":
        return (1.0 - math.cos(math.pi * t)) / 2.0
    if shape == "step":
        return 0.0 if t <= 0.5 else 1.0
    raise ValueError(f"shape: must be one of {', '.join(SHAPES)}, got {shape!r}")


@dataclass(frozen=True)
class NoiseSchedule:
    """A noise kind, its shape over depth and its strength (immutable, exact JSON round trip).

    kind        none | stochastic_depth | dropout | shake | gaussian
    shape       constant | linear | cosine | step
    p_L         keep (survival) probability of the last step, in (0, 1]: stochastic_depth, dropout
    sigma_max   standard deviation of the additive noise at full strength, ≥ 0: gaussian
    a           half-width of η ~ U(1 − a, 1 + a) at full strength, in [0, 1]: shake

    Each kind takes exactly its own parameter; it is required (no default strength is more natural than
    another), and the parameters of other kinds must stay None.
    """

    kind: str = "none"
    shape: str = "constant"
    p_L: float | None = None
    sigma_max: float | None = None
    a: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind: must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape: must be one of {', '.join(SHAPES)}, got {self.shape!r}")
        own = PARAMETER[self.kind]
        for name in _PARAMETERS:
            if name != own and getattr(self, name) is not None:
                users = [k for k, p in PARAMETER.items() if p == name]
                raise ValueError(f"{name}: only used by kind {' / '.join(users)}, not by kind {self.kind!r}")
        if own is None:
            return
        value = getattr(self, own)
        if value is None:
            raise ValueError(f"{own}: kind {self.kind!r} needs {own} ({_RANGES[own]})")
        value = finite_number(value, own)
        if own == "p_L" and not 0 < value <= 1:
            raise ValueError(f"p_L: keep probability must be in (0, 1], got {value!r}")
        if own == "sigma_max" and not value >= 0:
            raise ValueError(f"sigma_max: standard deviation must be >= 0, got {value!r}")
        if own == "a" and not 0 <= value <= 1:
            raise ValueError(f"a: shake half-width must be in [0, 1] (so η ~ U(1 − a, 1 + a) >= 0), got {value!r}")
        object.__setattr__(self, own, value)

    # ------------------------------------------------------------------------------------ per step
    @property
    def multiplicative(self) -> bool:
        """True when the noise multiplies the increment (η ⊙ I), False for additive noise (gaussian)."""
        return self.kind != "gaussian"

    @property
    def per_sample(self) -> bool:
        """True when one η multiplies a whole sample's increment (stochastic_depth, shake)."""
        return self.kind in PER_SAMPLE_KINDS

    def step_value(self, n: int, N: int) -> float | None:
        """The scheduled parameter of step n (0-based) of N: p_n (stochastic_depth, dropout), a_n (shake),
        σ_n (gaussian), None for kind ``none``."""
        d = depth_profile(self.shape, n, N)
        if self.kind in _KEEP_PROBABILITY_KINDS:
            return 1.0 - d * (1.0 - self.p_L)
        if self.kind == "shake":
            return d * self.a
        if self.kind == "gaussian":
            return d * self.sigma_max
        return None

    def mean(self, n: int, N: int) -> float:
        """E[η_n], the expected factor on the increment of step n (1 for the additive and ``none`` kinds)."""
        value = self.step_value(n, N)
        return value if self.kind == "stochastic_depth" else 1.0

    def variance(self, n: int, N: int) -> float:
        """Var(η_n) of the multiplicative factor: p(1 − p), (1 − p)/p, a²/3; 0 for gaussian and none."""
        value = self.step_value(n, N)
        if self.kind == "stochastic_depth":
            return value * (1.0 - value)
        if self.kind == "dropout":
            return (1.0 - value) / value
        if self.kind == "shake":
            return value * value / 3.0
        return 0.0

    def additive_variance(self, n: int, N: int, h: float) -> float:
        """Variance of the additive noise √h σ_n ε of step n, h σ_n² (0 for the multiplicative kinds)."""
        h = step_size(h)
        value = self.step_value(n, N)
        return h * value * value if self.kind == "gaussian" else 0.0

    def drift_scale(self, n: int, N: int) -> float:
        """The SDE drift of step n is drift_scale · F: E[η_n] (Sun, Tao, Du 2018; SCIENCE.md §4)."""
        return self.mean(n, N)

    def diffusion_scale(self, n: int, N: int, h: float) -> float:
        """The SDE diffusion of step n: sd(η_n) √h (it multiplies F) for the multiplicative kinds, e.g.
        √(p_n (1 − p_n) h) for stochastic depth; σ_n (independent of F) for gaussian."""
        h = step_size(h)
        if self.kind == "gaussian":
            return self.step_value(n, N)
        return math.sqrt(self.variance(n, N) * h)

    def total_variance(self, N: int, h: float) -> float:
        """Total injected variance Σ_n h² Var(η_n) (multiplicative, per unit F²) or Σ_n h σ_n² (additive)."""
        h = step_size(h)
        if self.kind == "gaussian":
            return sum(self.additive_variance(n, N, h) for n in range(N))
        return sum(h * h * self.variance(n, N) for n in range(N))

    def sde_terms(self, N: int, h: float) -> list[dict]:
        """One row per step: value, mean, variance, drift and diffusion scales (for diagnostics tables)."""
        return [
            {"step": n, "value": self.step_value(n, N), "mean": self.mean(n, N), "variance": self.variance(n, N),
             "additive_variance": self.additive_variance(n, N, h), "drift_scale": self.drift_scale(n, N),
             "diffusion_scale": self.diffusion_scale(n, N, h)}
            for n in range(N)
        ]

    def layer(self, n: int, N: int, h: float):
        """The torch module that applies this schedule at step n of N (``nas.networks.noise.noise_layer``).

        Imported lazily so that this module, and everything that only reads schedules, stays torch-free.
        """
        from ..networks.noise import noise_layer

        return noise_layer(self, n, N, h)

    # ----------------------------------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        out = {"kind": self.kind, "shape": self.shape}
        own = PARAMETER[self.kind]
        if own is not None:
            out[own] = getattr(self, own)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "NoiseSchedule":
        check_keys(data, required={"kind"}, optional={"shape", *_PARAMETERS}, where="noise schedule")
        return cls(**data)

    def __str__(self) -> str:
        own = PARAMETER[self.kind]
        if own is None:
            return "none"
        return f"{self.kind}({self.shape}, {own}={getattr(self, own):g})"


def noise_schedule(value) -> NoiseSchedule:
    """A NoiseSchedule from a schedule or its JSON dict (the ``noise`` field of every network spec); anything
    else is a ValueError."""
    if isinstance(value, dict):
        return NoiseSchedule.from_dict(value)
    if not isinstance(value, NoiseSchedule):
        raise ValueError(f"noise: expected a noise schedule, its dict or None, got {value!r}")
    return value


__all__ = ["NoiseSchedule", "KINDS", "SHAPES", "PARAMETER", "depth_profile", "noise_schedule"]
