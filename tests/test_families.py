"""The family interface, checked for every family of the registry (optuna-style conformance tests).

Every test here enumerates ``nas.families.registry``: a new family is tested by them without being named.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from memory_checks import gradient_differences, saved_bytes

from nas import schemes
from nas.diagnostics import analyze
from nas.diagnostics.plots import has_stability_region
from nas.families import registry
from nas.families.base import SchemeFamily
from nas.network_kinds import build_network
from nas.networks import STAGES, NetworkSpec
from nas.search import load_space
from nas.search.constraints import scheme_diagnostics, zero_stability_violation
from nas.search.records import coefficient_columns

pytestmark = pytest.mark.usefixtures("one_thread")  # module-scoped, in conftest.py

FAMILIES = registry.names()
NAMES = schemes.names()
ROOT = Path(__file__).resolve().parents[1]


def reversible_names() -> list[str]:
    return [n for n in NAMES if registry.family_of(schemes.get(n)).memory_efficient_reason(schemes.get(n)) is None]


# ------------------------------------------------------------------------------------------ the table

def test_the_table_maps_each_family_name_to_its_family():
    assert FAMILIES[:5] == ["runge_kutta", "multistep", "lm_resnet", "hamiltonian", "leapfrog2"]
    for name, family in registry.FAMILIES.items():
        assert isinstance(family, SchemeFamily) and family.name == name
        assert registry.family(name) is family
    with pytest.raises(TypeError):
        registry.FAMILIES["other"] = registry.FAMILIES["runge_kutta"]  # read-only: no registration from outside


def test_every_family_has_named_schemes_of_its_own_type():
    for family in registry.FAMILIES.values():
        entries = family.named_schemes()
        assert entries
        for entry in entries:
            scheme = entry.build()
            assert isinstance(scheme, family.scheme_type) and scheme.family == family.name == entry.family
            assert registry.family_of(scheme) is family
            assert entry.source and entry.description


def test_unknown_scheme_and_family_errors_list_every_registered_one():
    with pytest.raises(ValueError) as error:
        schemes.get("nope")
    assert str(error.value).endswith(", ".join(NAMES))
    with pytest.raises(ValueError) as error:
        schemes.from_dict({"family": "nope"})
    assert str(error.value).endswith(", ".join(FAMILIES))
    with pytest.raises(TypeError, match="expected a scheme"):
        registry.family_of(object())


def test_networks_have_one_stage_class_for_every_family():
    assert set(STAGES) == set(FAMILIES)


def test_parameters_are_declared_and_checked():
    for name in NAMES:
        entry = schemes.info(name)
        with pytest.raises(ValueError, match="bad parameters"):
            schemes.get(name, no_such_parameter=1)
        for parameter in entry.parameters:
            assert parameter.option.startswith("--") and parameter.help


@pytest.mark.parametrize("command", ["train", "diagnose"])
def test_cli_options_come_from_the_declared_parameters(command, capsys):
    from nas.cli import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    for option, (owners, _) in registry.parameter_owners().items():
        assert option in text and owners[0] in text


# --------------------------------------------------------------------------------- per named scheme

@pytest.mark.parametrize("name", NAMES)
def test_results_hooks_of_every_named_scheme(name):
    scheme = schemes.get(name)
    family = registry.family_of(scheme)
    columns = coefficient_columns(scheme.to_dict())
    assert all(key.startswith("coef_") and (value is None or isinstance(value, float))
               for key, value in columns.items())
    assert isinstance(family.display_name(scheme), str) and family.display_name(scheme)
    diagnostics = scheme_diagnostics(scheme)
    assert set(diagnostics) == {"order", "zero_stable", "error_constant", "error_norm", "real_stability_interval"}
    assert diagnostics["order"] is None or diagnostics["order"] >= 0
    assert isinstance(zero_stability_violation(scheme), float)
    proxy = family.stability_proxy(scheme, name="proxy")
    if proxy is not None and not family.learned_coefficients(scheme):
        assert has_stability_region(analyze(proxy)) and proxy.name == "proxy"
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in family.card_rows(scheme).items())


@pytest.mark.parametrize("name", NAMES)
def test_learned_coefficients_are_parameters_named_as_the_leaderboard_reads_them(name):
    scheme = schemes.get(name)
    learned = registry.family_of(scheme).learned_coefficients(scheme)
    net = build_network(NetworkSpec(scheme=scheme, widths=(4, 8), steps_per_stage=3))
    keys = [k for k in net.state_dict() if ".learned_" in k]
    assert {re.match(r"^stages\.\d+\.learned_(\w+?)\.\d+$", k)[1] for k in keys} == set(learned)
    rows = net.coefficients()
    assert len(rows) == 2 * 3 and all("step" in row and "h" in row for row in rows)
    for coefficient in learned:
        assert any(coefficient in row for row in rows)


def test_a_failed_analysis_is_an_error_that_names_itself(monkeypatch):
    family = registry.family("multistep")

    def broken(scheme, tolerance):
        raise ValueError("no roots today")

    monkeypatch.setattr(family, "analyze", broken)
    with pytest.raises(RuntimeError, match=r"diagnostics of scheme ab2 \(multistep\) failed: ValueError: no roots"):
        scheme_diagnostics(schemes.get("ab2"))


# ---------------------------------------------------------------------- search blocks of every family

@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_is_a_search_option(family):
    raw = {"family": family, "label": "x"}
    if family == "runge_kutta":
        raw["stages"] = 2
    if family == "multistep":
        raw["steps"] = 2
    space = load_space({"scheme": raw, "network": {"widths": [4, 8]}})
    (block,) = space.schemes
    assert block.family == family and block.label == "x"
    with pytest.raises(ValueError, match=f"must be one of named, {', '.join(FAMILIES)}"):
        load_space({"scheme": {"family": "nope"}})


# --------------------------------------------------------------------- memory-efficient mode, for all

def _twins(name, steps=4):
    scheme = schemes.get(name)
    residual = registry.family_of(scheme).paper_residual(scheme)
    spec = NetworkSpec(scheme=scheme, macro="sequence", widths=(4, 8), steps_per_stage=steps, h=0.4,
                       residual=residual)
    torch.manual_seed(3)
    plain = build_network(spec).double()
    efficient = build_network(spec.replace(memory_efficient=True)).double()
    efficient.load_state_dict(plain.state_dict())
    return plain, efficient


@pytest.mark.parametrize("name", reversible_names())
def test_memory_efficient_gradients_equal_plain_autograd_for_every_reversible_scheme(name):
    plain, efficient = _twins(name)
    torch.manual_seed(5)
    x = torch.randn(6, 1, 12, dtype=torch.float64)
    assert max(gradient_differences(plain, efficient, x, torch.randint(0, 10, (6,)))) <= 1e-6


@pytest.mark.parametrize("name", reversible_names())
def test_saved_activations_are_flat_in_depth_for_every_reversible_scheme(name):
    x = torch.randn(4, 1, 12, dtype=torch.float64)
    sizes = {steps: saved_bytes(_twins(name, steps)[1], x) for steps in (4, 16)}
    plain = {steps: saved_bytes(_twins(name, steps)[0], x) for steps in (4, 16)}
    assert sizes[16] == sizes[4] < plain[4] < plain[16]


@pytest.mark.parametrize("name", [n for n in NAMES if n not in reversible_names()])
def test_schemes_without_an_inverse_refuse_the_memory_efficient_mode(name):
    with pytest.raises(ValueError, match="memory_efficient: needs a reversible scheme"):
        build_network(NetworkSpec(scheme=name, widths=(4,), memory_efficient=True))


# --------------------------------------------------------------------------- structure of the package

def test_schemes_and_families_import_without_torch():
    code = ("import sys, nas.schemes as s; [s.get(n) for n in s.names()]; "
            "from nas.families import registry; print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# a family name as a string, or a scheme class (bare words would also catch e.g. SGD's ``momentum``)
FAMILY_MENTION = re.compile(r"[\"'](" + "|".join(FAMILIES) + r")[\"']|\b("
                            + "|".join(f.scheme_type.__name__ for f in registry.FAMILIES.values()) + r")\b")
CONDITIONAL = re.compile(r"\b(if|elif)\b|isinstance\(|==|!=|\bin \(|\bin \[")


def test_no_module_outside_the_families_names_a_family_in_a_conditional():
    # The registry is the one place that knows the families; a family's own module may name itself.
    found = []
    for path in sorted((ROOT / "nas").rglob("*.py")):
        if "families" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if CONDITIONAL.search(code) and FAMILY_MENTION.search(code):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_scheme_json_round_trips_through_the_registry_for_every_family():
    for name in NAMES:
        scheme = schemes.get(name)
        assert schemes.from_dict(json.loads(json.dumps(scheme.to_dict()))) == scheme
