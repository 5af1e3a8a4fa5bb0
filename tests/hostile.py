"""Test helpers for hostile inputs: a pickle whose loading would create a file, and folder snapshots.

``Payload(marker)`` pickles to "call open(marker, 'w')": loading it with ``pickle`` or
``torch.load(weights_only=False)`` creates ``marker``, so a test that plants it and then finds no marker shows
that no code ran (``test_payload_is_live`` shows the payload does run when loaded unsafely).
"""
from __future__ import annotations

import pickle
from pathlib import Path


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant_torch_pickle(path, marker) -> Path:
    """A ``torch.save`` file (zip + pickle) that would create ``marker`` when unpickled."""
    import torch

    torch.save({"train": Payload(marker), "best": {}, "best_weights": {}, "wall_time": 0.0}, path)
    return Path(path)


def plant_raw_pickle(path, marker) -> Path:
    """A bare pickle under any name (e.g. ``weights.safetensors``) that would create ``marker``."""
    Path(path).write_bytes(pickle.dumps(Payload(marker)))
    return Path(path)


def snapshot(*roots) -> dict:
    """Every file and folder under ``roots`` with its size and modification time (a write changes it)."""
    out = {}
    for root in map(Path, roots):
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            stat = path.lstat()
            out[str(path)] = ("dir", 0, 0) if path.is_dir() and not path.is_symlink() else \
                ("file", stat.st_size, stat.st_mtime_ns)
    return out


__all__ = ["Payload", "plant_torch_pickle", "plant_raw_pickle", "snapshot"]
