"""The numbers inside a diagnostics report: exact, symbolic or floating point, and their JSON form.

Three arithmetics, chosen from the scheme's coefficients:

* ``"exact"``: every coefficient is a :class:`fractions.Fraction` → sympy Rationals;
* ``"symbolic"``: a free parameter (LM-ResNet's k when it is learned) → sympy expressions in the real
  symbol :data:`K`;
* ``"float"``: some coefficient is a float → Python floats (decisions use a tolerance).

JSON: int → int, Rational → ``"p/q"``, float → float, bool → bool, any other sympy object → its sympy
string (read back by :func:`decode`, which accepts only arithmetic, comparisons and a short list of
function names, so a report file cannot run code).
"""
from __future__ import annotations

import re
from fractions import Fraction

import sympy

EXACT, SYMBOLIC, FLOAT = "exact", "symbolic", "float"
ARITHMETICS = (EXACT, SYMBOLIC, FLOAT)

# LM-ResNet's coefficient k (real: it is a trained network weight).
K = sympy.Symbol("k", real=True)
# ζ, the variable of characteristic polynomials.
ZETA = sympy.Symbol("zeta")

# μ = (hω)² for oscillatory test problems x'' = −ω² x (reversible schemes).
MU = sympy.Symbol("mu", nonnegative=True)

_SYMBOLS = {"k": K, "zeta": ZETA, "mu": MU}
_FUNCTIONS = {"sqrt": sympy.sqrt, "Abs": sympy.Abs, "Eq": sympy.Eq, "Ne": sympy.Ne, "And": sympy.And,
              "Or": sympy.Or, "Not": sympy.Not, "I": sympy.I, "oo": sympy.oo, "pi": sympy.pi,
              "Rational": sympy.Rational, "Integer": sympy.Integer, "Float": sympy.Float,
              "True": sympy.true, "False": sympy.false, "re": sympy.re, "im": sympy.im}
_ALLOWED = re.compile(r"^[\s0-9a-zA-Z_+\-*/().,<>=&|~^e]*$")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def to_sympy(value):
    """A scheme coefficient (Fraction, int, float or sympy) as a sympy number."""
    if isinstance(value, sympy.Basic):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a coefficient")
    if isinstance(value, (int, Fraction)):
        value = Fraction(value)
        return sympy.Rational(value.numerator, value.denominator)
    return sympy.Float(float(value))


def finish(value, arithmetic: str):
    """A computed value in the report's arithmetic: floats become Python floats, the rest stays sympy."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (tuple, list)):
        return tuple(finish(v, arithmetic) for v in value)
    if isinstance(value, sympy.logic.boolalg.BooleanAtom):
        return bool(value)
    if isinstance(value, (int, Fraction)):
        value = to_sympy(value)
    if isinstance(value, float) or (arithmetic == FLOAT and isinstance(value, sympy.Expr)
                                    and not value.free_symbols):
        return _as_float(value)
    return value


def _as_float(value):
    number = complex(sympy.N(value)) if isinstance(value, sympy.Basic) else complex(value)
    return number.real if abs(number.imag) <= 1e-15 * max(1.0, abs(number.real)) else number


def is_zero(value, tolerance: float) -> bool:
    """Exact zero test for sympy (expanded), tolerance for floats."""
    if isinstance(value, float):
        return abs(value) <= tolerance
    if isinstance(value, sympy.Basic):
        if value.free_symbols:
            return sympy.expand(value) == 0
        if value.is_Float or any(a.is_Float for a in value.atoms(sympy.Float)):
            return abs(complex(sympy.N(value))) <= tolerance
        return value == 0
    return value == 0


def encode(value):
    """A report value (nested tuples of numbers, sympy objects, strings) as JSON."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, complex):
        return {"re": value.real, "im": value.imag}
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, sympy.logic.boolalg.BooleanAtom):
        return bool(value)
    if isinstance(value, sympy.Integer):
        return int(value)
    if isinstance(value, sympy.Rational):
        return f"{value.p}/{value.q}"
    if isinstance(value, sympy.Float):
        return float(value)
    if isinstance(value, sympy.Basic):
        return sympy.sstr(value)
    raise TypeError(f"cannot encode {type(value).__name__} {value!r} in a report")


def decode(value, where: str = "value"):
    """Inverse of :func:`encode`: ``"p/q"`` and expression strings → sympy, lists → tuples."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, list):
        return tuple(decode(v, where) for v in value)
    if isinstance(value, dict):
        if set(value) == {"re", "im"}:
            return complex(value["re"], value["im"])
        return {k: decode(v, where) for k, v in value.items()}
    if isinstance(value, str):
        return parse(value, where)
    raise ValueError(f"{where}: cannot read {value!r}")


def parse(text: str, where: str = "value"):
    """A sympy expression from report text, restricted to arithmetic, comparisons and known names."""
    names = set(_IDENTIFIER.findall(text))
    unknown = sorted(n for n in names if n not in _SYMBOLS and n not in _FUNCTIONS and not _is_exponent(n))
    if not _ALLOWED.match(text) or unknown:
        raise ValueError(f"{where}: cannot read {text!r} as a number or expression "
                         f"(allowed names: {', '.join(sorted({**_SYMBOLS, **_FUNCTIONS}))})")
    try:
        return sympy.sympify(text, locals={**_SYMBOLS, **_FUNCTIONS})
    except (sympy.SympifyError, SyntaxError, TypeError) as exc:
        raise ValueError(f"{where}: cannot read {text!r}: {exc}") from None


def _is_exponent(name: str) -> bool:
    # "e" of scientific notation (1e-5) is picked up by the identifier pattern
    return re.fullmatch(r"e[0-9]*", name) is not None


__all__ = ["ARITHMETICS", "EXACT", "FLOAT", "K", "MU", "SYMBOLIC", "ZETA", "decode", "encode", "finish", "is_zero",
           "parse", "to_sympy"]
