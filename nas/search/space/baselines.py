"""The ``baselines`` section: the published references a search trains first, at one fixed network shape,
for the full budget: a plain ResNet (forward Euler, He et al. 2016) and the LM-ResNet of Lu, Zhong, Li, Dong
(ICML 2018) with k learned per layer from the paper's initialisation, both without noise.

    baselines: true                                   the shape: each network setting's constant, first
                                                      choice or range's low bound
    baselines: {network: {widths: [8, 16, 32], steps_per_stage: 2}}    that shape
"""
from __future__ import annotations

from ..domains import check_mapping, check_scalar
from .schemes import parse_scheme_block

BASELINES = ("baseline_euler", "baseline_lm_resnet")  # the baseline trials' scheme labels, reserved


def baseline_blocks() -> tuple:
    """The hand-designed references: ResNet (forward Euler) and the published LM-ResNet (learned k)."""
    return (parse_scheme_block({"family": "named", "label": BASELINES[0], "names": "euler"}, "baselines"),
            parse_scheme_block({"family": "lm_resnet", "label": BASELINES[1], "learn": "layer"}, "baselines"))


def parse_baselines(raw, network, path: str = "baselines") -> dict | None:
    """``baselines``: false / true / ``{network: {...}}`` -> None or the baselines' fixed network config."""
    if isinstance(raw, dict):
        check_mapping(raw, path, {"network"})
        return network.fixed(raw.get("network"), f"{path}.network")
    if check_scalar(raw, path, "bool"):
        return network.fixed(None, f"{path}.network")
    return None


__all__ = ["BASELINES", "baseline_blocks", "parse_baselines"]
