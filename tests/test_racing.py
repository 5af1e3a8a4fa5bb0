"""The racing policy (nas.search.racing) on synthetic per-seed scores: no training."""
from __future__ import annotations

import pickle

import pytest

from nas.search.racing import Race, RaceSettings, parse_race


def race(max_seeds=4, share=1.0, first=0, started=100) -> Race:
    state = Race.of(RaceSettings(max_seeds=max_seeds, share=share), first)
    state.started(started)
    return state


def test_seed_list_starts_at_the_run_seed_and_settings_are_checked():
    assert RaceSettings(max_seeds=4).seeds(7) == (7, 8, 9, 10)
    assert parse_race(True) == RaceSettings() and parse_race(False) is None and parse_race(None) is None
    assert parse_race({"max_seeds": 8, "share": 0.25}) == RaceSettings(8, 0.25)
    for raw, message in (({"max_seeds": 1}, r"race.max_seeds: must be a whole number from 2 to 32"),
                         ({"share": 0}, r"race.share: must be a number in \(0, 1\]"),
                         ({"seeds": 3}, r"race: unknown key\(s\) seeds"), ("yes", r"race: expected true, false")):
        with pytest.raises(ValueError, match=message):
            parse_race(raw)


def test_an_undominated_challenger_doubles_its_seeds_up_to_max_seeds_on_the_next_seeds_of_the_list():
    state = race(max_seeds=8, first=10)
    state.record("a", 10, 0.90)
    assert state.next_runs() == [("a", 11)]  # 1 -> 2
    assert state.next_runs() == []  # nothing more while a run is pending
    state.record("a", 11, 0.91)
    assert sorted(state.next_runs()) == [("a", 12), ("a", 13)]  # 2 -> 4
    for seed, value in ((12, 0.9), (13, 0.92)):
        state.record("a", seed, value)
    assert sorted(state.next_runs()) == [("a", 14), ("a", 15), ("a", 16), ("a", 17)]  # 4 -> 8 = max_seeds
    for seed in range(14, 18):
        state.record("a", seed, 0.9)
    assert state.next_runs() == []  # raced to max_seeds


def test_a_challenger_worse_than_the_incumbent_on_shared_seeds_is_stopped_for_good():
    state = race()
    for seed, value in enumerate((0.90, 0.92)):
        state.record("incumbent", seed, value)
    state.record("challenger", 0, 0.95)  # better on seed 0: a contender
    assert ("challenger", 1) in state.next_runs()
    state.record("challenger", 1, 0.80)  # mean over seeds 0-1: 0.875 < 0.91 (paired on the same seeds)
    assert state.dominated("challenger") and "challenger" in state.rejected
    state.record("challenger", 2, 0.99)  # a late result does not revive it
    assert all(a != "challenger" for a, _ in state.next_runs())
    state.record("weak", 0, 0.85)  # below the incumbent's seed 0 (0.90) at once: never raced
    assert "weak" in state.rejected


def test_the_incumbent_has_the_most_seeds_then_the_best_mean_and_baselines_count_but_are_never_scheduled():
    state = race(max_seeds=2)
    state.baseline("resnet")
    for seed, value in ((0, 0.9), (1, 0.9)):
        state.record("resnet", seed, value)
    state.record("lucky", 0, 0.97)
    assert state.incumbent() == "resnet"  # 2 seeds beat 1 seed, however high
    assert state.next_runs() == [("lucky", 1)]
    state.record("lucky", 1, 0.70)  # 0.835 < 0.9 paired: a baseline can reject a challenger
    assert "lucky" in state.rejected and state.incumbent() == "resnet"
    state.record("resnet", 0, 0.1)  # a baseline is never rejected, nor scheduled
    assert "resnet" not in state.rejected and state.next_runs() == []


def test_re_runs_stay_within_their_share_of_the_trials_started():
    state = race(max_seeds=4, share=0.25, started=0)
    for i in range(4):
        state.started()
        state.record(f"arch{i}", 0, 0.9)  # a four-way tie on seed 0: none dominated, all contenders
    runs = state.next_runs()  # floor(0.25 * 4) = 1 re-run allowed
    assert len(runs) == 1 and runs[0][1] == 1
    state.started(4)  # 8 trials: 2 re-runs allowed in all, 1 used
    assert len(state.next_runs()) == 1
    assert state.reruns_scheduled <= 0.25 * state.trials_started
    for _ in range(20):  # whatever happens, re-runs never exceed the share of trials started
        state.started()
        state.next_runs()
        assert state.reruns_scheduled <= 0.25 * state.trials_started


def test_ranking_puts_fully_raced_architectures_first_and_reports_mean_and_std():
    state = race(max_seeds=2)
    state.record("single", 0, 0.99)
    for seed, value in ((0, 0.9), (1, 0.94)):
        state.record("raced", seed, value)
    rows = state.ranking()
    assert [r["architecture_id"] for r in rows] == ["raced", "single"]
    assert rows[0]["fully_raced"] and rows[0]["n"] == 2 and rows[0]["mean"] == pytest.approx(0.92)
    assert rows[0]["std"] == pytest.approx(0.0282842712, rel=1e-6)


def test_forgotten_and_non_finite_results_free_the_seed_and_the_state_pickles():
    state = race()
    state.record("a", 0, 0.9)
    assert state.next_runs() == [("a", 1)]
    state.forget("a", 1)  # stopped or failed: scheduled again
    assert state.next_runs() == [("a", 1)]
    state.record("a", 1, float("nan"))  # diverged: not a result
    assert state.finished("a") == {0: 0.9}
    assert pickle.loads(pickle.dumps(state)) == state
