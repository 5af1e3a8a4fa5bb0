"""The committed reference runs (results/reference/<run>) are complete, consistent with themselves, and the
README's Results section quotes their figures (each run in its own part of the section)."""
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
ROWS = {"rank1": "rank 1:", "rank2": "rank 2:", "rank3": "rank 3:", "baseline_euler": "plain ResNet",
        "baseline_lm_resnet": "LM-ResNet (learned k", "baseline_euler_untied": "untied plain ResNet"}


@dataclass(frozen=True)
class ReferenceRun:
    name: str  # the run's name: results/reference/<name>, search_spaces/<name>.yaml
    section: tuple[str, str]  # the README text from the first heading up to the second quotes this run

    @property
    def folder(self) -> Path:
        return ROOT / "results" / "reference" / self.name


RUNS = [ReferenceRun("tied", ("## Results", "### The first reference run")),
        ReferenceRun("reference", ("### The first reference run", "### Deeper networks")),
        ReferenceRun("reference_deep", ("### Deeper networks", "## Converting torchvision ResNets"))]


def points(value: float) -> str:
    return f"{100 * value:.2f}"


def signed(value: float) -> str:
    return f"{100 * value:+.2f}".replace("-", "−")


@pytest.fixture(params=RUNS, ids=lambda run: run.name)
def run(request):
    return request.param


def test_the_run_folder_holds_what_the_readme_lists_and_no_large_file(run):
    folder = run.folder
    for name in ("space.yaml", "search.json", "trials.csv", "evaluation.csv", "evaluation.json", "leaderboard.md"):
        assert (folder / name).is_file(), name
    assert list((folder / "plots").glob("*.png"))
    assert all(path.stat().st_size < 1_000_000 for path in folder.rglob("*") if path.is_file())
    trials = pd.read_csv(folder / "trials.csv", dtype={"trial_id": str})
    assert all((folder / d / "metrics.json").is_file() for d in trials["trial_dir"].dropna())  # not_started: none
    assert trials["trial_dir"].notna().sum() >= len(trials) - 2
    assert (folder / "space.yaml").read_text() == (ROOT / "search_spaces" / f"{run.name}.yaml").read_text()


def test_evaluation_json_agrees_with_evaluation_csv(run):
    evaluation = json.loads((run.folder / "evaluation.json").read_text())
    frame = pd.read_csv(run.folder / "evaluation.csv")
    accuracy = frame.pivot_table(index="seed", columns="label", values="test_acc")
    for item in evaluation["architectures"]:
        column = accuracy[item["label"]]
        assert item["test_acc"]["mean"] == pytest.approx(column.mean())
        assert item["test_acc"]["std"] == pytest.approx(column.std(ddof=1))
        if item["vs_resnet"]:
            difference = column - accuracy["baseline_euler"]
            low, high = stats.ttest_rel(column, accuracy["baseline_euler"]).confidence_interval(0.95)
            assert (item["vs_resnet"]["mean"], item["vs_resnet"]["ci_low"], item["vs_resnet"]["ci_high"]) == \
                pytest.approx((difference.mean(), low, high))


def test_the_evaluation_seeds_follow_the_protocol_the_files_record(run):
    """An evaluation records its seed rule (``seed_rule``); files from before fresh seeds have none and used
    seeds 0..N-1 (seed 0 is then the search's own run, as the README says). A recorded fresh rule holds against
    the run's own trials.csv."""
    search_seeds = set(pd.read_csv(run.folder / "trials.csv")["seed"].dropna().astype(int))
    for path in [run.folder / "evaluation.json", *run.folder.glob("*/evaluation.json")]:
        evaluation = json.loads(path.read_text())
        rule = evaluation.get("seed_rule")
        if rule is None:
            assert evaluation["seeds"] == list(range(len(evaluation["seeds"]))), path
        else:
            assert rule["rule"] == "fresh" and not set(evaluation["seeds"]) & search_seeds, path
            assert set(rule["search_seeds"]) >= search_seeds, path


def test_readme_results_quote_the_committed_figures(run):
    evaluation = json.loads((run.folder / "evaluation.json").read_text())
    readme = (ROOT / "README.md").read_text()
    start, end = run.section
    section = readme[readme.index(start):readme.index(end)]
    labels = {item["label"] for item in evaluation["architectures"]}
    lines = {label: next(line for line in section.splitlines() if line.startswith(f"| {prefix}"))
             for label, prefix in ROWS.items() if label in labels}
    for item in evaluation["architectures"]:
        line = lines[item["label"]]
        accuracy = item["test_acc"]
        assert f"{points(accuracy['mean'])} ± {points(accuracy['std'])}%" in line, line
        if item["vs_resnet"]:
            diff = item["vs_resnet"]
            quoted = f"{signed(diff['mean'])} [{signed(diff['ci_low'])}, {signed(diff['ci_high'])}]"
            assert quoted in line, (quoted, line)
    trials = pd.read_csv(run.folder / "trials.csv")
    assert f"It ran {len(trials)} trials" in section.replace("\n", " ")


def test_the_ten_seed_follow_up_is_quoted_and_repeats_the_first_five_seeds_exactly():
    run = RUNS[2]
    follow_up = run.folder / "followup_10_seeds"
    evaluation = json.loads((follow_up / "evaluation.json").read_text())
    assert evaluation["seeds"] == list(range(10))
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(run.section[0]):readme.index(run.section[1])].replace("\n", " ")
    for item in evaluation["architectures"]:
        accuracy = item["test_acc"]
        assert f"{points(accuracy['mean'])} ± {points(accuracy['std'])}%" in section, item["label"]
        if item["vs_resnet"] and item["role"] != "baseline":
            diff = item["vs_resnet"]
            quoted = f"{signed(diff['mean'])} [{signed(diff['ci_low'])}, {signed(diff['ci_high'])}]"
            assert quoted in section, (item["label"], quoted)
    ten = pd.read_csv(follow_up / "evaluation.csv").pivot_table(index="seed", columns="label", values="test_acc")
    five = pd.read_csv(run.folder / "evaluation.csv").pivot_table(index="seed", columns="label", values="test_acc")
    pd.testing.assert_frame_equal(ten.loc[0:4], five)


def test_the_tied_run_raced_and_the_readme_quotes_its_difference_against_the_untied_resnet():
    run = RUNS[0]
    search = json.loads((run.folder / "search.json").read_text())
    assert search["settings"]["race"]["max_seeds"] >= 2 and search["space"]["network"]["tie"] == "stage"
    trials = pd.read_csv(run.folder / "trials.csv")
    baselines = trials[trials["baseline"].fillna(False).astype(bool) & (trials["status"] != "duplicate")]
    assert set(baselines["option"]) == {"baseline_euler", "baseline_lm_resnet", "baseline_euler_untied"}
    evaluation = json.loads((run.folder / "evaluation.json").read_text())
    assert evaluation["seed_rule"]["rule"] == "fresh" and len(evaluation["seeds"]) == 10
    accuracy = pd.read_csv(run.folder / "evaluation.csv").pivot_table(index="seed", columns="label",
                                                                      values="test_acc")
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(run.section[0]):readme.index(run.section[1])]
    for label in [c for c in accuracy.columns if c.startswith("rank")] + ["baseline_euler", "baseline_lm_resnet"]:
        difference = accuracy[label] - accuracy["baseline_euler_untied"]
        low, high = stats.ttest_rel(accuracy[label], accuracy["baseline_euler_untied"]).confidence_interval(0.95)
        quoted = f"{signed(difference.mean())} [{signed(low)}, {signed(high)}]"
        line = next(line for line in section.splitlines() if line.startswith(f"| {ROWS[label]}"))
        assert quoted in line, (label, quoted, line)



@pytest.mark.parametrize("name", ["reference", "reference_deep"])
def test_the_fresh_seed_re_evaluations_are_quoted(name):
    run = next(r for r in RUNS if r.name == name)
    evaluation = json.loads((run.folder / "fresh_10_seeds" / "evaluation.json").read_text())
    assert evaluation["seed_rule"]["rule"] == "fresh" and len(evaluation["seeds"]) == 10
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(run.section[0]):readme.index(run.section[1])].replace("\n", " ")
    for item in evaluation["architectures"]:
        accuracy = item["test_acc"]
        assert f"{points(accuracy['mean'])} ± {points(accuracy['std'])}%" in section, item["label"]
        if item["vs_resnet"]:
            diff = item["vs_resnet"]
            quoted = f"{signed(diff['mean'])} [{signed(diff['ci_low'])}, {signed(diff['ci_high'])}]"
            assert quoted in section, (item["label"], quoted)
