"""Cost of one CIFAR-10 trial of ``search_spaces/cifar10.yaml``: measured on this CPU, estimated for one GPU.

    python benchmarks/cifar10_trial_cost.py [--batches 3] [--batch-size 128] [--threads 2]
        [--gpu-tflops 8.1] [--gpu-efficiency 0.3] [--schemes euler,rk4] [--steps 3,9]

For each scheme and depth of the space (``steps_per_stage`` 3 / 5 / 9 = depth 20 / 32 / 56; ``euler`` is
the ResNet, ``rk4`` costs four residual evaluations per step), it builds the network on 32x32x3 inputs and

- counts forward FLOPs per image with ``torch.utils.flop_counter`` (a matmul / convolution is 2·M·N·K);
  training costs about 3x forward per image (backward ≈ 2x forward: gradients of inputs and of weights);
- times forward + backward + SGD step on random batches on this CPU (median of ``--batches`` after one
  warm-up batch);
- states, for the space's budget (``train.epochs`` passes over the 50,000 images; the validation split is
  taken from them, so 50,000 is an upper bound), the training FLOPs of one trial, the CPU time it would
  take at the measured rate, and an **estimate** for one GPU: FLOPs / (peak FP32 TFLOP/s × efficiency).
  The defaults are an NVIDIA T4 (8.1 TFLOP/s FP32 peak) at 30% sustained efficiency, typical for small
  ResNets in FP32 with batch 128; data loading and the per-epoch validation pass are not counted. Give your
  GPU's figures with ``--gpu-tflops`` / ``--gpu-efficiency``. Nothing is run on a GPU.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

from nas.network_kinds import build_network  # noqa: E402
from nas.networks import NetworkSpec  # noqa: E402
from nas.search.space import load_space, widths_from_key  # noqa: E402
from nas.train import forward_flops  # noqa: E402

SPACE = Path(__file__).resolve().parents[1] / "search_spaces" / "cifar10.yaml"
TRAIN_IMAGES = 50_000


def measure(scheme: str, steps: int, widths, batches: int, batch_size: int) -> dict:
    model = build_network(NetworkSpec(scheme=scheme, macro="image", widths=tuple(widths), steps_per_stage=steps))
    flops = forward_flops(model, torch.randn(2, 3, 32, 32))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(batch_size, 3, 32, 32), torch.randint(0, 10, (batch_size,))
    times = []
    for i in range(batches + 1):  # the first batch warms up the kernels and is not counted
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if i:
            times.append(time.perf_counter() - started)
    return {"scheme": scheme, "depth": 6 * steps + 2, "params": sum(p.numel() for p in model.parameters()),
            "forward_flops": flops, "cpu_s_per_batch": statistics.median(times)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the space's train.batch_size")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--schemes", default="euler,rk4")
    parser.add_argument("--steps", default=None, help="steps per stage, comma list (default: the space's)")
    parser.add_argument("--gpu-tflops", type=float, default=8.1, help="peak FP32 TFLOP/s of the GPU (T4: 8.1)")
    parser.add_argument("--gpu-efficiency", type=float, default=0.3, help="sustained fraction of the peak")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    space = load_space(str(SPACE))
    epochs, batch_size = space.train["epochs"], args.batch_size or space.train["batch_size"]
    widths_domain, steps_domain = space.network.widths, space.network.steps_per_stage
    key = widths_domain.value if widths_domain.mode == "constant" else widths_domain.choices[-1]  # the widest
    widths = widths_from_key(key)
    steps = [int(s) for s in args.steps.split(",")] if args.steps else \
        ([steps_domain.value] if steps_domain.mode == "constant" else list(steps_domain.choices))
    print(f"{SPACE.name}: {epochs} epochs x {TRAIN_IMAGES:,} images, batch {batch_size}, widths {list(widths)}; "
          f"CPU: {torch.get_num_threads()} thread(s); GPU estimate: {args.gpu_tflops:g} TFLOP/s x "
          f"{args.gpu_efficiency:g}")
    print(f"{'scheme':8} {'depth':>5} {'params':>8} {'fwd MFLOP/img':>13} {'CPU s/batch':>11} "
          f"{'trial PFLOP':>11} {'CPU h/trial':>11} {'GPU h/trial (est.)':>18}")
    for scheme in args.schemes.split(","):
        for step in steps:
            row = measure(scheme, step, widths, args.batches, batch_size)
            train_flops = 3 * row["forward_flops"] * TRAIN_IMAGES * epochs
            cpu_hours = row["cpu_s_per_batch"] * (TRAIN_IMAGES / batch_size) * epochs / 3600
            gpu_hours = train_flops / (args.gpu_tflops * 1e12 * args.gpu_efficiency) / 3600
            print(f"{scheme:8} {row['depth']:>5} {row['params']:>8,} {row['forward_flops'] / 1e6:>13.1f} "
                  f"{row['cpu_s_per_batch']:>11.3f} {train_flops / 1e15:>11.2f} {cpu_hours:>11.1f} {gpu_hours:>18.2f}")


if __name__ == "__main__":
    main()
