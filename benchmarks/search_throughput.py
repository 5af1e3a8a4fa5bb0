"""Search throughput: what the Ray Tune + Optuna driver costs, and what ASHA saves.

Three measurements, each against a baseline measured in the same run:

1. overhead   identical short trials through ``nas.search.run``, one at a time, vs the same trainings back
              to back in this process (build the network, ``fit``; one torch thread). The driver runs N
              and 2N trials; (T(2N) - T(N)) / N is its time per trial without the one-time costs (imports,
              data, worker start-up, Ray start-up, reported apart). Per-trial overhead = that minus the
              back-to-back time per trial.                                             goal <= 1 s
2. utilisation the same with as many concurrent trials as CPUs: CPU time spent inside the trials
              (``cpu_time`` of each trial's metrics.json) / (wall time x CPUs), marginal between the N and
              2N runs (and over the whole 2N run).                                     goal >= 85 %
3. asha       quick.yaml with ASHA vs with no scheduler (same seed and sampler): best validation
              accuracy within 0.5 points at <= 50 % of the epochs.

    MPLBACKEND=Agg RAY_USAGE_STATS_ENABLED=0 .venv/bin/python benchmarks/search_throughput.py [--part all]

Wall times on a shared machine vary with its load; the ratios are what to compare.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def short_space(trials: int, epochs: int, num_samples: int, max_concurrent: int | None) -> dict:
    search = {"trials": trials, "sampler": "random", "scheduler": "none", "cpus_per_trial": 1, "seed": 0}
    if max_concurrent is not None:
        search["max_concurrent"] = max_concurrent
    return {
        "name": "throughput",
        "data": {"name": "mnist1d", "num_samples": num_samples, "seed": 0},
        "train": {"epochs": epochs, "batch_size": 128},
        "search": search,
        "network": {"widths": [8, 16, 32], "steps_per_stage": 1},
        "scheme": {"family": "named", "names": ["euler"]},
    }


def back_to_back(trials: int, epochs: int, num_samples: int) -> float:
    """The same trainings as the driver's trials, one after another in this process."""
    import torch

    from nas.data import load_dataset
    from nas.network_kinds import build_network
    from nas.networks import NetworkSpec
    from nas.train import TrainConfig, fit, seeded

    torch.set_num_threads(1)
    data = load_dataset("mnist1d", num_samples=num_samples, seed=0)
    spec = NetworkSpec(scheme="euler", macro="sequence", in_channels=1, num_classes=10, widths=(8, 16, 32),
                       steps_per_stage=1)
    config = TrainConfig(epochs=epochs, batch_size=128, seed=0)
    fit(build_network(spec), data, TrainConfig(epochs=1, batch_size=128))  # warm-up (first-call costs)
    started = time.perf_counter()
    for _ in range(trials):
        with seeded(0):
            model = build_network(spec)
        fit(model, data, config)
    return time.perf_counter() - started


def _timed_back_to_back(args_tuple) -> tuple[float, float]:
    trials, epochs, num_samples = args_tuple
    cpu = time.process_time()
    wall = back_to_back(trials, epochs, num_samples)
    return wall, time.process_time() - cpu


def parallel_processes(processes: int, trials: int, epochs: int, num_samples: int) -> float:
    """Wall time of ``processes`` plain Python processes each training ``trials`` back to back at once:
    what this machine (shared with whatever else runs on it) gives to concurrent trainings without Ray."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        # each process times only its trainings (imports, data and warm-up are outside its clock)
        timings = pool.map(_timed_back_to_back, [(trials, epochs, num_samples)] * processes)
    return max(wall for wall, _ in timings)


def through_driver(space: dict, results: Path) -> tuple[float, list[dict]]:
    from nas.search import run

    started = time.perf_counter()
    run(space, results_dir=results, progress=False, leaderboard=False)
    wall = time.perf_counter() - started
    folder = results / space["name"]
    metrics = [json.loads(p.read_text()) for p in sorted((folder / "trials").glob("*/metrics.json"))]
    return wall, metrics


def part_overhead(args, results: Path) -> None:
    import ray

    cpus = os.cpu_count() or 1
    started = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    startup = time.perf_counter() - started
    n = args.trials
    try:
        baseline = back_to_back(n, args.epochs, args.num_samples)
        per_trial = baseline / n
        # N and 2N trials one at a time: the difference is N trials' worth of driver time, without the
        # one-time costs (imports, data set, worker start-up, Tune set-up).
        walls, cpu = {}, {}
        for count in (n, 2 * n):
            space = short_space(count, args.epochs, args.num_samples, max_concurrent=1)
            walls[count], metrics = through_driver(space, results / f"serial_{count}")
            cpu[count] = sum(m.get("cpu_time", 0.0) for m in metrics)
        marginal = (walls[2 * n] - walls[n]) / n
        overhead = marginal - per_trial
        print(f"overhead: trials of {args.epochs} epochs on {args.num_samples} MNIST-1D samples, one at a time")
        print(f"  back to back in one process    {per_trial:6.2f} s per trial ({n} trials in {baseline:.1f} s)")
        print(f"  through the driver             {marginal:6.2f} s per trial "
              f"(({walls[2 * n]:.1f} s for {2 * n} - {walls[n]:.1f} s for {n}) / {n})")
        print(f"  per-trial overhead             {overhead:6.2f} s   (goal <= 1 s: {'met' if overhead <= 1 else 'NOT met'})")
        print(f"  one-time cost of a search      {walls[n] - n * marginal:6.1f} s   (imports, data, workers, Tune) "
              f"+ Ray start-up {startup:.1f} s")

        walls_p, cpu_p = {}, {}
        for count in (n, 2 * n):
            space = short_space(count, args.epochs, args.num_samples, max_concurrent=None)
            walls_p[count], metrics = through_driver(space, results / f"parallel_{count}")
            cpu_p[count] = sum(m.get("cpu_time", 0.0) for m in metrics)
        utilisation = (cpu_p[2 * n] - cpu_p[n]) / ((walls_p[2 * n] - walls_p[n]) * cpus)
        overall = cpu_p[2 * n] / (walls_p[2 * n] * cpus)
        print(f"utilisation: {cpus} trials at once on {cpus} CPUs (load average before: "
              f"{os.getloadavg()[0]:.1f}; other processes share these CPUs)")
        print(f"  CPU time inside trials / (wall x CPUs), marginal {100 * utilisation:5.1f} %  (goal >= 85 %: "
              f"{'met' if utilisation >= 0.85 else 'NOT met'}); whole search of {2 * n} trials {100 * overall:5.1f} %")
        speed_up = (walls[2 * n] - walls[n]) / (walls_p[2 * n] - walls_p[n])
        print(f"  speed-up of {cpus} at once vs one at a time  {speed_up:5.2f} x  (ideal {cpus} x)")
        # The ceiling on this machine right now: the same trainings in plain processes, no Ray at all.
        per_process = max(1, n // cpus)
        raw = parallel_processes(cpus, per_process, args.epochs, args.num_samples)
        raw_speed_up = cpus * per_process * per_trial / raw
        print(f"  plain processes, {cpus} at once (no Ray): {raw_speed_up:5.2f} x  -> the driver reaches "
              f"{100 * speed_up / raw_speed_up:5.1f} % of what the machine gives concurrent trainings")
    finally:
        ray.shutdown()


def part_asha(args, results: Path) -> None:
    import pandas as pd

    from nas.search import run

    space = ROOT / "search_spaces" / "quick.yaml"
    outcome = {}
    for scheduler in ("asha", "none"):
        started = time.perf_counter()
        run(space, name=f"quick_{scheduler}", scheduler=scheduler, results_dir=results, progress=False,
            leaderboard=False)
        wall = time.perf_counter() - started
        frame = pd.read_csv(results / f"quick_{scheduler}" / "trials.csv")
        outcome[scheduler] = (frame["best_val_acc"].max(), int(frame["epochs_run"].sum()), wall, len(frame))
    (acc_a, epochs_a, wall_a, n_a), (acc_n, epochs_n, wall_n, n_n) = outcome["asha"], outcome["none"]
    gap = 100 * (acc_n - acc_a)
    share = epochs_a / epochs_n
    print(f"asha vs no scheduler on quick.yaml ({n_a} / {n_n} trials)")
    print(f"  no scheduler  best val acc {acc_n:.4f}  epochs {epochs_n:4d}  wall {wall_n:6.1f} s")
    print(f"  ASHA          best val acc {acc_a:.4f}  epochs {epochs_a:4d}  wall {wall_a:6.1f} s")
    print(f"  accuracy gap {gap:+.2f} points (goal within 0.5: {'met' if abs(gap) <= 0.5 or gap < 0 else 'NOT met'}),"
          f" epochs {100 * share:.0f} % (goal <= 50 %: {'met' if share <= 0.5 else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("overhead", "asha", "all"), default="all")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--keep", help="keep the run folders here instead of a temporary folder")
    args = parser.parse_args()
    results = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="nas-bench-"))
    try:
        if args.part in ("overhead", "all"):
            part_overhead(args, results)
        if args.part in ("asha", "all"):
            part_asha(args, results)
    finally:
        if not args.keep:
            shutil.rmtree(results, ignore_errors=True)


if __name__ == "__main__":
    main()
