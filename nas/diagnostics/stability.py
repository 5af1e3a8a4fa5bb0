"""Linear stability of one-step and multistep methods on u' = λu, z = hλ (numerical, numpy).

* A Runge-Kutta step multiplies by R(z); it is stable where |R(z)| ≤ 1.
* A linear multistep method is stable at z when the roots of ρ(ζ) − zσ(ζ) satisfy the root condition
  (|ζ| ≤ 1, roots on the unit circle simple); its boundary lies on the locus z(θ) = ρ(e^{iθ})/σ(e^{iθ})
  (Hairer, Wanner, Solving ODEs II (1996), §V.1).

Intervals are measured along a ray from z = 0: the real interval is [−r, 0] and the imaginary one
[−ir, ir] (real coefficients make the region symmetric about the real axis).
"""
from __future__ import annotations

import math

import numpy as np

from nas.vocabulary import ZERO_STABILITY_TOLERANCE

# |ζ| may exceed 1 by this much and still count as on the unit circle (float coefficients, root finding).
ROOT_TOLERANCE = ZERO_STABILITY_TOLERANCE


def polynomial_extent(p_low_first, tolerance: float = 1e-12) -> float:
    """sup r such that p(t) ≤ 0 on [0, r], for a real polynomial with p(0) = 0 (coefficients lowest first).

    Breakpoints are the positive real roots of p; each piece between consecutive breakpoints is tested at
    its midpoint, so roots where p only touches 0 do not end the interval.
    """
    coefficients = np.asarray(p_low_first, dtype=float)
    scale = max(1.0, float(np.max(np.abs(coefficients))))
    nonzero = np.nonzero(np.abs(coefficients) > tolerance * scale)[0]
    if len(nonzero) == 0:
        return math.inf
    coefficients = coefficients[: nonzero[-1] + 1]

    def value(t):
        return float(np.polynomial.polynomial.polyval(t, coefficients))

    roots = np.roots(coefficients[::-1]) if len(coefficients) > 1 else np.array([])
    breakpoints = sorted({float(r.real) for r in roots if abs(r.imag) <= 1e-9 * max(1.0, abs(r)) and r.real > 1e-12})
    start = 0.0
    for end in breakpoints + [math.inf]:
        probe = start + 1.0 if math.isinf(end) else 0.5 * (start + end)
        if value(probe) > tolerance * scale * max(1.0, abs(probe)) ** len(coefficients):
            return start
        start = end
    return math.inf


def root_condition(roots, tolerance: float = ROOT_TOLERANCE) -> bool:
    """|ζ| ≤ 1 for every root, and roots on the unit circle simple (clustered within ``tolerance``)."""
    roots = np.asarray(roots, dtype=complex)
    moduli = np.abs(roots)
    if np.any(moduli > 1 + tolerance):
        return False
    on_circle = roots[np.abs(moduli - 1) <= tolerance]
    for i in range(len(on_circle)):
        for j in range(i + 1, len(on_circle)):
            if abs(on_circle[i] - on_circle[j]) <= math.sqrt(tolerance):
                return False
    return True


def multistep_roots(alpha, beta, z: complex) -> np.ndarray:
    """Roots of ρ(ζ) − zσ(ζ) (coefficients α, β lowest first, floats)."""
    polynomial = np.asarray(alpha, dtype=complex) - z * np.asarray(beta, dtype=complex)
    return np.roots(polynomial[::-1])


def multistep_stable(alpha, beta, z: complex) -> bool:
    return root_condition(multistep_roots(alpha, beta, z))


def ray_extent(stable, direction: complex, limit: float = 20.0, samples: int = 2000) -> float:
    """sup r such that ``stable(t·direction)`` holds for t in (0, r], scanned then bisected.

    Returns 0 when the method is unstable right next to 0, ``limit`` when it is stable up to the limit.
    """
    previous = 0.0
    for t in np.linspace(limit / samples, limit, samples):
        if not stable(complex(t * direction)):
            low, high = previous, float(t)
            for _ in range(60):
                middle = 0.5 * (low + high)
                if stable(complex(middle * direction)):
                    low = middle
                else:
                    high = middle
            return low
        previous = float(t)
    return limit


def boundary_locus(alpha, beta, points: int = 33) -> list:
    """Sampled z(θ) = ρ(e^{iθ})/σ(e^{iθ}) for θ in [0, 2π] as [re, im] pairs (points where σ = 0 dropped)."""
    result = []
    for theta in np.linspace(0.0, 2 * math.pi, points):
        zeta = complex(math.cos(theta), math.sin(theta))
        rho = sum(float(a) * zeta ** j for j, a in enumerate(alpha))
        sigma = sum(float(b) * zeta ** j for j, b in enumerate(beta))
        if abs(sigma) > 1e-14:
            z = rho / sigma
            result.append([float(z.real), float(z.imag)])
    return result


def _polynomial_amplification(coefficients, z: np.ndarray) -> np.ndarray:
    """|R(z)| for the stability polynomial R (coefficients lowest first)."""
    return np.abs(np.polynomial.polynomial.polyval(z, np.asarray(coefficients, dtype=float)))


def _root_amplification(coefficients, z: np.ndarray) -> np.ndarray:
    """The largest root modulus of ρ − zσ (coefficients = (α, β)), the roots being the eigenvalues of the
    companion matrices of all grid points at once."""
    alpha, beta = (np.asarray(c, dtype=float) for c in coefficients)
    k = len(alpha) - 1
    flat = z.ravel()
    # monic (α_k = 1, β_k = 0): ζ^k + Σ_{j<k} (α_j − z β_j) ζ^j
    lower = alpha[None, :k] - flat[:, None] * beta[None, :k]
    companion = np.zeros((flat.size, k, k), dtype=complex)
    companion[:, 0, :] = -lower[:, ::-1]
    if k > 1:
        companion[:, np.arange(1, k), np.arange(k - 1)] = 1.0
    roots = np.linalg.eigvals(companion)
    return np.max(np.abs(roots), axis=1).reshape(z.shape)


# report kind -> how its stability region is computed
_AMPLIFICATIONS = {"runge_kutta": _polynomial_amplification, "multistep": _root_amplification}


def amplification_grid(kind: str, coefficients, re: np.ndarray, im: np.ndarray) -> np.ndarray:
    """Amplification on a grid of z (for plots), for the report kinds with a linear stability region:
    |R(z)| (``kind="runge_kutta"``, coefficients of R lowest first) or the largest root modulus of ρ − zσ
    (``kind="multistep"``, coefficients = (α, β))."""
    if kind not in _AMPLIFICATIONS:
        raise ValueError(f"kind: must be one of {', '.join(_AMPLIFICATIONS)}, got {kind!r}")
    return _AMPLIFICATIONS[kind](coefficients, re[None, :] + 1j * im[:, None])


__all__ = ["ROOT_TOLERANCE", "amplification_grid", "boundary_locus", "multistep_roots", "multistep_stable",
           "polynomial_extent", "ray_extent", "root_condition"]
