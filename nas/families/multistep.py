"""Explicit linear multistep methods.

    Σ_{j=0..k} α_j x_{n+j} = h Σ_{j=0..k} β_j f(x_{n+j}),   α_k = 1, β_k = 0 (explicit)
    ρ(ζ) = Σ α_j ζ^j,   σ(ζ) = Σ β_j ζ^j                    (Hairer, Nørsett, Wanner, Solving ODEs I, §III.2)

The step is ``nas.stepper.multistep_update`` (state part and increment), used by ``nas.integrate`` and by
the networks. Networks start every stage with k−1 plain residual steps (the LM-ResNet convention: the
states before a width change have another shape); ``nas.integrate`` starts with RK4 steps by default.
Two-step methods that invert without division (|α_0| = 1, β_0 = 0), such as ``leapfrog`` (the "midpoint
network" of Chang et al. 2018), have the memory-efficient mode.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from fractions import Fraction as F  # noqa: N817
from typing import ClassVar

from nas.schemes.coefficients import Coefficient, close_to, coefficient_to_json, exact_sum, parse_vector
from nas.schemes.serialization import check_keys
from nas.stepper import as_floats, multistep_update, runge_kutta_increment, tableau_floats
from nas.vocabulary import ZERO_STABILITY_TOLERANCE

from . import runge_kutta
from .base import (CoefficientOptions, FreeCoefficientsBlock, NamedScheme, Parametrisation, StageParts, floats,
                   json_float, nearest_solution, renamed)
from .capabilities import LearnableFamily, PriorStateFamily, ReversibleFamily

NAME = "multistep"
MAX_STEPS = 3  # largest free method a search block samples
STARTUP_TABLEAUX = {"runge_kutta": runge_kutta.RK4, "euler": runge_kutta.EULER}
# Roots this close to the unit circle count as on it (see nas.vocabulary).
ROOT_TOLERANCE = ZERO_STABILITY_TOLERANCE
# A repeated root on the unit circle violates the root condition although max |ζ| − 1 = 0.
REPEATED_UNIT_ROOT_VIOLATION = 1e-3


@dataclass(frozen=True)
class LinearMultistep:
    """An explicit k-step method given by α (length k+1, α_k = 1) and β (length k+1, β_k = 0)."""

    alpha: tuple[Coefficient, ...]
    beta: tuple[Coefficient, ...]
    name: str = ""
    family: str = field(default=NAME, init=False)

    def __post_init__(self):
        alpha = parse_vector(self.alpha, "alpha")
        beta = parse_vector(self.beta, "beta")
        if len(alpha) < 2:
            raise ValueError(f"alpha: needs at least 2 entries (a k-step method has k+1), got {len(alpha)}")
        if len(beta) != len(alpha):
            raise ValueError(f"beta: has {len(beta)} entries, expected {len(alpha)} (same length as alpha)")
        if alpha[-1] != 1:
            raise ValueError(f"alpha[{len(alpha) - 1}] = {alpha[-1]}: the leading coefficient α_k must be 1")
        if beta[-1] != 0:
            raise ValueError(
                f"beta[{len(beta) - 1}] = {beta[-1]}: β_k must be 0 (only explicit methods are supported)"
            )
        if all(b == 0 for b in beta):
            raise ValueError("beta: all zero, the method never evaluates f")
        if not isinstance(self.name, str):
            raise ValueError(f"name: expected a string, got {self.name!r}")
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "beta", beta)

    @property
    def steps(self) -> int:
        """k, the number of previous states one step uses."""
        return len(self.alpha) - 1

    @property
    def consistent(self) -> bool:
        """ρ(1) = 0 and ρ'(1) = σ(1)."""
        rho_1 = exact_sum(self.alpha)
        rho_prime_1 = exact_sum(j * a for j, a in enumerate(self.alpha))
        return close_to(rho_1, 0) and close_to(rho_prime_1, exact_sum(self.beta))

    @property
    def is_exact(self) -> bool:
        return all(isinstance(v, Fraction) for v in (*self.alpha, *self.beta))

    def to_dict(self) -> dict:
        return {
            "family": NAME,
            "name": self.name,
            "alpha": [coefficient_to_json(v) for v in self.alpha],
            "beta": [coefficient_to_json(v) for v in self.beta],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LinearMultistep":
        check_keys(data, required={"alpha", "beta"}, optional={"name", "family"}, where="multistep scheme")
        return cls(alpha=data["alpha"], beta=data["beta"], name=data.get("name", ""))

    def __str__(self) -> str:
        return self.name or f"multistep({self.steps} steps)"


# ------------------------------------------------------------------------------------ named methods
_HNW = "Hairer, Nørsett, Wanner (1993), §III.1"

AB2 = LinearMultistep(alpha=[0, -1, 1], beta=[F(-1, 2), F(3, 2), 0], name="ab2")
"""Two-step Adams-Bashforth: x_{n+2} = x_{n+1} + h(3/2 f_{n+1} − 1/2 f_n). Order 2, C_3 = 5/12."""
AB3 = LinearMultistep(alpha=[0, 0, -1, 1], beta=[F(5, 12), F(-16, 12), F(23, 12), 0], name="ab3")
"""Three-step Adams-Bashforth: x_{n+3} = x_{n+2} + h(23/12 f_{n+2} − 16/12 f_{n+1} + 5/12 f_n). Order 3,
C_4 = 3/8."""
LEAPFROG = LinearMultistep(alpha=[-1, 0, 1], beta=[0, 2, 0], name="leapfrog")
"""Leapfrog / explicit midpoint two-step rule: x_{n+2} = x_n + 2h f_{n+1}. Order 2, zero-stable. The
"midpoint network" of Chang et al. (AAAI 2018)."""


# ---------------------------------------------------------------------------------------- helpers
def rho_violation(alpha, analyze) -> float:
    """max |ζ| − 1 over the roots of ρ (root condition, Hairer, Nørsett, Wanner I, §III.3); a repeated root
    on the unit circle gives ``REPEATED_UNIT_ROOT_VIOLATION``. ``analyze()`` is the method's report, asked
    only when the numerical roots cannot decide (exactly for Fractions)."""
    import numpy as np

    rho = [float(a) for a in alpha]  # lowest degree first
    roots = np.roots(rho[::-1])
    violation = float(np.abs(roots).max() - 1.0) if len(roots) else -1.0
    if violation > ROOT_TOLERANCE:
        return violation
    # On or inside the unit circle: the root condition also forbids repeated roots of modulus 1, which
    # numerical roots cannot tell from close simple ones.
    if analyze().zero_stable is False:
        return REPEATED_UNIT_ROOT_VIOLATION
    return min(violation, 0.0)


def root_condition_violation(method: LinearMultistep) -> float:
    """:func:`rho_violation` of a method, its report asked for only when the roots cannot decide."""
    from nas.diagnostics.multistep import analyze_multistep

    return rho_violation(method.alpha, lambda: analyze_multistep(method))


def division_free_inverse(scheme: LinearMultistep) -> str | None:
    """None when a multistep method inverts step by step without division, else the reason it does not."""
    if scheme.steps != 2:
        return f"only two-step methods invert from the last two states; {scheme} has {scheme.steps} step(s)"
    if scheme.beta[0] != 0:
        return f"beta[0] = {scheme.beta[0]} != 0: the inverse would need f at the unknown older state"
    if abs(scheme.alpha[0]) != 1:
        return f"|alpha[0]| = {abs(scheme.alpha[0])} != 1: the inverse would divide by alpha[0]"
    return None


def coefficient_value(value):
    """A coefficient as a float, or a list of floats for per-channel values (tensors included)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        return value.item() if value.numel() == 1 else value.flatten().tolist()
    return float(value)


# ------------------------------------------------------------------------------------- search block
@dataclass(frozen=True)
class MultistepBlock(FreeCoefficientsBlock):
    """Free explicit k-step methods, consistent by construction: the block samples α_1 … α_{k−1} and
    β_0 … β_{k−2}; α_k = 1, α_0 = −Σ_{j≥1} α_j (ρ(1) = 0) and β_{k−1} = ρ'(1) − Σ_{j<k−1} β_j (ρ'(1) = σ(1))
    are derived (Hairer, Nørsett, Wanner I, §III.2)."""

    family: str = NAME
    size_key: ClassVar[str] = "steps"

    @classmethod
    def size_domain(cls, size, path):
        from nas.domains import Domain

        if size.mode == "range":  # a choice: each k has its own set of free coefficients
            return Domain("int", "choice", choices=tuple(range(int(size.low), int(size.high) + 1)))
        return size

    def free(self, k: int) -> list[str]:
        return [f"alpha_{j}" for j in range(1, k)] + [f"beta_{j}" for j in range(k - 1)]

    def build(self, config: dict):
        k = int(config[f"{self.label}.steps"])
        free_alpha = [config[f"{self.label}.alpha_{j}"] for j in range(1, k)]
        alpha = [-1.0 - sum(free_alpha), *free_alpha, 1.0]  # ρ(1) = Σ α_j = 0
        rho_prime = sum(j * a for j, a in enumerate(alpha))
        beta = [config[f"{self.label}.beta_{j}"] for j in range(k - 1)]
        beta.append(rho_prime - sum(beta))  # σ(1) = ρ'(1)
        beta.append(0.0)  # explicit: β_k = 0
        return LinearMultistep(alpha=alpha, beta=beta, name=f"{self.label}_k{k}")

    def check_depth(self, most_steps: int, path: str) -> None:
        from nas.domains import fail

        k = max(self.size.values())
        if k > most_steps:
            raise fail(f"{path}.steps", f"a {k}-step method needs steps_per_stage >= {k} to take a single "
                                        f"multistep step; network.steps_per_stage allows at most {most_steps}")


# ------------------------------------------------------------------------------ learned coefficients
def _times(p: list, q: list) -> list:
    """The coefficients (lowest degree first, lists of scalars or 0-d tensors) of the product p·q."""
    out = [None] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] = a * b if out[i + j] is None else out[i + j] + a * b
    return out


def order_condition_matrix(steps: int, order: int, dtype, device=None):
    """(N, T): the order conditions C_1 = … = C_p = 0 of an explicit k-step method read as N β = T α, with
    N[q−1, j] = q j^{q−1} (j < k; 0⁰ = 1) and T[q−1, j] = j^q (j ≤ k): C_q = Σ_j j^q α_j / q! −
    Σ_j j^{q−1} β_j / (q−1)! (Hairer, Nørsett, Wanner I, §III.2)."""
    import torch

    q = torch.arange(1, order + 1, dtype=dtype, device=device)[:, None]
    j = torch.arange(0, steps + 1, dtype=dtype, device=device)[None, :]
    return q * j[:, :steps] ** (q - 1), j ** q


@dataclass(frozen=True)
class MultistepParametrisation(Parametrisation):
    """Explicit zero-stable k-step methods of order ≥ ``order`` (1 ≤ p ≤ k), for every value of θ.

    θ = (u_1 … u_{k−1}; then w ∈ R^k when p < k). ρ(ζ) = (ζ − 1) ∏_i (ζ − r_i) with r_i = tanh(u_i) ∈ (−1, 1),
    except that the first 2·``pairs`` entries of u describe ``pairs`` complex-conjugate root pairs
    r e^{±iφ} with r = sigmoid(v) ∈ (0, 1), (v, φ) free (the factor ζ² − 2 r cos φ ζ + r²). ρ(1) = 0
    (C_0 = 0), the root 1 is simple and every other root lies strictly inside the unit disc, so the root
    condition holds by construction (Dahlquist 1956; Hairer, Nørsett, Wanner I, §III.3). The order
    conditions C_1 … C_p are linear in β once α is fixed (:func:`order_condition_matrix`, N β = T α); N has full
    row rank for p ≤ k (a Vandermonde matrix in the nodes 0 … k−1, scaled), so the system is never singular:
    β = N⁻¹ T α when p = k, else the solution nearest to w. β_k = 0 (explicit). p ≤ k is the first Dahlquist
    barrier for explicit zero-stable methods (p ≤ k + 1 for implicit ones, more only when unstable).

    ``pairs`` is set by the starting scheme (its number of complex-conjugate root pairs) and does not change in
    training: a pair may close up onto the real axis (φ = 0), but real roots do not become complex. In float64,
    tanh(u) and sigmoid(v) round to 1 for u, v beyond about 19 and 37, where a root reaches the unit circle:
    such θ are never reached from a sensible start.
    """

    steps: int
    order: int
    start: tuple[float, ...]
    pairs: int = 0
    family: ClassVar[str] = NAME

    @staticmethod
    def check_pair(steps: int, order: int) -> None:
        if not isinstance(order, int) or isinstance(order, bool) or not 1 <= order <= steps:
            raise ValueError(f"learn_order: a zero-stable explicit {steps}-step method has order 1 … {steps} (first "
                             f"Dahlquist barrier); (k, p) = ({steps}, {order!r}) is not supported")

    @classmethod
    def from_scheme(cls, scheme: LinearMultistep, order: int) -> "MultistepParametrisation":
        import numpy as np

        k = scheme.steps
        cls.check_pair(k, order)
        alpha = [float(a) for a in scheme.alpha]
        quotient, remainder = np.polydiv(alpha[::-1], [1.0, -1.0])  # ρ(ζ) / (ζ − 1), highest degree first
        if abs(remainder[-1]) > 1e-9:
            raise ValueError(f"alpha: ρ(1) = {sum(alpha)} ≠ 0, {scheme} is not consistent")
        roots = np.sort_complex(np.roots(quotient)) if k > 1 else np.array([])
        if np.any(np.abs(roots) >= 1):
            raise ValueError(f"alpha: ρ(ζ)/(ζ − 1) of {scheme} has roots {roots.tolist()} on or outside the unit "
                             f"circle; the parametrisation keeps them strictly inside (|r| < 1)")
        upper = [r for r in roots if r.imag > 1e-9]  # one root of each conjugate pair
        real = [r.real for r in roots if abs(r.imag) <= 1e-9]
        start = tuple(x for r in upper for x in (float(np.log(abs(r) / (1 - abs(r)))), float(np.angle(r))))
        start += tuple(float(np.arctanh(r)) for r in real)
        if order < k:
            start += tuple(float(b) for b in scheme.beta[:-1])
        out = cls(k, order, start, len(upper))
        found = out.scheme(out.free_parameters())
        if max(abs(float(x) - float(y)) for x, y in zip((*found.alpha, *found.beta), (*scheme.alpha, *scheme.beta))) > 1e-9:
            raise ValueError(f"scheme: {scheme} does not have order {order} (learn_order), so it cannot start an "
                             f"order-{order} parametrisation")
        return out

    def coefficients(self, params):
        import torch

        k = self.steps
        if params.shape != (self.size,):
            raise ValueError(f"params: expected shape ({self.size},), got {tuple(params.shape)}")
        one = params.new_ones(())
        rho = [-one, one]  # ζ − 1, lowest degree first
        for j in range(self.pairs):  # ζ² − 2 r cos φ ζ + r², r = sigmoid(v)
            r, phi = torch.sigmoid(params[2 * j]), params[2 * j + 1]
            rho = _times(rho, [r * r, -2 * r * torch.cos(phi), one])
        for r in torch.tanh(params[2 * self.pairs:k - 1]):  # ζ − r
            rho = _times(rho, [-r, one])
        alpha = torch.stack(rho)
        N, T = order_condition_matrix(k, self.order, params.dtype, params.device)
        if self.order == k:
            beta = torch.linalg.solve(N, T @ alpha)
        else:
            beta = nearest_solution(N, T @ alpha, params[k - 1:])
        return {"alpha": alpha, "beta": torch.cat([beta, beta.new_zeros(1)])}

    def scheme(self, params, name=""):
        import torch

        with torch.no_grad(), torch.device("cpu"):  # concrete values, also when called under a meta-device build
            values = self.coefficients(params.detach().to("cpu", torch.float64))
        alpha = list(floats(values["alpha"]))
        alpha[-1] = 1.0  # exactly 1 already: ρ is monic by construction
        return LinearMultistep(alpha=alpha, beta=floats(values["beta"]),
                               name=name or f"learned_lmm{self.steps}_p{self.order}")


# ------------------------------------------------------------------------------------------ family
@dataclass(frozen=True)
class MultistepStageState:
    """The numbers a multistep stage steps with: k (``history``); the plain residual steps before its first
    k-step step (``startup_steps``, k − 1 less the prior states); the method's α, β as floats (None when
    lm_resnet learns k_n); and, for the memory-efficient mode, (a, c, d) of x_{n+1} = a x_n + c x_{n−1} +
    d f_n(x_n) (``inverse_coefficients``; None for a method that does not invert)."""

    history: int
    startup_steps: int
    alpha: list | None = None
    beta: list | None = None
    inverse_coefficients: tuple | None = None


class MultistepStages(PriorStateFamily, LearnableFamily):
    """What the families whose networks step as linear multistep methods share (multistep, and lm_resnet at
    its k_n): stepping, stages, converted stages from a prior state, diagnostics and results. Not in the
    registry itself: :class:`MultistepFamily` adds the memory-efficient mode, which lm_resnet has not."""

    name = NAME
    scheme_type = LinearMultistep
    stage_modules = ("residuals", "learned_k")  # learned_k: lm_resnet's learned k_n, None here
    coefficient_options = CoefficientOptions("multistep", (
        ("alpha", "alpha", "multistep α_0 … α_k as a JSON list (α_k = 1)"),
        ("beta", "beta", "multistep β_0 … β_k as a JSON list (β_k = 0)"),
    ), switch="multistep", switch_help="a linear multistep method from --alpha/--beta")

    def named_schemes(self):
        return (
            NamedScheme.constant(AB2, 2, _HNW, "2-step Adams-Bashforth"),
            NamedScheme.constant(AB3, 3, _HNW, "3-step Adams-Bashforth"),
            NamedScheme.constant(LEAPFROG, 2, "Chang et al. (AAAI 2018), 'midpoint network'",
                                 "x_{n+1} = x_{n-1} + 2h f(x_n)"),
        )

    def method(self, scheme) -> LinearMultistep:
        """The linear multistep method ``scheme`` steps with (itself here; LM-ResNet at its k)."""
        return scheme

    # stepping
    def integrate(self, scheme, fns, x0, h, steps, startup):
        method = self.method(scheme)
        alpha, beta = as_floats(method.alpha), as_floats(method.beta)
        start_A, start_b = tableau_floats(STARTUP_TABLEAUX[startup])
        k = method.steps
        states, f_values = deque(maxlen=k), deque(maxlen=k)
        x = x0
        for f in fns:
            states.append(x)
            if len(states) < k:  # start-up: one-step method
                increment, f_x = runge_kutta_increment([f] * len(start_b), x, h, start_A, start_b)
                f_values.append(f_x)
                x = x + increment
            else:
                f_values.append(f(x))
                state_part, increment = multistep_update(states, f_values, alpha, beta, h)
                x = state_part + increment
        return x

    # network stage: x_{n+k} = −Σ α_j x_{n+j} + h Σ β_j f_{n+j}(x_{n+j}) after k−1 plain residual steps
    def init_stage(self, stage, spec, width, first_step, make_residual):
        from torch import nn

        scheme = stage.scheme
        # k − 1 plain residual steps before the first multistep step; fewer when the stage starts from a
        # prior state (a converted network's transition block)
        startup_steps = max(scheme.steps - 1 - stage.prior_states, 0)
        residuals = nn.ModuleList(make_residual(step=n) for n in range(spec.steps_per_stage))
        alpha, beta, learned_k = self._initial_coefficients(stage, spec, width, startup_steps)
        inverse = None
        if self.memory_efficient_reason(scheme) is None:  # x_{n+1} = a x_n + c x_{n−1} + d f_n(x_n)
            a, b = as_floats(scheme.alpha), as_floats(scheme.beta)
            inverse = (-a[1], -a[0], stage.h * b[1])
        return StageParts({"residuals": residuals, "learned_k": learned_k},
                          MultistepStageState(scheme.steps, startup_steps, alpha, beta, inverse))

    def _initial_coefficients(self, stage, spec, width, startup_steps: int):
        """(α, β, learned k_n): the method's coefficients as floats; nothing learned per step."""
        method = self.method(stage.scheme)
        return as_floats(method.alpha), as_floats(method.beta), None

    def _step_coefficients(self, stage, n: int):
        """(α, β) of step n ≥ k − 1 of the stage: the scheme's floats, or tensors from the learned parameters
        (``learn_scheme``)."""
        if stage.scheme_parameters is not None:
            values = stage.scheme_parameters.coefficients(n)
            return values["alpha"], values["beta"]
        return stage.state.alpha, stage.state.beta

    def stage_forward(self, stage, x):
        return self._forward(stage, x, [], [])

    # converted networks (PriorStateFamily): a converted stage's first step is a full k-step step when k = 2
    def stage_forward_from(self, stage, x, prior):
        state, value = prior  # the history starts one step earlier: x_{-1} and f_{-1}
        return self._forward(stage, x, [state], [value])

    def _forward(self, stage, x, states: list, f_values: list):
        k = stage.state.history
        for n, f in enumerate(stage.residuals):
            states.append(x)
            f_values.append(f(x))
            if len(states) < k:  # start-up: a plain residual step
                increment = stage.h * f_values[-1] if stage.h != 1 else f_values[-1]
                state_part = x
            else:
                states, f_values = states[-k:], f_values[-k:]
                alpha, beta = self._step_coefficients(stage, n)
                state_part, increment = multistep_update(states, f_values, alpha, beta, stage.h)
            if stage.noise is not None:  # noise perturbs the increment, never the state combination
                increment = stage.noise[n](increment, x)
            x = stage.after_step(state_part + increment)
        return x

    def stage_coefficients(self, stage):
        rows = []
        for n in range(len(stage.residuals)):
            if n < stage.state.startup_steps:
                rows.append({"step": n, "startup": True, "alpha": [-1.0, 1.0], "beta": [1.0, 0.0], "h": stage.h})
                continue
            alpha, beta = self._step_coefficients(stage, n)
            rows.append({"step": n, "startup": False, "h": stage.h,
                         "alpha": [coefficient_value(a) for a in alpha], "beta": [coefficient_value(b) for b in beta],
                         **self._extra_row(stage, n)})
        return rows

    def _extra_row(self, stage, n: int) -> dict:
        return {}

    def paper_residual(self, scheme):
        # Chang et al.'s midpoint network uses σ((K − Kᵀ) x): stable for imaginary spectra (SCIENCE.md §5)
        return "antisymmetric" if division_free_inverse(scheme) is None else "preact"

    # diagnostics
    def analyze(self, scheme, tolerance):
        from nas.diagnostics.multistep import analyze_multistep

        return analyze_multistep(scheme, tolerance=tolerance)

    def zero_stability_violation(self, scheme):
        return root_condition_violation(self.method(scheme))

    # learned coefficients
    def parametrisation(self, scheme, order=None):
        if order is None:
            from nas.diagnostics.multistep import analyze_multistep

            found = analyze_multistep(scheme).order
            order = min(int(found), scheme.steps) if found else 1
        return MultistepParametrisation.from_scheme(scheme, order)

    # search and results
    def parse_block(self, raw, path, label):
        return MultistepBlock.parse(raw, path, label, MAX_STEPS)

    def coefficient_columns(self, data):
        value = json_float
        out = {f"coef_alpha_{j}": value(v) for j, v in enumerate(data["alpha"])}
        out.update({f"coef_beta_{j}": value(v) for j, v in enumerate(data["beta"])})
        return out

    def stability_proxy(self, scheme, learned=None, name=None):
        return renamed(scheme, name)  # root condition of ρ − hλ σ

    def card_rows(self, scheme):
        return {"steps": str(scheme.steps), "step": "x_{n+k} = −Σ_{j<k} α_j x_{n+j} + h Σ_{j<k} β_j f(x_{n+j})",
                "start-up (networks)": f"{scheme.steps - 1} plain residual step(s) per stage"}


class MultistepFamily(MultistepStages, ReversibleFamily):
    """Linear multistep methods; two-step division-free ones also invert step by step."""

    # memory-efficient mode (two-step, division-free): x_{n+1} = −α_1 x_n − α_0 x_{n−1} + h β_1 f_n(x_n)
    # inverts as x_{n−1} = (x_{n+1} + α_1 x_n − h β_1 f_n(x_n)) / (−α_0), no division when α_0 = ±1; the first
    # (start-up, Euler) step is recomputed from the stage input.
    def memory_efficient_reason(self, scheme):
        return division_free_inverse(scheme)

    def forward_states(self, stage, x):
        # The same arithmetic as stage_forward, keeping the last two states (β_0 = 0: f_{n−1} unused).
        previous = x
        for n, f in enumerate(stage.residuals):
            if n == 0:
                increment = stage.h * f(x) if stage.h != 1 else f(x)
                previous, x = x, x + increment
            else:
                alpha, beta = stage.state.alpha, stage.state.beta
                state_part, increment = multistep_update([previous, x], [None, f(x)], alpha, beta, stage.h)
                previous, x = x, state_part + increment
        return previous, x

    def backward_states(self, stage, x, states, grad_output, accumulate):
        from nas.networks.reversible_autograd import two_step_backward

        a, c, d = stage.state.inverse_coefficients
        return two_step_backward(stage.residuals, x, *states, grad_output, accumulate, a=a, c=c, d=d, d0=stage.h)

    def reconstruct_input(self, stage, states):
        """x_0 from (x_{N−1}, x_N): x_{n−1} = −α_0 (x_{n+1} + α_1 x_n − h β_1 f_n(x_n)) (no gradients)."""
        import torch

        from nas.networks.reversible_autograd import frozen_batch_norm_statistics, older_state

        a, c, d = stage.state.inverse_coefficients
        x, x_next = states
        with torch.no_grad(), frozen_batch_norm_statistics(stage):
            for f in reversed(stage.residuals[1:]):
                x, x_next = older_state(a, c, x, x_next, d * f(x)), x
        return x


__all__ = ["AB2", "AB3", "LEAPFROG", "LinearMultistep", "MultistepFamily", "MultistepParametrisation",
           "MultistepStageState", "MultistepStages", "REPEATED_UNIT_ROOT_VIOLATION", "ROOT_TOLERANCE",
           "division_free_inverse", "order_condition_matrix", "rho_violation", "root_condition_violation"]
