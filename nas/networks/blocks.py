"""Residual functions and the layers around the scheme stages, for the three macro-architectures.

The residual function f_n of a step is the pre-activation block BN-ReLU-conv-BN-ReLU-conv (He, Zhang,
Ren, Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016); ``mlp`` uses Linear layers instead of
convolutions. Downsampling transitions sit between stages and are not steps of any scheme.
"""
from __future__ import annotations

from torch import nn

MACROS = ("image", "sequence", "mlp")


def _layers(macro: str):
    """(batch norm class, conv-like constructor, pooling) for a macro-architecture."""
    if macro == "image":
        return nn.BatchNorm2d, lambda i, o, k=3, s=1: nn.Conv2d(i, o, k, s, padding=k // 2, bias=False), nn.AdaptiveAvgPool2d(1)
    if macro == "sequence":
        return nn.BatchNorm1d, lambda i, o, k=3, s=1: nn.Conv1d(i, o, k, s, padding=k // 2, bias=False), nn.AdaptiveAvgPool1d(1)
    if macro == "mlp":
        return nn.BatchNorm1d, lambda i, o, k=None, s=1: nn.Linear(i, o, bias=False), nn.Identity()
    raise ValueError(f"macro: must be one of {', '.join(MACROS)}, got {macro!r}")


class PreActResidual(nn.Sequential):
    """f(x) = conv(ReLU(BN(conv(ReLU(BN(x)))))): one step's residual function (width preserved)."""

    def __init__(self, macro: str, width: int):
        norm, conv, _ = _layers(macro)
        super().__init__(norm(width), nn.ReLU(), conv(width, width), norm(width), nn.ReLU(), conv(width, width))


class Transition(nn.Module):
    """Width change between stages: a pre-activation residual block with a projection shortcut
    (stride 2 for image and sequence). It is a plain residual step, not a step of the stage's scheme."""

    def __init__(self, macro: str, in_width: int, out_width: int):
        super().__init__()
        norm, conv, _ = _layers(macro)
        stride = 1 if macro == "mlp" else 2
        self.pre = nn.Sequential(norm(in_width), nn.ReLU())
        self.body = nn.Sequential(conv(in_width, out_width, 3, stride), norm(out_width), nn.ReLU(),
                                  conv(out_width, out_width))
        self.shortcut = conv(in_width, out_width, 1, stride)

    def forward(self, x):
        x = self.pre(x)
        return self.shortcut(x) + self.body(x)


class Stem(nn.Module):
    def __init__(self, macro: str, in_channels: int, width: int):
        super().__init__()
        _, conv, _ = _layers(macro)
        self.layer = conv(in_channels, width)

    def forward(self, x):
        return self.layer(x)


class Head(nn.Module):
    """BN-ReLU (the pre-activation network's final activation), global average pool, linear classifier."""

    def __init__(self, macro: str, width: int, num_classes: int):
        super().__init__()
        norm, _, pool = _layers(macro)
        self.pre = nn.Sequential(norm(width), nn.ReLU())
        self.pool = pool
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.pre(x)).flatten(1))


def coefficient_shape(macro: str, width: int) -> tuple[int, ...]:
    """Shape of a per-channel coefficient that broadcasts over a (N, C, ...) activation."""
    return {"image": (width, 1, 1), "sequence": (width, 1), "mlp": (width,)}[macro]

