"""Noise injection as a regulariser on 2-D binary classification (Sun, Tao, Du 2018, their toy example).

One scheme network (``mlp`` macro) is trained on a small, noisy ``toy2d`` training set with no noise and
with each noise kind of ``nas.schemes.noise``, over several seeds. The table gives train accuracy, test
accuracy, the generalisation gap (train − test) and the paired change of test accuracy against no noise
(mean ± standard deviation over seeds), and the total injected variance Σ h² Var(η_n) (Σ h σ_n² for
gaussian) of each schedule.

Training is full-batch gradient descent with weight decay off, so that the injected noise is the only
source of randomness and the only explicit regulariser (mini-batch noise, batch norm's batch statistics
included, already regularises such a small problem). Accuracies are measured in eval mode (the
deterministic expectation network). Each seed chooses the network initialisation, the training noise and
the validation split; the point cloud and the test set are the same for every run.

    MPLBACKEND=Agg .venv/bin/python examples/stochastic_toy2d.py            # ≈ 1–3 minutes on one core
    .venv/bin/python examples/stochastic_toy2d.py --scheme rk4 --seeds 3
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from nas.data import load_dataset
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.schemes.noise import NoiseSchedule
from nas.train import TrainConfig, evaluate, fit, seeded

# The schedules compared: Huang et al.'s linear stochastic depth with p_L = 0.5, and comparable strengths
# of the other kinds (Var(η) of the last step: 0.25, 0.25, 0.33; gaussian σ comparable to |f|).
SCHEDULES = {
    "none": None,
    "stochastic_depth": NoiseSchedule("stochastic_depth", "linear", p_L=0.5),
    "dropout": NoiseSchedule("dropout", "constant", p_L=0.8),
    "shake": NoiseSchedule("shake", "constant", a=1.0),
    "gaussian": NoiseSchedule("gaussian", "linear", sigma_max=0.5),
}


def run(args) -> list[dict]:
    rows = []
    for name, noise in SCHEDULES.items():
        for seed in range(args.seeds):
            data = load_dataset("toy2d", seed=seed, kind=args.kind, noise=args.data_noise,
                                num_samples=args.num_samples, num_test_samples=args.num_test)
            spec = NetworkSpec(scheme=args.scheme, macro="mlp", in_channels=2, num_classes=2,
                               widths=(args.width,), steps_per_stage=args.steps, h=args.h, noise=noise)
            with seeded(seed):
                model = build_network(spec)
            batch_size = args.batch_size or len(data.train)
            config = TrainConfig(epochs=args.epochs, batch_size=batch_size, lr=args.lr, weight_decay=0.0,
                                 schedule="cosine", augment=False, seed=seed, device="cpu")
            result = fit(model, data, config)
            train, test = evaluate(model, data.train)["acc"], evaluate(model, data.test)["acc"]
            rows.append({"noise": name, "seed": seed, "status": result.status, "train": train, "test": test,
                         "total_variance": 0.0 if noise is None else noise.total_variance(spec.total_steps, spec.h)})
    return rows


def _mean_sd(values) -> str:
    values = [100 * v for v in values]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):6.1f} ± {sd:4.1f}"


def table(rows: list[dict]) -> str:
    """Mean ± sd over seeds; Δ test is paired: each seed has the same initial weights and data for every kind."""
    baseline = {r["seed"]: r["test"] for r in rows if r["noise"] == "none"}
    lines = [f"{'noise':<18} {'train acc %':>13} {'test acc %':>13} {'gap (train−test)':>16} "
             f"{'Δ test vs none':>15} {'Σ var':>7}  runs", "-" * 96]
    for name in SCHEDULES:
        group = [r for r in rows if r["noise"] == name]
        failed = sum(r["status"] != "completed" for r in group)
        lines.append(f"{name:<18} {_mean_sd([r['train'] for r in group]):>13} "
                     f"{_mean_sd([r['test'] for r in group]):>13} "
                     f"{_mean_sd([r['train'] - r['test'] for r in group]):>16} "
                     f"{_mean_sd([r['test'] - baseline[r['seed']] for r in group]):>15} "
                     f"{group[0]['total_variance']:7.3f}  {len(group)}{f' ({failed} not completed)' if failed else ''}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scheme", default="euler", help="registered scheme name (default euler = ResNet)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--kind", default="moons", help="toy2d point cloud: circles | moons | spirals")
    parser.add_argument("--data-noise", type=float, default=0.3, help="std of the noise on the points")
    parser.add_argument("--num-samples", type=int, default=100,
                        help="train + validation pool, 80%% for training (small, so that it overfits)")
    parser.add_argument("--num-test", type=int, default=2000)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6, help="scheme steps (residual blocks)")
    parser.add_argument("--h", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=400, help="= gradient steps with the full batch")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the whole training set")
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = run(args)
    print(f"toy2d {args.kind} (point noise {args.data_noise}), {args.num_samples} train+val points, "
          f"{args.num_test} test points; scheme {args.scheme}, width {args.width}, {args.steps} steps, h={args.h}; "
          f"{args.epochs} epochs, batch {args.batch_size or 'full'}, lr {args.lr}, {args.seeds} seeds; "
          f"{time.perf_counter() - start:.0f} s")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
