"""Depth refinement: is a trained tied network an ODE solver, or a discrete map?

A tied network (``NetworkSpec.tie = "stage"``) trained with N steps of size h per stage can be evaluated with
rN steps of size h/r (the same end time per stage), or with another scheme of the same stage structure
(trained with ``euler``, evaluated with ``rk4``). A network whose stages learned the flow of an ODE changes
little, and less with every refinement (by 2^-p per doubling for a scheme of order p); one that learned a
discrete map falls apart (Ott, Katiyar, Hennig, Welling, Lau, "ResNet after all? Neural ODEs and their
numerical solution", ICLR 2021; Sander, Ablin, Peyré, "Do residual neural networks discretize neural
ordinary differential equations?", NeurIPS 2022).

What a refined step takes from the trained network:

- the tied weights of its stage (every step has the same);
- per-step normalisation (``norm = "per_step"``) and per-step learned coefficients: those of the trained step
  whose time interval contains it, i.e. refined step m of rN takes trained step ⌊m / r⌋ (ContinuousNet's
  rule for its per-time-piece BatchNorm, Queiruga et al. 2020); a refined step that falls in a multistep
  method's start-up takes the first learned coefficient;
- every other coefficient as the scheme states it (a Momentum ResNet keeps γ, so its continuous limit
  ε ẍ + ẋ = f, with ε growing with γ h, changes with h: refinement is exact only for first-order families).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

_PER_STEP = re.compile(r"^learned_[A-Za-z0-9_]+\.(\d+)$")


def check_factor(factor) -> int:
    if isinstance(factor, bool) or not isinstance(factor, int) or not 1 <= factor <= 64:
        raise ValueError(f"refine: factors must be whole numbers from 1 to 64, got {factor!r}")
    return factor


def refined_network(model, factor: int, scheme=None):
    """``model`` (a tied ``SchemeNetwork``) with ``factor`` × the steps of size h / ``factor`` per stage, run by
    ``scheme`` (default: its own), carrying the trained weights as the module docstring says; in ``model``'s
    mode, on its device and dtype."""
    from .network_kinds import build_network
    from .networks import NetworkSpec
    from .schemes import resolve

    spec = getattr(model, "spec", None)
    if not isinstance(spec, NetworkSpec):
        raise ValueError("refine: needs a network built by nas (a NetworkSpec); converted torchvision ResNets "
                         "are untied")
    if spec.tie != "stage":
        raise ValueError("refine: refinement needs tied weights (tie = 'stage'): this network's steps each have "
                         "their own residual function, so it has no ODE to refine")
    if spec.learn_scheme != "none":  # refine the learned scheme, not its starting point
        from .networks.learned import concrete_network

        try:
            model = concrete_network(model)
        except ValueError as error:
            raise ValueError(f"refine: {error}") from None
        spec = model.spec
    factor = check_factor(factor)
    target = spec.replace(steps_per_stage=spec.steps_per_stage * factor, h=spec.h / factor,
                          scheme=spec.scheme if scheme is None else resolve(scheme))
    refined = build_network(target)
    outside = {name: value for name, value in model.state_dict().items() if not name.startswith("stages.")}
    missing, unexpected = refined.load_state_dict(outside, strict=False)
    if unexpected or any(not name.startswith("stages.") for name in missing):
        raise ValueError(f"refine: {target.scheme} changes the network outside its stages")
    for source, stage in zip(model.stages, refined.stages):
        _carry_stage(source, stage, factor, str(target.scheme))
    param = next(model.parameters())
    return refined.to(device=param.device, dtype=param.dtype).train(model.training)


def _carry_stage(source, stage, factor: int, scheme_name: str) -> None:
    roles = sorted({role for role, _ in source.step_functions})
    if roles != sorted({role for role, _ in stage.step_functions}):
        raise ValueError(f"refine: {scheme_name} has another stage structure (residual functions "
                         f"{sorted({r for r, _ in stage.step_functions})}, trained with {roles})")
    for (role, step), function in stage.step_functions.items():
        function.load_state_dict(source.step_functions[(role, step // factor)].state_dict())
    _carry_per_step_coefficients(source, stage, factor, scheme_name)


def _carry_per_step_coefficients(source, stage, factor: int, scheme_name: str) -> None:
    """Learned per-step coefficients (``learned_<name>.<j>``, j counted from the stage's first step that uses
    one) of the trained step whose interval contains each refined step."""
    own = {name: value for name, value in source.named_parameters(recurse=True) if _PER_STEP.match(name)}
    wanted = [name for name, _ in stage.named_parameters(recurse=True) if _PER_STEP.match(name)]
    if not wanted:
        return
    if not own:
        raise ValueError(f"refine: {scheme_name} learns per-step coefficients the trained network does not have")
    # multistep stages count k_n from their first k-step step (MultistepStageState.startup_steps)
    offset_source, offset_stage = (getattr(part.state, "startup_steps", 0) for part in (source, stage))
    with torch.no_grad():
        for name in wanted:
            prefix, index = name.rsplit(".", 1)
            count = sum(1 for other in own if other.rsplit(".", 1)[0] == prefix)
            if count == 0:
                raise ValueError(f"refine: {scheme_name} learns {prefix}, which the trained network does not")
            j = min(max((int(index) + offset_stage) // factor - offset_source, 0), count - 1)
            stage.get_parameter(name).copy_(own[f"{prefix}.{j}"])


@dataclass(frozen=True)
class RefinementRow:
    """One evaluation of a refined network: ``factor`` × the trained steps (``steps_per_stage`` of size
    ``h``) under ``scheme``; ``change`` is ‖z − z_prev‖ / ‖z_prev‖ for the logits z against the previous row
    of the same scheme (None for the first), ``change_from_trained`` the same against the trained network."""

    scheme: str
    factor: int
    steps_per_stage: int
    h: float
    accuracy: float
    change: float | None
    change_from_trained: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def refinement_table(model, inputs, labels=None, factors=(1, 2, 4), scheme=None, batch_size: int = 512):
    """Rows for each factor (and each scheme: the network's own, then ``scheme`` if given) of the refined
    networks' outputs on ``inputs``; ``accuracy`` is NaN when ``labels`` is None. ``model`` is evaluated in
    eval mode (the caller's mode is restored)."""
    factors = sorted({check_factor(f) for f in factors})
    was_training = model.training
    model.eval()
    try:
        trained = _logits(model, inputs, batch_size)
        schemes = [None] if scheme is None else [None, scheme]
        rows = []
        for which in schemes:
            previous = None
            for factor in factors:
                network = model if factor == 1 and which is None else refined_network(model, factor, which)
                logits = trained if network is model else _logits(network, inputs, batch_size)
                rows.append(RefinementRow(
                    scheme=str(network.spec.scheme), factor=factor, steps_per_stage=network.spec.steps_per_stage,
                    h=network.spec.h, accuracy=_accuracy(logits, labels),
                    change=None if previous is None else _relative(logits, previous),
                    change_from_trained=_relative(logits, trained)))
                previous = logits
        return rows
    finally:
        model.train(was_training)


def _logits(model, inputs, batch_size: int):
    param = next(model.parameters())
    with torch.no_grad():
        return torch.cat([model(inputs[i:i + batch_size].to(device=param.device, dtype=param.dtype)).cpu()
                          for i in range(0, len(inputs), batch_size)])


def _relative(a, b) -> float:
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b).clamp_min(1e-300))


def _accuracy(logits, labels) -> float:
    if labels is None:
        return float("nan")
    return float((logits.argmax(dim=1) == labels.to(logits.device)).double().mean())


def format_table(rows) -> str:
    """The rows as a text table (``nas diagnose --refine``)."""
    width = max([14, *(len(row.scheme) for row in rows)])
    lines = [f"{'scheme':<{width}} {'factor':>6} {'steps':>6} {'h':>8} {'accuracy':>9} {'change':>10} "
             f"{'vs trained':>10}"]
    for row in rows:
        change = "—" if row.change is None else f"{row.change:.3e}"
        lines.append(f"{row.scheme:<{width}} {row.factor:>6} {row.steps_per_stage:>6} {row.h:>8.4g} "
                     f"{100 * row.accuracy:>8.2f}% {change:>10} {row.change_from_trained:>10.3e}")
    return "\n".join(lines)


__all__ = ["RefinementRow", "check_factor", "format_table", "refined_network", "refinement_table"]
