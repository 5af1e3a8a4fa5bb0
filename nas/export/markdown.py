"""A model's card as Markdown (``card.md``): GitHub Markdown, LaTeX between $$ for the modified equation."""
from __future__ import annotations

import json


def card_markdown(card: dict) -> str:
    """The human-readable card (GitHub Markdown, LaTeX between $$ for the modified equation)."""
    m, scheme, arch, data = card["metrics"], card["scheme"], card["architecture"], card["data"]
    shape = ", ".join(str(s) for s in arch["input_shape"])
    lines = [f"# {card['title']}", ""]
    vs = m.get("vs_resnet")
    versus = "" if vs is None else f" ({vs:+.4f} vs the ResNet baseline of the same search)"
    lines += [f"Best validation accuracy {_number(m['best_val_acc'])}{versus}; test accuracy "
              f"{_number(m['test_acc'])} on {m['test_samples']} test samples (computed once, at export); "
              f"{_number(m['params'])} parameters; {_number(m['flops_per_sample'])} FLOPs per sample.", ""]
    lines += _evaluation_markdown(card.get("evaluation"))
    lines += ["## Use", "", "```python", "import torch", "",
              "model = torch.export.load(\"model.pt2\").module()   # no nas needed; eval mode, any batch size",
              f"logits = model(x)                                 # x: float32 (batch, {shape}), normalised like nas.data",
              "", "import nas", "net = nas.load(\".\")    # the trainable nn.Module (eval mode; .train() to go on)",
              "```", ""]
    lines += ["## Scheme", "", f"- family: `{scheme['family']}`", f"- scheme: `{scheme['text']}`",
              *(f"- {label}: {text}" for label, text in scheme.get("rows", {}).items()),
              f"- coefficients (exact): `{json.dumps(scheme['coefficients'])}`"]
    if scheme["searched_coefficients"]:
        lines.append("- searched coefficients: " + ", ".join(
            f"`{k}` = {v:.6g}" if isinstance(v, float) else f"`{k}` = {v}"
            for k, v in scheme["searched_coefficients"].items()))
    lines += ["", "### Coefficients per step (learned values included)", "",
              markdown_table(scheme["per_step"]), ""]
    lines += _diagnostics_markdown(card)
    lines += _noise_markdown(card["noise"])
    metric_rows = [{"metric": k, "value": _number(v)} for k, v in m.items()]
    lines += ["## Metrics", "", markdown_table(metric_rows), ""]
    lines += ["## Data set", "", f"`{data['name']}`, sizes {data['sizes']}, options `{json.dumps(data['options'])}`",
              ""]
    arch_rows = [{"field": k, "value": json.dumps(v) if isinstance(v, (dict, list)) else v}
                 for k, v in arch.items() if k not in ("scheme", "noise")]
    lines += ["## Architecture", "", markdown_table(arch_rows), ""]
    search = card["search"]
    origin = [f"- search run `{search['run']}` ({search['run_dir']})",
              f"- trial folder `{search['trial_dir']}`, {_rank_text(card)}"] if search.get("run") is not None else [
        f"- trained by `{search.get('trained_by')}` (no search run); its training configuration: "
        f"`{json.dumps(search.get('train_config'))}`"]
    lines += ["## Provenance", "", *origin,
              f"- exported {card['exported']['at']} with nas {card['exported']['nas']}, torch "
              f"{card['exported']['torch']}", ""]
    return "\n".join(lines)


def _diagnostics_markdown(card: dict) -> list[str]:
    """The card's "Diagnostics" section: time invariance, depth refinement, the scheme's report and figures."""
    scheme, diagnostics = card["scheme"], card["diagnostics"]
    lines = ["## Diagnostics", ""]
    invariance = diagnostics.get("time_invariance")
    if invariance:
        lines += [f"Network: {invariance['text']}.", ""]
    if card.get("refinement"):
        lines += ["### Depth refinement (test split)", "",
                  "The trained network with factor × its steps of size h / factor per stage: a network that "
                  "learned an ODE changes little, one that learned a discrete map falls apart.", "",
                  markdown_table(card["refinement"]), ""]
        if "refinement.png" in card.get("files", []):
            lines += ["![depth refinement](refinement.png)", ""]
    if diagnostics.get("available"):
        equation = diagnostics.get("modified_equation")
        if equation:
            lines += ["Modified equation:", "", f"$$ {equation['latex']} $$", ""]
        lines += ["```", diagnostics["text"], "```", ""]
        if "stability.png" in card.get("files", []):
            lines += ["![stability region](stability.png)", ""]
        else:
            lines += [f"No stability-region plot: the {scheme['family']} family has no linear stability region "
                      "of the form |R(hλ)| ≤ 1 to draw; its stability conditions are in the report above.", ""]
        if "coefficients.png" in card.get("files", []):
            lines += ["![learned coefficients against depth](coefficients.png)", ""]
        if "coefficient_trajectory.png" in card.get("files", []):
            lines += ["![learned scheme coefficients against the epoch](coefficient_trajectory.png)", ""]
        if diagnostics.get("network_text"):
            lines += ["Per-step table of the trained network:", "", "```", diagnostics["network_text"], "```", ""]
        if diagnostics.get("noise_text"):
            lines += ["Noise schedule as an SDE:", "", "```", diagnostics["noise_text"], "```", ""]
    else:
        lines += [f"Not available: {diagnostics.get('reason')}", ""]
    return lines


def _noise_markdown(noise: dict | None) -> list[str]:
    """The card's "Noise schedule" section."""
    lines = ["## Noise schedule", ""]
    if noise is None or noise["schedule"]["kind"] == "none":
        lines += ["None (deterministic training).", ""]
    else:
        lines += [f"`{noise['text']}`; total injected variance {noise['total_variance']:.4g} "
                  "(Σ h² Var η_n, Sun, Tao, Du 2018). The exported program uses the eval-mode step "
                  "(the expectation), so it is deterministic.", "",
                  markdown_table(noise["per_step"]), ""]
    return lines


def _evaluation_markdown(evaluation: dict | None) -> list[str]:
    """The card's "Final evaluation" section (``nas export --evaluated``)."""
    if not evaluation:
        return []
    test, vs = evaluation.get("test_acc") or {}, evaluation.get("vs_resnet") or {}
    spread = "" if test.get("std") is None else f" ± {test['std']:.4f}"
    lines = ["## Final evaluation", "",
             f"Test accuracy {_number(test.get('mean'))}{spread} (mean ± std, ddof 1) over n = {test.get('n')} seeds "
             f"{evaluation.get('seeds')}, each trained from scratch for {evaluation.get('epochs')} epochs "
             f"(`nas evaluate`; min {_number(test.get('min'))}, max {_number(test.get('max'))}). This model is seed "
             f"{evaluation.get('seed')}, the median ({_number(evaluation.get('seed_test_acc'))}).", ""]
    resnet = evaluation.get("resnet") or {}
    if vs.get("ci_low") is not None:
        lines += [f"Against the plain ResNet ({resnet.get('label')}: {resnet.get('source')}): paired difference "
                  f"{vs['mean']:+.4f}, 95% confidence interval [{vs['ci_low']:+.4f}, {vs['ci_high']:+.4f}] "
                  f"(Student's t over n = {vs['n']} seeds).", ""]
    else:
        lines += ["No interval of the difference against the plain ResNet (fewer than two paired seeds).", ""]
    if not evaluation.get("complete", True):
        lines += ["The evaluation is incomplete: some (architecture, seed) pairs did not finish.", ""]
    return lines


def _number(value, digits=4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(rows: list[dict]) -> str:
    """A GitHub pipe table of ``rows`` (one column per key, in first-seen order; long lists cut at 8 items)."""
    if not rows:
        return "(none)"
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def cell(value):
        if isinstance(value, float):
            return f"{value:.6g}"
        if isinstance(value, list):
            inner = [cell(v) for v in value]
            return "[" + ", ".join(inner[:8]) + (", …" if len(inner) > 8 else "") + "]"
        return "" if value is None else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _rank_text(card: dict) -> str:
    """Which ranking the card's ``rank`` is (``nas.export.selection``)."""
    if card.get("evaluation"):
        return f"search rank {card['rank']} of the final evaluation (nas evaluate: searched architectures only)"
    if card["rank"] is None:
        return "not ranked by the leaderboard (not compared at its budget)"
    return f"rank {card['rank']} on the leaderboard (best validation accuracy at equal budget, baselines included)"


__all__ = ["card_markdown", "markdown_table"]
