"""The search driver: Ray Tune runs the trials, Optuna's sampler proposes them, ASHA stops bad ones early.

``run(space, ...)`` (and ``nas search``) builds a ``SearchRequest`` (a frozen value) and runs ``SearchCommand``,
the search's own parts, in the Tune driver shared with ``nas evaluate`` (``nas.driver``: prepare, execute,
finish). In this order:

1. read and validate everything before writing anything: the space (``nas.safe_yaml``), the flags and their
   cross-field rules, the run name (``nas.paths``), the data request and every network the space can produce
   against the budgets (``nas.limits``, on torch's meta device), this machine's CPUs / GPUs for an embedded
   Ray; for ``--resume``, that ``search.json`` was written by ``nas search`` and that every trial's saved state
   loads as plain tensors (``weights_only``);
2. build the data set once (it reaches every trial through Ray's object store, ``tune.with_parameters``);
3. start an embedded Ray (all local CPUs, no dashboard) or join ``address``; GPUs are requested only when
   the cluster has them; on a multi-node cluster a local run folder must be seen by every node
   (``nas.driver.cluster``);
4. write ``<storage>/<name>/search.json`` (the resolved configuration) and run a ``tune.Tuner`` with
   ``OptunaSearch`` (study ``<name>`` in ``optuna.db``, or ``--study-storage``; constraints passed to Optuna
   on completion) and ASHA on the primary objective;
5. write ``trials.csv`` (and ``pareto.csv`` for several objectives) and print the leaderboard.

A run has one driver: the run's ``driver.lock`` (``nas.driver_lock``) is taken before its state is read and
given back at the end; a second driver is refused naming the first. A new search that fails before its first
trial wrote its folder (a sampler Ray cannot pickle, Ray failing to start) removes its run folder and study
(``discard_unstarted``), so the same command can simply run again.

The run folder lives in any ``nas.storage`` location (``results/`` by default, a shared folder, or an object
store such as ``s3://bucket/prefix``): Tune's experiment, every trial record and resumable state and the
run files go through it, so trials on any node write to the same place. The Optuna study stays with the
driver (``driver_folder``). Library logs go to the run's ``search.log`` (``nas.driver.logs``).

``resume=True`` continues the run of that name (``Tuner.restore(..., resume_errored=True)``): finished
trials are kept, unfinished ones continue from their last checkpoint, the Optuna study is reloaded. Ray's
restore unpickles its own experiment files: the driver signs them with this user's key as Tune writes them and
a resume refuses any that is unsigned or changed (``nas.driver.signatures``) unless ``trust_run_folder``.

SIGINT / SIGTERM (``nas.interrupt``; also sent to the whole job, as ``timeout``, systemd and Slurm do: the
embedded Ray's processes hold both blocked, ``nas.driver.cluster.start_ray``): Tune's graceful stop saves the
experiment state and stops the trials; the trials it had not finished are recorded as ``interrupted``
(``trials.csv`` and their ``metrics.json``), and ``Interrupted`` is raised with the command that resumes the run
(exit status 130 / 143 in the CLI).
"""
from __future__ import annotations

import datetime
import os
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from nas import data_info
from nas.driver import PreparedRun, TrialFunction, TuneCommand, TuneRequest, TuneSettings, drive
from nas.driver_lock import DriverLock, is_lock_entry
from nas.messages import one_line
from nas.paths import check_output_folder
from nas.resumable import check_resume_states as check_states
from nas.safe_load import read_json_at
from nas.storage import Location, is_uri
from nas.vocabulary import DUPLICATE_STATUS, NOT_STARTED_STATUS

from .budget import check_space
from nas.driver.cluster import trials_that_fit
from .records import (FINAL_STATUSES, TRIALS_FOLDER, TrialFolder, collect_rows, parse_record, read_trial,
                      write_pareto_csv, write_trials_csv)
from .space import (OBJECTIVES, SAMPLERS, SCHEDULERS, SearchSettings, SearchSpace, check_run_name,
                    check_setting, check_settings, load_space)
from .trainable import TrialSetup, threads_for, train_trial

FORMAT = "nas.search/1"
CONFIG_FILE = "search.json"
STUDY_FILE = "optuna.db"
# Settings added after runs were first recorded: a search.json without them takes the space's value.
OPTIONAL_SETTINGS = ("duplicates", "race")


LOG_FILE = "search.log"


@dataclass(frozen=True)
class SearchResult:
    """Where a finished (or interrupted) search wrote its outputs."""

    name: str
    run_dir: object  # a local Path, or the run's storage URI (str) on an object store
    trials: object  # pandas DataFrame of trials.csv
    pareto: object | None = None

    @property
    def trials_csv(self):
        return self.run_dir / "trials.csv" if isinstance(self.run_dir, Path) else f"{self.run_dir}/trials.csv"


def driver_folder(run: Location) -> Path:
    """Where the driver keeps what must stay on its machine for a run on an object store: the Optuna study
    (SQLite) unless ``--study-storage`` names a database. ``$NAS_DRIVER_DIR`` (default ``~/.cache/nas``)
    ``/runs/<scheme>/<bucket>/<prefix>/<name>``. A run in a local or shared folder keeps it in the run folder."""
    if run.is_local:
        return run.local_path
    root = Path(os.environ.get("NAS_DRIVER_DIR") or Path.home() / ".cache" / "nas").expanduser()
    scheme = run.uri.split("://", 1)[0]
    return root / "runs" / scheme / run.path


def study_storage_url(run: Location, study_storage: str | None) -> str:
    """The Optuna storage URL of a run: ``--study-storage`` when given, else SQLite ``optuna.db`` in the run
    folder (local or shared storage) or in ``driver_folder`` (object store)."""
    if study_storage:
        return study_storage
    return f"sqlite:///{driver_folder(run) / STUDY_FILE}"


def fetch_study_copy(run: Location) -> bool:
    """Resuming an object-store run on a driver that lacks its study: start from the copy the last search
    left beside the run (``optuna.db``, uploaded when a search ends or is interrupted). Returns True when
    it was fetched. A driver killed with SIGKILL uploads nothing: resume it where it ran, or use
    ``--study-storage``."""
    local = driver_folder(run) / STUDY_FILE
    if local.exists() or not run.is_file(STUDY_FILE):
        return False
    from nas import atomic

    atomic.write_bytes(local, run.read_bytes(STUDY_FILE))
    return True


def check_study_storage(url) -> str | None:
    """``--study-storage``: an SQLAlchemy database URL (``sqlite:///abs.db``, ``postgresql://...``), checked
    before anything is written: its kind of database and driver exist here, and an SQLite file can be created
    or written where it points. (A network database is not contacted here.)"""
    if url is None:
        return None
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"--study-storage: expected a database URL such as sqlite:////abs/path/optuna.db or "
                         f"postgresql://user@host/db, got {url!r}")
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"--study-storage: {exc}") from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        create_engine(parsed).dispose()  # loads the dialect and its driver; connects to nothing
    except NoSuchModuleError:
        raise ValueError(f"--study-storage: unknown kind of database {parsed.drivername!r} in {shown} (e.g. "
                         "sqlite:////abs/path/optuna.db, postgresql://user@host/db)") from None
    except ImportError as exc:
        raise ValueError(f"--study-storage: {shown}: the database driver is not installed ({exc})") from None
    except (ArgumentError, TypeError, ValueError) as exc:
        raise ValueError(f"--study-storage: {shown}: {one_line(exc)}") from None
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_file(parsed.database)
    return url


def _check_sqlite_file(database) -> None:
    """An SQLite study file: a file (not memory, not a folder) that exists writable or can be created."""
    if not database or database == ":memory:" or str(database).startswith("file:"):
        raise ValueError("--study-storage: an SQLite study needs a file path (sqlite:////abs/path/optuna.db); an "
                         "in-memory database is lost when the driver ends")
    path = Path(database)
    if path.is_dir():
        raise ValueError(f"--study-storage: {path} is a folder; give the database file")
    # SQLite writes a journal beside the file: its folder must exist and be writable either way.
    if not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise ValueError(f"--study-storage: the folder {path.parent} of the SQLite file {what}")
    if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.R_OK | os.W_OK)):
        raise ValueError(f"--study-storage: cannot write the SQLite file {path} (permission denied)")


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def make_sampler(name: str, seed: int):
    """The Optuna sampler for ``--sampler`` (seeded, picklable: ``nas.search.samplers``)."""
    from .samplers import make_sampler as make

    return make(name, seed)


# The command-line flags that override a setting of the space's ``search`` section.
SETTING_FLAGS = ("trials", "sampler", "scheduler", "objectives", "cpus_per_trial", "gpus_per_trial", "time_budget",
                 "seed")


def _settings(space: SearchSpace, **flags) -> SearchSettings:
    """The space's ``search`` section with command-line values applied (None: keep the space's); a bad value
    is an error naming its flag (``--cpus-per-trial``)."""
    changes = {key: check_setting(key, flags[key], "--" + key.replace("_", "-"))
               for key in SETTING_FLAGS if flags.get(key) is not None}
    settings = replace(space.search, **changes)
    check_settings(settings, space.train)
    return settings


def _check_resume_flags(saved: SearchSettings, wanted: SearchSettings) -> None:
    changed = [k for k, v in wanted.to_dict().items() if saved.to_dict()[k] != v]
    if changed:
        raise ValueError(f"--resume: the run was started with different {', '.join(changed)} "
                         f"({', '.join(f'{k}={saved.to_dict()[k]!r}' for k in changed)}); "
                         "a resumed run keeps its settings")


def _concurrency(settings: SearchSettings, resources: dict) -> int:
    """Trials run at once: what the cluster fits. Tune would otherwise ask the sampler for many trials
    before any result exists, which turns a model-based sampler into random search."""
    limit = trials_that_fit(resources)
    if settings.max_concurrent is not None:
        limit = min(limit, settings.max_concurrent)
    return min(limit, settings.trials)


def _primary(objectives) -> tuple[str, str]:
    return objectives[0], OBJECTIVES[objectives[0]]


def run(space=None, *, name: str | None = None, trials: int | None = None, sampler: str | None = None,
        scheduler: str | None = None, objectives=None, address: str | None = None,
        cpus_per_trial: float | None = None, gpus_per_trial=None, time_budget: float | None = None,
        resume: bool = False, seed: int | None = None, results_dir="results", progress: bool = True,
        leaderboard: bool = True, storage: str | None = None, study_storage: str | None = None,
        trust_run_folder: bool = False) -> SearchResult:
    """Run (or with ``resume=True`` continue) a search; see the module docstring.

    ``space``: a YAML path, a mapping or a ``SearchSpace`` (None: the embedded ``quick.yaml``). The other
    arguments override the space's ``search`` section. Outputs go to ``<storage>/<name>/``: ``storage`` is a
    local or shared folder or an object-store URI (``s3://bucket/prefix``, ``nas.storage``); ``results_dir``
    is its older name for a local folder (give one of them). ``study_storage``: an RDB URL for the Optuna
    study (default: SQLite ``optuna.db`` in the run folder, or in ``driver_folder`` for an object store).

    ``trust_run_folder`` (``--trust-run-folder``): resume even when the Tune experiment files are not signed by
    this user's ``nas`` (``nas.driver.signatures``; without it such a resume is refused, naming the file).

    Every check runs before anything is written. SIGINT / SIGTERM stop the search gracefully: unfinished
    trials are recorded as ``interrupted`` and ``nas.interrupt.Interrupted`` is raised, its hint naming the
    command that continues the run.
    """
    flags = dict(trials=trials, sampler=sampler, scheduler=scheduler, objectives=objectives,
                 cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial, time_budget=time_budget, seed=seed)
    if storage is not None and str(results_dir) != "results":
        raise ValueError("--storage: give either --storage or --results-dir, not both")
    request = SearchRequest(space=space, name=name, flags=flags, address=address, resume=resume,
                            storage=results_dir if storage is None else storage,
                            storage_option="--results-dir" if storage is None else "--storage",
                            study_storage=check_study_storage(study_storage), progress=progress,
                            leaderboard=leaderboard, trust_run_folder=trust_run_folder)
    return drive(SearchCommand(), request)


def resume_command(space, name: str, results_dir, flags: dict, address: str | None,
                   study_storage: str | None = None) -> str:
    """The shell command that continues run ``name`` (the same space, storage and flags)."""
    if space is not None and not isinstance(space, (str, os.PathLike)):
        return f"nas.search.run(<the same space>, name={name!r}, resume=True)"
    parts = ["nas", "search", *([] if space is None else [str(space)]), "--name", name]
    if is_uri(str(results_dir)):
        parts += ["--storage", str(results_dir)]
    elif str(results_dir) != "results":
        parts += ["--results-dir", str(results_dir)]
    if study_storage:
        parts += ["--study-storage", _masked(study_storage)]
    for flag, value in flags.items():
        if value is not None:
            text = ",".join(value) if isinstance(value, (list, tuple)) else f"{value:g}" \
                if isinstance(value, float) else str(value)
            parts += [f"--{flag.replace('_', '-')}", text]
    if address:
        parts += ["--address", address]
    return shlex.join([*parts, "--resume"])


def discard_unstarted(run_dir: Location, name: str, study_url: str, study_storage: str | None) -> bool:
    """After a new search failed before any trial wrote its folder, remove what it wrote (the run folder,
    which held nothing before it began, and its Optuna study), so that the same command can simply be run
    again. Returns True when something was removed; a run with a trial folder is kept (``--resume``)."""
    import optuna

    try:
        if run_dir.list(TRIALS_FOLDER):
            return False
        removed = run_dir.exists()
        run_dir.delete_folder()
        if study_storage is None and not run_dir.is_local:
            (driver_folder(run_dir) / STUDY_FILE).unlink(missing_ok=True)
        elif study_storage is not None:  # a study that never ran a trial (only the queued baselines)
            storage = optuna.storages.RDBStorage(study_url)
            try:
                study = optuna.load_study(study_name=name, storage=storage)
            except KeyError:
                return removed
            if all(t.state == optuna.trial.TrialState.WAITING for t in study.get_trials(deepcopy=False)):
                optuna.delete_study(study_name=name, storage=storage)
                removed = True
        return removed
    except Exception:  # noqa: BLE001 -- cleaning up must never hide the error that stopped the search
        return False


def read_run_record(run_dir, name: str) -> dict:
    """``search.json`` of a run to resume, refused unless ``nas search`` wrote it (format, run name, keys)."""
    run_dir = Location.from_uri(run_dir)
    path = run_dir.display(CONFIG_FILE)
    record = read_json_at(run_dir, CONFIG_FILE, f"--resume: {path}")
    settings = record.get("settings")
    if (record.get("format") != FORMAT or record.get("run") != name or not isinstance(record.get("space"), dict)
            or not isinstance(record.get("source"), str) or not isinstance(settings, dict)
            or any(k not in settings for k in SearchSettings.__dataclass_fields__ if k not in OPTIONAL_SETTINGS)):
        raise ValueError(f"--resume: {path} was not written by nas search for run {name!r} (expected format "
                         f"{FORMAT!r} with keys run, source, space, settings); --resume only continues run "
                         "folders you created with nas search")
    return record


def check_resume_states(run_dir) -> None:
    """Every trial's saved training state of the run folder ``run_dir`` loads as plain tensors and data
    (``nas.resumable.check_resume_states``; the driver runs it before Ray starts on every resume)."""
    check_states(Location.from_uri(run_dir) / TRIALS_FOLDER)


@dataclass(frozen=True, kw_only=True)
class SearchRequest(TuneRequest):
    """``run(...)`` / ``nas search`` as asked (``flags``: the ``SETTING_FLAGS`` given on the command line)."""

    space: object = None  # a YAML path, a mapping or a SearchSpace; None: the embedded quick.yaml
    name: str | None = None  # the run's name; None: the space's
    study_storage: str | None = None  # an RDB URL for the Optuna study (checked: check_study_storage)
    leaderboard: bool = True  # print the leaderboard after a search with progress


@dataclass(frozen=True)
class SearchRun:
    """Where a search's run is (``SearchCommand.locate``): the run folder and the space the request loaded."""

    run_dir: Location
    name: str
    space: SearchSpace  # the requested space (a resumed run uses the one its search.json recorded)
    root: object  # the storage folder as checked, for messages
    option: str  # the option that named it


@dataclass(frozen=True, kw_only=True)
class PreparedSearch(PreparedRun):
    """A search once checked: its space and settings (recorded ones on resume) and its Optuna study."""

    space: SearchSpace
    settings: SearchSettings
    study_url: str  # study_storage_url
    study_storage: str | None  # --study-storage as given (None: the driver-side SQLite study)
    address: str | None  # recorded in search.json


class SearchCommand(TuneCommand):
    """``nas search`` in the Tune driver (``nas.driver``): Optuna proposes the trials, ASHA stops bad ones."""

    name = "nas search"
    log_file = LOG_FILE

    def locate(self, request: SearchRequest) -> SearchRun:
        loaded = load_space(request.space)
        name = check_run_name(loaded.name if request.name is None else request.name)
        root, option = request.storage, request.storage_option
        if not is_uri(str(root)):
            if str(root).startswith("file://"):
                root = Location.from_uri(root, option).path
            check_output_folder(root, option)
        try:
            run_dir = Location.from_uri(root, option) / name
            run_dir.check_bucket(option)
            if run_dir.exists() and not run_dir.is_dir():
                raise ValueError(f"--name: {run_dir} exists and is not a folder")
        except OSError as exc:
            raise ValueError(f"{option}: cannot reach {root}: {exc}") from None
        return SearchRun(run_dir=run_dir, name=name, space=loaded, root=root, option=option)

    def lock(self, run: SearchRun) -> DriverLock:
        try:
            return DriverLock(run.run_dir, self.name).acquire()
        except OSError as exc:
            raise ValueError(f"{run.option}: cannot reach {run.root}: {exc}") from None

    def prepare(self, request: SearchRequest, run: SearchRun) -> PreparedSearch:
        run_dir, name = run.run_dir, run.name
        try:
            restoring = request.resume and run_dir.is_file(CONFIG_FILE)
            occupied = any(not is_lock_entry(entry) for entry in run_dir.list())
        except OSError as exc:
            raise ValueError(f"{run.option}: cannot reach {run.root}: {exc}") from None
        if restoring:
            space, settings = _resumed_search(request, run_dir, name)
        else:
            if occupied:
                if request.resume:
                    raise ValueError(f"--resume: {run_dir} has no {CONFIG_FILE}, so it is not a run folder nas "
                                     "search wrote; choose another --name")
                raise ValueError(f"--name: {run_dir} already holds a run; continue it with --resume or choose "
                                 "another --name")
            space, settings = run.space, _settings(run.space, **request.flags)
        return PreparedSearch(name=name, folder=run_dir, start_file=CONFIG_FILE, restoring=restoring,
                              cpus_per_trial=settings.cpus_per_trial, gpus_per_trial=settings.gpus_per_trial,
                              data_request=_checked_data(space), space=space, settings=settings,
                              study_url=study_storage_url(run_dir, request.study_storage),
                              study_storage=request.study_storage, address=request.address)

    def begin(self, prepared: PreparedSearch, resources: dict) -> None:
        import optuna
        import ray

        run_dir, settings, space, data = prepared.folder, prepared.settings, prepared.space, prepared.data
        if run_dir.is_local:
            run_dir.local_path.mkdir(parents=True, exist_ok=True)
        else:
            driver_folder(run_dir).mkdir(parents=True, exist_ok=True)
        if prepared.restoring:
            if not run_dir.is_local and prepared.study_storage is None:
                fetch_study_copy(run_dir)
            return
        run_dir.write_json(CONFIG_FILE, {
            "format": FORMAT, "run": prepared.name, "source": space.source, "space": space.to_dict(),
            "settings": settings.to_dict(), "data": data.spec, "data_sizes": data.sizes(), "train": space.train,
            "objectives": {o: OBJECTIVES[o] for o in settings.objectives}, "resources": resources,
            "address": prepared.address, "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "versions": {"ray": ray.__version__, "optuna": optuna.__version__},
            **({"study_storage": _masked(prepared.study_storage)} if prepared.study_storage else {}),
        })

    def trial_function(self, prepared: PreparedSearch, resources: dict) -> TrialFunction:
        from .scheduler import TrialResources

        setup = TrialSetup(run=prepared.name, run_dir=prepared.folder.uri, space=prepared.space,
                           train=prepared.space.train, seed=prepared.settings.seed,
                           threads=threads_for(resources["cpu"]), resumed=prepared.restoring)
        # A duplicate reports a recorded result: it asks for a sliver of a CPU, so it never waits for a free one.
        return TrialFunction(train_trial, setup, TrialResources(cpu=resources["cpu"], gpu=resources["gpu"]))

    def tune_settings(self, prepared: PreparedSearch, resources: dict, progress: bool) -> TuneSettings:
        return TuneSettings(
            tune_config=dict(search_alg=_searcher(prepared), scheduler=_scheduler(prepared.space, prepared.settings),
                             num_samples=prepared.settings.trials,
                             max_concurrent_trials=_concurrency(prepared.settings, resources),
                             time_budget_s=prepared.settings.time_budget, trial_dirname_creator=_trial_dirname),
            max_failures=prepared.settings.max_failures,
            callbacks=(_progress_view(prepared.settings),) if progress else ())

    def describe(self, prepared: PreparedSearch, per_trial: str) -> str:
        settings = prepared.settings
        return (f"{settings.trials} trials of {prepared.space.source} ({settings.sampler} sampler, scheduler "
                f"{settings.scheduler}, objectives {','.join(settings.objectives)}, {per_trial} per trial)")

    def discard(self, prepared: PreparedSearch, lock: DriverLock) -> None:
        # a new run that failed before its first trial leaves nothing behind
        lock.stop()  # no heartbeat may write the lock back into the removed folder
        discard_unstarted(prepared.folder, prepared.name, prepared.study_url, prepared.study_storage)

    def record(self, prepared: PreparedSearch, grid, interrupted_by: str | None) -> SearchResult:
        run_dir, name = prepared.folder, prepared.name
        told = told_trials(prepared.study_url, name)
        result = write_outputs(run_dir, grid, name, prepared.settings.objectives,
                               unfinished=unfinished_trials(grid, told) if interrupted_by else (),
                               signal_name=interrupted_by, told=told)
        if not run_dir.is_local and prepared.study_storage is None:  # a copy of the driver-side study beside the run
            run_dir.upload(driver_folder(run_dir) / STUDY_FILE, STUDY_FILE)
        return result

    def show(self, request: SearchRequest, prepared: PreparedSearch, result: SearchResult) -> None:
        if request.leaderboard:
            _print_leaderboard(prepared.folder, prepared.name)

    def resume_command(self, request: SearchRequest, run: SearchRun) -> str:
        return resume_command(request.space, run.name, request.storage, dict(request.flags), request.address,
                              request.study_storage)


def _resumed_search(request: SearchRequest, run_dir: Location, name: str) -> tuple[SearchSpace, SearchSettings]:
    """The space and settings a resumed run recorded; flags given again must agree with them."""
    saved = read_run_record(run_dir, name)
    recorded_study = saved.get("study_storage")
    if recorded_study and request.study_storage is None:
        raise ValueError(f"--resume: run {name!r} keeps its Optuna study in {recorded_study}; give "
                         "--study-storage again")
    space = SearchSpace.from_dict(saved["space"], source=saved["source"])
    settings = _settings(space, **{k: saved["settings"].get(k) for k in SearchSettings.__dataclass_fields__})
    given = {k: v for k, v in request.flags.items() if v is not None}
    if given:
        _check_resume_flags(settings, _settings(space, **{**settings.to_dict(), **given}))
    return space, settings


def _checked_data(space: SearchSpace) -> dict:
    """The data request of ``space`` (``nas.data.load_dataset``'s arguments) once the data set and every network
    the space can produce are checked against the budgets, from what the data set is (``nas.limits``)."""
    data_args = dict(space.data)
    try:
        info = data_info.check_request(**data_args)
        if space.network.macro is not None:
            info.check_macro(space.network.macro, "network.macro")
    except ValueError as exc:
        raise ValueError(f"{space.source}: {exc}") from None
    check_space(space, info)
    return data_args


def _searcher(prepared: PreparedSearch):
    """A new run's searcher: Optuna (its study in ``study_url``) with the space's constraints, baselines,
    duplicate index and race."""
    import optuna

    from .duplicates import TrainingIndex
    from .racing import Race
    from .searcher import ConstrainedOptunaSearch

    space, settings, data = prepared.space, prepared.settings, prepared.data
    objectives = settings.objectives
    metric, mode = _primary(objectives)
    index = TrainingIndex(space=space, macro=data.macro, in_channels=data.in_channels, num_classes=data.num_classes,
                          train=space.train, seed=settings.seed, mode=settings.duplicates)
    return ConstrainedOptunaSearch(
        space=space.sampler_function(),
        metric=list(objectives) if len(objectives) > 1 else metric,
        mode=[OBJECTIVES[o] for o in objectives] if len(objectives) > 1 else mode,
        sampler=make_sampler(settings.sampler, settings.seed),
        study_name=prepared.name, storage=optuna.storages.RDBStorage(prepared.study_url),
        constraint_names=space.constraints.names, baselines=space.baseline_labels(),
        index=index, total=settings.trials,
        race=None if settings.race is None else Race.of(settings.race, settings.seed),
    )


def _scheduler(space: SearchSpace, settings: SearchSettings):
    """ASHA on the primary objective (baselines exempt), or FIFO."""
    from ray.tune.schedulers import FIFOScheduler

    from .scheduler import ReferenceExemptASHA

    if settings.scheduler != "asha":
        return FIFOScheduler()
    metric, mode = _primary(settings.objectives)
    return ReferenceExemptASHA(time_attr="epoch", metric=metric, mode=mode, max_t=space.train["epochs"],
                               grace_period=settings.grace_period, reduction_factor=settings.reduction_factor)


def _progress_view(settings: SearchSettings):
    from .progress import ProgressView

    return ProgressView(settings.trials, *_primary(settings.objectives))


def _print_leaderboard(run_dir: Location, name: str) -> None:
    from .progress import print_leaderboard

    if run_dir.is_local:
        print_leaderboard(run_dir.local_path)
        return
    import tempfile

    # the table needs trials.csv only: a local copy of it, not of the whole run
    with tempfile.TemporaryDirectory(prefix="nas-leaderboard-") as local:
        (Path(local) / name).mkdir()
        (Path(local) / name / "trials.csv").write_bytes(run_dir.read_bytes("trials.csv"))
        print_leaderboard(Path(local) / name)


def told_trials(study_url, name: str) -> set[str]:
    """Tune trial ids whose result the Optuna study holds (a finished Optuna trial).

    ``study_url``: the study's storage URL (``study_storage_url``), or a local run folder holding ``optuna.db``.

    The searcher tells Optuna about every trial Tune completes (``tune_trial_id`` user attribute) and
    about none that an interruption stopped, and the study outlives restores, so it is the record to ask.
    """
    import optuna

    if not (isinstance(study_url, str) and "://" in study_url):  # a local run folder: its optuna.db
        study_url = f"sqlite:///{Path(study_url) / STUDY_FILE}"
    storage = optuna.storages.RDBStorage(study_url)
    study = optuna.load_study(study_name=name, storage=storage)
    return {t.user_attrs["tune_trial_id"] for t in study.get_trials(deepcopy=False)
            if t.state.is_finished() and "tune_trial_id" in t.user_attrs}


def unfinished_trials(grid, told) -> set[str]:
    """Trials of ``grid`` that Tune had not finished: those without a finished Optuna trial (``told``:
    ``told_trials``)."""
    return {trial_id for trial_id in map(_trial_id, grid) if trial_id and trial_id not in told}


def _trial_dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


def write_outputs(run_dir, grid, name: str, objectives, unfinished=(), signal_name: str | None = None,
                  told=frozenset()) -> SearchResult:
    """trials.csv (one row per Tune trial) and pareto.csv (several objectives).

    ``unfinished`` (after an interruption by ``signal_name``): those trials are recorded as ``interrupted``,
    in their folder's ``metrics.json`` too, unless the folder already says they completed or diverged.
    ``told``: trial ids whose result the sampler holds (``told_trials``); of the trial folders Tune forgot
    (not in ``grid``), only those keep a row.
    """
    run_dir = Location.from_uri(run_dir)
    known, missing = set(), {}
    note = f"interrupted by {signal_name}; nas search --resume continues it"
    for result in grid:
        trial_id = _trial_id(result)
        if trial_id is None:
            continue
        known.add(trial_id)
        folder = TrialFolder(run_dir / TRIALS_FOLDER / trial_id)
        record = read_trial(folder.path) if folder.exists else None
        if trial_id in unfinished:
            if record is None:
                missing[trial_id] = {"trial_id": trial_id, "run": name, "status": "interrupted", "epochs_run": 0,
                                     "message": note, "trial_dir": None}
                continue
            metrics = parse_record(record["metrics"], f"{trial_id}/metrics.json")
            if metrics.status not in FINAL_STATUSES:
                folder.publish(record["spec"], record["train_config"],
                               replace(metrics, status="interrupted", message=note).to_dict())
        elif record is None and result.error is None:  # created by Tune, then the time budget ended the search
            missing[trial_id] = {"trial_id": trial_id, "run": name, "status": NOT_STARTED_STATUS, "epochs_run": 0,
                                 "message": "the search ended (time budget) before this trial trained an epoch",
                                 "trial_dir": None}
        elif record is None:
            missing[trial_id] = {"trial_id": trial_id, "run": name, "status": "error", "epochs_run": 0,
                                 "message": _error_text(result.error), "trial_dir": None}
    # A trial that finished after Tune's last experiment snapshot is forgotten by Tune when a killed driver is
    # resumed (Tune runs its slot again under a new id). When the sampler was told its result before the kill,
    # it keeps its row: the study and trials.csv list the same trials. When the driver died between the
    # trial's last write and telling the sampler, or the trial never finished, its slot was trained again and
    # its folder stays out of trials.csv.
    # A forgotten folder that a resumed trial reported as its duplicate (it found the folder's training
    # completed) keeps its row too: the duplicate's row points to it, and its result is the one the study holds.
    kept = (*FINAL_STATUSES, DUPLICATE_STATUS)
    rows = collect_rows(run_dir, missing)
    listed = {row["trial_id"] for row in rows if row["trial_id"] in known or row["trial_id"] in told}
    reported = {str(row.get("duplicate_of")) for row in rows if row["trial_id"] in listed and row.get("duplicate_of")}
    rows = [row for row in rows if row["trial_id"] in known
            or (row["status"] in kept and (row["trial_id"] in told or row["trial_id"] in reported))]
    frame = write_trials_csv(run_dir, rows)
    pareto = None
    if len(objectives) > 1:
        pareto = write_pareto_csv(run_dir, frame, objectives)
    return SearchResult(name=name, run_dir=run_dir.local_path or run_dir.uri, trials=frame, pareto=pareto)


def _trial_id(result) -> str | None:
    trial_id = (result.metrics or {}).get("trial_id")
    if trial_id:
        return trial_id
    path = getattr(result, "path", None)  # a trial that never reported: its folder is "trial_<id>"
    name = Path(path).name if path else ""
    return name[len("trial_"):] if name.startswith("trial_") else None


def _error_text(error) -> str:
    if error is None:
        return ""
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__


__all__ = ["run", "SearchResult", "SearchRequest", "SearchCommand", "make_sampler", "write_outputs",
           "resume_command", "read_run_record", "check_resume_states", "told_trials", "unfinished_trials",
           "driver_folder", "study_storage_url", "discard_unstarted", "LOG_FILE", "SAMPLERS", "SCHEDULERS"]
