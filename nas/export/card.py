"""The content of a model's card (``card.json``): the scheme and its coefficients, diagnostics, the noise schedule,
metrics, the final evaluation and where the model came from, as JSON-ready values."""
from __future__ import annotations

import datetime
import math
from fractions import Fraction

import numpy as np
import pandas as pd

FORMAT = "nas.export/1"


def json_ready(value):
    """JSON-ready: numpy scalars to Python, NaN to None, Fractions to "p/q" strings, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, Fraction):
        return str(value)
    if value is None or isinstance(value, (str, int)):
        return value
    if value is pd.NA:
        return None
    return str(value)


def card_diagnostics(spec, model) -> dict:
    """The scheme's diagnostics report, the per-step table of the trained network, the noise's SDE terms."""
    from .. import diagnostics
    from ..diagnostics.stated_order import stated_order_text
    from ..networks.tying import time_invariance_text

    out = {"available": True,
           "time_invariance": {"tie": spec.tie, "norm": spec.norm, "time_invariant": spec.time_invariant,
                               "text": time_invariance_text(spec)}}
    try:
        report = diagnostics.analyze(spec.scheme)
    except (TypeError, ValueError) as exc:  # a family the diagnostics do not cover: say so in the card
        return {"available": False, "reason": str(exc), "time_invariance": out["time_invariance"]}
    out["report"] = report.to_dict()
    out["text"] = stated_order_text(report)  # the order line as nas diagnose and the leaderboard state it
    out["latex"] = report.to_latex()
    equation = getattr(report, "modified_equation", None)
    if equation is not None:
        out["modified_equation"] = {"text": equation.text(), "latex": equation.latex()}
    network = diagnostics.analyze_network(model)
    out["network"] = network.to_dict()
    out["network_text"] = str(network)
    if spec.noise is not None and spec.noise.kind != "none":
        noise = diagnostics.analyze(spec.noise, depth=spec.total_steps, h=spec.h)
        out["noise"] = noise.to_dict()
        out["noise_text"] = str(noise)
    return out


def card_noise(spec) -> dict | None:
    """The noise schedule, its total injected variance and its per-step SDE terms (None without noise)."""
    if spec.noise is None:
        return None
    steps = spec.total_steps
    return {"schedule": spec.noise.to_dict(), "text": str(spec.noise),
            "total_variance": spec.noise.total_variance(steps, spec.h),
            "per_step": spec.noise.sde_terms(steps, spec.h)}


def trial_card(record, run_dir, search, data, spec, model, test, *, params, flops, refinement=None) -> dict:
    """The card of an exported trial (or evaluated architecture): ``record`` from ``nas.export.selection``,
    ``test`` its test-split result, ``params`` and ``flops`` its size, ``refinement`` the rows of its depth
    refinement on the test split (tied networks; ``nas.refinement``)."""
    import torch

    from .. import __version__
    from ..families.registry import family_of

    metric_names = ("val_acc", "val_loss", "best_val_acc", "epochs_run", "wall_time", "status", "seed")
    search_metrics = {name: record.get(name) for name in metric_names}
    trial_metrics = record.get("trial_metrics")

    card = {
        "format": FORMAT,
        "title": f"{record['scheme_name']} (trial {record['trial_id']} of run {run_dir.name})" if not
        record.get("evaluation") else f"{record['scheme_name']} (rank {record['rank']} of run {run_dir.name}, final "
                                      f"evaluation, seed {record['seed']})",
        "trial_id": record["trial_id"],
        "rank": record["rank"],
        "baseline": bool(record.get("baseline", False)),
        "scheme": {
            "name": record["scheme_name"], "family": spec.scheme.family, "text": str(spec.scheme),
            "rows": family_of(spec.scheme).card_rows(spec.scheme),
            "coefficients": spec.scheme.to_dict(),
            "searched_coefficients": {k.removeprefix("coef_"): v for k, v in record.items()
                                      if k.startswith("coef_") and not _missing(v)},
            # depth = global scheme step, as in the leaderboard's learned-coefficient plot
            "per_step": [{"depth": row["stage"] * spec.steps_per_stage + row["step"], "stage": row["stage"],
                          "step": row["step"], **row} for row in model.coefficients()],
        },
        "diagnostics": card_diagnostics(spec, model),
        "noise": card_noise(spec),
        "refinement": None if refinement is None else [row.to_dict() for row in refinement],
        "metrics": {
            **search_metrics,
            "vs_resnet": record.get("vs_resnet"),
            "test_acc": test["acc"], "test_loss": test["loss"], "test_samples": len(data.test),
            "params": params, "flops_per_sample": flops,
            "search_params": record.get("params"), "search_flops": record.get("flops"),
        },
        "trial_metrics": trial_metrics,
        "evaluation": record.get("evaluation"),  # nas export --evaluated: the final evaluation's statistics
        "architecture": {**spec.to_dict(), "total_steps": spec.total_steps,
                         "input_shape": list(data.input_shape)},
        "data": {"name": data.name, "options": data.spec, "sizes": data.sizes(),
                 "input_shape": list(data.input_shape), "num_classes": data.num_classes},
        "search": {"run": run_dir.name, "run_dir": str(run_dir), "trial_dir": str(record["trial_path"]),
                   "config": search},
        "exported": {"at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     "nas": __version__, "torch": torch.__version__,
                     "dynamic_batch": "batch >= 1", "mode": "eval"},
    }
    return json_ready(card)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


__all__ = ["FORMAT", "json_ready", "card_diagnostics", "card_noise", "trial_card"]
