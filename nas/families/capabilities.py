"""Optional abilities of a scheme family, declared by type.

As diffrax marks a solver's optional abilities with base classes (``AbstractAdaptiveSolver``,
``AbstractReversibleSolver`` with its ``backward_step``; diffrax ``_solver/base.py``), a family that has an
ability inherits its capability class here and writes that class's abstract hooks. Callers ask
``isinstance(family, ReversibleFamily)`` (or ``registry.families_with(ReversibleFamily)``) before they
build anything, instead of meeting a hook that raises halfway through a run; the registry refuses, when it
is built, a family that declares a capability without writing its hooks (:func:`check_family_type`).

A family without a capability still answers *why not* through the base class's questions
(``memory_efficient_reason``, ``conversion_reason``, ``parametrisation``), whose messages users see.
"""
from __future__ import annotations

import abc

from .base import Parametrisation, SchemeFamily


class ReversibleFamily(SchemeFamily):
    """Stages that invert their steps: the memory-efficient mode (``NetworkSpec.memory_efficient``), whose
    backward pass walks the steps from the last, inverting each one (Gomez et al., "The Reversible Residual
    Network", NeurIPS 2017, §3; ``nas.networks.reversible_autograd``). Families: multistep (two-step,
    division-free methods; not lm_resnet), hamiltonian, leapfrog2, momentum."""

    def memory_efficient_reason(self, scheme) -> str | None:
        """None: every scheme of the family inverts. Families that invert only some schemes say why not."""
        return None

    @abc.abstractmethod
    def forward_states(self, stage, x) -> tuple:
        """The stepping without a graph; the last entry is the output, the others are what the backward pass
        starts inverting from. Called by ``ReversibleStageFunction.forward``."""

    @abc.abstractmethod
    def backward_states(self, stage, x, states: tuple, grad_output, accumulate):
        """Walk the steps backwards, inverting each one and accumulating the parameter gradients through
        ``accumulate(params, grads)``; returns the gradient of the stage input. Called by
        ``ReversibleStageFunction.backward``."""

    @abc.abstractmethod
    def reconstruct_input(self, stage, states: tuple):
        """The stage input recovered from ``forward_states`` by inverting every step, without gradients
        (tests and ``benchmarks/reversible_memory.py --drift`` measure its round-off)."""


class ConvertibleFamily(SchemeFamily):
    """Stages that run on pre-built residual functions: the blocks of a torchvision ResNet (``nas.convert``).

    ``init_stage`` then calls ``make_residual()`` without arguments, once per residual function (the blocks
    in order), and the stepping passes every new state through ``stage.after_step`` (the ReLU torchvision's
    blocks end with; identity in nas's own networks). Families: runge_kutta, multistep, lm_resnet,
    leapfrog2, momentum."""

    def conversion_reason(self, scheme) -> str | None:
        """None: a converted network runs every scheme of the family, whatever its coefficients."""
        return None

    def residual_evaluations(self, scheme) -> int:
        """Evaluations of the step's residual function per step (a converted network evaluates one block
        this many times per step, with shared weights; its summary says so)."""
        return 1

    def uses_prior_state(self, scheme) -> bool:
        """Whether a converted stage of ``scheme`` starts its history at the transition block before it
        (then ``stage.prior_states`` is 1). No, unless the family is a :class:`PriorStateFamily`."""
        return False


class PriorStateFamily(ConvertibleFamily):
    """Converted stages that start their history one step early, at the transition block before the stage
    (a two-step method's first step is then a full step): the forward pass receives ``prior = (x_prev,
    f_prev)``, the state before the stage input and its residual value. Family: multistep (and lm_resnet)."""

    def uses_prior_state(self, scheme) -> bool:
        return True

    @abc.abstractmethod
    def stage_forward_from(self, stage, x, prior):
        """A converted stage's forward pass from ``prior = (x_prev, f_prev)`` (the transition block's shortcut
        and residual branch, x = relu(x_prev + f_prev)). Called by ``SchemeStage.forward`` when the stage
        was built with ``prior_states = 1``."""


class LearnableFamily(SchemeFamily):
    """Coefficients learned with the weights through an order-preserving parametrisation
    (``NetworkSpec.learn_scheme``, docs/learned.md). Families: runge_kutta, multistep, lm_resnet, momentum."""

    @abc.abstractmethod
    def parametrisation(self, scheme, order: int | None = None) -> Parametrisation:
        """The order-preserving parametrisation of the family's coefficients with ``scheme`` as its starting
        point, keeping order ``order`` (None: the highest order the parametrisation keeps that ``scheme``
        has). Called by ``NetworkSpec`` at construction, by the network builder, and by tests that enumerate
        the registry. A ``ValueError`` naming the field when the (size, order) pair or the starting scheme is
        not supported."""


# Every capability, in the order docs and listings name them.
CAPABILITIES: tuple[type[SchemeFamily], ...] = (ReversibleFamily, ConvertibleFamily, PriorStateFamily,
                                                 LearnableFamily)


def declared_capabilities(family) -> tuple[type[SchemeFamily], ...]:
    """The capabilities a family (class or instance) declares, in :data:`CAPABILITIES` order."""
    family_type = family if isinstance(family, type) else type(family)
    return tuple(capability for capability in CAPABILITIES if issubclass(family_type, capability))


def check_family_type(family_type: type) -> None:
    """``TypeError`` naming the family and the hook when ``family_type`` is not a :class:`SchemeFamily` with a
    ``name``, a ``scheme_type`` and its ``stage_modules``, or leaves an abstract hook of the interface or of a
    capability it declares unwritten. Called by the registry for every family, before it makes the family's instance."""
    if not (isinstance(family_type, type) and issubclass(family_type, SchemeFamily)):
        raise TypeError(f"scheme families: expected a SchemeFamily subclass, got {family_type!r}")
    for attribute in ("name", "scheme_type", "stage_modules"):
        if not hasattr(family_type, attribute):
            raise TypeError(f"scheme family {family_type.__qualname__} does not set {attribute}")
    for interface in (SchemeFamily, *declared_capabilities(family_type)):
        for hook in sorted(interface.__abstractmethods__):
            if getattr(getattr(family_type, hook, None), "__isabstractmethod__", False):
                declares = "is a SchemeFamily" if interface is SchemeFamily else f"declares {interface.__name__}"
                raise TypeError(f"scheme family {family_type.name!r} ({family_type.__qualname__}) {declares} but "
                                f"does not implement {hook}")


__all__ = ["CAPABILITIES", "ConvertibleFamily", "LearnableFamily", "PriorStateFamily", "ReversibleFamily",
           "check_family_type", "declared_capabilities"]
