"""What makes two trials "the same architecture": one hash over the trained network and its training.

Two trials with equal :func:`architecture_id` train the same network (``NetworkSpec.to_dict()``) with the
same training configuration (``TrainConfig.to_dict()``) on the same data, differing at most in the seed.
With the same seed as well (:func:`training_id`) they give the same result, so the search records the
second as a duplicate instead of training it again; ``nas evaluate`` retrains each distinct
``architecture_id`` once per evaluation seed, and the leaderboard aggregates the seeds of one id.

The hash is taken over canonical JSON (sorted keys, no whitespace, floats written by ``repr``), so it does
not depend on dict order or on the process that computed it.
"""
from __future__ import annotations

import hashlib
import json

ID_LENGTH = 12  # hex digits: collisions need ~16M distinct architectures in one run


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _digest(payload) -> str:
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()[:ID_LENGTH]


def _without_seed(train_config: dict) -> dict:
    return {key: value for key, value in train_config.items() if key != "seed"}


def architecture_id(spec: dict, train_config: dict) -> str:
    """Hash of the network spec and the training configuration without its seed."""
    return _digest({"spec": spec, "train": _without_seed(train_config)})


def training_id(spec: dict, train_config: dict) -> str:
    """Hash of the network spec and the full training configuration, seed included."""
    return _digest({"spec": spec, "train": train_config})


__all__ = ["architecture_id", "training_id", "ID_LENGTH"]
