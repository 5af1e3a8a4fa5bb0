"""torchvision's residual blocks split into the two parts a scheme needs: the residual branch and the shortcut.

A block of He, Zhang, Ren, Sun ("Deep Residual Learning for Image Recognition", CVPR 2016, eq. 2) computes
y = relu(F(x) + W_s x): F is the residual branch (BasicBlock: conv-BN-ReLU-conv-BN; Bottleneck: 1×1, 3×3 and
1×1 convolutions, each followed by BN, with ReLUs between), W_s the shortcut (the identity, or the
``downsample`` projection when the block changes shape), and the ReLU comes after the addition
(post-activation). torchvision has no API that returns F alone, so :data:`BRANCHES` lists, per block class, the
block's own submodules that make F, in the order its ``forward`` applies them; the converted modules reuse
those submodules (their weights and buffers), never copies.

Only the exact classes are accepted: a subclass may compute something else in its ``forward``.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

# block class -> (name under which the branch keeps it, the block's attribute) in forward order; the ReLU
# module is applied twice in a Bottleneck (one module, two names: it has no state)
BRANCHES = {
    BasicBlock: (("conv1", "conv1"), ("bn1", "bn1"), ("relu", "relu"), ("conv2", "conv2"), ("bn2", "bn2")),
    Bottleneck: (("conv1", "conv1"), ("bn1", "bn1"), ("relu", "relu"), ("conv2", "conv2"), ("bn2", "bn2"),
                 ("relu2", "relu"), ("conv3", "conv3"), ("bn3", "bn3")),
}


def branch_formula(block) -> str:
    """F of ``block`` written out, e.g. ``bn2(conv2(relu(bn1(conv1(x)))))`` for a BasicBlock."""
    text = "x"
    for _, attribute in BRANCHES[type(block)]:
        text = f"{attribute}({text})"
    return text


def supported_blocks() -> str:
    return " and ".join(cls.__name__ for cls in BRANCHES)


def check_block(block, where: str) -> None:
    """A ``ValueError`` naming the block's type unless it is one of torchvision's residual blocks."""
    if type(block) not in BRANCHES:
        raise ValueError(f"{where} is a {type(block).__name__}; only torchvision's {supported_blocks()} blocks "
                         "can be converted (a subclass or another block computes something else)")


class ResidualBranch(nn.Sequential):
    """F of a torchvision block (no shortcut, no final ReLU): the residual function f_n of one scheme step.

    Holds the block's own submodules under their names (``conv1``, ``bn1``, ...), so the state dict keys of a
    step read like torchvision's.
    """

    def __init__(self, block):
        check_block(block, "block")
        super().__init__(OrderedDict((name, getattr(block, attribute)) for name, attribute in BRANCHES[type(block)]))


class Transition(nn.Module):
    """The first block of a layer, unchanged: relu(F(x) + W_s x). ``parts`` gives W_s x and F(x), which start the
    history of the stage's scheme (the state before the stage input and its residual value)."""

    def __init__(self, block):
        super().__init__()
        self.branch = ResidualBranch(block)
        self.shortcut = block.downsample if block.downsample is not None else nn.Identity()
        self.block = type(block).__name__
        self.formula = branch_formula(block)

    @property
    def kind(self) -> str:
        """``identity`` or ``projection`` (the ``downsample`` of a block that changes shape)."""
        return "identity" if isinstance(self.shortcut, nn.Identity) else "projection"

    def parts(self, x):
        return self.shortcut(x), self.branch(x)

    def forward(self, x):
        shortcut, branch = self.parts(x)
        return torch.relu(branch + shortcut)


__all__ = ["BRANCHES", "ResidualBranch", "Transition", "branch_formula", "check_block", "supported_blocks"]
