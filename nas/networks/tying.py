"""Tied residual functions: one residual function per stage, so that the stage discretises an ODE.

A scheme is a discretisation of x' = f(x) only when f does not change from step to step. With
``NetworkSpec.tie = "stage"`` every step of a stage (and every Runge-Kutta stage of a step) evaluates one
residual function: its weights (convolutions, linear maps) are shared, so the parameter count does not grow
with ``steps_per_stage``. ``NetworkSpec.norm`` says what happens to the normalisation inside f:

- ``per_step``: each step keeps its own BatchNorm (statistics and affine parameters) around the shared
  weights, as ContinuousNet keeps one BatchNorm per time piece (Queiruga et al. 2020). The network is then
  x' = f(x, t) with a piecewise-constant t-dependence of the normalisation only: not strictly autonomous.
- ``shared``: one BatchNorm shared by every step as well (Sander et al., NeurIPS 2022): f is strictly
  time-invariant. Its running statistics average over steps whose inputs differ.
- ``none``: no normalisation inside f (normalisation only at stage boundaries: the transitions and the
  head), as Avelin & Nyström's constant-weight networks: strictly time-invariant.

Untied networks (``tie = "none"``) build a fresh residual function per call; ``norm = "none"`` removes their
normalisation too, ``per_step`` (their natural state) keeps it.

Tying is the usual PyTorch weight tying: the shared modules are registered under every step that uses them,
so ``parameters()`` lists each once while ``state_dict()`` names it once per step (as nanoGPT's tied
embedding); :func:`unshared_state` gives a state dict whose tensors share no memory, for safetensors.

Families ask for residual functions through :class:`ResidualFactory` with the step index and a role (the
Hamiltonian network's ``drift`` and ``kick`` are two functions; every other family has one, ``f``), so
tying and refinement need nothing from a family beyond passing ``step`` and ``role``.
"""
from __future__ import annotations

import copy
from typing import Callable

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

TIES = ("none", "stage")
NORMS = ("per_step", "shared", "none")
DEFAULT_ROLE = "f"


def time_invariant(tie: str, norm: str) -> bool:
    """Whether every step of a stage applies the same function f: tied weights and no per-step norm."""
    return tie == "stage" and norm in ("shared", "none")


def time_invariance_text(spec) -> str:
    """One sentence: does the scheme's modified equation describe this network? (SCIENCE.md §5d; shown by export cards
    and ``nas diagnose --model``)."""
    if getattr(spec, "tie", "none") != "stage":
        return ("untied: every step has its own residual function f_n, so the network discretises a "
                "non-autonomous x' = f(x, t) only loosely; the scheme's order, stability and modified equation "
                "describe it loosely at best")
    if spec.time_invariant:
        return (f"tied, normalisation {spec.norm}: every step of a stage applies one function f (x' = f(x), "
                "autonomous); the scheme's order, stability and modified equation describe the network")
    return ("tied, normalisation per step: the weights are one f per stage but each step keeps its own "
            "BatchNorm, so f depends on the step (piecewise constant in t); the scheme's modified equation "
            "describes the network up to that dependence")


def with_norms(module: nn.Module, replace_norm: Callable[[_BatchNorm], nn.Module]) -> nn.Module:
    """A structural copy of ``module`` whose batch norms are ``replace_norm(norm)`` and whose other leaf
    modules (convolutions, linear maps) are the very same objects: their weights are shared."""
    if isinstance(module, _BatchNorm):
        return replace_norm(module)
    if not module._modules:
        return module
    clone = copy.copy(module)
    # fresh containers, same tensors: a copy that registers the same parameters, not new ones
    clone._parameters = dict(module._parameters)
    clone._buffers = dict(module._buffers)
    clone._modules = {name: with_norms(child, replace_norm) for name, child in module._modules.items()}
    return clone


def fresh_norm(norm: _BatchNorm) -> _BatchNorm:
    """A new batch norm of the same kind, freshly initialised (one per step)."""
    return type(norm)(norm.num_features, eps=norm.eps, momentum=norm.momentum, affine=norm.affine,
                      track_running_stats=norm.track_running_stats)


def no_norm(norm: _BatchNorm) -> nn.Module:
    return nn.Identity()


class ResidualFactory:
    """``make_residual`` of one stage: ``factory(width=None, *, step, role="f")`` gives the residual function
    that step ``step`` of the stage evaluates in ``role``.

    Untied, every call builds a new function. Tied, one core function per (role, width) holds the shared
    weights and each step gets a view of it with its own, shared or no normalisation (module docstring).
    ``functions`` maps (role, step) to what was handed out: depth refinement copies trained weights by it.
    """

    def __init__(self, build: Callable[[int], nn.Module], width: int, tie: str, norm: str):
        self.build = build
        self.width = width
        self.tie = tie
        self.norm = norm
        self.cores: dict[tuple[str, int], nn.Module] = {}
        self.functions: dict[tuple[str, int], nn.Module] = {}

    def __call__(self, width: int | None = None, *, step: int, role: str = DEFAULT_ROLE) -> nn.Module:
        width = self.width if width is None else width
        key = (role, step)
        if key in self.functions:  # a family that evaluates one function twice in a step asks twice
            return self.functions[key]
        if self.tie == "none":
            function = self.build(width)
            if self.norm == "none":
                function = with_norms(function, no_norm)
        else:
            core = self.cores.get((role, width))
            if core is None:
                core = self.build(width)
                if self.norm == "none":
                    core = with_norms(core, no_norm)
                self.cores[(role, width)] = core
            function = with_norms(core, fresh_norm) if self.norm == "per_step" else core
        self.functions[key] = function
        return function


def unshared_state(module: nn.Module) -> dict:
    """``module.state_dict()`` with every tensor in its own contiguous memory (safetensors refuses tensors
    that share memory, which tied weights do under each step's name)."""
    seen: set = set()
    out = {}
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach()
        pointer = tensor.untyped_storage().data_ptr() if tensor.numel() else None
        out[name] = tensor.clone().contiguous() if pointer in seen else tensor.contiguous()
        if pointer is not None:
            seen.add(pointer)
    return out


__all__ = ["DEFAULT_ROLE", "NORMS", "ResidualFactory", "TIES", "fresh_norm", "no_norm", "time_invariance_text",
           "time_invariant", "unshared_state", "with_norms"]
