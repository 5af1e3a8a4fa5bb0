"""Learned scheme coefficients: the free parameters of an order-preserving parametrisation trained with the
weights, and the concrete scheme they amount to (docs/learned.md).

``NetworkSpec(learn_scheme=..., learn_order=p)`` asks the scheme's family for its parametrisation
(``SchemeFamily.parametrisation(scheme, p)``, started at the spec's scheme) and the network holds its free
parameters θ (float64, so the coefficients satisfy the order conditions to round-off) with the granularity

- ``network``: one θ for the whole network (one scheme: the network is again a discretisation by one method);
- ``stage``: one θ per stage;
- ``step``: one θ per step (for multistep methods, the start-up steps' θ are unused).

Each stage's :class:`LearnedCoefficients` maps a step to the family's coefficients; the family's stepping
uses them instead of the scheme's (``stage.scheme_parameters``). The parameters are named
``stages.<i>.scheme_parameters.free.<j>``; ``nas.train.fit`` puts them in their own optimizer group (their
own learning rate, ``TrainConfig.coefficient_lr``, and no weight decay: decaying θ would pull the scheme
towards an arbitrary point of the family, θ = 0, not towards simpler weights).

After training, :func:`learned_schemes` gives the concrete scheme of every step and :func:`concrete_spec` the
spec with the learned scheme and learning off, whose network with :func:`concrete_state_dict` equals the
trained one bit for bit (:func:`concrete_network`).
"""
from __future__ import annotations

import torch
from torch import nn

GRANULARITIES = ("none", "network", "stage", "step")
PARAMETER_KEY = "scheme_parameters"  # the stage attribute; ".scheme_parameters." marks the parameters' names


class LearnedCoefficients(nn.Module):
    """The learned coefficients of one stage: ``free`` holds the distinct θ the stage uses (a network-wide θ is
    the same ``nn.Parameter`` in every stage), ``owner[n]`` the index of step n's θ."""

    def __init__(self, parametrisation, free: list, owner: list[int]):
        super().__init__()
        self.parametrisation = parametrisation
        self.free = nn.ParameterList(free)
        self.owner = tuple(owner)

    def coefficients(self, n: int) -> dict:
        """Step n's coefficients (tensors, float64, differentiable in θ)."""
        return self.parametrisation.coefficients(self.free[self.owner[n]])

    def scheme(self, n: int, name: str = ""):
        """Step n's concrete scheme."""
        return self.parametrisation.scheme(self.free[self.owner[n]].detach(), name)


def make_learned(spec, stages: int) -> list:
    """One :class:`LearnedCoefficients` per stage for ``spec`` (None per stage when nothing is learned)."""
    if spec.learn_scheme == "none":
        return [None] * stages
    from ..families.registry import family_of

    with torch.device("cpu"):  # the starting point is checked on real numbers, also in a meta-device build
        parametrisation = family_of(spec.scheme).parametrisation(spec.scheme, spec.learn_order)
    steps = spec.steps_per_stage

    def fresh():
        return nn.Parameter(parametrisation.free_parameters())

    shared = fresh() if spec.learn_scheme == "network" else None
    out = []
    for _ in range(stages):
        if spec.learn_scheme == "step":
            out.append(LearnedCoefficients(parametrisation, [fresh() for _ in range(steps)], list(range(steps))))
        else:
            out.append(LearnedCoefficients(parametrisation, [shared if shared is not None else fresh()], [0] * steps))
    return out


def is_coefficient_parameter(name: str) -> bool:
    """Whether a parameter name (``named_parameters()``) is a learned scheme coefficient."""
    return f".{PARAMETER_KEY}." in f".{name}"


def coefficient_parameters(model: nn.Module) -> list:
    """The learned scheme coefficients of ``model`` (each once), in ``named_parameters`` order."""
    return [p for name, p in model.named_parameters() if is_coefficient_parameter(name)]


def learned_schemes(model) -> list[list]:
    """Per stage, per step: the concrete scheme the trained ``model`` steps with (``ValueError`` when it learns
    nothing)."""
    stages = [getattr(stage, PARAMETER_KEY, None) for stage in model.stages]
    if any(s is None for s in stages):
        raise ValueError("learn_scheme: the network learns no scheme coefficients")
    return [[learned.scheme(n) for n in range(len(learned.owner))] for learned in stages]


def trained_schemes(model) -> list[tuple[str, object]]:
    """(label, scheme) for each distinct scheme a network steps with, in order: its spec's scheme (label "") or,
    when it learns coefficients, the concrete learned schemes, each labelled with the steps that use it
    ("stage 0 step 1, ..."; "every step" when one scheme serves the whole network). ``nas diagnose --model``
    reports each."""
    if getattr(model.spec, "learn_scheme", "none") == "none":
        return [("", model.spec.scheme)]
    found: dict = {}
    for i, row in enumerate(learned_schemes(model)):
        for n, scheme in enumerate(row):
            found.setdefault(scheme, []).append(f"stage {i} step {n}")
    if len(found) == 1:
        return [("every step", next(iter(found)))]
    return [(", ".join(steps), scheme) for scheme, steps in found.items()]


def learned_record(spec, state_dict: dict) -> dict | None:
    """What a network of ``spec`` with weights ``state_dict`` learned, as JSON (a search trial writes it beside
    its weights as ``learned_scheme.json``; ``trials.csv`` reads it): ``learn_scheme``, ``learn_order`` and
    ``schemes``, one ``{"parameters": [names], "scheme": <JSON form>}`` per distinct learned θ, in order. None
    when ``spec`` learns nothing."""
    if getattr(spec, "learn_scheme", "none") == "none":
        return None
    from ..families.registry import family_of

    with torch.device("cpu"):
        parametrisation = family_of(spec.scheme).parametrisation(spec.scheme, spec.learn_order)
    found: list[tuple[torch.Tensor, list[str]]] = []
    for name, value in state_dict.items():
        if not is_coefficient_parameter(name):
            continue
        value = value.detach().to("cpu", torch.float64)
        match = next((names for theta, names in found if torch.equal(theta, value)), None)
        if match is None:
            found.append((value, [name]))
        else:
            match.append(name)
    return {"learn_scheme": spec.learn_scheme, "learn_order": spec.learn_order,
            "schemes": [{"parameters": names, "scheme": parametrisation.scheme(theta).to_dict()}
                        for theta, names in found]}


HISTORY_KEYS = ("epoch", "val_acc", "val_loss")  # what a search trial keeps of every epoch (nas.fidelity)


def trial_history_entry(entry: dict) -> dict:
    """One epoch of ``fit``'s history as a search trial records it in ``metrics.json``: epoch, val_acc and
    val_loss, plus, for a network that learns its scheme, ``"coefficients"`` (parameter name -> θ after that
    epoch), so that :func:`coefficient_trajectory` and the export card can redraw the learned scheme epoch by
    epoch."""
    kept = {key: entry.get(key) for key in HISTORY_KEYS}
    if entry.get("coefficients"):
        kept["coefficients"] = {str(name): [float(v) for v in theta] if isinstance(theta, (list, tuple))
                                else float(theta) for name, theta in entry["coefficients"].items()}
    return kept


def coefficient_trajectory(spec, history) -> list[dict]:
    """The learned schemes epoch by epoch, from ``fit``'s history (its ``"coefficients"`` entries): one dict per
    epoch, parameter name -> concrete scheme."""
    from ..families.registry import family_of

    with torch.device("cpu"):
        parametrisation = family_of(spec.scheme).parametrisation(spec.scheme, spec.learn_order)
    return [{name: parametrisation.scheme(torch.tensor(theta, dtype=torch.float64))
             for name, theta in entry["coefficients"].items()} for entry in history if "coefficients" in entry]


def concrete_spec(model):
    """The spec of the trained ``model`` with the learned scheme written back as a concrete scheme and learning
    off (``learn_scheme = "none"``). Needs one θ for the whole network: always so with ``network``; with
    ``stage`` or ``step`` only when every θ is equal (a ``NetworkSpec`` has one scheme), else ``ValueError``."""
    stages = [getattr(stage, PARAMETER_KEY, None) for stage in model.stages]
    if any(s is None for s in stages):
        raise ValueError("learn_scheme: the network learns no scheme coefficients")
    values = [p.detach() for learned in stages for p in learned.free]
    if any(not torch.equal(values[0], v) for v in values[1:]):
        raise ValueError(f"learn_scheme: {model.spec.learn_scheme!r} learned {len(values)} different schemes; a "
                         "NetworkSpec holds one (use learned_schemes(model), or learn_scheme='network')")
    scheme = stages[0].scheme(0)
    return model.spec.replace(scheme=scheme, learn_scheme="none", learn_order=None)


def concrete_state_dict(model) -> dict:
    """``model.state_dict()`` without the learned coefficients (the weights of :func:`concrete_spec`'s network)."""
    return {name: value for name, value in model.state_dict().items() if not is_coefficient_parameter(name)}


def concrete_network(model):
    """The network of :func:`concrete_spec` with the trained weights: equal to ``model`` bit for bit."""
    # model's own class builds it (this module sits below the builder); dropping the learned coefficients
    # only removes parameters, so the trained network's budget check covers this one
    network = type(model)(concrete_spec(model))
    network.load_state_dict(concrete_state_dict(model))
    return network.train(model.training)


__all__ = ["GRANULARITIES", "LearnedCoefficients", "coefficient_parameters", "coefficient_trajectory", "concrete_network", "concrete_spec",
           "concrete_state_dict", "is_coefficient_parameter", "learned_record", "learned_schemes", "make_learned", "trial_history_entry",
           "trained_schemes"]
