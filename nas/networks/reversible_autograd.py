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

from ..stepper import scale


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


def older_state(a, c, x, x_next, increment):
    """x_{n−1} from x_{n+1} = a x_n + c x_{n−1} + increment (c = ±1), mirroring the forward arithmetic.

    The forward pass computes (c x_{n−1} + a x_n) + increment; undoing its operations in reverse order,
    t = x_{n+1} − increment then x_{n−1} = c (t − a x_n), recovers x_{n−1} bit for bit whenever the forward
    operations rounded nothing. (Order matters in float32: (a x_n + increment) − x_{n+1} gave leapfrog2
    gradients 100× further from plain autograd's at h = 0.1 in ``benchmarks/reversible_memory.py --drift``.)
    Coefficients 0 and ±1 cost no arithmetic: every op here is a pass over an activation, and
    memory-efficient mode adds these to a training step.
    """
    t = x_next - increment
    if a == 0:
        return t if c == 1 else -t
    a_x = scale(a, x)
    return t - a_x if c == 1 else a_x - t


def two_step_backward(residuals, x0, x_before_last, x_last, grad_last, accumulate, *, a, c, d, d0):
    """Backward through x_1 = x_0 + d0 f_0(x_0), x_{n+1} = a x_n + c x_{n−1} + d f_n(x_n) (c = ±1).

    Walks n = N−1 … 1 reconstructing x_{n−1} = c (x_{n+1} − a x_n − d f_n(x_n)) while accumulating
    dL/dx_n; the start step is recomputed from the saved input x_0 (exact). The recurrence's coefficients are
    keyword-only: four numbers in a row are easy to swap.
    """
    x_next, x_cur = x_last, x_before_last
    g_next, g_cur = grad_last, torch.zeros_like(grad_last)  # dL/dx_{n+1} (complete), dL/dx_n (partial)
    for n in range(len(residuals) - 1, 0, -1):
        f = residuals[n]
        increment, g_through_f = local_vjp(f, f, x_cur, g_next, d, accumulate)
        x_older = older_state(a, c, x_cur, x_next, increment)
        g_cur = g_cur + g_through_f
        if a != 0:
            g_cur = g_cur + scale(a, g_next)
        g_older = g_next if c == 1 else -g_next
        x_next, x_cur = x_cur, x_older
        g_next, g_cur = g_cur, g_older
    _, g_through_f = local_vjp(residuals[0], residuals[0], x0, g_next, d0, accumulate)
    return g_cur + g_next + g_through_f


__all__ = ["ReversibleStageFunction", "frozen_batch_norm_statistics", "local_vjp", "older_state", "reject_noise",
           "run_memory_efficient", "two_step_backward", "use_memory_efficient_path"]
