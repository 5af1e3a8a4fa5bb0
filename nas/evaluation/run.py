"""``evaluate(run, ...)`` / ``nas evaluate RUN``: the final-evaluation protocol of a search run.

In this order:

1. check everything before writing anything: the run folder (``trials.csv``, ``search.json``), the flags
   (``top`` ≥ 1, ``seeds`` ≥ 2 so that the difference against ResNet has an interval, ``epochs`` ≥ 1,
   resources), the candidates (``nas.evaluation.selection``: the K best distinct architectures at the full
   budget, the baselines, a plain ResNet) and every network against the budgets; for ``resume``, that the
   saved plan was written by ``nas evaluate`` for this run and that every saved training state loads as
   plain tensors (``weights_only``);
2. write ``<run>/evaluation/plan.json`` (the candidates with their specs, the seeds and the rule that chose
   them: a resumed evaluation retrains exactly this plan, whatever the run's trials say by then);
3. run one Ray Tune trial per (architecture, seed) pair (``nas.evaluation.trainable``), in parallel, in the
   Tune driver of ``nas search`` (``nas.driver``: ``EvaluationCommand`` is the evaluation's own parts; the
   cluster, resources, resume checks and signal handling are the driver's);
4. write ``<run>/evaluation.csv`` and ``evaluation.json`` (``nas.evaluation.summary``).

Storage: the run is a local folder, a run name under ``storage`` (``results/`` by default; ``--results-root``
is its older name), or a storage URI (``s3://bucket/prefix/run``, or a run name with ``storage`` a URI:
``nas.storage``, as ``nas search --storage``). The run's records are read from a local copy
(``nas.leaderboard.resolve_run``); everything the evaluation writes -- ``evaluation/`` (the plan, one trial
folder per pair with its resumable state, Tune's experiment through ``Location.tune_storage``),
``evaluation.csv`` / ``evaluation.json`` -- goes through ``nas.storage`` to the run's own storage, so a trial
on any node of a cluster writes there and a resume from another machine finds it. Library chatter (Ray's
token-authentication banner, Tune's logs, warnings) goes to ``evaluation/evaluation.log``
(``nas.driver.logs.run_log``), not to the terminal.

A run has one driver (``nas.driver_lock``): the evaluation holds the run's ``driver.lock`` while it runs, so
it is refused while the run's search (or another evaluation of it) runs, and vice versa.

Seeds are fresh (``nas.evaluation.seeds``): N seeds from 1000 up (``first_seed``) that no trial of the run
trained, or an explicit ``seed_list`` that holds none of the search's seeds; a seed that won a selection is
optimistically biased (Lindauer & Hutter 2020), so the search's own seeds never enter the evaluation. The seed
is the training seed (initialisation, shuffling, augmentation, stochastic layers); the data splits stay those
of the run (``search.json`` ``data``), so every model is scored on the same test split, which the search never
saw. The run's trials are not touched.

``resume=True`` continues an evaluation killed or interrupted midway: completed pairs are reported from their
records (never trained twice), unfinished ones continue from their last epoch (``Tuner.restore`` when Tune's
experiment state exists; Ray unpickles it, so files this user's nas did not sign are refused unless
``trust_run_folder``, ``nas.driver.signatures``). SIGINT / SIGTERM stop
gracefully: unfinished pairs are recorded ``interrupted`` and ``Interrupted`` names the resume command
(exit status 130 / 143 in the CLI).
"""
from __future__ import annotations

import datetime
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from nas.driver import PreparedRun, TrialFunction, TuneCommand, TuneRequest, TuneSettings, drive
from nas.driver_lock import DriverLock
from nas.limits import MAX_EPOCHS, MAX_SEEDS, MAX_TOP, MAX_TRIALS, check_count
from nas.safe_load import read_json_at
from nas.storage import Location, is_uri

from . import seeds as seed_rules
from . import selection, summary
from .trainable import EvaluationSetup, job_folder, job_key, train_pair

FORMAT = "nas.evaluation.plan/1"
EVALUATION_FOLDER = "evaluation"
PLAN_FILE = "plan.json"
LOG_FILE = "evaluation.log"  # in evaluation/: library chatter (nas.driver.logs.run_log)
DEFAULT_TOP = 3
DEFAULT_SEEDS = 5
MIN_SEEDS = 2  # a confidence interval of a paired difference needs two pairs
MAX_FAILURES = 2  # Tune retries a pair whose worker died; it continues from its saved state


@dataclass(frozen=True)
class EvaluationResult:
    run_dir: object  # a local Path, or the run's nas.storage.Location on an object store
    rows: object  # pandas DataFrame of evaluation.csv
    summary: dict  # evaluation.json

    @property
    def csv(self):
        """``evaluation.csv``: a local Path (a ``Location`` of the file on an object store)."""
        return self.run_dir / summary.CSV_FILE

    @property
    def json(self):
        return self.run_dir / summary.JSON_FILE


def _positive_int(value, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        extra = f" (at least {minimum}: the interval of the difference against ResNet needs two seeds)" \
            if name == "--seeds" else ""
        raise ValueError(f"{name}: must be an integer >= {minimum}{extra}, got {value!r}")
    return value if maximum is None else check_count(value, name, maximum, minimum)  # each unit is training


def _resources_flags(cpus_per_trial, gpus_per_trial) -> tuple[float, object]:
    from nas.search.space import parse_gpus

    cpus = 1.0 if cpus_per_trial is None else cpus_per_trial
    if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or not cpus > 0:
        raise ValueError(f"--cpus-per-trial: must be a positive number, got {cpus!r}")
    gpus = "auto" if gpus_per_trial is None else parse_gpus(gpus_per_trial, "--gpus-per-trial")
    return float(cpus), gpus


def evaluate(run, *, top: int | None = None, seeds: int | None = None, epochs: int | None = None,
             resume: bool = False, address: str | None = None, cpus_per_trial: float | None = None,
             gpus_per_trial=None, results_root="results", progress: bool = True,
             storage: str | None = None, seed_list=None, first_seed: int | None = None,
             trust_run_folder: bool = False) -> EvaluationResult:
    """Retrain the ``top`` best distinct architectures of ``run`` and its baselines with ``seeds`` seeds each
    (``epochs``: the run's full budget unless given) and score them on the test split; see the module
    docstring. The seeds are fresh: ``seeds`` of them from ``first_seed`` (1000 unless given) up, skipping any
    a trial of the run trained, or exactly ``seed_list`` (a list of integers or "1000,1001,..."; refused if
    the search trained one of them). ``run`` is a run folder, a storage URI (``s3://bucket/prefix/run``) or a
    run name under ``storage`` (a folder or a storage URI, as ``nas search --storage``; ``results_root`` is its
    older name: give one of them). The evaluation is written beside the run, in the run's storage.
    ``trust_run_folder``: resume even when the Tune experiment files are not signed by this user's ``nas``
    (``nas.driver.signatures``)."""
    if storage is not None and str(results_root) != "results":
        raise ValueError("--storage: give either --storage or --results-root, not both")
    if isinstance(seed_list, str):
        seed_list = seed_rules.parse_seed_list(seed_list)
    elif seed_list is not None and not isinstance(seed_list, (list, tuple)):
        raise ValueError(f"--seed-list: expected a list of integers, got {seed_list!r}")
    flags = {"top": top, "seeds": seeds, "epochs": epochs, "first_seed": first_seed,
             "seed_list": None if seed_list is None else list(seed_list)}
    request = EvaluationRequest(run=run, flags=flags, resume=resume, address=address,
                                cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
                                storage=results_root if storage is None else storage,
                                storage_option="--results-root" if storage is None else "--storage",
                                progress=progress, trust_run_folder=trust_run_folder)
    return drive(EvaluationCommand(), request)


@dataclass(frozen=True, kw_only=True)
class EvaluationRequest(TuneRequest):
    """``evaluate(...)`` / ``nas evaluate`` as asked (``flags``: top, seeds, epochs, first_seed, seed_list)."""

    run: object  # a run folder, a storage URI or a run name under ``storage``
    cpus_per_trial: float | None = None
    gpus_per_trial: object = None


@dataclass(frozen=True)
class EvaluatedRun:
    """The run an evaluation reads (``EvaluationCommand.locate``)."""

    location: Location  # the run's own storage: the evaluation is written there
    local_run: Path  # a local folder with the run's records (a temporary copy for a run in an object store)
    search: dict  # the run's search.json
    cpus: float
    gpus: object


@dataclass(frozen=True, kw_only=True)
class PreparedEvaluation(PreparedRun):
    """An evaluation once checked: its plan (the saved one on resume) and its (architecture, seed) pairs."""

    location: Location  # the run: evaluation.csv and evaluation.json go beside its trials
    plan: dict
    jobs: dict  # job key -> {"candidate": ..., "seed": ...}


class EvaluationCommand(TuneCommand):
    """``nas evaluate`` in the Tune driver (``nas.driver``): one trial per (architecture, seed) pair."""

    name = "nas evaluate"
    log_file = LOG_FILE

    def locate(self, request: EvaluationRequest) -> EvaluatedRun:
        from nas import leaderboard

        for name, minimum, maximum in (("top", 1, MAX_TOP), ("seeds", MIN_SEEDS, MAX_SEEDS),
                                       ("epochs", 1, MAX_EPOCHS)):
            if request.flags[name] is not None:
                _positive_int(request.flags[name], f"--{name}", minimum, maximum)
        cpus, gpus = _resources_flags(request.cpus_per_trial, request.gpus_per_trial)
        location = run_location(request.run, request.storage, request.storage_option)
        # The run's records are read from a local folder (a temporary copy for a run in an object store); the
        # evaluation is written to the run's own storage (``location``).
        local_run = leaderboard.resolve_run(location.uri if location is not None else request.run, request.storage)
        if location is None:
            location = Location.from_uri(local_run)
        return EvaluatedRun(location=location, local_run=local_run, search=leaderboard.read_search_config(local_run),
                            cpus=cpus, gpus=gpus)

    def lock(self, run: EvaluatedRun) -> DriverLock:
        # the run's lock: a search or another evaluation of this run is refused, naming it
        return super().lock(run.location)

    def prepare(self, request: EvaluationRequest, run: EvaluatedRun) -> PreparedEvaluation:
        from nas.export import dataset_options

        folder = run.location / EVALUATION_FOLDER
        restoring = request.resume and folder.is_file(PLAN_FILE)
        plan = (_resumed_plan(folder, run.location.name, request.flags) if restoring
                else _new_plan(folder, run, request.flags))
        data_options = dataset_options(run.search)
        _check_networks(plan, data_options)
        jobs = {job_key(c["architecture_id"], seed): {"candidate": c, "seed": seed}
                for c in plan["candidates"] for seed in plan["seeds"]}
        return PreparedEvaluation(name=run.location.name, folder=folder, start_file=PLAN_FILE, restoring=restoring,
                                  cpus_per_trial=run.cpus, gpus_per_trial=run.gpus, data_request=data_options,
                                  location=run.location, plan=plan, jobs=jobs)

    def begin(self, prepared: PreparedEvaluation, resources: dict) -> None:
        if not prepared.restoring:
            prepared.folder.write_json(PLAN_FILE, {**prepared.plan, "resources": resources,
                                                   "data": prepared.data.spec,
                                                   "created": datetime.datetime.now(datetime.timezone.utc)
                                                   .isoformat(timespec="seconds")})

    def trial_function(self, prepared: PreparedEvaluation, resources: dict) -> TrialFunction:
        from nas.search.trainable import threads_for

        # The folder travels as its URI: each worker rebuilds the storage and writes there, on any node.
        setup = EvaluationSetup(run=prepared.name, evaluation_dir=prepared.folder.uri, jobs=prepared.jobs,
                                epochs=prepared.plan["epochs"], threads=threads_for(resources["cpu"]))
        return TrialFunction(train_pair, setup, resources)

    def tune_settings(self, prepared: PreparedEvaluation, resources: dict, progress: bool) -> TuneSettings:
        from ray import tune

        from nas.driver.cluster import trials_that_fit
        from nas.search.progress import JobNames, ProgressView

        jobs = prepared.jobs
        return TuneSettings(
            param_space={"job": tune.grid_search(list(jobs))},
            tune_config=dict(num_samples=1, max_concurrent_trials=min(trials_that_fit(resources), len(jobs)),
                             trial_dirname_creator=_job_dirname),
            max_failures=MAX_FAILURES,
            # one line per finished (architecture, seed) pair, with the time
            callbacks=(ProgressView(len(jobs), "val_acc", "max", name=JobNames(jobs)),) if progress else ())

    def describe(self, prepared: PreparedEvaluation, per_trial: str) -> str:
        plan = prepared.plan
        return (f"{len(plan['candidates'])} architectures x {len(plan['seeds'])} seeds, {plan['epochs']} epochs "
                f"each ({per_trial} per trial)")

    def record(self, prepared: PreparedEvaluation, grid, interrupted_by: str | None) -> EvaluationResult:
        folder, jobs, plan, location = prepared.folder, prepared.jobs, prepared.plan, prepared.location
        if interrupted_by:
            _mark_interrupted(folder, jobs, interrupted_by)
        rows = summary.collect_rows(folder, jobs, unfinished_status="interrupted" if interrupted_by else "error")
        frame = summary.write_csv(location, rows)
        complete = bool((frame["status"] == "completed").all())
        document = summary.summarise(frame, plan["candidates"], plan["resnet"], run=prepared.name,
                                     seeds=plan["seeds"], epochs=plan["epochs"], complete=complete,
                                     wall_time=time.time() - prepared.started,
                                     seed_rule=plan.get("seed_rule") or seed_rules.legacy_rule())
        summary.write_json(location, document)
        return EvaluationResult(location.local_path or location, frame, document)

    def show(self, request: EvaluationRequest, prepared: PreparedEvaluation, result: EvaluationResult) -> None:
        print(summary.format_summary(result.summary), flush=True)

    def resume_command(self, request: EvaluationRequest, run: EvaluatedRun) -> str:
        return resume_command(request.run, request.storage, dict(request.flags), request.address,
                              request.storage_option)


def _resumed_plan(folder: Location, run_name: str, flags) -> dict:
    """The plan a resumed evaluation recorded; flags given again must agree with it."""
    plan = read_plan(folder, run_name)
    rule = plan.get("seed_rule") or seed_rules.legacy_rule()
    wanted = {"top": plan["top"], "seeds": len(plan["seeds"]), "epochs": plan["epochs"],
              "first_seed": rule.get("first_seed"), "seed_list": plan["seeds"]}
    changed = [k for k, v in flags.items() if v is not None and v != wanted[k]]
    if changed:  # a resumed evaluation keeps the seeds recorded at its start, whatever the run holds now
        raise ValueError(f"--resume: the evaluation was started with "
                         f"{', '.join(_flag_text(k, wanted[k]) for k in changed)}; a resumed evaluation "
                         "keeps its settings")
    return plan


def _new_plan(folder: Location, run: EvaluatedRun, flags) -> dict:
    """A new evaluation's plan: the candidates, fresh seeds and the rule that chose them, the epochs."""
    run_name = run.location.name
    if folder.list():
        raise ValueError(f"{folder} already holds an evaluation of run {run_name}; continue it with "
                         "--resume, or move it away to start again")
    top = DEFAULT_TOP if flags["top"] is None else flags["top"]
    chosen, rule = seed_rules.choose(flags["seeds"], flags["seed_list"], flags["first_seed"],
                                     seed_rules.search_seeds(run.local_run), default_count=DEFAULT_SEEDS,
                                     minimum=MIN_SEEDS)
    candidates, note = selection.select(run.local_run, top)
    epochs = selection.run_epochs(run.search) if flags["epochs"] is None else flags["epochs"]
    if len(candidates) * len(chosen) > MAX_TRIALS:
        raise ValueError(f"--seeds: {len(candidates)} architectures x {len(chosen):,} seeds are "
                         f"{len(candidates) * len(chosen):,} training runs, more than the limit of "
                         f"{MAX_TRIALS:,}")
    return {"format": FORMAT, "run": run_name, "top": top, "seeds": chosen, "seed_rule": rule,
            "epochs": epochs, "resnet": note, "candidates": [c.to_dict() for c in candidates]}


def _job_dirname(trial) -> str:
    return f"job_{trial.config['job']}"


def resume_command(run, results_root, flags: dict, address: str | None, option: str = "--results-root") -> str:
    parts = ["nas", "evaluate", str(run)]
    if str(results_root) != "results":
        parts += [option, str(results_root)]
    for flag, value in flags.items():
        if value is not None:
            parts += [_flag_name(flag), _flag_value(value)]
    if address:
        parts += ["--address", address]
    return shlex.join([*parts, "--resume"])


def _flag_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def _flag_value(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _flag_text(key: str, value) -> str:
    return f"no {_flag_name(key)}" if value is None else f"{_flag_name(key)} {_flag_value(value)}"


def run_location(run, results_root, option: str = "--results-root") -> Location | None:
    """The storage ``Location`` of a run given as a URI or as a run name under a storage URI; None for a
    local run (``nas.leaderboard.resolve_run`` finds it, as before)."""
    if is_uri(str(run)):
        return Location.from_uri(str(run), f"run {str(run)!r}")
    if is_uri(str(results_root)) and not Path(str(run)).is_absolute():
        from nas.paths import check_run_name

        return Location.from_uri(str(results_root), option) / check_run_name(str(run), f"run {str(run)!r}")
    return None


def read_plan(folder, run_name: str) -> dict:
    """``evaluation/plan.json`` of an evaluation to resume (``folder``: the evaluation folder, a path or a
    ``nas.storage.Location``), refused unless ``nas evaluate`` wrote it."""
    from nas.network_kinds import spec_from_dict
    from nas.train import TrainConfig

    folder = Location.from_uri(folder)
    path = folder.display(PLAN_FILE)
    plan = read_json_at(folder, PLAN_FILE, f"--resume: {path}")
    candidates = plan.get("candidates")
    ok = (plan.get("format") == FORMAT and plan.get("run") == run_name and isinstance(candidates, list)
          and candidates and isinstance(plan.get("seeds"), list) and isinstance(plan.get("resnet"), dict)
          and all(isinstance(s, int) and not isinstance(s, bool) for s in plan["seeds"])
          and all(isinstance(plan.get(k), int) for k in ("top", "epochs"))
          and isinstance(plan.get("seed_rule", {}), dict))  # plans from before fresh seeds have no seed_rule
    if ok:
        try:
            for c in candidates:
                selection.Candidate.from_dict(c)
                spec_from_dict(c["spec"])
                TrainConfig.from_dict(c["train_config"])
        except (ValueError, TypeError, KeyError, AttributeError):
            ok = False
    if not ok:
        raise ValueError(f"--resume: {path} was not written by nas evaluate for run {run_name!r} (expected format "
                         f"{FORMAT!r} with keys run, top, seeds, epochs, resnet, candidates)")
    return plan


def _check_networks(plan: dict, data_options: dict) -> None:
    """Each network against the data set and the budgets (``nas.limits``), on torch's meta device."""
    from nas import data_info
    from nas.network_kinds import check, spec_from_dict

    info = data_info.check_request(**data_options)
    for candidate in plan["candidates"]:
        where = f"architecture {candidate['label']} ({candidate['architecture_id']})"
        spec = spec_from_dict(candidate["spec"])
        if spec.num_classes != info.num_classes or spec.in_channels != info.in_channels:
            raise ValueError(f"{where}: expects {spec.in_channels} input channels and {spec.num_classes} classes; "
                             f"the run's data set has {info.in_channels} and {info.num_classes}")
        check(spec, input_shape=info.input_shape, batch_size=candidate["train_config"].get("batch_size", 128),
              where=where)


def _mark_interrupted(folder: Location, jobs: dict, signal_name: str) -> None:
    note = f"interrupted by {signal_name}; nas evaluate --resume continues it"
    for key in jobs:
        trial = job_folder(folder.uri, key)
        metrics = trial.exists and read_json_at(trial.location, "metrics.json")
        if metrics and metrics.get("status") == "training":
            trial.update_metrics({**metrics, "status": "interrupted", "message": note})


__all__ = ["evaluate", "EvaluationResult", "EvaluationRequest", "EvaluationCommand", "resume_command", "read_plan",
           "DEFAULT_TOP",
           "DEFAULT_SEEDS", "MIN_SEEDS", "EVALUATION_FOLDER", "PLAN_FILE", "LOG_FILE", "run_location"]
