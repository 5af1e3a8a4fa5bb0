"""Reversible schemes of Chang, Meng, Haber, Ruthotto, Begert, Holtham, "Reversible Architectures for
Arbitrarily Deep Residual Neural Networks" (AAAI 2018), as immutable values that also do their own stepping.

Names (the paper's clash with the registry's, see SCIENCE.md §5):

- ``hamiltonian`` (:class:`Hamiltonian`), the paper's "Hamiltonian network", a two-variable Verlet step:
      Y_{j+1} = Y_j + h g_j(Z_j),         g_j(Z) =  K_{j1}ᵀ σ(K_{j1} Z + b_{j1})
      Z_{j+1} = Z_j + h G_j(Y_{j+1}),     G_j(Y) = −K_{j2}ᵀ σ(K_{j2} Y + b_{j2})
  Inverse: Z_j = Z_{j+1} − h G_j(Y_{j+1}), then Y_j = Y_{j+1} − h g_j(Z_j).
- ``leapfrog2`` (:class:`Leapfrog2`), the paper's "leapfrog network", Störmer's rule for x'' = F(x):
      x_{j+1} = 2x_j − x_{j−1} + h² F_j(x_j),   F_j(x) = −K_jᵀ σ(K_j x + b_j)
  Inverse: x_{j−1} = 2x_j − x_{j+1} + h² F_j(x_j).
- the paper's "midpoint network" is the registry's two-step ``leapfrog`` (a :class:`LinearMultistep`,
  x_{n+1} = x_{n−1} + 2h f(x_n)); it is not registered twice.

Both steps are inverted exactly in exact arithmetic (the inverse re-evaluates the same function at a known
state and subtracts: no division, no solve), which is what memory-efficient backpropagation relies on.

What ``f`` means for ``nas.stepper.integrate`` (the ``ode_form`` attribute says which form a scheme
integrates, so that first-order convergence tests can skip these schemes honestly):

- ``hamiltonian`` (``ode_form = "partitioned"``): the separable system y' = g(z), z' = G(y), given as a
  :class:`SeparableField` (``drift`` = g, ``kick`` = G) or one per step; ``x0`` is the pair (y0, z0) and
  the result the pair (y_N, z_N). The network step is the staggered form (Z lives half a step ahead of Y);
  ``integrate`` adds the half kicks z_{1/2} = z_0 + (h/2) G(y_0) at the start and z_N = z_{N+1/2} − (h/2) G(y_N)
  at the end, which makes it the Störmer–Verlet method, order 2 (Hairer, Lubich, Wanner, Geometric
  Numerical Integration (2006), §I.3.1 and Theorem II.3.4).
- ``leapfrog2`` (``ode_form = "second_order"``): the force F of x'' = F(x); ``x0`` is x(0) (zero initial
  velocity) or the pair (x(0), x'(0)); the result is x_N. The first step is the Taylor start
  x_1 = x_0 + h v_0 + (h²/2) F(x_0), which keeps Störmer's global order 2 (Hairer, Lubich, Wanner, §I.1.4).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

from .serialization import check_keys

HAMILTONIAN_FAMILY = "hamiltonian"
LEAPFROG2_FAMILY = "leapfrog2"


@dataclass(frozen=True)
class SeparableField:
    """The right-hand side of the separable system y' = drift(z), z' = kick(y) (for ``hamiltonian``)."""

    drift: Callable
    kick: Callable

    def __post_init__(self):
        for name in ("drift", "kick"):
            if not callable(getattr(self, name)):
                raise ValueError(f"{name}: expected a callable, got {getattr(self, name)!r}")


def _check_name(name):
    if not isinstance(name, str):
        raise ValueError(f"name: expected a string, got {name!r}")


def _check_integrate_arguments(h, steps):
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps: must be a non-negative integer, got {steps!r}")
    if not h > 0:
        raise ValueError(f"h: must be positive, got {h!r}")


@dataclass(frozen=True)
class Hamiltonian:
    """The Hamiltonian (Verlet) network step on two channel halves (Chang et al. 2018, eq. 7)."""

    name: str = "hamiltonian"
    family: str = field(default=HAMILTONIAN_FAMILY, init=False)
    ode_form: ClassVar[str] = "partitioned"
    steps: ClassVar[int] = 1  # one step of the pair (Y, Z)
    reversible: ClassVar[bool] = True

    def __post_init__(self):
        _check_name(self.name)

    # The one stepping code: the networks call these two functions too.
    @staticmethod
    def step(drift, kick, y, z, h):
        """(Y_j, Z_j) → (Y_{j+1}, Z_{j+1}); ``drift`` = g_j, ``kick`` = G_j."""
        y = y + h * drift(z)
        return y, z + h * kick(y)

    @staticmethod
    def inverse_step(drift, kick, y, z, h):
        """(Y_{j+1}, Z_{j+1}) → (Y_j, Z_j), exactly the inverse of :meth:`step` in exact arithmetic."""
        z = z - h * kick(y)
        return y - h * drift(z), z

    def integrate(self, fns, x0, h, steps):
        """Störmer–Verlet for y' = drift(z), z' = kick(y): returns (y_N, z_N) from x0 = (y_0, z_0)."""
        _check_integrate_arguments(h, steps)
        if not all(isinstance(f, SeparableField) for f in fns):
            raise ValueError("f: the hamiltonian scheme integrates y' = g(z), z' = G(y); pass "
                             "nas.schemes.reversible.SeparableField(drift=g, kick=G) (or one per step)")
        if not (isinstance(x0, (tuple, list)) and len(x0) == 2):
            raise ValueError("x0: the hamiltonian scheme needs the pair (y0, z0)")
        y, z = x0
        if steps == 0:
            return y, z
        z = z + (h / 2) * fns[0].kick(y)  # z at t = h/2: the staggered variable of the network step
        for f in fns:
            y, z = self.step(f.drift, f.kick, y, z, h)
        return y, z - (h / 2) * fns[-1].kick(y)  # back from t_N + h/2 to t_N

    def to_dict(self) -> dict:
        return {"family": HAMILTONIAN_FAMILY, "name": self.name}

    @classmethod
    def from_dict(cls, data: dict) -> "Hamiltonian":
        check_keys(data, required=set(), optional={"family", "name"}, where="hamiltonian scheme")
        return cls(name=data.get("name", "hamiltonian"))

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Leapfrog2:
    """The second-order-in-time leapfrog network step (Chang et al. 2018, eq. 10): Störmer's rule."""

    name: str = "leapfrog2"
    family: str = field(default=LEAPFROG2_FAMILY, init=False)
    ode_form: ClassVar[str] = "second_order"
    steps: ClassVar[int] = 2  # x_{j+1} depends on x_j and x_{j−1}
    reversible: ClassVar[bool] = True

    def __post_init__(self):
        _check_name(self.name)

    @staticmethod
    def start(force, x0, h, v0=None):
        """x_1 = x_0 + h v_0 + (h²/2) F(x_0) (v_0 = 0 when None: the network convention)."""
        x1 = x0 + (h * h / 2) * force(x0)
        return x1 if v0 is None else x1 + h * v0

    @staticmethod
    def step(force, x_previous, x, h):
        """x_{j+1} = 2x_j − x_{j−1} + h² F(x_j)."""
        return 2 * x - x_previous + (h * h) * force(x)

    @staticmethod
    def inverse_step(force, x, x_next, h):
        """x_{j−1} = 2x_j − (x_{j+1} − h² F(x_j)): :meth:`step` solved for the older state, its operations
        undone in reverse order (which keeps the floating-point inversion closest to exact)."""
        return 2 * x - (x_next - (h * h) * force(x))

    def integrate(self, fns, x0, h, steps):
        """Störmer's rule for x'' = F(x): returns x_N from x0 = x(0) or (x(0), x'(0))."""
        _check_integrate_arguments(h, steps)
        if not all(callable(f) for f in fns):
            raise ValueError("f: the leapfrog2 scheme integrates x'' = F(x); pass the force F (callable)")
        x, v0 = (x0[0], x0[1]) if isinstance(x0, (tuple, list)) else (x0, None)
        if steps == 0:
            return x
        previous, x = x, self.start(fns[0], x, h, v0)
        for f in fns[1:]:
            previous, x = x, self.step(f, previous, x, h)
        return x

    def to_dict(self) -> dict:
        return {"family": LEAPFROG2_FAMILY, "name": self.name}

    @classmethod
    def from_dict(cls, data: dict) -> "Leapfrog2":
        check_keys(data, required=set(), optional={"family", "name"}, where="leapfrog2 scheme")
        return cls(name=data.get("name", "leapfrog2"))

    def __str__(self) -> str:
        return self.name


HAMILTONIAN = Hamiltonian()
LEAPFROG2 = Leapfrog2()

__all__ = ["Hamiltonian", "Leapfrog2", "SeparableField", "HAMILTONIAN", "LEAPFROG2", "HAMILTONIAN_FAMILY",
           "LEAPFROG2_FAMILY"]
