"""Racing on paired seeds: architectures that might be the best are trained again with more seeds.

A search ranks by one seed's validation accuracy, so its winner is the luckiest seed of a near-tie. Racing
is SMAC's intensification (Hutter, Hoos, Leyton-Brown, "Sequential model-based optimization for general
algorithm configuration", LION 2011; ``smac/intensifier``), on a fixed list of seeds:

- every architecture (``architecture_id``) first trains on ``seeds[0]``, the run's seed;
- one whose full-budget result is not dominated by the incumbent's on the seeds they share is a contender:
  it is trained again on the next seeds of the list, doubling its seed count (1 → 2 → 4 → …) up to
  ``max_seeds``, as long as it stays undominated; a dominated one is rejected for good;
- "dominated": its mean over the seeds both have is below the incumbent's mean over the same seeds (paired);
- the incumbent: the architecture with the most finished seeds, then the best mean (baselines included, so
  a challenger must beat the plain ResNet on the same seeds to survive it);
- the baselines train on every seed of the list from the start, so every comparison with them is paired;
- re-runs (seeds after the first) may take at most ``share`` of the trials started; the baselines' seeds are
  a fixed cost outside that share (``len(baselines) × (max_seeds − 1)`` trials).

This module is the policy alone, on plain numbers (no Ray, no Optuna): the searcher
(``nas.search.searcher``) feeds it results and schedules what it asks for; its tests run it on synthetic
per-seed scores.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

MAX_RACE_SEEDS = 32


@dataclass(frozen=True)
class RaceSettings:
    """``search: {race: {max_seeds: 4, share: 0.5}}``: the seed list's length and the share of the trials
    started that re-runs may take."""

    max_seeds: int = 4
    share: float = 0.5

    def __post_init__(self):
        if isinstance(self.max_seeds, bool) or not isinstance(self.max_seeds, int) \
                or not 2 <= self.max_seeds <= MAX_RACE_SEEDS:
            raise ValueError(f"race.max_seeds: must be a whole number from 2 to {MAX_RACE_SEEDS}, got "
                             f"{self.max_seeds!r}")
        if isinstance(self.share, bool) or not isinstance(self.share, (int, float)) or not 0 < self.share <= 1:
            raise ValueError(f"race.share: must be a number in (0, 1], got {self.share!r}")
        object.__setattr__(self, "share", float(self.share))

    def to_dict(self) -> dict:
        return {"max_seeds": self.max_seeds, "share": self.share}

    def seeds(self, first: int) -> tuple[int, ...]:
        """The fixed seed list: the run's seed and the next ones."""
        return tuple(first + i for i in range(self.max_seeds))


def parse_race(raw, name: str = "race") -> RaceSettings | None:
    """``false`` / ``true`` (the defaults) / ``{max_seeds, share}`` -> None or ``RaceSettings``."""
    if raw is None or raw is False:
        return None
    if raw is True:
        return RaceSettings()
    if isinstance(raw, RaceSettings):
        return raw
    if not isinstance(raw, dict):
        raise ValueError(f"{name}: expected true, false or a mapping with max_seeds and share, got {raw!r}")
    unknown = sorted(set(raw) - {"max_seeds", "share"})
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {', '.join(unknown)} (known: max_seeds, share)")
    try:
        return RaceSettings(**raw)
    except ValueError as exc:
        raise ValueError(f"{name}.{str(exc).removeprefix('race.')}") from None


@dataclass
class Race:
    """The racing state of one search (picklable: part of the searcher's saved state)."""

    seeds: tuple[int, ...]
    share: float
    results: dict = field(default_factory=dict)  # architecture_id -> {seed: value}
    pending: dict = field(default_factory=dict)  # architecture_id -> set of seeds scheduled, not finished
    rejected: set = field(default_factory=set)
    baselines: set = field(default_factory=set)  # architecture ids trained on every seed from the start
    trials_started: int = 0
    reruns_scheduled: int = 0

    @classmethod
    def of(cls, settings: RaceSettings, first_seed: int) -> "Race":
        return cls(seeds=settings.seeds(first_seed), share=settings.share)

    # ------------------------------------------------------------------------------------- feeding
    def started(self, count: int = 1) -> None:
        """``count`` trials started (re-runs included)."""
        self.trials_started += count

    def baseline(self, architecture: str) -> None:
        """``architecture`` is a baseline: trained on every seed of the list outside the racing share, never
        rejected, never scheduled here."""
        self.baselines.add(architecture)

    def record(self, architecture: str, seed: int, value: float) -> None:
        """A full-budget result of ``architecture`` on ``seed`` (seeds outside the list are ignored)."""
        if seed not in self.seeds or value is None or not math.isfinite(value):
            self.pending.get(architecture, set()).discard(seed)
            return
        self.results.setdefault(architecture, {})[seed] = float(value)
        self.pending.get(architecture, set()).discard(seed)
        if architecture not in self.baselines and self.dominated(architecture):
            self.rejected.add(architecture)

    def forget(self, architecture: str, seed: int) -> None:
        """A scheduled run that will not report (failed, stopped early): free to be scheduled again."""
        self.pending.get(architecture, set()).discard(seed)

    # ------------------------------------------------------------------------------------ judging
    def finished(self, architecture: str) -> dict:
        return self.results.get(architecture, {})

    def incumbent(self) -> str | None:
        """The architecture with the most finished seeds, then the best mean (rejected ones excluded)."""
        candidates = [a for a, r in self.results.items() if r and a not in self.rejected]
        if not candidates:
            return None
        return max(candidates, key=lambda a: (len(self.results[a]), statistics.fmean(self.results[a].values()), a))

    def dominated(self, architecture: str) -> bool:
        """Its mean over the seeds it shares with the incumbent is below the incumbent's mean over them."""
        incumbent = self.incumbent()
        if incumbent is None or incumbent == architecture:
            return False
        mine, theirs = self.finished(architecture), self.finished(incumbent)
        shared = sorted(set(mine) & set(theirs))
        if not shared:
            return False
        return statistics.fmean(mine[s] for s in shared) < statistics.fmean(theirs[s] for s in shared)

    # --------------------------------------------------------------------------------- scheduling
    def allowed(self) -> int:
        """Re-runs that may still be scheduled within the share."""
        return max(0, math.floor(self.share * self.trials_started) - self.reruns_scheduled)

    def next_runs(self) -> list[tuple[str, int]]:
        """(architecture, seed) pairs to train next: each undominated contender with nothing pending gets the
        next block of seeds (doubling its count), best mean first, within the share; they are marked
        pending."""
        contenders = []
        for architecture, results in self.results.items():
            if (architecture in self.rejected or architecture in self.baselines or self.pending.get(architecture)
                    or len(results) >= len(self.seeds) or self.dominated(architecture)):
                continue
            contenders.append((statistics.fmean(results.values()), architecture))
        runs = []
        for _, architecture in sorted(contenders, reverse=True):
            have = len(self.finished(architecture))
            missing = [s for s in self.seeds if s not in self.finished(architecture)][:min(have, len(self.seeds) - have)]
            if len(missing) > self.allowed():
                break  # the best contender first: a worse one does not jump the queue
            self.pending.setdefault(architecture, set()).update(missing)
            self.reruns_scheduled += len(missing)
            runs.extend((architecture, seed) for seed in missing)
        return runs

    # ------------------------------------------------------------------------------------- ranking
    def ranking(self) -> list[dict]:
        """One row per architecture: seeds finished, mean, std (ddof 1), fully raced; fully raced ones first,
        then by mean."""
        rows = []
        for architecture, results in self.results.items():
            values = list(results.values())
            rows.append({"architecture_id": architecture, "n": len(values), "mean": statistics.fmean(values),
                         "std": statistics.stdev(values) if len(values) > 1 else float("nan"),
                         "fully_raced": len(values) >= len(self.seeds), "rejected": architecture in self.rejected,
                         "baseline": architecture in self.baselines})
        return sorted(rows, key=lambda r: (not r["fully_raced"], -r["mean"], r["architecture_id"]))


__all__ = ["MAX_RACE_SEEDS", "Race", "RaceSettings", "parse_race"]
