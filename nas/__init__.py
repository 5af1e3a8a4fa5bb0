"""nas: neural architecture search over numerical schemes.

The public API, re-exported explicitly. Imports are lazy (PEP 562) so that light modules such as
``nas.leaderboard`` and ``nas.schemes`` load without importing torch or Ray.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "integrate": "nas.solver",
    "NetworkSpec": "nas.networks",
    "build_network": "nas.network_kinds",
    "schemes": "nas.schemes",
    "diagnostics": "nas.diagnostics",
    "data": "nas.data",
    "train": "nas.train",
    "search": "nas.search",
    "leaderboard": "nas.leaderboard",
    "export": "nas.export",
    "load": "nas.export",
    "fit": "nas.train",
    "TrainConfig": "nas.train",
    "load_dataset": "nas.data",
    "NoiseSchedule": "nas.schemes.noise",
    "convert": "nas.conversion",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nas' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if module.__name__ == f"nas.{name}" else getattr(module, name)
    globals()[name] = value
    return value
