"""Explicit Runge-Kutta methods as Butcher tableaux.

    k_i = f(x_n + h Σ_{j<i} a_ij k_j),    x_{n+1} = x_n + h Σ_i b_i k_i      (Hairer, Nørsett, Wanner,
    Solving ODEs I (1993), §II.1)

A network step built from a tableau evaluates s residual functions (stages) and combines them with b; the
step is ``nas.stepper.runge_kutta_increment``, the same function ``nas.integrate`` uses. Named methods:
Butcher, Numerical Methods for ODEs (2016), and Hairer, Nørsett, Wanner (1993).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from fractions import Fraction as F  # noqa: N817 (the tableaux read like the textbook)
from typing import ClassVar

from nas.schemes.coefficients import Coefficient, close_to, coefficient_to_json, exact_sum, parse_vector
from nas.schemes.serialization import check_keys
from nas.stepper import runge_kutta_increment, tableau_floats

from .base import CoefficientOptions, FreeCoefficientsBlock, NamedScheme, SchemeFamily, json_float, renamed

NAME = "runge_kutta"
MAX_STAGES = 4  # largest free tableau a search block samples


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit s-stage Runge-Kutta method.

    ``A`` must be strictly lower triangular (explicit), ``c`` defaults to the row sums of A (and must equal
    them when given: the networks evaluate autonomous residual functions, so a c that disagrees with A
    would describe a different method than the one computed), and Σ b = 1 (consistency, order ≥ 1).
    Violations raise ``ValueError`` naming the entry; nothing is corrected.
    """

    A: tuple[tuple[Coefficient, ...], ...]
    b: tuple[Coefficient, ...]
    c: tuple[Coefficient, ...] | None = None
    name: str = ""
    family: str = field(default=NAME, init=False)

    def __post_init__(self):
        if isinstance(self.A, (str, bytes)) or not hasattr(self.A, "__iter__"):
            raise ValueError(f"A: expected a square list of rows, got {self.A!r}")
        rows = tuple(parse_vector(row, f"A[{i}]") for i, row in enumerate(self.A))
        s = len(rows)
        if s == 0:
            raise ValueError("A: a tableau needs at least one stage")
        for i, row in enumerate(rows):
            if len(row) != s:
                raise ValueError(f"A[{i}]: has {len(row)} entries, expected {s} (A must be square)")
            for j in range(i, s):
                if row[j] != 0:
                    raise ValueError(
                        f"A[{i}][{j}] = {row[j]}: A must be strictly lower triangular (explicit method); "
                        "entries on or above the diagonal must be 0"
                    )
        b = parse_vector(self.b, "b")
        if len(b) != s:
            raise ValueError(f"b: has {len(b)} entries, expected {s} (one per stage)")
        if not close_to(exact_sum(b), 1):
            raise ValueError(f"b: weights must sum to 1 (consistency), got sum(b) = {exact_sum(b)}")
        row_sums = tuple(exact_sum(row) for row in rows)
        if self.c is None:
            c = row_sums
        else:
            c = parse_vector(self.c, "c")
            if len(c) != s:
                raise ValueError(f"c: has {len(c)} entries, expected {s} (one per stage)")
            for i, (ci, ri) in enumerate(zip(c, row_sums)):
                if not close_to(ci, ri):
                    raise ValueError(f"c[{i}] = {ci}: must equal the row sum of A[{i}] = {ri}")
        if not isinstance(self.name, str):
            raise ValueError(f"name: expected a string, got {self.name!r}")
        object.__setattr__(self, "A", rows)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "c", c)

    @property
    def stages(self) -> int:
        return len(self.b)

    @property
    def is_exact(self) -> bool:
        """True when every coefficient is rational (exact arithmetic applies)."""
        return all(isinstance(v, Fraction) for v in (*self.b, *(a for row in self.A for a in row)))

    def to_dict(self) -> dict:
        return {
            "family": NAME,
            "name": self.name,
            "A": [[coefficient_to_json(a) for a in row] for row in self.A],
            "b": [coefficient_to_json(v) for v in self.b],
            "c": [coefficient_to_json(v) for v in self.c],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ButcherTableau":
        check_keys(data, required={"A", "b"}, optional={"c", "name", "family"}, where="runge_kutta scheme")
        return cls(A=data["A"], b=data["b"], c=data.get("c"), name=data.get("name", ""))

    def __str__(self) -> str:
        return self.name or f"runge_kutta({self.stages} stages)"


# ------------------------------------------------------------------------------------ named methods
_HNW = "Hairer, Nørsett, Wanner, Solving ODEs I (1993), §II.1"

EULER = ButcherTableau(A=[[0]], b=[1], name="euler")
"""Forward Euler (Euler 1768) = ResNet (He et al. 2016). Order 1."""
MIDPOINT = ButcherTableau(A=[[0, 0], [F(1, 2), 0]], b=[0, 1], name="midpoint")
"""Explicit midpoint rule (Runge 1895). Order 2."""
HEUN = ButcherTableau(A=[[0, 0], [1, 0]], b=[F(1, 2), F(1, 2)], name="heun")
"""Heun's method / explicit trapezoidal rule. Order 2."""
RALSTON = ButcherTableau(A=[[0, 0], [F(2, 3), 0]], b=[F(1, 4), F(3, 4)], name="ralston")
"""Ralston (1962), the 2-stage order-2 method with minimal error bound. Order 2."""
KUTTA3 = ButcherTableau(A=[[0, 0, 0], [F(1, 2), 0, 0], [-1, 2, 0]], b=[F(1, 6), F(2, 3), F(1, 6)], name="kutta3")
"""Kutta's third-order method (Kutta 1901). Order 3."""
SSPRK3 = ButcherTableau(A=[[0, 0, 0], [1, 0, 0], [F(1, 4), F(1, 4), 0]], b=[F(1, 6), F(1, 6), F(2, 3)],
                        name="ssprk3")
"""Strong-stability-preserving RK3 (Shu & Osher 1988). Order 3."""
RK4 = ButcherTableau(A=[[0, 0, 0, 0], [F(1, 2), 0, 0, 0], [0, F(1, 2), 0, 0], [0, 0, 1, 0]],
                     b=[F(1, 6), F(1, 3), F(1, 3), F(1, 6)], name="rk4")
"""The classic Runge-Kutta method (Kutta 1901). Order 4."""
RK38 = ButcherTableau(A=[[0, 0, 0, 0], [F(1, 3), 0, 0, 0], [F(-1, 3), 1, 0, 0], [1, -1, 1, 0]],
                      b=[F(1, 8), F(3, 8), F(3, 8), F(1, 8)], name="rk38")
"""Kutta's 3/8 rule (Kutta 1901). Order 4."""


# ------------------------------------------------------------------------------------- search block
@dataclass(frozen=True)
class RungeKuttaBlock(FreeCoefficientsBlock):
    """Free explicit tableaux with ``stages`` stages; c and the last b derived (consistent by construction):
    the block samples the strictly lower entries of A and b_0 … b_{s−2}; b_{s−1} = 1 − Σ b_i (order ≥ 1)
    and c = A·1 (Hairer, Nørsett, Wanner I, §II.1)."""

    family: str = NAME
    size_key: ClassVar[str] = "stages"

    @classmethod
    def size_domain(cls, size, path):
        from nas.search.domains import fail

        if size.mode == "range" and (size.log or size.step not in (None, 1)):
            raise fail(path, "a stage range takes only low and high")
        return size

    def free(self, s: int) -> list[str]:
        return [f"A_{i}_{j}" for i in range(1, s) for j in range(i)] + [f"b_{i}" for i in range(s - 1)]

    def build(self, config: dict):
        s = int(config[f"{self.label}.stages"])
        A = [[config[f"{self.label}.A_{i}_{j}"] if j < i else 0.0 for j in range(s)] for i in range(s)]
        b = [config[f"{self.label}.b_{i}"] for i in range(s - 1)]
        b.append(1.0 - sum(b))  # Σ b = 1: order ≥ 1 by construction
        return ButcherTableau(A=A, b=b, name=f"{self.label}_s{s}")


# ------------------------------------------------------------------------------------------ family
class RungeKuttaFamily(SchemeFamily):
    name = NAME
    scheme_type = ButcherTableau
    coefficient_options = CoefficientOptions("tableau", (
        ("tableau", "A", "Runge-Kutta matrix A as JSON rows, e.g. '[[0,0],[1,0]]'"),
        ("b", "b", "Runge-Kutta weights b as a JSON list (with --tableau)"),
        ("c", "c", "Runge-Kutta nodes c (optional; must equal the row sums)"),
    ), optional=("c",))

    def named_schemes(self):
        return (
            NamedScheme.constant(EULER, 1, "Euler (1768); He et al. ResNet (2016)", "forward Euler = ResNet"),
            NamedScheme.constant(MIDPOINT, 2, _HNW, "explicit midpoint Runge-Kutta"),
            NamedScheme.constant(HEUN, 2, _HNW, "Heun / explicit trapezoidal"),
            NamedScheme.constant(RALSTON, 2, "Ralston (1962)", "2-stage order-2, minimal error bound"),
            NamedScheme.constant(KUTTA3, 3, "Kutta (1901)", "Kutta's third-order method"),
            NamedScheme.constant(SSPRK3, 3, "Shu & Osher (1988)", "strong-stability-preserving RK3"),
            NamedScheme.constant(RK4, 4, "Kutta (1901)", "classic fourth-order Runge-Kutta"),
            NamedScheme.constant(RK38, 4, "Kutta (1901)", "3/8 rule"),
        )

    # stepping
    def integrate(self, scheme, fns, x0, h, steps, startup):
        A, b = tableau_floats(scheme)
        x = x0
        for f in fns:
            increment, _ = runge_kutta_increment([f] * scheme.stages, x, h, A, b)
            x = x + increment
        return x

    # network stage: x_{n+1} = x_n + h Σ b_i k_i, k_i = f_{n,i}(x_n + h Σ_j a_ij k_j); f_{n,i} = f_n when the
    # stages share weights (ODE-faithful), else s residual functions per step
    def init_stage(self, stage, spec, width, first_step, make_residual):
        from torch import nn

        scheme = stage.scheme
        stage.A, stage.b = tableau_floats(scheme)
        # tied networks: one function per stage, so one per step a fortiori
        stage.shared = spec.share_stage_weights or scheme.stages == 1 or spec.tie == "stage"
        per_step = 1 if stage.shared else scheme.stages
        stage.residuals = nn.ModuleList(
            nn.ModuleList(make_residual(step=n, role=f"k{i}" if i else "f") for i in range(per_step))
            for n in range(spec.steps_per_stage)
        )

    def stage_forward(self, stage, x):
        s = stage.scheme.stages
        for n, fs in enumerate(stage.residuals):
            stage_fns = [fs[0]] * s if stage.shared else list(fs)
            increment, _ = runge_kutta_increment(stage_fns, x, stage.h, stage.A, stage.b)
            if stage.noise is not None:  # noise perturbs the increment, never the state
                increment = stage.noise[n](increment, x)
            x = stage.after_step(x + increment)
        return x

    def stage_coefficients(self, stage):
        return [{"step": n, "A": stage.A, "b": stage.b, "h": stage.h} for n in range(len(stage.residuals))]

    def conversion_reason(self, scheme):
        return None  # a converted step's s stages evaluate its one block (shared weights)

    def residual_evaluations(self, scheme):
        return scheme.stages

    def memory_efficient_reason(self, scheme):
        return ("a Runge-Kutta step x + h Σ b_i k_i(x) has no explicit inverse (inverting it is a nonlinear "
                "solve)")

    # diagnostics
    def analyze(self, scheme, tolerance):
        from nas.diagnostics.runge_kutta import analyze_runge_kutta

        return analyze_runge_kutta(scheme, tolerance=tolerance)

    def diagnostic_columns(self, scheme):
        return {**super().diagnostic_columns(scheme), "zero_stable": True}  # ρ(ζ) = ζ − 1

    # search and results
    def parse_block(self, raw, path, label):
        return RungeKuttaBlock.parse(raw, path, label, MAX_STAGES)

    def coefficient_columns(self, data):
        value = json_float
        out = {}
        for i, row in enumerate(data["A"]):
            for j in range(i):
                out[f"coef_A_{i}_{j}"] = value(row[j])
        for i, v in enumerate(data["b"]):
            out[f"coef_b_{i}"] = value(v)
        for i, v in enumerate(data.get("c") or []):
            out[f"coef_c_{i}"] = value(v)
        return out

    def stability_proxy(self, scheme, learned=None, name=None):
        return renamed(scheme, name)  # |R(hλ)| ≤ 1

    def card_rows(self, scheme):
        return {"stages": str(scheme.stages), "step": "x + h Σ b_i k_i, k_i = f(x + h Σ_j a_ij k_j)"}


FAMILY = RungeKuttaFamily()

__all__ = ["ButcherTableau", "EULER", "FAMILY", "HEUN", "KUTTA3", "MIDPOINT", "RALSTON", "RK38", "RK4", "SSPRK3"]
