"""The malformed search-space corpus: each file gives one clear line, exit status 2, and writes nothing.

Every file in tests/search_spaces_bad/ starts with ``# expect: <text>``: the error line must contain it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nas.cli import main

CORPUS = Path(__file__).resolve().parent / "search_spaces_bad"
FILES = sorted(CORPUS.glob("*.yaml"))


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: ...'"
    return first[len("# expect: "):]


def test_corpus_is_large_enough():
    assert len(FILES) >= 15


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_malformed_space_is_one_clear_line_exit_2_nothing_written(path, tmp_path, capsys):
    results = tmp_path / "results"
    status = main(["search", str(path), "--name", "bad", "--results-dir", str(results)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"nas search: error: {path.name}: ")
    assert expectation(path) in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not results.exists()


def test_console_script_exit_status(tmp_path):
    path = CORPUS / "runge_kutta.yaml"
    env = {**os.environ, "MPLBACKEND": "Agg", "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run([sys.executable, "-m", "nas.cli", "search", str(path), "--results-dir",
                           str(tmp_path / "results")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "nas search: error: runge_kutta.yaml: scheme.stages: must be 1..4, got 7"
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("flags, message", [
    (["--trials", "0"], "--trials: must be a positive integer, got 0"),
    (["--objectives", "val_acc,accuracy"], "--objectives[1]: must be one of val_acc, val_loss, params, flops"),
    (["--name", "a/b"], "--name: a run name is 1-100 ASCII letters, digits"),
    (["--gpus-per-trial", "lots"], "--gpus-per-trial: expected a number or auto, got 'lots'"),
])
def test_bad_flags_exit_2_nothing_written(flags, message, tmp_path, capsys):
    space = Path(__file__).resolve().parents[1] / "search_spaces" / "quick.yaml"
    results = tmp_path / "results"
    status = main(["search", str(space), "--results-dir", str(results), *flags])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not results.exists()
