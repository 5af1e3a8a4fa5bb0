"""Which architectures a final evaluation retrains: the run's K best distinct ones, its baselines, and a
plain ResNet to compare against.

Ranking (``rank_searched``): the leaderboard's equal-fidelity ranking (``nas.fidelity.rank_architectures``: the
trials that ran the full budget, or all at the highest rung they reached; baselines and duplicates left
out; one row per ``architecture_id``, by the mean over its seeds), feasible trials only.
``architecture_id`` comes from ``trials.csv`` when the column exists, else from each trial folder's
``spec.json`` + ``train_config.json`` (``nas.search.identity``).

Baselines: the trials whose ``option`` is ``baseline_euler`` (plain ResNet) or ``baseline_lm_resnet``
(published LM-ResNet), each by its own ``spec.json``. A run without a plain ResNet baseline gets one built
here: the rank-1 architecture's network (macro, widths, steps per stage, h, residual) with the ``euler``
scheme and no noise, labelled ``resnet_reference`` -- so the paired difference always refers to a plain
ResNet of the winner's shape trained with the same seeds and configuration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from nas.paths import contained
from nas.safe_load import read_json
from nas.search.identity import architecture_id

BASELINE_LABELS = ("baseline_euler", "baseline_lm_resnet", "baseline_euler_untied")  # the search's baselines
RESNET_BASELINE = "baseline_euler"  # the plain ResNet every architecture is compared against
RESNET_REFERENCE = "resnet_reference"  # the plain ResNet nas evaluate adds when the run has none
RESNET_SCHEME = "euler"
ROLES = ("searched", "baseline", "reference")


@dataclass(frozen=True)
class Candidate:
    """One architecture to retrain: its network, its training configuration (seed excluded) and its origin."""

    architecture_id: str
    label: str
    role: str  # searched | baseline | reference
    scheme_name: str
    spec: dict
    train_config: dict
    source_trial_id: str | None = None
    search_rank: int | None = None
    search_best_val_acc: float | None = None

    def to_dict(self) -> dict:
        return {"architecture_id": self.architecture_id, "label": self.label, "role": self.role,
                "scheme_name": self.scheme_name, "spec": self.spec, "train_config": self.train_config,
                "source_trial_id": self.source_trial_id, "search_rank": self.search_rank,
                "search_best_val_acc": self.search_best_val_acc}

    @classmethod
    def from_dict(cls, data: dict) -> "Candidate":
        return cls(**{k: data.get(k) for k in ("architecture_id", "label", "role", "scheme_name", "spec",
                                               "train_config", "source_trial_id", "search_rank",
                                               "search_best_val_acc")})


def run_epochs(search: dict) -> int:
    """The run's full training budget in epochs (``search.json`` ``train``; TrainConfig's default otherwise)."""
    from nas.train import TrainConfig

    train = search.get("train") if isinstance(search.get("train"), dict) else {}
    try:
        return TrainConfig.from_dict({k: v for k, v in train.items() if k != "seed"}).epochs
    except ValueError as exc:
        raise ValueError(f"search.json: train: {exc}") from None


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _trial_files(run_dir: Path, row) -> tuple[dict, dict]:
    """spec.json and train_config.json of a trial, read as JSON only, from inside the run folder."""
    from nas.network_kinds import spec_from_dict
    from nas.train import TrainConfig

    what = f"trial {row['trial_id']!r}"
    folder = contained(run_dir, _text(row.get("trial_dir")) or f"trials/{row['trial_id']}", f"{what}: trial_dir")
    spec = read_json(contained(folder, "spec.json", f"{what}: spec.json"), f"{what}: spec.json")
    train = read_json(contained(folder, "train_config.json", f"{what}: train_config.json"),
                      f"{what}: train_config.json")
    try:
        spec_from_dict(spec)
        TrainConfig.from_dict(train)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{what}: {exc}") from None
    return spec, train


def _with_architecture_ids(frame, run_dir: Path):
    """``frame`` with ``architecture_id`` filled from the trial folders where the column lacks it."""
    frame = frame.copy()
    if "architecture_id" not in frame.columns:
        frame["architecture_id"] = None
    ids = []
    for _, row in frame.iterrows():
        known = _text(row["architecture_id"])
        if not known and row["finished"]:
            spec, train = _trial_files(run_dir, row)
            known = architecture_id(spec, train)
        ids.append(known or None)
    frame["architecture_id"] = ids
    return frame


def _labels(frame):
    """The baseline label of each row (``option``), "" for searched trials."""
    options = frame["option"].map(_text) if "option" in frame.columns else frame["trial_id"].map(lambda _: "")
    named = options.where(options.isin(BASELINE_LABELS), "")
    # Older runs without an ``option`` column: a baseline is named after its scheme.
    fallback = "baseline_" + frame["scheme_name"].astype(str)
    return named.where(~(frame["baseline"].astype(bool) & (named == "")), fallback)


def rank_searched(frame):
    """The distinct searched architectures, best first, at equal budget (``nas.fidelity.rank_architectures``:
    duplicates and baselines left out, one row per ``architecture_id``), infeasible trials left out."""
    from nas.fidelity import rank_architectures

    if "feasible" in frame.columns:
        frame = frame[frame["feasible"].fillna(True).astype(bool)]
    return rank_architectures(frame)


def select(run_dir, top: int) -> tuple[list[Candidate], dict]:
    """The candidates of a final evaluation of ``run_dir`` and a note on the plain ResNet comparison.

    Every problem (no finished searched trial, unreadable trial files) is a ``ValueError``.
    """
    from nas import leaderboard

    run_dir = Path(run_dir)
    frame = leaderboard.load([run_dir])
    frame["label"] = _labels(frame)
    frame = _with_architecture_ids(frame, run_dir)
    ranked = rank_searched(frame)
    if ranked.empty:
        counts = ", ".join(f"{s} {n}" for s, n in frame["status"].value_counts().items()) or "none"
        raise ValueError(f"run {run_dir.name}: no finished, feasible searched trial to evaluate (trials: {counts})")
    candidates = []
    for rank, (_, row) in enumerate(ranked.head(top).iterrows(), 1):
        spec, train = _trial_files(run_dir, row)
        candidates.append(Candidate(row["architecture_id"], f"rank{rank}", "searched", str(row["scheme_name"]),
                                    spec, train, str(row["trial_id"]), rank, float(row["best_val_acc"])))
    seen = {c.architecture_id for c in candidates}
    baselines = frame[(frame["label"] != "") & frame["finished"]].sort_values("trial_id")
    for label in BASELINE_LABELS:
        rows = baselines[baselines["label"] == label]
        if rows.empty:
            continue
        row = rows.iloc[0]
        spec, train = _trial_files(run_dir, row)
        ident = architecture_id(spec, train)
        if ident in seen:
            continue
        seen.add(ident)
        best = row["best_val_acc"]
        candidates.append(Candidate(ident, label, "baseline", str(row["scheme_name"]), spec, train,
                                    str(row["trial_id"]), None, None if math.isnan(best) else float(best)))
    if any(c.label == RESNET_BASELINE for c in candidates):
        note = {"label": RESNET_BASELINE, "source": "the run's plain ResNet baseline trial (euler, as the run "
                                                    "trained it)"}
    else:
        reference = resnet_reference(candidates[0])
        candidates.append(reference)
        note = {"label": RESNET_REFERENCE,
                "source": "added by nas evaluate: the run has no plain ResNet baseline, so a plain ResNet "
                          "(euler, no noise) of the rank-1 architecture's shape is trained with the same seeds "
                          "and training configuration"}
    return candidates, note


def resnet_reference(winner: Candidate) -> Candidate:
    """A plain ResNet (``euler``, no noise, no learned coefficients) with the network shape and training
    configuration of ``winner``."""
    from nas.network_kinds import spec_from_dict
    from nas.schemes import get

    # the plain ResNet learns no coefficients: learn_scheme / learn_order are the winner's, not its
    spec = {**{k: v for k, v in winner.spec.items() if k not in ("learn_scheme", "learn_order")},
            "scheme": get(RESNET_SCHEME).to_dict(), "noise": None, "share_stage_weights": False,
            "memory_efficient": False}
    try:
        spec = spec_from_dict(spec).to_dict()
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"cannot build a plain ResNet of the rank-1 architecture's shape: {exc}") from None
    return Candidate(architecture_id(spec, winner.train_config), RESNET_REFERENCE, "reference", RESNET_SCHEME,
                     spec, winner.train_config)


__all__ = ["Candidate", "select", "rank_searched", "resnet_reference", "run_epochs", "BASELINE_LABELS",
           "RESNET_BASELINE", "RESNET_REFERENCE", "ROLES"]
