"""The malformed-input corpus of every subcommand: each case ends in exactly one line on stderr naming the
problem, exit status 2, nothing on stdout, and nothing written anywhere (the working folder and every input
folder are unchanged). The search-space files of ``tests/search_spaces_bad`` are a second corpus
(``test_search_bad_spaces.py``); the cases here cover flags, run folders, exports and all other commands.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hostile import plant_raw_pickle, plant_torch_pickle, snapshot
from run_folders import make_run

from nas.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")  # module-scoped, in conftest.py

BAD_SPACES = Path(__file__).resolve().parent / "search_spaces_bad"
TINY = {"name": "tiny", "data": {"name": "mnist1d", "num_samples": 200, "seed": 0},
        "train": {"epochs": 2, "batch_size": 64}, "search": {"trials": 2, "scheduler": "none", "grace_period": 3},
        "network": {"widths": [4, 8], "steps_per_stage": 1}, "scheme": {"family": "named", "names": ["euler"]}}


def _run_record(name: str) -> dict:
    """A search.json as nas search writes it (the keys --resume checks)."""
    from nas.search.space import SearchSpace

    space = SearchSpace.from_dict({**TINY, "name": name}, source="tiny.yaml")
    return {"format": "nas.search/1", "run": name, "source": "tiny.yaml", "space": space.to_dict(),
            "settings": space.search.to_dict()}


def _variant(root: Path, good: Path, name: str, mutate) -> Path:
    run = root / name
    shutil.copytree(good, run, symlinks=True)
    mutate(run)
    return run


def _edit_csv(run: Path, **columns) -> None:
    frame = pd.read_csv(run / "trials.csv", dtype={"trial_id": str}).astype(object)
    for column, value in columns.items():
        if value is None:
            frame = frame.drop(columns=[column])
        else:
            frame[column] = value
    frame.to_csv(run / "trials.csv", index=False)


def _each_trial(run: Path, action) -> None:
    for folder in sorted((run / "trials").iterdir()):
        action(folder)


def _edit_spec(change):
    def action(folder):
        spec = json.loads((folder / "spec.json").read_text())
        (folder / "spec.json").write_text(change(spec) if callable(change) else change)
    return action


@pytest.fixture(scope="module")
def world(tmp_path_factory, one_thread):
    """Run folders (good and broken copies), search fixtures and plain files; never written by the cases."""
    root = tmp_path_factory.mktemp("world")
    runs = root / "runs"
    good = make_run(runs, "good", [{"scheme": "euler", "baseline": True}, {"scheme": "lm_resnet"}])
    other = make_run(runs, "other", [{"scheme": "heun"}])
    outside = other / "trials" / "other_00000"
    marker = root / "payload-ran"

    _variant(runs, good, "corrupt", lambda r: _each_trial(r, lambda f: (f / "weights.safetensors").write_bytes(
        b"\x00\x01 not a safetensors file " * 8)))
    _variant(runs, good, "pickled", lambda r: _each_trial(r, lambda f: plant_raw_pickle(f / "weights.safetensors",
                                                                                         marker)))
    _variant(runs, good, "badnumber", lambda r: _edit_csv(r, best_val_acc=["0.5", "abc"]))
    # values out of their column's range (issue 22, defect 11: inf ranked first and was exported as rank 1)
    _variant(runs, good, "infacc", lambda r: _edit_csv(r, best_val_acc=["0.5", "inf"]))
    _variant(runs, good, "overacc", lambda r: _edit_csv(r, val_acc=["1.5", "0.5"]))
    _variant(runs, good, "negparams", lambda r: _edit_csv(r, params=["-5", "100"]))
    _variant(runs, good, "absolute", lambda r: _edit_csv(r, trial_dir=[str(outside)] * 2))
    _variant(runs, good, "dotdot", lambda r: _edit_csv(r, trial_dir=["../other/trials/other_00000"] * 2))

    def symlinks(run):
        for folder in sorted((run / "trials").iterdir()):
            shutil.rmtree(folder)
            folder.symlink_to(outside, target_is_directory=True)
    _variant(runs, good, "symlink", symlinks)
    _variant(runs, good, "notrialid", lambda r: _edit_csv(r, trial_id=None))
    _variant(runs, good, "badspec", lambda r: _each_trial(r, _edit_spec("{not json")))
    _variant(runs, good, "dupspec", lambda r: _each_trial(r, _edit_spec(
        lambda spec: json.dumps(spec)[:-1] + ', "widths": [4, 8]}')))
    _variant(runs, good, "hugespec", lambda r: _each_trial(r, _edit_spec(
        lambda spec: json.dumps({**spec, "widths": [1000000, 1000000]}))))
    # a coefficient far out of range (issue 22, defect 8: the export check failed with "differs by nan")
    _variant(runs, good, "hugek", lambda r: _each_trial(r, _edit_spec(
        lambda spec: json.dumps({**spec, "scheme": {"family": "lm_resnet", "k": 1e300, "learn": "fixed"}}))))
    _variant(runs, good, "mismatch", lambda r: _each_trial(r, _edit_spec(
        lambda spec: json.dumps({**spec, "widths": [8, 16]}))))

    space = root / "tiny.yaml"
    space.write_text(yaml.safe_dump(TINY))
    (root / "big.yaml").write_text("# padding\n" * 200_000 + yaml.safe_dump(TINY))
    results = root / "results"
    for name, text in (("foreign", json.dumps({"hello": "world"})), ("corrupt", "{not json"),
                       ("planted", json.dumps(_run_record("planted"))), ("taken", json.dumps(_run_record("taken"))),
                       ("copied", json.dumps(_run_record("copied")))):
        (results / name).mkdir(parents=True)
        (results / name / "search.json").write_text(text)
    (results / "planted" / "trials" / "t1").mkdir(parents=True)
    plant_torch_pickle(results / "planted" / "trials" / "t1" / ".resume_state.pt", marker)
    # a run folder from elsewhere whose Tune experiment carries a payload (issue 22, defect 10)
    (results / "copied" / "tune").mkdir()
    plant_raw_pickle(results / "copied" / "tune" / "searcher-state-2026-01-01_00-00-00.pkl", marker)
    (results / "norecord").mkdir()
    (results / "norecord" / "notes.txt").write_text("not a run")
    (root / "afile.txt").write_text("a file, not a folder")
    (root / "afolder").mkdir()
    return {"root": root, "runs": runs, "space": space, "results": results, "bad": BAD_SPACES, "marker": marker}


def tableau(stages: int) -> list[str]:
    A = [[1 if j == i - 1 else 0 for j in range(stages)] for i in range(stages)]
    return ["--tableau", json.dumps(A), "--b", json.dumps([0] * (stages - 1) + [1])]


NOISE = '{"kind": "stochastic_depth", "shape": "linear", "p_L": 0.5}'

# argv (placeholders: the world fixture's paths; relative paths land in the case's own empty working folder)
# -> a fragment of the one error line
CASES = {
    # ---- nas search: space files
    "search: billion laughs under description": (["search", "{bad}/alias_bomb_description.yaml"],
                                                 "aliases expand the document to more than 10,000 nodes"),
    "search: billion laughs under scheme": (["search", "{bad}/alias_bomb_scheme.yaml"], "aliases expand"),
    "search: repeated section": (["search", "{bad}/duplicate_section.yaml"], "duplicate key 'scheme'"),
    "search: repeated nested key": (["search", "{bad}/duplicate_nested_key.yaml"], "duplicate key 'epochs'"),
    "search: file over the size limit": (["search", "{root}/big.yaml"], "larger than the limit of 1,048,576"),
    "search: grace_period beyond the epochs": (["search", "{bad}/grace_after_last_epoch.yaml"],
                                               "search.grace_period: 5 is more than train.epochs (2)"),
    "search: seed 2**32 in the space": (["search", "{bad}/seed_too_large.yaml"], "search.seed: must be an integer in 0..4294967295"),
    "search: absurd widths in the space": (["search", "{bad}/huge_widths.yaml"], "7,000,019,000,010 parameters"),
    "search: absurd data in the space": (["search", "{bad}/absurd_data.yaml"], "need about 1.25 PB in memory"),
    "search: activation budget": (["search", "{bad}/activation_budget.yaml"], "of activations per training batch"),
    "search: macro that does not fit the data": (["search", "{bad}/macro_mismatch.yaml"],
                                                 "network.macro: 'image' does not take samples"),
    "search: space name starting with -": (["search", "{bad}/dash_name.yaml"], "starting with a letter or digit"),
    "search: 100 kB value quoted briefly": (["search", "{bad}/long_value.yaml"], "search.sampler: must be one of"),
    "search: missing space file": (["search", "{root}/nope.yaml"], "no such search-space file"),
    # ---- nas search: flags
    "search: --seed 2**32": (["search", "{space}", "--seed", "4294967296"],
                             "--seed: must be an integer in 0..4294967295"),
    "search: --name=-x": (["search", "{space}", "--name=-x"], "starting with a letter or digit; got '-x'"),
    "search: --name -x": (["search", "{space}", "--name", "-x"], "argument --name: expected one argument"),
    "search: --name empty": (["search", "{space}", "--name", ""], "got an empty name"),
    "search: --name of 300 characters": (["search", "{space}", "--name", "n" * 300], "got 300 characters"),
    "search: --name with a space": (["search", "{space}", "--name", "my run"], "got 'my run'"),
    "search: --name ..": (["search", "{space}", "--name", ".."], "got '..'"),
    "search: --name with a slash": (["search", "{space}", "--name", "a/b"], "got 'a/b'"),
    "search: --scheduler asha with grace_period beyond epochs": (["search", "{space}", "--scheduler", "asha"],
                                                                 "search.grace_period: 3 is more than train.epochs"),
    "search: more CPUs per trial than the machine": (["search", "{space}", "--cpus-per-trial", "100000"],
                                                     "--cpus-per-trial: 100000 requested but this machine has"),
    "search: more GPUs per trial than the machine": (["search", "{space}", "--gpus-per-trial", "1000"],
                                                     "--gpus-per-trial: 1000 requested but this machine has"),
    "search: --results-dir is a file": (["search", "{space}", "--results-dir", "{root}/afile.txt"],
                                        "--results-dir: {root}/afile.txt exists and is not a folder"),
    "search: --trials 0": (["search", "{space}", "--trials", "0"], "--trials: must be a positive integer"),
    "search: --trials 10**9": (["search", "{space}", "--trials", "1000000000"],
                               "--trials: 1,000,000,000 is more than the limit of 100,000"),
    "search: --time-budget 0": (["search", "{space}", "--time-budget", "0"], "--time-budget: must be a positive"),
    # --study-storage is checked before search.json is written (issue 22, defect 7)
    "search: --study-storage bogus://x": (["search", "{space}", "--study-storage", "bogus://x"],
                                          "--study-storage: unknown kind of database 'bogus'"),
    "search: --study-storage SQLite in a missing folder": (
        ["search", "{space}", "--study-storage", "sqlite:///{root}/nope/optuna.db"],
        "the folder {root}/nope of the SQLite file does not exist"),
    "search: --study-storage SQLite below a file": (
        ["search", "{space}", "--study-storage", "sqlite:///{root}/afile.txt/optuna.db"], "is not a folder"),
    "search: --study-storage SQLite is a folder": (
        ["search", "{space}", "--study-storage", "sqlite:///{root}/afolder"], "is a folder; give the database file"),
    "search: --study-storage in memory": (["search", "{space}", "--study-storage", "sqlite://"],
                                          "an SQLite study needs a file path"),
    "search: --objectives unknown": (["search", "{space}", "--objectives", "accuracy"],
                                     "--objectives[0]: must be one of"),
    "search: --gpus-per-trial not a number": (["search", "{space}", "--gpus-per-trial", "lots"],
                                              "expected a number or auto"),
    # ---- nas search: run folders
    "search: --resume of a search.json nas did not write": (
        ["search", "{space}", "--name", "foreign", "--results-dir", "{results}", "--resume"],
        "was not written by nas search for run 'foreign'"),
    "search: --resume of a corrupt search.json": (
        ["search", "{space}", "--name", "corrupt", "--results-dir", "{results}", "--resume"], "not valid JSON"),
    "search: --resume with a planted pickle": (
        ["search", "{space}", "--name", "planted", "--results-dir", "{results}", "--resume"],
        "t1/.resume_state.pt: refused: it holds more than tensors and plain data (Unsupported global: GLOBAL io.open)"),
    "search: --resume of a copied run folder with a planted Tune pickle": (
        ["search", "{space}", "--name", "copied", "--results-dir", "{results}", "--resume"],
        "--resume: {results}/copied/tune/searcher-state-2026-01-01_00-00-00.pkl has no signature from this user's nas"),
    "search: --resume of a folder without search.json": (
        ["search", "{space}", "--name", "norecord", "--results-dir", "{results}", "--resume"], "has no search.json"),
    "search: name of an existing run without --resume": (
        ["search", "{space}", "--name", "taken", "--results-dir", "{results}"], "already holds a run"),
    # ---- nas train
    "train: --widths 1000000,1000000": (["train", "--widths", "1000000,1000000"],
                                        "at least 7,000,019,000,010 parameters"),
    "train: --num-samples 10**12": (["train", "--num-samples", "1000000000000"],
                                    "1,250,000,000,000 mnist1d samples"),
    "train: --output is an existing folder": (["train", "--output", "{root}/afolder"],
                                              "--output: {root}/afolder is a folder"),
    "train: --output in a missing folder": (["train", "--output", "missing_dir/result.json"],
                                            "--output: the folder missing_dir does not exist"),
    "train: --output below a file": (["train", "--output", "{root}/afile.txt/result.json"], "is not a folder"),
    "train: --seed 2**32": (["train", "--seed", "4294967296"], "seed: must be an integer in 0..4294967295"),
    "train: --data-seed 2**32": (["train", "--data-seed", "4294967296"], "seed: must be an integer in 0..4294967295"),
    "train: activation budget": (["train", "--batch-size", "100000000"], "of activations per training batch"),
    "train: too many steps": (["train", "--widths", "4,8", "--steps-per-stage", "100000"],
                              "200,000 scheme steps (2 stage(s) × 100,000); at most 1,000"),
    "train: too many steps, default widths": (["train", "--steps-per-stage", "100000"], "at most 1,000 steps"),
    "train: --macro that does not fit the data": (["train", "--macro", "image"],
                                                  "--macro: 'image' does not take samples of shape (1, 40)"),
    "train: --h negative": (["train", "--h", "-1"], "h: step size must be a positive number"),
    "train: --val-fraction 1.5": (["train", "--val-fraction", "1.5"], "val_fraction: must be a number in (0, 1)"),
    "train: --threads 0": (["train", "--threads", "0"], "threads: must be a positive integer"),
    "train: a million threads": (["train", "--threads", "1000000"], "--threads: 1,000,000 is more than 4 per CPU"),
    "train: a million data workers": (["train", "--data", "cifar10", "--workers", "1000000"],
                                      "num_workers: 1,000,000 is more than 4 per CPU"),
    "train: unknown toy2d kind": (["train", "--data", "toy2d", "--toy2d-kind", "hexagons"], "unknown toy2d kind"),
    "train: unknown scheme": (["train", "--scheme", "nope"], "unknown scheme 'nope'"),
    "train: --epochs not a number": (["train", "--epochs", "three"], "invalid int value"),
    # ---- nas export
    "export: corrupt weights.safetensors": (["export", "{runs}/corrupt", "--out", "out"],
                                            "weights.safetensors: not a readable safetensors file"),
    "export: a pickle named weights.safetensors": (["export", "{runs}/pickled", "--out", "out"],
                                                   "weights.safetensors: not a readable safetensors file"),
    "export: non-numeric best_val_acc": (["export", "{runs}/badnumber", "--out", "out"],
                                         "column best_val_acc, trial good_00001: 'abc' is not a number"),
    "export: trial_dir pointing into another run": (["export", "{runs}/absolute", "--out", "out"],
                                                    "must be a path relative to"),
    "export: trial_dir with ..": (["export", "{runs}/dotdot", "--out", "out"], "leads outside"),
    "export: trial folder symlinked out of the run": (["export", "{runs}/symlink", "--out", "out"], "leads outside"),
    "export: --out exists": (["export", "{runs}/good", "--out", "{root}/afolder"], "already exists (pass --force"),
    "export: --out is the run itself": (["export", "{runs}/good", "--out", "{runs}/good", "--force"],
                                        "is a run folder; --force never replaces anything in a run folder"),
    "export: --out holds the run": (["export", "{runs}/good", "--out", "{runs}", "--force"],
                                    "was not written by nas export (the run folder "),
    "export: --out below a file": (["export", "{runs}/good", "--out", "{root}/afile.txt/out"], "is a file"),
    "export: --top 0": (["export", "{runs}/good", "--top", "0", "--out", "out"], "--top: must be a positive integer"),
    "export: --top 10**9": (["export", "{runs}/good", "--top", "1000000000", "--out", "out"],
                            "--top: 1,000,000,000 is more than the limit of 1,000"),
    # ---- nas evaluate: counts bounded before anything is built (--seeds 10**9 grew to 24 GB)
    "evaluate: --seeds 10**9": (["evaluate", "{runs}/good", "--seeds", "1000000000"],
                                "--seeds: 1,000,000,000 is more than the limit of 1,000"),
    "evaluate: --top 10**9": (["evaluate", "{runs}/good", "--top", "1000000000"],
                              "--top: 1,000,000,000 is more than the limit of 1,000"),
    "evaluate: --epochs 10**9": (["evaluate", "{runs}/good", "--epochs", "1000000000"],
                                 "--epochs: 1,000,000,000 is more than the limit of 100,000"),
    "train: --epochs 10**9": (["train", "--epochs", "1000000000"], "epochs: 1,000,000,000 is more than the limit"),
    "export: trials.csv without trial_id": (["export", "{runs}/notrialid", "--out", "out"],
                                            "missing column 'trial_id'"),
    "export: spec.json not JSON": (["export", "{runs}/badspec", "--out", "out"], "spec.json: not valid JSON"),
    "export: spec.json with a repeated key": (["export", "{runs}/dupspec", "--out", "out"],
                                              "spec.json: duplicate key 'widths'"),
    "export: spec.json beyond the budget": (["export", "{runs}/hugespec", "--out", "out"],
                                            "at least 7,000,019,000,010 parameters"),
    "export: weights of another architecture": (["export", "{runs}/mismatch", "--out", "out"],
                                                "the weights do not match the spec"),
    "export: unknown trial": (["export", "{runs}/good", "--trial", "good_09999", "--out", "out"],
                              "no trial 'good_09999'"),
    # ---- nas convert
    "convert: unknown architecture": (["convert", "resnet19", "--out", "out"],
                                      "architecture: unknown torchvision ResNet 'resnet19'; known: resnet18"),
    "convert: not a ResNet": (["convert", "vgg16", "--out", "out"], "unknown torchvision ResNet 'vgg16'"),
    "convert: scheme that splits channels": (["convert", "resnet18", "--scheme", "hamiltonian", "--out", "out"],
                                             "scheme: hamiltonian cannot run on the blocks of a torchvision ResNet"),
    "convert: unknown scheme": (["convert", "resnet18", "--scheme", "nope", "--out", "out"], "unknown scheme 'nope'"),
    "convert: --k with euler": (["convert", "resnet18", "--k", "0.3", "--out", "out"],
                                "scheme 'euler': bad parameters: --k only applies to lm_resnet"),
    "convert: --out exists": (["convert", "resnet18", "--out", "{root}/afolder"], "already exists (pass --force"),
    "convert: --out below a file": (["convert", "resnet18", "--out", "{root}/afile.txt/out"], "is a file"),
    "convert: unknown pretrained weights": (["convert", "resnet18", "--weights", "BEST", "--out", "out"],
                                            "weights: resnet18 has no pretrained weights 'BEST'"),
    "convert: --relu gelu": (["convert", "resnet18", "--relu", "gelu", "--out", "out"],
                             "relu: must be one of step, stage, none"),
    "convert: --stem unknown": (["convert", "resnet18", "--stem", "mnist", "--out", "out"],
                                "stem: must be one of imagenet, cifar"),
    "convert: --num-classes 0": (["convert", "resnet18", "--num-classes", "0", "--out", "out"],
                                 "num_classes: must be a positive integer"),
    "convert: memory-efficient with a ReLU per step": (
        ["convert", "resnet18", "--scheme", "momentum", "--gamma", "0.9", "--memory-efficient", "--out", "out"],
        "a ReLU after every step cannot be inverted"),
    "convert: memory-efficient with a scheme that has no inverse": (
        ["convert", "resnet18", "--scheme", "rk4", "--relu", "stage", "--memory-efficient", "--out", "out"],
        "memory_efficient: rk4 cannot be inverted step by step"),
    "convert: --noise not JSON": (["convert", "resnet18", "--noise", "{p_L: 0.5", "--out", "out"],
                                  "--noise: not valid JSON"),
    # issue 22, defect 8: k = 1e300 was an mpmath NoConvergence traceback (diagnose) and "exported program
    # differs by nan" (convert, export)
    "diagnose: --k 1e300": (["diagnose", "lm_resnet", "--k", "1e300"], "k: 1e+300 is out of range"),
    "convert: --k 1e300": (["convert", "resnet18", "--scheme", "lm_resnet", "--k", "1e300", "--out", "out"],
                           "k: 1e+300 is out of range"),
    "export: a spec with k = 1e300": (["export", "{runs}/hugek", "--out", "out"], "k: 1e+300 is out of range"),
    "convert: --image-size 0": (["convert", "resnet18", "--image-size", "0", "--out", "out"],
                                "--image-size: must be a positive integer"),
    # ---- nas leaderboard
    "leaderboard: corrupt weights with --plots": (["leaderboard", "{runs}/corrupt", "--plots", "plots"],
                                                  "weights.safetensors: not a readable safetensors file"),
    "leaderboard: non-numeric best_val_acc": (["leaderboard", "{runs}/badnumber"], "'abc' is not a number"),
    "leaderboard: best_val_acc inf": (["leaderboard", "{runs}/infacc"],
                                      "column best_val_acc, trial good_00001: inf is out of range (expected a finite "
                                      "number in [0, 1])"),
    "leaderboard: val_acc above 1": (["leaderboard", "{runs}/overacc"],
                                     "column val_acc, trial good_00000: 1.5 is out of range"),
    "leaderboard: negative params": (["leaderboard", "{runs}/negparams"],
                                     "column params, trial good_00000: -5 is out of range"),
    "export: best_val_acc inf": (["export", "{runs}/infacc", "--out", "out"],
                                 "column best_val_acc, trial good_00001: inf is out of range"),
    "leaderboard: trial_dir out of the run with --plots": (["leaderboard", "{runs}/dotdot", "--plots", "plots"],
                                                           "leads outside"),
    "leaderboard: --output is a folder": (["leaderboard", "{runs}/good", "--output", "{root}/afolder"], "is a folder"),
    "leaderboard: --output in a missing folder": (["leaderboard", "{runs}/good", "--output", "missing_dir/t.csv"],
                                                  "does not exist"),
    "leaderboard: --output onto the run's trials.csv": (
        ["leaderboard", "{runs}/good", "--format", "csv", "--output", "{runs}/good/trials.csv"],
        "is a file of the run it reads"),
    "leaderboard: --plots is a file": (["leaderboard", "{runs}/good", "--plots", "{root}/afile.txt"],
                                       "exists and is not a folder"),
    "leaderboard: --top 0": (["leaderboard", "{runs}/good", "--top", "0"], "--top: must be a positive integer"),
    "leaderboard: unknown column": (["leaderboard", "{runs}/good", "--sort", "accuracy"], "unknown column"),
    # ---- nas diagnose
    "diagnose: --plot in a missing folder": (["diagnose", "rk4", "--plot", "missing_dir/x.png"],
                                             "--plot: the folder missing_dir does not exist"),
    "diagnose: --plot is a folder": (["diagnose", "rk4", "--plot", "{root}/afolder"], "is a folder"),
    "diagnose: noise depth beyond the step limit": (["diagnose", "--noise", NOISE, "--depth", "1000000"],
                                                    "depth: number of steps must be an integer in 1..1000"),
    "diagnose: tableau of 10 stages": (["diagnose", *tableau(10)], "tableaux of up to 8 stages"),
    "diagnose: 20 kB of broken JSON quoted briefly": (["diagnose", "--tableau", "[" * 20_000, "--b", "[1]"],
                                                      "--tableau: not valid JSON"),
    "diagnose: unknown scheme": (["diagnose", "rk99"], "unknown scheme"),
    # ---- nas schemes, nas
    "schemes: unknown option": (["schemes", "--bogus"], "unrecognized arguments: --bogus"),
    "nas: no command": ([], "give a command"),
}


def _fill(text: str, world) -> str:
    for key, value in world.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def test_corpus_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input_is_one_line_exit_2_nothing_written(case, world, tmp_path, monkeypatch, capsys):
    argv, fragment = CASES[case]
    monkeypatch.chdir(tmp_path)
    argv = [_fill(a, world) for a in argv]
    fragment = _fill(fragment, world)
    before = snapshot(world["root"])
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own errors exit from the parser
        status = exit_.code
    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    command = f"nas {argv[0]}" if argv else "nas"
    # argparse reports arguments no subcommand knows at the top level ("nas: error: unrecognized arguments")
    assert lines[0].startswith((f"{command}: error: ", "nas: error: ")), lines[0]
    assert fragment in lines[0]
    assert len(lines[0]) < 700, "values are quoted briefly"
    assert list(tmp_path.iterdir()) == []  # nothing written in the working folder ...
    assert snapshot(world["root"]) == before  # ... nor next to any input
    assert not world["marker"].exists()  # no planted pickle ran


def test_refusals_of_absurd_requests_take_under_two_seconds(tmp_path):
    """The acceptance bounds, as a user sees them: a fresh process, exit 2, the estimate in the message."""
    env = {**os.environ, "MPLBACKEND": "Agg", "RAY_USAGE_STATS_ENABLED": "0"}
    cases = [(["train", "--widths", "1000000,1000000"], "parameters"),
             (["train", "--num-samples", str(10**12)], "need about 1.25 PB in memory"),
             (["search", str(BAD_SPACES / "alias_bomb_description.yaml")], "aliases expand"),
             (["search", str(BAD_SPACES / "alias_bomb_scheme.yaml")], "aliases expand")]
    for argv, fragment in cases:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "nas.cli", *argv], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)
        elapsed = time.monotonic() - started
        assert done.returncode == 2 and fragment in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
        assert elapsed < 2.0, f"{argv}: refused after {elapsed:.2f} s"
    assert list(tmp_path.iterdir()) == []


def test_closed_output_pipe_is_a_quiet_exit(tmp_path):
    """``nas schemes --json | head -1``: the reader leaves early; no traceback, status 128 + SIGPIPE."""
    reader_gone = subprocess.Popen([sys.executable, "-m", "nas.cli", "schemes", "--json"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, cwd=tmp_path)
    reader_gone.stdout.close()  # before the command writes its first line
    err = reader_gone.stderr.read()
    assert reader_gone.wait(timeout=120) == 141
    assert err == b""
    head = subprocess.run(f"{sys.executable} -m nas.cli schemes --json | head -1", shell=True, capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert head.stderr == "" and json.loads(head.stdout)["name"] == "euler"


def test_sigterm_during_train_is_one_line_and_exit_143(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    train = subprocess.Popen([sys.executable, "-m", "nas.cli", "train", "--data", "toy2d", "--epochs", "100000",
                              "--widths", "4", "--output", "result.json"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert train.stdout.readline().startswith("nas train:")  # training has started
    train.terminate()
    out, err = train.communicate(timeout=120)
    assert train.returncode == 143
    assert err.splitlines() == ["nas train: interrupted by SIGTERM"]
    assert list(tmp_path.iterdir()) == []  # the result is written only when training ends


def test_a_search_when_ray_cannot_start_is_one_line_exit_2_and_leaves_no_run(world, tmp_path, monkeypatch, capsys):
    """Issue 22, defect 8: Ray failing to start was a traceback. Simulated by making ``ray.init`` fail as it does
    when the machine refuses it (here a start-up timeout, which Ray raises as a bare Exception)."""
    import ray

    def refuse(*args, **kwargs):
        raise Exception("The current node timed out during startup.\nThis could happen because ...")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    results = tmp_path / "results"
    results.mkdir()
    status = main(["search", str(world["space"]), "--results-dir", str(results)])
    lines = capsys.readouterr().err.splitlines()
    assert status == 2
    assert lines == ["nas search: error: cannot start Ray on this machine: The current node timed out during "
                     "startup. This could happen because ..."]
    assert list(results.iterdir()) == []  # the new run's folder was removed: the same command can run again
