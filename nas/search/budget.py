"""A space's largest networks, checked against the budgets (``nas.limits``) before a search writes anything.

Trials are sampled later, one by one, so the driver checks every network the space can produce at its
extremes: the space's own define-by-run function (``SearchSpace.suggest``) is run against a stand-in trial
that answers every numeric question with its largest value (more stages, more steps) and every other
categorical question (scheme names, widths, noise, flags) once per choice. Each resulting network is
estimated on torch's meta device (``nas.networks.estimate``) with the data set's sample shape and the
training batch size; nothing is allocated and no data is loaded.
"""
from __future__ import annotations

import json
from numbers import Real

from .space import SearchSpace

MAX_CANDIDATES = 4096  # enumerated configurations; a space with more is checked on the first ones


class _ExtremeTrial:
    """An Optuna trial stand-in: numbers at their maximum, other choices taken from ``picks``.

    A categorical setting not yet in ``picks`` takes its first choice and is listed in ``open`` so the
    caller can branch on it.
    """

    def __init__(self, picks: dict, baseline: str | None):
        self.picks = picks
        self.user_attrs = {} if baseline is None else {"baseline": baseline}
        self.params: dict = {}
        self.open: list = []

    def suggest_int(self, name, low, high, step=1, log=False):
        self.params[name] = high
        return high

    def suggest_float(self, name, low, high, step=None, log=False):
        self.params[name] = high
        return high

    def suggest_categorical(self, name, choices):
        if all(isinstance(c, Real) and not isinstance(c, bool) for c in choices):
            value = max(choices)
        elif name in self.picks:
            value = self.picks[name]
        else:
            self.open.append((name, list(choices)))
            value = choices[0]
        self.params[name] = value
        return value


def extreme_configs(space: SearchSpace):
    """Trial configs (sampled values and constants, as Tune passes them) covering the space's extremes."""
    count = 0
    for baseline in (None, *space.baseline_labels()):
        stack = [{}]
        while stack and count < MAX_CANDIDATES:
            picks = stack.pop()
            trial = _ExtremeTrial(picks, baseline)
            constants = space.suggest(trial)
            if trial.open:
                name, choices = trial.open[0]
                stack.extend({**picks, name: choice} for choice in reversed(choices))
                continue
            count += 1
            yield {**trial.params, **constants}
            if baseline is not None:
                break  # a baseline is one fixed network


def check_space(space: SearchSpace, info) -> int:
    """Check every extreme network of ``space`` for the data set ``info`` (``nas.data.DatasetInfo``);
    returns how many distinct networks were estimated. A ``ValueError`` names the first one over budget."""
    from nas.network_kinds import check

    seen = set()
    for config in extreme_configs(space):
        try:
            plan = space.plan(config, macro=info.macro, in_channels=info.in_channels, num_classes=info.num_classes)
        except ValueError:
            continue  # a degenerate extreme scheme; trials that sample it are recorded as errors
        structure = plan.spec.to_dict()
        structure.pop("h")
        if structure.get("noise"):
            structure["noise"] = structure["noise"]["kind"]
        key = json.dumps(structure, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        check(plan.spec, input_shape=info.input_shape, batch_size=space.train["batch_size"],
              where=f"{space.source}: option {plan.option}: network with widths "
                    f"{','.join(map(str, plan.spec.widths))}, {plan.spec.steps_per_stage} step(s) per stage")
    return len(seen)


__all__ = ["check_space", "extreme_configs"]
