"""Hand-written pre-activation ResNet and LM-ResNet, independent of the stepping code.

They are the ground truth that the scheme networks are tested against (``euler`` must compute exactly what
``ReferenceResNet`` computes, ``lm_resnet`` what ``ReferenceLMResNet`` computes) and the baselines of the
overhead benchmark. Their parameters are created in the same order as ``SchemeNetwork``'s, so
``copy_weights`` can pair them by position.
"""
from __future__ import annotations

import torch
from torch import nn

from .blocks import Head, PreActResidual, Stem, Transition


class ReferenceResNet(nn.Module):
    """x ← x + f(x) per block (He et al. 2016, pre-activation)."""

    def __init__(self, macro="sequence", in_channels=1, num_classes=10, widths=(16, 32, 64), blocks_per_stage=2):
        super().__init__()
        self.stem = Stem(macro, in_channels, widths[0])
        self.transitions = nn.ModuleList(Transition(macro, a, b) for a, b in zip(widths, widths[1:]))
        self.stages = nn.ModuleList(
            nn.ModuleList(PreActResidual(macro, w) for _ in range(blocks_per_stage)) for w in widths
        )
        self.head = Head(macro, widths[-1], num_classes)

    def run_stage(self, blocks, x):
        for block in blocks:
            x = x + block(x)
        return x

    def forward(self, x):
        x = self.stem(x)
        for i, blocks in enumerate(self.stages):
            if i > 0:
                x = self.transitions[i - 1](x)
            x = self.run_stage(blocks, x)
        return self.head(x)


class ReferenceLMResNet(ReferenceResNet):
    """x_{n+1} = (1 − k_n) x_n + k_n x_{n−1} + f_n(x_n) (Lu et al. 2018, eq. 3); first block of a stage plain."""

    def __init__(self, *args, k: float = 0.0, learned: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        per_stage = len(self.stages[0]) - 1
        make = (lambda: nn.Parameter(torch.tensor(float(k)))) if learned else (lambda: torch.tensor(float(k)))
        self.ks = nn.ParameterList(make() for _ in range(per_stage * len(self.stages))) if learned else None
        self.fixed_k = float(k)
        self.per_stage = per_stage

    def run_stage(self, blocks, x):
        stage = next(i for i, b in enumerate(self.stages) if b is blocks)
        previous = x
        x = x + blocks[0](x)
        for n, block in enumerate(blocks[1:]):
            k = self.ks[stage * self.per_stage + n] if self.ks is not None else self.fixed_k
            x, previous = (1 - k) * x + k * previous + block(x), x
        return x


def _is_scheme_coefficient(name: str) -> bool:
    return name.startswith("ks.") or ".learned_k." in name


def copy_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy parameters and buffers position by position (shapes must agree), then learned k's in order."""
    src = [v for n, v in source.state_dict().items() if not _is_scheme_coefficient(n)]
    dst = {n: v for n, v in target.state_dict().items() if not _is_scheme_coefficient(n)}
    src_k = [v for n, v in source.state_dict().items() if _is_scheme_coefficient(n)]
    dst_k = [v for n, v in target.state_dict().items() if _is_scheme_coefficient(n)]
    if len(src_k) == len(dst_k):
        with torch.no_grad():
            for value, tensor in zip(src_k, dst_k):
                tensor.copy_(value)
    elif src_k and dst_k:
        raise ValueError(f"copy_weights: {len(src_k)} learned coefficients vs {len(dst_k)}")
    if len(src) != len(dst):
        raise ValueError(f"copy_weights: {len(src)} tensors vs {len(dst)}")
    with torch.no_grad():
        for value, (name, tensor) in zip(src, dst.items()):
            if value.shape != tensor.shape:
                raise ValueError(f"copy_weights: shape mismatch at {name}: {tuple(value.shape)} vs {tuple(tensor.shape)}")
            tensor.copy_(value)
