"""``nas diagnose``: names, tableaux, multistep coefficients, noise; JSON, LaTeX and PNG output; bad
input is one line on stderr with exit status 2."""
from __future__ import annotations

import json

import pytest

from nas.cli import main


def _run(capsys, *argv):
    status = main(["diagnose", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_registered_name(capsys):
    status, out, _ = _run(capsys, "rk4")
    assert status == 0
    assert "order: 4" in out and "stability_polynomial: [1, 1, 1/2, 1/6, 1/24]" in out


def test_tableau_from_decimals_is_exact(capsys):
    status, out, _ = _run(capsys, "--tableau", "[[0,0],[1,0]]", "--b", "[0.5,0.5]", "--json")
    report = json.loads(out)
    assert status == 0 and report["order"] == 2 and report["arithmetic"] == "exact"
    assert report["stability_polynomial"] == [1, 1, "1/2"]


def test_multistep_json(capsys):
    status, out, _ = _run(capsys, "--multistep", "--alpha", "[0,-1,1]", "--beta", '["-1/2","3/2",0]', "--json")
    report = json.loads(out)
    assert status == 0 and report["order"] == 2 and report["error_constant"] == "5/12"


def test_lm_resnet_symbolic_and_numeric(capsys):
    _, out, _ = _run(capsys, "lm_resnet")
    assert "modified_equation: (k + 1)*u' + (1 - k)/2*h*u'' = f(u) + O(h^2)" in out
    _, out, _ = _run(capsys, "lm_resnet", "--k", "3/10", "--json")
    assert json.loads(out)["time_scale"] == "13/10"


def test_latex_and_several_schemes(capsys):
    status, out, _ = _run(capsys, "euler", "leapfrog", "--latex")
    assert status == 0 and out.count("\\begin{tabular}") == 2


def test_noise(capsys):
    status, out, _ = _run(capsys, "--noise", '{"kind": "stochastic_depth", "shape": "linear", "p_L": 0.5}',
                          "--depth", "5", "--h", "0.2", "--json")
    assert status == 0 and json.loads(out)["total_injected_variance"] == pytest.approx(0.038)


def test_plot(capsys, tmp_path):
    path = tmp_path / "regions.png"
    status, _, err = _run(capsys, "rk4", "ab2", "leapfrog", "--plot", str(path))
    assert status == 0 and path.read_bytes()[:4] == b"\x89PNG" and "wrote" in err


@pytest.mark.parametrize("argv, message", [
    (["--tableau", "[[0,0],[1,0]", "--b", "[0.5,0.5]"], "not valid JSON"),
    (["--tableau", "[[0,0],[1,0]]", "--b", "[0.5,0.6]"], "must sum to 1"),
    (["--tableau", "[[0,0],[1,0]]"], "give both"),
    (["--multistep", "--alpha", "[0,-1,1]"], "--alpha and --beta"),
    (["rk99"], "unknown scheme"),
    ([], "nothing to diagnose"),
    (["rk4", "--k", "0.3"], "only applies to lm_resnet"),
    (["lm_resnet", "--plot", "x.png"], "symbolic"),
    (["hamiltonian", "--plot", "x.png"], "none of these schemes has a stability region"),
    (["rk4", "--depth", "4"], "only apply to --noise"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    status, out, err = _run(capsys, *argv)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize("k,expected", [("0", 1), ("3/10", 1), ("-1/2", 1), ("1", 2), ("-1", 0)])
def test_lm_resnet_order_is_the_leaderboards(capsys, k, expected):
    """One order for LM-ResNet (issue 22): ``nas diagnose`` states the order of trials.csv's ``order`` column
    (what the leaderboard shows): order 1 as a method for (1 + k) u' = f for k != -1 (2 at k = 1, leapfrog)."""
    from fractions import Fraction

    from nas.schemes import get
    from nas.search.constraints import scheme_diagnostics

    leaderboard_order = scheme_diagnostics(get("lm_resnet", k=float(Fraction(k))))["order"]
    status, out, _ = _run(capsys, "lm_resnet", f"--k={k}")
    stated = [line for line in out.splitlines() if line.startswith("  order: ")]
    assert status == 0 and leaderboard_order == expected
    assert len(stated) == 1 and stated[0].split()[1] == str(expected), stated
    if k not in ("0", "-1"):  # T = 1 + k != 1: the line names the equation and keeps the order for u' = f
        assert "u' = f, the equation it is consistent with; 0 for u' = f" in stated[0]


def test_an_export_card_states_the_same_lm_resnet_order():
    """The card's diagnostics text (card.md) states the order nas diagnose and the leaderboard state."""
    from nas.export.card import card_diagnostics
    from nas.network_kinds import build_network
    from nas.networks import NetworkSpec
    from nas.schemes import get

    spec = NetworkSpec(scheme=get("lm_resnet", k=0.3), macro="sequence", in_channels=1, num_classes=10,
                       widths=(4, 8), steps_per_stage=2)
    text = card_diagnostics(spec, build_network(spec))["text"]
    assert "\n  order: 1 (as a method for 1.3 u' = f" in text and "\n  order: 0\n" not in text
