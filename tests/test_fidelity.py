"""nas.fidelity: the leaderboard compares trials at equal training budget by default."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from nas import fidelity
from nas import leaderboard as lb
from test_leaderboard import EULER, HEUN, trial, write_run


def rk2(trial_id, a, acc, *, status="completed", epochs=4, history=None, **columns):
    scheme = {**HEUN, "name": f"rk_{trial_id}", "A": [[0, 0], [a, 0]], "c": [0, a]}
    return trial(trial_id, scheme, acc, status=status, epochs_run=epochs, coef_A_1_0=a, **columns), history


def make(tmp_path, name, entries, epochs=4):
    folder = write_run(tmp_path, name, [row for row, _ in entries])
    (folder / "search.json").write_text(json.dumps({"train": {"epochs": epochs}}))
    for row, history in entries:
        trial_dir = folder / row["trial_dir"]
        trial_dir.mkdir(parents=True)
        (trial_dir / "metrics.json").write_text(json.dumps({"trial_id": row["trial_id"], "run": name,
                                                            "status": row["status"], "history": history or []}))
    return folder


def history(*accs):
    return [{"epoch": i + 1, "val_acc": acc, "val_loss": 1.0 - acc} for i, acc in enumerate(accs)]


@pytest.fixture
def mixed(tmp_path):
    # Completed trials' accuracy falls with a; the stopped ones (2 epochs) are low whatever a is, so mixing
    # budgets would change the correlation.
    return make(tmp_path, "mixed", [
        rk2("c0", 0.2, 0.9), rk2("c1", 0.5, 0.8), rk2("c2", 0.8, 0.7),
        rk2("s0", 0.1, 0.3, status="stopped", epochs=2), rk2("s1", 0.9, 0.35, status="stopped", epochs=2),
        (trial("b0", EULER, 0.75, baseline=True, epochs_run=4, noise_kind="none"), None),
    ])


def test_default_coefficient_view_uses_only_full_budget_trials_and_says_so(mixed, capsys):
    from nas.cli import main

    assert main(["leaderboard", str(mixed), "--view", "coefficients", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    table = pd.read_csv(io.StringIO(out)).set_index("coefficient")
    assert table.loc["A_1_0", "n"] == 3 and table.loc["A_1_0", "spearman"] == pytest.approx(-1.0)
    assert str(table.loc["A_1_0", "budget"]) == "4"
    assert "comparing the 4 trials that ran the full budget of 4 epochs" in err
    assert "2 finished trial(s) stopped earlier left out" in err

    assert main(["leaderboard", str(mixed), "--view", "coefficients", "--format", "csv", "--all-budgets"]) == 0
    out, err = capsys.readouterr()
    table = pd.read_csv(io.StringIO(out)).set_index("coefficient")
    assert table.loc["A_1_0", "n"] == 5 and table.loc["A_1_0", "budget"] == "2-4"
    assert "all budgets" in err


def test_trials_view_shows_the_budget_and_plots_draw_stopped_trials(mixed, tmp_path, capsys):
    from nas.cli import main

    assert main(["leaderboard", str(mixed), "--format", "csv", "--all-budgets", "--columns",
                 "trial_id,status,budget"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr()[0])).set_index("trial_id")
    assert table.loc["s0", "budget"] == 2 and table.loc["c0", "budget"] == 4
    frame, _ = fidelity.equal_budget(lb.load([mixed]), all_budgets=True)
    paths = lb.write_plots(frame, tmp_path / "plots")
    assert {p.name for p in paths} >= {"pareto.png", "coefficients_runge_kutta.png"}


def test_fewer_than_two_full_trials_compare_everyone_at_the_common_rung(tmp_path):
    folder = make(tmp_path, "rung", [
        rk2("c0", 0.2, 0.9, history=history(0.5, 0.6, 0.85, 0.9)),
        rk2("s0", 0.5, 0.7, status="stopped", epochs=2, history=history(0.7, 0.65)),
        rk2("s1", 0.8, 0.55, status="stopped", epochs=3, history=history(0.4, 0.45, 0.55)),
        rk2("s2", 0.9, 0.5, status="stopped", epochs=3, history=None),  # no history: left out
    ])
    frame, notes = fidelity.equal_budget(lb.load([folder]))
    frame = frame.set_index("trial_id")
    assert sorted(frame.index) == ["c0", "s0", "s1"]
    assert (frame["budget"] == 2).all()
    assert frame.loc["c0", "best_val_acc"] == pytest.approx(0.6)  # best over epochs 1..2, not the final 0.9
    assert frame.loc["s1", "best_val_acc"] == pytest.approx(0.45) and frame.loc["s1", "val_acc"] == 0.45
    assert frame.loc["s0", "best_val_acc"] == pytest.approx(0.7)
    assert len(notes) == 1 and "at epoch 2" in notes[0] and "1 without a per-epoch history left out" in notes[0]


def test_rank_architectures_distinct_no_duplicates_no_baselines(tmp_path):
    folder = make(tmp_path, "rank", [
        rk2("a0", 0.2, 0.9, architecture_id="A", seed=0), rk2("a1", 0.2, 0.5, architecture_id="A", seed=1),
        rk2("b0", 0.5, 0.8, architecture_id="B", seed=0),
        rk2("d0", 0.5, 0.8, status="duplicate", architecture_id="B", duplicate_of="b0"),
        rk2("s0", 0.7, 0.99, status="stopped", epochs=2, architecture_id="C"),
        (trial("e0", EULER, 0.95, baseline=True, epochs_run=4, architecture_id="E"), None),
    ])
    ranked = fidelity.rank_architectures(lb.load([folder]))
    assert list(ranked["architecture_id"]) == ["B", "A"]  # by the mean over seeds: B 0.8 > A 0.7
    assert list(ranked["seeds"]) == [1, 2] and ranked["best_val_acc_mean"].iloc[1] == pytest.approx(0.7)
    assert list(fidelity.rank_architectures(lb.load([folder]), 1)["architecture_id"]) == ["B"]
    with pytest.raises(ValueError, match="top: must be a positive integer"):
        fidelity.rank_architectures(lb.load([folder]), 0)
    assert np.isnan(ranked["best_val_acc_std"].iloc[0])


REFERENCE_RUNS = ("reference", "reference_deep", "tied")  # committed under results/reference/


@pytest.mark.parametrize("name", REFERENCE_RUNS)
def test_export_top_evaluate_and_the_leaderboard_rank_alike(name, capsys):
    """One ranking (issue 22): ``leaderboard_ranking`` (what ``nas export --top`` exports) is the order of
    ``nas leaderboard RUN``, baselines included; without the baselines it is the order ``nas evaluate``
    retrains (``rank_architectures``). The committed runs mix stopped trials, baselines and reseeded ones."""
    from pathlib import Path

    from nas.cli import main

    run = Path(__file__).resolve().parents[1] / "results" / "reference" / name
    frame = lb.load([run])
    ranked = fidelity.leaderboard_ranking(frame)
    assert main(["leaderboard", str(run), "--format", "csv"]) == 0
    board = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"trial_id": str})
    assert list(ranked["trial_id"]) == list(board["trial_id"]) and len(ranked) > 10
    searched = ranked[~ranked["baseline"].astype(bool)]
    assert list(searched["trial_id"]) == list(fidelity.rank_architectures(frame)["trial_id"])
    assert len(searched) < len(ranked)  # the baselines are ranked by the leaderboard, not by nas evaluate
