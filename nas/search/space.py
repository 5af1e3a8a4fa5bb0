"""Search spaces: YAML file -> validated ``SearchSpace`` -> Optuna define-by-run function -> trial plan.

A space file (loaded with ``nas.safe_yaml``: plain data, bounded aliases, no repeated keys) has these sections;
everything but ``scheme`` has defaults:

    name: quick                  default run name
    description: ...
    data: {name: mnist1d, seed: 0, num_samples: 4000, ...}      arguments of nas.data.load_dataset
    train: {epochs: 12, lr: 0.05, ...}                          fields of nas.train.TrainConfig (constants)
    search: {trials: 14, sampler: tpe, scheduler: asha, objectives: [val_acc], grace_period: 3,
             duplicates: reuse, ...}        reuse: a repeated training is not trained again; reseed: next seed
    network: {widths: [8, 16, 32], steps_per_stage: [1, 2], h: 1.0, share_stage_weights: false}
             or a torchvision ResNet converted to each trial's scheme: {torchvision: resnet18, stem: cifar, h: 1.0}
             (nas.search.torchvision_network)
    scheme:  one family block, or a list of them (the block is then a categorical choice "scheme")
    noise:   one noise block, or a list of them (categorical choice "noise"); default: no noise
    constraints: {min_order: 2, zero_stable: true, max_params: 50000}
    baselines: true              first train the published references: a plain ResNet (euler) and the LM-ResNet
                                 of Lu et al. (k learned per layer, the paper's initialisation), both without
                                 noise, at one fixed network shape, for the full budget (never stopped early);
                                 or {network: {widths: [8, 16, 32], steps_per_stage: 2, ...}} to name that
                                 shape. Default shape: each network setting's constant, its first choice, or
                                 the low bound of its range.

Scheme blocks (``label`` names the block; default: its family): ``{family: named, names: [...]}`` picks
registered schemes (nas.schemes.names()); any other family's block is parsed by that family
(``nas.families``, its ``parse_block`` hook), e.g.

    {family: runge_kutta, stages: {low: 1, high: 4}, coefficients: {low: -1, high: 1}}
    {family: multistep, steps: [2, 3], coefficients: {low: -1, high: 1}}
    {family: lm_resnet, k: {low: -0.5, high: 0.9}, learn: [fixed, layer]}

Free Runge-Kutta and multistep blocks are consistent by construction (see their families). Zero-stability,
a minimum order and a parameter budget are not built in: they are Optuna constraints
(``nas.search.constraints``), so the sampler learns them.

The define-by-run function (``SpaceSampler``) only calls ``trial.suggest_*`` and returns the constants;
``SearchSpace.plan(config, ...)`` turns a trial's config into the scheme, noise schedule and NetworkSpec.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from nas import checks
from nas.limits import MAX_SEED, check_seed
from nas.messages import quote
from nas.paths import check_run_name
from nas.vocabulary import OBJECTIVES  # objective -> Optuna direction; the first is the primary one
from nas.vocabulary import parse_objectives as _parse_objectives

from .domains import (Domain, SpaceError, check_mapping, check_scalar, fail, parse_domain, parse_int_list,
                      suggest_into)

SAMPLERS = ("tpe", "cmaes", "nsga2", "gp", "random", "qmc")
SCHEDULERS = ("asha", "none")
BASELINES = ("baseline_euler", "baseline_lm_resnet")
DUPLICATE_MODES = ("reuse", "reseed")
EMBEDDED_DEFAULT = "quick.yaml"


# ----------------------------------------------------------------------------------------- run defaults
@dataclass(frozen=True)
class SearchSettings:
    """The ``search`` section: driver defaults that command-line flags override. Validates itself
    (``SETTING_CHECKS``); apply flags with ``dataclasses.replace`` after ``check_setting`` names them.

    ``duplicates``: what a trial whose network, training configuration and seed equal those of an earlier
    trial of the run does: ``reuse`` (default) records the earlier trial's result without training again;
    ``reseed`` trains it with the next seed (seed + number of earlier trials of that architecture).
    """

    trials: int = 10
    sampler: str = "tpe"
    scheduler: str = "asha"
    objectives: tuple[str, ...] = ("val_acc",)
    grace_period: int = 1
    reduction_factor: int = 2
    cpus_per_trial: float = 1.0
    gpus_per_trial: Any = "auto"
    max_failures: int = 2
    max_concurrent: int | None = None
    time_budget: float | None = None
    seed: int = 0
    duplicates: str = "reuse"

    def __post_init__(self):
        for item in fields(self):
            object.__setattr__(self, item.name, check_setting(item.name, getattr(self, item.name), item.name))

    def to_dict(self) -> dict:
        return {"trials": self.trials, "sampler": self.sampler, "scheduler": self.scheduler,
                "objectives": list(self.objectives), "grace_period": self.grace_period,
                "reduction_factor": self.reduction_factor, "cpus_per_trial": self.cpus_per_trial,
                "gpus_per_trial": self.gpus_per_trial, "max_failures": self.max_failures,
                "max_concurrent": self.max_concurrent, "time_budget": self.time_budget, "seed": self.seed,
                "duplicates": self.duplicates}


def parse_objectives(raw, path: str) -> tuple[str, ...]:
    """The names of the search's objectives (``nas.vocabulary.OBJECTIVES``, in their natural directions)."""
    return tuple(o.name for o in _parse_objectives(raw, path, choices=tuple(OBJECTIVES), error=SpaceError))


def parse_gpus(raw, path: str):
    """``auto`` (a GPU only when the cluster has one) or a number of GPUs >= 0, fractions allowed."""
    return "auto" if raw == "auto" else checks.number_in(raw, path, 0, None, error=SpaceError)


def _optional(check):
    return lambda value, name: None if value is None else check(value, name)


# One check per setting, used for the space file, the command-line flags and SearchSettings itself:
# check(value, name) -> the normalised value, or a ValueError whose message starts with ``name``.
SETTING_CHECKS = {
    "trials": checks.positive_int,
    "sampler": lambda value, name: checks.choice(value, name, SAMPLERS),
    "scheduler": lambda value, name: checks.choice(value, name, SCHEDULERS),
    "objectives": parse_objectives,
    "grace_period": checks.positive_int,
    "reduction_factor": lambda value, name: checks.int_at_least(value, name, 2),
    "cpus_per_trial": lambda value, name: checks.number_in(value, name, 0.01, None),
    "gpus_per_trial": parse_gpus,
    "max_failures": lambda value, name: checks.int_at_least(value, name, 0),
    "max_concurrent": _optional(checks.positive_int),
    "time_budget": _optional(lambda value, name: checks.positive_number(value, name,
                                                                       what="a positive number of seconds")),
    "seed": check_seed,
    "duplicates": lambda value, name: checks.choice(value, name, DUPLICATE_MODES),
}


def check_setting(field_name: str, value, name: str):
    """``value`` of the setting ``field_name`` checked and normalised; a ``SpaceError`` naming ``name`` (a key
    path such as ``search.trials`` or a flag such as ``--trials``) when it is bad."""
    try:
        return SETTING_CHECKS[field_name](value, name)
    except SpaceError:
        raise
    except ValueError as exc:
        raise SpaceError(str(exc)) from None


def _parse_settings(raw, path: str = "search") -> SearchSettings:
    raw = {} if raw is None else raw
    check_mapping(raw, path, set(SETTING_CHECKS))
    return SearchSettings(**{key: check_setting(key, value, f"{path}.{key}") for key, value in raw.items()})


def check_settings(settings: SearchSettings, train: dict, path: str = "search") -> None:
    """Checks across fields (run them after command-line flags are applied too)."""
    if settings.scheduler == "asha" and settings.grace_period > train["epochs"]:
        raise fail(f"{path}.grace_period", f"{settings.grace_period} is more than train.epochs "
                                           f"({train['epochs']}); ASHA's first rung must come before the last "
                                           "epoch (lower grace_period, or scheduler: none)")


# ------------------------------------------------------------------------------------- scheme blocks
@dataclass(frozen=True)
class NamedBlock:
    """Registered schemes by name (``nas.schemes.names()``)."""

    label: str
    names: Domain
    family: str = "named"

    def suggest(self, trial, constants: dict) -> None:
        suggest_into(self.names, trial, f"{self.label}.name", constants)

    def build(self, config: dict):
        from nas import schemes

        return schemes.get(config[f"{self.label}.name"])

    def check_depth(self, most_steps: int, path: str) -> None:
        return None  # named multistep methods start up with plain residual steps


def _parse_label(raw, path: str, default: str) -> str:
    label = raw.get("label", default)
    check_scalar(label, f"{path}.label", "str")
    if not label or not label.replace("_", "").isalnum():
        raise fail(f"{path}.label", f"must be letters, digits and _, got {quote(label)}")
    return label


def _parse_scheme_block(raw, path: str):
    from nas import schemes
    from nas.families import registry

    if not isinstance(raw, dict):
        raise fail(path, f"expected a scheme block (a mapping with a family key), got {quote(raw)}")
    family = raw.get("family")
    allowed = ("named", *registry.names())
    if family not in allowed:
        raise fail(f"{path}.family", f"must be one of {', '.join(allowed)}, got {quote(family)}")
    label = _parse_label(raw, path, family)
    if family != "named":
        return registry.family(family).parse_block(raw, path, label)
    check_mapping(raw, path, {"family", "label", "names"}, {"names"})
    names = parse_domain(raw["names"], f"{path}.names", "str", choices=tuple(schemes.names()))
    return NamedBlock(label, names)


def _baseline_blocks() -> tuple:
    """The hand-designed references: ResNet (forward Euler) and the published LM-ResNet (learned k)."""
    return (_parse_scheme_block({"family": "named", "label": BASELINES[0], "names": "euler"}, "baselines"),
            _parse_scheme_block({"family": "lm_resnet", "label": BASELINES[1], "learn": "layer"}, "baselines"))


# -------------------------------------------------------------------------------------------- noise
@dataclass(frozen=True)
class NoiseBlock:
    """One noise option: a kind of ``nas.schemes.noise.NoiseSchedule`` with its shape and strength."""

    label: str
    kind: str
    shape: Domain
    strength: Domain | None

    def suggest(self, trial, constants: dict) -> None:
        if self.kind == "none":
            return
        suggest_into(self.shape, trial, f"noise.{self.label}.shape", constants)
        suggest_into(self.strength, trial, f"noise.{self.label}.{self._parameter}", constants)

    @property
    def _parameter(self) -> str:
        from nas.schemes.noise import PARAMETER

        return PARAMETER[self.kind]

    def build(self, config: dict):
        from nas.schemes.noise import NoiseSchedule

        if self.kind == "none":
            return None
        return NoiseSchedule(kind=self.kind, shape=config[f"noise.{self.label}.shape"],
                             **{self._parameter: config[f"noise.{self.label}.{self._parameter}"]})


# strength bounds per parameter (NoiseSchedule's own ranges)
_NOISE_BOUNDS = {"p_L": (0.01, 1.0), "a": (0.0, 1.0), "sigma_max": (0.0, 10.0)}


def _parse_noise_block(raw, path: str) -> NoiseBlock:
    from nas.schemes.noise import KINDS, PARAMETER, SHAPES

    if not isinstance(raw, dict):
        raise fail(path, f"expected a noise block (a mapping with a kind key), got {quote(raw)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise fail(f"{path}.kind", f"must be one of {', '.join(KINDS)}, got {quote(kind)}")
    parameter = PARAMETER[kind]
    allowed = {"kind", "label"} | (set() if parameter is None else {"shape", parameter})
    check_mapping(raw, path, allowed, set() if parameter is None else {parameter})
    label = _parse_label(raw, path, kind)
    if parameter is None:
        return NoiseBlock(label, kind, Domain("str", "constant", value="constant"), None)
    shape = parse_domain(raw.get("shape", "linear"), f"{path}.shape", "str", choices=SHAPES)
    strength = parse_domain(raw[parameter], f"{path}.{parameter}", "float", *_NOISE_BOUNDS[parameter])
    if parameter == "p_L" and 0.0 in strength.values():
        raise fail(f"{path}.p_L", "a keep probability must be > 0")
    return NoiseBlock(label, kind, shape, strength)


# ------------------------------------------------------------------------------------------ network
@dataclass(frozen=True)
class NetworkSpace:
    macro: str | None
    widths: Domain  # constant or choice over "8-16-32" strings
    steps_per_stage: Domain
    h: Domain
    share_stage_weights: Domain
    residual: str = "preact"

    def suggest(self, trial, constants: dict) -> None:
        for name in ("widths", "steps_per_stage", "h", "share_stage_weights"):
            suggest_into(getattr(self, name), trial, name, constants)

    def check_schemes(self, blocks, paths) -> None:
        """Every scheme block builds networks of this kind (a torchvision network refuses some families)."""
        return None

    def fixed(self, raw, path: str) -> dict:
        """One fixed network config (the baselines' shape): the values named in ``raw``, else each setting's
        constant, first choice or range's low bound."""
        raw = {} if raw is None else raw
        check_mapping(raw, path, {"widths", "steps_per_stage", "h", "share_stage_weights"})
        out = {name: getattr(self, name).values()[0] for name in ("widths", "steps_per_stage", "h",
                                                                  "share_stage_weights")}
        if "widths" in raw:
            out["widths"] = widths_key(parse_int_list(raw["widths"], f"{path}.widths"))
        for name, kind, low, high in (("steps_per_stage", "int", 1, 64), ("h", "float", 1e-3, 10.0),
                                      ("share_stage_weights", "bool", None, None)):
            if name in raw:
                out[name] = check_scalar(raw[name], f"{path}.{name}", kind, low, high)
        return out

    def build_spec(self, config: dict, *, scheme, noise, macro: str, in_channels: int, num_classes: int):
        """The trial's ``NetworkSpec`` from its config."""
        from nas.networks import NetworkSpec

        return NetworkSpec(scheme=scheme, macro=self.macro or macro, in_channels=in_channels, num_classes=num_classes,
                           widths=widths_from_key(config["widths"]), steps_per_stage=int(config["steps_per_stage"]),
                           h=float(config["h"]), share_stage_weights=bool(config["share_stage_weights"]), noise=noise,
                           residual=self.residual)


def widths_key(widths) -> str:
    return "-".join(str(w) for w in widths)


def widths_from_key(key: str) -> tuple[int, ...]:
    return tuple(int(w) for w in str(key).split("-"))


def _parse_network(raw, path: str = "network", data=None) -> NetworkSpace:
    from nas.networks.blocks import MACROS
    from nas.networks.residuals import RESIDUAL_FORMS

    raw = {} if raw is None else raw
    if isinstance(raw, dict) and "torchvision" in raw:  # a torchvision ResNet, converted to each trial's scheme
        from .torchvision_network import parse_torchvision_network

        return parse_torchvision_network(raw, path, data)
    check_mapping(raw, path, {"macro", "widths", "steps_per_stage", "h", "share_stage_weights", "residual"})
    macro = raw.get("macro")
    if macro is not None:
        check_scalar(macro, f"{path}.macro", "str", choices=MACROS)
    widths_raw = raw.get("widths", [16, 32, 64])
    if isinstance(widths_raw, dict):
        check_mapping(widths_raw, f"{path}.widths", {"choices"}, {"choices"})
        options = widths_raw["choices"]
        if not isinstance(options, list) or not options:
            raise fail(f"{path}.widths.choices", f"expected a list of width lists, got {quote(options)}")
        keys = tuple(widths_key(parse_int_list(o, f"{path}.widths.choices[{i}]")) for i, o in enumerate(options))
        widths = Domain("str", "choice", choices=keys) if len(set(keys)) > 1 else Domain("str", "constant",
                                                                                         value=keys[0])
    else:
        widths = Domain("str", "constant", value=widths_key(parse_int_list(widths_raw, f"{path}.widths")))
    residual = raw.get("residual", "preact")
    check_scalar(residual, f"{path}.residual", "str", choices=tuple(RESIDUAL_FORMS))
    return NetworkSpace(
        macro=macro,
        widths=widths,
        steps_per_stage=parse_domain(raw.get("steps_per_stage", 2), f"{path}.steps_per_stage", "int", 1, 64),
        h=parse_domain(raw.get("h", 1.0), f"{path}.h", "float", 1e-3, 10.0),
        share_stage_weights=parse_domain(raw.get("share_stage_weights", False), f"{path}.share_stage_weights",
                                         "bool"),
        residual=residual,
    )


# -------------------------------------------------------------------------------------- constraints
@dataclass(frozen=True)
class Constraints:
    """Feasibility rules handed to Optuna as constraints (value ≤ 0 is feasible)."""

    min_order: int | None = None
    zero_stable: bool = False
    max_params: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        out = []
        if self.min_order is not None:
            out.append("min_order")
        if self.zero_stable:
            out.append("zero_stable")
        if self.max_params is not None:
            out.append("max_params")
        return tuple(out)


def _parse_constraints(raw, path: str = "constraints") -> Constraints:
    raw = {} if raw is None else raw
    check_mapping(raw, path, {"min_order", "zero_stable", "max_params"})
    min_order = raw.get("min_order")
    max_params = raw.get("max_params")
    return Constraints(
        min_order=None if min_order is None else check_scalar(min_order, f"{path}.min_order", "int", 0, 8),
        zero_stable=check_scalar(raw.get("zero_stable", False), f"{path}.zero_stable", "bool"),
        max_params=None if max_params is None else check_scalar(max_params, f"{path}.max_params", "int", low=1),
    )


# ------------------------------------------------------------------------------------------- data
def _parse_data(raw, path: str = "data") -> dict:
    from nas.data import DATASETS

    raw = {"name": "mnist1d"} if raw is None else raw
    if not isinstance(raw, dict):
        raise fail(path, f"expected a mapping, got {quote(raw)}")
    out = dict(raw)
    out["name"] = check_scalar(raw.get("name", "mnist1d"), f"{path}.name", "str", choices=DATASETS)
    if "seed" in raw:
        check_scalar(raw["seed"], f"{path}.seed", "int", low=0, high=MAX_SEED)
    if raw.get("num_samples") is not None:
        check_scalar(raw["num_samples"], f"{path}.num_samples", "int", low=2)
    if "val_fraction" in raw:
        check_scalar(raw["val_fraction"], f"{path}.val_fraction", "float", 0.0, 1.0)
    if raw.get("root") is not None:
        check_scalar(raw["root"], f"{path}.root", "str")
    return out


def _parse_train(raw, path: str = "train") -> dict:
    from nas.train import TrainConfig

    raw = {} if raw is None else raw
    check_mapping(raw, path, set(TrainConfig.__dataclass_fields__))
    try:
        return TrainConfig(**raw).to_dict()
    except ValueError as exc:
        raise SpaceError(f"{path}.{exc}") from None


# --------------------------------------------------------------------------------------- the space
@dataclass(frozen=True)
class TrialPlan:
    """What one trial trains: built from the trial's config by ``SearchSpace.plan``."""

    option: str
    baseline: bool
    scheme: Any
    noise: Any
    spec: Any  # nas.networks.NetworkSpec


def _parse_baselines(raw, network, path: str = "baselines") -> dict | None:
    """``baselines``: false / true / ``{network: {...}}`` -> None or the baselines' fixed network config."""
    if isinstance(raw, dict):
        check_mapping(raw, path, {"network"})
        return network.fixed(raw.get("network"), f"{path}.network")
    if check_scalar(raw, path, "bool"):
        return network.fixed(None, f"{path}.network")
    return None


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
        blocks = [_parse_scheme_block(item, p) for item, p in zip(items, paths)]
        for block, path in zip(blocks, paths):
            if block.label in BASELINES:
                raise fail(f"{path}.label", f"{quote(block.label)} is reserved for the baselines")
        _check_unique_labels([b.label for b in blocks], paths)

        noise_raw = raw.get("noise")
        noise_items = [] if noise_raw is None else (noise_raw if isinstance(noise_raw, list) else [noise_raw])
        noise_paths = [f"noise[{i}]" for i in range(len(noise_items))] if isinstance(noise_raw, list) else ["noise"]
        if isinstance(noise_raw, list) and not noise_raw:
            raise fail("noise", "an empty list; leave noise out for no noise")
        noise = [_parse_noise_block(item, p) for item, p in zip(noise_items, noise_paths)]
        _check_unique_labels([b.label for b in noise], noise_paths)

        network = _parse_network(raw.get("network"), data=raw.get("data"))
        most_steps = max(network.steps_per_stage.values())
        for block, path in zip(blocks, paths):
            block.check_depth(most_steps, path)
        network.check_schemes(blocks, paths)
        baseline_network = _parse_baselines(raw.get("baselines", False), network)

        train = _parse_train(raw.get("train"))
        settings = _parse_settings(raw.get("search"))
        check_settings(settings, train)
        return cls(source=str(source), raw=copy.deepcopy(raw), name=name, description=description,
                   data=_parse_data(raw.get("data")), train=train, search=settings, network=network,
                   schemes=tuple(blocks), noise=tuple(noise), constraints=_parse_constraints(raw.get("constraints")),
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
        return BASELINES if self.baselines else ()

    def suggest(self, trial) -> dict:
        """The define-by-run body: only ``trial.suggest_*``; returns the constants of this trial."""
        constants: dict = {}
        baseline = trial.user_attrs.get("baseline") if self.baselines else None
        if baseline in BASELINES:
            # The published architecture: no sampled choice from any block, no noise, the fixed network.
            label = constants["scheme"] = baseline
            self._block(label).suggest(trial, constants)
            constants["noise"] = "none"
            constants.update(self.baseline_network)
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
        for block in (*self.schemes, *(_baseline_blocks() if self.baselines else ())):
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


def _check_unique_labels(labels, paths) -> None:
    seen = {}
    for label, path in zip(labels, paths):
        if label in seen:
            raise fail(f"{path}.label", f"label {quote(label)} is already used by {seen[label]}; give each block its "
                                        "own label")
        seen[label] = path


# ------------------------------------------------------------------------------------------ loading
def load_space(source=None) -> SearchSpace:
    """A ``SearchSpace`` from a YAML path (None: the embedded ``quick.yaml``), a mapping or a SearchSpace.

    Files are read with ``nas.safe_yaml`` (bounded aliases and size, no duplicate keys, plain data only).
    """
    from nas import safe_yaml

    if isinstance(source, SearchSpace):
        return source
    if isinstance(source, dict):
        return SearchSpace.from_dict(source)
    if source is None:
        text = resources.files("nas.search").joinpath(EMBEDDED_DEFAULT).read_text(encoding="utf-8")
        label = EMBEDDED_DEFAULT
        raw = safe_yaml.loads(text, label)
    else:
        path = Path(source)
        label = path.name
        if not path.is_file():
            raise SpaceError(f"{source}: no such search-space file")
        try:
            raw = safe_yaml.load_file(path, label)
        except ValueError as exc:
            raise SpaceError(str(exc)) from None
    if raw is None:
        raise SpaceError(f"{label}: the file is empty")
    return SearchSpace.from_dict(raw, source=label)


__all__ = ["SearchSpace", "SearchSettings", "check_settings", "SpaceSampler", "TrialPlan", "Constraints",
           "SpaceError", "load_space", "OBJECTIVES", "SAMPLERS", "SCHEDULERS", "BASELINES", "DUPLICATE_MODES",
           "widths_key", "widths_from_key", "check_run_name"]
