"""Memory-efficient backpropagation through a reversible stage (Gomez, Ren, Urtasun, Grosse, "The
Reversible Residual Network", NeurIPS 2017, §3; Chang et al., AAAI 2018, §3.3).

:class:`ReversibleStageFunction` wraps a whole stage. Its forward runs the stage without building a graph
and keeps only the stage's input and the state(s) needed to start inverting from the end (the output, plus
the state before it for two-step schemes). Its backward walks the steps from last to first: it
re-evaluates each step's residual function under ``enable_grad`` at a state it already knows, uses that
value both to invert the step (the older state) and to get the step's vector-Jacobian products, then
drops the step's local graph. Activation memory is therefore that of one step, whatever the depth.

A stage that supports this mode implements

- ``forward_states(x) -> tuple[Tensor, ...]``: the stepping under ``no_grad``; the last entry is the output;
- ``backward_states(x, states, grad_output, accumulate) -> grad_x``: the walk described above;
  ``accumulate(module, grads)`` adds the parameter gradients of one residual function.

BatchNorm in train mode: the recomputation must see the same batch statistics as the forward pass (it
does: it is applied to the same states, reconstructed) but must not update the running statistics a
second time. :func:`frozen_batch_norm_statistics` switches ``track_running_stats`` off while recomputing,
which is exactly train-mode batch normalisation without the buffer update (and without counting the batch
in ``num_batches_tracked``).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn.modules.batchnorm import _BatchNorm


@contextmanager
def frozen_batch_norm_statistics(module: nn.Module):
    """Train-mode batch norms in ``module`` use batch statistics but leave their buffers untouched."""
    changed = [m for m in module.modules() if isinstance(m, _BatchNorm) and m.training and m.track_running_stats]
    for m in changed:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in changed:
            m.track_running_stats = True


def local_vjp(fn, module: nn.Module, state: torch.Tensor, grad: torch.Tensor, coefficient: float, accumulate):
    """Evaluate ``coefficient · fn(state)`` with a local graph; return (value, ∂/∂state ᵀ grad).

    The parameter gradients of ``module`` (the weights ``fn`` uses) go to ``accumulate``.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    with torch.enable_grad():
        leaf = state.detach().requires_grad_(True)
        value = coefficient * fn(leaf)
        grads = torch.autograd.grad(value, [leaf, *params], grad, allow_unused=True)
    accumulate(params, grads[1:])
    grad_state = grads[0] if grads[0] is not None else torch.zeros_like(state)
    return value.detach(), grad_state


class ReversibleStageFunction(torch.autograd.Function):
    """``apply(stage, x, *params)``: the stage's output; backward by inversion (see the module docstring)."""

    @staticmethod
    def forward(ctx, stage, x, *params):
        states = stage.forward_states(x)  # autograd.Function.forward runs without a graph
        ctx.stage = stage
        ctx.params = params
        ctx.save_for_backward(x, *states)
        return states[-1]

    @staticmethod
    @once_differentiable  # the local graphs are dropped: a second derivative must fail loudly, not be wrong
    def backward(ctx, grad_output):
        x, *states = ctx.saved_tensors
        params = ctx.params
        index = {id(p): i for i, p in enumerate(params)}
        grads: list = [None] * len(params)

        def accumulate(module_params, module_grads):
            for p, g in zip(module_params, module_grads):
                if g is None:
                    continue
                i = index[id(p)]
                grads[i] = g if grads[i] is None else grads[i] + g

        with frozen_batch_norm_statistics(ctx.stage):
            grad_x = ctx.stage.backward_states(x, states, grad_output, accumulate)
        return (None, grad_x, *grads)


def use_memory_efficient_path(stage) -> bool:
    """The custom Function is for training: plain forward when no graph is built or when torch.export /
    torch.compile traces the model (they inline the same arithmetic, see STACK.md)."""
    return stage.memory_efficient and torch.is_grad_enabled() and not torch.compiler.is_compiling()


def run_memory_efficient(stage, x):
    params = tuple(p for p in stage.parameters() if p.requires_grad)
    return ReversibleStageFunction.apply(stage, x, *params)


def reject_noise(spec, family: str) -> None:
    """Memory-efficient mode re-runs every step in backward: random draws would not be replayed."""
    if spec.memory_efficient and spec.noise is not None and spec.noise.kind != "none":
        raise ValueError(
            f"memory_efficient: cannot be combined with noise (noise.kind = {spec.noise.kind!r}) for the "
            f"{family} scheme: the backward pass recomputes every step and would not replay the random draws; "
            "use memory_efficient = false or noise kind 'none'"
        )


__all__ = ["ReversibleStageFunction", "frozen_batch_norm_statistics", "local_vjp", "use_memory_efficient_path",
           "run_memory_efficient", "reject_noise"]
