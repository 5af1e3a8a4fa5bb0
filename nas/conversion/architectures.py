"""torchvision's ResNet family by name: build a model, recognise one, find its pretrained weights offline.

- :data:`ARCHITECTURES`: the ResNet builders of ``torchvision.models`` (He et al. 2016; ResNeXt, Xie et al.
  2017; Wide ResNet, Zagoruyko & Komodakis 2016), all made of ``BasicBlock`` or ``Bottleneck`` blocks;
- stems: ``imagenet`` is torchvision's (7×7 stride-2 convolution and a max pool); ``cifar`` is the usual
  adaptation to 32×32 images (a 3×3 stride-1 first convolution and no max pool, as in He et al.'s CIFAR-10
  networks, §4.2), which keeps the 32×32 resolution into ``layer1`` instead of 8×8;
- pretrained weights are never downloaded: torchvision's weights enum gives the checkpoint's URL, whose file
  name is where ``torch.hub`` caches it (``$TORCH_HOME/hub/checkpoints/<file>``, by default
  ``~/.cache/torch/hub/checkpoints``); the file is read from there with ``torch.load(weights_only=True)``
  (``nas.safe_load``) or refused with that exact path in the message.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from .blocks import ResidualBranch, check_block

ARCHITECTURES = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                 "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2")
STEMS = ("imagenet", "cifar")
LAYERS = ("layer1", "layer2", "layer3", "layer4")
IMAGENET_CLASSES = 1000


def check_architecture(name, where: str = "architecture") -> str:
    if name not in ARCHITECTURES:
        raise ValueError(f"{where}: unknown torchvision ResNet {name!r}; known: {', '.join(ARCHITECTURES)}")
    return name


def check_stem(stem, where: str = "stem") -> str:
    if stem not in STEMS:
        raise ValueError(f"{where}: must be one of {', '.join(STEMS)}, got {stem!r}")
    return stem


def torchvision_model(name: str, num_classes: int = IMAGENET_CLASSES, stem: str = "imagenet") -> nn.Module:
    """``torchvision.models.get_model(name, weights=None, num_classes=...)`` with the given stem (random weights)."""
    import torchvision

    model = torchvision.models.get_model(check_architecture(name), weights=None, num_classes=num_classes)
    if check_stem(stem) == "cifar":
        width = model.conv1.out_channels
        model.conv1 = nn.Conv2d(model.conv1.in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")  # torchvision's init
        model.maxpool = nn.Identity()
    return model


def check_resnet(model) -> None:
    """A ``ValueError`` naming what is not a torchvision ResNet: the model type, or the first foreign block."""
    from torchvision.models import ResNet

    if not isinstance(model, ResNet):
        raise ValueError(f"convert: a {type(model).__name__} is not a torchvision ResNet (conv1, bn1, relu, maxpool, "
                         f"layer1-4 of BasicBlock or Bottleneck blocks, avgpool, fc)")
    if type(model).forward is not ResNet.forward or type(model)._forward_impl is not ResNet._forward_impl:
        raise ValueError(f"convert: {type(model).__name__} overrides torchvision's ResNet.forward; only the "
                         "torchvision computation can be converted")
    for layer in LAYERS:
        for i, block in enumerate(getattr(model, layer)):
            check_block(block, f"convert: {layer}[{i}]")


def layout(model) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(width, number of blocks) of each layer of a torchvision ResNet; the width is what the layer outputs."""
    widths = tuple([m for m in ResidualBranch(getattr(model, layer)[-1]) if isinstance(m, nn.Conv2d)][-1].out_channels
                   for layer in LAYERS)
    return widths, tuple(len(getattr(model, layer)) for layer in LAYERS)


@lru_cache(maxsize=None)
def architecture_layout(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """:func:`layout` of a named architecture (built once on the meta device: nothing is allocated)."""
    with torch.device("meta"):
        return layout(torchvision_model(name))


@lru_cache(maxsize=None)
def _description(name: str, num_classes: int, stem: str) -> str:
    with torch.device("meta"):
        return repr(torchvision_model(name, num_classes, stem))


def recognise(model) -> tuple[str | None, str]:
    """(architecture, stem) of a torchvision ResNet whose module tree is exactly that of a named builder
    (strides, dilations, widths, groups, norm layers, classes); (None, "imagenet") for any other ResNet."""
    blocks = layout(model)[1]
    num_classes = model.fc.out_features if isinstance(model.fc, nn.Linear) else None
    description = repr(model)
    for name in ARCHITECTURES:
        if num_classes is None or architecture_layout(name)[1] != blocks:
            continue
        for stem in STEMS:
            if _description(name, num_classes, stem) == description:
                return name, stem
    return None, "imagenet"


# ------------------------------------------------------------------------------------ pretrained weights
def weights_entry(name: str, weights: str):
    """The member of torchvision's weights enum of ``name`` (``DEFAULT``, ``IMAGENET1K_V1``, or the full
    ``ResNet18_Weights.IMAGENET1K_V1``)."""
    import torchvision

    enum = torchvision.models.get_model_weights(check_architecture(name))
    prefix, _, key = str(weights).rpartition(".")
    if prefix not in ("", enum.__name__) or key not in enum.__members__:
        raise ValueError(f"weights: {name} has no pretrained weights {weights!r}; torchvision's are "
                         f"{', '.join(enum.__members__)}")
    return enum[key]


def checkpoint_path(entry) -> Path:
    """Where ``torch.hub`` caches the checkpoint of a weights entry: ``<torch.hub.get_dir()>/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(entry.url).path).name


def pretrained_state(name: str, weights: str) -> tuple[dict, Path]:
    """(state dict, its file) of ``name``'s pretrained ``weights`` from the torch.hub cache; never downloads."""
    entry = weights_entry(name, weights)
    path = checkpoint_path(entry)
    if not path.is_file():
        raise ValueError(f"weights {weights}: no checkpoint at {path} (nothing is downloaded; copy {entry.url} "
                         "there, or set TORCH_HOME to the folder whose hub/checkpoints holds it)")
    from nas.safe_load import read_state

    state = read_state(path, f"weights {weights}: {path}")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"weights {weights}: {path} is not a state dict (names to tensors)")
    return state, path


def load_pretrained(model: nn.Module, state: dict, where: str) -> list[str]:
    """Load ``state`` into ``model``; the entries whose shapes differ because of the conversion's options (the
    classifier ``fc`` for another number of classes, ``conv1`` for the CIFAR stem) keep their fresh
    initialisation. Returns their names; any other mismatch is a ``ValueError``."""
    own = model.state_dict()
    changeable = ("fc.", "conv1.")
    unexpected = sorted(set(state) - set(own))
    # older torchvision checkpoints lack batch norm's num_batches_tracked counters: load_state_dict sets them
    changed = sorted(k for k in own if (k not in state and not k.endswith("num_batches_tracked"))
                     or (k in state and tuple(state[k].shape) != tuple(own[k].shape)))
    foreign = [k for k in changed if not k.startswith(changeable)]
    if unexpected or foreign:
        problem = [f"unexpected {', '.join(unexpected[:3])}"] if unexpected else []
        problem += [f"missing or reshaped {', '.join(foreign[:3])}"] if foreign else []
        raise ValueError(f"{where}: the checkpoint does not fit the network ({'; '.join(problem)})")
    model.load_state_dict({k: v for k, v in state.items() if k not in changed}, strict=False)
    return changed


__all__ = ["ARCHITECTURES", "IMAGENET_CLASSES", "LAYERS", "STEMS", "architecture_layout", "check_architecture",
           "check_resnet", "check_stem", "checkpoint_path", "layout", "load_pretrained", "pretrained_state",
           "recognise", "torchvision_model", "weights_entry"]
