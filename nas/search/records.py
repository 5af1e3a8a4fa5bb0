"""Trial records: the per-trial folder, the rows of ``trials.csv`` and the Pareto front ``pareto.csv``.

Every trial owns ``results/<run>/trials/<trial_id>/``:

    spec.json              NetworkSpec.to_dict()
    train_config.json      TrainConfig.to_dict() of the trial
    weights.safetensors    model.state_dict() at the best-validation epoch (absent when no epoch finished)
    metrics.json           status, final and best metrics, diagnostics, constraints, history
                           (``nas.search.trial_record.TrialRecord``)

The folder appears atomically once the trial has something to say (on a file system it is built beside
its final name, then renamed; on an object store every file is one PUT and ``metrics.json``, the marker,
comes last), and each file is replaced atomically afterwards, so a reader (``nas export``) never sees half
a trial and never depends on Ray's checkpoint layout. Everything goes through ``nas.storage``, so the run
folder may be a local or shared folder or an object-store URI. The columns of ``trials.csv`` are documented in
``results/README.md``.
"""
from __future__ import annotations

import json

from nas.safe_load import read_json_at
from nas.storage import Location
from nas.vocabulary import (FINAL_STATUSES, SCORED_STATUSES, STATUSES, TRIALS_FOLDER,  # noqa: F401 (re-exported)
                            pareto_front)

from .trial_record import TrialRecord

# The documented column order of trials.csv; coefficient columns (coef_*) follow "scheme", extra columns
# (option, best_epoch, ..., constraint_*) come last.
LEADING_COLUMNS = ("trial_id", "run", "family", "scheme_name", "scheme")
ARCHITECTURE_COLUMNS = ("noise_kind", "noise_shape", "noise_param", "macro", "widths", "steps_per_stage", "h",
                       "share_stage_weights", "tie", "norm")
RESULT_COLUMNS = ("status", "val_acc", "val_loss", "best_val_acc", "params", "flops", "epochs_run", "wall_time")
DIAGNOSTIC_COLUMNS = ("order", "zero_stable", "error_constant", "error_norm", "real_stability_interval")
TRAILING_COLUMNS = ("feasible", "baseline", "seed", "trial_dir")
EXTRA_COLUMNS = ("option", "best_val_loss", "best_epoch", "node", "message", "cpu_time", "architecture_id",
                 "training_id", "duplicate_of", "device", "gpu_ids", "device_note")


# ------------------------------------------------------------------------------------ trial folder
class TrialFolder:
    """Writes one trial's folder (see the module docstring), through ``nas.storage`` so that a trial on any
    node of a cluster writes to the run's storage (a local or shared folder, or an object store)."""

    def __init__(self, where):
        self.location = Location.from_uri(where)

    @property
    def path(self):
        """The folder as a local ``Path``, or its ``Location`` on an object store."""
        return self.location.local_path or self.location

    @property
    def exists(self) -> bool:
        return self.location.is_file(MARKER)

    def publish(self, spec: dict, train_config: dict, metrics: dict, weights: dict | None = None,
                extra: dict[str, bytes] | None = None) -> None:
        """Write all files; the first time the whole folder appears at once (metrics.json is its marker).

        ``extra``: more files (name -> bytes, e.g. the resumable training state), always written before
        metrics.json, so that the folder never records an epoch whose state is missing, even when the
        process is killed between two writes."""
        if not self.exists:
            files = {"spec.json": _json_bytes(spec), "train_config.json": _json_bytes(train_config),
                     **(extra or {})}
            if weights is not None:
                files["weights.safetensors"] = weights_bytes(weights)
            files[MARKER] = _json_bytes(metrics)
            self.location.publish_folder("", files, MARKER)
            return
        self.location.write_json("spec.json", spec)
        self.location.write_json("train_config.json", train_config)
        for name, content in (extra or {}).items():
            self.location.write_bytes(name, content)  # atomic: rename locally, one PUT on a store
        self.update_metrics(metrics, weights)

    def update_metrics(self, metrics: dict, weights: dict | None = None) -> None:
        if weights is not None:
            self.location.write_bytes("weights.safetensors", weights_bytes(weights))
        self.location.write_json(MARKER, metrics)  # last: the folder never names weights it lacks


MARKER = "metrics.json"  # written last: its presence marks a complete trial folder


def _json_bytes(value) -> bytes:
    return (json.dumps(value, indent=2, allow_nan=False) + "\n").encode("utf-8")


def weights_bytes(state_dict: dict) -> bytes:
    """A state dict as safetensors bytes (tensors moved to the CPU)."""
    from safetensors.torch import save

    return save({name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()})


def read_trial(folder) -> dict | None:
    """spec, train_config and metrics of a trial folder (None when the folder is incomplete)."""
    location = Location.from_uri(folder)
    try:
        if not location.is_file(MARKER):
            return None
        return {name: json.loads(location.read_text(f"{name}.json")) for name in ("spec", "train_config", "metrics")}
    except (OSError, ValueError):
        return None


def read_record(folder) -> TrialRecord | None:
    """The ``TrialRecord`` of a search trial's folder (None while the folder is incomplete); a ``metrics.json``
    that cannot be read or is not a trial record is a ``ValueError`` naming the file (and the key)."""
    location = Location.from_uri(folder)
    if not location.is_file(MARKER):
        return None
    where = f"{location.name}/{MARKER}"
    return parse_record(read_json_at(location, MARKER, where), where)


def parse_record(metrics, where: str) -> TrialRecord:
    """``TrialRecord.from_dict(metrics)``, its error prefixed with ``where`` (the file it came from)."""
    try:
        return TrialRecord.from_dict(metrics)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


# -------------------------------------------------------------------------------------- trials.csv
def coefficient_columns(scheme: dict) -> dict:
    """One column per coefficient of a scheme's JSON form (exact values written as floats), from its family."""
    from nas.families.registry import family

    return family(scheme.get("family")).coefficient_columns(scheme)


def trial_row(folder, run_dir) -> dict | None:
    """The trials.csv row of one trial folder."""
    record = read_trial(folder)
    if record is None:
        return None
    spec = record["spec"]
    metrics = parse_record(record["metrics"], f"{Location.from_uri(folder).name}/{MARKER}")
    scheme = spec["scheme"]
    noise = spec.get("noise") or {"kind": "none"}
    noise_param = next((noise[k] for k in ("p_L", "a", "sigma_max") if k in noise), None)
    final, best = metrics.final or {}, metrics.best or {}
    row = {
        "trial_id": metrics.trial_id,
        "run": metrics.run,
        "family": scheme.get("family"),
        "scheme_name": metrics.scheme_name or scheme.get("name") or scheme.get("family"),
        "scheme": json.dumps(scheme, sort_keys=True),
        **coefficient_columns(scheme),
        "noise_kind": noise.get("kind", "none"),
        "noise_shape": noise.get("shape") if noise.get("kind", "none") != "none" else None,
        "noise_param": noise_param,
        "macro": spec["macro"],
        "widths": "-".join(str(w) for w in spec["widths"]),
        "steps_per_stage": spec["steps_per_stage"],
        "h": spec["h"],
        "share_stage_weights": spec["share_stage_weights"],
        "tie": spec.get("tie", "none"),  # spec.json writes tie and norm only when they differ from the default
        "norm": spec.get("norm", "per_step"),
        "status": metrics.status,
        "val_acc": final.get("val_acc"),
        "val_loss": final.get("val_loss"),
        "best_val_acc": best.get("val_acc"),
        "params": metrics.params,
        "flops": metrics.flops,
        "epochs_run": metrics.epochs_run,
        "wall_time": metrics.wall_time,
        **{k: (metrics.diagnostics or {}).get(k) for k in DIAGNOSTIC_COLUMNS},
        "feasible": metrics.feasible,
        "baseline": bool(metrics.baseline),
        "seed": record["train_config"].get("seed"),
        "trial_dir": f"{TRIALS_FOLDER}/{Location.from_uri(folder).name}",
        "option": metrics.option,
        "best_val_loss": best.get("val_loss"),
        "best_epoch": best.get("epoch"),
        "node": metrics.node_id,
        "message": metrics.message,
        "cpu_time": metrics.cpu_time,
        "architecture_id": metrics.architecture_id,
        "training_id": metrics.training_id,
        "duplicate_of": metrics.duplicate_of,
        "device": metrics.device,
        "gpu_ids": ",".join(metrics.gpu_ids or ()),
        "device_note": metrics.device_note or "",
        **(metrics.constraints or {}),
        **learned_columns(spec, Location.from_uri(folder)),
    }
    return row


LEARNED_FILE = "learned_scheme.json"  # written by a trial that learns its scheme's coefficients


def learned_columns(spec: dict, folder: Location) -> dict:
    """``learn_scheme``, ``learn_order``, ``learned_scheme`` (the JSON form of the first learned scheme, at the
    saved weights) and its ``learned_coef_*`` columns, for a trial that learns its coefficients
    (``NetworkSpec.learn_scheme``); {} for every other trial, so runs without them keep their columns."""
    if spec.get("learn_scheme", "none") == "none":
        return {}
    out = {"learn_scheme": spec["learn_scheme"], "learn_order": spec.get("learn_order")}
    if folder.is_file(LEARNED_FILE):
        record = read_json_at(folder, LEARNED_FILE, f"{folder.name}/{LEARNED_FILE}")
        schemes = record.get("schemes") or []
        if schemes:
            scheme = schemes[0]["scheme"]
            out["learned_scheme"] = json.dumps(scheme, sort_keys=True)
            out.update({f"learned_{key}": value for key, value in coefficient_columns(scheme).items()})
            out["learned_schemes"] = len(schemes)
    return out


def ordered_columns(rows: list[dict]) -> list[str]:
    coefficient = []
    extra = []
    for row in rows:
        for key in row:
            if key.startswith("coef_") and key not in coefficient:
                coefficient.append(key)
            elif key.startswith(("constraint_", "learn")) and key not in extra:
                extra.append(key)
    coefficient.sort(key=_coefficient_sort_key)
    return [*LEADING_COLUMNS, *coefficient, *ARCHITECTURE_COLUMNS, *RESULT_COLUMNS, *DIAGNOSTIC_COLUMNS,
            *TRAILING_COLUMNS, *EXTRA_COLUMNS, *sorted(extra)]


def _coefficient_sort_key(name: str):
    order = {"A": 0, "b": 1, "c": 2, "alpha": 3, "beta": 4, "k": 5}
    parts = name.split("_")[1:]
    head = parts[0]
    numbers = tuple(int(p) for p in parts[1:] if p.isdigit())
    return (order.get(head, 9), head, numbers)


def collect_rows(run_dir, missing: dict | None = None) -> list[dict]:
    """Rows of every trial folder of a run (sorted by trial id), plus ``missing``: trial_id -> row for
    trials Ray knows about that never wrote a folder (e.g. a trial that errored before its first epoch)."""
    run = Location.from_uri(run_dir)
    rows = []
    seen = set()
    for name in run.list(TRIALS_FOLDER):
        if name.startswith("."):
            continue
        row = trial_row(run / TRIALS_FOLDER / name, run)
        if row is not None:
            rows.append(row)
            seen.add(row["trial_id"])
    for trial_id, row in sorted((missing or {}).items()):
        if trial_id not in seen:
            rows.append(row)
    return rows


def write_trials_csv(run_dir, rows: list[dict]):
    """Write ``trials.csv`` (atomically); returns the DataFrame."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=ordered_columns(rows))
    Location.from_uri(run_dir).write_csv("trials.csv", frame)
    return frame


def write_pareto_csv(run_dir, frame, objectives):
    """``pareto.csv``: ``nas.vocabulary.pareto_front`` of ``frame`` (atomically); returns the front."""
    front = pareto_front(frame, objectives)
    Location.from_uri(run_dir).write_csv("pareto.csv", front)
    return front


__all__ = ["TrialFolder", "TrialRecord", "read_trial", "read_record", "parse_record", "trial_row", "collect_rows",
           "write_trials_csv", "pareto_front", "write_pareto_csv", "coefficient_columns", "weights_bytes", "STATUSES",
           "SCORED_STATUSES", "FINAL_STATUSES", "TRIALS_FOLDER"]
