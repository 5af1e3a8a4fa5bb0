"""How big a network would be, found before it exists: parameters and activation memory on torch's meta device.

A module built under ``torch.device("meta")`` has tensors with shapes but no storage, so a network with
10¹² parameters costs nothing to describe. ``measure`` counts the parameters of such a module and, given a
sample shape, runs one sample through it and adds up the outputs of every layer: roughly what autograd keeps
for the backward pass, per sample (float32); with ``enforce`` it compares them with ``nas.limits``' budgets.
This module works on any network-building function; ``nas.network_kinds`` applies it to every kind of spec
(its ``estimate``, ``check`` and ``check_state_dict``), and its ``build_network`` checks the parameters first,
so a spec — from the API, a CLI flag, a search space or a ``spec.json`` — can never allocate beyond the budget.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import limits

FLOAT_BYTES = 4  # activations are float32 (bf16 autocast keeps some in half: the estimate errs high)


@dataclass(frozen=True)
class NetworkEstimate:
    params: int
    activation_bytes_per_sample: int | None = None


def describe(spec) -> str:
    """A short label of a spec for messages: scheme, widths, steps."""
    widths = ",".join(map(str, spec.widths[:8])) + (f",… ({len(spec.widths)} stages)" if len(spec.widths) > 8 else "")
    return f"network {spec.scheme} with widths {widths} and {spec.steps_per_stage} step(s) per stage"


def meta_network(spec, network, where: str) -> nn.Module:
    """``network(spec)`` built on the meta device (nothing allocated), after the checks on the spec's fields
    that keep even the meta build small (``nas.limits``)."""
    limits.check_depth(len(spec.widths), spec.steps_per_stage, where)
    limits.check_fixed_layers(spec.macro, spec.in_channels, spec.num_classes, spec.widths, where)
    try:
        with torch.device("meta"):
            return network(spec)
    except (RuntimeError, OverflowError) as exc:  # a size past int64: far beyond any budget
        raise ValueError(f"{where}: tensors too large to describe ({exc}); {limits.PARAMS.describe()}") from None


def _activation_bytes(model: nn.Module, input_shape) -> int:
    """Bytes of float32 layer outputs for one training sample (``model`` on the meta device)."""
    total = [0]

    def count(module, inputs, output):
        if isinstance(output, torch.Tensor):
            total[0] += output.numel()

    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            # Same shape out as in; torch's meta batch norm is a slow Python decomposition (10× a real one).
            module.forward = torch.Tensor.clone
    hooks = [m.register_forward_hook(count) for m in model.modules() if not any(True for _ in m.children())]
    try:
        model.train()  # noise layers draw their masks in training mode
        with torch.no_grad():
            model(torch.empty((1, *input_shape), device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return total[0] * FLOAT_BYTES


def check_weights(model: nn.Module, state: dict, where: str) -> None:
    """``state`` (weights read from a file) has exactly the names and shapes of ``model`` (a meta network),
    whose parameters are checked against the budget first."""
    limits.check_params(sum(p.numel() for p in model.parameters()), where)
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    given = {name: tuple(getattr(tensor, "shape", ())) for name, tensor in state.items()}
    missing, unexpected = sorted(expected.keys() - given.keys()), sorted(given.keys() - expected.keys())
    if missing or unexpected:
        problem = (f"missing {', '.join(missing[:3])}" if missing else "") + ("; " if missing and unexpected else "") \
            + (f"unexpected {', '.join(unexpected[:3])}" if unexpected else "")
        raise ValueError(f"{where}: the weights do not match the spec ({problem})")
    for name, shape in expected.items():
        if given[name] != shape:
            raise ValueError(f"{where}: the weights do not match the spec ({name} has shape {list(given[name])}, "
                             f"the network needs {list(shape)})")


def measure(model: nn.Module, where: str, input_shape=None, batch_size: int | None = None,
            enforce: bool = False) -> NetworkEstimate:
    """Parameters of ``model`` (a meta network) and, with ``input_shape`` (one sample), its activation bytes;
    with ``enforce``, checked against the budgets (activations only with ``batch_size`` too). Parameters are
    checked before the sample runs through, so an absurd network never reaches the forward."""
    params = sum(p.numel() for p in model.parameters())
    if enforce:
        limits.check_params(params, where)
    if input_shape is None:
        return NetworkEstimate(params)
    per_sample = _activation_bytes(model, tuple(input_shape))
    if enforce and batch_size is not None:
        limits.check_activations(per_sample, batch_size, where)
    return NetworkEstimate(params, per_sample)


__all__ = ["NetworkEstimate", "check_weights", "describe", "measure", "meta_network", "FLOAT_BYTES"]
