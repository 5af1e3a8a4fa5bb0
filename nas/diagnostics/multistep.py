"""Diagnostics of a linear multistep method, and of LM-ResNet (exact, symbolic in k, or float).

Σ_{j=0..k} α_j x_{n+j} = h Σ_j β_j f(x_{n+j}),  ρ(ζ) = Σ α_j ζ^j,  σ(ζ) = Σ β_j ζ^j.

* Order (Hairer, Nørsett, Wanner, Solving ODEs I (1993), §III.2): C_0 = ρ(1),
  C_q = Σ_j j^q α_j / q! − Σ_j j^{q−1} β_j / (q−1)!; order p when C_0 = … = C_p = 0; error constant
  C_{p+1}, normalised C_{p+1}/σ(1). Consistent: ρ(1) = 0 and ρ'(1) = σ(1).
* Zero-stability (Dahlquist's root condition, ibid. §III.3): the roots of ρ satisfy |ζ| ≤ 1, and those
  with |ζ| = 1 are simple.
* Absolute stability (Hairer, Wanner II, §V.1): root condition for ρ(ζ) − zσ(ζ); the boundary lies on the
  locus z(θ) = ρ(e^{iθ})/σ(e^{iθ}).
* Modified equation (Taylor expansion of every x_{n+j} about t_{n+r}; Lu, Zhong, Li, Dong (ICML 2018)
  for LM-ResNet): Σ_q c_q h^{q−1} u^{(q)} = Σ_m d_m h^m (d/dt)^m f(u),
  c_q = Σ_j α_j (j − r)^q / q!,  d_m = Σ_j β_j (j − r)^m / m!.
  LM-ResNet (α = (−k, −(1−k), 1), β = (0, 1, 0), r = 1): (1+k) u̇ + (1−k)(h/2) ü + O(h²) = f(u).
* On u' = λu the principal root ζ₁(z) = e^{ψ(z)} solves ρ(e^ψ)/σ(e^ψ) = z; ψ is the reversion of that
  series, and ũ' = (ψ(hλ)/h) ũ is the linear modified equation.
"""
from __future__ import annotations

import math
from math import factorial

import numpy as np
import sympy

from nas.schemes import LinearMultistep, LMResNet

from . import series, stability, values
from .report import ModifiedEquation, MultistepReport, Term

# Stability decisions on float roots allow this much |ζ| − 1 (roots from numpy on small polynomials).
STABILITY_TOLERANCE = 1e-9


class _Arithmetic:
    """Zero tests, simplification and the field's unit for one of exact / symbolic / float."""

    def __init__(self, kind: str, tolerance: float):
        self.kind = kind
        self.tolerance = tolerance
        self.one = 1.0 if kind == values.FLOAT else sympy.Integer(1)

    def zero(self, x) -> bool:
        if self.kind == values.SYMBOLIC:
            return sympy.cancel(sympy.sympify(x)) == 0
        return values.is_zero(x, self.tolerance)

    def tidy(self, x):
        return sympy.cancel(x) if self.kind == values.SYMBOLIC and isinstance(x, sympy.Basic) else x

    def nice(self, x):
        """Final form of a reported symbolic value (factored), others unchanged."""
        if self.kind == values.SYMBOLIC and isinstance(x, sympy.Expr) and x.free_symbols:
            _, denominator = sympy.fraction(sympy.cancel(x))
            return sympy.factor(x) if denominator.free_symbols else sympy.expand(x)
        return x

    def finish(self, value):
        """A value (or a tuple or list of them) in the form the report holds (``values.finish``)."""
        return values.finish(self.nice(value) if not isinstance(value, (tuple, list)) else
                             type(value)(self.nice(v) for v in value), self.kind)


def error_constants(alpha, beta, count: int, reference: int = 0) -> list:
    """C_0 … C_{count−1} about t_{n+reference} (reference 0 gives the classical C_q)."""
    out = [sum(alpha[1:], alpha[0])]
    for q in range(1, count):
        a = sum(((j - reference) ** q * alpha[j] for j in range(1, len(alpha))),
                (0 - reference) ** q * alpha[0]) / factorial(q)
        b = sum(((j - reference) ** (q - 1) * beta[j] for j in range(1, len(beta))),
                (0 - reference) ** (q - 1) * beta[0]) / factorial(q - 1)
        out.append(a - b)
    return out


def _order(C, arith: _Arithmetic):
    if not arith.zero(C[0]):
        return 0, None
    p = 0
    while p + 1 < len(C) and arith.zero(C[p + 1]):
        p += 1
    return p, (C[p + 1] if p + 1 < len(C) else None)


def _zero_set(expression):
    """The real k where ``expression`` (rational in k) vanishes, as a sympy set."""
    numerator, _ = sympy.fraction(sympy.cancel(sympy.sympify(expression)))
    if not numerator.has(values.K):
        return sympy.S.Reals if numerator == 0 else sympy.S.EmptySet
    if numerator.is_polynomial(values.K) and not numerator.has(sympy.I):
        return sympy.FiniteSet(*sympy.real_roots(sympy.Poly(numerator, values.K)))
    return sympy.solveset(sympy.Eq(numerator, 0), values.K, sympy.S.Reals)


def _linear_in_k(expression):
    """(a, b) with expression = a k + b for real rational a, b, or None."""
    expression = sympy.expand(expression)
    if expression.has(sympy.I) or not expression.is_polynomial(values.K):
        return None
    poly = sympy.Poly(expression, values.K)
    if poly.degree() > 1 or not all(c.is_Rational for c in poly.all_coeffs()):
        return None
    b = poly.coeff_monomial(1)
    a = poly.coeff_monomial(values.K) if poly.degree() == 1 else sympy.Integer(0)
    return a, b


def _modulus_at_most_one(root):
    """{k real : |root(k)| ≤ 1}: closed form for roots linear in k, else sympy's solveset."""
    linear = _linear_in_k(root)
    if linear is None:
        return sympy.solveset(sympy.Abs(root) <= 1, values.K, sympy.S.Reals)
    a, b = linear
    if a == 0:
        return sympy.S.Reals if abs(b) <= 1 else sympy.S.EmptySet
    low, high = sorted(((-1 - b) / a, (1 - b) / a))
    return sympy.Interval(low, high)


def _modulus_one(root):
    """{k real : |root(k)| = 1}."""
    linear = _linear_in_k(root)
    if linear is None:
        return sympy.solveset(sympy.Eq(sympy.Abs(root), 1), values.K, sympy.S.Reals)
    return _zero_set(root - 1).union(_zero_set(root + 1))


def _condition(expressions) -> object:
    """The set of real k where every expression vanishes."""
    solutions = sympy.S.Reals
    for expression in expressions:
        solutions = solutions.intersect(_zero_set(expression))
    return solutions


def _relational(solutions):
    if solutions == sympy.S.Reals:
        return True
    if solutions == sympy.S.EmptySet:
        return False
    return solutions.as_relational(values.K)


def _symbolic_zero_stability(rho_poly):
    """Root condition for ρ with coefficients in k: a relational in k, or None when the roots are not
    found in closed form."""
    roots = sympy.roots(rho_poly)
    if sum(roots.values()) != rho_poly.degree():
        return None, ()
    stable = sympy.S.Reals
    items = list(roots.items())
    for root, multiplicity in items:
        stable = stable.intersect(_modulus_at_most_one(root))
        if multiplicity > 1:
            stable = stable - _modulus_one(root)
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            coincide = _zero_set(items[i][0] - items[j][0])
            stable = stable - coincide.intersect(_modulus_one(items[i][0]))
    listed = tuple(root for root, m in sorted(items, key=lambda item: sympy.default_sort_key(item[0]))
                   for _ in range(m))
    return _relational(stable), listed


def _numeric_zero_stability(alpha, arithmetic: str):
    """(zero_stable, roots) for numeric ρ; exact coefficients decide multiplicities exactly."""
    if arithmetic == values.EXACT:
        poly = sympy.Poly(list(reversed(alpha)), values.ZETA)
        exact_roots = sympy.roots(poly, filter="Q")
        stable = True
        found = []
        for factor, multiplicity in poly.sqf_list()[1]:
            for root in factor.nroots(n=30):
                value = complex(root)
                found.append(value)
                modulus = abs(value)
                if modulus > 1 + 1e-12 or (abs(modulus - 1) <= 1e-12 and multiplicity > 1):
                    stable = False
                if multiplicity > 1:
                    found.extend([value] * (multiplicity - 1))
        if sum(exact_roots.values()) == poly.degree():
            listed = tuple(r for r, m in sorted(exact_roots.items()) for _ in range(m))
        else:
            listed = tuple(_plain(r) for r in sorted(found, key=lambda c: (abs(c), c.real, c.imag)))
        return stable, listed
    roots = np.roots(np.asarray(alpha, dtype=float)[::-1])
    listed = tuple(_plain(complex(r)) for r in sorted(roots, key=lambda c: (abs(c), c.real, c.imag)))
    return stability.root_condition(roots, stability.ROOT_TOLERANCE), listed


def _plain(value: complex):
    return value.real if abs(value.imag) <= 1e-14 else value


def axis_extent(alpha, beta, direction: complex, tolerance: float = STABILITY_TOLERANCE) -> float:
    """sup r such that the method is absolutely stable on (0, r]·direction (direction −1 or i).

    Candidate end points are where the boundary locus crosses the axis; the stability of each piece
    between candidates is decided at its midpoint (away from z = 0, where a root sits on the unit circle).
    When the locus lies on the axis itself (leapfrog on the imaginary axis) the axis is scanned instead.
    """
    alpha = [float(a) for a in alpha]
    beta = [float(b) for b in beta]

    def stable(z):
        return stability.root_condition(stability.multistep_roots(alpha, beta, z), tolerance)

    thetas = np.linspace(0.0, 2 * math.pi, 4097)
    zeta = np.exp(1j * thetas)
    rho = np.polynomial.polynomial.polyval(zeta, alpha)
    sigma = np.polynomial.polynomial.polyval(zeta, beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = rho / sigma / direction  # rotate so that the axis of interest is the positive real axis
    finite = np.isfinite(z)
    across = z.imag
    scale = max(1.0, float(np.max(np.abs(z[finite])))) if finite.any() else 1.0
    if finite.all() and float(np.max(np.abs(across))) <= 1e-9 * scale:
        return stability.ray_extent(stable, direction)
    candidates = set()
    for i in range(len(thetas) - 1):
        if not (finite[i] and finite[i + 1]):
            continue
        g0, g1 = across[i], across[i + 1]
        if abs(g0) <= 1e-12 * scale:
            candidates.add(float(z[i].real))
        elif g0 * g1 < 0:
            low, high = thetas[i], thetas[i + 1]
            for _ in range(60):
                middle = 0.5 * (low + high)
                zm = _locus(alpha, beta, middle) / direction
                if (zm.imag > 0) == (g0 > 0):
                    low = middle
                else:
                    high = middle
            candidates.add(float((_locus(alpha, beta, 0.5 * (low + high)) / direction).real))
    breakpoints = sorted(t for t in candidates if t > 1e-12)
    start = 0.0
    for end in breakpoints + [math.inf]:
        probe = start + 1.0 if math.isinf(end) else 0.5 * (start + end)
        if not stable(complex(probe * direction)):
            return start
        start = end
    return math.inf


def _locus(alpha, beta, theta: float) -> complex:
    zeta = complex(math.cos(theta), math.sin(theta))
    return complex(np.polynomial.polynomial.polyval(zeta, alpha) / np.polynomial.polynomial.polyval(zeta, beta))


def _derivative_factor(q: int) -> tuple:
    text = "u" + ("'" * q if q <= 3 else f"^({q})")
    latex = {0: "u", 1: "\\dot u", 2: "\\ddot u", 3: "\\dddot u"}.get(q, f"u^{{({q})}}")
    return text, latex


def _time_derivative_factor(m: int) -> tuple:
    if m == 0:
        return "f(u)", "f(u)"
    if m == 1:
        return "(d/dt) f(u)", "\\frac{d}{dt} f(u)"
    return f"(d/dt)^{m} f(u)", f"\\frac{{d^{{{m}}}}}{{dt^{{{m}}}}} f(u)"


def analyze_coefficients(alpha, beta, *, name: str, scheme: dict, arithmetic: str,
                         tolerance: float = 1e-9, notes=()) -> MultistepReport:
    """The report of the method (α, β), given as sympy values (exact / symbolic) or floats."""
    arith = _Arithmetic(arithmetic, tolerance)
    finish = arith.finish
    steps = len(alpha) - 1
    notes = list(notes)  # each part below appends what it finds, in the report's order

    count = 2 * steps + 3  # beyond the highest order an explicit k-step method can reach (2k − 1)
    C = [arith.tidy(c) for c in error_constants(alpha, beta, count)]
    order, error_constant = _order(C, arith)
    sigma_1 = arith.tidy(sum(beta[1:], beta[0]))
    normalized = None
    if error_constant is not None and not arith.zero(sigma_1):
        normalized = arith.tidy(error_constant / sigma_1)
    consistent, order_when = _consistency(C, order, arith, notes)
    time_scale, effective_order = _time_scale(alpha, beta, C, sigma_1, arith, notes)
    zero_stable, roots = _zero_stability(alpha, arith, notes)
    real_interval, imaginary_interval, locus = _absolute_stability(alpha, beta, zero_stable, arith, notes)
    reference, modified = _modified_equation(alpha, beta, order, arith)
    linear = _linear_modified_equation(alpha, beta, max(order, 1), arith, finish)

    return MultistepReport(
        name=name, scheme=scheme, arithmetic=arithmetic, order=order, notes=tuple(notes), steps=steps,
        rho=finish(tuple(alpha)), sigma=finish(tuple(beta)), characteristic_roots=finish(roots),
        consistent=consistent, error_constants=finish(tuple(C[: order + 2])),
        error_constant=finish(error_constant), normalized_error_constant=finish(normalized),
        order_when=order_when, time_scale=finish(time_scale), effective_order=effective_order,
        zero_stable=zero_stable, real_stability_interval=real_interval,
        imaginary_stability_interval=imaginary_interval, boundary_locus=tuple(tuple(p) for p in locus),
        reference_step=reference, modified_equation=modified, linear_modified_equation=linear,
    )


def _consistency(C: list, order: int, arith: _Arithmetic, notes: list) -> tuple:
    """(consistent, order_when) from the error constants C_0 … : with a symbolic k, consistency is a condition
    on k and ``order_when`` lists (q, the condition for order ≥ q) beyond the generic ``order``."""
    order_when = ()
    if arith.kind == values.SYMBOLIC:
        consistent = _relational(_condition(C[:2]))
        found = []
        solutions = sympy.S.Reals
        for q in range(len(C)):
            solutions = solutions.intersect(_condition([C[q]]))
            if solutions == sympy.S.EmptySet:
                break
            if q > order:
                found.append((q, _relational(solutions)))
        order_when = tuple(found)
    else:
        consistent = arith.zero(C[0]) and arith.zero(C[1])
    if not arith.zero(C[0]):
        notes.append("rho(1) != 0: the scheme does not even preserve constants (not preconsistent)")
    return consistent, order_when


def _time_scale(alpha, beta, C: list, sigma_1, arith: _Arithmetic, notes: list) -> tuple:
    """(T, effective order): the time scale T = ρ'(1)/σ(1), so that the scheme is consistent with T u' = f,
    and its order for that equation; (None, None) when T is undefined or zero."""
    if not arith.zero(C[0]) or arith.zero(sigma_1):
        return None, None
    rho_prime_1 = arith.tidy(sum((j * alpha[j] for j in range(1, len(alpha))), 0 * alpha[0]))
    time_scale = arith.tidy(rho_prime_1 / sigma_1)
    if arith.zero(time_scale):
        return time_scale, None
    scaled_beta = [arith.tidy(b * time_scale) for b in beta]
    effective_order, _ = _order([arith.tidy(c) for c in error_constants(alpha, scaled_beta, len(C))], arith)
    if not arith.zero(time_scale - 1):
        notes.append(f"consistent with T u' = f for T = {sympy.sstr(arith.finish(time_scale))}, "
                     f"not with u' = f; order {effective_order} for that equation")
    return time_scale, effective_order


def _zero_stability(alpha, arith: _Arithmetic, notes: list) -> tuple:
    """(zero_stable, the roots of ρ): a boolean, or with a symbolic k a condition on k (None: undetermined)."""
    if arith.kind != values.SYMBOLIC:
        return _numeric_zero_stability(alpha, arith.kind)
    rho_poly = sympy.Poly(sum(a * values.ZETA ** j for j, a in enumerate(alpha)), values.ZETA)
    zero_stable, roots = _symbolic_zero_stability(rho_poly)
    if zero_stable is None:
        notes.append("the roots of rho are not available in closed form: zero-stability undetermined")
    return zero_stable, roots


def _absolute_stability(alpha, beta, zero_stable, arith: _Arithmetic, notes: list) -> tuple:
    """(real interval, imaginary interval, boundary locus) of absolute stability along the axes (numbers
    only: nothing with a symbolic k; empty intervals for a scheme that is not zero-stable)."""
    if arith.kind == values.SYMBOLIC:
        return None, None, ()
    locus = stability.boundary_locus(alpha, beta)
    if not zero_stable:
        return (0.0, 0.0), (0.0, 0.0), locus
    r_real = axis_extent(alpha, beta, -1.0)
    r_imag = axis_extent(alpha, beta, 1j)
    if r_real == 0 and r_imag > 0:
        notes.append(f"stable only for imaginary h*lambda, |h*lambda| < {r_imag:.6g}: the Jacobian needs an "
                     "imaginary spectrum, e.g. an antisymmetric operator K - K^T (Chang et al. 2018), "
                     f"and h * rho(J) < {r_imag:.6g}")
    return (-r_real if r_real else 0.0, 0.0), (-r_imag if r_imag else 0.0, r_imag), locus


def _modified_equation(alpha, beta, order: int, arith: _Arithmetic) -> tuple:
    """(r, the modified equation about t_{n+r}): r is the latest step where f is evaluated (k − 1 for a k-step
    scheme that evaluates f nowhere)."""
    evaluated = [j for j, b in enumerate(beta) if not arith.zero(b)]
    reference = max(evaluated) if evaluated else len(alpha) - 2
    P = max(order, 1)
    c = [arith.tidy(v) for v in _taylor(alpha, P + 2, reference)]
    d = [arith.tidy(v) for v in _taylor(beta, P + 1, reference)]
    lhs = []
    for q, cq in enumerate(c):
        if not arith.zero(cq):
            text, latex = _derivative_factor(q)
            lhs.append(Term(arith.finish(cq), q - 1, text, latex))
    rhs = []
    for m, dm in enumerate(d):
        if not arith.zero(dm):
            text, latex = _time_derivative_factor(m)
            rhs.append(Term(arith.finish(dm), m, text, latex))
    return reference, ModifiedEquation(tuple(lhs), tuple(rhs), P + 1)


def _taylor(coefficients, count: int, reference: int) -> list:
    """Σ_j coefficients_j (j − r)^q / q! for q = 0 … count−1."""
    return [sum(((j - reference) ** q * a for j, a in enumerate(coefficients) if j), 
                (0 - reference) ** q * coefficients[0]) / factorial(q) for q in range(count)]


def _linear_modified_equation(alpha, beta, P: int, arith: _Arithmetic, finish):
    """u' = λ Σ_q e_{q+1} (hλ)^q u from the principal root; None when ρ(1) ≠ 0, σ(1) = 0 or ρ'(1) = 0."""
    n = P + 2
    R = [arith.tidy(v) for v in _taylor(alpha, n, 0)]  # ρ(e^w)
    S = [arith.tidy(v) for v in _taylor(beta, n, 0)]   # σ(e^w)
    if not arith.zero(R[0]) or arith.zero(S[0]) or arith.zero(R[1]):
        return None
    one, tidy = arith.one, arith.tidy
    if arith.kind == values.SYMBOLIC:
        # rational functions of k: the field QQ(k) keeps them canonical far faster than cancel()
        field = sympy.QQ.frac_field(values.K)
        R, S = [field.from_sympy(sympy.expand(x)) for x in R], [field.from_sympy(sympy.expand(x)) for x in S]
        one, tidy = field.one, (lambda x: x)
    R[0] = one - one
    phi = series.multiply(R, series.reciprocal(S, n, tidy), n, tidy)
    phi[0] = one - one
    psi = series.revert(phi, n, one, tidy)
    if arith.kind == values.SYMBOLIC:
        psi = [field.to_sympy(x) for x in psi]
    lhs = (Term(sympy.Integer(1), 0, "u'", "\\dot u"),)
    rhs = tuple(Term(finish(e), q - 1, "lambda" + (f"^{q}" if q > 1 else "") + "*u",
                     "\\lambda" + (f"^{{{q}}}" if q > 1 else "") + " u")
                for q, e in enumerate(psi) if q >= 1 and not arith.zero(e))
    return ModifiedEquation(lhs, rhs, P + 1)


def analyze_multistep(scheme: LinearMultistep, tolerance: float = 1e-9) -> MultistepReport:
    arithmetic = values.EXACT if scheme.is_exact else values.FLOAT
    alpha, beta = _convert(scheme.alpha, arithmetic), _convert(scheme.beta, arithmetic)
    return analyze_coefficients(alpha, beta, name=scheme.name or str(scheme), scheme=scheme.to_dict(),
                                arithmetic=arithmetic, tolerance=tolerance)


def analyze_lm_resnet(scheme: LMResNet, tolerance: float = 1e-9) -> MultistepReport:
    """LM-ResNet: symbolic in k when k is learned without a given value, else at the given k."""
    if scheme.k is None:
        k = values.K
        alpha = [-k, -(1 - k), sympy.Integer(1)]
        beta = [sympy.Integer(0), sympy.Integer(1), sympy.Integer(0)]
        return analyze_coefficients(alpha, beta, name=scheme.name, scheme=scheme.to_dict(),
                                    arithmetic=values.SYMBOLIC, tolerance=tolerance,
                                    notes=(f"k is learned ({scheme.learn}); symbolic in k",))
    method = scheme.multistep()
    arithmetic = values.EXACT if method.is_exact else values.FLOAT
    notes = () if not scheme.learned else (f"k is learned ({scheme.learn}); analysed at its initial value",)
    return analyze_coefficients(_convert(method.alpha, arithmetic), _convert(method.beta, arithmetic),
                                name=f"{scheme.name}(k={scheme.k})", scheme=scheme.to_dict(),
                                arithmetic=arithmetic, tolerance=tolerance, notes=notes)


def _convert(coefficients, arithmetic: str) -> list:
    if arithmetic == values.FLOAT:
        return [float(c) for c in coefficients]
    return [values.to_sympy(c) for c in coefficients]


__all__ = ["STABILITY_TOLERANCE", "analyze_coefficients", "analyze_lm_resnet", "analyze_multistep",
           "axis_extent", "error_constants"]
