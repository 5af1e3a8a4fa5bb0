"""Test helper: the two measurements every memory-efficient mode is checked with (shared by
tests/test_families.py and tests/test_momentum.py)."""
from __future__ import annotations

import torch
from torch.nn import functional as F


def gradient_differences(plain, efficient, x, target) -> list[float]:
    """Relative differences |g_efficient − g_plain| / |g_plain| of the input's and every parameter's gradient
    after one cross-entropy backward pass through each network."""
    grads = []
    for net in (plain, efficient):
        xi = x.clone().requires_grad_(True)
        F.cross_entropy(net(xi), target).backward()
        grads.append([xi.grad] + [p.grad for p in net.parameters()])
    return [((e - p).norm() / p.norm()).item() for p, e in zip(*grads)]


def saved_bytes(net, x) -> int:
    """Bytes of the distinct tensors autograd saves in one forward pass (parameters excluded)."""
    params = {p.data_ptr() for p in net.parameters()}
    storages = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in params:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        net(x).sum()
    return sum(storages.values())


__all__ = ["gradient_differences", "saved_bytes"]
