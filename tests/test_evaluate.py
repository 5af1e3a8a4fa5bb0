"""``nas evaluate``: the final evaluation of a run (tiny MNIST-1D runs from ``run_folders.make_run``: 2
architectures x 2 seeds x 2 epochs). In-process evaluations share the session's Ray; the kill / interrupt
tests run ``nas evaluate`` as a subprocess, as a user would.
"""
from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from driver_control import signal_when
from hostile import plant_torch_pickle, snapshot
from run_folders import DATA, make_run, set_metric
from scipy import stats

from nas.cli import main

ROOT = Path(__file__).resolve().parents[1]
FRESH = [1001, 1002]  # the evaluation seeds of tiny_run: from 1000 up, 1000 skipped (rk4 trained it)
CSV_COLUMNS = ["architecture_id", "label", "role", "scheme_name", "source_trial_id", "search_rank",
               "search_best_val_acc", "seed", "status", "test_acc", "test_loss", "best_val_acc", "final_val_acc",
               "epochs_run", "params", "flops", "train_time", "resumed_from_epoch", "job_dir"]


def tiny_run(root, name, *, baseline=True, data=DATA, epochs=2):
    """heun (forced rank 1, seed 0), rk4 and, optionally, the plain ResNet baseline (seed 2). rk4 trained seed
    1000, the first default evaluation seed, so an evaluation takes fresh seeds 1001, 1002."""
    trials = [{"scheme": "heun", "seed": 0}, {"scheme": "rk4", "seed": 1000}] + \
        ([{"scheme": "euler", "baseline": True, "seed": 2}] if baseline else [])
    run = make_run(root, name, trials, data=data, epochs=epochs)
    set_metric(run, f"{name}_00000", best_val_acc=0.9)
    set_metric(run, f"{name}_00001", best_val_acc=0.8)
    return run


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, ray_session, one_thread):
    from nas.evaluation import evaluate

    root = tmp_path_factory.mktemp("results")
    run = tiny_run(root, "tiny")
    before = snapshot(run / "trials") | snapshot(run / "trials.csv")
    result = evaluate(run, top=1, seeds=2, progress=False)
    return run, result, before


def test_evaluation_csv_and_json_have_the_documented_columns_and_statistics(evaluated):
    run, result, before = evaluated
    frame = pd.read_csv(run / "evaluation.csv", dtype={"architecture_id": str})
    assert list(frame.columns) == CSV_COLUMNS
    assert len(frame) == 4 and set(frame["status"]) == {"completed"} and (frame["epochs_run"] == 2).all()
    assert sorted(zip(frame["label"], frame["seed"])) == [("baseline_euler", 1001), ("baseline_euler", 1002),
                                                          ("rank1", 1001), ("rank1", 1002)]
    assert set(frame[frame["label"] == "rank1"]["scheme_name"]) == {"heun"}
    assert set(frame[frame["label"] == "rank1"]["source_trial_id"]) == {"tiny_00000"}
    assert frame["test_acc"].between(0, 1).all() and (frame["params"] > 0).all() and (frame["flops"] > 0).all()
    assert snapshot(run / "trials") | snapshot(run / "trials.csv") == before  # the run's trials untouched

    document = json.loads((run / "evaluation.json").read_text())
    assert document["complete"] and document["seeds"] == FRESH and document["epochs"] == 2
    assert document["resnet"]["label"] == "baseline_euler"
    entries = {entry["label"]: entry for entry in document["architectures"]}
    assert set(entries) == {"rank1", "baseline_euler"}
    resnet = frame[frame["label"] == "baseline_euler"].set_index("seed")["test_acc"]
    for label, entry in entries.items():
        accs = frame[frame["label"] == label].set_index("seed")["test_acc"]
        assert entry["test_acc"] == pytest.approx({"mean": accs.mean(), "std": accs.std(ddof=1), "min": accs.min(),
                                                   "max": accs.max(), "n": 2})
        assert entry["params"] == frame[frame["label"] == label]["params"].iloc[0]
        assert entry["train_time"]["total"] == pytest.approx(frame[frame["label"] == label]["train_time"].sum())
    assert entries["baseline_euler"]["vs_resnet"] is None
    vs = entries["rank1"]["vs_resnet"]
    accs = frame[frame["label"] == "rank1"].set_index("seed")["test_acc"]
    interval = stats.ttest_rel(accs.loc[FRESH], resnet.loc[FRESH]).confidence_interval(0.95)
    if np.isnan(interval.low):  # equal differences: the interval collapses to the mean
        assert vs["ci_low"] == pytest.approx(vs["mean"]) == pytest.approx(vs["ci_high"])
    else:
        assert (vs["ci_low"], vs["ci_high"]) == pytest.approx((interval.low, interval.high))
    assert vs["mean"] == pytest.approx((accs - resnet).mean()) and vs["n"] == 2 and vs["seeds"] == FRESH


def search_pairs(run: Path) -> set:
    """(architecture_id, seed) of every folder under ``run/trials``, as they were trained."""
    from nas.search.identity import architecture_id

    pairs = set()
    for folder in (run / "trials").iterdir():
        spec, train = (json.loads((folder / name).read_text()) for name in ("spec.json", "train_config.json"))
        pairs.add((architecture_id(spec, train), train["seed"]))
    return pairs


def test_the_evaluation_never_trains_an_architecture_and_seed_that_the_search_trained(evaluated):
    run, result, _ = evaluated
    trained = search_pairs(run)
    # What the evaluation trained: its pair folders have a trial folder's layout (spec.json, train_config.json).
    evaluated_pairs = search_pairs(run / "evaluation")
    assert evaluated_pairs == set(zip(result.rows["architecture_id"], result.rows["seed"].astype(int)))
    rank1 = result.rows[result.rows["label"] == "rank1"]["architecture_id"].iloc[0]
    assert (rank1, 0) in trained  # the search trained the evaluated rank 1 with seed 0 ...
    assert not evaluated_pairs & trained  # ... and the evaluation none of the search's pairs
    assert not {seed for _, seed in evaluated_pairs} & {seed for _, seed in trained}  # nor any of its seeds

    document = json.loads((run / "evaluation.json").read_text())
    rule = document["seed_rule"]
    assert {k: rule[k] for k in ("rule", "chosen_by", "first_seed", "skipped", "search_seeds")} == {
        "rule": "fresh", "chosen_by": "default", "first_seed": 1000, "skipped": [1000],
        "search_seeds": [0, 2, 1000]}
    assert "from 1000 up, skipping 1000" in rule["description"]
    plan = json.loads((run / "evaluation" / "plan.json").read_text())
    assert plan["seeds"] == FRESH and plan["seed_rule"] == rule  # what a resumed evaluation keeps


def test_evaluation_json_reports_how_well_the_search_predicted_it(evaluated):
    run, result, _ = evaluated
    prediction = json.loads((run / "evaluation.json").read_text())["search_prediction"]
    rank1 = next(e for e in result.summary["architectures"] if e["label"] == "rank1")
    # One searched architecture (--top 1): no rank correlation, and the reason is recorded.
    assert prediction["spearman"] is None and prediction["n"] == 1 and prediction["labels"] == ["rank1"]
    assert "needs at least 3" in prediction["note"]
    assert prediction["optimism"]["label"] == "rank1" and prediction["optimism"]["search_best_val_acc"] == 0.9
    assert prediction["optimism"]["value"] == pytest.approx(0.9 - rank1["test_acc"]["mean"])


def test_test_accuracy_is_the_saved_final_model_on_the_test_split(evaluated):
    from nas.data import load_dataset
    from nas.export import read_model
    from nas.network_kinds import build_network
    from nas.train import evaluate as score

    run, _, _ = evaluated
    frame = pd.read_csv(run / "evaluation.csv", dtype={"architecture_id": str})
    data = load_dataset(**DATA)
    for row in frame.itertuples():
        spec, weights = read_model(run / "evaluation" / row.job_dir, "job")
        model = build_network(spec)
        model.load_state_dict(weights)
        assert score(model, data.test)["acc"] == pytest.approx(row.test_acc)
        assert score(model, data.val)["acc"] == pytest.approx(row.final_val_acc)


def test_same_seed_same_test_accuracy_and_a_plain_resnet_is_added_when_the_run_has_none(evaluated, tmp_path):
    from nas.evaluation import evaluate

    run, _, _ = evaluated
    other = tiny_run(tmp_path, "nobase", baseline=False)
    result = evaluate(other, top=1, seeds=2, progress=False)
    document = result.summary
    assert document["resnet"]["label"] == "resnet_reference" and "no plain ResNet baseline" in \
        document["resnet"]["source"]
    reference = next(e for e in document["architectures"] if e["label"] == "resnet_reference")
    assert reference["role"] == "reference" and reference["spec"]["scheme"]["name"] == "euler"
    assert reference["spec"]["noise"] is None

    # The same architectures (heun, and the plain ResNet of the same shape) and seeds, trained in two separate
    # evaluations, give identical test accuracies.
    first = pd.read_csv(run / "evaluation.csv", dtype={"architecture_id": str}).set_index(["architecture_id", "seed"])
    second = result.rows.set_index(["architecture_id", "seed"])
    assert set(first.index) == set(second.index)
    for key in first.index:
        assert second.loc[key, "test_acc"] == first.loc[key, "test_acc"]
        assert second.loc[key, "test_loss"] == first.loc[key, "test_loss"]


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("fresh")
    return tiny_run(root, "fresh")


@pytest.mark.parametrize("flags, message", [
    (["--top", "0"], "--top: must be an integer >= 1"),
    (["--seeds", "1"], "--seeds: must be an integer >= 2"),
    (["--epochs", "0"], "--epochs: must be an integer >= 1"),
    (["--cpus-per-trial", "0"], "--cpus-per-trial: must be a positive number"),
    (["--cpus-per-trial", "1000"], "--cpus-per-trial: 1000 requested but this machine has"),
    (["--gpus-per-trial", "-1"], "--gpus-per-trial"),
    (["RUN=nope"], "run 'nope': no such run folder"),
    (["--seed-list", "1001,0"], "--seed-list: seed 0 was trained by a trial of the search"),
    (["--seed-list", "1001,1000"], "--seed-list: seed 1000 was trained by a trial of the search"),
    (["--seed-list", "1001,1001"], "--seed-list: seed 1001 is listed twice"),
    (["--seed-list", "1001,x"], "--seed-list: expected comma-separated integers, got '1001,x'"),
    (["--seed-list", "1001"], "--seed-list: at least 2 seeds"),
    (["--seed-list", "1001,1002", "--seeds", "3"], "--seeds: 3 does not match the 2 seeds of --seed-list"),
    (["--seed-list", "1001,1002", "--first-seed", "5"], "give either --seed-list or --first-seed, not both"),
    (["--first-seed", "-1"], "--first-seed: must be an integer in 0..4294967295"),
])
def test_bad_input_is_one_line_exit_2_and_creates_nothing(fresh_run, flags, message, capsys):
    root = fresh_run.parent
    run = flags[0].split("=", 1)[1] if flags[0].startswith("RUN=") else "fresh"
    flags = [f for f in flags if not f.startswith("RUN=")]
    before = snapshot(root)
    assert main(["evaluate", run, "--results-root", str(root), *flags]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("nas evaluate: error: ") and message in err[0], err
    assert snapshot(root) == before


# ------------------------------------------------------------------------------ fresh seeds, no training
def test_fresh_seeds_count_up_from_the_first_and_skip_every_seed_the_search_trained():
    from nas.evaluation.seeds import choose, fresh_seeds

    assert fresh_seeds(3, {5, 1000, 1002}) == ([1001, 1003, 1004], [1000, 1002])
    assert fresh_seeds(2, set(), first=7) == ([7, 8], [])
    seeds, rule = choose(None, None, None, {0, 1, 1000}, default_count=5, minimum=2)
    assert seeds == [1001, 1002, 1003, 1004, 1005] and rule["skipped"] == [1000]
    assert rule["search_seeds"] == [0, 1, 1000] and rule["chosen_by"] == "default"
    seeds, rule = choose(None, [7, 3], None, {0, 1000}, default_count=5, minimum=2)
    assert seeds == [7, 3] and rule["chosen_by"] == "--seed-list" and rule["first_seed"] is None
    with pytest.raises(ValueError, match=r"^--first-seed: 4294967295 leaves fewer than 2 seeds"):
        fresh_seeds(2, set(), first=2**32 - 1)


def test_the_search_seeds_are_read_from_trials_csv_and_from_every_trial_folder(fresh_run, tmp_path):
    from nas.evaluation.seeds import search_seeds

    assert search_seeds(fresh_run) == {0, 1000, 2}
    run = tmp_path / "copy"
    shutil.copytree(fresh_run, run)
    set_metric(run, "fresh_00000", seed=float("nan"))  # a row without a seed: its folder still has it
    (run / "trials" / "forgotten").mkdir()  # a trial with a folder and no row (Ray Tune forgot it)
    (run / "trials" / "forgotten" / "train_config.json").write_text(json.dumps({"seed": 77}))
    set_metric(run, "fresh_00001", seed=5)  # the table and the folder disagree: both seeds count
    assert search_seeds(run) == {0, 5, 1000, 2, 77}
    (run / "trials" / "forgotten" / "train_config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"^trials/forgotten/train_config\.json: "):
        search_seeds(run)


def test_the_api_refuses_a_seed_list_the_search_trained_and_writes_nothing(fresh_run):
    from nas.evaluation import evaluate

    before = snapshot(fresh_run.parent)
    with pytest.raises(ValueError, match=r"^--seed-list: seed 2 was trained by a trial of the search"):
        evaluate(fresh_run, seed_list=[1001, 2], progress=False)
    with pytest.raises(ValueError, match=r"^--seed-list: expected a list of integers, got 5$"):
        evaluate(fresh_run, seed_list=5, progress=False)
    assert snapshot(fresh_run.parent) == before


# The synthetic evaluation: searched architectures A (rank 1) .. D with hand-chosen search scores and per-seed
# test accuracies, and a baseline whose scores would change the correlation if it were (wrongly) counted.
SEARCH = {"A": 0.95, "B": 0.94, "C": 0.93, "D": 0.92, "base": 0.91}
TESTS = {"A": (0.89, 0.91), "B": (0.91, 0.93), "C": (0.90, 0.92), "D": (0.88, 0.90), "base": (0.99, 0.99)}


def synthetic_evaluation(labels) -> dict:
    from nas.evaluation.summary import COLUMNS, summarise

    candidates, rows = [], []
    for rank, label in enumerate(labels, 1):
        role = "baseline" if label == "base" else "searched"
        candidates.append({"architecture_id": label, "label": label, "role": role, "scheme_name": "euler",
                           "source_trial_id": label, "search_rank": None if role == "baseline" else rank,
                           "search_best_val_acc": SEARCH[label], "spec": {}})
        for seed, acc in zip((1000, 1001), TESTS[label]):
            rows.append({**{k: candidates[-1][k] for k in ("architecture_id", "label", "role", "scheme_name",
                                                            "source_trial_id", "search_rank",
                                                            "search_best_val_acc")},
                         "seed": seed, "status": "completed", "test_acc": acc, "test_loss": 0.1,
                         "best_val_acc": acc, "final_val_acc": acc, "epochs_run": 1, "params": 10, "flops": 10,
                         "train_time": 1.0, "resumed_from_epoch": 0, "job_dir": f"trials/{label}_seed{seed}"})
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return summarise(frame, candidates, {"label": "base", "source": "test"}, run="synthetic", seeds=[1000, 1001],
                     epochs=1, complete=True, wall_time=None)


def test_spearman_and_optimism_have_the_hand_computed_values():
    # Test means A 0.90, B 0.92, C 0.91, D 0.89. Ranks (1 = lowest): search D1 C2 B3 A4, test D1 A2 C3 B4;
    # d = (2, -1, -1, 0), sum d^2 = 6, rho = 1 - 6 * 6 / (4 * (4^2 - 1)) = 0.4 (Spearman's formula without ties).
    document = synthetic_evaluation(["A", "B", "C", "D", "base"])
    prediction = document["search_prediction"]
    assert prediction["spearman"] == pytest.approx(0.4) and prediction["n"] == 4
    assert prediction["labels"] == ["A", "B", "C", "D"]  # the baseline is not the search's choice
    assert "fewer than 5" in prediction["note"]
    # The pick's optimism: A's search score 0.95 minus its test mean 0.90, as fractions (5 accuracy points).
    assert prediction["optimism"]["label"] == "A" and prediction["optimism"]["value"] == pytest.approx(0.05)
    assert prediction["optimism"]["test_mean"] == pytest.approx(0.90)

    # Three: search C1 B2 A3, test A1 C2 B3; d = (2, -1, -1), rho = 1 - 6 * 6 / (3 * 8) = -0.5.
    assert synthetic_evaluation(["A", "B", "C", "base"])["search_prediction"]["spearman"] == pytest.approx(-0.5)
    # Two: no correlation, and why.
    two = synthetic_evaluation(["A", "B", "base"])["search_prediction"]
    assert two["spearman"] is None and two["n"] == 2 and "needs at least 3" in two["note"]
    assert two["optimism"]["value"] == pytest.approx(0.05)


def test_the_evaluation_view_and_the_printed_summary_state_the_prediction_and_the_seed_rule(tmp_path):
    from nas.evaluation.summary import format_summary
    from nas.leaderboard.analysis import evaluation_notes

    document = synthetic_evaluation(["A", "B", "C", "D", "base"])
    notes = evaluation_notes(document)
    assert notes[1] == ("search vs evaluation: Spearman rho +0.40 between search val. acc. and test mean over 4 "
                        "searched architectures (only 4 architectures, fewer than 5: rho takes few values and is weak "
                        "evidence either way)")
    assert notes[2] == ("optimism of the search's pick (A): search val. acc. 0.9500 - test mean 0.9000 = "
                        "+0.0500 (+5.00 accuracy points)")
    assert notes[0].startswith("seeds: seeds 0..N-1")  # this synthetic document records no seed rule
    assert format_summary(document).splitlines()[-3:] == notes
    # A document from before these were recorded (the committed reference runs) says so, nothing more.
    assert evaluation_notes({"seeds": [0, 1]})[1].startswith("search vs evaluation: not recorded")


def test_an_evaluated_run_is_not_evaluated_again_without_resume(evaluated, capsys):
    run, _, _ = evaluated
    before = snapshot(run)
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "already holds an evaluation" in err[0] and "--resume" in err[0]
    assert main(["evaluate", str(run), "--resume", "--seeds", "3"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["nas evaluate: error: --resume: the evaluation was started with --seeds 2; a resumed "
                   "evaluation keeps its settings"]
    # Its seeds too: those recorded at its start.
    assert main(["evaluate", str(run), "--resume", "--seed-list", "5,6", "--first-seed", "7"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["nas evaluate: error: --resume: the evaluation was started with --first-seed 1000, --seed-list "
                   "1001,1002; a resumed evaluation keeps its settings"]
    assert snapshot(run) == before


# ------------------------------------------------------------------------------ kill, interrupt, resume
# 2,000 samples and 6 epochs: slow enough (about a second per pair) to stop a pair midway.
SLOW_DATA = {"name": "mnist1d", "seed": 0, "num_samples": 2000}
EPOCHS = "6"


def env() -> dict:
    return {**os.environ, "MPLBACKEND": "Agg", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def job_metrics(run: Path) -> dict:
    out = {}
    for path in (run / "evaluation" / "trials").glob("*/metrics.json"):
        try:
            out[path.parent.name] = json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    return out


def one_done_one_midway(run: Path) -> bool:
    now = job_metrics(run)
    return any(m["status"] == "completed" for m in now.values()) and \
        any(m["status"] == "training" for m in now.values())


def start(tmp_path: Path, *extra) -> subprocess.Popen:
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
        return subprocess.Popen([sys.executable, "-m", "nas.cli", "evaluate", "slow", "--results-root", "results",
                                 "--top", "1", "--seeds", "2", "--epochs", EPOCHS, *extra], cwd=tmp_path, env=env(),
                                stdout=out, stderr=err, start_new_session=True)


def stop_when(driver, predicate, signum) -> int:
    return signal_when(driver, predicate, signum, "the evaluation")


def check_each_pair_once(run: Path, at_stop: dict) -> None:
    """Every (architecture, seed) pair completed once: a pair completed before the stop was not trained
    again (its record unchanged), a pair stopped midway continued from its saved epoch."""
    frame = pd.read_csv(run / "evaluation.csv", dtype={"architecture_id": str})
    assert len(frame) == 4 and not frame.duplicated(["architecture_id", "seed"]).any()
    assert sorted(set(frame["seed"])) == FRESH  # the seeds recorded at the evaluation's start
    assert set(frame["status"]) == {"completed"} and (frame["epochs_run"] == int(EPOCHS)).all()
    assert json.loads((run / "evaluation.json").read_text())["complete"]
    now = job_metrics(run)
    for key, (metrics, raw, mtime) in at_stop.items():
        path = run / "evaluation" / "trials" / key / "metrics.json"
        if metrics["status"] == "completed":
            assert (path.read_bytes(), path.stat().st_mtime_ns) == (raw, mtime), key
        else:
            assert now[key]["resumed_from_epoch"] >= metrics["epochs_run"] >= 1, (key, now[key])


def records(run: Path) -> dict:
    out = {}
    for path in (run / "evaluation" / "trials").glob("*/metrics.json"):
        out[path.parent.name] = (json.loads(path.read_text()), path.read_bytes(), path.stat().st_mtime_ns)
    return out


@pytest.mark.slow
def test_killed_evaluation_resumes_and_trains_each_pair_once(tmp_path, one_thread):
    run = tiny_run(tmp_path / "results", "slow", data=SLOW_DATA)
    driver = start(tmp_path)
    assert stop_when(driver, lambda: one_done_one_midway(run), signal.SIGKILL) == -signal.SIGKILL
    at_stop = records(run)
    assert not (run / "evaluation.csv").exists()
    set_metric(run, "slow_00002", seed=1001)  # the search trains seed 1001 meanwhile: the plan keeps its seeds
    done = subprocess.run([sys.executable, "-m", "nas.cli", "evaluate", "slow", "--results-root", "results",
                           "--resume"], cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    check_each_pair_once(run, at_stop)
    assert "Final evaluation of run 'slow'" in done.stdout
    # one progress line per finished (architecture, seed) pair, with the elapsed time
    finished = re.findall(r"^\[\s*\d+s\] \d+/\d+ done, \d+ running \| .* (\w+) seed (\d+): test acc \d\.\d{4}, "
                          r"completed$", done.stdout, flags=re.MULTILINE)
    assert finished and len(set(finished)) == len(finished), done.stdout


@pytest.mark.slow
def test_sigint_is_exit_130_with_the_resume_command_and_a_planted_pickle_is_refused(tmp_path, one_thread):
    run = tiny_run(tmp_path / "results", "slow", data=SLOW_DATA)
    driver = start(tmp_path)
    assert stop_when(driver, lambda: one_done_one_midway(run), signal.SIGINT) == 130
    err = (tmp_path / "err.txt").read_text()
    resume = f"nas evaluate slow --top 1 --seeds 2 --epochs {EPOCHS} --resume"  # results: the default root
    assert err.splitlines()[-1] == f"nas evaluate: interrupted by SIGINT; resume with: {resume}"
    assert "Traceback" not in err and "Tuner.restore" not in err
    at_stop = records(run)
    assert {m["status"] for m, _, _ in at_stop.values()} <= {"completed", "interrupted"}
    frame = pd.read_csv(run / "evaluation.csv")
    assert set(frame["status"]) <= {"completed", "interrupted"} and "interrupted" in set(frame["status"])
    assert not json.loads((run / "evaluation.json").read_text())["complete"]

    # A planted pickle as a saved training state (an interrupted pair's, or one planted beside the pairs that
    # had not started) refuses the resume: nothing runs, nothing changes.
    unfinished = frame[frame["status"] == "interrupted"]["job_dir"].iloc[0]
    state = run / "evaluation" / unfinished / ".resume_state.pt"
    original = state.read_bytes() if state.exists() else None
    state.parent.mkdir(exist_ok=True)
    marker = tmp_path / "payload-ran"
    plant_torch_pickle(state, marker)
    before = snapshot(tmp_path / "results")
    command = [sys.executable, "-m", "nas.cli", *shlex.split(resume)[1:]]
    refused = subprocess.run(command, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and not marker.exists()
    assert len(refused.stderr.splitlines()) == 1 and re.search(
        r"--resume: .*\.resume_state\.pt: refused: .*Unsupported global: GLOBAL io\.open", refused.stderr)
    assert snapshot(tmp_path / "results") == before
    if original is None:
        shutil.rmtree(state.parent)
    else:
        state.write_bytes(original)

    done = subprocess.run(command, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    check_each_pair_once(run, at_stop)


@pytest.mark.slow
def test_sigterm_to_the_whole_process_group_is_exit_143_with_outputs_and_the_resume_command(tmp_path, one_thread):
    """Issue 22, defect 4: SIGTERM to every process of the job (``timeout``, systemd, Slurm) ends as a SIGTERM to
    the driver alone: Ray's processes leave it to the driver, which stops gracefully."""
    run = tiny_run(tmp_path / "results", "slow", data=SLOW_DATA)
    driver = start(tmp_path)
    status = signal_when(driver, lambda: one_done_one_midway(run), signal.SIGTERM, "the evaluation", group=True)
    err = (tmp_path / "err.txt").read_text()
    assert status == 143, err[-2000:]
    resume = f"nas evaluate slow --top 1 --seeds 2 --epochs {EPOCHS} --resume"
    assert err.splitlines()[-1] == f"nas evaluate: interrupted by SIGTERM; resume with: {resume}"
    assert "Traceback" not in err
    frame = pd.read_csv(run / "evaluation.csv")
    assert "completed" in set(frame["status"]) and set(frame["status"]) <= {"completed", "interrupted"}


def summary_lines(document: dict) -> list[str]:
    from nas.leaderboard.analysis import evaluation_notes

    return evaluation_notes(document)


def test_leaderboard_evaluation_view_shows_the_evaluation(evaluated, capsys):
    run, result, _ = evaluated
    assert main(["leaderboard", str(run), "--view", "evaluation", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    table = pd.read_csv(io.StringIO(out)).set_index("label")
    for entry in result.summary["architectures"]:
        row = table.loc[entry["label"]]
        assert row["n"] == entry["n"] == 2
        assert (row["test_mean"], row["test_std"]) == pytest.approx((entry["test_acc"]["mean"],
                                                                     entry["test_acc"]["std"]))
    vs = next(e for e in result.summary["architectures"] if e["label"] == "rank1")["vs_resnet"]
    assert (table.loc["rank1", "vs_resnet_ci_low"], table.loc["rank1", "vs_resnet_ci_high"]) == \
        pytest.approx((vs["ci_low"], vs["ci_high"]))
    assert pd.isna(table.loc["baseline_euler", "vs_resnet"])
    prediction = result.summary["search_prediction"]
    assert table.loc["rank1", "search_best_val_acc"] == 0.9
    assert table.loc["rank1", "optimism"] == pytest.approx(prediction["optimism"]["value"])
    assert pd.isna(table.loc["baseline_euler", "optimism"])  # the search did not choose the baseline
    assert err.splitlines()[-3:] == [f"nas leaderboard: run tiny: {line}"
                                     for line in summary_lines(result.summary)]
    assert "Spearman rho n/a" in err and "needs at least 3" in err and "fresh seeds from 1000 up" in err


def test_leaderboard_evaluation_view_of_an_unevaluated_run_is_one_line(fresh_run, capsys):
    assert main(["leaderboard", str(fresh_run), "--view", "evaluation"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["nas leaderboard: error: --view evaluation: no run has an evaluation.json; run nas evaluate "
                   "RUN first"]


def test_export_evaluated_takes_the_median_seed_and_its_card_reports_the_evaluation(evaluated, tmp_path, capsys):
    run, result, _ = evaluated
    out = tmp_path / "best"
    assert main(["export", str(run), "--evaluated", "--out", str(out)]) == 0
    # the layout of --top (issue 22): index.json and one model folder, whose path is printed
    (model,) = json.loads((out / "index.json").read_text())["models"]
    assert capsys.readouterr().out.strip() == str(out / model["folder"]) and model["rank"] == 1
    card = json.loads((out / model["folder"] / "card.json").read_text())
    rows = result.rows[result.rows["label"] == "rank1"].sort_values(["test_acc", "seed"])
    median = rows.iloc[(len(rows) - 1) // 2]
    assert card["evaluation"]["seed"] == median["seed"] and card["metrics"]["test_acc"] == pytest.approx(
        median["test_acc"])  # the exported weights are the evaluated model of that seed
    entry = next(e for e in result.summary["architectures"] if e["label"] == "rank1")
    assert card["evaluation"]["test_acc"] == entry["test_acc"] and card["evaluation"]["vs_resnet"] == entry["vs_resnet"]
    text = (out / model["folder"] / "card.md").read_text()
    assert f"Test accuracy {entry['test_acc']['mean']:.4f} ± {entry['test_acc']['std']:.4f}" in text
    assert f"[{entry['vs_resnet']['ci_low']:+.4f}, {entry['vs_resnet']['ci_high']:+.4f}]" in text
    assert "n = 2 seeds" in text

    assert main(["export", str(run), "--evaluated", "--rank", "2", "--out", str(tmp_path / "x")]) == 2
    assert "no evaluated architecture of rank 2 (evaluated ranks: 1)" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def _layout(out):
    """The structure of an export folder: its files, each model folder's files, the keys of index.json."""
    index = json.loads((out / "index.json").read_text())
    folders = [out / model["folder"] for model in index["models"]]
    return ({p.name for p in out.iterdir() if p.is_file()}, [{p.name for p in f.iterdir()} for f in folders],
            sorted(index), [sorted(model) for model in index["models"]][:1])


def test_export_evaluated_writes_the_layout_of_top(evaluated, tmp_path, capsys):
    """``--evaluated`` and ``--top`` write one layout (issue 22): index.json, the marker, one model folder each."""
    run, _, _ = evaluated
    assert main(["export", str(run), "--evaluated", "--out", str(tmp_path / "evaluated")]) == 0
    assert main(["export", str(run), "--top", "1", "--out", str(tmp_path / "top")]) == 0
    evaluated_layout, top_layout = _layout(tmp_path / "evaluated"), _layout(tmp_path / "top")
    assert evaluated_layout[0] == top_layout[0] == {"index.json", ".nas-export"}
    assert evaluated_layout[1] == top_layout[1] and len(top_layout[1]) == 1
    assert evaluated_layout[2] == top_layout[2] and "ranking" in top_layout[2]
    assert set(evaluated_layout[3][0]) - {"seed"} == set(top_layout[3][0])
    printed = capsys.readouterr().out.split()
    assert [Path(p).parent.name for p in printed] == ["evaluated", "top"]


@pytest.mark.slow
def test_gpu_fractions_are_scheduled_on_a_cluster_that_declares_a_gpu(tmp_path, one_thread):
    """A cluster with one declared GPU (none exists: torch trains on the CPU): two pairs share it at 0.5 each;
    asking for more GPUs than the cluster has is one line, exit 2, and writes nothing."""
    from ray.cluster_utils import Cluster

    run = tiny_run(tmp_path / "results", "gpu")
    cluster = Cluster(initialize_head=True, connect=False,
                      head_node_args={"num_cpus": 2, "num_gpus": 1, "include_dashboard": False,
                                      "object_store_memory": 80 * 1024**2})
    try:
        command = [sys.executable, "-m", "nas.cli", "evaluate", "gpu", "--results-root", "results", "--top", "1",
                   "--seeds", "2", "--address", cluster.address]
        before = snapshot(tmp_path / "results")
        refused = subprocess.run([*command, "--gpus-per-trial", "2"], cwd=tmp_path, env=env(), capture_output=True,
                                 text=True, timeout=300)
        assert refused.returncode == 2 and refused.stderr.splitlines()[-1] == (
            "nas evaluate: error: --gpus-per-trial: 2.0 requested but the Ray cluster has 1.0 GPU(s)")
        assert snapshot(tmp_path / "results") == before
        done = subprocess.run([*command, "--gpus-per-trial", "0.5"], cwd=tmp_path, env=env(), capture_output=True,
                              text=True, timeout=400)
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        cluster.shutdown()
    plan = json.loads((run / "evaluation" / "plan.json").read_text())
    assert plan["resources"] == {"cpu": 1.0, "gpu": 0.5}
    metrics = job_metrics(run)
    assert len(metrics) == 4 and all(m["status"] == "completed" and m["gpu_ids"] for m in metrics.values())
