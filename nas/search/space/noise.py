"""The ``noise`` section: noise blocks, each a kind of ``nas.schemes.noise.NoiseSchedule`` with its shape and
strength (constants, choices or ranges). No section means no noise."""
from __future__ import annotations

from dataclasses import dataclass

from nas.messages import quote

from nas.domains import Domain, check_mapping, fail, parse_domain, suggest_into
from .labels import parse_label


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


def parse_noise_block(raw, path: str) -> NoiseBlock:
    """One noise block: ``{kind: ..., shape: ..., <the kind's parameter>: ...}`` (``kind: none``: no noise)."""
    from nas.schemes.noise import KINDS, PARAMETER, SHAPES

    if not isinstance(raw, dict):
        raise fail(path, f"expected a noise block (a mapping with a kind key), got {quote(raw)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise fail(f"{path}.kind", f"must be one of {', '.join(KINDS)}, got {quote(kind)}")
    parameter = PARAMETER[kind]
    allowed = {"kind", "label"} | (set() if parameter is None else {"shape", parameter})
    check_mapping(raw, path, allowed, set() if parameter is None else {parameter})
    label = parse_label(raw, path, kind)
    if parameter is None:
        return NoiseBlock(label, kind, Domain("str", "constant", value="constant"), None)
    shape = parse_domain(raw.get("shape", "linear"), f"{path}.shape", "str", choices=SHAPES)
    strength = parse_domain(raw[parameter], f"{path}.{parameter}", "float", *_NOISE_BOUNDS[parameter])
    if parameter == "p_L" and 0.0 in strength.values():
        raise fail(f"{path}.p_L", "a keep probability must be > 0")
    return NoiseBlock(label, kind, shape, strength)


__all__ = ["NoiseBlock", "parse_noise_block"]
