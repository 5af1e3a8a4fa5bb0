"""Explicit Runge-Kutta methods as Butcher tableaux.

    k_i = f(x_n + h Σ_{j<i} a_ij k_j),    x_{n+1} = x_n + h Σ_i b_i k_i      (Hairer, Nørsett, Wanner,
    Solving ODEs I, §II.1)

A network step built from a tableau evaluates s residual functions (stages) and combines them with b.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .coefficients import (
    Coefficient,
    close_to,
    coefficient_to_json,
    exact_sum,
    parse_coefficient,
    parse_vector,
)

FAMILY = "runge_kutta"


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
    family: str = field(default=FAMILY, init=False)

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
        from fractions import Fraction

        return all(isinstance(v, Fraction) for v in (*self.b, *(a for row in self.A for a in row)))

    def to_dict(self) -> dict:
        return {
            "family": FAMILY,
            "name": self.name,
            "A": [[coefficient_to_json(a) for a in row] for row in self.A],
            "b": [coefficient_to_json(v) for v in self.b],
            "c": [coefficient_to_json(v) for v in self.c],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ButcherTableau":
        from .serialization import check_keys

        check_keys(data, required={"A", "b"}, optional={"c", "name", "family"}, where="runge_kutta scheme")
        return cls(A=data["A"], b=data["b"], c=data.get("c"), name=data.get("name", ""))

    def __str__(self) -> str:
        return self.name or f"runge_kutta({self.stages} stages)"


def tableau_coefficient(value, where: str) -> Coefficient:
    """Public helper for search spaces that build tableaux entry by entry."""
    return parse_coefficient(value, where)
