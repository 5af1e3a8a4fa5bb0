"""The validated search space: ``SearchSpace`` reads a space mapping section by section (each section's
module in this package), samples a trial's choices define-by-run (``SpaceSampler``: only ``trial.suggest_*``)
and turns a trial's config into what it trains (``plan`` -> ``TrialPlan``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.messages import quote
from nas.paths import check_run_name

from nas.domains import SpaceError, check_mapping, check_scalar, fail
from .baselines import BASELINES, baseline_blocks, baseline_labels, baseline_network, parse_baselines
from .constraints import Constraints, parse_constraints
from .labels import check_unique_labels
from .network import NetworkSpace, parse_network
from .noise import parse_noise_block
from .schemes import parse_scheme_block
from .sections import parse_data, parse_train
from .settings import SearchSettings, check_settings, parse_settings


@dataclass(frozen=True)
class TrialPlan:
    """What one trial trains: built from the trial's config by ``SearchSpace.plan``."""

    option: str
    baseline: bool
    scheme: Any
    noise: Any
    spec: Any  # nas.networks.NetworkSpec


TOP_LEVEL = {"name", "description", "data", "train", "search", "network", "scheme", "noise", "constraints",
             "baselines"}


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space. ``to_dict`` gives back the mapping it was read from (exact round trip)."""

    source: str
    raw: dict = field(repr=False)
    name: str
    description: str
    data: dict
    train: dict
    search: SearchSettings
    network: NetworkSpace
    schemes: tuple
    noise: tuple
    constraints: Constraints
    baselines: bool
    baseline_network: dict | None = None  # the fixed network config of the baseline trials

    # ---------------------------------------------------------------------------- reading
    @classmethod
    def from_dict(cls, raw, source: str = "<space>") -> "SearchSpace":
        """Validate ``raw``; errors are ``SpaceError("<source>: <key path>: <problem>")``."""
        try:
            return cls._parse(raw, source)
        except SpaceError as exc:
            raise SpaceError(f"{source}: {exc}") from None

    @classmethod
    def _parse(cls, raw, source: str) -> "SearchSpace":
        if not isinstance(raw, dict):
            raise SpaceError(f"top level: expected a mapping of sections, got {type(raw).__name__}")
        check_mapping(raw, "", TOP_LEVEL, {"scheme"})
        name = raw.get("name", Path(source).stem if source.endswith((".yaml", ".yml")) else "search")
        check_scalar(name, "name", "str")
        try:
            check_run_name(name, "name")
        except ValueError as exc:
            raise SpaceError(str(exc)) from None
        description = raw.get("description", "")
        check_scalar(description, "description", "str")

        scheme_raw = raw["scheme"]
        items = scheme_raw if isinstance(scheme_raw, list) else [scheme_raw]
        if not items:
            raise fail("scheme", "an empty list; give at least one scheme block")
        paths = [f"scheme[{i}]" for i in range(len(items))] if isinstance(scheme_raw, list) else ["scheme"]
        blocks = [parse_scheme_block(item, p) for item, p in zip(items, paths)]
        for block, path in zip(blocks, paths):
            if block.label in BASELINES:
                raise fail(f"{path}.label", f"{quote(block.label)} is reserved for the baselines")
        check_unique_labels([b.label for b in blocks], paths)

        noise_raw = raw.get("noise")
        noise_items = [] if noise_raw is None else (noise_raw if isinstance(noise_raw, list) else [noise_raw])
        noise_paths = [f"noise[{i}]" for i in range(len(noise_items))] if isinstance(noise_raw, list) else ["noise"]
        if isinstance(noise_raw, list) and not noise_raw:
            raise fail("noise", "an empty list; leave noise out for no noise")
        noise = [parse_noise_block(item, p) for item, p in zip(noise_items, noise_paths)]
        check_unique_labels([b.label for b in noise], noise_paths)

        network = parse_network(raw.get("network"), data=raw.get("data"))
        most_steps = max(network.steps_per_stage.values())
        for block, path in zip(blocks, paths):
            block.check_depth(most_steps, path)
        network.check_schemes(blocks, paths)
        baseline_network = parse_baselines(raw.get("baselines", False), network)

        train = parse_train(raw.get("train"))
        settings = parse_settings(raw.get("search"))
        check_settings(settings, train)
        return cls(source=str(source), raw=copy.deepcopy(raw), name=name, description=description,
                   data=parse_data(raw.get("data")), train=train, search=settings, network=network,
                   schemes=tuple(blocks), noise=tuple(noise), constraints=parse_constraints(raw.get("constraints")),
                   baselines=baseline_network is not None, baseline_network=baseline_network)

    def to_dict(self) -> dict:
        return copy.deepcopy(self.raw)

    # ---------------------------------------------------------------------------- sampling
    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(b.label for b in self.schemes)

    def sampler_function(self) -> "SpaceSampler":
        return SpaceSampler(self)

    def baseline_labels(self) -> tuple[str, ...]:
        """Labels of the baseline trials, queued first (as trial user attribute ``baseline``) when
        ``baselines: true``. They are not options of the sampled ``scheme`` choice, so the sampler never
        spends trials re-drawing them."""
        return baseline_labels(self.baseline_network if self.baselines else None)

    def suggest(self, trial) -> dict:
        """The define-by-run body: only ``trial.suggest_*``; returns the constants of this trial."""
        constants: dict = {}
        baseline = trial.user_attrs.get("baseline") if self.baselines else None
        if baseline in BASELINES:
            # The published architecture: no sampled choice from any block, no noise, the fixed network.
            label = constants["scheme"] = baseline
            self._block(label).suggest(trial, constants)
            constants["noise"] = "none"
            constants.update(baseline_network(self.baseline_network, label))
            return constants
        if len(self.schemes) > 1:
            label = trial.suggest_categorical("scheme", list(self.labels))
        else:
            label = constants["scheme"] = self.schemes[0].label
        self._block(label).suggest(trial, constants)
        if len(self.noise) > 1:
            noise_label = trial.suggest_categorical("noise", [b.label for b in self.noise])
        else:
            noise_label = constants["noise"] = self.noise[0].label if self.noise else "none"
        if self.noise:
            self._noise_block(noise_label).suggest(trial, constants)
        self.network.suggest(trial, constants)
        return constants

    def _block(self, label: str):
        for block in (*self.schemes, *(baseline_blocks() if self.baselines else ())):
            if block.label == label:
                return block
        raise ValueError(f"scheme: no block labelled {quote(label)} in this space; labels: {', '.join(self.labels)}")

    def _noise_block(self, label: str):
        for block in self.noise:
            if block.label == label:
                return block
        raise ValueError(f"noise: no option labelled {quote(label)} in this space")

    # ---------------------------------------------------------------------------- building
    def plan(self, config: dict, *, macro: str, in_channels: int, num_classes: int) -> TrialPlan:
        """The scheme, noise schedule and network spec of a trial's config (ValueError if it cannot be built)."""
        label = config["scheme"]
        scheme = self._block(label).build(config)
        noise_label = config.get("noise", "none")
        noise = None if not self.noise or label in BASELINES else self._noise_block(noise_label).build(config)
        spec = self.network.build_spec(config, scheme=scheme, noise=noise, macro=macro, in_channels=in_channels,
                                       num_classes=num_classes)
        return TrialPlan(option=label, baseline=label in BASELINES, scheme=scheme, noise=noise, spec=spec)


@dataclass(frozen=True)
class SpaceSampler:
    """The define-by-run function given to OptunaSearch (a picklable callable: Tune saves the searcher)."""

    space: SearchSpace

    def __call__(self, trial) -> dict:
        return self.space.suggest(trial)


__all__ = ["SearchSpace", "SpaceSampler", "TrialPlan", "TOP_LEVEL"]
