"""No duplicate training: a trial that would train exactly what an earlier trial of the run trains is not
trained again.

Samplers propose the same categorical configuration again and again (TPE on a space of named schemes, say):
two trials whose network (``NetworkSpec.to_dict()``), training configuration and seed
(``TrainConfig.to_dict()``) are equal have the same ``training_id`` (``nas.search.identity``) and, training
being seeded, the same result. The searcher (``nas.search.run``) asks a :class:`TrainingIndex` about every
config the sampler proposes, before Tune starts it:

- ``train``: a new training -- the trial trains;
- ``duplicate``: the original trial has finished -- the config is marked with ``duplicate_of`` (the
  original's trial id) and ``duplicate_result`` (what the original reported), and the trial reports that
  result at once without training (status ``duplicate`` in ``trials.csv``); the sampler is told the recorded
  value;
- ``wait``: the original is still training -- the searcher holds the proposal (it occupies no CPU and no
  Tune trial) and hands it out as a ``duplicate`` once the original has finished. An original that fails
  (Tune error) is forgotten, and proposals held for it train themselves.

With ``search.duplicates: reseed`` nothing is a duplicate: each proposal of an architecture already proposed
trains with the next seed, ``seed + number of earlier trials of that architecture_id`` (config key
``train_seed``), and the leaderboard aggregates the seeds of one architecture.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .identity import architecture_id, training_id

# Config keys the searcher adds to a trial's config (read by the trainable and the scheduler).
DUPLICATE_OF = "duplicate_of"
DUPLICATE_RESULT = "duplicate_result"
TRAIN_SEED = "train_seed"
# The values a trial reports to Tune (nas.search.trainable); a duplicate reports its original's.
REPORTED_KEYS = ("epoch", "val_acc", "val_loss", "train_loss", "best_val_acc", "params", "flops", "status",
                 "feasible")


def is_duplicate(config) -> bool:
    return bool((config or {}).get(DUPLICATE_OF))


def reported_result(result: dict) -> dict:
    """The values of a Tune result that the trainable reported (Tune adds its own bookkeeping keys)."""
    return {key: value for key, value in result.items()
            if key in REPORTED_KEYS or str(key).startswith("constraint_")}


def trial_seed(config: dict, default: int) -> int:
    """The training seed of a trial: ``train_seed`` when the searcher reseeded it, else the run's seed."""
    value = (config or {}).get(TRAIN_SEED)
    return default if value is None else int(value)


@dataclass
class TrainingIndex:
    """What the run has trained or is training, by ``training_id`` (see the module docstring).

    Picklable: it is part of the searcher's state, which Tune saves for ``--resume``.
    """

    space: object  # nas.search.space.SearchSpace
    macro: str
    in_channels: int
    num_classes: int
    train: dict  # TrainConfig fields shared by all trials
    seed: int
    mode: str = "reuse"  # nas.search.space.DUPLICATE_MODES
    originals: dict = field(default_factory=dict)  # training_id -> trial_id (running or finished)
    results: dict = field(default_factory=dict)  # trial_id -> reported result of a finished original
    trained: dict = field(default_factory=dict)  # architecture_id -> trials proposed (reseed mode)

    def identify(self, config: dict, seed: int | None = None) -> tuple[str, str] | None:
        """(architecture_id, training_id) of a config, None when it cannot be built (the trial records why)."""
        from nas.train import TrainConfig

        try:
            plan = self.space.plan(config, macro=self.macro, in_channels=self.in_channels,
                                   num_classes=self.num_classes)
            train = TrainConfig.from_dict({**self.train, "seed": self.seed if seed is None else seed}).to_dict()
            spec = plan.spec.to_dict()
        except ValueError:
            return None
        return architecture_id(spec, train), training_id(spec, train)

    def admit(self, trial_id: str, config: dict) -> tuple[str, dict, str | None]:
        """("train" | "duplicate" | "wait", the config to run, the original's trial id or None)."""
        ids = self.identify(config, trial_seed(config, self.seed))  # a race trial brings its own seed
        if ids is None:
            return "train", config, None
        arch, train_id = ids
        if self.mode == "reseed":
            earlier = self.trained.get(arch, 0)
            self.trained[arch] = earlier + 1
            if earlier == 0:
                return "train", config, None
            return "train", {**config, TRAIN_SEED: self.seed + earlier}, None
        original = self.originals.get(train_id)
        if original is None:
            self.originals[train_id] = trial_id
            return "train", config, None
        if original in self.results:
            return "duplicate", self.mark(config, original), original
        return "wait", config, original

    def mark(self, config: dict, original: str) -> dict:
        return {**config, DUPLICATE_OF: original, DUPLICATE_RESULT: dict(self.results[original])}

    def finished(self, trial_id: str, result: dict | None) -> None:
        """An original trial ended with ``result`` (what it reported last)."""
        if trial_id in self.originals.values() and result:
            self.results[trial_id] = reported_result(result)

    def failed(self, trial_id: str) -> None:
        """An original trial failed (Tune error): its configuration is free to be trained again."""
        for key in [key for key, value in self.originals.items() if value == trial_id]:
            del self.originals[key]
        self.results.pop(trial_id, None)


__all__ = ["TrainingIndex", "DUPLICATE_OF", "DUPLICATE_RESULT", "TRAIN_SEED", "is_duplicate", "reported_result",
           "trial_seed"]
