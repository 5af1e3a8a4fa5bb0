"""``ConvertedSpec``: the value that determines a torchvision ResNet converted into a scheme network.

Like ``NetworkSpec`` it is stored beside the weights as ``spec.json`` (the key ``"torchvision"`` tells the two
apart: ``nas.network_kinds.spec_from_dict``), and ``nas.network_kinds`` builds its network
(``nas.conversion.network.converted_network``) after checking it against the budgets. Besides its own
fields, ``to_dict`` writes the architecture summary every reader of trial folders uses (``macro``,
``in_channels``, ``widths``, ``steps_per_stage``, ``share_stage_weights``: the ``trials.csv`` columns); they
are derived, and ``from_dict`` checks them.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from ..checks import positive_int, step_size
from ..schemes import from_dict as scheme_from_dict
from ..schemes import resolve
from ..schemes.noise import noise_schedule
from ..schemes.serialization import check_keys
from .architectures import architecture_layout, check_architecture, check_stem

RELU_MODES = ("step", "stage", "none")
# derived entries of the JSON form -> their value for a converted network (checked on reading)
_SUMMARY = ("macro", "in_channels", "steps_per_stage", "share_stage_weights")


def _layers(values, name: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name}: expected four positive integers (one per layer), got {values!r}")
    out = tuple(positive_int(v, f"{name}[{i}]") for i, v in enumerate(values))
    if len(out) != 4:
        raise ValueError(f"{name}: expected four entries (layer1-4), got {len(out)}")
    return out


@dataclass(frozen=True)
class ConvertedSpec:
    """A torchvision ResNet whose layers run ``scheme`` (``nas.convert``).

    architecture      a torchvision ResNet builder (``nas.conversion.ARCHITECTURES``), or None for a ResNet built
                      otherwise: the spec then describes the network (``widths`` and ``stage_steps`` given) but
                      cannot rebuild it
    scheme            a scheme object, a registered name or a scheme JSON dict; its family must convert
                      (``conversion_reason``)
    num_classes       classifier outputs
    stem              ``imagenet`` (torchvision's) or ``cifar`` (3×3 stride-1 first convolution, no max pool)
    h                 step size of the scheme steps (1: a step adds the block's branch, as the ResNet does); the
                      transition blocks are left as they are
    relu              where the ReLU that ends torchvision's blocks goes: ``step`` (after every step,
                      x_{n+1} = relu(step): euler is then the original network), ``stage`` (once, after a
                      stage's last step) or ``none``
    noise             a noise schedule (``nas.schemes.noise.NoiseSchedule``, its dict) or None
    memory_efficient  recompute the steps in the backward pass by inverting them (reversible schemes; needs
                      ``relu`` other than ``step``, since a ReLU cannot be inverted)
    widths            output width of each layer (derived from the architecture)
    stage_steps       steps of each stage = blocks of each layer: the first (the transition, which may
                      downsample) is a plain residual step, the others are the scheme's (derived)
    """

    architecture: str | None
    scheme: object = "euler"
    num_classes: int = 1000
    stem: str = "imagenet"
    h: float = 1.0
    relu: str = "step"
    noise: object = None
    memory_efficient: bool = False
    widths: tuple[int, ...] | None = None
    stage_steps: tuple[int, ...] | None = None

    def __post_init__(self):
        from ..families.registry import family_of

        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        scheme = resolve(self.scheme)
        family = family_of(scheme)
        reason = family.conversion_reason(scheme)
        if reason is not None:
            raise ValueError(f"scheme: {scheme} cannot run on the blocks of a torchvision ResNet: {reason}")
        set_("scheme", scheme)
        set_("num_classes", positive_int(self.num_classes, "num_classes"))
        check_stem(self.stem)
        set_("h", step_size(self.h))
        if self.relu not in RELU_MODES:
            raise ValueError(f"relu: must be one of {', '.join(RELU_MODES)}, got {self.relu!r}")
        if not isinstance(self.memory_efficient, bool):
            raise ValueError(f"memory_efficient: must be true or false, got {self.memory_efficient!r}")
        if self.memory_efficient:
            reason = family.memory_efficient_reason(scheme)
            if reason is not None:
                raise ValueError(f"memory_efficient: {scheme} cannot be inverted step by step: {reason}")
            if self.relu == "step":
                raise ValueError("memory_efficient: a ReLU after every step cannot be inverted; use relu 'stage' "
                                 "or 'none'")
        if self.noise is not None:
            set_("noise", noise_schedule(self.noise))
        given = {name: None if getattr(self, name) is None else _layers(getattr(self, name), name)
                 for name in ("widths", "stage_steps")}
        if self.architecture is None:
            missing = [name for name, value in given.items() if value is None]
            if missing:
                raise ValueError(f"{' and '.join(missing)}: needed when the architecture is not a named one")
        else:
            check_architecture(self.architecture)
            derived = dict(zip(("widths", "stage_steps"), architecture_layout(self.architecture)))
            for name, value in given.items():
                if value is not None and value != derived[name]:
                    raise ValueError(f"{name}: {self.architecture} has {list(derived[name])}, got {list(value)}")
            given = derived
        set_("widths", given["widths"])
        set_("stage_steps", given["stage_steps"])

    # ------------------------------------------------------------------ what readers of NetworkSpec ask
    macro = "image"
    in_channels = 3
    share_stage_weights = True  # a converted step's Runge-Kutta stages all evaluate its one block
    tie = "none"  # every block of a torchvision ResNet keeps its own weights: a converted network is untied
    norm = "per_step"
    time_invariant = False

    @property
    def steps_per_stage(self) -> int:
        """The deepest stage's steps (``stage_steps`` has every stage's)."""
        return max(self.stage_steps)

    @property
    def total_steps(self) -> int:
        return sum(self.stage_steps)

    @property
    def rebuildable(self) -> bool:
        return self.architecture is not None

    # ------------------------------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        out = {"torchvision": self.architecture, "stem": self.stem, "num_classes": self.num_classes,
               "scheme": self.scheme.to_dict(), "h": self.h, "relu": self.relu,
               "noise": None if self.noise is None else self.noise.to_dict(),
               "memory_efficient": self.memory_efficient, "widths": list(self.widths),
               "stage_steps": list(self.stage_steps)}
        return {**out, **{name: getattr(self, name) for name in _SUMMARY}}

    @classmethod
    def from_dict(cls, data: dict) -> "ConvertedSpec":
        own = {f.name for f in fields(cls)} - {"architecture"}
        check_keys(data, required={"torchvision", "scheme"}, optional=own | set(_SUMMARY) | {"torchvision"},
                   where="converted network spec")
        data = dict(data)
        summary = {name: data.pop(name) for name in _SUMMARY if name in data}
        scheme = data["scheme"]
        data["scheme"] = scheme_from_dict(scheme) if isinstance(scheme, dict) else scheme
        spec = cls(architecture=data.pop("torchvision"), **data)
        for name, value in summary.items():
            if value != getattr(spec, name) or isinstance(value, bool) != isinstance(getattr(spec, name), bool):
                raise ValueError(f"{name}: a converted {spec.architecture} has {getattr(spec, name)!r}, "
                                 f"got {value!r}")
        return spec


__all__ = ["ConvertedSpec", "RELU_MODES"]
