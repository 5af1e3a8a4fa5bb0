"""Optional abilities of the families are declared by type (``nas.families.capabilities``), checked when the
registry is built, and asked for by type before anything is built (issue 23)."""
from __future__ import annotations

import pytest
import torch

from nas import schemes
from nas.families import registry
from nas.families.base import SchemeFamily
from nas.families.capabilities import (CAPABILITIES, ConvertibleFamily, LearnableFamily, PriorStateFamily,
                                       ReversibleFamily, check_family_type, declared_capabilities)
from nas.families.hamiltonian import HamiltonianFamily
from nas.families.runge_kutta import RungeKuttaFamily
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.networks.stage import SchemeStage


class ClaimsAnInverse(RungeKuttaFamily, ReversibleFamily):
    name = "claims_an_inverse"


class ClaimsAPriorState(HamiltonianFamily, PriorStateFamily):
    name = "claims_a_prior_state"


class ClaimsLearnedCoefficients(HamiltonianFamily, LearnableFamily):
    name = "claims_learned_coefficients"


@pytest.mark.parametrize("family_type, capability, hook", [
    (ClaimsAnInverse, "ReversibleFamily", "backward_states"),  # the first unwritten hook, alphabetically
    (ClaimsAPriorState, "PriorStateFamily", "stage_forward_from"),
    (ClaimsLearnedCoefficients, "LearnableFamily", "parametrisation"),
])
def test_the_registry_refuses_a_family_that_declares_a_capability_without_its_hooks(family_type, capability, hook):
    with pytest.raises(TypeError, match=rf"scheme family '{family_type.name}' \({family_type.__qualname__}\) "
                                        rf"declares {capability} but does not implement {hook}$"):
        registry.family_table(RungeKuttaFamily, family_type)


def test_the_registry_refuses_what_is_not_a_complete_family():
    with pytest.raises(TypeError, match="expected a SchemeFamily subclass"):
        registry.family_table(object)
    with pytest.raises(TypeError, match="expected a SchemeFamily subclass"):
        registry.family_table(registry.FAMILIES["runge_kutta"])  # an instance: the table makes its own
    with pytest.raises(TypeError, match=r"is a SchemeFamily but does not implement analyze$"):
        check_family_type(type("NoAnalysis", (SchemeFamily,), {"name": "x", "scheme_type": int, "stage_modules": (), **{
            hook: RungeKuttaFamily.__dict__[hook] for hook in ("named_schemes", "integrate", "init_stage",
                                                               "stage_forward", "stage_coefficients")}}))
    with pytest.raises(TypeError, match="'runge_kutta' is defined by RungeKuttaFamily and ClaimsAnInverse"):
        registry.family_table(RungeKuttaFamily, type("ClaimsAnInverse", (RungeKuttaFamily,), {}))


def test_every_registered_family_writes_the_hooks_of_what_it_declares():
    for family in registry.FAMILIES.values():
        check_family_type(type(family))
        for capability in declared_capabilities(family):
            assert not capability.__abstractmethods__ & type(family).__abstractmethods__
    # the hooks of an ability exist only on the families that have it: nothing raises halfway through a run
    for hook in ("forward_states", "backward_states", "reconstruct_input", "stage_forward_from"):
        assert not hasattr(SchemeFamily, hook)


def test_capabilities_are_asked_for_by_type():
    assert registry.families_with(ReversibleFamily) == ["multistep", "hamiltonian", "leapfrog2", "momentum"]
    assert registry.families_with(ConvertibleFamily) == ["runge_kutta", "multistep", "lm_resnet", "leapfrog2",
                                                         "momentum"]
    assert registry.families_with(PriorStateFamily) == ["multistep", "lm_resnet"]
    assert registry.families_with(LearnableFamily) == ["runge_kutta", "multistep", "lm_resnet", "momentum"]
    assert set(CAPABILITIES) == {ReversibleFamily, ConvertibleFamily, PriorStateFamily, LearnableFamily}


@pytest.mark.parametrize("name", schemes.names())
def test_a_family_without_an_ability_says_why_not_for_every_scheme(name):
    scheme = schemes.get(name)
    family = registry.family_of(scheme)
    if not isinstance(family, ReversibleFamily):
        assert family.memory_efficient_reason(scheme)
    if not isinstance(family, ConvertibleFamily):
        assert family.conversion_reason(scheme)
    else:
        assert family.conversion_reason(scheme) is None
        assert family.uses_prior_state(scheme) == isinstance(family, PriorStateFamily)
    if not isinstance(family, LearnableFamily):
        learnable = ", ".join(registry.families_with(LearnableFamily))
        with pytest.raises(ValueError, match=rf"no order-preserving parametrisation .*families with one: "
                                             rf"{learnable}\)$"):
            family.parametrisation(scheme)


def test_a_stage_asks_for_the_ability_before_it_steps():
    spec = NetworkSpec(scheme=schemes.get("rk4"), widths=(4,), steps_per_stage=2)
    stage = build_network(spec).stages[0]
    with pytest.raises(TypeError, match=r"the runge_kutta family does not invert its steps \(families that do: "
                                        r"multistep, hamiltonian, leapfrog2, momentum\)"):
        stage.forward_states(torch.zeros(1, 4, 3, 3))
    with pytest.raises(ValueError, match=r"prior_states: the runge_kutta family's stages do not start from a prior "
                                         r"state \(families that do: multistep, lm_resnet\)"):
        SchemeStage(schemes.get("rk4"), spec, 4, 0, lambda *a, **k: torch.nn.Identity(), prior_states=1)


def test_a_stage_holds_exactly_the_submodules_its_family_declares(monkeypatch):
    spec = NetworkSpec(scheme=schemes.get("leapfrog2"), widths=(4,), steps_per_stage=2)
    stage = build_network(spec).stages[0]
    assert stage.state is None and [name for name, _ in stage.named_children()] == ["residuals"]
    monkeypatch.setattr(registry.FAMILIES["leapfrog2"], "stage_modules", ("residuals", "velocities"))
    with pytest.raises(TypeError, match=r"the leapfrog2 family's init_stage gave \('residuals',\); its stage_modules "
                                        r"declare \('residuals', 'velocities'\)"):
        build_network(spec)
