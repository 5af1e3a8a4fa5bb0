"""The ``network`` section: the shape of each trial's network around its scheme.

    {macro: image, widths: [8, 16, 32] or {choices: [[8, 16], [16, 32]]}, steps_per_stage: [1, 2], h: 1.0,
     share_stage_weights: false, residual: preact, tie: [none, stage], norm: per_step}

``tie`` and ``norm`` (``NetworkSpec``; ``nas.networks.tying``) may be constants or choices like the others, and
so may ``learn_scheme`` (``none``, ``network``, ``stage``, ``step``: the trial's scheme, fixed or searched, is then
the starting point of coefficients learned with the weights; docs/learned.md), e.g. ``learn_scheme: [none,
network]`` offers learned coefficients next to fixed ones. Every scheme block of such a space must have a
parametrisation (a trial of a scheme without one ends with the construction error). ``learn_order`` (an int, a
list of ints or a range, 1-4; absent: the starting scheme's highest order the parametrisation keeps) searches the
order the learned coefficients keep; it is drawn only when offered and used only by trials that learn.

or a torchvision ResNet converted to each trial's scheme (``{torchvision: resnet18, ...}``, parsed by
``nas.search.torchvision_network``). A widths choice is sampled as a string key ``"8-16-32"`` (``widths_key``),
since Optuna's categorical choices are scalars.
"""
from __future__ import annotations

from dataclasses import dataclass

from nas.messages import quote

from nas.domains import Domain, check_mapping, check_scalar, fail, parse_domain, parse_int_list, suggest_into


@dataclass(frozen=True)
class NetworkSpace:
    """The network settings of a space (each a constant, a choice or a range) and the trial's ``NetworkSpec``."""

    macro: str | None
    widths: Domain  # constant or choice over "8-16-32" strings
    steps_per_stage: Domain
    h: Domain
    share_stage_weights: Domain
    residual: str = "preact"
    tie: Domain = Domain("str", "constant", value="none")
    norm: Domain = Domain("str", "constant", value="per_step")
    learn_scheme: Domain = Domain("str", "constant", value="none")
    learn_order: Domain | None = None  # None: the parametrisation's default order

    def suggest(self, trial, constants: dict) -> None:
        for name in SAMPLED:
            domain = getattr(self, name)
            if name in UNTIED_DEFAULTS and domain.mode == "constant" and domain.value == UNTIED_DEFAULTS[name]:
                continue  # an untied space's trials keep the configs they had before tying existed
            suggest_into(domain, trial, name, constants)
        if self.learn_scheme.values() != ("none",):  # drawn only when offered: other spaces' configs unchanged
            suggest_into(self.learn_scheme, trial, "learn_scheme", constants)
        if self.learn_order is not None:
            suggest_into(self.learn_order, trial, "learn_order", constants)

    def check_schemes(self, blocks, paths) -> None:
        """Every scheme block builds networks of this kind (a torchvision network refuses some families)."""
        return None

    def fixed(self, raw, path: str) -> dict:
        """One fixed network config (the baselines' shape): the values named in ``raw``, else each setting's
        constant, first choice or range's low bound."""
        from nas.networks.tying import NORMS, TIES

        raw = {} if raw is None else raw
        check_mapping(raw, path, set(SAMPLED))
        out = {name: getattr(self, name).values()[0] for name in SAMPLED}
        if "widths" in raw:
            out["widths"] = widths_key(parse_int_list(raw["widths"], f"{path}.widths"))
        for name, kind, low, high in (("steps_per_stage", "int", 1, 64), ("h", "float", 1e-3, 10.0),
                                      ("share_stage_weights", "bool", None, None)):
            if name in raw:
                out[name] = check_scalar(raw[name], f"{path}.{name}", kind, low, high)
        for name, choices in (("tie", TIES), ("norm", NORMS)):
            if name in raw:
                out[name] = check_scalar(raw[name], f"{path}.{name}", "str", choices=choices)
        if out["tie"] == "none":
            del out["tie"], out["norm"]  # the untied default: baselines keep the configs they always had
        return out

    def build_spec(self, config: dict, *, scheme, noise, macro: str, in_channels: int, num_classes: int):
        """The trial's ``NetworkSpec`` from its config."""
        from nas.networks import NetworkSpec

        learn_scheme = str(config.get("learn_scheme", "none"))
        order = config.get("learn_order")
        learn_order = None if order is None or learn_scheme == "none" else int(order)

        return NetworkSpec(scheme=scheme, macro=self.macro or macro, in_channels=in_channels, num_classes=num_classes,
                           widths=widths_from_key(config["widths"]), steps_per_stage=int(config["steps_per_stage"]),
                           h=float(config["h"]), share_stage_weights=bool(config["share_stage_weights"]), noise=noise,
                           residual=self.residual, tie=str(config.get("tie", "none")),
                           norm=str(config.get("norm", "per_step")),
                           learn_scheme=learn_scheme, learn_order=learn_order)


SAMPLED = ("widths", "steps_per_stage", "h", "share_stage_weights", "tie", "norm")  # settings a trial draws
UNTIED_DEFAULTS = {"tie": "none", "norm": "per_step"}


def widths_key(widths) -> str:
    return "-".join(str(w) for w in widths)


def widths_from_key(key: str) -> tuple[int, ...]:
    return tuple(int(w) for w in str(key).split("-"))


def parse_network(raw, path: str = "network", data=None):
    """The ``network`` section (None: every default) as a ``NetworkSpace``, or a ``TorchvisionNetworkSpace``
    when it names a torchvision ResNet (``data``: the space's data section, whose classes it must match)."""
    from nas.networks.blocks import MACROS
    from nas.networks.residuals import RESIDUAL_FORMS
    from nas.networks.tying import NORMS, TIES

    raw = {} if raw is None else raw
    if isinstance(raw, dict) and "torchvision" in raw:  # a torchvision ResNet, converted to each trial's scheme
        from ..torchvision_network import parse_torchvision_network

        return parse_torchvision_network(raw, path, data)
    check_mapping(raw, path, {"macro", "residual", "learn_scheme", "learn_order", *SAMPLED})
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
    tie = parse_domain(raw.get("tie", "none"), f"{path}.tie", "str", choices=TIES)
    norm = parse_domain(raw.get("norm", "per_step"), f"{path}.norm", "str", choices=NORMS)
    if "shared" in norm.values() and "none" in tie.values():
        raise fail(f"{path}.norm", "'shared' needs tie: stage in every trial (an untied network has a "
                                   "normalisation per step); make tie the constant stage or drop shared")
    from nas.networks.learned import GRANULARITIES

    learn_scheme = parse_domain(raw.get("learn_scheme", "none"), f"{path}.learn_scheme", "str", choices=GRANULARITIES)
    learn_order = None
    if "learn_order" in raw:
        if learn_scheme.values() == ("none",):
            raise fail(f"{path}.learn_order", "needs learn_scheme other than none (the order learned coefficients keep)")
        learn_order = parse_domain(raw["learn_order"], f"{path}.learn_order", "int", 1, 4)
    return NetworkSpace(
        learn_scheme=learn_scheme,
        learn_order=learn_order,
        macro=macro,
        widths=widths,
        steps_per_stage=parse_domain(raw.get("steps_per_stage", 2), f"{path}.steps_per_stage", "int", 1, 64),
        h=parse_domain(raw.get("h", 1.0), f"{path}.h", "float", 1e-3, 10.0),
        share_stage_weights=parse_domain(raw.get("share_stage_weights", False), f"{path}.share_stage_weights",
                                         "bool"),
        residual=residual,
        tie=tie,
        norm=norm,
    )


__all__ = ["NetworkSpace", "parse_network", "widths_key", "widths_from_key"]
