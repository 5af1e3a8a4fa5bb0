"""Architecture search over numerical schemes: YAML search spaces, Ray Tune trials, Optuna samplers.

``run(space, ...)`` runs a search (the driver is ``nas.search.run``); ``load_space(path)`` validates a space
file. Ray, Optuna and torch are imported only when a search runs.
"""
from __future__ import annotations

# Importing the driver here binds the package attribute ``run`` to the function, not the submodule.
from .run import SearchResult, run
from .space import SearchSpace, SpaceError, load_space

__all__ = ["run", "load_space", "SearchResult", "SearchSpace", "SpaceError"]
