"""Final evaluation of a search (``nas evaluate``): retrain its best distinct architectures and its baselines
from scratch with several seeds and score each trained model once on the test split.

- ``selection``  which architectures: the run's K best at equal fidelity, its baselines, a plain ResNet;
- ``seeds``      which seeds: fresh ones, never a seed a trial of the run trained (from 1000 up, or a list);
- ``trainable``  the Ray Tune trial that trains one (architecture, seed) pair and scores it on test;
- ``summary``    ``evaluation.csv`` / ``evaluation.json``: per-architecture statistics, the paired
                 difference against the plain ResNet with a Student-t interval, and how well the search's
                 ranking predicted the evaluation (Spearman ρ, the pick's optimism);
- ``run``        the driver (``evaluate``), resumable, interruptible like ``nas search``.
"""
from __future__ import annotations

from .run import EvaluationResult, evaluate

__all__ = ["evaluate", "EvaluationResult"]
