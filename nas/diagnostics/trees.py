"""Rooted trees: the index set of Butcher series.

A rooted tree is stored canonically as the sorted tuple of its root's subtrees; the one-vertex tree is
``()``. From the trees follow, programmatically, everything the Runge-Kutta analysis needs
(Hairer, Nørsett, Wanner, Solving ODEs I (1993), §II.2; Butcher, Numerical Methods for ODEs (2016), §3):

* order |t| (number of vertices), symmetry σ(t) and density γ(t):
  σ([t1^m1 … tk^mk]) = Π m_i! σ(t_i)^m_i,   γ([t1 … tm]) = |t| Π γ(t_i),   σ(•) = γ(•) = 1;
* the elementary differential F(t): F(•) = f, F([t1 … tm]) = f^(m)(F(t1), …, F(tm));
* the edge cuts of t (tree ``v`` keeping the root, tree ``u`` cut off), which give the Lie derivative of a
  B-series used by backward error analysis (Hairer, Lubich, Wanner, Geometric Numerical Integration
  (2006), §IX.9, Lemma 9.1).

Enumeration grows each tree of order n−1 by one leaf at every vertex and canonicalises; results are cached.
"""
from __future__ import annotations

from collections import Counter
from functools import lru_cache
from math import factorial

Tree = tuple  # canonical: sorted tuple of canonical subtrees

LEAF: Tree = ()


def canonical(children) -> Tree:
    """The canonical form of the tree whose root has these (canonical) subtrees."""
    return tuple(sorted(children))


def order(tree: Tree) -> int:
    return 1 + sum(order(child) for child in tree)


def _grown(tree: Tree) -> set:
    """Every tree obtained by attaching one new leaf to some vertex of ``tree``."""
    results = {canonical(tree + (LEAF,))}
    for i, child in enumerate(tree):
        rest = tree[:i] + tree[i + 1:]
        for grown_child in _grown(child):
            results.add(canonical(rest + (grown_child,)))
    return results


@lru_cache(maxsize=None)
def trees_of_order(n: int) -> tuple:
    """All rooted trees with n vertices, in a fixed (sorted) order: 1, 1, 2, 4, 9, 20, 48, 115, …"""
    if n < 1:
        raise ValueError(f"n: tree order must be >= 1, got {n}")
    if n == 1:
        return (LEAF,)
    grown = set()
    for smaller in trees_of_order(n - 1):
        grown |= _grown(smaller)
    return tuple(sorted(grown, key=lambda t: (_height(t), t)))


def trees_up_to(n: int) -> tuple:
    return tuple(t for q in range(1, n + 1) for t in trees_of_order(q))


def _height(tree: Tree) -> int:
    return 0 if not tree else 1 + max(_height(c) for c in tree)


@lru_cache(maxsize=None)
def symmetry(tree: Tree) -> int:
    """σ(t), the order of the tree's automorphism group."""
    value = 1
    for child, multiplicity in Counter(tree).items():
        value *= factorial(multiplicity) * symmetry(child) ** multiplicity
    return value


@lru_cache(maxsize=None)
def density(tree: Tree) -> int:
    """γ(t); the exact solution's B-series coefficient is 1/γ(t)."""
    value = order(tree)
    for child in tree:
        value *= density(child)
    return value


def tall(n: int) -> Tree:
    """The chain with n vertices, whose elementary differential is f'f'…f (the only one alive for linear f)."""
    tree = LEAF
    for _ in range(n - 1):
        tree = (tree,)
    return tree


@lru_cache(maxsize=None)
def cuts(tree: Tree) -> tuple:
    """The edge cuts of ``tree`` as ((v, u), count): v keeps the root, u is the subtree cut off.

    Counts are over edges (vertices are distinguishable), which is the normalisation under which the
    Lie-derivative formula (∂_b a)(t) = a(∅) b(t) + Σ_cuts a(v) b(u) holds for B(a, y) = a(∅) y +
    Σ h^|t| a(t) F(t)(y) / σ(t).
    """
    counter: Counter = Counter()
    for i, child in enumerate(tree):
        rest = tree[:i] + tree[i + 1:]
        counter[(canonical(rest), child)] += 1
        for (v, u), count in cuts(child):
            counter[(canonical(rest + (v,)), u)] += count
    return tuple(sorted(counter.items()))


def _derivative_text(m: int, latex: bool) -> str:
    if m <= 3:
        return "f" + "'" * m
    return f"f^{{({m})}}" if latex else f"f^({m})"


@lru_cache(maxsize=None)
def differential(tree: Tree, latex: bool = False) -> str:
    """The elementary differential F(t) as text: f, f'f, f''(f,f), f'f'f, f'''(f,f,f'f), …"""
    if not tree:
        return "f"
    # Children in a readable order: small ones first.
    parts = [differential(c, latex) for c in sorted(tree, key=lambda c: (order(c), c))]
    head = _derivative_text(len(tree), latex)
    if len(parts) == 1:
        return head + parts[0]
    return head + "(" + ",".join(parts) + ")"


def bracket(tree: Tree) -> str:
    """Butcher's bracket notation: •, [•], [•,•], [[•]], …"""
    if not tree:
        return "•"
    return "[" + ",".join(bracket(c) for c in tree) + "]"


__all__ = ["LEAF", "Tree", "bracket", "canonical", "cuts", "density", "differential", "order", "symmetry",
           "tall", "trees_of_order", "trees_up_to"]
