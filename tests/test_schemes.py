"""Scheme encodings: validation, exact coefficients, JSON round trips, the registry."""
import json
from fractions import Fraction

import pytest

from nas import schemes
from nas.schemes import ButcherTableau, LinearMultistep, LMResNet


@pytest.mark.parametrize("name", schemes.names())
def test_every_registered_scheme_round_trips_exactly_through_json(name):
    scheme = schemes.get(name)
    text = json.dumps(scheme.to_dict())
    assert schemes.from_dict(json.loads(text)) == scheme


def test_textbook_tableaux_stay_exact_rationals():
    rk4 = schemes.get("rk4")
    assert rk4.b == (Fraction(1, 6), Fraction(1, 3), Fraction(1, 3), Fraction(1, 6))
    assert rk4.c == (0, Fraction(1, 2), Fraction(1, 2), 1)
    assert rk4.is_exact and rk4.stages == 4


def test_c_is_derived_from_the_row_sums_of_A():
    tableau = ButcherTableau(A=[[0, 0, 0], ["1/3", 0, 0], [0.25, 0.5, 0]], b=[0.25, 0.25, 0.5])
    assert tableau.c == (0, Fraction(1, 3), 0.75)
    assert not tableau.is_exact


def test_string_fractions_are_read_exactly():
    tableau = ButcherTableau(A=[[0, 0], ["2/3", 0]], b=["1/4", "3/4"])
    ralston = schemes.get("ralston")
    assert (tableau.A, tableau.b, tableau.c) == (ralston.A, ralston.b, ralston.c)
    assert tableau.A[1][0] == Fraction(2, 3) and isinstance(tableau.A[1][0], Fraction)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(A=[[0, 1], [0, 0]], b=[0.5, 0.5]), r"A\[0\]\[1\].*strictly lower triangular"),
        (dict(A=[[1]], b=[1]), r"A\[0\]\[0\].*strictly lower triangular"),
        (dict(A=[[0, 0], [1, 0]], b=[0.5, 0.6]), r"b: weights must sum to 1"),
        (dict(A=[[0, 0], [1]], b=[0.5, 0.5]), r"A\[1\]: has 1 entries, expected 2"),
        (dict(A=[[0, 0], [1, 0]], b=[1]), r"b: has 1 entries, expected 2"),
        (dict(A=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 0.5]), r"c\[1\].*row sum"),
        (dict(A=[[0, 0], ["x", 0]], b=[0.5, 0.5]), r"A\[1\]\[0\]: cannot read 'x'"),
        (dict(A=[[0, 0], [float("nan"), 0]], b=[0.5, 0.5]), r"A\[1\]\[0\]: must be finite"),
        (dict(A=[], b=[]), r"at least one stage"),
    ],
)
def test_bad_tableaux_raise_value_errors_that_name_the_entry(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ButcherTableau(**kwargs)


def test_nothing_is_silently_corrected_in_a_tableau():
    # b sums to 1 only approximately beyond the float tolerance: rejected, not renormalised.
    with pytest.raises(ValueError, match="sum to 1"):
        ButcherTableau(A=[[0]], b=[1.001])


@pytest.mark.parametrize(
    "alpha, beta, message",
    [
        ([0, -1, 2], [0, 1, 0], r"alpha\[2\].*must be 1"),
        ([0, -1, 1], [0, 1, 1], r"beta\[2\].*must be 0"),
        ([0, -1, 1], [1, 0], r"beta: has 2 entries, expected 3"),
        ([1], [0], r"at least 2 entries"),
        ([-1, 1], [0, 0], r"never evaluates f"),
    ],
)
def test_bad_multistep_methods_raise_value_errors(alpha, beta, message):
    with pytest.raises(ValueError, match=message):
        LinearMultistep(alpha=alpha, beta=beta)


def test_multistep_consistency_is_reported_not_required():
    assert schemes.get("ab2").consistent and schemes.get("ab3").consistent and schemes.get("leapfrog").consistent
    assert schemes.get("lm_resnet", k=0).multistep().consistent
    # LM-ResNet with k != 0: ρ'(1) = 1 + k ≠ σ(1) = 1, consistent with (1+k)u' = f instead.
    lm = schemes.get("lm_resnet", k=Fraction(1, 3)).multistep()
    assert not lm.consistent
    assert lm.alpha == (Fraction(-1, 3), Fraction(-2, 3), 1)


def test_lm_resnet_parameters():
    assert schemes.get("lm_resnet").learn == "layer" and schemes.get("lm_resnet").k is None
    assert schemes.get("lm_resnet", k=0.3) == LMResNet(k=0.3, learn="fixed")
    assert schemes.get("lm_resnet", k=0.1, learn="channel").learned
    with pytest.raises(ValueError, match="learn: must be one of fixed, layer, channel"):
        LMResNet(k=0.1, learn="per_step")
    with pytest.raises(ValueError, match="fixed LM-ResNet needs a value of k"):
        LMResNet(k=None, learn="fixed")


def test_unknown_names_and_families_list_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown scheme 'rk5'; known schemes: euler, midpoint"):
        schemes.get("rk5")
    with pytest.raises(ValueError, match=r"unknown family 'implicit'; known families: runge_kutta"):
        schemes.from_dict({"family": "implicit"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) gamma"):
        schemes.from_dict({"family": "multistep", "alpha": [-1, 1], "beta": [1, 0], "gamma": 1})
    with pytest.raises(ValueError, match=r"bad parameters"):
        schemes.get("rk4", k=1)


def test_schemes_are_immutable():
    with pytest.raises(AttributeError):
        schemes.get("rk4").b = (1,)
