"""The typed record of one search trial: what its ``metrics.json`` holds (like ``nas.train.TrainResult`` for
``fit``).

``nas.search.trainable`` builds a ``TrialRecord`` and writes ``to_dict()``; ``nas.search.records``
(``trials.csv``), ``nas.search.run`` (interrupted trials), ``nas.export`` (the card's ``trial_metrics``) and
``nas.fidelity`` (per-epoch history) read it back with ``from_dict`` and attribute access, so the keys are
spelled once, here. The file format is unchanged: ``to_dict()`` writes the same keys as before, and a
record read from a file is written back with the same keys (``null_keys``).

Which keys a record has depends on how far the trial got: an error before the network was built has no
``params``, a duplicate has no ``history``, runs older than the device fields have no ``device``. Such
fields are ``None`` here and left out of ``to_dict()``. ``trial_id``, ``run`` and ``status`` are in every
record ever written; ``message`` and ``epochs_run`` too (their defaults serve hand-made folders). A key of
the wrong type, an unknown key or an unknown status is a ``ValueError`` naming it.

The per-epoch entries (``final``, ``best``, ``history``) stay plain dicts with the keys ``fit`` reports
(``epoch``, ``val_acc``, ``val_loss``, and for ``final`` ``train_loss``, ``train_acc``); the final evaluation's
pair records (``nas.evaluation.trainable``) are a different record (job, seed, test metrics) and stay dicts.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from nas.messages import quote
from nas.vocabulary import STATUSES

# What each kind of field accepts (bool is an int in Python, never a count or a measurement here).
_KINDS = {"str": (str,), "int": (int,), "number": (int, float), "bool": (bool,), "dict": (dict,),
          "list": (list,)}


def _typed(kind: str, default=None):
    return field(default=default, metadata={"kind": kind})


@dataclass(frozen=True, kw_only=True)
class TrialRecord:
    """One trial's ``metrics.json`` (field order = the key order the trainable writes)."""

    trial_id: str = _typed("str")
    run: str = _typed("str")
    # where and how the trial ran (absent from errors recorded before the worker started training)
    node_id: str | None = _typed("str")
    pid: int | None = _typed("int")
    config: dict | None = _typed("dict")  # the sampled Tune config
    gpu_ids: list | None = _typed("list")  # the GPU ids Ray assigned, as strings
    device: str | None = _typed("str")  # the torch device trained on
    device_note: str | None = _typed("str")  # why a trial given GPUs trained on the CPU
    started_at: float | None = _typed("number")  # this attempt's start (seconds since the epoch)
    # the network
    option: str | None = _typed("str")  # the search space's option (e.g. "named", "baseline_euler")
    baseline: bool | None = _typed("bool")
    scheme_name: str | None = _typed("str")
    params: int | None = _typed("int")
    diagnostics: dict | None = _typed("dict")  # nas.search.constraints.scheme_diagnostics
    constraints: dict | None = _typed("dict")  # constraint_<name> -> value (<= 0: satisfied)
    feasible: bool | None = _typed("bool")
    architecture_id: str | None = _typed("str")  # nas.search.identity
    training_id: str | None = _typed("str")
    resumed_from_epoch: int | None = _typed("int")  # this attempt's starting epoch
    # the result
    status: str = _typed("str")
    message: str = _typed("str", "")
    final: dict | None = _typed("dict")  # the last epoch's metrics
    best: dict | None = _typed("dict")  # the best-validation epoch: epoch, val_acc, val_loss
    epochs_run: int = _typed("int", 0)
    flops: int | None = _typed("int")
    history: list | None = _typed("list")  # per epoch: epoch, val_acc, val_loss (nas.fidelity)
    wall_time: float | None = _typed("number")
    cpu_time: float | None = _typed("number")
    ended_at: float | None = _typed("number")
    # a duplicate trial (nas.search.duplicates): the original's id and how many epochs it ran
    duplicate_of: str | None = _typed("str")
    original_epochs_run: int | None = _typed("int")
    # Keys written as JSON null when their value is None (every other None is left out): what a writer
    # always writes, and the keys a file held as null, so that ``from_dict(d).to_dict() == d``.
    null_keys: frozenset = field(default=frozenset(), repr=False)

    def __post_init__(self):
        for spec in fields(self):
            if spec.name == "null_keys":
                continue
            value = getattr(self, spec.name)
            if value is None:
                if spec.name in _REQUIRED:
                    raise ValueError(f"trial record: key {spec.name!r} is missing or null")
                continue
            kind = spec.metadata["kind"]
            if not isinstance(value, _KINDS[kind]) or (kind != "bool" and isinstance(value, bool)):
                raise ValueError(f"trial record: key {spec.name!r} must be {_ARTICLE[kind]}, got {quote(value)}")
        if self.status not in STATUSES:
            raise ValueError(f"trial record: key 'status': unknown status {quote(self.status)} "
                             f"(one of {', '.join(STATUSES)})")
        for name in ("final", "best"):
            for key, value in (getattr(self, name) or {}).items():
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    raise ValueError(f"trial record: key {name!r}: {key!r} must be a number, got {quote(value)}")
        if any(not isinstance(entry, dict) for entry in self.history or ()):
            raise ValueError("trial record: key 'history' must be a list of per-epoch objects")
        if any(not isinstance(gpu, str) for gpu in self.gpu_ids or ()):
            raise ValueError("trial record: key 'gpu_ids' must be a list of strings")
        unknown = set(self.null_keys) - _FIELD_NAMES
        if unknown:
            raise ValueError(f"trial record: null_keys names unknown keys {', '.join(sorted(unknown))}")

    def to_dict(self) -> dict:
        """The ``metrics.json`` content: every field that is set (or None and in ``null_keys``)."""
        return {name: getattr(self, name) for name in _ORDER
                if getattr(self, name) is not None or name in self.null_keys}

    @classmethod
    def from_dict(cls, data) -> "TrialRecord":
        """A record from a ``metrics.json`` object (older runs lack some keys: they read as None)."""
        if not isinstance(data, dict):
            raise ValueError(f"trial record: expected a JSON object, got {quote(data)}")
        unknown = sorted(set(data) - _FIELD_NAMES)
        if unknown:
            raise ValueError(f"trial record: unknown key {unknown[0]!r}")
        return cls(**data, null_keys=frozenset(key for key, value in data.items() if value is None))


_ORDER = tuple(spec.name for spec in fields(TrialRecord) if spec.name != "null_keys")
_FIELD_NAMES = frozenset(_ORDER)
_REQUIRED = ("trial_id", "run", "status", "message", "epochs_run")
_ARTICLE = {"str": "a string", "int": "an integer", "number": "a number", "bool": "true or false",
            "dict": "an object", "list": "a list"}

__all__ = ["TrialRecord"]
