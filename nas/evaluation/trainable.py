"""The Ray Tune trial of a final evaluation: train one (architecture, seed) pair from scratch, then score the
trained model once on the test split.

Each pair owns ``evaluation/trials/<architecture_id>_seed<seed>/`` (a ``nas.search.records.TrialFolder``:
``spec.json``, ``train_config.json``, ``metrics.json`` and, once completed, ``weights.safetensors`` of the
final epoch, the model that was scored). The folder is keyed by the pair, not by Tune's trial id, so a
resumed evaluation finds each pair's record whatever Tune remembers: a completed pair reports its record
instead of training again, an unfinished one continues from ``.resume_state.pt`` (``fit``'s checkpoint,
saved atomically every epoch and read back with ``torch.load(weights_only=True)``, as the search does).
Every file goes through ``nas.storage`` at the evaluation folder's URI (``EvaluationSetup.evaluation_dir``:
a local or shared folder, or an object store), so a pair trained on any node writes to the run's storage.
A worker whose cluster died under it (its driver killed with the local Ray it started) writes nothing more
and ends itself (``exit_if_orphaned``, as in the search): otherwise it would finish a pair the resumed
evaluation continues, from the orphan's own first attempt.

The model scored on test is the one at the end of the full budget (not the best-validation epoch): the
protocol fixes the budget in advance, and test accuracy never picks anything.
"""
from __future__ import annotations

import io
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nas.search.records import TrialFolder, read_trial
from nas.storage import Location
from nas.search.trainable import MARKER_FILE, RESUME_FILE, exit_if_orphaned, read_resume_state, trial_flops

TRIALS_FOLDER = "trials"
FINAL_STATUSES = ("completed", "diverged", "error")


def job_key(architecture: str, seed: int) -> str:
    """The folder name (and Tune config value) of one (architecture, seed) pair."""
    return f"{architecture}_seed{seed}"


@dataclass(frozen=True)
class EvaluationSetup:
    """Everything the trials need, passed once through the object store with the data."""

    run: str
    evaluation_dir: str  # the evaluation folder's nas.storage URI (an absolute path, or s3://... on a store)
    jobs: dict  # job key -> {"candidate": Candidate.to_dict(), "seed": int}
    epochs: int
    threads: int = 1


def job_folder(evaluation_dir, key: str) -> TrialFolder:
    """The trial folder of one pair (``evaluation_dir``: a path, a storage URI or a ``Location``)."""
    return TrialFolder(Location.from_uri(evaluation_dir) / TRIALS_FOLDER / key)


def train_pair(config: dict, data=None, setup: EvaluationSetup | None = None) -> None:
    """Tune entry point (``tune.with_parameters(train_pair, data=..., setup=...)``); ``config["job"]`` is a key."""
    import ray
    import torch
    from ray import tune

    from nas.network_kinds import build_network, spec_from_dict
    from nas.train import TrainConfig, count_parameters, evaluate, fit, seeded

    torch.set_num_threads(setup.threads)
    started, cpu_started = time.time(), time.process_time()
    key = config["job"]
    job = setup.jobs[key]
    candidate, seed = job["candidate"], job["seed"]
    folder = job_folder(setup.evaluation_dir, key)
    train_config = TrainConfig.from_dict({**candidate["train_config"], "seed": seed, "epochs": setup.epochs})
    base = {"job": key, "run": setup.run, "seed": seed, "node_id": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(), "tune_trial_id": tune.get_context().get_trial_id(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],  # the GPU (fraction) Ray assigned, if any
            **{k: candidate[k] for k in ("architecture_id", "label", "role", "scheme_name", "source_trial_id",
                                         "search_rank", "search_best_val_acc")}}
    raylet = os.getppid()  # the raylet that started this worker: see exit_if_orphaned

    finished = read_trial(folder.location)
    if finished is not None and finished["metrics"].get("status") in FINAL_STATUSES:
        tune.report(_report_values(finished["metrics"]))  # trained before a restart: never twice
        return

    spec = spec_from_dict(candidate["spec"])
    with seeded(seed):
        model = build_network(spec)
    params = count_parameters(model)
    flops = trial_flops(model, data)
    base.update(params=params, flops=flops)

    resume, previous_time, previous_cpu = None, 0.0, 0.0
    best = {"epoch": None, "val_acc": None, "val_loss": None}
    if folder.location.is_file(RESUME_FILE):
        saved = read_resume_state(folder.location)  # the driver checked every state before Ray started
        resume, best = saved["train"], saved["best"]
        previous_time, previous_cpu = saved["wall_time"], saved.get("cpu_time", 0.0)
    base["resumed_from_epoch"] = 0 if resume is None else resume["epoch"]

    def elapsed() -> tuple[float, float]:
        return previous_time + time.time() - started, previous_cpu + time.process_time() - cpu_started

    def record(status: str, final: dict | None, epochs_run: int, test: dict | None = None, message: str = "",
               weights=None, fit_state=None) -> dict:
        exit_if_orphaned(raylet)
        wall, cpu = elapsed()
        metrics = {**base, "status": status, "message": message, "final": final, "best": dict(best),
                   "epochs_run": epochs_run, "test": test, "train_time": wall, "cpu_time": cpu}
        # The resumable state is written with the record, before it (see TrialFolder.publish).
        extra = None if fit_state is None else {RESUME_FILE: state_bytes(fit_state, wall, cpu)}
        folder.publish(candidate["spec"], train_config.to_dict(), metrics, weights, extra)
        return metrics

    def state_bytes(state: dict, wall: float, cpu: float) -> bytes:
        buffer = io.BytesIO()
        torch.save({"train": state, "best": best, "best_weights": {}, "wall_time": wall, "cpu_time": cpu}, buffer)
        return buffer.getvalue()

    def on_epoch(metrics: dict, checkpoint_fn) -> bool:
        state = checkpoint_fn()
        if best["val_acc"] is None or metrics["val_acc"] > best["val_acc"]:
            best.update(epoch=metrics["epoch"], val_acc=metrics["val_acc"], val_loss=metrics["val_loss"])
        final = {k: metrics[k] for k in ("epoch", "val_acc", "val_loss", "train_loss", "train_acc")}
        if metrics["epoch"] < train_config.epochs:
            record("training", final, metrics["epoch"], fit_state=state)
            _report({"epoch": metrics["epoch"], "val_acc": metrics["val_acc"], "status": "training"})
            return True
        test = evaluate(model, data.test, train_config.eval_batch_size, bf16=train_config.bf16)  # once
        recorded = record("completed", final, metrics["epoch"], test={"acc": test["acc"], "loss": test["loss"],
                                                                      "samples": len(data.test)},
                          weights=state["model"])
        folder.location.delete(RESUME_FILE)
        _report(_report_values(recorded))
        return True

    result = fit(model, data, train_config, callback=on_epoch, resume=resume)
    if result.status == "diverged":
        final = {"epoch": result.epochs_run + 1, "val_acc": 0.0, "val_loss": None}
        recorded = record("diverged", final, result.epochs_run, message=result.message)
        folder.location.delete(RESUME_FILE)
        tune.report(_report_values(recorded))


def _report(values: dict) -> None:
    """``tune.report`` with a small marker checkpoint (tells Tune the trial can be restored; see
    ``nas.search.trainable``)."""
    from ray import tune

    with tempfile.TemporaryDirectory(prefix="nas-marker-") as directory:
        (Path(directory) / MARKER_FILE).write_text(json.dumps({"epoch": values.get("epoch", 0)}))
        tune.report(values, checkpoint=tune.Checkpoint.from_directory(directory))


def _report_values(metrics: dict) -> dict:
    test = metrics.get("test") or {}
    final = metrics.get("final") or {}
    return {"epoch": final.get("epoch", metrics.get("epochs_run", 0)), "status": metrics.get("status"),
            "val_acc": final.get("val_acc") or 0.0, "test_acc": test.get("acc", math.nan)}


__all__ = ["train_pair", "EvaluationSetup", "job_key", "job_folder", "TRIALS_FOLDER", "FINAL_STATUSES"]
