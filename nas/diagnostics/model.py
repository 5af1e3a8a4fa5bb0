"""Diagnostics of a trained network (``nas diagnose --model``): whether its scheme's analysis describes it, and
its depth-refinement table (``nas.refinement``) on the test split it was trained for.

A model is an export model folder (``card.json`` names its data) or a trial folder of a run
(``trials/<id>/`` whose run's ``search.json`` names it); both are read without running code
(``nas.export.read_model``).
"""
from __future__ import annotations

from pathlib import Path

DEFAULT_FACTORS = (1, 2, 4)


def parse_factors(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> (1, 2, 4); ``ValueError`` naming the option otherwise."""
    from nas.messages import quote
    from nas.refinement import check_factor

    try:
        factors = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        raise ValueError(f"--refine: expected whole numbers separated by commas, e.g. 1,2,4; got {quote(text)}") \
            from None
    if len(factors) > 8:
        raise ValueError(f"--refine: at most 8 factors, got {len(factors)}")
    return tuple(check_factor(f) for f in factors)


def time_invariance_text(spec) -> str:
    """One sentence: does the scheme's modified equation describe this network? (SCIENCE.md §5d)."""
    if getattr(spec, "tie", "none") != "stage":
        return ("untied: every step has its own residual function f_n, so the network discretises a "
                "non-autonomous x' = f(x, t) only loosely; the scheme's order, stability and modified equation "
                "describe it loosely at best")
    if spec.time_invariant:
        return (f"tied, normalisation {spec.norm}: every step of a stage applies one function f (x' = f(x), "
                "autonomous); the scheme's order, stability and modified equation describe the network")
    return ("tied, normalisation per step: the weights are one f per stage but each step keeps its own "
            "BatchNorm, so f depends on the step (piecewise constant in t); the scheme's modified equation "
            "describes the network up to that dependence")


def load_model_and_test_data(path):
    """(model in eval mode, test inputs, test labels) of an export model folder or a trial folder."""
    from nas.data import load_dataset
    from nas.export import read_model
    from nas.export.selection import load_data
    from nas.networks import build_network
    from nas.safe_load import read_json

    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"--model: {folder} is not a folder (give an export model folder or a trial folder)")
    spec, weights = read_model(folder, f"--model {folder}")
    if (folder / "card.json").is_file():
        card = read_json(folder / "card.json", f"--model {folder}: card.json")
        options = (card.get("data") or {}).get("options")
        if not isinstance(options, dict) or not isinstance(options.get("name"), str):
            raise ValueError(f"--model {folder}: card.json records no data set (data.options)")
        splits = load_dataset(**options)
    else:
        run = folder.parent.parent
        if not (run / "search.json").is_file():
            raise ValueError(f"--model {folder}: neither an export (card.json) nor a trial folder of a run "
                             "(../../search.json)")
        splits = load_data(read_json(run / "search.json", f"--model {folder}: search.json"))
    model = build_network(spec)
    model.load_state_dict(weights)
    inputs, labels = _stack(splits.test)
    return model.eval(), inputs, labels


def _stack(split):
    import torch

    xs, ys = zip(*split.batches(1024))
    return torch.cat(xs).to(torch.float32), torch.cat(ys)


__all__ = ["DEFAULT_FACTORS", "load_model_and_test_data", "parse_factors", "time_invariance_text"]
