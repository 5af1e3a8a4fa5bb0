"""Writing export folders: one model folder per exported model (program, weights, spec, card, figures) and
``index.json`` for a ranked export, each built in a staging folder renamed into place (``nas.atomic``).

Every export folder (ranked, model, or converted by ``nas convert``) holds the marker file ``.nas-export``.
``--force`` (``replace=True``) replaces only a folder that is recognisably an export: it holds the marker and
nothing but files an export writes (model folders with their own marker included), and it is neither a run
folder nor inside one. Anything else (a user's folder, a run's ``trials/``) is a ``ValueError`` before any work,
checked again just before the swap, and nothing is deleted.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .. import leaderboard
from ..atomic import atomic_directory
from ..checks import is_number
from ..paths import check_output_folder, is_within
from . import markdown
from .card import FORMAT, json_ready, trial_card
from .plots import PLOT_FILES, write_card_plots, write_trajectory_plot
from .program import EXAMPLE_BATCH, export_program, save_program, save_weights
from .selection import load_data, select_evaluated, select_trials

MODEL_FILES = ("model.pt2", "weights.safetensors", "spec.json", "card.json", "card.md")
EXPORT_MARKER = ".nas-export"  # written into every export folder: what ``--force`` may replace
MARKER_LIMIT = 4096  # bytes: the marker is a one-line JSON object
_EXPORT_FILES = frozenset({*MODEL_FILES, *PLOT_FILES, "index.json", EXPORT_MARKER})
_MODEL_FOLDER_FILES = frozenset({*MODEL_FILES, *PLOT_FILES, EXPORT_MARKER})
RUN_FILE = "search.json"  # every run folder has one (nas search writes it first)

# What ``index.json`` says its ranks are (key ``ranking``).
TOP_RANKING = ("nas leaderboard RUN: finished trials at equal budget, duplicates left out, one row per architecture "
               "(its best seed), baselines ranked among the searched trials")
TRIAL_RANKING = ("one trial chosen by --trial; rank: its place on the leaderboard (nas leaderboard RUN), 1 when the "
                 "leaderboard does not rank it (its card's rank is then null)")
EVALUATED_RANKING = ("nas evaluate: the searched architecture of this search rank (baselines not ranked), its seed "
                     "with the median test accuracy")


def export_run(run, out, *, top: int | None = 1, trial: str | None = None, replace: bool = False,
               results_root=leaderboard.DEFAULT_RESULTS_ROOT, data=None) -> list[Path]:
    """Export the ``top`` best finished trials of ``run`` (the leaderboard's first rows,
    ``nas.fidelity.leaderboard_ranking``) or the one ``trial`` into ``out``.

    Returns the model folders (``out/<trial_id>``) in rank order; ``out/index.json`` lists them.
    ``data`` (a ``nas.data.DataSplits``) skips rebuilding the run's data set.
    """
    out = check_target(out, replace)
    run_dir, records = select_trials(run, top=top, trial=trial, results_root=results_root)
    search, data = _run_inputs(out, run_dir, data)
    ranking = TRIAL_RANKING if trial is not None else TOP_RANKING
    return write_export(out, [(r, model_folder_name(r["trial_id"]), _trial_writer(r, run_dir, search, data))
                              for r in records], replace=replace, header=_run_header(run_dir, ranking))


def export_trial(run, trial_id: str, out, *, replace: bool = False,
                 results_root=leaderboard.DEFAULT_RESULTS_ROOT, data=None) -> Path:
    """Export one trial of ``run`` as the model folder ``out`` (the building block of ``export_run``; the CLI
    writes the ranked layout, ``nas export --trial``)."""
    out = check_target(out, replace)
    run_dir, (record,) = select_trials(run, trial=trial_id, top=None, results_root=results_root)
    return _export_one(out, record, run_dir, replace, data)


def export_evaluated(run, out, *, rank: int = 1, replace: bool = False,
                     results_root=leaderboard.DEFAULT_RESULTS_ROOT, data=None) -> Path:
    """Export the evaluated architecture of search rank ``rank`` (its median-test-accuracy seed) in the layout of
    ``export_run``: ``out/index.json`` and one model folder, which is returned; its card reports the test
    mean ± std over the seeds and the interval of the difference against the plain ResNet."""
    out = check_target(out, replace)
    run_dir, record = select_evaluated(run, rank, results_root=results_root)
    search, data = _run_inputs(out, run_dir, data)
    (folder,) = write_export(out, [(record, model_folder_name(record["trial_id"]),
                                    _trial_writer(record, run_dir, search, data))],
                             replace=replace, header=_run_header(run_dir, EVALUATED_RANKING))
    return folder


def write_export(out: Path, models, *, replace: bool, header: dict, writer: str = "nas export") -> list[Path]:
    """The one export layout, built in a staging folder renamed into place: ``out/.nas-export``, one model folder
    per model and ``out/index.json`` listing them in rank order. ``models``: (record, folder name, write) triples
    in rank order, ``write(folder)`` writing one model folder and returning its card. Returns the model folders."""
    with atomic_directory(out, replace=replace, replaceable=check_replaceable) as staging:
        write_marker(staging, writer)
        index = []
        for position, (record, name, write) in enumerate(models, 1):
            card = write(staging / name)
            rank = record.get("rank")
            index.append({"rank": rank if isinstance(rank, int) else position, "trial_id": record["trial_id"],
                          "folder": name, "scheme_name": record["scheme_name"], "family": record["family"],
                          "baseline": bool(record.get("baseline", False)),
                          "best_val_acc": card["metrics"]["best_val_acc"], "test_acc": card["metrics"]["test_acc"],
                          **({"seed": record["seed"]} if record.get("evaluation") else {})})
        write_json(staging / "index.json", {"format": FORMAT, **header, "models": index})
    return [out / name for _, name, _ in models]


def _run_header(run_dir: Path, ranking: str) -> dict:
    return {"run": run_dir.name, "run_dir": str(run_dir), "ranking": ranking}


def _trial_writer(record: dict, run_dir: Path, search: dict, data):
    return lambda folder: _export_into(folder, record, run_dir, search, data)


def check_target(out, replace: bool) -> Path:
    """The output folder, refused when it exists (unless ``replace`` and it is an export folder, see
    ``check_replaceable``) or cannot be created."""
    out = Path(out)
    if out.is_symlink():  # replacing would swap the link, not the folder the user sees through it
        raise ValueError(f"out: {out} is a symbolic link; give the folder itself or a new name")
    if out.exists() and not replace:
        raise ValueError(f"out: {out} already exists (pass --force to replace it)")
    out = check_output_folder(out, "out")
    if out.exists():
        check_replaceable(out)
    return out


def check_replaceable(out) -> None:
    """A ``ValueError`` unless the existing folder ``out`` is one that ``nas export`` or ``nas convert`` wrote.

    Written means: it holds the ``.nas-export`` marker and only files an export writes (model folders holding
    their own marker), and neither it nor a folder above it is a run folder (holds ``search.json``).
    """
    out = Path(out)
    run = _enclosing_run(out)
    if run is not None:
        where = "is a run folder" if run == out.resolve() else f"is inside the run folder {run}"
        raise ValueError(f"out: {out} {where}; --force never replaces anything in a run folder")
    foreign = _foreign_entries(out, _EXPORT_FILES, folders=True)
    if not foreign and not _has_marker(out):
        foreign = [f"no {EXPORT_MARKER} marker"]
    if foreign:
        raise ValueError(f"out: {out} was not written by nas export ({', '.join(foreign)}); --force only "
                         "replaces an export folder: choose another --out or remove it yourself")


def _enclosing_run(path: Path):
    """The run folder that is ``path`` or holds it (resolved), else None."""
    path = path.resolve()
    for folder in (path, *path.parents):
        if (folder / RUN_FILE).exists():
            return folder
    return None


def _has_marker(folder: Path) -> bool:
    marker = folder / EXPORT_MARKER
    if marker.is_symlink() or not marker.is_file() or marker.stat().st_size > MARKER_LIMIT:
        return False
    try:
        value = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(value, dict) and "written_by" in value


def _foreign_entries(folder: Path, allowed, *, folders: bool, limit: int = 3) -> list[str]:
    """Up to ``limit`` descriptions of what in ``folder`` an export did not write."""
    foreign = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            foreign.append(f"the link {entry.name}")
        elif entry.is_dir():
            if (entry / RUN_FILE).exists():
                foreign.append(f"the run folder {entry.name}")
            elif not folders:
                foreign.append(f"the folder {entry.name}")
            elif _foreign_entries(entry, _MODEL_FOLDER_FILES, folders=False, limit=1) or not _has_marker(entry):
                foreign.append(f"the folder {entry.name}")
        elif not entry.is_file() or entry.name not in allowed:
            foreign.append(entry.name)
        if len(foreign) >= limit:
            foreign.append("...")
            break
    return foreign


def write_marker(folder: Path, writer: str) -> None:
    """The ``.nas-export`` marker: this folder was written by ``writer`` and ``--force`` may replace it."""
    write_json(folder / EXPORT_MARKER, {"format": FORMAT, "written_by": writer})


def _run_inputs(out: Path, run_dir: Path, data):
    """(search configuration, data splits) of the run, once ``out`` is known not to hold the run folder."""
    if is_within(run_dir, out):
        raise ValueError(f"out: {out} holds the run folder {run_dir}; exporting there would replace the run")
    search = leaderboard.read_search_config(run_dir)
    return search, load_data(search) if data is None else data


def _export_one(out: Path, record: dict, run_dir: Path, replace: bool, data) -> Path:
    """The model folder ``out`` of one record, written atomically."""
    search, data = _run_inputs(out, run_dir, data)
    with atomic_directory(out, replace=replace, replaceable=check_replaceable) as staging:
        _export_into(staging, record, run_dir, search, data)
    return out


def refine_on_test(model, test, factors=(1, 2, 4)):
    """The depth-refinement rows of a tied network on the test split (None for an untied one)."""
    import torch

    from ..refinement import refinement_table

    if getattr(model.spec, "tie", "none") != "stage":
        return None
    xs, ys = zip(*test.batches(1024))
    return refinement_table(model, torch.cat(xs).to(torch.float32), torch.cat(ys), factors)


def model_folder_name(trial_id) -> str:
    """A folder name made of ``trial_id`` (letters, digits, ``_.-``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(trial_id)).strip("._") or "trial"


def written_back(model, spec):
    """(model, spec) with learned scheme coefficients written back as a concrete scheme (``spec.json`` then holds
    the learned scheme, learning off; the network is the trained one bit for bit, ``nas.networks.learned``).
    Unchanged without learned coefficients, or when stages or steps learned different schemes (one spec holds
    one scheme: the export then keeps ``learn_scheme`` and the free parameters)."""
    if getattr(spec, "learn_scheme", "none") == "none":
        return model, spec
    from ..networks.learned import concrete_network, concrete_spec

    try:
        concrete = concrete_spec(model)
    except ValueError:
        return model, spec
    return concrete_network(model), concrete


def _export_into(folder: Path, record: dict, run_dir: Path, search: dict, data) -> dict:
    """Write the model folder of a record of a run (``folder`` is inside a staging folder renamed later)."""
    from ..network_kinds import build_network

    spec = record["spec"]
    _check_data_matches(spec, data, record["trial_id"])
    model = build_network(spec)
    model.load_state_dict(record["weights"])  # names and shapes checked by read_model
    return write_model_folder(folder, model, spec, data, record, run_dir=run_dir, search=search)


def write_model_folder(folder: Path, model, spec, data, record: dict, *, run_dir: Path, search: dict,
                       origin: dict | None = None) -> dict:
    """Write one model folder of a trained ``model`` (program, weights, spec, card, figures) and return its card.

    ``record`` holds what the card reports besides the model (``nas.export.selection``'s fields: trial id, scheme
    name, family, rank, metrics); ``origin`` replaces the card's keys that describe where the model came from
    (``nas train``: no search run)."""
    import torch

    from ..networks.tying import unshared_state
    from ..train import count_parameters, evaluate, forward_flops

    model.eval()  # baked into the exported graph (batch-norm statistics, noise expectations)
    trained_spec = spec  # learned coefficients: the spec the network trained with, before the write-back
    model, spec = written_back(model, spec)
    example = next(iter(data.test.batches(EXAMPLE_BATCH)))[0].to(torch.float32)
    program = export_program(model, example, record["trial_id"])
    folder.mkdir(parents=True, exist_ok=True)  # export_trial writes into the staging folder itself
    write_marker(folder, "nas export")
    save_program(program, folder / "model.pt2")
    state = unshared_state(model)  # tied weights appear under every step's name
    save_weights(state, folder / "weights.safetensors",
                 metadata={"format": FORMAT, "trial_id": str(record["trial_id"]), "run": run_dir.name})
    write_json(folder / "spec.json", spec.to_dict())

    test = evaluate(model, data.test, record["eval_batch_size"])
    searched = record.get("flops")  # counted once by the trial for this architecture; counted here only if absent
    flops = int(searched) if is_number(searched) and searched > 0 else forward_flops(model, example)
    refinement = refine_on_test(model, data.test)
    card = trial_card(record, run_dir, search, data, spec, model, test, params=count_parameters(model), flops=flops,
                      refinement=refinement)
    card.update(json_ready(origin or {}))
    card["files"] = sorted([*MODEL_FILES, *write_card_plots(spec, model, card["scheme"]["per_step"], folder,
                                                            refinement),
                            *write_trajectory_plot(trained_spec, record.get("trial_metrics"), folder)])
    write_json(folder / "card.json", card)
    (folder / "card.md").write_text(markdown.card_markdown(card), encoding="utf-8")
    return card


def _check_data_matches(spec, data, trial_id) -> None:
    if spec.num_classes != data.num_classes or spec.in_channels != data.in_channels:
        raise ValueError(f"trial {trial_id!r}: spec.json expects {spec.in_channels} input channels and "
                         f"{spec.num_classes} classes, the run's data set {data.name} has {data.in_channels} "
                         f"and {data.num_classes}")


def write_json(path: Path, value) -> None:
    """``value`` as indented JSON (``json_ready`` first) into a file of a staging folder."""
    path.write_text(json.dumps(json_ready(value), indent=2, allow_nan=False) + "\n", encoding="utf-8")


__all__ = ["export_run", "export_trial", "export_evaluated", "write_export", "write_model_folder", "model_folder_name",
           "check_target", "check_replaceable", "write_marker", "write_json", "MODEL_FILES", "EXPORT_MARKER"]
