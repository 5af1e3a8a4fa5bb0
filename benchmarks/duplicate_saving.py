"""What duplicate detection saves on a real search (issue 11).

Runs a TPE search on MNIST-1D over a categorical space (named schemes x depth x noise: 16 distinct
configurations), where TPE proposes the same configuration again and again, then reads its ``trials.csv``:

- duplicates: trials recorded with status ``duplicate`` (not trained);
- trial-seconds saved: for each duplicate, the ``wall_time`` of its original (what training it again would
  have cost, the same seed giving the same result);
- trial-seconds spent: the sum of every trial's ``wall_time`` (duplicates included).

    .venv/bin/python benchmarks/duplicate_saving.py --trials 30 --results-dir /tmp/dups
    .venv/bin/python benchmarks/duplicate_saving.py --run /tmp/dups/duplicates   # only the figures of a run
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

SPACE = {
    "name": "duplicates",
    "description": "categorical MNIST-1D space: named schemes, depth, noise on/off",
    "data": {"name": "mnist1d", "seed": 0, "num_samples": 2000},
    "train": {"epochs": 6, "batch_size": 128, "lr": 0.05},
    "search": {"trials": 30, "sampler": "tpe", "scheduler": "asha", "grace_period": 2, "seed": 0},
    "baselines": True,
    "network": {"widths": [8, 16], "steps_per_stage": [1, 2]},
    "scheme": {"family": "named", "names": ["heun", "rk4", "ab2", "ralston"]},
    "noise": [{"kind": "none"}, {"kind": "stochastic_depth", "p_L": 0.8, "shape": "linear"}],
}


def saving(run_dir: Path) -> dict:
    frame = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str, "duplicate_of": str})
    times = frame.set_index("trial_id")["wall_time"]
    duplicates = frame[frame["status"] == "duplicate"]
    saved = float(duplicates["duplicate_of"].map(times).astype(float).sum()) if len(duplicates) else 0.0
    return {"trials": len(frame), "duplicates": len(duplicates), "distinct_trainings": frame["training_id"].nunique(),
            "spent_s": float(frame["wall_time"].sum()), "duplicate_time_s": float(duplicates["wall_time"].sum()),
            "saved_s": saved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--results-dir", default="/tmp/nas-duplicates")
    parser.add_argument("--run", default=None, help="only report the figures of this existing run folder")
    args = parser.parse_args()
    if args.run is None:
        from nas.search import run

        result = run(SPACE, trials=args.trials, results_dir=args.results_dir, progress=False, leaderboard=False)
        run_dir = result.run_dir
    else:
        run_dir = Path(args.run)
    figures = saving(run_dir)
    would_cost = figures["spent_s"] - figures["duplicate_time_s"] + figures["saved_s"]
    print(f"{run_dir}: {figures['trials']} trials, {figures['distinct_trainings']} distinct trainings, "
          f"{figures['duplicates']} duplicates not trained")
    print(f"trial-seconds spent {figures['spent_s']:.1f} (duplicates {figures['duplicate_time_s']:.2f}); without "
          f"duplicate detection {would_cost:.1f}: saved {figures['saved_s']:.1f} "
          f"({100 * figures['saved_s'] / would_cost:.0f}%)")


if __name__ == "__main__":
    main()
