"""Scheme coefficients as exact values.

Coefficients are kept as :class:`fractions.Fraction` when they are given exactly (ints, Fractions,
strings such as ``"1/6"``) and as ``float`` otherwise. This keeps the registry's textbook tableaux exact,
so the diagnostics can verify order conditions in rational arithmetic, while searched coefficients stay
floats. The JSON form writes a Fraction as a string ``"p/q"`` and a float as a number, which gives an
exact round trip for both.
"""
from __future__ import annotations

import math
from fractions import Fraction
from numbers import Rational, Real
from typing import Union

Coefficient = Union[Fraction, float]

# Float comparisons in validation (e.g. sum(b) == 1) allow this much round-off.
FLOAT_TOLERANCE = 1e-9
# Largest |coefficient| accepted. Textbook tableaux and searched ranges stay within a few units; far beyond this a
# network's activations overflow after a step or two (k = 1e300 gives inf / nan), and the exact root finding of
# the diagnostics stops converging, so such a value is refused where it enters, naming its field.
MAX_COEFFICIENT = 1e6


def parse_coefficient(value, where: str) -> Coefficient:
    """Turn an int, Fraction, float or ``"p/q"`` string into a Fraction or float, at most ``MAX_COEFFICIENT`` in
    magnitude.

    ``where`` names the field in error messages (e.g. ``"A[2][0]"``).
    """
    parsed = _parse(value, where)
    if abs(parsed) > MAX_COEFFICIENT:
        raise ValueError(f"{where}: {float(parsed):.6g} is out of range (|coefficient| <= {MAX_COEFFICIENT:g}); "
                         "a network with it overflows")
    return parsed


def _parse(value, where: str) -> Coefficient:
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected a number, got the boolean {value!r}")
    if isinstance(value, Rational):
        return Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{where}: cannot read {value!r} as a number (use e.g. 0.5 or '1/2')") from None
    if isinstance(value, Real):
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"{where}: must be finite, got {x!r}")
        return x
    raise ValueError(f"{where}: expected a number, got {type(value).__name__} {value!r}")


def parse_vector(values, where: str) -> tuple[Coefficient, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{where}: expected a list of numbers, got {values!r}")
    return tuple(parse_coefficient(v, f"{where}[{i}]") for i, v in enumerate(values))


def coefficient_to_json(value: Coefficient):
    """Fraction -> int or ``"p/q"`` string, float -> float (exact JSON round trip)."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return float(value)


def close_to(value: Coefficient, target: Coefficient) -> bool:
    """Exact comparison for Fractions, FLOAT_TOLERANCE for floats."""
    if isinstance(value, Fraction) and isinstance(target, Fraction):
        return value == target
    return abs(float(value) - float(target)) <= FLOAT_TOLERANCE


def exact_sum(values) -> Coefficient:
    total: Coefficient = Fraction(0)
    for v in values:
        total = total + v
    return total
