"""Export the best trials of a search as standard PyTorch models, each with a diagnostics card.

For every chosen trial (ranked by ``best_val_acc`` among finished trials), from its best-validation weights:

- ``model.pt2``           a ``torch.export`` program in eval mode with a dynamic batch dimension; it loads
                          with ``torch.export.load(path).module()`` in a process without ``nas`` installed;
- ``weights.safetensors`` the state dict, and ``spec.json`` the ``NetworkSpec``: ``nas.load(folder)``
                          rebuilds the trainable ``nn.Module`` (nanoGPT's "config beside the weights");
- ``card.json``/``card.md`` the scheme with every coefficient (learned per-step values included), its
                          diagnostics and modified equation, the noise schedule, the metrics (validation from
                          the search, test accuracy computed once here: the search never touches the test
                          split), params, FLOPs, the data set and the search it came from;
- ``stability.png``       the scheme's region of absolute stability (one region per learned step for a
                          learned LM-ResNet; none for families without a linear stability region);
- ``coefficients.png``    learned coefficients against depth (learned LM-ResNet).

Layout: ``export_run`` writes ``OUT/index.json`` (ranked list) and one folder ``OUT/<trial_id>/`` per
trial; ``export_trial`` writes one model folder. Both build everything in a temporary folder beside the
target and rename it into place (``nas.atomic``), so an interrupted export leaves no half-written folder.
Every input is checked before anything is written: ``read_model`` reads a trial or export folder without
running code (JSON and safetensors only, ``nas.safe_load``), never leaves the folder it was given
(``nas.paths.contained``), and checks the weights against the spec and the spec against the budgets on
torch's meta device before anything is built.
"""
from __future__ import annotations

import datetime
import json
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from . import leaderboard
from .checks import is_int, is_number, positive_int
from .atomic import atomic_directory
from .messages import one_line, quote
from .paths import check_output_folder, contained, is_within
from .safe_load import read_json, read_weights

FORMAT = "nas.export/1"
MODEL_FILES = ("model.pt2", "weights.safetensors", "spec.json", "card.json", "card.md")
EXAMPLE_BATCH = 2  # torch.export specialises a dimension of size 1: trace with 2, allow 1 and up
EXPORT_TOLERANCE = 1e-5  # max |exported − eager| accepted by the self-check


# ------------------------------------------------------------------------------------------- choosing
def select_trials(run, *, top: int | None = 1, trial: str | None = None,
                  results_root=leaderboard.DEFAULT_RESULTS_ROOT):
    """(run folder, rows to export in rank order) — every problem is a ``ValueError`` raised here, first."""
    if trial is not None and top not in (None, 1):
        raise ValueError("choose either --top K or --trial ID, not both")
    if trial is None:
        positive_int(top, "top")
    run_dir = leaderboard.resolve_run(run, results_root)
    frame = leaderboard.load([run_dir])
    leaderboard.check_runs_have_finished_trials(frame)
    ranked = leaderboard.sort_trials(leaderboard.finished_trials(frame))
    if trial is not None:
        rows = frame[frame["trial_id"] == str(trial)]
        if rows.empty:
            known = ", ".join(ranked["trial_id"].head(10))
            raise ValueError(f"trial: no trial {trial!r} in run {run_dir.name}; finished trials (best first): {known}")
        if not rows["finished"].iloc[0]:
            raise ValueError(f"trial {trial!r}: status {rows['status'].iloc[0]}; only finished trials "
                             f"({', '.join(leaderboard.FINISHED_STATUSES)}) have weights to export")
        chosen = rows
    else:
        chosen = ranked.head(top)
    records = []
    for _, row in chosen.iterrows():
        folder = leaderboard.trial_folder(row)
        what = f"trial {row['trial_id']!r} ({folder})"
        spec, weights = read_model(folder, what)
        rank = int((ranked["trial_id"] == row["trial_id"]).to_numpy().argmax()) + 1
        records.append(dict(row, rank=rank, trial_path=str(folder), spec=spec, weights=weights,
                            trial_metrics=_optional_json(folder, "metrics.json", what),
                            eval_batch_size=_eval_batch_size(_optional_json(folder, "train_config.json", what))))
    return run_dir, records


def read_model(folder, what: str, *, device="cpu"):
    """``(NetworkSpec, state dict)`` of a model folder (a trial folder or an export), read safely.

    ``spec.json`` and ``weights.safetensors`` must lie inside ``folder``; the JSON and the safetensors are
    read without running code; the spec is checked against the budgets and the weights against the spec
    on the meta device, so nothing is allocated for a bad folder. Every problem is a ``ValueError`` naming
    ``what`` (this is the reader ``nas.load`` and ``nas export`` share).
    """
    from .networks import spec_from_dict
    from .networks.estimate import check_state_dict

    folder = Path(folder)
    spec_path = contained(folder, "spec.json", f"{what}: spec.json")
    data = read_json(spec_path, f"{what}: spec.json")
    try:
        spec = spec_from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{what}: spec.json: {one_line(exc)}") from None
    weights = read_weights(contained(folder, "weights.safetensors", f"{what}: weights.safetensors"),
                           f"{what}: weights.safetensors", device=str(device))
    check_state_dict(spec, weights, what)
    return spec, weights


def _optional_json(folder: Path, name: str, what: str) -> dict | None:
    path = contained(folder, name, f"{what}: {name}")
    return read_json(path, f"{what}: {name}") if path.is_file() else None


def dataset_options(search: dict) -> dict:
    """Arguments of ``nas.data.load_dataset`` that rebuild the run's data (``search.json`` key ``data``)."""
    data = search.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ValueError("search.json: no data set recorded (expected key 'data' with a 'name'); "
                         "cannot compute the test accuracy")
    options = dict(data)
    options.setdefault("seed", search.get("seed", 0))
    return options


def _check_target(out, replace: bool) -> Path:
    out = Path(out)
    if out.exists() and not replace:
        raise ValueError(f"out: {out} already exists (pass --force to replace it)")
    return check_output_folder(out, "out")


def _check_not_the_run(out: Path, run_dir: Path) -> None:
    if is_within(run_dir, out):
        raise ValueError(f"out: {out} holds the run folder {run_dir}; exporting there would replace the run")


# ------------------------------------------------------------------------------------------- exporting
def export_run(run, out, *, top: int | None = 1, trial: str | None = None, replace: bool = False,
               results_root=leaderboard.DEFAULT_RESULTS_ROOT, data=None) -> list[Path]:
    """Export the ``top`` best finished trials of ``run`` (or the one ``trial``) into ``out``.

    Returns the model folders (``out/<trial_id>``) in rank order; ``out/index.json`` lists them.
    ``data`` (a ``nas.data.DataSplits``) skips rebuilding the run's data set.
    """
    out = _check_target(out, replace)
    run_dir, records = select_trials(run, top=top, trial=trial, results_root=results_root)
    _check_not_the_run(out, run_dir)
    search = leaderboard.read_search_config(run_dir)
    data = _load_data(search) if data is None else data
    folders = {_folder_name(r["trial_id"]): r for r in records}
    with atomic_directory(out, replace=replace) as staging:
        index = []
        for name, record in folders.items():
            card = _export_into(staging / name, record, run_dir, search, data)
            index.append({"rank": record["rank"], "trial_id": record["trial_id"], "folder": name,
                          "scheme_name": record["scheme_name"], "family": record["family"],
                          "best_val_acc": card["metrics"]["best_val_acc"], "test_acc": card["metrics"]["test_acc"]})
        _write_json(staging / "index.json", {"format": FORMAT, "run": run_dir.name, "run_dir": str(run_dir),
                                             "models": index})
    return [out / name for name in folders]


def export_trial(run, trial_id: str, out, *, replace: bool = False,
                 results_root=leaderboard.DEFAULT_RESULTS_ROOT, data=None) -> Path:
    """Export one trial of ``run`` as the model folder ``out``."""
    out = _check_target(out, replace)
    run_dir, (record,) = select_trials(run, trial=trial_id, top=None, results_root=results_root)
    _check_not_the_run(out, run_dir)
    search = leaderboard.read_search_config(run_dir)
    data = _load_data(search) if data is None else data
    with atomic_directory(out, replace=replace) as staging:
        _export_into(staging, record, run_dir, search, data)
    return out


def select_evaluated(run, rank: int = 1, *, results_root=leaderboard.DEFAULT_RESULTS_ROOT):
    """(run folder, record) of the searched architecture of search rank ``rank`` in the run's final evaluation
    (``nas evaluate``): its seed with the median test accuracy (the lower middle one for an even number of
    seeds, ties to the lower seed), read from ``evaluation/<job_dir>`` like a trial folder."""
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"--rank: must be a positive integer, got {rank!r}")
    run_dir = leaderboard.resolve_run(run, results_root)
    path = run_dir / "evaluation.json"
    if not path.is_file():
        raise ValueError(f"--evaluated: run {run_dir.name} has no evaluation.json; run nas evaluate "
                         f"{run_dir.name} first")
    document = read_json(path, f"--evaluated: {path}")
    entries = [e for e in document.get("architectures") or [] if isinstance(e, dict) and e.get("role") == "searched"]
    entry = next((e for e in entries if e.get("search_rank") == rank), None)
    if entry is None:
        known = ", ".join(str(e.get("search_rank")) for e in entries) or "none"
        raise ValueError(f"--rank: run {run_dir.name} has no evaluated architecture of rank {rank} "
                         f"(evaluated ranks: {known})")
    try:
        rows = pd.read_csv(run_dir / "evaluation.csv", dtype={"architecture_id": str, "job_dir": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"--evaluated: cannot read {run_dir / 'evaluation.csv'} ({one_line(exc)})") from None
    done = rows[(rows["architecture_id"] == entry.get("architecture_id")) & (rows["status"] == "completed")]
    done = done.assign(test_acc=pd.to_numeric(done["test_acc"], errors="coerce")).dropna(subset=["test_acc"])
    if done.empty:
        raise ValueError(f"--rank {rank}: architecture {entry.get('label')} has no completed seed to export")
    ordered = done.sort_values(["test_acc", "seed"], kind="stable")
    row = ordered.iloc[(len(ordered) - 1) // 2]
    folder = contained(run_dir / "evaluation", str(row["job_dir"]), f"--evaluated: job_dir {row['job_dir']!r}")
    what = f"evaluated {entry.get('label')} seed {row['seed']} ({folder})"
    spec, weights = read_model(folder, what)
    metrics = _optional_json(folder, "metrics.json", what) or {}
    record = {"trial_id": folder.name, "scheme_name": entry.get("scheme_name") or str(spec.scheme),
              "family": spec.scheme.family, "rank": rank, "baseline": False, "trial_path": str(folder),
              "spec": spec, "weights": weights, "trial_metrics": metrics,
              "eval_batch_size": _eval_batch_size(_optional_json(folder, "train_config.json", what)),
              "val_acc": row.get("final_val_acc"), "best_val_acc": row.get("best_val_acc"),
              "epochs_run": row.get("epochs_run"), "wall_time": row.get("train_time"), "status": row["status"],
              "seed": int(row["seed"]),
              "evaluation": {"label": entry.get("label"), "architecture_id": entry.get("architecture_id"),
                             "source_trial_id": entry.get("source_trial_id"), "seed": int(row["seed"]),
                             "seed_test_acc": float(row["test_acc"]), "seeds": entry.get("seeds"),
                             "test_acc": entry.get("test_acc"), "vs_resnet": entry.get("vs_resnet"),
                             "resnet": document.get("resnet"), "epochs": document.get("epochs"),
                             "complete": document.get("complete")}}
    return run_dir, record


def export_evaluated(run, out, *, rank: int = 1, replace: bool = False,
                     results_root=leaderboard.DEFAULT_RESULTS_ROOT, data=None) -> Path:
    """Export the evaluated architecture of search rank ``rank`` (its median-test-accuracy seed) as the model
    folder ``out``; its card reports the test mean ± std over the seeds and the interval of the difference
    against the plain ResNet."""
    out = _check_target(out, replace)
    run_dir, record = select_evaluated(run, rank, results_root=results_root)
    _check_not_the_run(out, run_dir)
    search = leaderboard.read_search_config(run_dir)
    data = _load_data(search) if data is None else data
    with atomic_directory(out, replace=replace) as staging:
        _export_into(staging, record, run_dir, search, data)
    return out


def _folder_name(trial_id) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(trial_id)).strip("._") or "trial"


def _load_data(search: dict):
    from .data import load_dataset

    return load_dataset(**dataset_options(search))


def _export_into(folder: Path, record: dict, run_dir: Path, search: dict, data) -> dict:
    """Write one model folder (``folder`` is inside a staging folder that is renamed later)."""
    import torch
    from safetensors.torch import save_file

    from .networks import build_network
    from .train import count_parameters, evaluate, forward_flops

    spec = record["spec"]
    _check_data_matches(spec, data, record["trial_id"])
    model = build_network(spec)
    model.load_state_dict(record["weights"])  # names and shapes checked by read_model
    model.eval()  # baked into the exported graph (batch-norm statistics, noise expectations)

    example = next(iter(data.test.batches(EXAMPLE_BATCH)))[0].to(torch.float32)
    program = _export_program(model, example, record["trial_id"])
    folder.mkdir(parents=True, exist_ok=True)  # export_trial writes into the staging folder itself
    torch.export.save(program, str(folder / "model.pt2"))
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(folder / "weights.safetensors"),
              metadata={"format": FORMAT, "trial_id": str(record["trial_id"]), "run": run_dir.name})
    _write_json(folder / "spec.json", spec.to_dict())
    (folder / "weights.safetensors").chmod(0o644)  # safetensors creates 0600; the export is meant to be shared

    test = evaluate(model, data.test, record["eval_batch_size"])
    searched = record.get("flops")  # counted once by the trial for this architecture; counted here only if absent
    flops = int(searched) if is_number(searched) and searched > 0 else forward_flops(model, example)
    card = _card(record, run_dir, search, data, spec, model, test, params=count_parameters(model), flops=flops)
    card["files"] = sorted([*MODEL_FILES, *_plots(spec, model, card["scheme"]["per_step"], folder)])
    _write_json(folder / "card.json", card)
    (folder / "card.md").write_text(_card_markdown(card), encoding="utf-8")
    return card


def _check_data_matches(spec, data, trial_id) -> None:
    if spec.num_classes != data.num_classes or spec.in_channels != data.in_channels:
        raise ValueError(f"trial {trial_id!r}: spec.json expects {spec.in_channels} input channels and "
                         f"{spec.num_classes} classes, the run's data set {data.name} has {data.in_channels} "
                         f"and {data.num_classes}")


def _eval_batch_size(train_config: dict | None) -> int:
    value = (train_config or {}).get("eval_batch_size")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1024


def random_ops(program) -> list[str]:
    """Names of the random operators in an exported program (torch tags them ``nondeterministic_seeded``)."""
    import torch

    found = []
    for node in program.graph.nodes:
        tags = getattr(node.target, "tags", ()) if node.op == "call_function" else ()
        if torch.Tag.nondeterministic_seeded in tags:
            found.append(str(node.target))
    return sorted(set(found))


def _export_program(model, example, trial_id):
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


def load(path, *, device="cpu"):
    """Rebuild the trainable ``nn.Module`` of an export: ``build_network(spec.json)`` + its weights.

    ``path`` is a model folder (holding ``spec.json``) or an ``export_run`` folder, local or a storage URI
    (``s3://bucket/prefix/export``, ``nas.storage``), (its rank-1 model, the
    ``folder`` of ``index.json``, which must lie inside ``path``). Nothing read runs code and a spec beyond
    the budgets is refused before anything is allocated (``read_model``).
    The model is returned in eval mode, like a model meant for inference; call ``.train()`` to train on.
    """
    from .storage import Location, is_uri

    if is_uri(str(path)):  # an export in an object store: read a local copy of it
        import tempfile

        with tempfile.TemporaryDirectory(prefix="nas-load-") as local:
            try:
                copy = Location.from_uri(str(path), "load").download(Path(local) / "export")
            except OSError as exc:
                raise ValueError(f"load: cannot read {path}: {exc}") from None
            if not copy.is_dir():
                raise ValueError(f"load: {path} is not an export (nothing there)")
            return load(copy, device=device)
    from .networks import build_network

    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"load: {folder} is not a folder")
    if not (folder / "spec.json").exists():
        index_path = folder / "index.json"
        if not index_path.is_file():
            raise ValueError(f"load: {folder} is not an export (no spec.json or index.json)")
        best = min(_index_models(read_json(index_path, f"load: {index_path}"), index_path), key=lambda m: m["rank"])
        folder = contained(folder, best["folder"], f"load: {index_path}: models[rank {best['rank']}].folder")
    spec, weights = read_model(folder, f"load: {folder}", device=device)
    model = build_network(spec)
    model.load_state_dict(weights)
    return model.to(device).eval()


def _index_models(index: dict, path) -> list[dict]:
    """The ``models`` of an ``index.json``: a non-empty list of objects with an integer rank and a folder."""
    models = index.get("models")
    if not isinstance(models, list) or not models:
        raise ValueError(f"load: {path} lists no model (expected a non-empty list 'models')")
    for i, model in enumerate(models):
        if not isinstance(model, dict):
            raise ValueError(f"load: {path}: models[{i}] is not an object")
        rank, folder = model.get("rank"), model.get("folder")
        if not is_int(rank):
            raise ValueError(f"load: {path}: models[{i}] has no integer 'rank' (got {quote(rank)})")
        if not isinstance(folder, str) or not folder:
            raise ValueError(f"load: {path}: models[{i}] has no 'folder' (got {quote(folder)})")
    return models


# ------------------------------------------------------------------------------------------------ card
def _plain(value):
    """JSON-ready: numpy scalars to Python, NaN to None, Fractions to "p/q" strings, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
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


def _diagnostics(spec, model) -> dict:
    """The scheme's diagnostics report, the per-step table of the trained network, the noise's SDE terms."""
    from . import diagnostics

    out = {"available": True}
    try:
        report = diagnostics.analyze(spec.scheme)
    except (TypeError, ValueError) as exc:  # a family the diagnostics do not cover: say so in the card
        return {"available": False, "reason": str(exc)}
    out["report"] = report.to_dict()
    out["text"] = str(report)
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


def _noise(spec) -> dict | None:
    if spec.noise is None:
        return None
    steps = spec.total_steps
    return {"schedule": spec.noise.to_dict(), "text": str(spec.noise),
            "total_variance": spec.noise.total_variance(steps, spec.h),
            "per_step": spec.noise.sde_terms(steps, spec.h)}


MAX_REGIONS = 6  # learned per-step coefficients: at most this many regions overlaid in one plot


def stability_schemes(scheme, per_step: list[dict]) -> list:
    """The schemes whose stability regions describe a trained network (the family's ``stability_proxy``).

    A fixed scheme stands for itself; a scheme with learned coefficients gives one scheme per learned step
    (its per-channel mean), at most ``MAX_REGIONS`` of them spread over depth. Families without a linear
    stability region (reversible schemes) give none.
    """
    from .families.registry import family_of

    family = family_of(scheme)
    names = family.learned_coefficients(scheme)
    if not names:
        proxy = family.stability_proxy(scheme)
        return [] if proxy is None else [proxy]
    learned = [row for row in per_step if all(row.get(name) is not None for name in names)]
    if len(learned) > MAX_REGIONS:
        learned = [learned[round(i * (len(learned) - 1) / (MAX_REGIONS - 1))] for i in range(MAX_REGIONS)]
    proxies = [family.stability_proxy(scheme, {name: row[name] for name in names},
                                      name=f"step {row['depth']}: {scheme.name}") for row in learned]
    return [proxy for proxy in proxies if proxy is not None]


def _plots(spec, model, per_step, folder: Path) -> list[str]:
    """``stability.png`` (regions of the scheme, or of each learned step) and ``coefficients.png``
    (learned coefficients against depth) when they apply; returns the file names written."""
    from . import diagnostics

    written = []
    schemes = stability_schemes(spec.scheme, per_step)
    if schemes:
        diagnostics.plot_stability_regions(schemes, folder / "stability.png",
                                           title=f"Stability region: {spec.scheme}")
        written.append("stability.png")
    if any(row.get("k") is not None for row in per_step) and getattr(spec.scheme, "learned", False):
        diagnostics.plot_coefficients(model, folder / "coefficients.png")
        written.append("coefficients.png")
    return written


def _card(record, run_dir, search, data, spec, model, test, *, params, flops) -> dict:
    import torch

    from . import __version__

    metric_names = ("val_acc", "val_loss", "best_val_acc", "epochs_run", "wall_time", "status", "seed")
    search_metrics = {name: record.get(name) for name in metric_names}
    trial_metrics = record.get("trial_metrics")
    from .families.registry import family_of

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
        "diagnostics": _diagnostics(spec, model),
        "noise": _noise(spec),
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
    return _plain(card)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value, digits=4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _card_markdown(card: dict) -> str:
    """The human-readable card (GitHub Markdown, LaTeX between $$ for the modified equation)."""
    m, scheme, arch, data = card["metrics"], card["scheme"], card["architecture"], card["data"]
    shape = ", ".join(str(s) for s in arch["input_shape"])
    lines = [f"# {card['title']}", ""]
    vs = m.get("vs_resnet")
    versus = "" if vs is None else f" ({vs:+.4f} vs the ResNet baseline of the same search)"
    lines += [f"Best validation accuracy {_number(m['best_val_acc'])}{versus}; test accuracy "
              f"{_number(m['test_acc'])} on {m['test_samples']} test samples (computed once, at export); "
              f"{_number(m['params'])} parameters; {_number(m['flops_per_sample'])} FLOPs per sample.", ""]
    lines += _evaluation_markdown(card.get("evaluation"))
    lines += ["## Use", "", "```python", "import torch", "",
              "model = torch.export.load(\"model.pt2\").module()   # no nas needed; eval mode, any batch size",
              f"logits = model(x)                                 # x: float32 (batch, {shape}), normalised like nas.data",
              "", "import nas", "net = nas.load(\".\")    # the trainable nn.Module (eval mode; .train() to go on)",
              "```", ""]
    lines += ["## Scheme", "", f"- family: `{scheme['family']}`", f"- scheme: `{scheme['text']}`",
              *(f"- {label}: {text}" for label, text in scheme.get("rows", {}).items()),
              f"- coefficients (exact): `{json.dumps(scheme['coefficients'])}`"]
    if scheme["searched_coefficients"]:
        lines.append("- searched coefficients: " + ", ".join(
            f"`{k}` = {v:.6g}" if isinstance(v, float) else f"`{k}` = {v}"
            for k, v in scheme["searched_coefficients"].items()))
    lines += ["", "### Coefficients per step (learned values included)", "",
              _markdown_table(scheme["per_step"]), ""]
    diagnostics = card["diagnostics"]
    lines += ["## Diagnostics", ""]
    if diagnostics.get("available"):
        equation = diagnostics.get("modified_equation")
        if equation:
            lines += ["Modified equation:", "", f"$$ {equation['latex']} $$", ""]
        lines += ["```", diagnostics["text"], "```", ""]
        if "stability.png" in card.get("files", []):
            lines += ["![stability region](stability.png)", ""]
        else:
            lines += [f"No stability-region plot: the {scheme['family']} family has no linear stability region "
                      "of the form |R(hλ)| ≤ 1 to draw; its stability conditions are in the report above.", ""]
        if "coefficients.png" in card.get("files", []):
            lines += ["![learned coefficients against depth](coefficients.png)", ""]
        if diagnostics.get("network_text"):
            lines += ["Per-step table of the trained network:", "", "```", diagnostics["network_text"], "```", ""]
        if diagnostics.get("noise_text"):
            lines += ["Noise schedule as an SDE:", "", "```", diagnostics["noise_text"], "```", ""]
    else:
        lines += [f"Not available: {diagnostics.get('reason')}", ""]
    noise = card["noise"]
    lines += ["## Noise schedule", ""]
    if noise is None or noise["schedule"]["kind"] == "none":
        lines += ["None (deterministic training).", ""]
    else:
        lines += [f"`{noise['text']}`; total injected variance {noise['total_variance']:.4g} "
                  "(Σ h² Var η_n, Sun, Tao, Du 2018). The exported program uses the eval-mode step "
                  "(the expectation), so it is deterministic.", "",
                  _markdown_table(noise["per_step"]), ""]
    metric_rows = [{"metric": k, "value": _number(v)} for k, v in m.items()]
    lines += ["## Metrics", "", _markdown_table(metric_rows), ""]
    lines += ["## Data set", "", f"`{data['name']}`, sizes {data['sizes']}, options `{json.dumps(data['options'])}`",
              ""]
    arch_rows = [{"field": k, "value": json.dumps(v) if isinstance(v, (dict, list)) else v}
                 for k, v in arch.items() if k not in ("scheme", "noise")]
    lines += ["## Architecture", "", _markdown_table(arch_rows), ""]
    search = card["search"]
    lines += ["## Provenance", "", f"- search run `{search['run']}` ({search['run_dir']})",
              f"- trial folder `{search['trial_dir']}`, rank {card['rank']} by best validation accuracy",
              f"- exported {card['exported']['at']} with nas {card['exported']['nas']}, torch "
              f"{card['exported']['torch']}", ""]
    return "\n".join(lines)


def _evaluation_markdown(evaluation: dict | None) -> list[str]:
    """The card's "Final evaluation" section (``nas export --evaluated``)."""
    if not evaluation:
        return []
    test, vs = evaluation.get("test_acc") or {}, evaluation.get("vs_resnet") or {}
    spread = "" if test.get("std") is None else f" ± {test['std']:.4f}"
    lines = ["## Final evaluation", "",
             f"Test accuracy {_number(test.get('mean'))}{spread} (mean ± std, ddof 1) over n = {test.get('n')} seeds "
             f"{evaluation.get('seeds')}, each trained from scratch for {evaluation.get('epochs')} epochs "
             f"(`nas evaluate`; min {_number(test.get('min'))}, max {_number(test.get('max'))}). This model is seed "
             f"{evaluation.get('seed')}, the median ({_number(evaluation.get('seed_test_acc'))}).", ""]
    resnet = evaluation.get("resnet") or {}
    if vs.get("ci_low") is not None:
        lines += [f"Against the plain ResNet ({resnet.get('label')}: {resnet.get('source')}): paired difference "
                  f"{vs['mean']:+.4f}, 95% confidence interval [{vs['ci_low']:+.4f}, {vs['ci_high']:+.4f}] "
                  f"(Student's t over n = {vs['n']} seeds).", ""]
    else:
        lines += ["No interval of the difference against the plain ResNet (fewer than two paired seeds).", ""]
    if not evaluation.get("complete", True):
        lines += ["The evaluation is incomplete: some (architecture, seed) pairs did not finish.", ""]
    return lines


def _markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def cell(value):
        if isinstance(value, float):
            return f"{value:.6g}"
        if isinstance(value, list):
            inner = [cell(v) for v in value]
            return "[" + ", ".join(inner[:8]) + (", …" if len(inner) > 8 else "") + "]"
        return "" if value is None else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(_plain(value), indent=2, allow_nan=False) + "\n", encoding="utf-8")


__all__ = ["export_run", "export_trial", "export_evaluated", "select_evaluated", "load", "read_model", "select_trials", "dataset_options", "random_ops",
           "FORMAT"]
