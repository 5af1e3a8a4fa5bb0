"""Tied residual functions (one per stage) and depth refinement: ODE-faithful networks."""
from __future__ import annotations

import json

import pytest
import torch
from test_reversible import check_same_gradients
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from nas.families.registry import family_of, scheme_names
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.networks.tying import NORMS, unshared_state
from nas.refinement import format_table, refined_network, refinement_table
from nas.schemes import get
from nas.schemes.noise import NoiseSchedule

pytestmark = pytest.mark.usefixtures("one_thread")  # module-scoped, in conftest.py

SCHEMES = scheme_names()  # every registered scheme: a new family is tested here by registering it


def residual_parameter_count(model) -> int:
    """Parameters of the residual functions' weights: per-step normalisation and learned scheme coefficients
    (per step by nature, e.g. LM-ResNet's k_n) aside, counted once however many steps share them."""
    per_step = {id(p) for m in model.modules() if isinstance(m, _BatchNorm) for p in m.parameters()}
    per_step |= {id(p) for name, p in model.named_parameters() if ".learned_" in name}
    return sum(p.numel() for p in model.parameters() if id(p) not in per_step)


def tied(scheme, **kw):
    kw.setdefault("widths", (4, 8))
    kw.setdefault("tie", "stage")
    return NetworkSpec(scheme=scheme, **kw)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", SCHEMES)
def test_tied_parameter_count_does_not_grow_with_depth(name, norm):
    counts = {steps: residual_parameter_count(build_network(tied(name, steps_per_stage=steps, norm=norm)))
              for steps in (1, 2, 8)}
    assert len(set(counts.values())) == 1, counts
    untied = [residual_parameter_count(build_network(NetworkSpec(scheme=name, widths=(4, 8), steps_per_stage=s)))
              for s in (1, 8)]
    assert untied[1] > untied[0]  # the contrast: untied networks grow with every step


@pytest.mark.parametrize("name", SCHEMES)
def test_tied_network_runs_trains_and_round_trips_for_every_scheme(name):
    spec = tied(name, steps_per_stage=3, noise=NoiseSchedule(kind="stochastic_depth", shape="linear", p_L=0.8))
    assert NetworkSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    model = build_network(spec)
    x, y = torch.randn(6, 1, 20), torch.randint(0, 10, (6,))
    F.cross_entropy(model(x), y).backward()
    functions = [p for n, p in model.named_parameters() if any(k in n for k in (".residuals.", ".drifts.", ".kicks."))]
    assert functions and all(p.grad is not None for p in functions)
    model.eval()
    with torch.no_grad():
        assert torch.isfinite(model(x)).all()


def test_tie_and_norm_defaults_leave_the_json_form_unchanged():
    # untied specs keep the spec.json (and so the architecture_id) they had before tying existed
    assert "tie" not in NetworkSpec(scheme="euler").to_dict() and "norm" not in NetworkSpec(scheme="euler").to_dict()
    data = tied("euler", norm="none").to_dict()
    assert data["tie"] == "stage" and data["norm"] == "none"


@pytest.mark.parametrize("kwargs, message", [
    (dict(tie="layer"), r"tie: must be one of none, stage, got 'layer'"),
    (dict(norm="group"), r"norm: must be one of per_step, shared, none, got 'group'"),
    (dict(norm="shared"), r"norm: 'shared' needs tie = 'stage'"),
])
def test_bad_tie_or_norm_is_a_value_error_naming_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NetworkSpec(scheme="euler", **kwargs)


@pytest.mark.parametrize("norm", ["per_step", "shared", "none"])
def test_every_step_holds_the_same_weights_and_its_own_or_the_shared_norm(norm):
    model = build_network(tied("rk4", steps_per_stage=3, norm=norm))
    functions = model.stages[0].step_functions
    assert sorted(functions) == [("f", 0), ("f", 1), ("f", 2)]
    convs = [[m for m in f.modules() if isinstance(m, nn.Conv1d)] for f in functions.values()]
    assert all(a is b for step in convs[1:] for a, b in zip(step, convs[0]))
    norms = [[m for m in f.modules() if isinstance(m, _BatchNorm)] for f in functions.values()]
    if norm == "none":
        assert norms == [[], [], []]
    elif norm == "shared":
        assert all(a is b for step in norms[1:] for a, b in zip(step, norms[0]))
    else:
        assert all(a is not b for step in norms[1:] for a, b in zip(step, norms[0]))
    assert model.spec.time_invariant == (norm != "per_step")


def test_untied_network_without_norm_has_no_batch_norm_inside_its_residual_functions():
    model = build_network(NetworkSpec(scheme="euler", widths=(4,), norm="none"))
    assert not any(isinstance(m, _BatchNorm) for m in model.stages.modules())
    assert not model.spec.time_invariant


@pytest.mark.parametrize("norm", ["shared", "none"])
def test_tied_euler_is_n_repeated_applications_of_one_function_in_float64(norm):
    torch.manual_seed(0)
    steps, h = 5, 0.3
    model = build_network(tied("euler", macro="mlp", widths=(6,), steps_per_stage=steps, h=h, norm=norm)).double()
    model.eval()
    f = model.stages[0].step_functions[("f", 0)]
    x = torch.randn(7, 2, dtype=torch.float64)
    with torch.no_grad():
        state = model.stem(x)
        for _ in range(steps):  # the hand-written loop: x_{n+1} = x_n + h f(x_n), one f
            state = state + h * f(state)
        expected = model.head(state)
        assert torch.equal(model(x), expected)


def smooth(model):
    """The toy problem of the convergence tests: the residual functions' ReLUs become tanh (a smooth f, for
    which a scheme of order p really converges with order p)."""
    for module in list(model.modules()):
        for name, child in list(module._modules.items()):
            if isinstance(child, nn.ReLU):
                module._modules[name] = nn.Tanh()
    return model.eval()


def successive_changes(name, norm, factors=(1, 2, 4, 8)):
    torch.manual_seed(1)
    model = smooth(build_network(tied(name, macro="mlp", widths=(6,), steps_per_stage=2, h=0.5, norm=norm,
                                      num_classes=3)).double())
    x = torch.randn(64, 2, dtype=torch.float64)
    outputs = []
    with torch.no_grad():
        for factor in factors:
            network = model if factor == 1 else smooth(refined_network(model, factor))
            outputs.append(network(x))
    return [((b - a).norm() / a.norm()).item() for a, b in zip(outputs, outputs[1:])]


@pytest.mark.parametrize("norm", ["shared", "none"])
def test_refining_tied_euler_changes_the_logits_at_first_order(norm):
    changes = successive_changes("euler", norm)
    for before, after in zip(changes, changes[1:]):
        assert 2 / 1.3 <= before / after <= 2 * 1.3, changes  # halves (± 30 %) with every doubling


@pytest.mark.parametrize("norm", ["shared", "none", "per_step"])
def test_refining_tied_rk4_changes_the_logits_by_at_least_8x_less_per_doubling(norm):
    changes = successive_changes("rk4", norm)
    assert all(before / after >= 8 for before, after in zip(changes, changes[1:])), changes


def test_refined_step_uses_the_normalisation_of_the_trained_step_whose_interval_contains_it():
    torch.manual_seed(2)
    model = build_network(tied("euler", widths=(4,), steps_per_stage=3, norm="per_step"))
    with torch.no_grad():  # distinct per-step statistics and affine parameters
        for (role, step), f in model.stages[0].step_functions.items():
            for m in f.modules():
                if isinstance(m, _BatchNorm):
                    m.weight.fill_(step + 1.0), m.running_mean.fill_(10.0 * step)
    refined = refined_network(model, 2)
    for (role, m), f in refined.stages[0].step_functions.items():
        norms = [n for n in f.modules() if isinstance(n, _BatchNorm)]
        assert all(n.weight.eq(m // 2 + 1.0).all() and n.running_mean.eq(10.0 * (m // 2)).all() for n in norms), m
    assert refined.spec.steps_per_stage == 6 and refined.spec.h == 0.5
    shared = [p for p in refined.parameters() if p.dim() == 3]  # conv weights: the trained, tied ones
    assert all(any(torch.equal(p, q) for q in model.parameters() if q.shape == p.shape) for p in shared)


def test_refinement_carries_learned_per_step_coefficients_by_time_interval():
    model = build_network(tied("lm_resnet", widths=(4,), steps_per_stage=3))  # k learned per step
    with torch.no_grad():
        for j, k in enumerate(model.stages[0].learned_k):
            k.fill_(0.1 * (j + 1))
    refined = refined_network(model, 2)
    # refined steps 1..5 (step 0 is the start-up) lie in trained steps 0,1,1,2,2; trained k_j belongs to step j+1
    assert [round(k.item(), 6) for k in refined.stages[0].learned_k] == [0.1, 0.1, 0.1, 0.2, 0.2]


def test_refinement_under_another_scheme_of_the_same_structure_and_refusals():
    model = build_network(tied("euler", widths=(4,), steps_per_stage=2, norm="shared"))
    assert str(refined_network(model, 1, "rk4").spec.scheme) == "rk4"
    with pytest.raises(ValueError, match=r"another stage structure"):
        refined_network(model, 1, "hamiltonian")
    with pytest.raises(ValueError, match=r"refinement needs tied weights"):
        refined_network(build_network(NetworkSpec(scheme="euler", widths=(4,))), 2)
    with pytest.raises(ValueError, match=r"factors must be whole numbers from 1 to 64"):
        refined_network(model, 0)


def test_refinement_table_reports_accuracy_and_changes_per_factor_and_scheme():
    torch.manual_seed(3)
    model = build_network(tied("euler", macro="mlp", widths=(6,), steps_per_stage=2, h=0.5, norm="none",
                               num_classes=3))
    x, y = torch.randn(40, 2), torch.randint(0, 3, (40,))
    rows = refinement_table(model, x, y, factors=(1, 2, 4), scheme="rk4")
    assert [(r.scheme, r.factor, r.steps_per_stage) for r in rows] == [
        ("euler", 1, 2), ("euler", 2, 4), ("euler", 4, 8), ("rk4", 1, 2), ("rk4", 2, 4), ("rk4", 4, 8)]
    assert rows[0].change is None and rows[0].change_from_trained == 0.0
    with torch.no_grad():
        expected = (model.eval()(x).argmax(1) == y).double().mean().item()
    assert rows[0].accuracy == pytest.approx(expected)
    assert all(r.change > 0 for r in rows[1:3]) and rows[3].change is None
    assert "vs trained" in format_table(rows).splitlines()[0]


REVERSIBLE = [name for name in SCHEMES if family_of(get(name)).memory_efficient_reason(get(name)) is None]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name", REVERSIBLE)
def test_memory_efficient_gradients_of_a_tied_reversible_network_equal_plain_autograd(name, norm):
    assert REVERSIBLE  # the registry has reversible schemes
    spec = tied(name, steps_per_stage=4, h=0.4, norm=norm)
    torch.manual_seed(3)
    plain = build_network(spec).double()
    efficient = build_network(spec.replace(memory_efficient=True)).double()
    efficient.load_state_dict(plain.state_dict())
    check_same_gradients(plain, efficient, torch.randn(6, 1, 12, dtype=torch.float64), torch.randint(0, 10, (6,)))


def test_tied_network_exports_a_program_equal_to_the_model_and_a_safetensors_state(tmp_path):
    from safetensors.torch import load_file, save_file

    from nas.export.program import export_program

    model = build_network(tied("heun", steps_per_stage=3, norm="per_step")).eval()
    x = torch.randn(3, 1, 20)
    program = export_program(model, x, "tied")
    with torch.no_grad():
        assert torch.equal(program.module()(x), model(x))
    save_file(unshared_state(model), str(tmp_path / "w.safetensors"))  # no "tensors share memory" error
    rebuilt = build_network(model.spec)
    rebuilt.load_state_dict(load_file(str(tmp_path / "w.safetensors")))
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x))


# ------------------------------------------------------------------ export and nas diagnose --model

@pytest.fixture(scope="module")
def tied_run(tmp_path_factory, one_thread):
    from run_folders import make_run

    return make_run(tmp_path_factory.mktemp("results"), "tied", [
        {"scheme": "euler", "tie": "stage", "norm": "per_step", "steps_per_stage": 3},
        {"scheme": "euler", "steps_per_stage": 3},  # untied
    ])


def _diagnose(capsys, *argv):
    from nas.cli import main

    status = main(["diagnose", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_export_of_a_tied_network_has_its_refinement_curve_and_time_invariance(tied_run, tmp_path):
    from nas.export import export_trial

    folder = export_trial(tied_run, "tied_00000", tmp_path / "tied")
    card = json.loads((folder / "card.json").read_text())
    assert [row["factor"] for row in card["refinement"]] == [1, 2, 4]
    assert [row["steps_per_stage"] for row in card["refinement"]] == [3, 6, 12]
    assert card["refinement"][0]["accuracy"] == pytest.approx(card["metrics"]["test_acc"])
    assert card["diagnostics"]["time_invariance"]["time_invariant"] is False  # BatchNorm per step
    assert "refinement.png" in card["files"] and (folder / "refinement.png").stat().st_size > 0
    markdown = (folder / "card.md").read_text()
    assert "### Depth refinement" in markdown and "each step keeps its own BatchNorm" in markdown
    untied = json.loads((export_trial(tied_run, "tied_00001", tmp_path / "untied") / "card.json").read_text())
    assert untied["refinement"] is None and "untied" in untied["diagnostics"]["time_invariance"]["text"]


def test_diagnose_model_prints_the_refinement_table_of_a_tied_export(tied_run, tmp_path, capsys):
    from nas.export import export_trial

    folder = export_trial(tied_run, "tied_00000", tmp_path / "tied")
    status, out, err = _diagnose(capsys, "--model", str(folder), "--refine", "1,2,4", "--scheme", "rk4")
    assert status == 0, err
    assert "network: tied, normalisation per step" in out and "order: 1" in out
    table = out.split("depth refinement on the test split (50 samples):\n", 1)[1].splitlines()
    assert table[0].split()[:2] == ["scheme", "factor"]
    assert [line.split()[:3] for line in table[1:]] == [
        ["euler", "1", "3"], ["euler", "2", "6"], ["euler", "4", "12"], ["rk4", "1", "3"], ["rk4", "2", "6"],
        ["rk4", "4", "12"]]
    status, out, _ = _diagnose(capsys, "--model", str(tied_run / "trials" / "tied_00000"), "--refine", "2",
                               "--json")  # a trial folder of a run works too
    assert status == 0 and json.loads(out)["refinement"][0]["factor"] == 2


@pytest.mark.parametrize("argv, message", [
    (["--refine", "1,2"], r"--refine: refinement needs tied weights \(tie: stage\); .* is untied"),
    (["--refine", "1,x"], r"--refine: expected whole numbers separated by commas"),
    (["--refine", "0"], r"refine: factors must be whole numbers from 1 to 64"),
    (["rk4"], r"--model: diagnoses the trained network's own scheme"),
])
def test_diagnose_model_bad_input_is_one_line_and_exit_2(tied_run, capsys, argv, message):
    import re

    status, out, err = _diagnose(capsys, "--model", str(tied_run / "trials" / "tied_00001"), *argv)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


def test_refine_without_model_is_refused(capsys):
    status, _, err = _diagnose(capsys, "rk4", "--refine", "1,2")
    assert status == 2 and "--refine / --scheme: need --model" in err


def test_converted_torchvision_resnets_refuse_tying_clearly(capsys, tmp_path):
    import torchvision

    from nas.cli import main
    from nas.conversion import convert

    with pytest.raises(ValueError, match=r"convert: tie 'stage': a converted torchvision ResNet keeps each block"):
        convert(torchvision.models.resnet18(weights=None, num_classes=10), "rk4", tie="stage")
    status = main(["convert", "resnet18", "--tie", "stage", "--num-classes", "10", "--stem", "cifar",
                   "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "--tie 'stage'" in err
    assert not (tmp_path / "out").exists()
