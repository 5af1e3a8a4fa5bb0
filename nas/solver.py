"""The fixed-step solver ``nas.integrate``: checks its arguments and hands over to the scheme's family.

It sits above the families (``nas.families.registry``), which step with the primitives of
:mod:`nas.stepper`; keeping it out of ``nas.stepper`` keeps that dependency one-way.
"""
from __future__ import annotations

from .families.registry import family_of, resolve
from .stepper import STARTUPS


def integrate(f, x0, scheme, h: float, steps: int, startup: str = "runge_kutta"):
    """Apply ``scheme`` with fixed step ``h`` for ``steps`` steps to ``dx/dt = f(x)``; return x_steps.

    ``f`` is a callable ``f(x)`` or a sequence of ``steps`` callables (one per step: the residual functions
    of a network). ``scheme`` is a scheme object, a registered name or a JSON dict.

    Multistep start-up (the first k−1 steps of a k-step method):
    - ``"runge_kutta"`` (default): classic RK4 steps, whose local error O(h⁵) keeps the global order of
      every explicit multistep method of order ≤ 4;
    - ``"euler"``: plain residual steps, the LM-ResNet network convention (first order: it lowers the
      global order of a method of order ≥ 2 to the start-up's order).
    """
    scheme = resolve(scheme)
    if startup not in STARTUPS:
        raise ValueError(f"startup: must be one of {', '.join(STARTUPS)}, got {startup!r}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps: must be a non-negative integer, got {steps!r}")
    if not h > 0:
        raise ValueError(f"h: must be positive, got {h!r}")
    fns = list(f) if isinstance(f, (list, tuple)) else [f] * steps
    if len(fns) != steps:
        raise ValueError(f"f: got {len(fns)} callables for {steps} steps")
    return family_of(scheme).integrate(scheme, fns, x0, h, steps, startup)


__all__ = ["integrate"]
