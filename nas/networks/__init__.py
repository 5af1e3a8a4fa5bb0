"""Scheme networks: ``NetworkSpec`` and ``build_network``."""
from .blocks import RESIDUAL_FORMS
from .builder import SchemeNetwork, build_network
from .spec import NetworkSpec
from .stages import STAGES, MultistepStage, RungeKuttaStage

__all__ = ["NetworkSpec", "build_network", "SchemeNetwork", "STAGES", "RESIDUAL_FORMS", "RungeKuttaStage",
           "MultistepStage"]
