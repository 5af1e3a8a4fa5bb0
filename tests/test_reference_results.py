"""The committed reference run (results/reference/reference) is complete, consistent with itself, and the
README's Results section quotes its figures."""
import json
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "results" / "reference" / "reference"
ROWS = {"rank1": "rank 1:", "rank2": "rank 2:", "rank3": "rank 3:", "baseline_euler": "plain ResNet",
        "baseline_lm_resnet": "LM-ResNet (learned k"}


def points(value: float) -> str:
    return f"{100 * value:.2f}"


def signed(value: float) -> str:
    return f"{100 * value:+.2f}".replace("-", "−")


@pytest.fixture(scope="module")
def evaluation():
    return json.loads((RUN / "evaluation.json").read_text())


def test_the_run_folder_holds_what_the_readme_lists_and_no_large_file():
    for name in ("space.yaml", "search.json", "trials.csv", "evaluation.csv", "evaluation.json", "leaderboard.md"):
        assert (RUN / name).is_file(), name
    assert list((RUN / "plots").glob("*.png"))
    assert all(path.stat().st_size < 1_000_000 for path in RUN.rglob("*") if path.is_file())
    trials = pd.read_csv(RUN / "trials.csv", dtype={"trial_id": str})
    assert all((RUN / d / "metrics.json").is_file() for d in trials["trial_dir"])
    assert (RUN / "space.yaml").read_text() == (ROOT / "search_spaces" / "reference.yaml").read_text()


def test_evaluation_json_agrees_with_evaluation_csv(evaluation):
    frame = pd.read_csv(RUN / "evaluation.csv")
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


def test_readme_results_quote_the_committed_figures(evaluation):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Results"):readme.index("## Converting torchvision ResNets")]
    lines = {label: next(line for line in section.splitlines() if line.startswith(f"| {start}"))
             for label, start in ROWS.items()}
    for item in evaluation["architectures"]:
        line = lines[item["label"]]
        accuracy = item["test_acc"]
        assert f"{points(accuracy['mean'])} ± {points(accuracy['std'])}%" in line, line
        if item["vs_resnet"]:
            diff = item["vs_resnet"]
            quoted = f"{signed(diff['mean'])} [{signed(diff['ci_low'])}, {signed(diff['ci_high'])}]"
            assert quoted in line, (quoted, line)
    trials = pd.read_csv(RUN / "trials.csv")
    assert f"It ran {len(trials)} trials" in section.replace("\n", " ")
