"""Schemes: coefficients as immutable, self-validating values with an exact JSON round trip.

The public entry to the scheme registry. Each scheme family (value type, named schemes, stepping, ...) is a
module of :mod:`nas.families`, listed in the one table :mod:`nas.families.registry`; this package
re-exports the registry's look-ups and the value types (``nas.schemes.get("rk4")``,
``from nas.schemes import ButcherTableau``). Noise schedules are not a family: :mod:`nas.schemes.noise`.
Shared exact arithmetic: :mod:`nas.schemes.coefficients`.

Names are loaded on first use (PEP 562), so the family modules can import ``nas.schemes.coefficients``
without a circular import, and ``import nas.schemes`` stays light.
"""
from __future__ import annotations

import importlib

# public name -> (module, attribute)
_EXPORTS = {
    "get": ("nas.families.registry", "get"),
    "names": ("nas.families.registry", "scheme_names"),
    "info": ("nas.families.registry", "info"),
    "from_dict": ("nas.families.registry", "from_dict"),
    "resolve": ("nas.families.registry", "resolve"),
    "families": ("nas.families.registry", "names"),
    "SchemeInfo": ("nas.families.base", "NamedScheme"),
    "ButcherTableau": ("nas.families.runge_kutta", "ButcherTableau"),
    "LinearMultistep": ("nas.families.multistep", "LinearMultistep"),
    "LMResNet": ("nas.families.lm_resnet", "LMResNet"),
    "Hamiltonian": ("nas.families.hamiltonian", "Hamiltonian"),
    "SeparableField": ("nas.families.hamiltonian", "SeparableField"),
    "Leapfrog2": ("nas.families.leapfrog2", "Leapfrog2"),
    "NoiseSchedule": ("nas.schemes.noise", "NoiseSchedule"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nas.schemes' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])
