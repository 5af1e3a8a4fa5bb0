"""Explicit linear multistep methods, and the LM-ResNet family.

    Σ_{j=0..k} α_j x_{n+j} = h Σ_{j=0..k} β_j f(x_{n+j}),   α_k = 1, β_k = 0 (explicit)
    ρ(ζ) = Σ α_j ζ^j,   σ(ζ) = Σ β_j ζ^j                    (Hairer, Nørsett, Wanner, §III.2)

LM-ResNet (Lu, Zhong, Li, Dong 2018): x_{n+1} = (1 − k_n) x_n + k_n x_{n−1} + f_n(x_n), i.e. the two-step
method α = (−k, −(1−k), 1), β = (0, 1, 0). ρ(ζ) = (ζ − 1)(ζ + k) gives ρ'(1) = 1 + k while σ(1) = 1, so
for k ≠ 0 it is consistent with (1 + k) u̇ = f rather than with u̇ = f: that is reported, not rejected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .coefficients import Coefficient, close_to, coefficient_to_json, exact_sum, parse_coefficient, parse_vector
from .serialization import check_keys

FAMILY = "multistep"
LM_RESNET_FAMILY = "lm_resnet"
LEARN_MODES = ("fixed", "layer", "channel")


@dataclass(frozen=True)
class LinearMultistep:
    """An explicit k-step method given by α (length k+1, α_k = 1) and β (length k+1, β_k = 0)."""

    alpha: tuple[Coefficient, ...]
    beta: tuple[Coefficient, ...]
    name: str = ""
    family: str = field(default=FAMILY, init=False)

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
            "family": FAMILY,
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
    family: str = field(default=LM_RESNET_FAMILY, init=False)

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
            "family": LM_RESNET_FAMILY,
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
