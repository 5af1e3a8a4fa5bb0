"""LM-ResNet (Lu, Zhong, Li, Dong, ICML 2018): x_{n+1} = (1 − k_n) x_n + k_n x_{n−1} + f_n(x_n).

As a linear two-step method α = (−k, −(1−k), 1), β = (0, 1, 0): ρ(ζ) = (ζ − 1)(ζ + k) gives ρ'(1) = 1 + k
while σ(1) = 1, so for k ≠ 0 it is consistent with (1 + k) u̇ = f rather than with u̇ = f (reported, not
rejected); zero-stable iff −1 < k ≤ 1. Modified equation: (1 + k) u̇ + (1 − k)(h/2) ü + O(h²) = f(u).

k is a constant (``learn="fixed"``), one trainable scalar per step (``"layer"``, the paper) or one per
channel per step (``"channel"``). The network stage is the multistep stage (``nas.families.multistep``)
with per-step coefficients from k_n; the first step of each stage is a plain residual step, and only the
steps that use k_n (steps ≥ 1; every step of a converted stage, whose history starts at its transition block)
own one, so every learned k receives a gradient.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from nas.schemes.coefficients import Coefficient, coefficient_to_json, parse_coefficient
from nas.schemes.serialization import check_keys

from . import multistep
from .base import NamedScheme, Parametrisation, SchemeParameter, json_float, renamed, report_columns, rounded
from .multistep import LinearMultistep, MultistepStages

NAME = "lm_resnet"
LEARN_MODES = ("fixed", "layer", "channel")
K_RANGE = (-2.0, 2.0)  # bounds of a searched k


@dataclass(frozen=True)
class LMResNet:
    """The LM-ResNet family x_{n+1} = (1 − k_n) x_n + k_n x_{n−1} + f_n(x_n).

    ``learn``: ``"fixed"`` (k is a constant buffer), ``"layer"`` (one trainable scalar k_n per step, as in
    the paper) or ``"channel"`` (one trainable k_n per channel per step). ``k`` is the fixed value, or the
    initial value of the learned ones; ``None`` (learned only) draws k_n ~ U(−0.1, 0] as the paper's
    reference code does (it initialises 1 − k_n ∈ U(1, 1.1)).
    """

    k: Coefficient | None = None
    learn: str = "layer"
    name: str = "lm_resnet"
    family: str = field(default=NAME, init=False)

    def __post_init__(self):
        if self.learn not in LEARN_MODES:
            raise ValueError(f"learn: must be one of {', '.join(LEARN_MODES)}, got {self.learn!r}")
        if self.k is None:
            if self.learn == "fixed":
                raise ValueError("k: a fixed LM-ResNet needs a value of k (learn='fixed', k=None)")
        else:
            object.__setattr__(self, "k", parse_coefficient(self.k, "k"))

    @property
    def steps(self) -> int:
        return 2

    @property
    def learned(self) -> bool:
        return self.learn != "fixed"

    def multistep(self, k: Coefficient | None = None) -> LinearMultistep:
        """The two-step method for a given k (default: this scheme's k)."""
        k = self.k if k is None else parse_coefficient(k, "k")
        if k is None:
            raise ValueError("k: this LM-ResNet has no fixed k; pass one")
        return LinearMultistep(alpha=(-k, -(1 - k), 1), beta=(0, 1, 0), name=f"lm_resnet(k={k})")

    def to_dict(self) -> dict:
        return {
            "family": NAME,
            "name": self.name,
            "k": None if self.k is None else coefficient_to_json(self.k),
            "learn": self.learn,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LMResNet":
        check_keys(data, required=set(), optional={"k", "learn", "name", "family"}, where="lm_resnet scheme")
        return cls(k=data.get("k"), learn=data.get("learn", "layer"), name=data.get("name", "lm_resnet"))

    def __str__(self) -> str:
        if self.learn == "fixed":
            return f"lm_resnet(k={self.k})"
        return f"lm_resnet(learned per {self.learn})"


def lm_resnet(k=None, learn=None) -> LMResNet:
    """``get("lm_resnet", ...)``: a given k without a learn mode is a fixed k; no k is learned per layer
    with the paper's initialisation."""
    if learn is None:
        learn = "layer" if k is None else "fixed"
    return LMResNet(k=k, learn=learn)


PARAMETERS = (
    SchemeParameter("k", "lm_resnet: the coefficient k (fixed unless a learn mode is given; default: learned "
                         "per layer from the paper's initialisation)"),
    SchemeParameter("learn", "lm_resnet: keep k fixed or learn it per layer / per channel", LEARN_MODES,
                    flag="learn-k"),
)


# ------------------------------------------------------------------------------------- search block
@dataclass(frozen=True)
class LMResNetBlock:
    """LM-ResNet with k fixed or learned (k is then the initial value; none: the paper's)."""

    label: str
    k: object | None  # nas.domains.Domain
    learn: object
    family: str = NAME

    def suggest(self, trial, constants: dict) -> None:
        from nas.domains import suggest_into

        suggest_into(self.learn, trial, f"{self.label}.learn", constants)
        if self.k is not None:
            suggest_into(self.k, trial, f"{self.label}.k", constants)

    def build(self, config: dict):
        return LMResNet(k=config.get(f"{self.label}.k"), learn=config[f"{self.label}.learn"])

    def check_depth(self, most_steps: int, path: str) -> None:
        return None  # a one-step stage is a plain residual step


# ------------------------------------------------------------------------------ learned coefficients
@dataclass(frozen=True)
class LMResNetParametrisation(Parametrisation):
    """LM-ResNet's learned form in the common interface: θ = (k,), α = (−k, k − 1, 1), β = (0, 1, 0) (Lu et al.
    2018). ρ(1) = 0 for every k, so the method is consistent with (1 + k) u̇ = f and has effective order 1 there
    (order 1 for u̇ = f only at k = 0): ``order`` is that effective order. k is unconstrained, as in the
    paper: zero-stability (−1 < k ≤ 1) is not enforced."""

    order: int
    start: tuple[float, ...]
    family: ClassVar[str] = NAME

    def coefficients(self, params):
        import torch

        k = params[0]
        one, zero = params.new_ones(()), params.new_zeros(())
        return {"k": k, "alpha": torch.stack([-k, k - 1, one]), "beta": torch.stack([zero, one, zero])}

    def scheme(self, params, name=""):
        return LMResNet(k=float(params.detach()[0]), learn="fixed", name=name or NAME)


# ------------------------------------------------------------------------------------------ family
class LMResNetFamily(MultistepStages):
    name = NAME
    scheme_type = LMResNet
    coefficient_options = None  # k is a parameter of the named scheme (--k)

    def named_schemes(self):
        return (NamedScheme("lm_resnet", lm_resnet, None, "Lu, Zhong, Li, Dong (ICML 2018)",
                            "x_{n+1} = (1-k_n) x_n + k_n x_{n-1} + f_n(x_n); order 1 for (1+k) u' = f (k != -1), "
                            "for u' = f only at k = 0", NAME,
                            PARAMETERS),)

    def method(self, scheme):
        if scheme.k is None:
            raise ValueError("scheme: lm_resnet with learned k and no initial value has no k to integrate with")
        return scheme.multistep()

    # network stage: coefficients from k_n
    def _initial_coefficients(self, stage, spec, width, startup_steps):
        scheme = stage.scheme
        if not scheme.learned:
            return super()._initial_coefficients(stage, spec, width, startup_steps)
        from torch import nn

        from nas.networks.blocks import coefficient_shape

        shape = coefficient_shape(spec.macro, width) if scheme.learn == "channel" else ()
        owners = max(spec.steps_per_stage - startup_steps, 0)  # the steps that use k_n
        return None, None, nn.ParameterList(nn.Parameter(_initial_k(scheme, shape)) for _ in range(owners))

    def _step_coefficients(self, stage, n):
        if stage.learned_k is None:
            return super()._step_coefficients(stage, n)
        k = stage.learned_k[n - stage.state.startup_steps]
        return (-k, k - 1.0, 1.0), (0.0, 1.0, 0.0)

    def _extra_row(self, stage, n):
        if stage.scheme_parameters is not None:
            return {"k": multistep.coefficient_value(stage.scheme_parameters.coefficients(n)["k"])}
        k = stage.learned_k[n - stage.state.startup_steps] if stage.learned_k is not None else stage.scheme.k
        return {"k": multistep.coefficient_value(k)}

    def memory_efficient_reason(self, scheme):
        # The inverse x_{n−1} = (x_{n+1} − (1 − k_n) x_n − f_n(x_n)) / k_n multiplies round-off by 1/|k_n| per
        # step (the paper's k_n ∈ (−0.1, 0] gives ≥ 10×), and a learned k_n can cross 0, where the step is not
        # invertible at all.
        return ("lm_resnet inverts as x_{n-1} = (x_{n+1} - (1-k) x_n - f_n(x_n)) / k: dividing by k amplifies "
                "round-off by 1/|k| per step and fails at k = 0, so it is not supported")

    def paper_residual(self, scheme):
        return "preact"

    # diagnostics: symbolic in k when k is learned without a given value; a learned k with an initial value
    # is judged by that value (it then moves in training)
    def analyze(self, scheme, tolerance):
        from nas.diagnostics.multistep import analyze_lm_resnet

        return analyze_lm_resnet(scheme, tolerance=tolerance)

    def _fixed(self, scheme) -> LMResNet:
        return LMResNet(k=scheme.k, learn="fixed") if scheme.learned and scheme.k is not None else scheme

    def diagnostic_columns(self, scheme):
        # order as a method for (1 + k) u' = f, the equation LM-ResNet is consistent with (base.scheme_order)
        return report_columns(self.analyze(self._fixed(scheme), 1e-9))

    def zero_stability_violation(self, scheme):
        if scheme.k is None:  # the paper's initialisation k ∈ (−0.1, 0] is zero-stable
            return 0.0
        return super().zero_stability_violation(scheme)

    # learned coefficients: k itself (the paper's form)
    def parametrisation(self, scheme, order=None):
        if order not in (None, 1):
            raise ValueError(f"learn_order: lm_resnet keeps effective order 1 (consistency with (1 + k) u' = f), "
                             f"got {order!r}")
        if scheme.learned:
            raise ValueError(f"learn_scheme: {scheme} already learns k (learn={scheme.learn!r}); give a fixed k "
                             f"(learn='fixed') as the starting point")
        return LMResNetParametrisation(1, (float(scheme.k),))

    # search and results
    def parse_block(self, raw, path, label):
        from nas.domains import check_mapping, fail, parse_domain

        check_mapping(raw, path, {"family", "label", "k", "learn"})
        learn = parse_domain(raw.get("learn", "layer"), f"{path}.learn", "str", choices=LEARN_MODES)
        k = None if raw.get("k") is None else parse_domain(raw["k"], f"{path}.k", "float", *K_RANGE)
        if k is None and "fixed" in learn.values():
            raise fail(f"{path}.k", "learn: fixed needs a value (or range) of k")
        return LMResNetBlock(label, k, learn)

    def coefficient_columns(self, data):
        return {"coef_k": json_float(data.get("k"))}

    def display_name(self, scheme):
        return "lm_resnet" if scheme.learned else f"lm_resnet(k={float(scheme.k):.3g})"

    def learned_coefficients(self, scheme):
        return ("k",) if scheme.learned else ()

    def stability_proxy(self, scheme, learned=None, name=None):
        if not scheme.learned:
            return renamed(scheme, name)
        if not learned or learned.get("k") is None:
            return None
        return LMResNet(k=rounded(learned["k"]), learn="fixed", name=name or scheme.name)

    def card_rows(self, scheme):
        return {**super().card_rows(scheme), "k": "learned per " + scheme.learn if scheme.learned else str(scheme.k),
                "continuous limit": "(1 + k) u' = f(u), with the inertia term (1 - k)(h/2) u'' at first order in h"}


def _initial_k(scheme: LMResNet, shape):
    import torch

    if scheme.k is not None:
        return torch.full(shape, float(scheme.k))
    # The paper's reference code: 1 − k_n ~ U(1, 1.1), i.e. k_n ~ U(−0.1, 0].
    return -0.1 * torch.rand(shape)


__all__ = ["LEARN_MODES", "LMResNet", "LMResNetFamily", "LMResNetParametrisation", "lm_resnet"]
