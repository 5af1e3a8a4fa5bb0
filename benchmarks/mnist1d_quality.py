"""MNIST-1D test accuracy of scheme networks trained with the same budget, over several seeds.

    python benchmarks/mnist1d_quality.py [--schemes euler,lm_resnet] [--seeds 0,1,2] [--widths 16,32,64]
                                         [--steps-per-stage 2] [--epochs 30] [--threads 1] [--json out.json]
                                         [--tie stage --norms per_step,shared,none] [--h 1.0]

A scheme is a registered name or ``name:param=value`` (``lm_resnet:k=0.3``: k fixed at 0.3). With
``--tie stage`` (one residual function per stage, ``nas.networks.tying``) every norm of ``--norms`` is run and
each tied network is also scored with 2× and 4× its steps of size h/2, h/4 (``nas.refinement``): a network
that learned an ODE keeps its accuracy under refinement.

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
from nas.network_kinds import build_network  # noqa: E402
from nas.networks import NetworkSpec  # noqa: E402
from nas.refinement import refinement_table  # noqa: E402
from nas.schemes import get  # noqa: E402
from nas.train import TrainConfig, evaluate, fit, forward_flops, seeded  # noqa: E402


def _mean_std(values):
    mean = statistics.mean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def scheme_of(text: str):
    """``name`` or ``name:param=value,...`` -> the registered scheme with those parameters."""
    name, _, params = text.partition(":")
    values = dict(item.split("=", 1) for item in params.split(";") if item)
    return get(name, **{key: float(value) for key, value in values.items()})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemes", default="euler,lm_resnet")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--widths", default="16,32,64")
    parser.add_argument("--steps-per-stage", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write every run's figures here")
    parser.add_argument("--tie", default="none", choices=("none", "stage"))
    parser.add_argument("--norms", default="per_step", help="comma-separated NetworkSpec.norm values")
    parser.add_argument("--h", type=float, default=1.0)
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
    for norm in args.norms.split(","):
        for scheme in args.schemes.split(","):
            for seed in seeds:
                runs.append(one_run(data, scheme, norm, seed, widths, args))

    print()
    print(f"| norm | scheme | params | epochs | test acc (mean ± std, {len(seeds)} seeds) | at 2× steps | at 4× steps "
          "| wall time per run |")
    print("|---|---|---|---|---|---|---|---|")
    for norm in args.norms.split(","):
        for scheme in args.schemes.split(","):
            mine = [r for r in runs if r["scheme"] == scheme and r["norm"] == norm]
            cells = []
            for key in ("test_acc", "test_acc_2x", "test_acc_4x"):
                values = [100 * r[key] for r in mine if r.get(key) is not None]
                cells.append("—" if not values else "{:.2f} ± {:.2f}%".format(*_mean_std(values)))
            wall_mean, wall_std = _mean_std([r["wall_s"] for r in mine])
            print(f"| {norm} | {scheme} | {mine[0]['params']:,} | {args.epochs} | {' | '.join(cells)} | "
                  f"{wall_mean:.1f} ± {wall_std:.1f} s |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(runs, handle, indent=2)
    return 0


def one_run(data, scheme, norm, seed, widths, args) -> dict:
    spec = NetworkSpec(scheme=scheme_of(scheme), macro="sequence", in_channels=1, num_classes=10, widths=widths,
                       steps_per_stage=args.steps_per_stage, h=args.h, tie=args.tie, norm=norm)
    with seeded(seed):
        model = build_network(spec)
    config = TrainConfig(epochs=args.epochs, seed=seed, device="cpu")
    started = time.perf_counter()
    result = fit(model, data, config)
    wall = time.perf_counter() - started
    test = evaluate(model, data.test)
    run = {"scheme": scheme, "norm": norm, "tie": args.tie, "seed": seed, "status": result.status,
           "epochs": result.epochs_run, "test_acc": test["acc"], "val_acc": result.final_val_acc, "wall_s": wall,
           "params": result.params, "flops": result.flops}
    if args.tie == "stage":
        xs, ys = zip(*data.test.batches(1024))
        rows = refinement_table(model, torch.cat(xs).float(), torch.cat(ys), (1, 2, 4))
        run.update(test_acc_2x=rows[1].accuracy, test_acc_4x=rows[2].accuracy,
                   change_2x=rows[1].change, change_4x=rows[2].change)
    refined = "" if args.tie != "stage" else (f", refined 2× {100 * run['test_acc_2x']:.2f}% / "
                                              f"4× {100 * run['test_acc_4x']:.2f}%")
    print(f"{norm:<8} {scheme:<14} seed {seed}: {result.status}, test acc {100 * test['acc']:.2f}%{refined}, "
          f"val acc {100 * result.final_val_acc:.2f}%, {result.epochs_run} epochs, {wall:.1f} s, "
          f"{result.params:,} params", flush=True)
    return run


if __name__ == "__main__":
    raise SystemExit(main())
