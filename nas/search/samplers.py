"""The Optuna samplers that ``--sampler`` names, each one picklable.

Ray Tune pickles the Tuner with its searcher (and the searcher's state at every experiment snapshot), so
a sampler that cannot be pickled fails the search before its first trial. Optuna's ``NSGAIISampler`` and
``NSGAIIISampler`` hold a ``threading.Lock`` (``_thread_lock``, STACK.md); the subclasses here drop every
lock when pickled and give the unpickled sampler fresh ones, which is all a lock's state can be (a sampler
is pickled between calls, never while one holds its lock). The other samplers pickle as they are.
"""
from __future__ import annotations

import threading

import optuna

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class _FreshLocks:
    """Pickling without locks: each attribute holding a lock is rebuilt, unlocked, on unpickling."""

    def __getstate__(self):
        state = dict(self.__dict__)
        locks = {name: isinstance(value, type(threading.RLock())) for name, value in state.items()
                 if isinstance(value, _LOCK_TYPES)}
        for name in locks:
            del state[name]
        state["_nas_locks"] = locks  # name -> reentrant
        return state

    def __setstate__(self, state):
        state = dict(state)
        locks = state.pop("_nas_locks", {})
        self.__dict__.update(state)
        for name, reentrant in locks.items():
            setattr(self, name, threading.RLock() if reentrant else threading.Lock())


class NSGAIISampler(_FreshLocks, optuna.samplers.NSGAIISampler):
    """Optuna's NSGA-II sampler, picklable."""


class NSGAIIISampler(_FreshLocks, optuna.samplers.NSGAIIISampler):
    """Optuna's NSGA-III sampler, picklable (not offered by ``--sampler`` today; kept beside NSGA-II)."""


def make_sampler(name: str, seed: int):
    """The Optuna sampler for ``--sampler`` (seeded); every one pickles (see the module docstring)."""
    from .space import SAMPLERS

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    if name == "cmaes":  # CMA-ES samples the continuous coefficients; categorical ones fall back to random
        return optuna.samplers.CmaEsSampler(seed=seed)
    if name == "nsga2":
        return NSGAIISampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed)
    raise ValueError(f"--sampler: must be one of {', '.join(SAMPLERS)}, got {name!r}")


__all__ = ["make_sampler", "NSGAIISampler", "NSGAIIISampler"]
