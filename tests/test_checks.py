"""nas.checks: one set of input checks for the value types, and SearchSettings validating itself."""
import dataclasses
import math

import pytest

from nas import checks
from nas.domains import SpaceError
from nas.search.run import _settings
from nas.search.space import SearchSettings, SearchSpace, check_setting, load_space


@pytest.mark.parametrize("check, args, good, normalised", [
    (checks.positive_int, (), 3, 3),
    (checks.int_at_least, (0,), 0, 0),
    (checks.finite_number, (), -2, -2.0),
    (checks.positive_number, (), 0.5, 0.5),
    (checks.step_size, (), 1, 1.0),
    (checks.number_in, (0, 1), 0, 0.0),
    (checks.flag, (), False, False),
    (checks.choice, (("a", "b"),), "b", "b"),
])
def test_checks_normalise_good_values(check, args, good, normalised):
    value = check(good, "x", *args)
    assert value == normalised and type(value) is type(normalised)


@pytest.mark.parametrize("check, args, bad, message", [
    (checks.positive_int, (), 0, "x: must be a positive integer, got 0"),
    (checks.positive_int, (), True, "x: must be a positive integer, got True"),
    (checks.positive_int, (), 2.0, "x: must be a positive integer, got 2.0"),
    (checks.int_at_least, (2,), 1, "x: must be an integer >= 2, got 1"),
    (checks.finite_number, (), math.nan, "x: must be a finite number, got nan"),
    (checks.positive_number, (), 0, "x: must be a positive number, got 0"),
    (checks.step_size, (), math.inf, "x: step size must be a positive number, got inf"),
    (checks.number_in, (0, 1), 1, r"x: must be a number in \[0, 1\), got 1"),
    (checks.flag, (), 1, "x: must be true or false, got 1"),
    (checks.choice, (("a", "b"),), "c", "x: must be one of a, b, got 'c'"),
])
def test_bad_values_are_errors_naming_the_input(check, args, bad, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        check(bad, "x", *args)
    with pytest.raises(SpaceError):  # the space parser's error type
        check(bad, "x", *args, error=SpaceError)


def test_search_settings_validate_themselves():
    with pytest.raises(SpaceError, match="^trials: must be a positive integer, got 0$"):
        SearchSettings(trials=0)
    with pytest.raises(SpaceError, match=r"^objectives\[0\]: must be one of"):
        SearchSettings(objectives=("accuracy",))
    with pytest.raises(SpaceError, match="^seed: must be an integer in 0..4294967295"):
        dataclasses.replace(SearchSettings(), seed=2 ** 32)
    settings = SearchSettings(objectives="val_acc,params", cpus_per_trial=2, time_budget=60)
    assert settings.objectives == ("val_acc", "params") and settings.cpus_per_trial == 2.0
    assert type(settings.cpus_per_trial) is float and settings.time_budget == 60.0


def test_flags_and_space_keys_are_named_in_errors():
    raw = load_space(None).to_dict()
    with pytest.raises(SpaceError, match="^--cpus-per-trial: must be a number in"):
        check_setting("cpus_per_trial", 0, "--cpus-per-trial")
    with pytest.raises(SpaceError, match=r"^space\.yaml: search\.max_failures: must be an integer >= 0, got -1$"):
        SearchSpace.from_dict({**raw, "search": {**raw.get("search", {}), "max_failures": -1}}, source="space.yaml")


def test_flags_are_applied_with_replace():
    space = load_space(None)
    settings = _settings(space, trials=3, sampler="random", scheduler="none", objectives="val_acc,params",
                         seed=7, time_budget=None, address="auto")
    assert (settings.trials, settings.sampler, settings.scheduler, settings.seed) == (3, "random", "none", 7)
    assert settings.objectives == ("val_acc", "params")
    assert settings.grace_period == space.search.grace_period  # untouched settings keep the space's values
    with pytest.raises(ValueError, match="^--time-budget: must be a positive number of seconds, got -1$"):
        _settings(space, time_budget=-1)
