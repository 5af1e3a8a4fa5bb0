"""Scheme networks: ``NetworkSpec`` and ``build_network``."""
from .builder import SchemeNetwork, build_network
from .residuals import RESIDUAL_FORMS
from .spec import NetworkSpec, spec_from_dict
from .stage import STAGES, SchemeStage

__all__ = ["NetworkSpec", "build_network", "SchemeNetwork", "SchemeStage", "STAGES", "RESIDUAL_FORMS",
           "spec_from_dict"]
