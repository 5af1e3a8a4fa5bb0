"""Baker-Campbell-Hausdorff for compositions of flows, in exact rational arithmetic.

A composition of exact flows exp(c_1 h X_{i_1}) ⋯ exp(c_m h X_{i_m}) (a splitting method) equals
exp(h Z(h)) with Z(h) a Lie series in the fields X_i (Hairer, Lubich, Wanner, Geometric Numerical
Integration (2006), §III.4–III.5). We compute log of the product in the free associative algebra (words
in the letters, truncated at a degree) and write each degree in a basis of right-normed brackets
[x_1, [x_2, … [x_{d−1}, x_d]]] chosen greedily (first independent ones in lexicographic order).
Brackets are commutators of the Lie derivatives, [X, Y] = D_X D_Y − D_Y D_X.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from itertools import product
from math import factorial

import numpy as np
import sympy


def _multiply(a: dict, b: dict, degree: int) -> dict:
    out: dict = {}
    for u, x in a.items():
        for v, y in b.items():
            if len(u) + len(v) <= degree:
                out[u + v] = out.get(u + v, 0) + x * y
    return {w: c for w, c in out.items() if c != 0}


def _exp_letter(letter: str, scale: Fraction, degree: int) -> dict:
    return {(letter,) * n: scale ** n / factorial(n) for n in range(degree + 1)}


def log_of_composition(factors, degree: int) -> dict:
    """log Π exp(c X) for ``factors`` = [(letter, c), …] (leftmost first), words up to ``degree``."""
    total = {(): Fraction(1)}
    for letter, scale in factors:
        total = _multiply(total, _exp_letter(letter, Fraction(scale), degree), degree)
    w = {k: v for k, v in total.items() if k != ()}
    out: dict = {}
    power = {(): Fraction(1)}
    for n in range(1, degree + 1):
        power = _multiply(power, w, degree)
        for word, c in power.items():
            out[word] = out.get(word, 0) + Fraction((-1) ** (n + 1), n) * c
    return {k: v for k, v in out.items() if v != 0}


def _bracket_words(letters) -> dict:
    """Expansion of the right-normed bracket [l1, [l2, … l_d]] into words."""
    if len(letters) == 1:
        return {tuple(letters): 1}
    inner = _bracket_words(letters[1:])
    out: dict = {}
    for word, c in inner.items():
        out[(letters[0],) + word] = out.get((letters[0],) + word, 0) + c
        out[word + (letters[0],)] = out.get(word + (letters[0],), 0) - c
    return {k: v for k, v in out.items() if v != 0}


def bracket_text(letters) -> str:
    if len(letters) == 1:
        return letters[0]
    return f"[{letters[0]},{bracket_text(letters[1:])}]"


@lru_cache(maxsize=None)
def lie_terms(factors: tuple, degree: int) -> tuple:
    """((d, bracket text, coefficient), …): the degree-d part of log of the composition in brackets.

    The h-power of a degree-d term is d − 1 in the modified vector field Z(h).
    """
    log = log_of_composition(factors, degree)
    alphabet = sorted({letter for letter, _ in factors})
    terms = []
    for d in range(1, degree + 1):
        part = {w: c for w, c in log.items() if len(w) == d}
        if not part:
            continue
        words = sorted({w for w in part} | {w for seq in product(alphabet, repeat=d)
                                             for w in _bracket_words(seq)})
        basis, columns = [], []
        for seq in product(alphabet, repeat=d):
            expansion = _bracket_words(seq)
            if not expansion:
                continue
            column = [expansion.get(w, 0) for w in words]
            # integer entries of size ≤ 2^d: floating-point rank is exact enough to pick independent ones
            if np.linalg.matrix_rank(np.array([*columns, column], dtype=float)) > len(columns):
                basis.append(seq)
                columns.append(column)
        matrix = sympy.Matrix(columns).T
        target = sympy.Matrix([sympy.Rational(part.get(w, 0)) for w in words])
        solution, params = matrix.gauss_jordan_solve(target)
        for seq, c in zip(basis, solution):
            if c != 0:
                terms.append((d, bracket_text(seq), sympy.Rational(c)))
    return tuple(terms)


__all__ = ["bracket_text", "lie_terms", "log_of_composition"]
