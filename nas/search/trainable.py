"""The Ray Tune function trainable: one trial = build the trial's network, ``fit`` it, report every epoch.

Per epoch the trial (1) writes its trial folder's record (``records``: ``TrialFolder.publish``) with the
status it would have if Tune stopped it right there (``stopped``, or ``completed`` after the last epoch), its
resumable state written with it and before it, then (2) reports to Tune with a marker checkpoint. Tune may end
the trial inside that report (ASHA, time budget), so everything worth keeping is written before it. The state,
the rule that keeps it consistent with the record, the marker checkpoints and the guard against orphaned
workers are ``nas.resumable`` (shared with ``nas evaluate``). A refused state ends the trial with status
``error`` and says why. A trial whose worker dies is retried by Tune (``FailureConfig.max_failures``) and
continues from its state, as does an unfinished trial of a resumed run; a trial that had already completed or
diverged reports its recorded result instead of training again. In a resumed run a trial also looks for
another folder that completed its ``training_id`` (a trial Tune forgot after a SIGKILL, proposed again by the
searcher's older snapshot) and is recorded as its duplicate: no (network, training configuration, seed) is
trained twice.

Every file goes through ``nas.storage`` at the run's location (``TrialSetup.run_dir``: a local or shared
folder, or an object-store URI), so a trial on any node of a cluster writes where the driver and a retry
on another node read. ``metrics.json`` also records the GPU ids Ray assigned, the torch device used (with
a note when the trial fell back to the CPU; ``device_record``) and the attempt's ``started_at`` /
``ended_at`` times.

A diverged trial (non-finite loss; ``fit`` stops it) reports val_acc 0 and val_loss inf, so the sampler
learns to avoid it; its folder keeps the last finite metrics as ``best``. A trial whose config cannot be
built (e.g. a degenerate sampled scheme) is recorded with status ``error`` and reported once.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass

# read_resume_state and exit_if_orphaned: also importable from here, where they were first defined
from nas.resumable import (RESUME_FILE, ResumableTraining, diverged_final, epoch_final, exit_if_orphaned,  # noqa: F401
                           read_resume_state, report_with_marker)
from nas.vocabulary import DUPLICATE_STATUS
from nas.storage import Location

from .constraints import constraint_values, feasible, scheme_diagnostics
from .duplicates import DUPLICATE_OF, DUPLICATE_RESULT, is_duplicate, trial_seed
from .identity import architecture_id, training_id
from .records import FINAL_STATUSES, LEARNED_FILE, TRIALS_FOLDER, TrialFolder, read_record
from .trial_record import TrialRecord



@dataclass(frozen=True)
class TrialSetup:
    """Run-level settings every trial needs (passed once through the object store with the data)."""

    run: str
    run_dir: str  # an absolute local path or a storage URI (nas.storage): every node writes there
    space: object  # nas.search.space.SearchSpace
    train: dict  # TrainConfig fields shared by all trials
    seed: int
    threads: int = 1
    resumed: bool = False  # a resumed run: a trial looks for an earlier trial that trained its training_id


def train_trial(config: dict, data=None, setup: TrialSetup | None = None) -> None:
    """Tune entry point (wrapped with ``tune.with_parameters(train_trial, data=..., setup=...)``)."""
    if is_duplicate(config):  # before the heavy imports: a duplicate trains nothing
        report_duplicate(config, data, setup)
        return
    import ray
    import torch
    from ray import tune

    from nas.train import TrainConfig

    torch.set_num_threads(setup.threads)
    trial_id = tune.get_context().get_trial_id()
    folder = TrialFolder(Location.from_uri(setup.run_dir) / TRIALS_FOLDER / trial_id)
    training = ResumableTraining.start(folder)  # this attempt's clocks and the raylet that started the worker
    train_config = TrainConfig.from_dict({**setup.train, "seed": trial_seed(config, setup.seed)})
    base = {"trial_id": trial_id, "run": setup.run, "node_id": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(), "config": {k: v for k, v in config.items()},
            **device_record(train_config.device), "started_at": training.started}

    finished = _finished_record(folder)
    if finished is not None:
        # The trial ended before the driver was killed but after Tune's last snapshot: tell Tune its
        # recorded result instead of training (part of) it again.
        tune.report(finished)
        return
    trial = _prepare_trial(config, data, setup, training, train_config, base)
    if trial is not None:
        trial.train(data)


def _prepare_trial(config: dict, data, setup: TrialSetup, training: ResumableTraining, train_config,
                   base: dict) -> "SearchTrial | None":
    """Build the trial's network, analyse its scheme and load its resumable state; None when the trial ended
    here (recorded as an error, or reported as the duplicate of an earlier folder)."""
    from nas.network_kinds import build_network
    from nas.train import count_parameters, seeded

    folder = training.folder
    try:
        plan = setup.space.plan(config, macro=data.macro, in_channels=data.in_channels,
                                num_classes=data.num_classes)
        with seeded(train_config.seed):
            model = build_network(plan.spec)
    except ValueError as exc:  # deterministic: retrying cannot help
        _end_with_error(folder, {"error": str(exc), "config": base["config"]}, train_config, base,
                        training.started, f"cannot build the trial: {exc}")
        return None

    params = count_parameters(model)
    spec_dict = plan.spec.to_dict()
    base.update(option=plan.option, baseline=plan.baseline, scheme_name=_scheme_name(plan), params=params)
    try:
        diagnostics = scheme_diagnostics(plan.scheme)
        constraints = constraint_values(setup.space.constraints, plan.scheme, params, diagnostics)
    except (RuntimeError, ValueError) as exc:  # deterministic: a failed analysis names itself in the record
        _end_with_error(folder, spec_dict, train_config, base, training.started, f"cannot analyse the scheme: {exc}")
        return None
    is_feasible = feasible(constraints)
    flops = trial_flops(model, data)  # once per trial: fit, the records and the reports reuse it
    base.update(diagnostics=diagnostics, constraints=constraints, feasible=is_feasible)
    base.update(architecture_id=architecture_id(spec_dict, train_config.to_dict()),
                training_id=training_id(spec_dict, train_config.to_dict()))
    # A resumed searcher (an older snapshot) does not know of trials Tune forgot after a SIGKILL: the folders are
    # the record. A configuration and seed that completed there is reported, never trained twice; one whose
    # training was cut short there continues from that folder's state.
    state_folder = folder.location
    if setup.resumed and not folder.location.is_file(RESUME_FILE):
        earlier = earlier_training(Location.from_uri(setup.run_dir) / TRIALS_FOLDER, base["trial_id"],
                                   base["training_id"])
        if earlier is not None and earlier[1] is not None:
            report_duplicate({**config, DUPLICATE_OF: earlier[0].name, DUPLICATE_RESULT: earlier[1]}, data, setup)
            return None
        if earlier is not None:
            state_folder = earlier[0]
    try:
        training.resume(state_folder)
    except ValueError as exc:  # deterministic: a retry would read the same file
        _end_with_error(folder, spec_dict, train_config, base, training.started, f"cannot resume: {exc}")
        return None
    base["resumed_from_epoch"] = training.resumed_from_epoch  # this attempt's starting point
    return SearchTrial(training=training, model=model, spec=plan.spec, train_config=train_config, base=base,
                       params=params, flops=flops, constraints=constraints, feasible=is_feasible)


@dataclass
class SearchTrial:
    """A search trial ready to train: what its records and reports repeat after every epoch."""

    training: ResumableTraining
    model: object  # the built torch module
    spec: object  # nas.networks.NetworkSpec
    train_config: object  # nas.train.TrainConfig
    base: dict  # the record's fields fixed for this attempt
    params: int
    flops: int
    constraints: dict
    feasible: bool

    def train(self, data) -> None:
        """``fit`` with a record and a report after every epoch; an unexpected error is recorded, then raised
        for Tune to retry the trial (``max_failures``), which continues from its state."""
        from nas.train import fit

        training = self.training
        try:
            result = fit(self.model, data, self.train_config, callback=self.on_epoch, resume=training.fit_state,
                         flops=self.flops)
        except Exception as exc:
            self.record("error", None, training.best["epoch"] or 0, message=f"{type(exc).__name__}: {exc}")
            raise
        if result.status == "diverged":
            final = diverged_final(result.epochs_run)
            self.record("diverged", final, result.epochs_run, message=result.message)
            training.finish()
            self.report({"epoch": final["epoch"], "val_acc": 0.0, "val_loss": math.inf}, "diverged")

    def on_epoch(self, metrics: dict, checkpoint_fn) -> bool:
        """``fit``'s callback: record the epoch (with the state to resume from), then report it to Tune, which
        may end the trial inside that call (ASHA, time budget)."""
        state = checkpoint_fn()
        improved = self.training.observe(metrics, state)
        status = "completed" if metrics["epoch"] >= self.train_config.epochs else "stopped"
        # A completed trial needs no state: restarted, it reports its record.
        self.record(status, epoch_final(metrics), metrics["epoch"],
                    weights=self.training.best_weights if improved else None,
                    fit_state=None if status == "completed" else state)
        if status == "completed":
            self.training.finish()
        self.report(metrics, status, marker=True)
        return True

    def record(self, status: str, final: dict | None, epochs_run: int, message: str = "", weights=None,
               fit_state=None) -> None:
        """Publish the trial's record (``TrialRecord``) with ``status``; see ``ResumableTraining.publish``."""
        from nas.networks.learned import learned_record

        wall, cpu = self.training.elapsed()
        metrics = TrialRecord(**self.base, status=status, message=message, final=final, best=dict(self.training.best),
                              epochs_run=epochs_run, flops=self.flops, history=list(self.training.history),
                              wall_time=wall, cpu_time=cpu, ended_at=time.time(),
                              null_keys=frozenset({"final"}))  # fit raised: "final": null
        learned = None if weights is None else learned_record(self.spec, weights)
        # the scheme the saved weights step with (learned coefficients)
        extra = None if learned is None else {LEARNED_FILE: (json.dumps(learned, indent=2) + "\n").encode("utf-8")}
        self.training.publish(self.spec.to_dict(), self.train_config.to_dict(), metrics.to_dict(), weights,
                              fit_state=fit_state, extra=extra)

    def report(self, metrics: dict, status: str, marker: bool = False) -> None:
        """Report an epoch to Tune (with a marker checkpoint after a trained epoch)."""
        from ray import tune

        values = {"epoch": metrics["epoch"], "val_acc": metrics["val_acc"], "val_loss": metrics["val_loss"],
                  "train_loss": metrics.get("train_loss", math.nan),
                  "best_val_acc": self.training.best["val_acc"] or 0.0, "params": self.params, "flops": self.flops,
                  "status": status, "feasible": self.feasible, **self.constraints}
        if marker:
            report_with_marker(values)
        else:
            tune.report(values)


# What a duplicate's record copies from its original's.
DUPLICATE_COPIES = ("scheme_name", "params", "flops", "diagnostics", "constraints", "feasible", "final", "best")


def report_duplicate(config: dict, data, setup: TrialSetup) -> None:
    """A duplicate trial (``nas.search.duplicates``): record it as ``duplicate`` with its original's results
    (read from the original's folder) and report the original's result once; nothing is trained."""
    started, cpu_started = time.time(), time.process_time()
    from ray import tune

    from nas.train import TrainConfig

    trial_id = tune.get_context().get_trial_id()
    original = str(config[DUPLICATE_OF])
    result = dict(config[DUPLICATE_RESULT])
    trials = Location.from_uri(setup.run_dir) / TRIALS_FOLDER  # any storage: a local folder or an object store
    folder = TrialFolder(trials / trial_id)
    train_config = TrainConfig.from_dict({**setup.train, "seed": trial_seed(config, setup.seed)}).to_dict()
    plan = setup.space.plan(config, macro=data.macro, in_channels=data.in_channels, num_classes=data.num_classes)
    spec = plan.spec.to_dict()
    recorded = read_record(TrialFolder(trials / original).path)
    copied = {key: None if recorded is None else getattr(recorded, key) for key in DUPLICATE_COPIES}
    metrics = TrialRecord(
        trial_id=trial_id, run=setup.run, config={k: v for k, v in config.items() if k != DUPLICATE_RESULT},
        option=plan.option, baseline=plan.baseline, **copied,
        architecture_id=architecture_id(spec, train_config), training_id=training_id(spec, train_config),
        status=DUPLICATE_STATUS, duplicate_of=original,
        message=f"same network, training configuration and seed as trial {original}: its result, not trained again",
        epochs_run=0, original_epochs_run=None if recorded is None else recorded.epochs_run,
        wall_time=time.time() - started, cpu_time=time.process_time() - cpu_started,
        null_keys=frozenset({*DUPLICATE_COPIES, "original_epochs_run"}))  # written even when the original lacks them
    folder.publish(spec, train_config, metrics.to_dict())
    tune.report({**result, "status": DUPLICATE_STATUS})  # the original's values; the progress view says duplicate


def _end_with_error(folder: TrialFolder, spec: dict, train_config, base: dict, started: float, message: str) -> None:
    """Record status ``error`` with ``message`` and report the trial once, as infeasible and worst."""
    from ray import tune

    metrics = TrialRecord(**base, status="error", message=message, epochs_run=0, wall_time=time.time() - started,
                          ended_at=time.time())
    folder.publish(spec, train_config.to_dict(), metrics.to_dict())
    tune.report({"epoch": 0, "val_acc": 0.0, "val_loss": math.inf, "params": base.get("params", 0), "flops": 0,
                 "status": "error", "feasible": False})


def earlier_training(trials: Location, own: str, wanted: str):
    """Another trial folder of the run (than ``own``) that trained the training ``wanted`` (a ``training_id``):
    ``(its Location, the result to report)`` for one that completed, ``(its Location, None)`` for one cut
    short that left a resumable state; None when there is neither."""
    unfinished = None
    for name in sorted(trials.list()):
        if name == own:
            continue
        other = TrialFolder(trials / name)
        try:
            record = read_record(other.path)
        except ValueError:
            continue
        if record is None or record.training_id != wanted:
            continue
        if record.status == "completed":
            return other.location, _finished_record(other)
        if record.status not in FINAL_STATUSES and other.location.is_file(RESUME_FILE):
            unfinished = (other.location, None)
    return unfinished


def _finished_record(folder: TrialFolder) -> dict | None:
    """The metrics to report for a trial whose folder says it already completed or diverged."""
    record = read_record(folder.path)
    if record is None or record.status not in FINAL_STATUSES:
        return None
    final = record.final or {}
    val_loss = final.get("val_loss")
    return {"epoch": final.get("epoch", record.epochs_run), "val_acc": final.get("val_acc", 0.0),
            "val_loss": math.inf if val_loss is None else val_loss, "train_loss": final.get("train_loss", math.nan),
            "best_val_acc": (record.best or {}).get("val_acc") or 0.0,
            "params": 0 if record.params is None else record.params, "flops": record.flops or 0,
            "status": record.status, "feasible": bool(record.feasible), **(record.constraints or {})}


def device_record(requested: str = "auto") -> dict:
    """The GPUs Ray assigned to this trial and the torch device it trains on (``TrainConfig.device``).

    Ray schedules GPU fractions and sets ``CUDA_VISIBLE_DEVICES``; torch is asked for a GPU only when it
    sees one (``nas.train.resolve_device``). A trial given GPUs that torch cannot see (a cluster that
    declares GPUs it lacks, a driver problem) trains on the CPU and says so in ``device_note``.
    """
    import ray

    from nas.train import resolve_device

    gpu_ids = [str(i) for i in ray.get_gpu_ids()]
    try:
        device = str(resolve_device(requested))
    except ValueError:
        device = "cpu"
    note = ""
    if gpu_ids and not device.startswith("cuda"):
        note = f"fell back to CPU: Ray assigned GPU {','.join(gpu_ids)} but torch sees no GPU"
    return {"gpu_ids": gpu_ids, "device": device, "device_note": note}


def _scheme_name(plan) -> str:
    from nas.families.registry import family_of

    return family_of(plan.scheme).display_name(plan.scheme)


def trial_flops(model, data) -> int:
    """Forward FLOPs per sample of ``model`` on a validation batch, on the model's device."""
    from nas.train import forward_flops

    device = next(model.parameters()).device
    example, _ = next(iter(data.val.batches(2, device=device)))
    return forward_flops(model, example)


def threads_for(cpus_per_trial: float) -> int:
    """torch threads inside a trial: its CPU share (at least 1), so concurrent trials do not oversubscribe."""
    return max(1, min(int(cpus_per_trial), os.cpu_count() or 1))


__all__ = ["TrialSetup", "train_trial", "report_duplicate", "threads_for", "read_resume_state", "exit_if_orphaned",
           "trial_flops", "RESUME_FILE"]
