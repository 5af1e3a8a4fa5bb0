"""The Ray Tune trial of a final evaluation: train one (architecture, seed) pair from scratch, then score the
trained model once on the test split.

Each pair owns ``evaluation/trials/<architecture_id>_seed<seed>/`` (a ``nas.search.records.TrialFolder``:
``spec.json``, ``train_config.json``, ``metrics.json`` and, once completed, ``weights.safetensors`` of the
final epoch, the model that was scored). The folder is keyed by the pair, not by Tune's trial id, so a
resumed evaluation finds each pair's record whatever Tune remembers: a completed pair reports its record
instead of training again, an unfinished one continues from ``.resume_state.pt`` (``fit``'s checkpoint,
saved atomically every epoch with the record and before it, ``nas.resumable``, as the search does).
Every file goes through ``nas.storage`` at the evaluation folder's URI (``EvaluationSetup.evaluation_dir``:
a local or shared folder, or an object store), so a pair trained on any node writes to the run's storage.
A worker whose cluster died under it (its driver killed with the local Ray it started) writes nothing more
and ends itself (``nas.resumable.exit_if_orphaned``): otherwise it would finish a pair the resumed evaluation
continues, from the orphan's own first attempt.

The model scored on test is the one at the end of the full budget (not the best-validation epoch): the
protocol fixes the budget in advance, and test accuracy never picks anything.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from nas.resumable import ResumableTraining, diverged_final, epoch_final, report_with_marker
from nas.search.records import TrialFolder, read_trial
from nas.search.trainable import trial_flops
from nas.storage import Location
from nas.vocabulary import TRIALS_FOLDER

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
    from nas.train import TrainConfig, count_parameters, seeded

    torch.set_num_threads(setup.threads)
    key = config["job"]
    job = setup.jobs[key]
    candidate, seed = job["candidate"], job["seed"]
    folder = job_folder(setup.evaluation_dir, key)
    # the scored model is the last epoch's: the state keeps no best weights
    training = ResumableTraining.start(folder, keep_best_weights=False)
    train_config = TrainConfig.from_dict({**candidate["train_config"], "seed": seed, "epochs": setup.epochs})
    base = {"job": key, "run": setup.run, "seed": seed, "node_id": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(), "tune_trial_id": tune.get_context().get_trial_id(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],  # the GPU (fraction) Ray assigned, if any
            **{k: candidate[k] for k in ("architecture_id", "label", "role", "scheme_name", "source_trial_id",
                                         "search_rank", "search_best_val_acc")}}

    finished = read_trial(folder.location)
    if finished is not None and finished["metrics"].get("status") in FINAL_STATUSES:
        tune.report(_report_values(finished["metrics"]))  # trained before a restart: never twice
        return

    spec = spec_from_dict(candidate["spec"])
    with seeded(seed):
        model = build_network(spec)
    base.update(params=count_parameters(model), flops=trial_flops(model, data))
    training.resume()  # the driver checked every state before Ray started
    base["resumed_from_epoch"] = training.resumed_from_epoch
    EvaluationPair(training=training, model=model, spec=candidate["spec"], train_config=train_config, base=base,
                   data=data).train()


@dataclass
class EvaluationPair:
    """One (architecture, seed) pair ready to train: what its records repeat after every epoch."""

    training: ResumableTraining
    model: object  # the built torch module
    spec: dict  # the candidate's NetworkSpec as a dict
    train_config: object  # nas.train.TrainConfig
    base: dict  # the record's fields fixed for this attempt
    data: object  # nas.data.Dataset: fit's splits and the test split scored once

    def train(self) -> None:
        """``fit`` with a record and a report after every epoch; the last epoch is scored once on test."""
        from ray import tune

        from nas.train import fit

        result = fit(self.model, self.data, self.train_config, callback=self.on_epoch,
                     resume=self.training.fit_state)
        if result.status == "diverged":
            recorded = self.record("diverged", diverged_final(result.epochs_run), result.epochs_run,
                                   message=result.message)
            self.training.finish()
            tune.report(_report_values(recorded))

    def on_epoch(self, metrics: dict, checkpoint_fn) -> bool:
        """``fit``'s callback: record the epoch (with the state to resume from) and report it; after the last
        epoch, score the model on test, once."""
        from nas.train import evaluate

        state = checkpoint_fn()
        self.training.observe(metrics, state)
        final = epoch_final(metrics)
        if metrics["epoch"] < self.train_config.epochs:
            self.record("training", final, metrics["epoch"], fit_state=state)
            report_with_marker({"epoch": metrics["epoch"], "val_acc": metrics["val_acc"], "status": "training"})
            return True
        test = evaluate(self.model, self.data.test, self.train_config.eval_batch_size, bf16=self.train_config.bf16)
        recorded = self.record("completed", final, metrics["epoch"], weights=state["model"],
                               test={"acc": test["acc"], "loss": test["loss"], "samples": len(self.data.test)})
        self.training.finish()
        report_with_marker(_report_values(recorded))
        return True

    def record(self, status: str, final: dict | None, epochs_run: int, test: dict | None = None, message: str = "",
               weights=None, fit_state=None) -> dict:
        """Publish the pair's record with ``status`` (see ``ResumableTraining.publish``); returns its metrics."""
        wall, cpu = self.training.elapsed()
        metrics = {**self.base, "status": status, "message": message, "final": final,
                   "best": dict(self.training.best), "epochs_run": epochs_run, "test": test, "train_time": wall,
                   "cpu_time": cpu, "history": list(self.training.history)}
        self.training.publish(self.spec, self.train_config.to_dict(), metrics, weights, fit_state=fit_state)
        return metrics


def _report_values(metrics: dict) -> dict:
    test = metrics.get("test") or {}
    final = metrics.get("final") or {}
    return {"epoch": final.get("epoch", metrics.get("epochs_run", 0)), "status": metrics.get("status"),
            "val_acc": final.get("val_acc") or 0.0, "test_acc": test.get("acc", math.nan)}


__all__ = ["train_pair", "EvaluationSetup", "job_key", "job_folder", "TRIALS_FOLDER", "FINAL_STATUSES"]
