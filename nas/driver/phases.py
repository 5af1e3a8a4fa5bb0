"""``drive(command, request)``: the three phases of a Ray Tune command (see ``nas.driver``).

``drive`` owns the order and what every command shares (signals, the run's lock, the resume hint);
``_prepare``, ``_execute`` and ``_finish`` are the phases; ``_tune`` is Ray's lifecycle around ``tuner.fit()``.
Ray, Tune and the cluster helpers are imported when a run starts: importing a command stays cheap.
"""
from __future__ import annotations

import signal
import time
from dataclasses import replace

from nas.interrupt import Interrupted, catch_signals

from .command import TuneCommand
from .request import PreparedRun, TuneRequest
from .signals import tune_signal_handling


def drive(command: TuneCommand, request: TuneRequest):
    """Run ``command`` for ``request``: prepare (every check before anything is written), execute (Ray and
    Tune), finish (records, outputs, summary); returns what the command's ``record`` returns.

    SIGINT / SIGTERM stop the run gracefully: the command records its unfinished trials and
    ``nas.interrupt.Interrupted`` is raised, its hint naming the command that continues the run once the run is
    located (``TuneCommand.resume_command``)."""
    with catch_signals() as signals:
        run = None
        try:
            run = command.locate(request)
            lock = command.lock(run)
            try:
                prepared = _prepare(command, request, run)
                result = _execute(command, request, prepared, lock, signals)
                return _finish(command, request, prepared, result, signals)
            finally:
                lock.release()
        except Interrupted as exc:
            if run is None:
                raise
            raise exc.with_hint(f"resume with: {command.resume_command(request, run)}") from None


def _prepare(command: TuneCommand, request: TuneRequest, run) -> PreparedRun:
    """Resolve and check everything (the run's lock is held); nothing is written. Then load the data set."""
    from nas.data import load_dataset
    from nas.resumable import check_resume_states
    from nas.driver.cluster import check_experiment_signatures, check_local_resources
    from nas.vocabulary import TRIALS_FOLDER

    prepared = command.prepare(request, run)
    if prepared.restoring:
        check_resume_states(prepared.folder / TRIALS_FOLDER)
        # before Ray starts: Tune's restore unpickles these files
        check_experiment_signatures(prepared.folder, request.trust_run_folder)
    if not request.address:
        check_local_resources(prepared.cpus_per_trial, prepared.gpus_per_trial)
    data = load_dataset(**prepared.data_request)
    return replace(prepared, data=data, started=time.time())


def _execute(command: TuneCommand, request: TuneRequest, prepared: PreparedRun, lock, signals):
    """Run Tune, then let the command record the outcome; returns the command's result. Library chatter (Ray's
    token-authentication banner, Tune and Optuna logs, warnings) goes to the run's log throughout."""
    from nas.driver.logs import quiet_libraries, run_log

    quiet_libraries()
    folder = prepared.folder
    with run_log(folder, command.log_file, keep=lambda: folder.is_file(prepared.start_file)):
        try:
            grid = _tune(command, request, prepared, signals)
        except BaseException:
            if not prepared.restoring:
                command.discard(prepared, lock)
            raise
        # Recorded once every worker is gone (an embedded Ray is shut down): no trial rewrites its folder now.
        interrupted_by = None if signals.received is None else signal.Signals(signals.received).name
        return command.record(prepared, grid, interrupted_by)


def _tune(command: TuneCommand, request: TuneRequest, prepared: PreparedRun, signals):
    """Start an embedded Ray (or join ``request.address``), run the Tuner, shut that Ray down; returns Tune's
    ``ResultGrid``."""
    import ray

    from nas.driver.cluster import start_ray, trial_resources
    from nas.driver.shared_storage import check_shared_storage

    started_ray = start_ray(request.address)
    signals.reinstall()  # Ray's start replaced our handlers
    try:
        check_shared_storage(prepared.folder, request.address)  # on a multi-node cluster, a folder every node sees
        resources = trial_resources(prepared.cpus_per_trial, prepared.gpus_per_trial)
        command.begin(prepared, resources)
        tuner = _tuner(command, request, prepared, resources)
        if request.progress:
            per_trial = f"{resources['cpu']:g} CPU" + (f" + {resources['gpu']:g} GPU" if resources["gpu"] else "")
            print(f"{command.name}: run {prepared.name!r}: {command.describe(prepared, per_trial)} "
                  f"-> {prepared.folder}", flush=True)
        with tune_signal_handling(signals):
            return tuner.fit()
    finally:
        if started_ray:
            ray.shutdown()


def _tuner(command: TuneCommand, request: TuneRequest, prepared: PreparedRun, resources: dict):
    """The run's Tuner: restored from its experiment (signed files only, ``nas.driver.cluster.tune_experiment``)
    or new, with the command's settings."""
    from ray import tune

    from nas.driver.cluster import tune_experiment

    trial = command.trial_function(prepared, resources)
    trainable = tune.with_resources(tune.with_parameters(trial.function, data=prepared.data, setup=trial.setup),
                                    trial.resources)
    tuner, tune_storage = tune_experiment(prepared.folder, trainable, prepared.restoring, request.trust_run_folder)
    if tuner is not None:
        return tuner
    settings = command.tune_settings(prepared, resources, request.progress)
    return tune.Tuner(
        trainable, param_space=None if settings.param_space is None else dict(settings.param_space),
        tune_config=tune.TuneConfig(**settings.tune_config, reuse_actors=True),
        run_config=tune.RunConfig(**tune_storage, verbose=0, callbacks=list(settings.callbacks),
                                  failure_config=tune.FailureConfig(max_failures=settings.max_failures),
                                  # markers only (nas.resumable): keep them all, Tune never deletes one it needs
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=None)))


def _finish(command: TuneCommand, request: TuneRequest, prepared: PreparedRun, result, signals):
    """The outputs are written: an interrupted run raises ``Interrupted`` now; a finished one shows its summary."""
    signals.check()
    if request.progress:
        command.show(request, prepared, result)
    return result


__all__ = ["drive"]
