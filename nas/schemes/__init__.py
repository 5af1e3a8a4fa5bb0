"""Scheme encodings: coefficients as immutable, self-validating values with an exact JSON round trip."""
from __future__ import annotations

from . import catalog
from .multistep import LinearMultistep, LMResNet
from .noise import NoiseSchedule
from .reversible import Hamiltonian, Leapfrog2, SeparableField
from .registry import SchemeInfo, families, from_dict, get, info, names, register, register_family, resolve
from .tableau import ButcherTableau

register_family("runge_kutta", ButcherTableau)
register_family("multistep", LinearMultistep)
register_family("lm_resnet", LMResNet)
register_family("hamiltonian", Hamiltonian)
register_family("leapfrog2", Leapfrog2)

_SOURCE_RK = "Hairer, Nørsett, Wanner, Solving ODEs I (1993), §II.1"
register("euler", lambda: catalog.EULER, 1, "Euler (1768); He et al. ResNet (2016)", "forward Euler = ResNet")
register("midpoint", lambda: catalog.MIDPOINT, 2, _SOURCE_RK, "explicit midpoint Runge-Kutta")
register("heun", lambda: catalog.HEUN, 2, _SOURCE_RK, "Heun / explicit trapezoidal")
register("ralston", lambda: catalog.RALSTON, 2, "Ralston (1962)", "2-stage order-2, minimal error bound")
register("kutta3", lambda: catalog.KUTTA3, 3, "Kutta (1901)", "Kutta's third-order method")
register("ssprk3", lambda: catalog.SSPRK3, 3, "Shu & Osher (1988)", "strong-stability-preserving RK3")
register("rk4", lambda: catalog.RK4, 4, "Kutta (1901)", "classic fourth-order Runge-Kutta")
register("rk38", lambda: catalog.RK38, 4, "Kutta (1901)", "3/8 rule")


def _lm_resnet(k=None, learn=None):
    # A given k without a learn mode means a fixed k; no k means learned per layer (the paper).
    if learn is None:
        learn = "layer" if k is None else "fixed"
    return LMResNet(k=k, learn=learn)


register("lm_resnet", _lm_resnet, None, "Lu, Zhong, Li, Dong (ICML 2018)",
         "x_{n+1} = (1-k_n) x_n + k_n x_{n-1} + f_n(x_n); order 1 only for k = 0")
register("ab2", lambda: catalog.AB2, 2, "Hairer, Nørsett, Wanner (1993), §III.1", "2-step Adams-Bashforth")
register("ab3", lambda: catalog.AB3, 3, "Hairer, Nørsett, Wanner (1993), §III.1", "3-step Adams-Bashforth")
register("leapfrog", lambda: catalog.LEAPFROG, 2, "Chang et al. (AAAI 2018), 'midpoint network'",
         "x_{n+1} = x_{n-1} + 2h f(x_n)")
# Reversible schemes (nas.schemes.reversible): orders of their own ODE forms (their ``ode_form`` attribute).
register("hamiltonian", Hamiltonian, 2, "Chang et al. (AAAI 2018), 'Hamiltonian network'; Verlet",
         "Y += h K1ᵀσ(K1 Z + b1), Z −= h K2ᵀσ(K2 Y + b2); order 2 for y' = g(z), z' = G(y)")
register("leapfrog2", Leapfrog2, 2, "Chang et al. (AAAI 2018), 'leapfrog network'; Störmer",
         "x_{n+1} = 2x_n − x_{n−1} − h² Kᵀσ(Kx_n + b); order 2 for x'' = F(x)")

__all__ = ["ButcherTableau", "Hamiltonian", "Leapfrog2", "LinearMultistep", "LMResNet", "NoiseSchedule", "SchemeInfo",
           "SeparableField", "catalog", "families", "from_dict", "get", "info", "names", "register",
           "register_family", "resolve"]
