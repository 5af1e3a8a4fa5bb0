"""The values the driver passes between its phases: what the user asked (``TuneRequest``) and what the prepare
phase resolved from it (``PreparedRun``). Both are frozen: a phase never changes what an earlier one decided."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True, kw_only=True)
class TuneRequest:
    """What the user asked of a command that runs Ray Tune, as given (the command checks it in ``prepare``).

    A command extends it with its own fields (``nas.search.run.SearchRequest``,
    ``nas.evaluation.run.EvaluationRequest``)."""

    storage: str  # where runs live: a local or shared folder or a storage URI (nas.storage)
    storage_option: str  # the option that gave ``storage`` ("--storage", "--results-dir"): messages, resume command
    flags: Mapping[str, object] = field(default_factory=dict)  # the command's flags as given (None: not given)
    resume: bool = False
    address: str | None = None  # a Ray cluster to join; None starts an embedded Ray on this machine
    progress: bool = True  # print the banner, the progress lines and the command's summary
    trust_run_folder: bool = False  # resume even from Tune experiment files this user's nas did not sign

    def __post_init__(self):
        object.__setattr__(self, "flags", MappingProxyType(dict(self.flags)))


@dataclass(frozen=True, kw_only=True)
class PreparedRun:
    """A run once the prepare phase resolved and checked it: nothing is written yet.

    A command extends it with what its execute and finish phases need (its space, plan, study)."""

    name: str  # the run's name, in the banner
    folder: object  # nas.storage.Location: Tune's experiment, the log and the trial folders (``trials/``)
    start_file: str  # written in ``folder`` when a new run starts (``begin``); the run's log is kept once it exists
    restoring: bool  # continuing a run that started before (Tune's experiment and the saved states are read)
    cpus_per_trial: float
    gpus_per_trial: object  # a number or "auto" (nas.driver.cluster.trial_resources)
    data_request: Mapping[str, object]  # nas.data.load_dataset's arguments
    data: object = None  # the data set: loaded by the driver once every check passed
    started: float | None = None  # time.time() when the data set was ready


__all__ = ["TuneRequest", "PreparedRun"]
