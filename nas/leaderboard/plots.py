"""The leaderboard's plots (PNG, matplotlib's object-oriented API, imported only when drawing): the metric
against each coefficient per family, the Pareto front, learned coefficients against depth, stability regions,
the optimisation history (the incumbent against trials and wall time) and the learning curves (validation
accuracy per epoch of every trial, those stopped early faded)."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_path, staged_files
from ..safe_load import read_json
from .analysis import check_columns, parse_objectives, pareto_front
from .coefficients import learned_coefficients, read_learned_coefficients, varying_coefficients
from .loading import METRIC, trial_folder


def _figure(width=6.4, height=4.8):
    # The object-oriented API with an Agg canvas: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path) -> Path:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110)
    return Path(path)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "unnamed"


def plot_coefficients(frame: pd.DataFrame, folder, metric: str = METRIC) -> list[Path]:
    """One PNG per family: ``metric`` against each varying coefficient (baselines as stars, ResNet line)."""
    varying: dict[str, list] = {}
    for family, column, pairs in varying_coefficients(frame, metric):
        varying.setdefault(family, []).append((column, pairs))
    paths = []
    resnet = frame[metric] - frame["vs_resnet"]
    resnet_level = resnet.dropna().max() if resnet.notna().any() else None
    for family, panels in varying.items():
        columns = min(3, len(panels))
        rows = math.ceil(len(panels) / columns)
        figure = _figure(max(5.5, 4.0 * columns), 3.4 * rows)
        axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
        group = frame[(frame["family"] == family) & frame["finished"]]
        for ax, (column, pairs) in zip(axes, panels):
            is_baseline = group.loc[pairs.index, "baseline"].astype(bool)
            # stopped early (by ASHA or the time budget): hollow markers, their values are from fewer epochs
            stopped = (group.loc[pairs.index, "status"] != "completed") & ~is_baseline
            full = ~is_baseline & ~stopped
            ax.scatter(pairs["value"][full], pairs["metric"][full], s=18, alpha=0.8, color="tab:blue",
                       label="searched")
            if stopped.any():
                ax.scatter(pairs["value"][stopped], pairs["metric"][stopped], s=18, alpha=0.8, facecolors="none",
                           edgecolors="tab:blue", label="searched, stopped early")
            if is_baseline.any():
                ax.scatter(pairs["value"][is_baseline], pairs["metric"][is_baseline], marker="*", s=120,
                           color="tab:red", label="baseline")
            if resnet_level is not None:
                ax.axhline(resnet_level, color="tab:gray", linestyle="--", linewidth=1, label="ResNet")
            ax.set_xlabel(column.removeprefix("coef_"))
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        axes[0].legend(fontsize="small")
        figure.suptitle(f"{family}: {metric} against each coefficient")
        paths.append(_save(figure, Path(folder) / f"coefficients_{_safe_name(family)}.png"))
    return paths


AXIS_NAMES = {"best_val_acc": "best validation accuracy", "val_acc": "final validation accuracy",
              "val_loss": "final validation loss", "params": "parameters", "flops": "FLOPs per sample",
              "wall_time": "training time (s)"}


def plot_pareto(frame: pd.DataFrame, path, objectives="best_val_acc,params") -> Path:
    """All finished trials and the Pareto front of two objectives (first on y, second on x)."""
    objectives = parse_objectives(objectives)
    (y_name, _), (x_name, _) = objectives[:2]
    check_columns(frame, [x_name, y_name], "pareto")
    done = frame[frame["finished"]].dropna(subset=[x_name, y_name])
    front = pareto_front(frame, objectives)
    figure = _figure()
    ax = figure.subplots()
    for index, (family, group) in enumerate(done.groupby("family")):
        color = f"C{index % 10}"
        stopped = group["status"] != "completed"  # stopped early: hollow markers (fewer epochs behind them)
        ax.scatter(group[x_name][~stopped], group[y_name][~stopped], s=18, alpha=0.7, color=color, label=family)
        if stopped.any():
            ax.scatter(group[x_name][stopped], group[y_name][stopped], s=18, alpha=0.7, facecolors="none",
                       edgecolors=color, label=f"{family} (stopped early)")
    baselines = done[done["baseline"].astype(bool)]
    if len(baselines):
        ax.scatter(baselines[x_name], baselines[y_name], marker="*", s=140, color="tab:red", label="baseline")
    if len(front):  # the front's points ringed, joined by the staircase of what each one dominates
        ordered = front.sort_values(x_name)
        ax.step(ordered[x_name], ordered[y_name], where="post", color="black", linewidth=1.2)
        ax.scatter(ordered[x_name], ordered[y_name], s=70, facecolors="none", edgecolors="black", linewidths=1.4,
                   label=f"Pareto front ({len(ordered)})", zorder=3)
    values = done[x_name].astype(float)
    spread = x_name in ("params", "flops") and len(values) and values.min() > 0 and values.max() > 10 * values.min()
    if spread:  # a log scale only when the sizes span more than a decade; else its ticks say nothing
        ax.set_xscale("log")
    else:
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}"))
    ax.set_xlabel(AXIS_NAMES.get(x_name, x_name) + (" (log scale)" if spread else ""))
    ax.set_ylabel(AXIS_NAMES.get(y_name, y_name))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(f"Pareto front: {AXIS_NAMES.get(y_name, y_name)} against {AXIS_NAMES.get(x_name, x_name)}")
    return _save(figure, path)


def plot_learned(frame: pd.DataFrame, path, top: int = 5) -> Path | None:
    """Learned coefficients (mean, and min–max band for per-channel ones) against depth for the top rows."""
    values = learned_coefficients(frame, top)
    if values.empty:
        return None
    figure = _figure()
    ax = figure.subplots()
    for (run, trial_id, name), group in values.groupby(["run", "trial_id", "name"], sort=False):
        label = f"{group['scheme_name'].iloc[0]} {trial_id} ({run}): {name}"
        line, = ax.plot(group["depth"], group["mean"], marker="o", label=label)
        if (group["max"] > group["min"]).any():
            ax.fill_between(group["depth"], group["min"], group["max"], color=line.get_color(), alpha=0.2)
    if "k" in set(values["name"]):
        ax.axhline(0.0, color="tab:gray", linestyle=":", linewidth=1, label="k = 0 (ResNet step)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("depth (scheme step)")
    ax.set_ylabel("learned coefficient")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    ax.set_title("Learned coefficients against depth")
    return _save(figure, path)


def _plottable_scheme(row):
    """The scheme of a row as something with a stability region (its family's ``stability_proxy``), or None.

    Learned coefficients are drawn at their mean over the network (read from the weights); reversible
    schemes have no linear stability region to draw.
    """
    from ..families.registry import family_of
    from ..schemes import from_dict

    text = row.get("scheme")
    if not isinstance(text, str):
        return None
    scheme = from_dict(json.loads(text))
    family = family_of(scheme)
    label = f"{row['scheme_name']} {row['trial_id']}"
    names = family.learned_coefficients(scheme)
    if not names:
        return family.stability_proxy(scheme, name=label)
    folder = trial_folder(row)
    if not (folder / "weights.safetensors").is_file():
        return None
    learned = read_learned_coefficients(folder)
    means = {name: learned.loc[learned["name"] == name, "mean"].mean() for name in names}
    if any(pd.isna(value) for value in means.values()):
        return None
    return family.stability_proxy(scheme, means, name=f"{label} (mean learned {', '.join(names)})")


def plot_stability(frame: pd.DataFrame, path, top: int = 5) -> Path | None:
    """Stability regions of the top finished trials' schemes overlaid (drawn by ``nas.diagnostics``)."""
    schemes, seen = [], set()
    for _, row in frame[frame["finished"]].iterrows():
        if len(schemes) >= top:
            break
        key = (row.get("scheme"), row["run_dir"], row["trial_id"])
        scheme = _plottable_scheme(row) if key not in seen else None
        seen.add(key)
        if scheme is not None:
            schemes.append(scheme)
    if not schemes:
        return None
    from ..diagnostics import plot_stability_regions  # lazy: sympy-heavy, only needed for this plot

    return Path(plot_stability_regions(schemes, path, title=f"Stability regions of the top {len(schemes)} schemes"))


def _trial_metrics(frame: pd.DataFrame) -> list[tuple[object, dict]]:
    """(row, metrics.json) of every finished trial whose folder holds a readable record, in ``frame``'s order."""
    out = []
    for _, row in frame[frame["finished"]].iterrows():
        try:
            out.append((row, read_json(trial_folder(row) / "metrics.json")))
        except (OSError, ValueError):
            continue  # a trial without its record (a copied run folder): left out of these two plots
    return out


def plot_history(frame: pd.DataFrame, path, metric: str = METRIC) -> Path | None:
    """The optimisation history: each finished trial's ``metric`` and the incumbent (best so far) against the
    order in which trials finished and, when the records have their times, against wall time."""
    trials = [(row, m) for row, m in _trial_metrics(frame) if pd.notna(row.get(metric))]
    if not trials:
        return None
    ended = [m.get("ended_at") for _, m in trials]
    timed = all(isinstance(t, (int, float)) for t in ended)
    if timed:
        trials = [trial for _, trial in sorted(zip(ended, trials), key=lambda pair: pair[0])]
    values = np.array([float(row[metric]) for row, _ in trials])
    best = np.maximum.accumulate(values) if descending_metric(metric) else np.minimum.accumulate(values)
    figure = _figure(10 if timed else 6.4, 4.2)
    axes = figure.subplots(1, 2 if timed else 1, squeeze=False)[0]
    order = np.arange(1, len(values) + 1)
    xs = [(axes[0], order, "trials finished")]
    if timed:
        start = min(m.get("started_at", e) for (_, m), e in zip(trials, sorted(ended)))
        xs.append((axes[1], np.array(sorted(ended)) - start, "wall time since the first trial started (s)"))
    baseline = np.array([bool(row.get("baseline", False)) for row, _ in trials])
    for ax, x, label in xs:
        ax.scatter(x[~baseline], values[~baseline], s=12, alpha=0.5, color="tab:blue", label="trial")
        if baseline.any():
            ax.scatter(x[baseline], values[baseline], marker="*", s=90, color="tab:red", label="baseline")
        ax.step(x, best, where="post", color="black", linewidth=1.4, label="incumbent (best so far)")
        ax.set_xlabel(label)
        ax.set_ylabel(AXIS_NAMES.get(metric, metric))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small", loc="lower right")
    figure.suptitle(f"Optimisation history ({len(values)} finished trials)")
    return _save(figure, path)


def descending_metric(metric: str) -> bool:
    from .analysis import descending

    return descending(metric)


def plot_learning_curves(frame: pd.DataFrame, path, metric: str = "val_acc") -> Path | None:
    """Validation accuracy per epoch of every finished trial (its ``history``): trials that ran the full budget in
    colour, those stopped early (ASHA) faded, baselines dashed."""
    trials = [(row, m) for row, m in _trial_metrics(frame) if m.get("history")]
    if not trials:
        return None
    figure = _figure(7, 4.5)
    ax = figure.subplots()
    labelled = set()
    for row, metrics in trials:
        epochs = [h.get("epoch") for h in metrics["history"]]
        values = [h.get(metric) for h in metrics["history"]]
        completed = row.get("status") == "completed"
        kind = "baseline" if bool(row.get("baseline", False)) else ("full budget" if completed else "stopped early")
        style = {"baseline": dict(color="tab:red", linestyle="--", alpha=0.9, linewidth=1.2),
                 "full budget": dict(color="tab:blue", alpha=0.6, linewidth=1.0),
                 "stopped early": dict(color="gray", alpha=0.25, linewidth=0.8)}[kind]
        ax.plot(epochs, values, label=None if kind in labelled else kind, **style)
        labelled.add(kind)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    ax.set_title(f"Learning curves ({len(trials)} finished trials)")
    return _save(figure, path)


def write_plots(frame: pd.DataFrame, folder, *, objectives="best_val_acc,params", top: int = 5,
                metric: str = METRIC, every_trial: pd.DataFrame | None = None) -> list[Path]:
    """Every leaderboard plot as PNG in ``folder``; ``frame`` should be sorted (the top rows are "best").
    ``every_trial``: the runs' trials at every budget (default ``frame``), for the history and learning curves,
    which show the trials stopped early too.

    All plots are drawn into a staging folder beside ``folder`` first and moved in only when every one
    succeeded: a failure (a corrupt weights file, say) leaves ``folder`` as it was, or absent.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"plots: {folder} exists and is not a folder")
    parse_objectives(objectives)
    with staged_files(folder) as staging:
        paths = plot_coefficients(frame, staging, metric)
        paths.append(plot_pareto(frame, staging / "pareto.png", objectives))
        for plot, name in ((plot_learned, "learned_coefficients.png"), (plot_stability, "stability_regions.png")):
            written = plot(frame, staging / name, top)
            if written is not None:
                paths.append(written)
        for plot, name in ((plot_history, "history.png"), (plot_learning_curves, "learning_curves.png")):
            written = plot(frame if every_trial is None else every_trial, staging / name)
            if written is not None:
                paths.append(written)
    return [folder / path.name for path in paths]


__all__ = ["plot_coefficients", "plot_history", "plot_learning_curves", "plot_pareto", "plot_learned",
           "plot_stability", "write_plots"]
