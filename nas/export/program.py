"""The ``torch.export`` program of a model: eval mode, dynamic batch dimension, checked against the eager model."""
from __future__ import annotations

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
            difference = (exported(x) - model(x)).abs().max().item()
            if not difference <= EXPORT_TOLERANCE:
                raise RuntimeError(f"trial {trial_id!r}: exported program differs from the model by "
                                   f"{difference:.3g} at batch size {x.shape[0]}")
    return program


__all__ = ["random_ops", "export_program", "EXAMPLE_BATCH", "EXPORT_TOLERANCE"]
