"""How big a network would be, found before it exists: parameters and activation memory on torch's meta device.

A module built under ``torch.device("meta")`` has tensors with shapes but no storage, so a network with
10¹² parameters costs nothing to describe. ``estimate`` counts its parameters and, given a sample shape,
runs one sample through it and adds up the outputs of every layer: roughly what autograd keeps for the
backward pass, per sample (float32). ``check`` compares them with ``nas.limits``' budgets; ``build_network``
calls it (parameters only) so a spec — from the API, a CLI flag, a search space or a ``spec.json`` — can never
allocate beyond the budget.
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


def _meta_network(spec, where: str):
    limits.check_depth(len(spec.widths), spec.steps_per_stage, where)
    limits.check_fixed_layers(spec.macro, spec.in_channels, spec.num_classes, spec.widths, where)
    try:
        with torch.device("meta"):
            return spec.module()
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


def estimate(spec, input_shape=None) -> NetworkEstimate:
    """Parameters of ``spec``'s network and, with ``input_shape`` (one sample), its activation bytes."""
    return _measure(spec, describe(spec), input_shape, batch_size=None, enforce=False)


def check(spec, *, input_shape=None, batch_size: int | None = None, where: str | None = None) -> NetworkEstimate:
    """``estimate`` checked against the budgets (activations only with ``input_shape`` and ``batch_size``).

    Parameters are checked before the sample runs through, so an absurd network never reaches the forward.
    """
    return _measure(spec, where or describe(spec), input_shape, batch_size, enforce=True)


def check_state_dict(spec, state: dict, where: str) -> None:
    """``state`` (weights read from a file) has exactly the names and shapes of ``spec``'s network, which is
    checked against the parameter budget first; nothing is allocated (meta device)."""
    model = _meta_network(spec, where)
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


def _measure(spec, where: str, input_shape, batch_size, enforce: bool) -> NetworkEstimate:
    model = _meta_network(spec, where)
    params = sum(p.numel() for p in model.parameters())
    if enforce:
        limits.check_params(params, where)
    if input_shape is None:
        return NetworkEstimate(params)
    per_sample = _activation_bytes(model, tuple(input_shape))
    if enforce and batch_size is not None:
        limits.check_activations(per_sample, batch_size, where)
    return NetworkEstimate(params, per_sample)


__all__ = ["NetworkEstimate", "estimate", "check", "check_state_dict", "describe", "FLOAT_BYTES"]
