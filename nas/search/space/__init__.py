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

One module per concern; every name is importable from ``nas.search.space``:

    loading.py       load_space: a file, the embedded quick.yaml, a mapping
    search_space.py  SearchSpace (reading the sections, sampling, building), TrialPlan, SpaceSampler
    settings.py      the search section: SearchSettings, SETTING_CHECKS, check_setting, check_settings
    schemes.py       scheme blocks (NamedBlock; other families parse their own)
    noise.py         noise blocks
    network.py       the network section (NetworkSpace, widths_key)
    constraints.py   the constraints section
    sections.py      the data and train sections
    baselines.py     the baselines section and the reference blocks
    labels.py        block labels
"""
from __future__ import annotations

from nas.paths import check_run_name  # re-exported: run names are checked like a space's ``name``

from nas.domains import SpaceError

# The value types are re-exported too: a searcher state pickled by Ray Tune before this package was split
# names them as nas.search.space.<name>, and ``nas search --resume`` must still load it.
from .baselines import BASELINES
from .constraints import Constraints
from .loading import EMBEDDED_DEFAULT, load_space
from .network import NetworkSpace, widths_from_key, widths_key
from .noise import NoiseBlock
from .schemes import NamedBlock
from .search_space import TOP_LEVEL, SearchSpace, SpaceSampler, TrialPlan
from .settings import (DUPLICATE_MODES, OBJECTIVES, SAMPLERS, SCHEDULERS, SETTING_CHECKS,
                       SINGLE_OBJECTIVE_SAMPLERS, SearchSettings, check_setting, check_settings, parse_gpus,
                       parse_objectives)

__all__ = ["SearchSpace", "SearchSettings", "check_settings", "SpaceSampler", "TrialPlan", "Constraints",
           "SpaceError", "load_space", "OBJECTIVES", "SAMPLERS", "SINGLE_OBJECTIVE_SAMPLERS", "SCHEDULERS",
           "BASELINES", "DUPLICATE_MODES",
           "widths_key", "widths_from_key", "check_run_name", "check_setting", "SETTING_CHECKS", "parse_gpus",
           "parse_objectives", "NamedBlock", "NoiseBlock", "NetworkSpace", "TOP_LEVEL", "EMBEDDED_DEFAULT"]
