"""A search space's ``network`` section naming a torchvision ResNet: every trial converts it to its scheme.

    network:
      torchvision: resnet18        one of nas.conversion.ARCHITECTURES (random weights: trained from scratch)
      num_classes: 10              optional; must be the data set's
      stem: cifar                  imagenet (torchvision's, default) or cifar (3×3 stride-1 conv, no max pool)
      h: 1.0                       step size of the scheme steps: a constant, a choice or a range
      relu: step                   where the blocks' ReLU goes (step, stage, none): a constant or a choice

Each trial's network is ``ConvertedSpec(architecture, scheme, ...)`` built by ``nas.build_network`` (torchvision
builds the ResNet, ``nas.convert`` turns its layers into the sampled scheme), so trial folders, ``trials.csv``,
``nas export`` and ``nas.load`` handle it like any other network. See docs/convert.md.
"""
from __future__ import annotations

from dataclasses import dataclass

from nas.messages import quote

from nas.domains import Domain, check_mapping, check_scalar, fail, parse_domain, suggest_into

KEYS = {"torchvision", "num_classes", "stem", "h", "relu"}


@dataclass(frozen=True)
class TorchvisionNetworkSpace:
    """The network section of a space whose network is a converted torchvision ResNet."""

    architecture: str
    stem: str
    num_classes: int | None
    h: Domain
    relu: Domain
    # the deepest stage's steps, its transition included (what the scheme blocks' check_depth compares with:
    # a k-step method takes full steps from a stage's second block, since its history starts at the transition)
    steps_per_stage: Domain
    macro: str = "image"

    def suggest(self, trial, constants: dict) -> None:
        for name in ("h", "relu"):
            suggest_into(getattr(self, name), trial, name, constants)

    def fixed(self, raw, path: str) -> dict:
        """One fixed network config (the baselines'): the values named in ``raw``, else each setting's constant,
        first choice or range's low bound."""
        from nas.conversion import RELU_MODES

        raw = {} if raw is None else raw
        check_mapping(raw, path, {"h", "relu"})
        out = {name: getattr(self, name).values()[0] for name in ("h", "relu")}
        if "h" in raw:
            out["h"] = check_scalar(raw["h"], f"{path}.h", "float", 1e-3, 10.0)
        if "relu" in raw:
            out["relu"] = check_scalar(raw["relu"], f"{path}.relu", "str", choices=RELU_MODES)
        return out

    def check_schemes(self, blocks, paths) -> None:
        """A ``SpaceError`` for a scheme block whose schemes cannot run on the blocks (``conversion_reason``: a
        family's answer, whatever its coefficients), found while the space is read rather than in every trial."""
        from nas import schemes
        from nas.families import registry

        for block, path in zip(blocks, paths):
            names = getattr(block, "names", None)  # a block of registered names, or one family's block
            candidates = ([schemes.get(name) for name in names.values()] if names is not None
                          else [registry.family(block.family).named_schemes()[0].build()])
            for scheme in candidates:
                reason = registry.family_of(scheme).conversion_reason(scheme)
                if reason is not None:
                    raise fail(path, f"{scheme} cannot run on the blocks of network.torchvision "
                                     f"({self.architecture}): {reason}")

    def build_spec(self, config: dict, *, scheme, noise, macro: str, in_channels: int, num_classes: int):
        """The trial's ``ConvertedSpec`` (a ``ValueError`` when the data set does not fit the network)."""
        from nas.conversion import ConvertedSpec

        if in_channels != 3:
            raise ValueError(f"network.torchvision: {self.architecture} takes 3-channel images, the data has "
                             f"{in_channels} channel(s)")
        if self.num_classes is not None and self.num_classes != num_classes:
            raise ValueError(f"network.num_classes: {self.num_classes}, but the data set has {num_classes} classes")
        return ConvertedSpec(architecture=self.architecture, scheme=scheme, num_classes=num_classes, stem=self.stem,
                             h=float(config["h"]), relu=config["relu"], noise=noise)


def parse_torchvision_network(raw: dict, path: str, data) -> TorchvisionNetworkSpace:
    """The section ``raw`` (it has the key ``torchvision``); ``data`` is the space's raw ``data`` section, whose
    data set's number of classes ``num_classes`` must equal."""
    from nas.conversion import ARCHITECTURES, RELU_MODES, STEMS
    from nas.conversion.architectures import architecture_layout
    from nas.data_info import INFO

    check_mapping(raw, path, KEYS, {"torchvision"})
    architecture = check_scalar(raw["torchvision"], f"{path}.torchvision", "str", choices=ARCHITECTURES)
    stem = check_scalar(raw.get("stem", "imagenet"), f"{path}.stem", "str", choices=STEMS)
    num_classes = raw.get("num_classes")
    if num_classes is not None:
        check_scalar(num_classes, f"{path}.num_classes", "int", low=1)
        name = data.get("name", "mnist1d") if isinstance(data, dict) else None
        if name in INFO and INFO[name].num_classes != num_classes:
            raise fail(f"{path}.num_classes", f"{num_classes}, but the data set {quote(name)} has "
                                              f"{INFO[name].num_classes} classes")
    deepest = max(architecture_layout(architecture)[1])
    return TorchvisionNetworkSpace(
        architecture=architecture, stem=stem, num_classes=num_classes,
        h=parse_domain(raw.get("h", 1.0), f"{path}.h", "float", 1e-3, 10.0),
        relu=parse_domain(raw.get("relu", "step"), f"{path}.relu", "str", choices=RELU_MODES),
        steps_per_stage=Domain("int", "constant", value=deepest))


__all__ = ["TorchvisionNetworkSpace", "parse_torchvision_network"]
