"""Test helper: search-run folders with the layout ``nas.search`` writes (results/<name>/), built by
training tiny networks for one epoch on a small MNIST-1D, so export and leaderboard tests need no Ray.

Layout (the contract of issue 6): ``search.json``, ``trials.csv`` and, per trial,
``trials/<trial_id>/{spec.json, train_config.json, weights.safetensors, metrics.json}``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from safetensors.torch import save_file

from nas.data import load_dataset
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.networks.tying import unshared_state
from nas.schemes import ButcherTableau, LinearMultistep, LMResNet, info
from nas.train import TrainConfig, fit, seeded

# Small enough to train in well under a second per trial; the test split has 50 samples.
DATA = {"name": "mnist1d", "seed": 0, "num_samples": 200}
ARCH = {"macro": "sequence", "widths": (4, 8), "steps_per_stage": 2}


def coefficient_columns(scheme) -> dict:
    """One ``coef_*`` value per coefficient, as the search's trials.csv has them."""
    out = {}
    if isinstance(scheme, ButcherTableau):
        for i, row in enumerate(scheme.A):
            for j in range(i):
                out[f"coef_A_{i}_{j}"] = float(row[j])
        out.update({f"coef_b_{i}": float(v) for i, v in enumerate(scheme.b)})
    elif isinstance(scheme, LinearMultistep):
        out.update({f"coef_alpha_{j}": float(v) for j, v in enumerate(scheme.alpha)})
        out.update({f"coef_beta_{j}": float(v) for j, v in enumerate(scheme.beta)})
    elif isinstance(scheme, LMResNet):
        out["coef_k"] = float("nan") if scheme.k is None else float(scheme.k)
    return out


def _order(scheme):
    try:
        return info(scheme.name).order
    except ValueError:
        return None


def make_run(root, name: str, trials: list[dict], *, data: dict = DATA, epochs: int = 1) -> Path:
    """Write ``root/name`` with one trial per entry of ``trials``.

    An entry: ``scheme`` (name, object or dict) plus optional ``status`` (default completed; ``error``
    trials get no weights), ``baseline``, ``seed``, ``noise`` and any ``NetworkSpec`` field.
    """
    run_dir = Path(root) / name
    (run_dir / "trials").mkdir(parents=True)
    splits = load_dataset(**data)
    train = TrainConfig(epochs=epochs, batch_size=64, lr=0.05, device="cpu", augment=False)
    search = {"name": name, "data": dict(data), "train": train.to_dict(), "seed": data["seed"],
              "objectives": ["val_acc", "params"]}
    (run_dir / "search.json").write_text(json.dumps(search, indent=2))
    rows = []
    for index, entry in enumerate(trials):
        entry = dict(entry)
        status = entry.pop("status", "completed")
        baseline = entry.pop("baseline", False)
        seed = entry.pop("seed", index)
        spec = NetworkSpec(**{**ARCH, "in_channels": splits.in_channels, "num_classes": splits.num_classes,
                              **entry})
        trial_id = f"{name}_{index:05d}"
        trial_dir = run_dir / "trials" / trial_id
        trial_dir.mkdir()
        (trial_dir / "spec.json").write_text(json.dumps(spec.to_dict()))
        config = train.replace(seed=seed)
        (trial_dir / "train_config.json").write_text(json.dumps(config.to_dict()))
        with seeded(seed):
            model = build_network(spec)
        result = None
        if status != "error":
            result = fit(model, splits, config)
            save_file(unshared_state(model),
                      str(trial_dir / "weights.safetensors"))
        metrics = {"trial_id": trial_id, "run": name, "status": status}  # a trial record (nas.search.trial_record)
        if result is not None:
            metrics.update(final={"val_acc": result.final_val_acc, "val_loss": result.final_val_loss},
                           best={"val_acc": result.best_val_acc, "val_loss": result.best_val_loss,
                                 "epoch": result.best_epoch})
        (trial_dir / "metrics.json").write_text(json.dumps(metrics))
        noise = spec.noise
        rows.append({
            "trial_id": trial_id, "run": name, "family": spec.scheme.family, "scheme_name": spec.scheme.name,
            "scheme": json.dumps(spec.scheme.to_dict()), **coefficient_columns(spec.scheme),
            "noise_kind": "none" if noise is None else noise.kind,
            "noise_shape": None if noise is None else noise.shape,
            "noise_param": None if noise is None or noise.kind == "none" else noise.step_value(0, 1),
            "macro": spec.macro, "widths": json.dumps(list(spec.widths)), "steps_per_stage": spec.steps_per_stage,
            "h": spec.h, "share_stage_weights": spec.share_stage_weights, "tie": spec.tie, "norm": spec.norm,
            "status": status,
            "val_acc": None if result is None else result.final_val_acc,
            "val_loss": None if result is None else result.final_val_loss,
            "best_val_acc": None if result is None else result.best_val_acc,
            "params": sum(p.numel() for p in model.parameters()),
            "flops": None if result is None else result.flops, "epochs_run": 0 if result is None else result.epochs_run,
            "wall_time": 0.0 if result is None else result.train_time, "order": _order(spec.scheme),
            "zero_stable": True, "error_constant": None, "error_norm": None, "real_stability_interval": None,
            "feasible": True, "baseline": baseline, "seed": seed, "trial_dir": f"trials/{trial_id}",
        })
    pd.DataFrame(rows).to_csv(run_dir / "trials.csv", index=False)
    return run_dir


def set_metric(run_dir: Path, trial_id: str, **values) -> None:
    """Overwrite cells of trials.csv (tests that need a known ranking)."""
    path = Path(run_dir) / "trials.csv"
    frame = pd.read_csv(path, dtype={"trial_id": str})
    for column, value in values.items():
        frame.loc[frame["trial_id"] == trial_id, column] = value
    frame.to_csv(path, index=False)


__all__ = ["make_run", "set_metric", "coefficient_columns", "DATA", "ARCH"]
