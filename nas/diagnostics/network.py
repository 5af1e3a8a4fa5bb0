"""Per-layer diagnostics of a network from the coefficients it really uses (learned ones included).

Reads ``model.coefficients()`` (one dict per step; see the families' ``stage_coefficients`` hooks) and never imports the
networks: any object with that method works. For a step with multistep coefficients (α, β) the
modified-equation coefficients are the Taylor sums about the step r where f is evaluated,
u_dot = Σ α_j (j − r) and h_u_ddot = Σ α_j (j − r)² / 2, so that Σ_q c_q h^{q−1} u^{(q)} = f(u) + …
(SCIENCE.md §3); for LM-ResNet they are (1 + k_n) and (1 − k_n)/2 (Lu, Zhong, Li, Dong 2018), and the
step is zero-stable iff −1 < k_n ≤ 1 (root −k_n of ρ(ζ) = (ζ − 1)(ζ + k_n)).
"""
from __future__ import annotations

from functools import lru_cache
from math import factorial

import numpy as np

from nas.schemes import ButcherTableau

from . import stability, values
from .multistep import error_constants
from .report import NetworkReport
from .runge_kutta import analyze_runge_kutta

COLUMNS = ("stage", "step", "startup", "k", "k_min", "k_max", "u_dot", "h_u_ddot", "consistent",
           "zero_stable", "order")
TOLERANCE = 1e-9


def _channels(coefficients) -> np.ndarray:
    """α or β with per-channel entries as an array (len, C); scalars broadcast to C = 1."""
    width = max((len(c) for c in coefficients if isinstance(c, (list, tuple))), default=1)
    return np.array([np.full(width, c, dtype=float) if not isinstance(c, (list, tuple)) else np.asarray(c, float)
                     for c in coefficients])


def _multistep_row(alpha, beta, k):
    A, B = _channels(alpha), _channels(beta)
    width = max(A.shape[1], B.shape[1])
    A, B = np.broadcast_to(A, (A.shape[0], width)), np.broadcast_to(B, (B.shape[0], width))
    nonzero = [j for j in range(B.shape[0]) if np.any(B[j] != 0)]
    r = max(nonzero) if nonzero else A.shape[0] - 2
    j = np.arange(A.shape[0])[:, None]
    u_dot = float(np.mean(np.sum(A * (j - r), axis=0)))
    h_u_ddot = float(np.mean(np.sum(A * (j - r) ** 2, axis=0) / 2))
    consistent, zero_stable, orders = True, True, []
    for c in range(width):
        a, b = [float(x) for x in A[:, c]], [float(x) for x in B[:, c]]
        C = error_constants(a, b, 2 * len(a) + 1)
        order = 0
        if abs(C[0]) <= TOLERANCE:
            while order + 1 < len(C) and abs(C[order + 1]) <= TOLERANCE:
                order += 1
        orders.append(order)
        consistent &= abs(C[0]) <= TOLERANCE and abs(C[1]) <= TOLERANCE
        zero_stable &= stability.root_condition(np.roots(a[::-1]))
    if k is not None:  # the exact rule for LM-ResNet, not a tolerance on roots
        ks = np.atleast_1d(np.asarray(k, dtype=float))
        zero_stable = bool(np.all((ks > -1) & (ks <= 1)))
    return u_dot, h_u_ddot, bool(consistent), bool(zero_stable), min(orders)


@lru_cache(maxsize=64)
def _runge_kutta_order(A: tuple, b: tuple) -> int:
    return analyze_runge_kutta(ButcherTableau(A=A, b=b)).order


def _row(entry: dict) -> tuple:
    stage, step, startup = entry.get("stage", 0), entry.get("step"), bool(entry.get("startup", False))
    k = entry.get("k")
    k_mean = k_min = k_max = None
    if k is not None:
        ks = np.atleast_1d(np.asarray(k, dtype=float))
        k_mean, k_min, k_max = float(ks.mean()), float(ks.min()), float(ks.max())
    u_dot = h_u_ddot = consistent = zero_stable = order = None
    if "A" in entry and "b" in entry:
        A = tuple(tuple(float(a) for a in row) for row in entry["A"])
        order = _runge_kutta_order(A, tuple(float(v) for v in entry["b"]))
        u_dot, consistent, zero_stable = float(sum(entry["b"])), True, True  # one-step: always zero-stable
    elif "alpha" in entry and "beta" in entry:
        u_dot, h_u_ddot, consistent, zero_stable, order = _multistep_row(entry["alpha"], entry["beta"], k)
    elif "alpha" in entry and "force" in entry and not startup:
        # x_{n+1} − 2x_n + x_{n−1} = h² F: a method for x'' = F; double root at 1 is allowed there
        alpha = [float(a) for a in entry["alpha"]]
        h = float(entry.get("h", 1.0))
        j = np.arange(len(alpha))
        consistent = (abs(sum(alpha)) <= TOLERANCE and abs(float(np.dot(j, alpha))) <= TOLERANCE
                      and abs(float(np.dot(j ** 2, alpha)) / 2 - float(entry["force"]) / h ** 2) <= TOLERANCE)
        roots = np.roots(alpha[::-1])
        zero_stable = bool(np.all(np.abs(roots) <= 1 + stability.ROOT_TOLERANCE))
        # order conditions for x'' = F with the force at the middle state (Störmer's form), HNW I §III.10
        beta = np.zeros(len(alpha))
        beta[len(alpha) - 2] = float(entry["force"]) / h ** 2
        C = [sum(alpha), float(np.dot(j, alpha))] + [
            float(np.dot(j ** q, alpha)) / factorial(q) - float(np.dot(j ** (q - 2), beta)) / factorial(q - 2)
            for q in range(2, 2 * len(alpha) + 2)]
        zeros = 0
        while zeros < len(C) and abs(C[zeros]) <= TOLERANCE:
            zeros += 1
        order = max(zeros - 2, 0)
    return (stage, step, startup, k_mean, k_min, k_max, u_dot, h_u_ddot, consistent, zero_stable, order)


def analyze_network(model) -> NetworkReport:
    """The per-layer table of ``model`` (anything with ``coefficients() -> list[dict]``)."""
    coefficients = getattr(model, "coefficients", None)
    if not callable(coefficients):
        raise TypeError(f"analyze_network: expected a network with a coefficients() method (nas.networks."
                        f"build_network), got {type(model).__name__}")
    entries = coefficients()
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError("coefficients(): expected a list of dicts, one per step")
    rows = tuple(_row(e) for e in entries)
    spec = getattr(model, "spec", None)
    scheme = getattr(spec, "scheme", None)
    scheme_dict = scheme.to_dict() if hasattr(scheme, "to_dict") else {}
    name = f"{type(model).__name__}({scheme})" if scheme is not None else type(model).__name__
    index = {c: i for i, c in enumerate(COLUMNS)}
    steps = [r for r in rows if not r[index["startup"]]]
    orders = [r[index["order"]] for r in steps if r[index["order"]] is not None]
    stable_flags = [r[index["zero_stable"]] for r in rows if r[index["zero_stable"]] is not None]
    unstable = tuple((r[index["stage"]], r[index["step"]]) for r in rows if r[index["zero_stable"]] is False)
    ks = [v for r in rows for v in (r[index["k_min"]], r[index["k_max"]]) if v is not None]
    notes = []
    if any("y_increment" in e for e in entries):
        notes.append("hamiltonian steps have fixed coefficients (+-h); see analyze('hamiltonian') for stability")
    if unstable:
        notes.append(f"{len(unstable)} step(s) violate zero-stability (LM-ResNet: -1 < k <= 1)")
    return NetworkReport(
        name=name, scheme=scheme_dict, arithmetic=values.FLOAT, order=min(orders) if orders else None,
        notes=tuple(notes), columns=COLUMNS, rows=rows,
        all_zero_stable=all(stable_flags) if stable_flags else None, unstable_steps=unstable,
        k_range=(min(ks), max(ks)) if ks else None,
    )


__all__ = ["COLUMNS", "analyze_network"]
