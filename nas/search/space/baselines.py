"""The ``baselines`` section: the published references a search trains first, at one fixed network shape,
for the full budget: a plain ResNet (forward Euler, He et al. 2016) and the LM-ResNet of Lu, Zhong, Li, Dong
(ICML 2018) with k learned per layer from the paper's initialisation, both without noise.

    baselines: true                                   the shape: each network setting's constant, first
                                                      choice or range's low bound
    baselines: {network: {widths: [8, 16, 32], steps_per_stage: 2}}    that shape

When that shape ties its residual functions (``tie: stage``), both baselines are tied as well, and a third
baseline, the untied plain ResNet of the same depth (``baseline_euler_untied``), shows what tying costs or
gains against the network everybody knows.
"""
from __future__ import annotations

from nas.domains import check_mapping, check_scalar
from .schemes import parse_scheme_block

# the baseline trials' scheme labels, reserved; the third only in spaces whose baselines are tied
BASELINES = ("baseline_euler", "baseline_lm_resnet", "baseline_euler_untied")
UNTIED_RESNET = BASELINES[2]


def baseline_labels(network: dict | None) -> tuple[str, ...]:
    """The baselines a space with baseline network config ``network`` trains (none when it is None)."""
    if network is None:
        return ()
    return BASELINES if network.get("tie", "none") == "stage" else BASELINES[:2]


def baseline_blocks() -> tuple:
    """The hand-designed references: ResNet (forward Euler) and the published LM-ResNet (learned k), and the
    untied ResNet (forward Euler with a function per step) beside tied ones."""
    return (parse_scheme_block({"family": "named", "label": BASELINES[0], "names": "euler"}, "baselines"),
            parse_scheme_block({"family": "lm_resnet", "label": BASELINES[1], "learn": "layer"}, "baselines"),
            parse_scheme_block({"family": "named", "label": UNTIED_RESNET, "names": "euler"}, "baselines"))


def baseline_network(fixed: dict, label: str) -> dict:
    """The network config of baseline ``label``: the space's fixed shape, untied for the untied ResNet."""
    if label == UNTIED_RESNET:
        return {**{k: v for k, v in fixed.items() if k not in ("tie", "norm")}}
    return dict(fixed)


def parse_baselines(raw, network, path: str = "baselines") -> dict | None:
    """``baselines``: false / true / ``{network: {...}}`` -> None or the baselines' fixed network config."""
    if isinstance(raw, dict):
        check_mapping(raw, path, {"network"})
        return network.fixed(raw.get("network"), f"{path}.network")
    if check_scalar(raw, path, "bool"):
        return network.fixed(None, f"{path}.network")
    return None


__all__ = ["BASELINES", "UNTIED_RESNET", "baseline_blocks", "baseline_labels", "baseline_network",
           "parse_baselines"]
