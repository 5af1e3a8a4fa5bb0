"""Every kind of network spec in one table: read a ``spec.json`` of any kind, size its network up, build it.

A spec is a value that fully determines a network (nanoGPT's config): ``NetworkSpec`` for scheme networks
(``nas.networks``), ``ConvertedSpec`` for torchvision ResNets converted to run a scheme (``nas.conversion``,
which builds on ``nas.networks``). This module sits above both packages, so neither knows the other's kind:
the specs are plain values and the table says which network each one determines.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from .conversion.network import converted_network
from .conversion.spec import ConvertedSpec
from .networks.builder import SchemeNetwork
from .networks.estimate import NetworkEstimate, check_weights, describe, measure, meta_network
from .networks.spec import NetworkSpec


@dataclass(frozen=True)
class SpecKind:
    """One kind of spec: its value type, the key that marks its JSON form (None: the default kind, a form
    without any other kind's key) and the network it determines (random weights, budgets not checked)."""

    spec_type: type
    marker: str | None
    network: Callable[[object], nn.Module]


SPEC_KINDS = (SpecKind(ConvertedSpec, "torchvision", converted_network),
              SpecKind(NetworkSpec, None, SchemeNetwork))


def spec_from_dict(data: dict):
    """The spec of a ``spec.json``: a ``NetworkSpec``, or a converted torchvision ResNet's ``ConvertedSpec``
    when the form has the key ``"torchvision"``."""
    marked = [kind for kind in SPEC_KINDS if kind.marker is not None and isinstance(data, dict) and kind.marker in data]
    default = next(kind for kind in SPEC_KINDS if kind.marker is None)
    return (marked[0] if marked else default).spec_type.from_dict(data)


def kind_of(spec) -> SpecKind:
    """The kind of the spec value ``spec``; a ``TypeError`` for anything else."""
    for kind in SPEC_KINDS:
        if isinstance(spec, kind.spec_type):
            return kind
    raise TypeError(f"build_network: expected a NetworkSpec, a ConvertedSpec or the dict of either, got "
                    f"{type(spec).__name__}")


def network_of(spec) -> nn.Module:
    """A fresh network of ``spec`` (random weights) without the budget check: ``build_network`` checks first."""
    return kind_of(spec).network(spec)


def build_network(spec) -> nn.Module:
    """The network of ``spec`` (a ``NetworkSpec``, a converted torchvision ResNet's ``ConvertedSpec``, or the
    dict of either); a ``ValueError`` when it exceeds the parameter budget (``nas.limits``), found on the meta
    device before anything is allocated."""
    if isinstance(spec, dict):
        spec = spec_from_dict(spec)
    kind = kind_of(spec)  # a TypeError before any work
    check(spec)
    return kind.network(spec)


def estimate(spec, input_shape=None) -> NetworkEstimate:
    """Parameters of ``spec``'s network and, with ``input_shape`` (one sample), its activation bytes."""
    where = describe(spec)
    return measure(meta_network(spec, network_of, where), where, input_shape)


def check(spec, *, input_shape=None, batch_size: int | None = None, where: str | None = None) -> NetworkEstimate:
    """``estimate`` checked against the budgets (activations only with ``input_shape`` and ``batch_size``).

    Parameters are checked before the sample runs through, so an absurd network never reaches the forward.
    """
    where = where or describe(spec)
    return measure(meta_network(spec, network_of, where), where, input_shape, batch_size, enforce=True)


def check_state_dict(spec, state: dict, where: str) -> None:
    """``state`` (weights read from a file) has exactly the names and shapes of ``spec``'s network, which is
    checked against the parameter budget first; nothing is allocated (meta device)."""
    check_weights(meta_network(spec, network_of, where), state, where)


__all__ = ["SPEC_KINDS", "SpecKind", "build_network", "check", "check_state_dict", "estimate", "kind_of",
           "network_of", "spec_from_dict"]
