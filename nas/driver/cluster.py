"""The Ray cluster a command runs its Tune trials on, and what each trial asks of it.

Shared by ``nas search`` and ``nas evaluate``: an embedded Ray (``address="local"``: always a new instance,
never a stray ``ray start`` cluster on this machine; all local CPUs, no dashboard) or a joined cluster, and
per-trial CPUs / GPUs checked against what the cluster has. A GPU is requested only when the cluster has
one (Ray waits forever for a GPU that does not exist; STACK.md).
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading

from nas.limits import budget_environment
from nas.messages import one_line

EXPERIMENT_FOLDER = "tune"  # Tune's experiment inside a run (or evaluation) folder


def start_ray(address: str | None) -> bool:
    """Join ``address`` or start an embedded Ray on all local CPUs; returns True when we started it."""
    import ray

    if ray.is_initialized():
        return False
    options = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if budget_environment():  # raised budgets (nas.limits) hold in the trials too
        options["runtime_env"] = {"env_vars": budget_environment()}
    if address:
        try:
            ray.init(address=address, **options)
        except ConnectionError as exc:
            raise ValueError(f"--address: cannot join a Ray cluster at {address!r}: {exc}") from None
    else:
        try:
            with _termination_left_to_the_driver():
                ray.init(address="local", num_cpus=os.cpu_count() or 1, **options)
        except Exception as exc:  # noqa: BLE001 -- Ray reports a failed start-up as any of several types
            # (RuntimeError, ConnectionError, a bare Exception on a start-up timeout, OSError for a socket path)
            raise RayUnavailable(f"cannot start Ray on this machine: {one_line(exc)}") from None
    return True


@contextlib.contextmanager
def _termination_left_to_the_driver():
    """Start the embedded Ray with SIGTERM blocked, so that its processes (GCS, raylet, and the workers the raylet
    starts) inherit it blocked, as Ray itself blocks SIGINT in them.

    ``timeout``, systemd and Slurm send SIGTERM to every process of the job, not only to the driver: Ray's
    processes died first and the driver, whose graceful stop needs them, hung and exited 1. With the signal
    blocked there, only the driver acts on it (``nas.interrupt``: Tune's graceful stop, outputs, exit 143) and
    then shuts Ray down, which ends its processes with SIGKILL after a short wait. A signal that arrives while Ray
    starts stays pending and is delivered to the driver's own handler (restored first: ``ray.init`` installs a
    C++ handler for SIGTERM that prints a stack and aborts)."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            if callable(handler):  # a Python handler (nas.interrupt's in the CLI) takes its signal back
                signal.signal(signum, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class RayUnavailable(OSError):
    """The embedded Ray did not start (an environment problem, not bad input): one line and exit 2 in the CLI."""


def trial_resources(cpus_per_trial: float, gpus_per_trial) -> dict:
    """Per-trial resources on the running cluster (``gpus_per_trial`` may be ``"auto"``: one GPU if any)."""
    import ray

    gpus_available = ray.cluster_resources().get("GPU", 0)
    gpus = gpus_per_trial
    if gpus == "auto":
        gpus = 1.0 if gpus_available >= 1 else 0.0
    elif gpus > 0 and gpus_available == 0:
        raise ValueError(f"--gpus-per-trial: {gpus} requested but the Ray cluster has no GPU")
    elif gpus > gpus_available:
        raise ValueError(f"--gpus-per-trial: {gpus} requested but the Ray cluster has {gpus_available} GPU(s)")
    cpus_available = ray.cluster_resources().get("CPU", 0)
    if cpus_per_trial > cpus_available:
        raise ValueError(f"--cpus-per-trial: {cpus_per_trial} requested but the Ray cluster has {cpus_available} "
                         "CPU(s)")
    return {"cpu": cpus_per_trial, "gpu": gpus}


def check_local_resources(cpus_per_trial: float, gpus_per_trial) -> None:
    """Before Ray starts: the embedded cluster has this machine's CPUs and GPUs (``trial_resources`` checks
    a joined cluster once connected)."""
    cpus = os.cpu_count() or 1
    if cpus_per_trial > cpus:
        raise ValueError(f"--cpus-per-trial: {cpus_per_trial:g} requested but this machine has {cpus} "
                         "CPU(s) (the embedded Ray uses this machine only)")
    if gpus_per_trial != "auto" and gpus_per_trial > 0:
        import torch

        available = torch.cuda.device_count()
        if gpus_per_trial > available:
            raise ValueError(f"--gpus-per-trial: {gpus_per_trial:g} requested but this machine has {available} "
                             "GPU(s)")


def trials_that_fit(resources: dict) -> int:
    """How many trials with ``resources`` the cluster runs at once (at least 1)."""
    import ray

    total = ray.cluster_resources()
    fits = int(total.get("CPU", 1) // resources["cpu"])
    if resources["gpu"] > 0:
        fits = min(fits, int(total.get("GPU", 0) // resources["gpu"]))
    return max(1, fits)


def check_experiment_signatures(folder, trust: bool = False) -> None:
    """Before Ray starts: the Tune experiment in ``folder``/``tune`` (if any) carries this user's signatures
    (``nas.driver.signatures``; ``trust``: adopt it instead). ``tune_experiment`` checks again just before the
    restore."""
    from .signatures import verify_experiment

    storage_path, base = folder.tune_storage()
    verify_experiment(base, storage_path, EXPERIMENT_FOLDER, folder.display, trust)


def tune_experiment(folder, trainable, restoring: bool, trust: bool = False):
    """The Tune experiment kept in ``folder``/``tune`` (a ``nas.storage.Location``): ``(tuner, storage)``,
    ``tuner`` being the restored ``Tuner`` when ``restoring`` and Tune can restore it (errored trials are
    retried), else None, and ``storage`` the ``RunConfig`` keywords of a new one. Local folders get a file
    system whose copies are atomic (a killed driver must not leave a half-copied experiment state); object
    stores their own, where every PUT is atomic. Either is wrapped so that the driver signs the files Tune's
    restore unpickles, and a restore first checks those signatures (``nas.driver.signatures``; ``trust``:
    ``--trust-run-folder``, restore without the check)."""
    from ray import tune

    from .signatures import signing_filesystem, verify_experiment

    storage_path, base = folder.tune_storage()
    filesystem = signing_filesystem(base, storage_path, EXPERIMENT_FOLDER)
    storage = {"name": EXPERIMENT_FOLDER, "storage_path": storage_path, "storage_filesystem": filesystem}
    experiment = f"{storage_path}/{EXPERIMENT_FOLDER}"
    if restoring and tune.Tuner.can_restore(experiment, storage_filesystem=base):
        verify_experiment(base, storage_path, EXPERIMENT_FOLDER, folder.display, trust)  # before any unpickling
        return tune.Tuner.restore(experiment, trainable=trainable, resume_errored=True,
                                  storage_filesystem=filesystem), storage
    return None, storage


__all__ = ["start_ray", "RayUnavailable", "check_experiment_signatures", "trial_resources", "check_local_resources",
           "trials_that_fit", "tune_experiment", "EXPERIMENT_FOLDER"]
