"""A torchvision ResNet whose layers run a numerical scheme: :class:`SchemeResNet` and ``convert``.

The mapping (SCIENCE.md §1: a stage is an ODE discretisation, width changes sit between stages). In each
``layerK`` of the ResNet (He et al. 2016), block 0 stays as it is, x_1 = relu(W_s x + F_0(x)): the
*transition*, which may downsample. Blocks 1 … B−1 map a shape to itself; their residual branches F_1 … F_{B−1}
become the residual functions f_n of the B−1 steps of a ``nas.networks.SchemeStage`` (``nas.families`` does
the stepping, as in every scheme network). Transitions count as the first, plain residual step of their stage
(as in LM-ResNet, Lu et al. 2018, where "the first block of each stage is a plain residual step"), so schemes
whose steps use earlier states start from the transition's shortcut W_s x and residual F_0(x): the
stage's first converted step of LM-ResNet is x_2 = (1 − k) x_1 + k W_s x + f_1(x_1).

The post-activation ReLU (``relu``): torchvision's block is x_{n+1} = relu(x_n + F(x_n)), not
x_n + F(x_n). With ``relu="step"`` (default) every step of the converted stage is followed by the ReLU:
x_{n+1} = relu(S_n + I_n) with S_n + I_n the scheme's update, a *projected* step (ReLU is the Euclidean
projection onto the non-negative orthant, where every state of the original network lies). Forward Euler is
then the original network operation for operation, and every scheme reduces to it where its coefficients do
(LM-ResNet with k = 0, momentum with γ = 0). ``relu="stage"`` applies the ReLU once after a stage's last step
(the steps between are the scheme's alone: its modified equation holds for them, and reversible schemes can
run memory-efficiently); ``relu="none"`` drops it.

Runge-Kutta steps with s stages evaluate the step's one block s times (shared weights; a block cannot be
split into s functions with their own weights without changing the network).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..families.registry import family_of
from ..networks.stage import SchemeStage
from .architectures import LAYERS, check_resnet, layout, recognise, torchvision_model
from .blocks import ResidualBranch, Transition
from .spec import ConvertedSpec


@dataclass(frozen=True)
class StageSpec:
    """What a ``SchemeStage`` reads of a spec, for one converted stage (its scheme steps, not the transition)."""

    steps_per_stage: int
    h: float
    noise: object
    memory_efficient: bool
    total_steps: int
    share_stage_weights: bool = True
    macro: str = "image"
    tie: str = "none"  # every torchvision block keeps its own weights


class SchemeResNet(nn.Module):
    """stem → (transition → scheme stage) × 4 → pool → fc, built from a torchvision ResNet's own modules.

    ``conv1``, ``bn1``, ``relu``, ``maxpool``, ``avgpool``, ``fc`` are the ResNet's; ``transitions[i]`` is block 0
    of ``layer{i+1}``; ``stages[i]`` runs the scheme over the layer's other blocks (``stages.<i>.residuals``,
    learned coefficients ``stages.<i>.learned_<name>.<j>`` as in ``nas.networks.SchemeNetwork``).
    """

    def __init__(self, model: nn.Module, spec: ConvertedSpec):
        super().__init__()
        self.spec = spec
        self.conv1, self.bn1, self.relu, self.maxpool = model.conv1, model.bn1, model.relu, model.maxpool
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        first = 0
        for width, name in zip(spec.widths, LAYERS):
            blocks = list(getattr(model, name))
            self.transitions.append(Transition(blocks[0]))
            self.stages.append(_stage(spec, blocks[1:], width, first + 1))
            first += len(blocks)
        self.avgpool, self.fc = model.avgpool, model.fc

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for transition, stage in zip(self.transitions, self.stages):
            shortcut, branch = transition.parts(x)
            x = torch.relu(branch + shortcut)  # the transition block, as torchvision computes it
            x = stage(x, (shortcut, branch) if stage.prior_states else None)
            if self.spec.relu == "stage":
                x = torch.relu(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def coefficients(self) -> list[dict]:
        """One row per step (``analyze_network``, export cards): each transition as a plain residual start-up
        step, then the stage's scheme steps; ``depth`` counts the network's steps."""
        rows, depth = [], 0
        for i, (transition, stage) in enumerate(zip(self.transitions, self.stages)):
            rows.append({"stage": i, "step": 0, "depth": depth, "startup": True, "transition": transition.kind,
                         "alpha": [-1.0, 1.0], "beta": [1.0, 0.0], "h": 1.0})
            steps = stage.coefficients()
            rows += [dict(row, stage=i, step=row["step"] + 1, depth=depth + row["step"] + 1) for row in steps]
            depth += 1 + len(steps)
        return rows

    def summary(self) -> str:
        """What the conversion did, in words: the mapping, evaluations per step, the ReLU, the parameters."""
        spec = self.spec
        evaluations = family_of(spec.scheme).residual_evaluations(spec.scheme)
        block = self.transitions[0].block
        lines = [f"{spec.architecture or 'a torchvision ResNet'} ({block} blocks, {spec.stem} stem) -> "
                 f"{spec.scheme}, h = {spec.h:g}"]
        for i, (transition, steps, width) in enumerate(zip(self.transitions, spec.stage_steps, spec.widths)):
            converted = {1: "no scheme step", 2: "block 1 the scheme step"}.get(
                steps, f"blocks 1-{steps - 1} the {steps - 1} scheme steps")
            lines.append(f"  layer{i + 1}: {steps} blocks of width {width}: block 0 is the transition "
                         f"({transition.kind} shortcut), {converted}")
        lines.append(f"  residual function f_n of a step: its block's branch {self.transitions[0].formula} (no "
                     "shortcut, no final ReLU)")
        if evaluations > 1:
            lines.append(f"  {evaluations} evaluations of the same block per step: the Runge-Kutta stages share "
                         "its weights")
        if any(stage.prior_states for stage in self.stages):
            lines.append("  each stage's history starts at its transition: x_prev = shortcut(x), f_prev = branch(x)")
        lines.append("  ReLU: " + RELU_TEXT[spec.relu])
        learned = sum(p.numel() for name, p in self.named_parameters() if ".learned_" in name)
        lines.append(f"  parameters: {sum(p.numel() for p in self.parameters()):,} ({learned:,} learned scheme "
                     "coefficients)")
        return "\n".join(lines)


RELU_TEXT = {"step": "after every step, x_{n+1} = relu(step), as in torchvision's blocks",
             "stage": "once, after each stage's last step (the steps between are the scheme's alone)",
             "none": "dropped (the steps are the scheme's alone)"}


def _stage(spec: ConvertedSpec, blocks: list, width: int, first_step: int) -> SchemeStage:
    """The scheme stage over ``blocks`` (their branches are its residual functions, in order)."""
    branches = [ResidualBranch(block) for block in blocks]
    handed = iter(branches)

    def next_branch(width_asked=None, *, step=None, role=None):  # make_residual: once per residual function
        if width_asked is not None and width_asked != width:
            raise ValueError(f"scheme: asks for residual functions of width {width_asked}; the blocks have {width}")
        return next(handed)

    stage_spec = StageSpec(steps_per_stage=len(blocks), h=spec.h, noise=spec.noise,
                           memory_efficient=spec.memory_efficient, total_steps=spec.total_steps)
    activation = nn.ReLU() if spec.relu == "step" else None
    # the backward pass of the memory-efficient mode inverts back to the stage input: no prior state then
    prior = family_of(spec.scheme).uses_prior_state(spec.scheme) and not spec.memory_efficient
    stage = SchemeStage(spec.scheme, stage_spec, width, first_step, next_branch, activation=activation,
                        prior_states=int(prior))
    if next(handed, None) is not None:
        raise RuntimeError(f"{spec.scheme}: the family used fewer residual functions than the {len(blocks)} blocks")
    return stage


def build_converted(model: nn.Module, spec: ConvertedSpec) -> SchemeResNet:
    """The network of ``spec`` from ``model`` (a torchvision ResNet whose layout matches the spec), in place:
    the result holds ``model``'s modules."""
    check_resnet(model)
    widths, blocks = layout(model)
    if (widths, blocks) != (spec.widths, spec.stage_steps):
        raise ValueError(f"convert: the model has widths {list(widths)} and blocks {list(blocks)}, the spec "
                         f"{list(spec.widths)} and {list(spec.stage_steps)}")
    network = SchemeResNet(model, spec)
    reference = next(model.parameters(), None)
    if reference is not None:  # new coefficients (learned k, γ) live where the weights do
        network.to(device=reference.device, dtype=reference.dtype)
    return network.train(model.training)


def converted_network(spec: ConvertedSpec) -> SchemeResNet:
    """A fresh network of ``spec`` (random weights): its architecture built by torchvision, converted."""
    if spec.architecture is None:
        raise ValueError("spec: no torchvision architecture to build (the network was converted from a "
                         "ResNet built otherwise)")
    return build_converted(torchvision_model(spec.architecture, spec.num_classes, spec.stem), spec)


def check_untied(tie: str, what: str = "convert: tie") -> None:
    """Converted networks are untied: every torchvision block keeps its own (pretrained) weights."""
    if tie != "none":
        raise ValueError(f"{what} {tie!r}: a converted torchvision ResNet keeps each block's own weights (tying "
                         "them would discard all but one block of every stage); train a nas network with tie "
                         "'stage' instead (nas train --tie stage, docs/tied.md)")


def convert(model: nn.Module, scheme="euler", *, h: float = 1.0, relu: str = "step", noise=None,
            memory_efficient: bool = False, tie: str = "none", **scheme_options) -> SchemeResNet:
    """A torchvision ResNet (``resnet18`` … ``wide_resnet101_2``, pretrained or not) as a scheme network.

    ``scheme`` is a registered name (``nas.schemes.names()``; ``scheme_options`` are its parameters, e.g.
    ``convert(model, "lm_resnet", k=0)`` or ``learn="layer"``), a scheme object or its JSON dict. ``h``,
    ``relu``, ``noise``, ``memory_efficient``: see ``ConvertedSpec``. The model is not changed: the result
    holds copies of its modules, and computes exactly what it computes for ``euler`` (and ``lm_resnet`` with
    k = 0, ``momentum`` with γ = 0) with the default ``h`` and ``relu`` and no noise. A model that is not a
    torchvision ResNet, or has another block type, is a ``ValueError`` naming it. ``tie`` must stay ``none``:
    every block keeps its own (pretrained) weights, so a converted network is untied by construction (tied
    networks are nas's own, ``NetworkSpec(tie="stage")``, docs/tied.md).
    """
    from ..schemes import get

    check_untied(tie)

    check_resnet(model)
    if isinstance(scheme, str):
        scheme = get(scheme, **scheme_options)
    elif scheme_options:
        raise ValueError(f"convert: options {', '.join(sorted(scheme_options))} apply to a scheme given by name")
    architecture, stem = recognise(model)
    widths, blocks = layout(model)
    if max(blocks) < 2:
        raise ValueError("convert: every layer has a single block; there is no step to convert")
    # the classifier's outputs (a head of one's own: its last Linear layer, or the features it passes on)
    linear = [m for m in model.fc.modules() if isinstance(m, nn.Linear)]
    num_classes = linear[-1].out_features if linear else widths[-1]
    spec = ConvertedSpec(architecture=architecture, scheme=scheme, num_classes=num_classes, stem=stem, h=h,
                         relu=relu, noise=noise, memory_efficient=memory_efficient, widths=widths,
                         stage_steps=blocks)
    return build_converted(copy.deepcopy(model), spec)


__all__ = ["check_untied", "SchemeResNet", "StageSpec", "build_converted", "convert", "converted_network"]
