"""Reports: exact JSON round trips, strict from_dict, renderings, and the analyze() entry point."""
from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import pytest
import sympy

from nas import schemes
from nas.diagnostics import Report, RungeKuttaReport, analyze, report_from_dict, values
from nas.diagnostics import report as report_module
from nas.diagnostics.report import CODECS, REPORT_KINDS, report_kinds
from nas.schemes import ButcherTableau, LMResNet


@pytest.mark.parametrize("name", schemes.names())
def test_json_round_trip_is_exact_for_every_registered_scheme(name):
    report = analyze(name)
    data = json.loads(json.dumps(report.to_dict()))
    again = report_from_dict(data)
    assert again == report
    assert again.to_dict() == data
    assert Report.from_dict(data) == report


def test_round_trip_of_float_and_numeric_k_reports():
    for scheme in (ButcherTableau(A=[[0, 0], [0.6, 0]], b=[1 / 6, 5 / 6]), LMResNet(k=0.25, learn="fixed"),
                   LMResNet(k=Fraction(-1, 5), learn="layer")):
        report = analyze(scheme)
        assert report_from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_from_dict_rejects_unknown_keys_and_kinds():
    data = analyze("heun").to_dict()
    with pytest.raises(ValueError, match="unknown key"):
        report_from_dict({**data, "colour": "red"})
    with pytest.raises(ValueError, match="kind"):
        report_from_dict({**data, "kind": "spline"})
    with pytest.raises(ValueError, match="expected a mapping"):
        report_from_dict([1, 2])


def test_report_values_cannot_run_code():
    with pytest.raises(ValueError, match="cannot read"):
        values.parse("__import__('os').system('true')")
    condition = values.parse("(k <= 1) & (-1 < k)")
    assert [bool(condition.subs(values.K, k)) for k in (-1, 0, 1, 2)] == [False, True, True, False]
    assert values.parse("5/12") == sympy.Rational(5, 12)


def test_exact_values_are_sympy_rationals_in_python_and_strings_in_json():
    report = analyze("ab2")
    assert isinstance(report.error_constant, sympy.Rational)
    assert report.to_dict()["error_constant"] == "5/12"


def test_text_and_latex_renderings():
    text = str(analyze("lm_resnet"))
    assert "modified_equation: (k + 1)*u' + (1 - k)/2*h*u'' = f(u) + O(h^2)" in text
    assert "zero_stable: (k <= 1) & (-1 < k)" in text
    latex = analyze("rk4").to_latex()
    assert latex.startswith("\\begin{tabular}") and latex.endswith("\\end{tabular}")
    assert "\\frac{1}{24}" in latex
    assert "u' = f - 1/2*h*f'f + O(h^2)" in str(analyze("euler"))


def test_analyze_accepts_names_and_json_dicts():
    assert analyze("rk4") == analyze(schemes.get("rk4").to_dict()) == analyze(schemes.get("rk4"))


@pytest.mark.parametrize("thing", [3, 2.5, None, object(), [[0]]])
def test_non_scheme_argument_is_a_type_error_naming_what_is_accepted(thing):
    with pytest.raises(TypeError, match="ButcherTableau"):
        analyze(thing)


def test_unknown_name_is_a_value_error():
    with pytest.raises(ValueError, match="unknown scheme"):
        analyze("rk99")


def test_random_schemes_are_analysed_without_crashing():
    # inconsistent, unstable, exact and float schemes alike: a report, never an exception
    import random

    from nas.schemes import LinearMultistep

    rng = random.Random(11)

    def number(exact):
        return Fraction(rng.randint(-9, 9), rng.randint(1, 6)) if exact else rng.uniform(-2, 2)

    for trial in range(40):
        exact = trial % 2 == 0
        if trial % 4 < 2:
            s = rng.randint(1, 4)
            A = [[number(exact) if j < i else 0 for j in range(s)] for i in range(s)]
            b = [number(exact) for _ in range(s - 1)]
            scheme = ButcherTableau(A=A, b=b + [1 - sum(b)])
        else:
            k = rng.randint(1, 3)
            beta = [number(exact) for _ in range(k)]
            beta[0] = beta[0] or 1
            scheme = LinearMultistep(alpha=[number(exact) for _ in range(k)] + [1], beta=beta + [0])
        report = analyze(scheme)
        assert report.order >= 0 and report.arithmetic == ("exact" if scheme.is_exact else "float")
        assert report_from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_a_repeated_report_kind_is_an_error():
    @dataclasses.dataclass(frozen=True)
    class AnotherRungeKuttaReport(RungeKuttaReport):
        pass  # inherits kind "runge_kutta"

    with pytest.raises(ValueError, match="'runge_kutta': both RungeKuttaReport and AnotherRungeKuttaReport"):
        report_kinds(RungeKuttaReport, AnotherRungeKuttaReport)
    # defining the subclass registered nothing: the table is the explicit one
    assert REPORT_KINDS["runge_kutta"] is RungeKuttaReport
    assert list(REPORT_KINDS) == ["runge_kutta", "multistep", "reversible", "noise", "network"]


def test_every_report_field_names_a_codec_of_the_one_table():
    for cls in (Report, *REPORT_KINDS.values()):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("codec", "math") in CODECS, (cls.__name__, f.name)
    with pytest.raises(ValueError, match="codec: must be one of"):
        dataclasses.field(metadata=report_module._codec("fraction"))
