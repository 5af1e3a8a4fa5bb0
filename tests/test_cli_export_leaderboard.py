"""``nas export`` and ``nas leaderboard`` from the command line: outputs, formats, and bad input."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch
from run_folders import make_run

from nas.cli import main


pytestmark = pytest.mark.usefixtures("one_thread")  # module-scoped, in conftest.py


@pytest.fixture(scope="module")
def runs(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("results")
    first = make_run(root, "first", [{"scheme": "euler", "baseline": True}, {"scheme": "lm_resnet"}])
    second = make_run(root, "second", [{"scheme": "euler", "baseline": True}, {"scheme": "heun"},
                                       {"scheme": "ab2", "status": "error"}])
    dead = make_run(root, "dead", [{"scheme": "heun", "status": "error"}])
    return root, first, second, dead


def test_leaderboard_over_two_runs_prints_one_table(runs, capsys):
    root, first, second, dead = runs
    assert main(["leaderboard", str(first), str(second)]) == 0
    out = capsys.readouterr().out.splitlines()
    header, rows = out[0], out[1:]
    assert header.split()[:3] == ["rank", "run", "trial_id"]
    assert len(rows) == 4  # the finished trials of both runs; the failed one is left out by default
    assert {row.split()[1] for row in rows} == {"first", "second"}
    assert sum("[baseline]" in row for row in rows) == 2
    ranks = [int(row.split()[0]) for row in rows]
    assert ranks == [1, 2, 3, 4]


def test_leaderboard_by_run_name_with_all_trials_and_top(runs, capsys):
    root, *_ = runs
    assert main(["leaderboard", "second", "--results-root", str(root), "--all", "--sort", "params",
                 "--top", "2", "--format", "csv"]) == 0
    from io import StringIO

    table = pd.read_csv(StringIO(capsys.readouterr().out))
    assert len(table) == 2 and list(table["params"]) == sorted(table["params"])
    # --storage, the name nas search and nas evaluate use, is the same option (--results-root the older name)
    assert main(["leaderboard", "second", "--storage", str(root), "--all", "--sort", "params", "--top", "2",
                 "--format", "csv"]) == 0
    assert pd.read_csv(StringIO(capsys.readouterr().out)).equals(table)


def test_leaderboard_parquet_reads_back(runs, tmp_path, capsys):
    root, first, second, dead = runs
    target = tmp_path / "board.parquet"
    assert main(["leaderboard", str(first), str(second), "--format", "parquet", "--output", str(target)]) == 0
    assert capsys.readouterr().out == ""
    frame = pd.read_parquet(target)
    assert len(frame) == 4
    assert {"trial_id", "best_val_acc", "vs_resnet", "coef_b_0", "coef_k", "scheme"} <= set(frame.columns)


def test_leaderboard_markdown_views_and_plots(runs, tmp_path, capsys):
    root, first, second, dead = runs
    assert main(["leaderboard", str(first), str(second), "--format", "markdown", "--view", "families"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("|") and "family" in lines[0]
    assert any("runge_kutta (baseline)" in line for line in lines)
    plots = tmp_path / "plots"
    assert main(["leaderboard", str(first), str(second), "--pareto", "val_acc,params", "--plots", str(plots)]) == 0
    written = sorted(p.name for p in plots.iterdir())
    assert {"pareto.png", "learned_coefficients.png", "history.png"} <= set(written)
    for path in plots.iterdir():
        assert path.stat().st_size > 1000


def test_export_command_writes_the_best_model(runs, tmp_path, capsys):
    root, first, second, dead = runs
    out = tmp_path / "export"
    assert main(["export", str(first), "--top", "1", "--out", str(out)]) == 0
    index = json.loads((out / "index.json").read_text())
    best = pd.read_csv(first / "trials.csv", dtype={"trial_id": str}).sort_values(
        "best_val_acc", ascending=False, kind="stable")["trial_id"].iloc[0]
    assert [m["trial_id"] for m in index["models"]] == [best]
    assert capsys.readouterr().out.strip() == str(out / best)
    assert (out / best / "model.pt2").stat().st_size > 0


def test_export_force_replaces_only_an_earlier_export(runs, tmp_path, capsys):
    # issue 22, defect 1: --force deleted a user's folder and a run's trials/ folder.
    root, first, second, dead = runs
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("x\n")
    trials = sorted(p.name for p in (first / "trials").rglob("*"))
    for out, message in ((precious, "was not written by nas export (thesis.tex)"),
                         (first / "trials", "is inside the run folder"), (first, "is a run folder")):
        assert main(["export", str(first), "--out", str(out), "--force"]) == 2
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert captured.out == "" and len(lines) == 1 and lines[0].startswith("nas export: error: out:"), captured.err
        assert message in lines[0]
    assert (precious / "thesis.tex").read_text() == "x\n" and [p.name for p in precious.iterdir()] == ["thesis.tex"]
    assert sorted(p.name for p in (first / "trials").rglob("*")) == trials
    out = tmp_path / "export"
    for _ in range(2):  # the second --force replaces the first export
        assert main(["export", str(first), "--out", str(out), "--force"]) == 0
        assert (out / "index.json").is_file() and (out / ".nas-export").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "precious"]


BAD = {
    "leaderboard: missing run folder": (["leaderboard", "{root}/nope"], "no such run folder"),
    "leaderboard: no finished trial": (["leaderboard", "{dead}"], "no finished trial"),
    "leaderboard: unknown sort column": (["leaderboard", "{first}", "--sort", "accuracy"], "unknown column 'accuracy'"),
    "leaderboard: unknown family": (["leaderboard", "{first}", "--family", "rk"], "no trials of family 'rk'"),
    "leaderboard: parquet to stdout": (["leaderboard", "{first}", "--format", "parquet"], "needs --output"),
    "export: missing run folder": (["export", "{root}/nope"], "no such run folder"),
    "export: no finished trial": (["export", "{dead}"], "no finished trial"),
    "export: unknown trial id": (["export", "{first}", "--trial", "first_09999"], "no trial 'first_09999'"),
    "export: failed trial": (["export", "{second}", "--trial", "second_00002"], "status error"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(runs, tmp_path, capsys, case):
    root, first, second, dead = runs
    argv, message = BAD[case]
    argv = [a.format(root=root, first=first, second=second, dead=dead) for a in argv]
    target = tmp_path / "target"
    argv += ["--output", str(target), "--plots", str(tmp_path / "plots")] if argv[0] == "leaderboard" and \
        "parquet" not in argv else ["--out", str(target)] if argv[0] == "export" else []
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nas {argv[0]}: error:"), captured.err
    assert message in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_bad_input_through_the_console_entry_point(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nas.cli", "leaderboard", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "no such run folder" in done.stderr


EVIL = "\x1b]0;pwned\x07\x1b[2J\u202eeuler"  # retitle and clear the terminal, then reverse the text


def test_control_characters_read_from_run_files_are_shown_escaped(tmp_path, capsys):
    # issue 22, defect 9: a scheme_name with terminal escapes was printed raw and written into card.md
    from nas.export import export_run

    run_dir = make_run(tmp_path / "results", "hostile", [{"scheme": "euler", "baseline": True}, {"scheme": "heun"}])
    frame = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    frame["scheme_name"] = [EVIL, "heun"]
    frame.to_csv(run_dir / "trials.csv", index=False)
    (run_dir / "evaluation.json").write_text(json.dumps({"run": "hostile", "complete": True, "architectures": [
        {"label": EVIL, "scheme_name": EVIL, "role": "searched", "search_rank": 1, "n": 2,
         "test_acc": {"mean": 0.5, "std": 0.1, "min": 0.4, "max": 0.6}, "architecture_id": "a1"}]}))
    escaped = "\\x1b]0;pwned\\x07\\x1b[2J\\u202eeuler"
    metrics_path = run_dir / "trials" / "hostile_00000" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics_path.write_text(json.dumps({**metrics, "message": EVIL}))
    for argv in (["leaderboard", str(run_dir)], ["leaderboard", str(run_dir), "--format", "markdown"],
                 ["leaderboard", str(run_dir), "--view", "evaluation"]):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert escaped in out, argv
        assert not any(c in out for c in "\x1b\x07\u202e"), argv
    (folder,) = export_run(run_dir, tmp_path / "out", trial="hostile_00000")
    for name in ("card.md", "card.json", "../index.json"):
        text = (folder / name).read_text(encoding="utf-8")
        assert not any(c in text for c in "\x1b\x07\u202e"), name
    assert escaped in (folder / "card.md").read_text(encoding="utf-8")
    assert json.loads((folder / "card.json").read_text())["trial_metrics"]["message"] == escaped
