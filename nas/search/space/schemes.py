"""The ``scheme`` section: scheme blocks, each a family of schemes to sample from.

``{family: named, names: [...]}`` picks registered schemes (``nas.schemes.names()``); any other family's block
is parsed by that family (``nas.families``, its ``parse_block`` hook). Every block has ``label`` (default: its
family), ``suggest(trial, constants)``, ``build(config)`` -> scheme and ``check_depth(most_steps, path)``.
"""
from __future__ import annotations

from dataclasses import dataclass

from nas.messages import quote

from nas.domains import Domain, check_mapping, fail, parse_domain, suggest_into
from .labels import parse_label


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


def parse_scheme_block(raw, path: str):
    """One scheme block: a ``NamedBlock`` or the block its family's ``parse_block`` returns."""
    from nas import schemes
    from nas.families import registry

    if not isinstance(raw, dict):
        raise fail(path, f"expected a scheme block (a mapping with a family key), got {quote(raw)}")
    family = raw.get("family")
    allowed = ("named", *registry.names())
    if family not in allowed:
        raise fail(f"{path}.family", f"must be one of {', '.join(allowed)}, got {quote(family)}")
    label = parse_label(raw, path, family)
    if family != "named":
        return registry.family(family).parse_block(raw, path, label)
    check_mapping(raw, path, {"family", "label", "names"}, {"names"})
    names = parse_domain(raw["names"], f"{path}.names", "str", choices=tuple(schemes.names()))
    return NamedBlock(label, names)


__all__ = ["NamedBlock", "parse_scheme_block"]
