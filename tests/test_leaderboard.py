"""nas.leaderboard: loading runs, ResNet deltas, summaries, Pareto fronts, coefficient analysis, plots.

Run folders here are written by hand (trials.csv, and safetensors weights through numpy), so these tests
exercise the torch-free path the leaderboard promises.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file
from scipy import stats

from nas import leaderboard as lb

EULER = {"family": "runge_kutta", "name": "euler", "A": [[0]], "b": [1], "c": [0]}
HEUN = {"family": "runge_kutta", "name": "heun", "A": [[0, 0], [1, 0]], "b": ["1/2", "1/2"], "c": [0, 1]}
LM = {"family": "lm_resnet", "name": "lm_resnet", "k": None, "learn": "layer"}


def trial(trial_id, scheme, acc, *, params=1000, status="completed", baseline=False, **columns):
    return {"trial_id": trial_id, "family": scheme["family"], "scheme_name": scheme["name"],
            "scheme": json.dumps(scheme), "status": status, "best_val_acc": acc, "val_acc": acc,
            "params": params, "baseline": baseline, "trial_dir": f"trials/{trial_id}", **columns}


def write_run(root, name, rows):
    folder = root / name
    folder.mkdir(parents=True)
    pd.DataFrame([{"run": name, **row} for row in rows]).to_csv(folder / "trials.csv", index=False)
    return folder


def write_learned_k(run_dir, trial_id, steps_per_stage, values):
    """weights.safetensors with LM-ResNet parameters stages.<i>.learned_k.<j> (as nas.networks names them)."""
    folder = run_dir / "trials" / trial_id
    folder.mkdir(parents=True)
    tensors = {f"stages.{i}.learned_k.{j}": np.asarray(v, dtype=np.float32)
               for i, stage in enumerate(values) for j, v in enumerate(stage)}
    tensors["stem.layer.weight"] = np.zeros((4, 1, 3), dtype=np.float32)
    save_file(tensors, str(folder / "weights.safetensors"))
    (folder / "spec.json").write_text(json.dumps({"scheme": LM, "steps_per_stage": steps_per_stage}))


@pytest.fixture
def runs(tmp_path):
    first = write_run(tmp_path, "first", [
        trial("f0", EULER, 0.5, baseline=True, coef_b_0=1.0),
        trial("f1", HEUN, 0.75, params=3000, coef_A_1_0=1.0, coef_b_0=0.5, coef_b_1=0.5),
        trial("f2", LM, 0.625, params=900, coef_k=-0.05),
        trial("f3", HEUN, None, status="diverged", coef_A_1_0=2.0, coef_b_0=0.5, coef_b_1=0.5),
    ])
    second = write_run(tmp_path, "second", [
        trial("s0", EULER, 0.25, baseline=True, coef_b_0=1.0),
        trial("s1", LM, 0.375, params=800, coef_k=0.1),
        trial("s2", LM, 0.125, params=700, status="stopped", coef_k=0.3),
    ])
    write_learned_k(first, "f2", 3, [[-0.1, -0.2], [[0.1, 0.3], [0.2, 0.2]]])
    return first, second


def test_load_reads_runs_into_one_frame_with_deltas_to_resnet(runs):
    frame = lb.load(runs)
    assert list(frame["trial_id"]) == ["f0", "f1", "f2", "f3", "s0", "s1", "s2"]
    assert list(frame["finished"]) == [True, True, True, False, True, True, True]
    assert frame["baseline"].dtype == "boolean"
    # each row against the ResNet baseline of its own run (same budget): first 0.5, second 0.25
    delta = dict(zip(frame["trial_id"], frame["vs_resnet"]))
    assert delta["f1"] == 0.25 and delta["f2"] == 0.125 and delta["f0"] == 0
    assert delta["s1"] == 0.125 and delta["s2"] == -0.125
    assert np.isnan(delta["f3"])


def test_run_names_resolve_under_the_results_root(runs, tmp_path):
    frame = lb.load(["first"], results_root=tmp_path)
    assert set(frame["run"]) == {"first"}


@pytest.mark.parametrize("make_bad, message", [
    (lambda root: root / "missing", "no such run folder"),
    (lambda root: (root / "empty").mkdir() or root / "empty", "not a run folder"),
])
def test_bad_run_folders_are_value_errors(tmp_path, make_bad, message):
    with pytest.raises(ValueError, match=message):
        lb.load([make_bad(tmp_path)])


def test_a_run_given_twice_is_an_error(runs):
    with pytest.raises(ValueError, match="given twice"):
        lb.load([runs[0], runs[0]])


def test_runs_without_finished_trials_are_reported(tmp_path):
    run = write_run(tmp_path, "broken", [trial("b0", HEUN, None, status="error"),
                                         trial("b1", HEUN, None, status="diverged")])
    with pytest.raises(ValueError, match="no finished trial.*error 1, diverged 1"):
        lb.check_runs_have_finished_trials(lb.load([run]))


def test_a_run_without_rows_is_named(runs, tmp_path):
    empty = tmp_path / "fresh"
    empty.mkdir()
    (empty / "trials.csv").write_text("")  # a search that has not finished a trial yet
    frame = lb.load([runs[0], empty])
    with pytest.raises(ValueError, match=f"run {empty}: no finished trial.*none yet"):
        lb.check_runs_have_finished_trials(frame)


def test_sort_uses_the_natural_direction_and_rejects_unknown_columns(runs):
    frame = lb.finished_trials(lb.load(runs))
    assert list(lb.sort_trials(frame)["trial_id"]) == ["f1", "f2", "f0", "s1", "s0", "s2"]
    assert list(lb.sort_trials(frame, "params")["trial_id"])[:2] == ["s2", "s1"]  # cost: ascending
    with pytest.raises(ValueError, match="sort: unknown column 'nope'"):
        lb.sort_trials(frame, "nope")


def test_family_filter(runs):
    frame = lb.load(runs)
    assert set(lb.filter_family(frame, "lm_resnet")["trial_id"]) == {"f2", "s1", "s2"}
    with pytest.raises(ValueError, match="no trials of family 'rk'.*lm_resnet, runge_kutta"):
        lb.filter_family(frame, "rk")


def test_family_summary_separates_baselines(runs):
    summary = lb.family_summary(lb.load(runs)).set_index("family")
    assert summary.loc["lm_resnet", "trials"] == 3
    assert summary.loc["lm_resnet", "best"] == 0.625
    assert summary.loc["lm_resnet", "median"] == 0.375
    assert summary.loc["lm_resnet", "best_trial"] == "f2"
    assert summary.loc["runge_kutta", "trials"] == 2 and summary.loc["runge_kutta", "finished"] == 1
    assert summary.loc["runge_kutta (baseline)", "best"] == 0.5


def test_pareto_front_known_points(runs):
    front = lb.pareto_front(lb.load(runs), "best_val_acc,params")
    # f1 (0.75, 3000) f2 (0.625, 900) s1 (0.375, 800) s2 (0.125, 700) are non-dominated;
    # f0 (0.5, 1000) is dominated by f2 and s0 (0.25, 1000) by f2
    assert list(front["trial_id"]) == ["f1", "f2", "s1", "s2"]


def test_pareto_mask_property_on_random_points():
    values = np.random.default_rng(0).integers(0, 6, size=(60, 3)).astype(float)
    mask = lb.pareto_mask(values)

    def dominates(a, b):
        return (a >= b).all() and (a > b).any()

    for i in range(len(values)):
        dominated = any(dominates(values[j], values[i]) for j in range(len(values)))
        assert mask[i] == (not dominated)
    assert 0 < mask.sum() < len(values)


def test_pareto_objectives_are_checked():
    with pytest.raises(ValueError, match="at least two"):
        lb.parse_objectives("val_acc")
    with pytest.raises(ValueError, match="must be max or min"):
        lb.parse_objectives("val_acc:up,params")
    assert lb.parse_objectives("val_acc,params") == [("val_acc", True), ("params", False)]


def _coefficient_run(root):
    k = np.linspace(-0.5, 0.9, 8)
    acc = 0.5 + 0.3 * k ** 3  # monotone but not linear: Spearman 1, Pearson below 1
    return write_run(root, "coefficients", [trial(f"c{i}", LM, a, coef_k=v) for i, (v, a) in enumerate(zip(k, acc))]), k, acc


def test_coefficient_correlations_match_scipy(tmp_path):
    run, k, acc = _coefficient_run(tmp_path)
    table = lb.coefficient_correlations(lb.load([run]))
    row = table.set_index("coefficient").loc["k"]
    assert row["n"] == 8
    assert row["spearman"] == pytest.approx(stats.spearmanr(k, acc).statistic)
    assert row["pearson"] == pytest.approx(stats.pearsonr(k, acc).statistic)
    assert row["spearman"] == pytest.approx(1.0)
    assert row["note"] == ""  # 8 trials
    few = lb.load([run])
    few = lb.coefficient_correlations(few[few["trial_id"].isin(few["trial_id"].head(4))])
    assert few.set_index("coefficient").loc["k", "note"] == "only 4 trials: weak evidence"


def test_coefficient_bins_have_equal_counts(tmp_path):
    run, k, acc = _coefficient_run(tmp_path)
    bins = lb.coefficient_bins(lb.load([run]), bins=4)
    assert list(bins["n"]) == [2, 2, 2, 2]
    assert list(bins["mean"]) == pytest.approx([acc[2 * i:2 * i + 2].mean() for i in range(4)])
    few = lb.coefficient_bins(lb.load([run]), bins=8)  # as many bins as values: one per value
    assert list(few["bin"]) == [f"{v:g}" for v in k]


def test_learned_coefficients_against_depth_from_the_weights(runs):
    values = lb.read_learned_coefficients(runs[0] / "trials" / "f2")
    # three steps per stage, the learned k belong to steps 1 and 2 of each stage
    assert list(values["depth"]) == [1, 2, 4, 5]
    assert list(values["mean"]) == pytest.approx([-0.1, -0.2, 0.2, 0.2])
    assert list(values["min"]) == pytest.approx([-0.1, -0.2, 0.1, 0.2])
    assert list(values["max"]) == pytest.approx([-0.1, -0.2, 0.3, 0.2])
    table = lb.learned_coefficients(lb.sort_trials(lb.load(runs)), top=3)
    assert set(table["trial_id"]) == {"f2"}  # the only trial with learned coefficients on disk


def test_render_formats(runs):
    frame = lb.display_frame(lb.sort_trials(lb.load(runs)))
    markdown = lb.render(frame, "markdown")
    header, rule, *rows = markdown.splitlines()
    assert [cell.strip() for cell in header.strip("|").split("|")][:3] == ["rank", "run", "trial_id"]
    assert set(rule) <= set("|-: ") and len(rows) == len(frame)
    assert "euler [baseline]" in markdown and "+0.2500" in markdown
    assert "+0.2500" in lb.render(frame, "table")  # f1 reads as 0.25 better than ResNet
    assert pd.read_csv(io.StringIO(lb.render(frame, "csv")))["trial_id"].tolist() == \
        list(frame["trial_id"])
    with pytest.raises(ValueError, match="format"):
        lb.render(frame, "html")


def test_parquet_round_trip(runs, tmp_path):
    frame = lb.load(runs)
    path = lb.write_table(frame, tmp_path / "out" / "board.parquet", "parquet")
    back = pd.read_parquet(path)
    assert list(back.columns) == list(frame.columns)
    assert back["best_val_acc"].equals(frame["best_val_acc"])
    assert [p.name for p in path.parent.iterdir()] == ["board.parquet"]


_TORCH_FREE = """
import sys
from nas import leaderboard as lb
frame = lb.sort_trials(lb.load(sys.argv[1:3]))
paths = lb.write_plots(frame, sys.argv[3], top=3)
print(sorted(p.name for p in paths))
print("torch" in sys.modules)
"""


def test_plots_are_written_without_importing_torch(runs, tmp_path):
    plots = tmp_path / "plots"
    done = subprocess.run([sys.executable, "-c", _TORCH_FREE, *map(str, runs), str(plots)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    names, torch_loaded = done.stdout.strip().splitlines()
    assert torch_loaded == "False"
    assert eval(names) == ["coefficients_lm_resnet.png", "coefficients_runge_kutta.png", "learned_coefficients.png",
                           "pareto.png", "stability_regions.png"]  # no trial records: no history, no curves
    for path in plots.iterdir():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_history_and_learning_curves_are_drawn_from_the_trial_records(runs, tmp_path):
    from nas.leaderboard.plots import plot_history, plot_learning_curves

    first, _ = runs
    frame = lb.load(first)
    for i, row in enumerate(frame.itertuples()):  # records with per-epoch validation and end times
        folder = first / "trials" / row.trial_id
        folder.mkdir(parents=True, exist_ok=True)
        history = [{"epoch": e, "val_acc": 0.1 * e + 0.01 * i} for e in range(1, 4 if i % 2 else 2)]
        (folder / "metrics.json").write_text(json.dumps({"history": history, "started_at": 100.0 + i,
                                                         "ended_at": 110.0 + 5 * i}))
    history = plot_history(frame, tmp_path / "history.png")
    curves = plot_learning_curves(frame, tmp_path / "curves.png")
    for path in (history, curves):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    empty = lb.load(runs[1])  # no records in this run: nothing to draw, no file
    assert plot_history(empty, tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()


def test_vs_resnet_refers_to_the_plain_full_budget_resnet_baseline_only(tmp_path):
    folder = write_run(tmp_path, "ref", [
        trial("b0", EULER, 0.9, baseline=True, status="stopped", noise_kind="none"),  # cut early: not the reference
        trial("b1", EULER, 0.95, baseline=True, noise_kind="stochastic_depth"),  # not a plain ResNet
        trial("s0", EULER, 0.99, noise_kind="none"),  # a sampled euler: not a baseline
        trial("h0", HEUN, 0.8, noise_kind="none"),
    ])
    frame = lb.load([folder])
    assert frame["vs_resnet"].isna().all()  # no plain, completed ResNet baseline in the run
    folder2 = write_run(tmp_path, "ref2", [
        trial("b0", EULER, 0.9, baseline=True, status="stopped", noise_kind="none"),
        trial("b2", EULER, 0.7, baseline=True, noise_kind="none"),
        trial("h0", HEUN, 0.8, noise_kind="none"),
    ])
    frame = lb.load([folder2]).set_index("trial_id")
    assert frame.loc["h0", "vs_resnet"] == pytest.approx(0.1)  # against b2, the completed one, not the better b0


def test_duplicates_are_left_out_and_counted_and_seeds_of_one_architecture_aggregate(tmp_path, capsys):
    from nas.cli import main

    folder = write_run(tmp_path, "dups", [
        trial("a0", HEUN, 0.8, architecture_id="aaa", seed=0),
        trial("a1", HEUN, 0.6, architecture_id="aaa", seed=1),
        trial("a2", HEUN, 0.7, architecture_id="aaa", seed=2),
        trial("d0", HEUN, 0.8, status="duplicate", duplicate_of="a0", architecture_id="aaa", seed=0),
        trial("e0", EULER, 0.75, architecture_id="bbb", seed=0),
    ])
    frame, count = lb.without_duplicates(lb.load([folder]))
    assert count == 1 and "d0" not in set(frame["trial_id"])
    table = lb.aggregate_seeds(lb.sort_trials(frame))
    assert list(table["trial_id"]) == ["a0", "e0"]
    row = table.set_index("trial_id").loc["a0"]
    assert row["seeds"] == 3 and row["best_val_acc_mean"] == pytest.approx(0.7)
    assert row["best_val_acc_std"] == pytest.approx(np.std([0.8, 0.6, 0.7], ddof=1))
    assert np.isnan(table.set_index("trial_id").loc["e0", "best_val_acc_std"])

    assert main(["leaderboard", str(folder), "--all", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    shown = pd.read_csv(io.StringIO(out))
    assert "d0" not in set(shown["trial_id"]) and len(shown) == 2
    assert "1 duplicate trial(s) left out" in err and "4 trials of 2 architectures" in err
