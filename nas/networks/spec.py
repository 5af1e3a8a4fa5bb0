"""``NetworkSpec``: the value that fully determines a network (nanoGPT-style config).

Exports store it beside the weights as ``spec.json`` so a model can be rebuilt exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..checks import flag, positive_int, step_size
from ..schemes import from_dict as scheme_from_dict
from ..schemes import resolve
from ..schemes.noise import noise_schedule
from ..schemes.serialization import check_keys
from .blocks import MACROS
from .residuals import RESIDUAL_FORMS
from .learned import GRANULARITIES
from .tying import NORMS, TIES, time_invariant

DEFAULT_IN_CHANNELS = {"image": 3, "sequence": 1, "mlp": 2}


@dataclass(frozen=True)
class NetworkSpec:
    """Everything needed to build a network.

    scheme              a scheme object, a registered name (``"rk4"``) or a scheme JSON dict
    macro               ``image`` (CIFAR-style 2-D), ``sequence`` (1-D, MNIST-1D) or ``mlp`` (2-D toy data)
    in_channels         input channels (features for ``mlp``); default 3 / 1 / 2
    num_classes         classifier outputs
    widths              width of each stage; a transition changes width between stages
    steps_per_stage     scheme steps per stage (network depth = len(widths) · steps_per_stage steps)
    h                   step size (1 is the ResNet convention: f absorbs h)
    share_stage_weights Runge-Kutta only: all s stages of a step use one residual function (ODE-faithful)
                        instead of s functions with their own weights
    noise               a noise schedule (``nas.schemes.noise.NoiseSchedule``) or None
    residual            form of the residual function (``preact``: BN-ReLU-conv-BN-ReLU-conv)
    memory_efficient    reversible schemes only: recompute states by inverting steps in backward
    tie                 ``none``: every step has its own residual function; ``stage``: one residual function
                        per stage, shared by all its steps and Runge-Kutta stages (an ODE discretisation;
                        ``nas.networks.tying``)
    norm                normalisation inside the residual function: ``per_step`` (each step its own BatchNorm),
                        ``shared`` (one for the stage; tied networks only) or ``none`` (normalisation only at
                        stage boundaries)
    learn_scheme        ``none``: the scheme's coefficients are fixed; ``network``, ``stage``, ``step``: they are
                        trained with the weights inside the family's order-preserving parametrisation, starting
                        at ``scheme``, with one set of free parameters per network, stage or step
                        (``nas.networks.learned``, docs/learned.md)
    learn_order         the order the learned coefficients keep (Runge-Kutta ≤ 3, k-step methods ≤ k); None:
                        the highest the parametrisation keeps that ``scheme`` has (resolved at construction)

    ``tie``, ``norm``, ``learn_scheme`` and ``learn_order`` are written to JSON only when they differ from their
    defaults, so the ``spec.json`` (and the ``architecture_id``) of every network without them stays what it
    was before they existed.
    """

    scheme: object = "euler"
    macro: str = "sequence"
    in_channels: int | None = None
    num_classes: int = 10
    widths: tuple[int, ...] = (16, 32, 64)
    steps_per_stage: int = 2
    h: float = 1.0
    share_stage_weights: bool = False
    noise: object = None
    residual: str = "preact"
    memory_efficient: bool = False
    tie: str = "none"
    norm: str = "per_step"
    learn_scheme: str = "none"
    learn_order: int | None = None

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        set_("scheme", resolve(self.scheme))
        if self.macro not in MACROS:
            raise ValueError(f"macro: must be one of {', '.join(MACROS)}, got {self.macro!r}")
        if self.in_channels is None:
            set_("in_channels", DEFAULT_IN_CHANNELS[self.macro])
        set_("in_channels", positive_int(self.in_channels, "in_channels"))
        set_("num_classes", positive_int(self.num_classes, "num_classes"))
        if isinstance(self.widths, (str, bytes)) or not hasattr(self.widths, "__iter__"):
            raise ValueError(f"widths: expected a list of positive integers, got {self.widths!r}")
        widths = tuple(positive_int(w, f"widths[{i}]") for i, w in enumerate(self.widths))
        if not widths:
            raise ValueError("widths: needs at least one stage")
        set_("widths", widths)
        set_("steps_per_stage", positive_int(self.steps_per_stage, "steps_per_stage (depth)"))
        set_("h", step_size(self.h))
        for name in ("share_stage_weights", "memory_efficient"):
            flag(getattr(self, name), name)
        if self.residual not in RESIDUAL_FORMS:
            raise ValueError(f"residual: must be one of {', '.join(RESIDUAL_FORMS)}, got {self.residual!r}")
        if self.noise is not None:
            set_("noise", noise_schedule(self.noise))
        if self.tie not in TIES:
            raise ValueError(f"tie: must be one of {', '.join(TIES)}, got {self.tie!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm: must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if self.norm == "shared" and self.tie == "none":
            raise ValueError("norm: 'shared' needs tie = 'stage' (untied steps have a residual function, and so a "
                             "normalisation, each)")
        self._check_learning(set_)

    def _check_learning(self, set_) -> None:
        """``learn_scheme`` / ``learn_order``: the family must have a parametrisation that starts at the scheme
        (asked here, so an unsupported family or order fails at construction)."""
        if self.learn_scheme not in GRANULARITIES:
            raise ValueError(f"learn_scheme: must be one of {', '.join(GRANULARITIES)}, got {self.learn_scheme!r}")
        if self.learn_scheme == "none":
            if self.learn_order is not None:
                raise ValueError(f"learn_order: only with learn_scheme other than 'none', got {self.learn_order!r}")
            return
        if self.memory_efficient:
            raise ValueError("learn_scheme: the memory-efficient mode inverts steps with the scheme's fixed "
                             "coefficients; learn them with memory_efficient = false")
        from ..families.registry import family_of

        parametrisation = family_of(self.scheme).parametrisation(self.scheme, self.learn_order)
        if parametrisation.size == 0:
            raise ValueError(f"learn_scheme: {self.scheme} has no free coefficients at order {parametrisation.order} "
                             f"(learn_order): there is nothing to learn")
        set_("learn_order", parametrisation.order)

    @property
    def total_steps(self) -> int:
        return len(self.widths) * self.steps_per_stage

    @property
    def time_invariant(self) -> bool:
        """Whether each stage applies one function f at every step (x' = f(x), autonomous): tied weights and a
        normalisation shared or absent. Only then do the scheme's order, stability and modified equation
        describe the network; untied (or per-step normalised) networks discretise a non-autonomous
        x' = f(x, t) only loosely."""
        return time_invariant(self.tie, self.norm)

    def replace(self, **changes) -> "NetworkSpec":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "scheme" or f.name == "noise":
                value = None if value is None else value.to_dict()
            elif f.name == "widths":
                value = list(value)
            elif f.name in _WRITTEN_WHEN_SET and value == f.default:
                continue
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "NetworkSpec":
        names = {f.name for f in fields(cls)}
        check_keys(data, required={"scheme"}, optional=names - {"scheme"}, where="network spec")
        data = dict(data)
        if isinstance(data["scheme"], dict):
            data["scheme"] = scheme_from_dict(data["scheme"])
        return cls(**data)


# added later: absent from older spec.json files, ids unchanged
_WRITTEN_WHEN_SET = ("tie", "norm", "learn_scheme", "learn_order")


__all__ = ["NetworkSpec", "DEFAULT_IN_CHANNELS"]
