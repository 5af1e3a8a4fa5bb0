"""Truncated power series with any coefficients (Fractions, floats or sympy expressions).

A series is a list of coefficients, lowest degree first, truncated to ``n`` terms (degrees 0 … n−1).
Used for log R(z) (Runge-Kutta, backward error analysis on u' = λu) and for the principal root of a
multistep method, log ζ₁(z) = ψ(z) with ρ(e^ψ)/σ(e^ψ) = z (Hairer, Nørsett, Wanner I, §III.2).
``tidy`` is applied to every computed coefficient (e.g. ``sympy.cancel`` for symbolic ones). Inputs must
not be bare Python ints where exactness matters: ``one`` is the unit of the coefficient field
(``Fraction(1)``, ``sympy.Integer(1)`` or ``1.0``), so that no division ever falls back to floats.
"""
from __future__ import annotations


def _identity(x):
    return x


def multiply(a, b, n, tidy=_identity):
    out = []
    for d in range(n):
        total = 0
        for i in range(max(0, d - len(b) + 1), min(d, len(a) - 1) + 1):
            total = total + a[i] * b[d - i]
        out.append(tidy(total))
    return out


def add(a, b, n, tidy=_identity):
    return [tidy((a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0)) for i in range(n)]


def scale(a, factor, n, tidy=_identity):
    return [tidy(factor * (a[i] if i < len(a) else 0)) for i in range(n)]


def reciprocal(a, n, tidy=_identity):
    """1/a as a series; needs a[0] != 0 (and a[0] not a bare int)."""
    out = [tidy(1 / a[0])]
    for d in range(1, n):
        total = 0
        for i in range(1, min(d, len(a) - 1) + 1):
            total = total + a[i] * out[d - i]
        out.append(tidy(-total / a[0]))
    return out


def compose(f, g, n, tidy=_identity):
    """f(g(z)) for g(0) = 0 (Horner's rule)."""
    out = [0] * n
    for coefficient in reversed(list(f[:n])):
        out = multiply(out, g, n, tidy)
        out[0] = tidy(out[0] + coefficient)
    return out


def log1p(w, n, one, tidy=_identity):
    """log(1 + w(z)) for w(0) = 0: Σ_{m≥1} (−1)^{m+1} w^m / m."""
    zero = one - one
    out = [zero] * n
    power = [one] + [zero] * (n - 1)
    for m in range(1, n):
        power = multiply(power, w, n, tidy)
        weight = (one if m % 2 else -one) / m
        out = [tidy(o + weight * p) for o, p in zip(out, power)]
    return out


def revert(f, n, one, tidy=_identity):
    """ψ with f(ψ(z)) = z, for f(0) = 0 and f'(0) != 0 (fixed-point iteration, exact to degree n−1)."""
    a1 = f[1]
    zero = one - one
    z = [zero, one] + [zero] * (n - 2)
    psi = [zero, tidy(one / a1)] + [zero] * (n - 2)
    for _ in range(n):
        residual = add(compose(f, psi, n, tidy), scale(z, -1, n), n, tidy)
        psi = [tidy(p - r / a1) for p, r in zip(psi, residual)]
    return psi


__all__ = ["add", "compose", "log1p", "multiply", "reciprocal", "revert", "scale"]
