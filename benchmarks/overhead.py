"""Train-step time of scheme networks against hand-written networks of identical shape and weights.

    python benchmarks/overhead.py [--rounds 15] [--steps 10] [--threads 1]

Prints, per pair, the median over interleaved rounds of (scheme network time / hand-written time) for one
SGD training step (forward + backward + update) on an MNIST-1D-shaped batch. Goal: ≤ 1.05 on CPU.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from nas import schemes
from nas.network_kinds import build_network
from nas.networks import NetworkSpec
from nas.networks.reference import ReferenceLMResNet, ReferenceResNet, copy_weights


def train_step_timer(model, x, y, steps):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        start = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()
        return time.perf_counter() - start

    return run


def compare(name, candidate, baseline, x, y, rounds, steps):
    copy_weights(baseline, candidate)
    run_c, run_b = train_step_timer(candidate, x, y, steps), train_step_timer(baseline, x, y, steps)
    run_c(), run_b()  # warm-up
    ratios = []
    for r in range(rounds):
        # Alternate the order so drifts in machine load hit both sides alike.
        if r % 2:
            tc, tb = run_c(), run_b()
        else:
            tb, tc = run_b(), run_c()
        ratios.append(tc / tb)
    med = statistics.median(ratios)
    print(f"{name:<28} median ratio {med:.3f}  (min {min(ratios):.3f}, max {max(ratios):.3f}, {rounds} rounds × {steps} steps)")
    return med


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = torch.randn(args.batch, 1, 40), torch.randint(0, 10, (args.batch,))
    widths, blocks = (16, 32, 64), 2
    print(f"MNIST-1D-shaped batch {args.batch}×1×40, widths {widths}, {blocks} steps per stage, {args.threads} thread(s)")
    euler = build_network(NetworkSpec("euler", macro="sequence", widths=widths, steps_per_stage=blocks))
    compare("euler vs hand-written ResNet", euler, ReferenceResNet("sequence", 1, 10, widths, blocks), x, y,
            args.rounds, args.steps)
    lm = build_network(NetworkSpec(schemes.get("lm_resnet", k=0.0, learn="layer"), macro="sequence", widths=widths,
                                   steps_per_stage=blocks))
    compare("lm_resnet vs hand-written", lm, ReferenceLMResNet("sequence", 1, 10, widths, blocks, k=0.0), x, y,
            args.rounds, args.steps)


if __name__ == "__main__":
    main()
