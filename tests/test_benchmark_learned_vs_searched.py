"""The pieces of benchmarks/learned_vs_searched.py that need no search (a few seconds): the two spaces are
tied.yaml's setting and differ only in what a trial does, the tied ResNet is the winner's network with Euler
and no learning, the table pairs by seed, and earlier per-seed rows are reused only for the same winners."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def benchmark():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import learned_vs_searched
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return learned_vs_searched


def test_both_sides_search_the_tied_network_with_the_same_settings(benchmark):
    from nas.search import load_space

    searched, learned = benchmark.searched_space(quick=False), benchmark.learned_space(False, coefficient_lr=0.1)
    for key in ("data", "network"):
        assert {k: v for k, v in learned[key].items() if k != "learn_scheme"} == searched[key]
    assert searched["network"] == {"widths": [8, 16, 32], "steps_per_stage": 4, "h": 1.0, "tie": "stage",
                                   "norm": "none"}
    assert {k: v for k, v in learned["train"].items() if k != "coefficient_lr"} == searched["train"]
    assert searched["train"]["epochs"] == 20 and learned["train"]["coefficient_lr"] == 0.1
    assert {k: v for k, v in learned["search"].items() if k != "duplicates"} == searched["search"]
    assert searched["search"]["sampler"] == "tpe" and "race" not in searched["search"]
    assert [block["label"] for block in searched["scheme"]] == ["rk", "lmm"]
    assert learned["network"]["learn_scheme"] == "network" and learned["search"]["duplicates"] == "reseed"
    for space in (searched, learned):
        load_space(space)  # a valid space
        assert "baselines" not in space


def test_the_reference_is_the_tied_resnet_and_the_table_pairs_by_seed(benchmark, tmp_path):
    from nas.networks import NetworkSpec

    spec = NetworkSpec(scheme="heun", macro="sequence", widths=(8, 16, 32), steps_per_stage=4, tie="stage",
                       norm="none", learn_scheme="network").to_dict()
    arms = {"searched": {"spec": spec, "train": {}, "scheme_name": "lmm_k2", "val_acc": 0.9, "val_seeds": 1},
            "learned": {"spec": spec, "train": {}, "scheme_name": "heun", "val_acc": 0.9, "val_seeds": 2}}
    arms["resnet"] = benchmark.resnet_of(arms["learned"])
    resnet = NetworkSpec.from_dict(arms["resnet"]["spec"])
    assert resnet.scheme.name == "euler" and resnet.learn_scheme == "none" and resnet.tie == "stage"
    for arm, chosen in arms.items():
        chosen["label"] = f"{arm} label"
    accuracy = {"searched": [0.90, 0.80, 0.70], "learned": [0.91, 0.81, 0.71], "resnet": [0.90, 0.80, 0.70]}
    records = [{"arm": arm, "seed": 1000 + i, "status": "completed", "test_acc": value, "val_acc": value,
                "epochs": 20, "seconds": 1.0, "learned_scheme": ""}
               for arm, values in accuracy.items() for i, value in enumerate(values)]
    lines = benchmark.table(records, arms)
    learned_row = next(line for line in lines if line.startswith("| learned"))
    assert "+1.00 [+1.00, +1.00] points" in learned_row  # paired: the same +1 point on every seed
    assert "81.00 ± 10.00%" in learned_row and "| 1000,1001,1002 |" in learned_row
    assert benchmark.head_to_head(records) == \
        "Learned − searched, paired over 3 seeds: +1.00 points, 95% CI [+1.00, +1.00]."
    benchmark.write_results(tmp_path / "out", "text", records, arms)
    reused = benchmark.earlier_records(tmp_path / "out.csv", arms, [1000, 1001])
    assert [{k: v for k, v in r.items() if k != "scheme"} for r in reused] == \
        [r for r in records if r["seed"] in (1000, 1001)]
    with open(tmp_path / "out.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 9
    arms["learned"]["label"] = "another winner"
    with pytest.raises(SystemExit, match="not this run's winner"):
        benchmark.earlier_records(tmp_path / "out.csv", arms, [1000])
