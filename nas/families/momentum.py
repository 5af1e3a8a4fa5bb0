"""Momentum ResNets (Sander, Ablin, Blondel, Peyré, "Momentum Residual Neural Networks", ICML 2021).

    v_{n+1} = γ_n v_n + (1 − γ_n) h f_n(x_n),    x_{n+1} = x_n + v_{n+1},    v_0 = 0          (paper: h = 1)
    inverse (γ_n > 0): x_n = x_{n+1} − v_{n+1},  v_n = (v_{n+1} − (1 − γ_n) h f_n(x_n)) / γ_n

γ = 0 is ResNet (forward Euler) exactly. Derived here (SCIENCE.md §5b), with v_n = x_n − x_{n−1}:

* a linear two-step method in x:  x_{n+1} − (1 + γ) x_n + γ x_{n−1} = (1 − γ) h f(x_n),  α = (γ, −(1+γ), 1),
  β = (0, 1 − γ, 0); ρ(ζ) = (ζ − 1)(ζ − γ), ρ'(1) = σ(1) = 1 − γ: consistent with u̇ = f, zero-stable for
  −1 < γ < 1, order 1 with C_2 = (1 + γ)/2 (error constant (1 + γ)/(2(1 − γ)) after dividing by σ(1));
* modified equation at fixed γ (Taylor about t_n, divided by σ(1)):  u̇ + h (1 + γ)/(2(1 − γ)) ü = f(u) + O(h²);
* second-order limit: with u = v/h the step reads ε (u_{n+1} − u_n)/h + u_{n+1} = f(x_n), x_{n+1} = x_n + h u_{n+1},
  ε = γ h/(1 − γ) (γ/(1 − γ) per unit step): semi-implicit Euler for ε ẍ + ẋ = f(x), ẋ(0) = v_0/h, first-order
  convergent as h → 0 when γ = ε/(ε + h) is held to that scaling.

``nas.integrate`` takes one callable per step and ``x0`` = x(0) (v_0 = 0, the paper's network) or the pair
(x(0), ẋ(0)) (v_0 = h ẋ(0)); it returns x_N. Its ``startup`` does not apply: the step is one-step in (x, v).

Memory-efficient mode with exact inversion. Inverting v_n = (v_{n+1} − …)/γ in floating point multiplies the
round-off by 1/γ per step (float32 reconstructions are garbage after some tens of steps at γ = 1/2). As in
Maclaurin, Duvenaud, Adams, "Gradient-based Hyperparameter Optimization through Reversible Learning"
(ICML 2015, §2.3), the memory-efficient forward keeps x and v in fixed point (int64, ``FRACTION_BITS``
fractional bits: 32 for float32, 44 for float64) and multiplies v by γ ≈ n/2^30 exactly reversibly: w = ⌊v n/2^30⌋ loses the index j of v
among the m ∈ {⌊2^30/n⌋, ⌈2^30/n⌉} integers with that image, and j is pushed onto an integer information
buffer B ← m B + j (mixed radix: log₂ m bits; for γ ≥ 1/2 on average 2(1 − γ) bits per element and step,
the information ⌊γ V⌋ destroys). The increment (1 − γ) h f(x_n) is computed in floating point from the
fixed-point state and rounded to the grid, so the backward pass, which re-evaluates f at the reconstructed
x_n, subtracts the same integer. Every state is then recovered bit for bit, whatever γ and the depth; the
only rounding left is that of the stage input onto the grid (≤ 2^−(bits+1)). A buffer that could overflow
is saved and a new one started: every ~60 steps at γ = 1/2 (one bit per step), after ~150–200 at γ = 0.9
(0.2 bits per step on average; the first buffer to fill decides). Maclaurin et al.'s multiplication also
moves buffer bits into the low bits of v and so stores only log₂(1/γ) bits per step (0.15 at γ = 0.9), but
its result is off by up to n grid units, which forces a γ with a small denominator; the floor here is off
by less than one unit and takes any γ to 2^−31.
A state that leaves the range (|x| ≥ 2^(62 − bits)) or is not finite makes the output NaN: the stage has
diverged, and the loss says so as in plain mode. The price is time: the integer passes make a training
step 2.1–3.2× plain autograd's (``benchmarks/reversible_memory.py``, docs/reversible.md).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar

from nas.schemes.coefficients import Coefficient, coefficient_to_json, parse_coefficient
from nas.schemes.serialization import check_keys
from nas.stepper import as_floats, linear_combination, scale

from . import multistep
from .base import NamedScheme, Parametrisation, SchemeParameter, StageParts, json_float, rounded
from .capabilities import ConvertibleFamily, LearnableFamily, ReversibleFamily
from .multistep import LinearMultistep

NAME = "momentum"
LEARN_MODES = ("fixed", "layer")
DEFAULT_GAMMA = Fraction(1, 2)
GAMMA_BITS = 30  # γ ≈ n / 2^30 in the exact multiplication (|Δγ| ≤ 2^−31)
FRACTION_BITS = {"float64": 44}  # fixed-point fractional bits per dtype; others (float32, ...): 32
DEFAULT_FRACTION_BITS = 32
_LIMIT = 2 ** 62  # largest magnitude of a fixed-point state or increment (int64 headroom for one addition)


@dataclass(frozen=True)
class Momentum:
    """A Momentum ResNet: γ fixed (``learn="fixed"``) or one trainable γ_n per step (``"layer"``, starting at
    ``gamma``). 0 ≤ γ < 1; γ = 0 is ResNet."""

    gamma: Coefficient = DEFAULT_GAMMA
    learn: str = "fixed"
    name: str = NAME
    family: str = field(default=NAME, init=False)

    def __post_init__(self):
        if self.learn not in LEARN_MODES:
            raise ValueError(f"learn: must be one of {', '.join(LEARN_MODES)}, got {self.learn!r}")
        gamma = parse_coefficient(self.gamma, "gamma")
        if not 0 <= gamma < 1:
            raise ValueError(f"gamma: must be in [0, 1) (0 is ResNet; 1 would never forget the velocity), "
                             f"got {gamma}")
        if not isinstance(self.name, str):
            raise ValueError(f"name: expected a string, got {self.name!r}")
        object.__setattr__(self, "gamma", gamma)

    @property
    def learned(self) -> bool:
        return self.learn != "fixed"

    @property
    def steps(self) -> int:
        return 2  # as a method in x: x_{n+1} depends on x_n and x_{n−1}

    @property
    def epsilon(self) -> Coefficient:
        """ε/h = γ/(1 − γ) of the second-order limit ε ẍ + ẋ = f (per unit step)."""
        return self.gamma / (1 - self.gamma)

    def multistep(self) -> LinearMultistep:
        """The method as a two-step method in x: α = (γ, −(1+γ), 1), β = (0, 1 − γ, 0)."""
        g = self.gamma
        return LinearMultistep(alpha=(g, -(1 + g), 1), beta=(0, 1 - g, 0), name=str(self))

    def to_dict(self) -> dict:
        return {"family": NAME, "name": self.name, "gamma": coefficient_to_json(self.gamma), "learn": self.learn}

    @classmethod
    def from_dict(cls, data: dict) -> "Momentum":
        check_keys(data, required=set(), optional={"gamma", "learn", "name", "family"}, where="momentum scheme")
        return cls(gamma=data.get("gamma", DEFAULT_GAMMA), learn=data.get("learn", "fixed"),
                   name=data.get("name", NAME))

    def __str__(self) -> str:
        return f"momentum(gamma={self.gamma})" + (" learned per layer" if self.learned else "")


def momentum(gamma=DEFAULT_GAMMA, learn="fixed") -> Momentum:
    """``get("momentum", gamma=0.9)``. The default γ = 1/2 keeps the tests that enumerate the registry in the
    first-order regime at their step sizes (h ≫ (1 − γ)/γ is not yet asymptotic); the paper's recipe uses 0.9."""
    return Momentum(gamma=gamma, learn=learn)


PARAMETERS = (
    SchemeParameter("gamma", "momentum: γ in [0, 1), fixed unless a learn mode is given (default 1/2; the paper "
                             "uses 0.9)"),
    SchemeParameter("learn", "momentum: keep γ fixed or learn one γ_n per step, starting at --gamma", LEARN_MODES,
                    flag="learn-gamma"),
)


@dataclass(frozen=True)
class MomentumParametrisation(Parametrisation):
    """The Momentum ResNet's learned form in the common interface: θ = (γ,), as a two-step method in x
    α = (γ, −(1 + γ), 1), β = (0, 1 − γ, 0) (Sander et al. 2021): ρ(1) = 0 and ρ'(1) = σ(1) = 1 − γ for every
    γ, so order 1 (consistency with u̇ = f) holds for every γ ≠ 1. γ is unconstrained, as the family's own
    ``learn="layer"``: the concrete scheme of a γ outside [0, 1) is refused by ``Momentum``."""

    order: int
    start: tuple[float, ...]
    family: ClassVar[str] = NAME

    def coefficients(self, params):
        import torch

        g = params[0]
        one, zero = params.new_ones(()), params.new_zeros(())
        return {"gamma": g, "alpha": torch.stack([g, -(1 + g), one]), "beta": torch.stack([zero, 1 - g, zero])}

    def scheme(self, params, name=""):
        return Momentum(gamma=float(params.detach()[0]), name=name or NAME)


def momentum_step(x, v, increment, gamma):
    """v_{n+1} = γ v_n + increment, x_{n+1} = x_n + v_{n+1}; ``v`` None is v = 0. The one stepping code of
    ``integrate`` and the networks: γ = 0 costs no multiplication, so with increment = h f(x) the step is a
    ResNet step bit for bit."""
    v = increment if v is None else linear_combination([gamma, 1], [v, increment])
    return x + v, v


# ------------------------------------------------------------------------------------ exact arithmetic
# Elementwise int64 arithmetic on whole activations: few passes, divisions only where unavoidable (none in the
# forward multiplication and two in its inverse when γ ≥ 1/2, the usual case, where the preimage size m is 1
# or 2 and comparisons and shifts replace the divisions by m).
_D = 1 << GAMMA_BITS


def _fraction_bits(dtype) -> int:
    return FRACTION_BITS.get(str(dtype).removeprefix("torch."), DEFAULT_FRACTION_BITS)


def _to_fixed(t, bits: int, factor=1.0):
    """(round(t · factor · 2^bits) as int64, its largest magnitude), or None when that is not finite or leaves
    the range (the stage has diverged). One multiplication: scaling by a power of two rounds nothing, so
    this is round(fl(t · factor) · 2^bits), the increment the plain forward computes, put onto the grid."""
    import torch

    scaled = t * (factor * 2.0 ** bits)
    top = float(torch.linalg.vector_norm(scaled, float("inf"))) if scaled.numel() else 0.0
    if not top < _LIMIT:  # also catches NaN
        return None
    return scaled.round_().to(torch.int64), top


def _to_float(T, bits: int, dtype):
    return T.to(dtype).mul_(2.0 ** -bits)


def _numerator(gamma) -> int:
    """n with γ ≈ n / 2^30; the exact multiplication needs 0 < n < 2^31 (0 < γ < 2)."""
    n = round(float(_detached(gamma)) * _D)
    if not 0 < n < 2 * _D:
        raise ValueError(f"memory_efficient: momentum needs 0 < gamma < 2 to invert its steps, got gamma = "
                         f"{float(_detached(gamma))!r}")
    return n


def _below(a, bound: int):
    """[a < bound] as int64 0/1 from the sign bit (no boolean tensor, whose promotion costs a copy); ``a`` is
    used up when ``bound`` is 0."""
    a = a - bound if bound else a
    a >>= 63
    return a.neg_()


def multiply(V, B, n: int):
    """In place: V ← ⌊V n / 2^30⌋ (γ ≈ n/2^30 times V) and B ← m B + j, the index j of V among the m integers
    with the same image pushed onto the buffer B. With V n = W 2^30 + r: j = ⌊r/n⌋ and
    m = j + 1 + ⌊(2^30 − 1 − r)/n⌋; no product is wider than 61 bits. Returns (V, B)."""
    import torch

    r = V & (_D - 1)
    V >>= GAMMA_BITS
    V.mul_(n)
    r.mul_(n)
    V.add_(r >> GAMMA_BITS)
    r &= _D - 1
    if 2 * n >= _D:  # m ∈ {1, 2}: j = [r ≥ n], m − 1 = j + [r < 2^30 − n], B m = B << (m − 1)
        j = _below(r, n).neg_().add_(1)
        B <<= _below(r, _D - n).add_(j)
        return V, B.add_(j)
    j = torch.div(r, n, rounding_mode="trunc")
    size = torch.div(r.neg_().add_(_D - 1), n, rounding_mode="trunc").add_(j).add_(1)
    return V, B.mul_(size).add_(j)


def divide(W, B, n: int):
    """The inverse of :func:`multiply` (new tensors): (V, B) from (⌊V n / 2^30⌋, m B + j). With W = q n + s
    the first integer of the preimage is q 2^30 + c, c = ⌈s 2^30 / n⌉, and its size m = ⌈(2^30 − e)/n⌉,
    e = c n − s 2^30 ∈ [0, n)."""
    import torch

    q = torch.div(W, n, rounding_mode="floor")
    s = W - q * n
    s.mul_(_D)
    c = torch.div(s + (n - 1), n, rounding_mode="trunc")
    e = (c * n).sub_(s).neg_().add_(_D)  # 2^30 − e
    first = q.mul_(_D).add_(c)
    if 2 * n >= _D:  # m ∈ {1, 2}: j = B mod m and B div m are a mask and a shift
        bit = _below(e.neg_().add_(n), 0)  # m − 1 = [2^30 − e > n]
        return first.add_(B & bit), B >> bit
    size = torch.div(e.add_(n - 1), n, rounding_mode="trunc")
    rest = torch.div(B, size, rounding_mode="trunc")
    return first.add_(B - rest * size), rest


# ------------------------------------------------------------------------------------- search block
@dataclass(frozen=True)
class MomentumBlock:
    """Momentum ResNets with γ fixed or learned (γ is then the initial value)."""

    label: str
    gamma: object  # nas.domains.Domain
    learn: object
    family: str = NAME

    def suggest(self, trial, constants: dict) -> None:
        from nas.domains import suggest_into

        suggest_into(self.learn, trial, f"{self.label}.learn", constants)
        suggest_into(self.gamma, trial, f"{self.label}.gamma", constants)

    def build(self, config: dict):
        return Momentum(gamma=config[f"{self.label}.gamma"], learn=config[f"{self.label}.learn"])

    def check_depth(self, most_steps: int, path: str) -> None:
        return None


# ------------------------------------------------------------------------------------------ family
@dataclass(frozen=True)
class MomentumStageState:
    """The fixed γ of a momentum stage, as a float (unused when γ is learned)."""

    gamma: float


class MomentumFamily(ReversibleFamily, ConvertibleFamily, LearnableFamily):
    name = NAME
    scheme_type = Momentum
    stage_modules = ("residuals", "learned_gamma")

    def named_schemes(self):
        return (NamedScheme(NAME, momentum, 1, "Sander, Ablin, Blondel, Peyré (ICML 2021)",
                            "v_{n+1} = γ v_n + (1-γ) f_n(x_n), x_{n+1} = x_n + v_{n+1}; order 1, limit ε ẍ + ẋ = f",
                            NAME, PARAMETERS),)

    # stepping
    def integrate(self, scheme, fns, x0, h, steps, startup):
        (gamma,) = as_floats([scheme.gamma])
        x, v = (x0[0], h * x0[1]) if isinstance(x0, (tuple, list)) else (x0, None)
        for f in fns:
            x, v = momentum_step(x, v, scale((1 - gamma) * h, f(x)), gamma)
        return x

    # network stage: the residual functions, then (learned γ) one trainable scalar γ_n per step
    def init_stage(self, stage, spec, width, first_step, make_residual):
        import torch
        from torch import nn

        scheme = stage.scheme
        residuals = nn.ModuleList(make_residual(step=n) for n in range(spec.steps_per_stage))
        learned_gamma = None
        if scheme.learned:
            learned_gamma = nn.ParameterList(nn.Parameter(torch.tensor(float(scheme.gamma)))
                                             for _ in range(spec.steps_per_stage))
        (gamma,) = as_floats([scheme.gamma])
        return StageParts({"residuals": residuals, "learned_gamma": learned_gamma}, MomentumStageState(gamma))

    @staticmethod
    def _gamma(stage, n: int):
        if stage.scheme_parameters is not None:  # learned through NetworkSpec.learn_scheme
            return stage.scheme_parameters.coefficients(n)["gamma"]
        return stage.state.gamma if stage.learned_gamma is None else stage.learned_gamma[n]

    # learned coefficients: γ itself
    def parametrisation(self, scheme, order=None):
        if order not in (None, 1):
            raise ValueError(f"learn_order: momentum keeps order 1 (consistency with u' = f), got {order!r}")
        if scheme.learned:
            raise ValueError(f"learn_scheme: {scheme} already learns γ (learn={scheme.learn!r}); give a fixed γ as "
                             f"the starting point")
        return MomentumParametrisation(1, (float(scheme.gamma),))

    def stage_forward(self, stage, x):
        v = None
        for n, f in enumerate(stage.residuals):
            gamma = self._gamma(stage, n)
            increment = scale((1 - gamma) * stage.h, f(x))
            if stage.noise is not None:  # noise perturbs the increment, never the velocity it is added to
                increment = stage.noise[n](increment, x)
            x, v = momentum_step(x, v, increment, gamma)
            x = stage.after_step(x)  # converted networks: v stays the unprojected velocity
        return x

    def stage_coefficients(self, stage):
        rows = []
        for n in range(len(stage.residuals)):
            gamma = float(_detached(self._gamma(stage, n)))
            if n == 0:  # v_0 = 0: x_1 = x_0 + (1 − γ_0) h f_0(x_0)
                rows.append({"step": 0, "startup": True, "h": stage.h, "gamma": gamma, "alpha": [-1.0, 1.0],
                             "beta": [1.0 - gamma, 0.0]})
            else:
                rows.append({"step": n, "startup": False, "h": stage.h, "gamma": gamma,
                             "alpha": [gamma, -(1.0 + gamma), 1.0], "beta": [0.0, 1.0 - gamma, 0.0]})
        return rows

    # memory-efficient mode: exact fixed-point inversion (module docstring)
    def memory_efficient_reason(self, scheme):
        if scheme.gamma == 0:
            return "gamma = 0 forgets the velocity (a ResNet step): v_n cannot be recovered from v_{n+1}"
        return None

    def forward_states(self, stage, x):
        import torch

        bits = _fraction_bits(x.dtype)
        diverged = (torch.full_like(x, float("nan")),)  # the loss then says so, as in plain mode
        fixed = _to_fixed(x, bits)
        if fixed is None:
            return diverged
        X, x_bound = fixed
        V, B = torch.zeros_like(X), torch.zeros_like(X)
        v_bound = b_bound = 0.0  # bounds on max |V| and max B, so that the states are not scanned every step
        flushed, chunks = [], []
        for n, f in enumerate(stage.residuals):
            gamma = self._gamma(stage, n)
            numerator = _numerator(gamma)
            fixed = _to_fixed(f(_to_float(X, bits, x.dtype)), bits, (1 - gamma) * stage.h)
            if fixed is None:
                return diverged
            increment, top = fixed
            v_bound = v_bound * numerator / _D + top + 1
            x_bound += v_bound
            if not x_bound < _LIMIT:
                return diverged
            most = -(-_D // numerator)  # the largest preimage size m
            limit = 2 ** 62 // most  # B < limit keeps m B + j below 2^63, with room for the float bounds
            if b_bound >= limit:  # look; start a new buffer when this one could overflow
                b_bound = float(B.max())
                if b_bound >= limit:
                    flushed.append(n)
                    chunks.append(B)
                    B, b_bound = torch.zeros_like(X), 0.0
            b_bound = b_bound * most + most
            multiply(V, B, numerator)
            X.add_(V.add_(increment))
        return (X, V, B, torch.tensor(flushed, dtype=torch.int64), *chunks, _to_float(X, bits, x.dtype))

    def _inverse_steps(self, stage, states, evaluate):
        """Walk the steps from the last: yields (n, x_n, f_n(x_n), v_n) with x_n, v_n the exact states as floats;
        ``evaluate(n, x_n)`` gives f_n(x_n) (with its vector-Jacobian product in the backward pass)."""
        if len(states) == 1:
            raise ValueError("memory_efficient: the momentum stage diverged (non-finite or out-of-range state); "
                             "nothing to invert")
        X, V, B, flushed, *chunks, output = states
        bits, dtype = _fraction_bits(output.dtype), output.dtype
        flushed, chunks = flushed.tolist(), list(chunks)
        X = X.clone()  # the saved tensors stay as they are
        for n in reversed(range(len(stage.residuals))):
            gamma = self._gamma(stage, n)
            X.sub_(V)
            x_n = _to_float(X, bits, dtype)
            value = evaluate(n, x_n)
            V = V - _to_fixed(value, bits, (1 - gamma) * stage.h)[0]
            V, B = divide(V, B, _numerator(gamma))
            if flushed and flushed[-1] == n:
                flushed.pop()
                B = chunks.pop()
            yield n, x_n, value, _to_float(V, bits, dtype)

    def backward_states(self, stage, x, states, grad_output, accumulate):
        """dL/dv_{n+1} = g_v + g_x (x_{n+1} = x_n + v_{n+1}); dL/dx_n = g_x + J_nᵀ((1 − γ) h dL/dv_{n+1});
        dL/dv_n = γ dL/dv_{n+1}; learned: dL/dγ_n = ⟨dL/dv_{n+1}, v_n − h f_n(x_n)⟩."""
        import torch

        from nas.networks.reversible_autograd import local_vjp

        g = {"x": grad_output, "v": torch.zeros_like(grad_output)}  # dL/dx_{n+1}, dL/dv_{n+1} through v_{n+2}

        def evaluate(n, x_n):  # f_n(x_n), and its vector-Jacobian product with (1 − γ) h dL/dv_{n+1}
            f = stage.residuals[n]
            g["next"] = g["v"] + g["x"]
            coefficient = _detached((1 - self._gamma(stage, n)) * stage.h)
            value, g["through_f"] = local_vjp(f, f, x_n, scale(coefficient, g["next"]), 1.0, accumulate)
            return value

        for n, _, value, v_n in self._inverse_steps(stage, states, evaluate):
            if stage.learned_gamma is not None:
                parameter = stage.learned_gamma[n]
                accumulate([parameter], [(g["next"] * (v_n - stage.h * value)).sum().reshape(parameter.shape)])
            g["x"] = g["x"] + g["through_f"]
            g["v"] = scale(_detached(self._gamma(stage, n)), g["next"])
        return g["x"]

    def reconstruct_input(self, stage, states):
        """The stage input as the exact fixed-point forward saw it (its rounding onto the grid, nothing else)."""
        import torch

        from nas.networks.reversible_autograd import frozen_batch_norm_statistics

        x_0 = states[-1]
        with torch.no_grad(), frozen_batch_norm_statistics(stage):
            for _, x_0, _, _ in self._inverse_steps(stage, states, lambda n, x_n: stage.residuals[n](x_n)):
                pass
        return x_0

    # diagnostics: the two-step method in x, with the second-order limit and the normalised modified equation
    def analyze(self, scheme, tolerance):
        from nas.diagnostics.multistep import analyze_coefficients
        from nas.diagnostics.values import EXACT, FLOAT, to_sympy

        method = scheme.multistep()
        exact = method.is_exact
        convert = to_sympy if exact else float
        report = analyze_coefficients([convert(a) for a in method.alpha], [convert(b) for b in method.beta],
                                      name=str(scheme), scheme=scheme.to_dict(),
                                      arithmetic=EXACT if exact else FLOAT, tolerance=tolerance,
                                      notes=_notes(scheme))
        sigma_1 = convert(1 - scheme.gamma)  # divide by σ(1): u' + h (1+γ)/(2(1−γ)) u'' = f(u) + O(h²)
        equation = report.modified_equation
        normalised = dataclasses.replace(
            equation, lhs=tuple(dataclasses.replace(t, coefficient=t.coefficient / sigma_1) for t in equation.lhs),
            rhs=tuple(dataclasses.replace(t, coefficient=t.coefficient / sigma_1) for t in equation.rhs))
        return dataclasses.replace(report, modified_equation=normalised)

    def zero_stability_violation(self, scheme):
        return multistep.root_condition_violation(scheme.multistep())  # ρ(ζ) = (ζ − 1)(ζ − γ)

    # search and results
    def parse_block(self, raw, path, label):
        from nas.domains import check_mapping, fail, parse_domain

        check_mapping(raw, path, {"family", "label", "gamma", "learn"})
        learn = parse_domain(raw.get("learn", "fixed"), f"{path}.learn", "str", choices=LEARN_MODES)
        gamma = parse_domain(raw.get("gamma", float(DEFAULT_GAMMA)), f"{path}.gamma", "float", 0.0, 1.0)
        if any(value >= 1 for value in gamma.values()):
            raise fail(f"{path}.gamma", "must be below 1 (gamma = 1 never forgets the velocity)")
        return MomentumBlock(label, gamma, learn)

    def coefficient_columns(self, data):
        return {"coef_gamma": json_float(data.get("gamma"))}

    def display_name(self, scheme):
        return f"momentum(gamma={float(scheme.gamma):.3g}{', learned' if scheme.learned else ''})"

    def learned_coefficients(self, scheme):
        return ("gamma",) if scheme.learned else ()

    def stability_proxy(self, scheme, learned=None, name=None):
        if scheme.learned:
            if not learned or learned.get("gamma") is None:
                return None
            scheme = Momentum(gamma=min(max(rounded(learned["gamma"]), 0.0), 0.9999))
        return dataclasses.replace(scheme.multistep(), name=name or str(scheme))  # root condition of ρ − hλσ

    def card_rows(self, scheme):
        g = scheme.gamma
        return {"gamma": f"{g}" + (", learned per step from it" if scheme.learned else ""),
                "two-step form": f"x_(n+1) - (1 + gamma) x_n + gamma x_(n-1) = (1 - gamma) h f(x_n), gamma = {g}",
                "second-order limit": f"eps x'' + x' = f(x), eps = gamma h/(1 - gamma) = {scheme.epsilon} h",
                "modified equation": f"x' + h (1 + gamma)/(2 (1 - gamma)) x'' = f(x) + O(h^2), "
                                     f"(1 + gamma)/(2 (1 - gamma)) = {(1 + g) / (2 * (1 - g))}"}


def _detached(value):
    return value.detach() if hasattr(value, "detach") else value


def _notes(scheme: Momentum) -> tuple[str, ...]:
    g = scheme.gamma
    learned = (f"gamma is learned per step; analysed at its initial value {g}",) if scheme.learned else ()
    return learned + (
        "x_{n+1} = x_n + v_{n+1}, v_{n+1} = gamma v_n + (1 - gamma) h f(x_n), v_0 = 0: the two-step method "
        "x_{n+1} - (1 + gamma) x_n + gamma x_{n-1} = (1 - gamma) h f(x_n), rho(zeta) = (zeta - 1)(zeta - gamma)",
        f"second-order limit: eps x'' + x' = f(x), eps = gamma h/(1 - gamma) = {scheme.epsilon}*h "
        f"(gamma = {g}); the step is semi-implicit Euler for it (u = v/h: eps (u_{{n+1}} - u_n)/h + u_{{n+1}} = "
        "f(x_n)), first order as h -> 0 with gamma = eps/(eps + h); x'(0) = v_0/h",
        f"modified equation (divided by sigma(1) = 1 - gamma): x' + h (1 + gamma)/(2 (1 - gamma)) x'' = f(x) + "
        f"O(h^2), coefficient {(1 + g) / (2 * (1 - g))}",
    )


__all__ = ["LEARN_MODES", "Momentum", "MomentumFamily", "MomentumParametrisation", "MomentumStageState", "divide",
           "momentum", "momentum_step", "multiply"]
