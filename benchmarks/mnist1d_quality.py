"""MNIST-1D test accuracy of scheme networks trained with the same budget, over several seeds.

    python benchmarks/mnist1d_quality.py [--schemes euler,lm_resnet] [--seeds 0,1,2] [--widths 16,32,64]
                                         [--steps-per-stage 2] [--epochs 30] [--threads 1] [--json out.json]

Every run: the published MNIST-1D split (4,000 train+val / 1,000 test; validation 800 of the 4,000, chosen
with data seed 0 for all runs), the sequence macro-architecture, ``TrainConfig`` defaults otherwise (SGD
Nesterov 0.9, one-cycle to lr 0.05, batch 128, weight decay 5e-4, ±3-sample shift augmentation); the run
seed sets initialisation, shuffling and augmentation. Prints one line per run and a mean ± std (sample
standard deviation) table. Published baselines (Greydanus 2020): CNN 94%, MLP 68%.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

from nas.data import load_dataset  # noqa: E402
from nas.networks import NetworkSpec, build_network  # noqa: E402
from nas.train import TrainConfig, evaluate, fit, forward_flops, seeded  # noqa: E402


def _mean_std(values):
    mean = statistics.mean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemes", default="euler,lm_resnet")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--widths", default="16,32,64")
    parser.add_argument("--steps-per-stage", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write every run's figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    widths = tuple(int(w) for w in args.widths.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    data = load_dataset("mnist1d", seed=0)
    print(f"MNIST-1D {data.sizes()}; widths {args.widths}, {args.steps_per_stage} steps/stage, {args.epochs} epochs, "
          f"{args.threads} thread(s)", flush=True)

    # The first FLOP count in a process imports torch._dynamo (≈ 1.5 s): pay it before any run is timed.
    forward_flops(torch.nn.Linear(1, 1), torch.zeros(2, 1))
    runs = []
    for scheme in args.schemes.split(","):
        for seed in seeds:
            spec = NetworkSpec(scheme=scheme, macro="sequence", in_channels=1, num_classes=10, widths=widths,
                               steps_per_stage=args.steps_per_stage)
            with seeded(seed):
                model = build_network(spec)
            config = TrainConfig(epochs=args.epochs, seed=seed, device="cpu")
            started = time.perf_counter()
            result = fit(model, data, config)
            wall = time.perf_counter() - started
            test = evaluate(model, data.test)
            run = {"scheme": scheme, "seed": seed, "status": result.status, "epochs": result.epochs_run,
                   "test_acc": test["acc"], "val_acc": result.final_val_acc, "wall_s": wall,
                   "params": result.params, "flops": result.flops}
            runs.append(run)
            print(f"{scheme:<10} seed {seed}: {result.status}, test acc {100 * test['acc']:.2f}%, "
                  f"val acc {100 * result.final_val_acc:.2f}%, {result.epochs_run} epochs, {wall:.1f} s, "
                  f"{result.params:,} params", flush=True)

    print()
    print(f"| scheme | params | epochs | test acc (mean ± std, {len(seeds)} seeds) | val acc | wall time per run |")
    print("|---|---|---|---|---|---|")
    for scheme in args.schemes.split(","):
        mine = [r for r in runs if r["scheme"] == scheme]
        test_mean, test_std = _mean_std([100 * r["test_acc"] for r in mine])
        val_mean, val_std = _mean_std([100 * r["val_acc"] for r in mine])
        wall_mean, wall_std = _mean_std([r["wall_s"] for r in mine])
        print(f"| {scheme} | {mine[0]['params']:,} | {args.epochs} | {test_mean:.2f} ± {test_std:.2f}% | "
              f"{val_mean:.2f} ± {val_std:.2f}% | {wall_mean:.1f} ± {wall_std:.1f} s |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(runs, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
