"""The ``torch.export`` program of a model: eval mode, dynamic batch dimension, checked against the eager model.

The program and the weights are serialised in memory and written by Python (``save_program``, ``save_weights``):
torch's C++ file writer aborts the whole process (exit 134, no cleanup) when the disk is full, where a
Python write raises ``OSError`` (ENOSPC), which removes the staging folder and is one line in the CLI.
"""
from __future__ import annotations

import io
from pathlib import Path

EXAMPLE_BATCH = 2  # torch.export specialises a dimension of size 1: trace with 2, allow 1 and up
EXPORT_TOLERANCE = 1e-5  # max |exported − eager| accepted by the self-check


def random_ops(program) -> list[str]:
    """Names of the random operators in an exported program (torch tags them ``nondeterministic_seeded``)."""
    import torch

    found = []
    for node in program.graph.nodes:
        tags = getattr(node.target, "tags", ()) if node.op == "call_function" else ()
        if torch.Tag.nondeterministic_seeded in tags:
            found.append(str(node.target))
    return sorted(set(found))


def export_program(model, example, trial_id):
    """``torch.export`` in eval mode, batch dimension dynamic from 1 up; checked against the eager model."""
    import torch
    from torch.export import Dim

    batch = Dim("batch", min=1)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    randomness = random_ops(program)
    if randomness:
        raise ValueError(f"trial {trial_id!r}: the eval-mode program calls random operators "
                         f"({', '.join(randomness)}); an exported model must be deterministic")
    exported = program.module()
    with torch.no_grad():
        for x in (example, example[:1]):
            output = model(x)
            if not bool(torch.isfinite(output).all()):
                # not an export fault: the network itself overflows (e.g. a coefficient far out of range)
                raise ValueError(f"trial {trial_id!r}: the network's output is not finite (inf or nan) on an example "
                                 f"batch of size {x.shape[0]}; its scheme coefficients or weights make it diverge")
            difference = (exported(x) - output).abs().max().item()
            if not difference <= EXPORT_TOLERANCE:
                raise RuntimeError(f"trial {trial_id!r}: exported program differs from the model by "
                                   f"{difference:.3g} at batch size {x.shape[0]}")
    return program


def _write_bytes(path: Path, data: bytes) -> None:
    """One file of an export, written by Python: a full disk raises ``OSError`` instead of aborting."""
    Path(path).write_bytes(data)


def save_program(program, path) -> None:
    """``torch.export.save`` of ``program`` to ``path`` (serialised in memory, written by ``_write_bytes``)."""
    import torch

    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    _write_bytes(path, buffer.getvalue())


def save_weights(state: dict, path, metadata: dict) -> None:
    """``state`` as safetensors at ``path`` (serialised in memory, written by ``_write_bytes``), mode 0644."""
    from safetensors.torch import save

    _write_bytes(path, save(state, metadata=metadata))
    Path(path).chmod(0o644)  # the export is meant to be shared


__all__ = ["random_ops", "export_program", "save_program", "save_weights", "EXAMPLE_BATCH", "EXPORT_TOLERANCE"]
