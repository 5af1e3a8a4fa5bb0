"""The export folder of a converted network (``nas convert``): the files ``nas export`` writes for a trial.

- ``model.pt2``: a ``torch.export`` program in eval mode, dynamic batch dimension, checked against the module;
  it loads with ``torch.export.load(path).module()`` where ``nas`` is not installed;
- ``weights.safetensors`` + ``spec.json`` (a ``ConvertedSpec``): ``nas.load(folder)`` rebuilds the trainable
  module (torchvision builds the architecture, ``nas.convert`` converts it, the weights are loaded);
- ``card.json`` / ``card.md``: the conversion's summary, where the weights came from and the measured difference
  to the network before conversion, the scheme with its per-step coefficients and diagnostics, parameters and
  FLOPs; ``stability.png`` when the scheme has a stability region.

The program, the weights and the card are made by ``nas.export``'s own functions (one way to export a model);
the folder is written into a staging folder renamed into place (``nas.atomic``), with the ``.nas-export`` marker
that lets ``--force`` replace it later (and nothing else, ``nas.export.folders.check_replaceable``).
"""
from __future__ import annotations

import datetime
import json

from ..atomic import atomic_directory
from ..export.card import FORMAT, card_diagnostics, card_noise, json_ready
from ..export.folders import MODEL_FILES, check_replaceable, check_target, write_json, write_marker
from ..export.markdown import markdown_table
from ..export.plots import write_card_plots
from ..export.program import export_program, save_program, save_weights
from ..families.registry import family_of


def write_folder(network, out, example, *, provenance: dict, check: dict | None = None,
                 replace: bool = False) -> dict:
    """Export ``network`` (a ``SchemeResNet`` with a rebuildable spec) into the folder ``out``; returns the card.

    ``example`` is an input batch (≥ 2 samples: torch.export specialises a dimension of size 1); ``provenance``
    says where the weights came from; ``check`` is the measured comparison with the original network.
    """
    from ..train import count_parameters, forward_flops

    out = check_target(out, replace)  # before any work: --force replaces only an earlier export
    spec = network.spec
    if not spec.rebuildable:
        raise ValueError("out: the network was converted from a ResNet that is not a named torchvision architecture; "
                         "nas.load could not rebuild it (export the module with torch.export yourself)")
    title = f"{spec.architecture} as {family_of(spec.scheme).display_name(spec.scheme)}"
    network.eval()  # baked into the program (batch-norm statistics, noise expectations)
    program = export_program(network, example, title)
    with atomic_directory(out, replace=replace, replaceable=check_replaceable) as staging:
        write_marker(staging, "nas convert")
        save_program(program, staging / "model.pt2")
        state = {name: tensor.detach().contiguous() for name, tensor in network.state_dict().items()}
        save_weights(state, staging / "weights.safetensors", metadata={"format": FORMAT, "spec": title})
        write_json(staging / "spec.json", spec.to_dict())
        card = _card(network, title, example, provenance, check, params=count_parameters(network),
                     flops=forward_flops(network, example))
        card["files"] = sorted([*MODEL_FILES, *write_card_plots(spec, network, card["scheme"]["per_step"], staging)])
        write_json(staging / "card.json", card)
        (staging / "card.md").write_text(_markdown(card), encoding="utf-8")
    return card


def _card(network, title, example, provenance, check, *, params, flops) -> dict:
    import torch

    from .. import __version__

    spec = network.spec
    scheme = spec.scheme
    return json_ready({
        "format": FORMAT,
        "kind": "converted torchvision ResNet",
        "title": title,
        "conversion": {"summary": network.summary(), "weights": provenance, "check": check},
        "scheme": {"name": family_of(scheme).display_name(scheme), "family": scheme.family, "text": str(scheme),
                   "rows": family_of(scheme).card_rows(scheme), "coefficients": scheme.to_dict(),
                   "per_step": network.coefficients()},
        "diagnostics": card_diagnostics(spec, network),
        "noise": card_noise(spec),
        "metrics": {"params": params, "flops_per_sample": flops},
        "architecture": {**spec.to_dict(), "total_steps": spec.total_steps, "input_shape": list(example.shape[1:])},
        "exported": {"at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     "nas": __version__, "torch": torch.__version__, "dynamic_batch": "batch >= 1", "mode": "eval"},
    })


def _markdown(card: dict) -> str:
    """The human-readable card."""
    scheme, arch, conversion = card["scheme"], card["architecture"], card["conversion"]
    shape = ", ".join(str(s) for s in arch["input_shape"])
    lines = [f"# {card['title']}", "", "```", conversion["summary"], "```", ""]
    weights = conversion["weights"] or {}
    lines += [f"Weights: {weights.get('text', '-')}."]
    check = conversion.get("check")
    if check:
        lines += [f"Checked against the network before conversion on a random batch of shape "
                  f"{check['input_shape']} in eval mode: max |difference| = {check['max_abs_difference']:.3g}"
                  f"{' (exact)' if check['max_abs_difference'] == 0 else ''}."]
    lines += ["", "## Use", "", "```python", "import torch", "",
              "model = torch.export.load(\"model.pt2\").module()   # no nas needed; eval mode, any batch size",
              f"logits = model(x)                                 # x: float32 (batch, {shape})", "",
              "import nas", "net = nas.load(\".\")    # the trainable nn.Module (eval mode; .train() to go on)", "```",
              "", "## Scheme", "", f"- family: `{scheme['family']}`", f"- scheme: `{scheme['text']}`",
              *(f"- {label}: {text}" for label, text in scheme.get("rows", {}).items()),
              f"- coefficients (exact): `{json.dumps(scheme['coefficients'])}`", "",
              "### Coefficients per step (transitions are the start-up step of each stage)", "",
              markdown_table(scheme["per_step"]), "", "## Diagnostics", ""]
    diagnostics = card["diagnostics"]
    if diagnostics.get("available"):
        equation = diagnostics.get("modified_equation")
        if equation:
            lines += ["Modified equation of the scheme (for the steps between projections; see docs/convert.md):",
                      "", f"$$ {equation['latex']} $$", ""]
        lines += ["```", diagnostics["text"], "```", "", "Per-step table of the network:", "", "```",
                  diagnostics["network_text"], "```", ""]
        if "stability.png" in card.get("files", []):
            lines += ["![stability region](stability.png)", ""]
    else:
        lines += [f"Not available: {diagnostics.get('reason')}", ""]
    metrics = card["metrics"]
    lines += ["## Size", "", f"{metrics['params']:,} parameters; {metrics['flops_per_sample']:,} FLOPs per sample "
              f"at input ({shape}).", "", "## Architecture", "",
              markdown_table([{"field": k, "value": json.dumps(v) if isinstance(v, (dict, list)) else v}
                                         for k, v in arch.items() if k not in ("scheme", "noise")]), "",
              f"Exported {card['exported']['at']} with nas {card['exported']['nas']}, torch "
              f"{card['exported']['torch']}.", ""]
    return "\n".join(lines)


__all__ = ["check_target", "write_folder"]
