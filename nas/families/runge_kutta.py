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

from .base import (CoefficientOptions, FreeCoefficientsBlock, NamedScheme, Parametrisation, StageParts, check_full_rank,
                   floats, json_float, nearest_solution, renamed)
from .capabilities import ConvertibleFamily, LearnableFamily

NAME = "runge_kutta"
MAX_STAGES = 4  # largest free tableau a search block samples
MAX_LEARNED_ORDER = 3  # order 4 is not linear in b once A is free (it needs special families: Kutta's)
# number of order conditions (rooted trees) of order ≤ p, p = 1, 2, 3 (Butcher 2016, ch. 3)
CONDITIONS = {1: 1, 2: 2, 3: 4}


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
        from nas.domains import fail

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


# -------------------------------------------------------------------------------- learned tableaux
def order_condition_rows(A, c, order: int):
    """The rows Φ_t of the order conditions Σ_i b_i Φ_t,i = 1/γ(t) for every tree |t| ≤ ``order`` ≤ 3, and their
    right-hand sides: 1 (Σ b = 1), c (Σ b c = 1/2), c² (Σ b c² = 1/3), A c (Σ b A c = 1/6) (Butcher,
    Numerical Methods for ODEs (2016), ch. 3; Hairer, Nørsett, Wanner I, §II.2)."""
    import torch

    rows = [torch.ones_like(c), c, c * c, A @ c][:CONDITIONS[order]]
    rhs = torch.tensor([1.0, 1 / 2, 1 / 3, 1 / 6], dtype=c.dtype, device=c.device)[:CONDITIONS[order]]
    return torch.stack(rows), rhs


@dataclass(frozen=True)
class RungeKuttaParametrisation(Parametrisation):
    """Explicit s-stage tableaux of order ≥ ``order`` (≤ 3), for every value of the free parameters.

    Every order condition of order ≤ 3 is linear in b once A is fixed (:func:`order_condition_rows`, M b = r
    with m = 1, 2, 4 rows for p = 1, 2, 3). So:

    * general case (m < s, or m = s): θ = (the strictly lower entries of A, row by row; then w ∈ R^s when
      m < s). c = A·1, and b = w − Mᵀ(M Mᵀ)⁻¹(M w − r), the solution of M b = r nearest to w (the least-norm
      solution plus w's null-space part; m = s: b = M⁻¹ r and no w). For s = 2, p = 2 this is the classical
      one-parameter family c₂ = a₂₁ = α, b = (1 − 1/(2α), 1/(2α)) (Hairer, Nørsett, Wanner I, §II.1).
    * s = 3, p = 3 (four conditions, three weights: A cannot be free): Kutta's two-parameter family,
      θ = (c₂, c₃), b from Σb = 1, Σbc = 1/2, Σbc² = 1/3 (a Vandermonde system), a₃₂ = 1/(6 b₃ c₂),
      a₃₁ = c₃ − a₃₂, a₂₁ = c₂ (Hairer, Nørsett, Wanner I, §II.1; Butcher 2016, ch. 3).

    Singular parameters: where M has rank < m the conditions have no (unique nearest) solution: p = 2 with
    c = 0 (s = 2: α = 0, where b₂ = 1/(2α) blows up); Kutta's family at c₂ = 0, c₃ = 0, c₂ = c₃ or
    c₂ = 2/3 (b₃ = 0), whose special cases it does not cover. ``coefficients`` raises a ``ValueError`` there;
    near them b is large, which training sees as a large loss (SGD steps away from a pole) rather than
    crossing it, and a run that does meet it stops with that error.
    """

    stages: int
    order: int
    start: tuple[float, ...]
    family: ClassVar[str] = NAME

    @property
    def kutta(self) -> bool:
        return self.stages == 3 and self.order == 3

    @staticmethod
    def check_pair(stages: int, order: int) -> None:
        """``ValueError`` naming (s, p) when explicit s-stage tableaux of order p cannot be parametrised."""
        if not isinstance(order, int) or isinstance(order, bool) or not 1 <= order <= MAX_LEARNED_ORDER:
            raise ValueError(f"learn_order: must be 1, 2 or 3 for runge_kutta (order 4 is not linear in b once A "
                             f"is free), got {order!r}")
        if order > stages:
            raise ValueError(f"learn_order: an explicit Runge-Kutta method with {stages} stage(s) has order ≤ "
                             f"{stages}; (s, p) = ({stages}, {order}) has no solution")

    @classmethod
    def from_scheme(cls, scheme: ButcherTableau, order: int) -> "RungeKuttaParametrisation":
        s = scheme.stages
        cls.check_pair(s, order)
        A = [[float(a) for a in row] for row in scheme.A]
        if s == 3 and order == 3:
            start = (float(scheme.c[1]), float(scheme.c[2]))
        else:
            start = tuple(A[i][j] for i in range(1, s) for j in range(i))
            if CONDITIONS[order] < s:
                start += tuple(float(v) for v in scheme.b)
        out = cls(s, order, start)
        out._check_start(scheme)
        return out

    def _check_start(self, scheme) -> None:
        import torch

        try:
            found = self.scheme(self.free_parameters())
        except ValueError as error:
            raise ValueError(f"scheme: {scheme} is not a starting point of the order-{self.order} parametrisation "
                             f"({error})") from None
        target = torch.tensor([float(v) for v in (*scheme.b, *(a for row in scheme.A for a in row))],
                              dtype=torch.float64)
        got = torch.tensor([*found.b, *(a for row in found.A for a in row)], dtype=torch.float64)
        if not torch.allclose(got, target, rtol=0, atol=1e-9):
            raise ValueError(f"scheme: {scheme} does not satisfy the order conditions of order {self.order} "
                             f"(learn_order), so it cannot start an order-{self.order} parametrisation")

    def coefficients(self, params):
        import torch

        s, m = self.stages, CONDITIONS[self.order]
        if params.shape != (self.size,):
            raise ValueError(f"params: expected shape ({self.size},), got {tuple(params.shape)}")
        if self.kutta:
            c2, c3 = params[0], params[1]
            zero = params.new_zeros(())
            V = torch.stack([torch.stack([zero + 1, zero + 1, zero + 1]), torch.stack([zero, c2, c3]),
                             torch.stack([zero, c2 * c2, c3 * c3])])
            check_full_rank(V, "runge_kutta (Kutta's family, c2 = 0, c3 = 0 or c2 = c3)")
            b = torch.linalg.solve(V, params.new_tensor([1.0, 1 / 2, 1 / 3]))
            denominator = b[2] * c2
            if denominator.device.type != "meta" and not bool(denominator.detach().abs() > 1e-8):
                raise ValueError("runge_kutta (Kutta's family): b3 c2 = 0 (c2 = 2/3) is a special case it does not "
                                 "cover")
            a32 = 1 / (6 * denominator)
            A = torch.stack([torch.stack([zero, zero, zero]), torch.stack([c2, zero, zero]),
                             torch.stack([c3 - a32, a32, zero])])
            return {"A": A, "b": b}
        rows, cols = torch.tril_indices(s, s, offset=-1, device=params.device)
        lower = s * (s - 1) // 2
        A = params.new_zeros(s, s).index_put((rows, cols), params[:lower])
        c = A.sum(dim=1)
        M, r = order_condition_rows(A, c, self.order)
        check_full_rank(M, f"runge_kutta ({s} stages, order {self.order})")
        b = torch.linalg.solve(M, r) if m == s else nearest_solution(M, r, params[lower:])
        return {"A": A, "b": b}

    def scheme(self, params, name=""):
        import torch

        with torch.no_grad(), torch.device("cpu"):  # concrete values, also when called under a meta-device build
            values = self.coefficients(params.detach().to("cpu", torch.float64))
        return ButcherTableau(A=values["A"].tolist(), b=floats(values["b"]),
                              name=name or f"learned_rk{self.stages}_p{self.order}")


def tableau_order(scheme: ButcherTableau, limit: int = MAX_LEARNED_ORDER, tolerance: float = 1e-9) -> int:
    """The largest p ≤ ``limit`` whose order conditions (:func:`order_condition_rows`) ``scheme`` satisfies."""
    import torch

    A = torch.tensor([[float(a) for a in row] for row in scheme.A], dtype=torch.float64)
    b = torch.tensor([float(v) for v in scheme.b], dtype=torch.float64)
    order = 0
    for p in range(1, limit + 1):
        M, r = order_condition_rows(A, A.sum(dim=1), p)
        if not bool(((M @ b - r).abs() <= tolerance).all()):
            break
        order = p
    return order


# ------------------------------------------------------------------------------------------ family
@dataclass(frozen=True)
class RungeKuttaStageState:
    """The numbers a Runge-Kutta stage steps with: the tableau as floats, and whether a step's s stages
    evaluate one residual function (``shared``) or s of their own."""

    A: list
    b: list
    shared: bool


class RungeKuttaFamily(ConvertibleFamily, LearnableFamily):
    name = NAME
    scheme_type = ButcherTableau
    stage_modules = ("residuals",)
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
        # tied networks: one function per stage, so one per step a fortiori
        shared = spec.share_stage_weights or scheme.stages == 1 or spec.tie == "stage"
        per_step = 1 if shared else scheme.stages
        residuals = nn.ModuleList(
            nn.ModuleList(make_residual(step=n, role=f"k{i}" if i else "f") for i in range(per_step))
            for n in range(spec.steps_per_stage)
        )
        return StageParts({"residuals": residuals}, RungeKuttaStageState(*tableau_floats(scheme), shared))

    @staticmethod
    def _tableau(stage, n: int):
        """(A, b) of step n: the scheme's floats, or tensors from the learned parameters (``learn_scheme``)."""
        if stage.scheme_parameters is None:
            return stage.state.A, stage.state.b
        values = stage.scheme_parameters.coefficients(n)
        return values["A"], values["b"]

    def stage_forward(self, stage, x):
        s = stage.scheme.stages
        for n, fs in enumerate(stage.residuals):
            stage_fns = [fs[0]] * s if stage.state.shared else list(fs)
            A, b = self._tableau(stage, n)
            increment, _ = runge_kutta_increment(stage_fns, x, stage.h, A, b)
            if stage.noise is not None:  # noise perturbs the increment, never the state
                increment = stage.noise[n](increment, x)
            x = stage.after_step(x + increment)
        return x

    def stage_coefficients(self, stage):
        rows = []
        for n in range(len(stage.residuals)):
            A, b = self._tableau(stage, n)
            if stage.scheme_parameters is not None:
                A, b = A.detach().tolist(), b.detach().tolist()
            rows.append({"step": n, "A": A, "b": b, "h": stage.h})
        return rows

    # converted networks: a step's s stages evaluate its one block (shared weights)
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

    # learned coefficients
    def parametrisation(self, scheme, order=None):
        if order is None:
            order = min(tableau_order(scheme), scheme.stages)
            if order == 0:
                raise ValueError(f"scheme: {scheme} is not consistent (Σb ≠ 1), it cannot start a parametrisation")
        return RungeKuttaParametrisation.from_scheme(scheme, order)

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


__all__ = ["ButcherTableau", "EULER", "HEUN", "KUTTA3", "MIDPOINT", "RALSTON", "RK38", "RK4",
           "RungeKuttaParametrisation", "RungeKuttaStageState", "SSPRK3", "order_condition_rows", "tableau_order"]
