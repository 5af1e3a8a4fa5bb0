"""``SchemeNetwork``: the network a ``NetworkSpec`` determines.

Build it with ``nas.network_kinds.build_network``, which reads a spec of any kind and checks the budgets first.
"""
from __future__ import annotations

from torch import nn

from .learned import make_learned
from .blocks import Head, Stem, Transition
from .residuals import RESIDUAL_FORMS
from .spec import NetworkSpec
from .stage import SchemeStage
from .tying import ResidualFactory


class SchemeNetwork(nn.Module):
    """stem → [transition →] stage → … → head; each stage is the spec's scheme over steps_per_stage steps."""

    def __init__(self, spec: NetworkSpec):
        super().__init__()
        self.spec = spec
        form = RESIDUAL_FORMS[spec.residual]
        self.stem = Stem(spec.macro, spec.in_channels, spec.widths[0])
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        learned = make_learned(spec, len(spec.widths))
        for i, width in enumerate(spec.widths):
            if i > 0:
                self.transitions.append(Transition(spec.macro, spec.widths[i - 1], width))
            make_residual = ResidualFactory(lambda w: form(spec.macro, w, spec), width, spec.tie, spec.norm)
            self.stages.append(SchemeStage(spec.scheme, spec, width, i * spec.steps_per_stage, make_residual,
                                           learned=learned[i]))
        self.head = Head(spec.macro, spec.widths[-1], spec.num_classes)

    def forward(self, x):
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = self.transitions[i - 1](x)
            x = stage(x)
        return self.head(x)

    def coefficients(self) -> list[dict]:
        """Per-step coefficients over the whole network (stage index added), learned values included."""
        return [dict(row, stage=i) for i, stage in enumerate(self.stages) for row in stage.coefficients()]


__all__ = ["SchemeNetwork"]
