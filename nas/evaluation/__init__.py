"""Final evaluation of a search (``nas evaluate``): retrain its best distinct architectures and its baselines
from scratch with several seeds and score each trained model once on the test split.

- ``selection``  which architectures: the run's K best at equal fidelity, its baselines, a plain ResNet;
- ``trainable``  the Ray Tune trial that trains one (architecture, seed) pair and scores it on test;
- ``summary``    ``evaluation.csv`` / ``evaluation.json``: per-architecture statistics and the paired
                 difference against the plain ResNet with a Student-t interval;
- ``run``        the driver (``evaluate``), resumable, interruptible like ``nas search``.
"""
from __future__ import annotations

from .run import EvaluationResult, evaluate

__all__ = ["evaluate", "EvaluationResult"]
