"""Training throughput of ``nas.train.fit`` against a minimal hand-written PyTorch loop.

    python benchmarks/train_throughput.py [--scheme euler] [--epochs 2] [--rounds 7] [--threads 1]

Both sides train the same scheme network (same initial weights) on the same MNIST-1D splits for the same
number of epochs, with the same SGD settings, and score the validation split after every epoch; both are
timed from the call to the return. The two are interleaved in one process, alternating which goes first,
and the script prints the median over rounds of (fit samples/s) / (hand-written samples/s), by wall clock
and by process CPU time (with one thread, CPU time is the steadier figure on a shared machine: it does not
count the time the process waits for a core). Goal: >= 0.95.

Measured per fit configuration:
- ``constant``: constant learning rate, no augmentation: the same work as the hand-written loop;
- ``onecycle``: fit's default schedule (a scheduler step per batch), no augmentation;
- ``onecycle+shift``: fit's defaults, with the ±3-sample shift augmentation (extra work the loop does not do).
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from nas.data import load_dataset  # noqa: E402
from nas.network_kinds import build_network  # noqa: E402
from nas.networks import NetworkSpec  # noqa: E402
from nas.train import TrainConfig, fit, seeded  # noqa: E402


def hand_written_loop(model, data, epochs, batch_size, lr, momentum, weight_decay, seed):
    """The baseline: shuffle by index, forward, cross-entropy, backward, SGD step; validate each epoch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=True,
                                weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    x, y = data.train.x, data.train.y
    val_x, val_y = data.val.x, data.val.y
    n = len(y)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = sum((model(val_x[i:i + 1024]).argmax(1) == val_y[i:i + 1024]).sum().item()
                          for i in range(0, len(val_y), 1024))
        _ = correct / len(val_y)
    return n * epochs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheme", default="euler")
    parser.add_argument("--widths", default="16,32,64")
    parser.add_argument("--steps-per-stage", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    data = load_dataset("mnist1d")
    spec = NetworkSpec(scheme=args.scheme, macro="sequence", in_channels=1, num_classes=10,
                       widths=tuple(int(w) for w in args.widths.split(",")), steps_per_stage=args.steps_per_stage)
    with seeded(0):
        initial = build_network(spec)
    base = dict(epochs=args.epochs, batch_size=args.batch_size, lr=0.05, momentum=0.9, nesterov=True,
                weight_decay=5e-4, seed=0, device="cpu")
    configs = {
        "constant": TrainConfig(**base, schedule="constant", augment=False),
        "onecycle": TrainConfig(**base, schedule="onecycle", augment=False),
        "onecycle+shift": TrainConfig(**base, schedule="onecycle", augment=True),
    }

    def timed(run):
        """(samples/s by wall clock, samples/s by process CPU time)."""
        wall, cpu = time.perf_counter(), time.process_time()
        samples = run(copy.deepcopy(initial))
        return samples / (time.perf_counter() - wall), samples / (time.process_time() - cpu)

    def run_fit(config):
        def run(model):
            result = fit(model, data, config)
            assert result.status == "completed", result.message
            return len(data.train) * config.epochs
        return run

    def run_loop(model):
        return hand_written_loop(model, data, args.epochs, args.batch_size, 0.05, 0.9, 5e-4, 0)

    print(f"{spec.scheme} network, widths {args.widths}, {args.steps_per_stage} steps/stage; MNIST-1D "
          f"{len(data.train)} train / {len(data.val)} val; {args.epochs} epochs per run, batch {args.batch_size}, "
          f"{args.threads} thread(s), {args.rounds} interleaved rounds")
    timed(run_fit(configs["constant"])), timed(run_loop)  # warm-up (first FLOP count, allocator, threads)
    for name, config in configs.items():
        fit_rates, loop_rates = [], []
        for r in range(args.rounds):
            if r % 2:
                fit_rates.append(timed(run_fit(config)))
                loop_rates.append(timed(run_loop))
            else:
                loop_rates.append(timed(run_loop))
                fit_rates.append(timed(run_fit(config)))
        for clock, i in (("wall", 0), ("cpu", 1)):
            ratios = [f[i] / b[i] for f, b in zip(fit_rates, loop_rates)]
            fit_median = statistics.median(f[i] for f in fit_rates)
            loop_median = statistics.median(b[i] for b in loop_rates)
            print(f"fit[{name:<14}] {clock:<4} {fit_median:7.0f} samples/s, hand-written {loop_median:7.0f} "
                  f"samples/s: ratio of medians {fit_median / loop_median:.3f}, median ratio "
                  f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})  goal >= 0.95")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
