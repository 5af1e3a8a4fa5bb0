"""A stage = one scheme applied over ``steps_per_stage`` steps at constant width.

:class:`SchemeStage` is the one ``nn.Module`` of every stage; its behaviour comes from the scheme's family
(``nas.families``), whose ``init_stage`` gives the stage its residual functions, learned coefficients and
stepping constants (``StageParts``, which the stage holds) and whose hooks do its stepping (with
``nas.stepper``, the code ``nas.integrate`` uses). Every stage exposes ``coefficients()`` (one dict per step:
the coefficients that step really uses, learned ones included), which diagnostics and export cards read,
and, for families that invert their steps (``ReversibleFamily``), the memory-efficient mode
(``nas.networks.reversible_autograd``).

Noise: a noise layer perturbs the step's *increment* (h Σ b_i k_i for Runge-Kutta, h Σ β_j f_{n+j} for
multistep, ...), never the state combination; see ``nas.schemes.noise``.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from torch import nn

from ..families.base import StageParts
from ..families.capabilities import PriorStateFamily, ReversibleFamily
from ..families.registry import families_with, family_of, names
from .reversible_autograd import reject_noise, run_memory_efficient, use_memory_efficient_path


def noise_layers(spec, first_step: int, steps: int):
    """One noise module per step (global step index n of N), or None when the spec has no noise."""
    if spec.noise is None or spec.noise.kind == "none":
        return None
    return nn.ModuleList(spec.noise.layer(first_step + n, spec.total_steps, spec.h) for n in range(steps))


class SchemeStage(nn.Module):
    """``scheme`` over ``spec.steps_per_stage`` steps of width ``width``, starting at global step
    ``first_step``; ``make_residual(width=None, *, step, role="f")`` gives the residual function of one step
    (a ``nas.networks.tying.ResidualFactory``: new, or tied to the other steps' when the spec ties them).
    ``step_functions`` maps (role, step) to the residual functions the stage holds (depth refinement reads it).
    ``learned`` (``nas.networks.learned.LearnedCoefficients``, or None) holds the stage's learned coefficients
    (``NetworkSpec.learn_scheme``); the family's stepping reads ``stage.scheme_parameters``.

    Converted networks (``nas.convert``) also give ``activation``, a module applied to every new state (the
    ReLU of torchvision's blocks; ``after_step``), and ``prior_states = 1``: the forward pass then receives
    ``prior = (x_prev, f_prev)``, the state before the stage input and its residual value (see the families'
    ``stage_forward_from``).

    What the stage holds is declared here and by its family, never set from outside: the attributes below,
    the submodules the family names in ``stage_modules`` (registered from the :class:`StageParts` its
    ``init_stage`` returns; their names are the state-dict prefixes) and ``state``, the family's frozen value
    of stepping constants (e.g. ``RungeKuttaStageState``)."""

    scheme: Any
    h: float
    memory_efficient: bool
    activation: nn.Module | None
    prior_states: int
    noise: nn.ModuleList | None
    scheme_parameters: Any  # nas.networks.learned.LearnedCoefficients or None
    state: Any  # the family's StageParts.state
    step_functions: dict

    def __init__(self, scheme, spec, width: int, first_step: int, make_residual, *, activation=None,
                 prior_states: int = 0, learned=None):
        super().__init__()
        family = family_of(scheme)
        if spec.memory_efficient:
            reason = family.memory_efficient_reason(scheme)
            if reason is not None:
                raise ValueError(f"memory_efficient: needs a reversible scheme; {scheme} cannot be inverted step "
                                 f"by step: {reason}")
            reject_noise(spec, str(scheme))
            if activation is not None or prior_states:  # a ReLU after each step destroys what inversion needs
                raise ValueError("memory_efficient: the steps must be the scheme's alone (no activation after "
                                 "each step, no prior states) to be inverted")
        if prior_states and not isinstance(family, PriorStateFamily):
            raise ValueError(f"prior_states: the {family.name} family's stages do not start from a prior state "
                             f"(families that do: {', '.join(families_with(PriorStateFamily))})")
        self.scheme = scheme
        self.h = spec.h
        self.memory_efficient = spec.memory_efficient
        self.activation = activation
        self.prior_states = prior_states
        self.noise = noise_layers(spec, first_step, spec.steps_per_stage)
        # learned coefficients (nas.networks.learned.LearnedCoefficients) replace the scheme's when set
        self.scheme_parameters = learned
        self.state = self._hold(family, family.init_stage(self, spec, width, first_step, make_residual))
        self.step_functions = getattr(make_residual, "functions", {})  # plain dict: registered by the family

    def _hold(self, family, parts: StageParts):
        """Register the family's submodules under the names it declares, in its order (the state-dict order);
        return its state."""
        if not isinstance(parts, StageParts) or tuple(parts.modules) != family.stage_modules:
            given = tuple(parts.modules) if isinstance(parts, StageParts) else parts
            raise TypeError(f"the {family.name} family's init_stage gave {given!r}; its stage_modules declare "
                            f"{family.stage_modules!r}")
        for name, module in parts.modules.items():
            setattr(self, name, module)
        return parts.state

    @property
    def family(self):
        return family_of(self.scheme)

    def forward(self, x, prior=None):
        if (prior is None) != (self.prior_states == 0):
            raise ValueError(f"stage: built for {self.prior_states} prior state(s), called with "
                             f"{'none' if prior is None else 'one'}")
        if use_memory_efficient_path(self):
            return run_memory_efficient(self, x)
        if prior is None:
            return self.family.stage_forward(self, x)
        return self.family.stage_forward_from(self, x, prior)

    def after_step(self, x):
        """A new state, through the stage's per-step activation (converted networks; identity otherwise)."""
        return x if self.activation is None else self.activation(x)

    def coefficients(self) -> list[dict]:
        return self.family.stage_coefficients(self)

    # memory-efficient mode (see nas.networks.reversible_autograd), for the families that declare it
    def _reversible_family(self) -> ReversibleFamily:
        family = self.family
        if not isinstance(family, ReversibleFamily):
            raise TypeError(f"{self.scheme}: the {family.name} family does not invert its steps (families that do: "
                            f"{', '.join(families_with(ReversibleFamily))})")
        return family

    def forward_states(self, x) -> tuple:
        return self._reversible_family().forward_states(self, x)

    def backward_states(self, x, states, grad_output, accumulate):
        return self._reversible_family().backward_states(self, x, states, grad_output, accumulate)

    def reconstruct_input(self, states):
        return self._reversible_family().reconstruct_input(self, states)


# scheme family -> its stage class (one class for all: the behaviour comes from the family)
STAGES = MappingProxyType({name: SchemeStage for name in names()})

__all__ = ["STAGES", "SchemeStage", "noise_layers"]
