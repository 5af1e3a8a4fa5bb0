"""Scheme networks: ``NetworkSpec`` and the ``SchemeNetwork`` it determines.

``nas.network_kinds.build_network`` builds a network of any kind of spec (this package's, and the converted
torchvision ResNets of ``nas.conversion``, which builds on it).
"""
from .builder import SchemeNetwork
from .residuals import RESIDUAL_FORMS
from .spec import NetworkSpec
from .stage import STAGES, SchemeStage

__all__ = ["NetworkSpec", "SchemeNetwork", "SchemeStage", "STAGES", "RESIDUAL_FORMS"]
