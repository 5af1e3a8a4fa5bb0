"""Peak memory and time of one training step (forward + backward) of reversible networks, plain autograd
against the memory-efficient mode (backward by inversion), as the depth grows.

    .venv/bin/python benchmarks/reversible_memory.py [--families hamiltonian leapfrog leapfrog2 NAME:PARAM=VALUE ...]
        [--depths 8 20 50 100 200] [--batch 64 --width 32 --length 256] [--repeats 5] [--drift]

Every measurement runs in a fresh subprocess (one CPU thread) and reports two memory figures:

- ``saved``: the peak of the activation bytes autograd holds (distinct storages saved for backward,
  parameters excluded, tracked live with ``torch.autograd.graph.saved_tensors_hooks`` through forward
  *and* backward, so the memory-efficient mode's per-step recomputation counts). Deterministic.
- ``rss``: the rise of the process's peak resident set size during the step over its RSS just before it
  (``/proc/self/clear_refs`` resets the peak, VmHWM, first), after a warm-up step: the model, the data
  and the gradient buffers are resident already. glibc's mmap threshold is fixed so that RSS follows live
  memory. In memory-efficient mode this includes the stage's parameter gradients, which the custom
  autograd Function returns all at once at the end of its backward (``param MB``, growing with depth).

The step time ratio is measured in one more subprocess that builds both networks and interleaves their
steps (the fastest of ``--repeats`` after a warm-up step each), so both see the same machine load. The
network is one stage (widths = (width,)) of ``depth`` steps, MNIST-1D shaped input (batch, 1, length),
the paper's residual form per scheme. The schemes are every registered scheme whose family supports the
memory-efficient mode (asked from the registry: a new reversible family is measured without editing this
script); ``NAME:PARAM=VALUE,...`` measures a parametrised scheme, ``nas.schemes.get(NAME, PARAM=VALUE)``. Goals (issue 8): memory-efficient peak flat in depth (within 10%
from depth 20 to 200), ≤ 25% of plain autograd at depth ≥ 100; step time ≤ 1.6× plain autograd.

``--drift`` instead prints the round-off drift of the inversion over 100 steps (float32 and float64):
the relative error of the stage input reconstructed from the output, and the relative difference between
memory-efficient and plain gradients in float32.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODES = ("plain", "efficient", "time")


def reversible_schemes() -> list[str]:
    """The registered schemes whose family supports the memory-efficient mode (asked from the registry)."""
    from nas import schemes
    from nas.families.registry import family_of

    return [name for name in schemes.names()
            if family_of(schemes.get(name)).memory_efficient_reason(schemes.get(name)) is None]


def scheme_of(text: str):
    """``NAME`` or ``NAME:PARAM=VALUE,...`` (values read exactly, e.g. 0.9 or 9/10) as a reversible scheme."""
    from fractions import Fraction

    from nas import schemes
    from nas.families.registry import family_of

    name, _, rest = text.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        params[key] = Fraction(value)
    scheme = schemes.get(name, **params)
    reason = family_of(scheme).memory_efficient_reason(scheme)
    if reason is not None:
        raise ValueError(f"{text}: no memory-efficient mode ({reason})")
    return scheme


def _build(family, depth, mode, width, h=0.2):
    from nas.families.registry import family_of
    from nas.network_kinds import build_network
    from nas.networks import NetworkSpec

    scheme = scheme_of(family)
    spec = NetworkSpec(scheme=scheme, macro="sequence", in_channels=1, num_classes=10, widths=(width,),
                       steps_per_stage=depth, h=h, residual=family_of(scheme).paper_residual(scheme),
                       memory_efficient=(mode == "efficient"))
    return build_network(spec)


class SavedBytes:
    """Live and peak bytes of the distinct storages autograd saves (parameters excluded)."""

    def __init__(self, params):
        self.params = {p.untyped_storage().data_ptr() for p in params}
        self.refs: dict[int, list] = {}  # storage pointer -> [holders alive, bytes]
        self.live = self.peak = 0

    def pack(self, tensor):
        key = tensor.untyped_storage().data_ptr()
        if key in self.params:
            return tensor
        return _Held(tensor, key, self)

    @staticmethod
    def unpack(held):
        return held.tensor if isinstance(held, _Held) else held

    def add(self, key, nbytes):
        entry = self.refs.setdefault(key, [0, nbytes])
        if entry[0] == 0:
            self.live += nbytes
            self.peak = max(self.peak, self.live)
        entry[0] += 1

    def remove(self, key):
        entry = self.refs[key]
        entry[0] -= 1
        if entry[0] == 0:
            self.live -= entry[1]
            del self.refs[key]


class _Held:
    __slots__ = ("tensor", "key", "counter")

    def __init__(self, tensor, key, counter):
        self.tensor, self.key, self.counter = tensor, key, counter
        counter.add(key, tensor.untyped_storage().nbytes())

    def __del__(self):
        self.counter.remove(self.key)


def _training_step(net, x, target):
    from torch.nn import functional as F

    net.zero_grad(set_to_none=False)
    F.cross_entropy(net(x), target).backward()


def _data(batch, length):
    import torch

    torch.manual_seed(1)
    return torch.randn(batch, 1, length), torch.randint(0, 10, (batch,))


def _status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak_rss():
    """Reset the peak RSS (VmHWM, and with it ru_maxrss) to the current RSS (Linux ≥ 4.0, proc(5))."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def worker(family, depth, mode, batch, width, length, repeats):
    """One measurement in this (fresh) process; prints a JSON line.

    ``plain``, ``efficient``: saved activation bytes and peak RSS of one training step;
    ``time``: both modes built here, their steps interleaved so that machine load hits both alike.
    """
    import gc

    import torch

    torch.set_num_threads(1)
    x, target = _data(batch, length)
    result = {"family": family, "depth": depth, "mode": mode}
    if mode == "time":
        nets = {}
        for name in ("plain", "efficient"):
            torch.manual_seed(0)
            nets[name] = _build(family, depth, name, width).train()
            _training_step(nets[name], x, target)  # warm-up
        times = {name: [] for name in nets}
        for _ in range(repeats):
            for name, net in nets.items():
                start = time.perf_counter()
                _training_step(net, x, target)
                times[name].append(time.perf_counter() - start)
        # The minimum: on a shared machine, load only ever adds time to a step.
        result.update({f"seconds_{name}": min(t) for name, t in times.items()})
    else:
        torch.manual_seed(0)
        net = _build(family, depth, mode, width).train()
        # Warm-up: oneDNN kernels and caches, and the gradient buffers, which stay allocated from here on
        # (zero_grad keeps them), so the peak below is what the step adds to a model ready to train.
        _training_step(net, x, target)
        counter = SavedBytes(net.parameters())
        with torch.autograd.graph.saved_tensors_hooks(counter.pack, counter.unpack):
            _training_step(net, x, target)
        result["saved_bytes"] = counter.peak
        gc.collect()
        _reset_peak_rss()
        before = _status_kb("VmRSS")
        _training_step(net, x, target)
        result["rss_peak_kb"] = _status_kb("VmHWM") - before
        result["stage_parameter_bytes"] = sum(p.numel() * p.element_size() for p in net.stages.parameters())
    print(json.dumps(result))


def measure(family, depth, mode, args):
    command = [sys.executable, __file__, "--worker", family, str(depth), mode, "--batch", str(args.batch),
               "--width", str(args.width), "--length", str(args.length), "--repeats", str(args.repeats)]
    # A fixed mmap threshold: large blocks are mapped and unmapped, so RSS follows live memory instead of
    # glibc heap fragmentation (the dynamic threshold would otherwise grow and keep freed blocks resident).
    # Timing runs with the same setting in both modes.
    env = dict(os.environ, OMP_NUM_THREADS="1", MALLOC_MMAP_THRESHOLD_="131072")
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def memory_table(args):
    rows = []
    header = (f"{'family':<12}{'depth':>6} | {'saved MB plain':>14}{'efficient':>10}{'ratio':>7} | "
              f"{'RSS MB plain':>12}{'efficient':>10}{'ratio':>7}{'param MB':>9} | "
              f"{'step s plain':>12}{'efficient':>10}{'ratio':>7}")
    print(f"batch {args.batch}, width {args.width}, length {args.length}, one stage, one thread, "
          f"step time: fastest of {args.repeats} interleaved steps")
    print(header)
    print("-" * len(header))
    for family in args.families:
        for depth in args.depths:
            plain, eff, timing = (measure(family, depth, mode, args) for mode in MODES)
            row = {
                "family": family, "depth": depth,
                "saved_plain": plain["saved_bytes"] / 2**20, "saved_eff": eff["saved_bytes"] / 2**20,
                "rss_plain": plain["rss_peak_kb"] / 1024, "rss_eff": eff["rss_peak_kb"] / 1024,
                "parameters": eff["stage_parameter_bytes"] / 2**20,
                "t_plain": timing["seconds_plain"], "t_eff": timing["seconds_efficient"],
            }
            rows.append(row)
            print(f"{family:<12}{depth:>6} | {row['saved_plain']:>14.1f}{row['saved_eff']:>10.1f}"
                  f"{row['saved_eff'] / row['saved_plain']:>7.1%} | {row['rss_plain']:>12.1f}{row['rss_eff']:>10.1f}"
                  f"{row['rss_eff'] / row['rss_plain']:>7.1%}{row['parameters']:>9.2f} | "
                  f"{row['t_plain']:>12.3f}{row['t_eff']:>10.3f}"
                  f"{row['t_eff'] / row['t_plain']:>7.2f}", flush=True)
    print()
    for family in args.families:
        mine = [r for r in rows if r["family"] == family]
        for r in mine:  # the efficient backward returns the stage's parameter gradients all at once
            r["rss-param_eff"], r["rss-param_plain"] = r["rss_eff"] - r["parameters"], r["rss_plain"]
        for key, label in (("saved", "saved"), ("rss", "RSS"), ("rss-param", "RSS − param")):
            flat = [r[f"{key}_eff"] for r in mine if r["depth"] >= 20]
            spread = (max(flat) - min(flat)) / min(flat) if flat and min(flat) > 0 else float("nan")
            deep = [r[f"{key}_eff"] / r[f"{key}_plain"] for r in mine if r["depth"] >= 100]
            worst = max(deep) if deep else float("nan")
            verdict = lambda ok, value: "not measured" if value != value else ("met" if ok else "NOT met")  # noqa: E731
            print(f"{family:<12}{label:>11}: efficient spread over depth ≥ 20 {spread:6.1%} (goal ≤ 10%: "
                  f"{verdict(spread <= 0.10, spread)}); efficient/plain at depth ≥ 100 ≤ {worst:6.1%} "
                  f"(goal ≤ 25%: {verdict(worst <= 0.25, worst)})")
        worst_time = max(r["t_eff"] / r["t_plain"] for r in mine)
        print(f"{family:<12}       time: efficient/plain ≤ {worst_time:.2f}× (goal ≤ 1.6×: "
              f"{'met' if worst_time <= 1.6 else 'NOT met'})")


def drift_table(args, steps=100):
    import torch

    torch.set_num_threads(1)
    print(f"round-off drift of the inversion over {steps} steps (one stage, width 16, batch 8, length 32, "
          "train mode, paper residual forms); relative errors max|Δ| / max|x|")
    header = (f"{'family':<12}{'h':>5} | {'|x_N|max':>9} | {'recon f64':>10}{'recon f32':>10} | "
              f"{'grad f32 rel diff':>18}")
    print(header)
    print("-" * len(header))
    for family in args.families:
        for h in (0.1, 0.5, 1.0):
            errors = {}
            for dtype in (torch.float64, torch.float32):
                torch.manual_seed(0)
                stage = _build(family, steps, "plain", 16, h).to(dtype).stages[0]
                x = torch.randn(8, 16, 32, dtype=dtype)
                with torch.no_grad():
                    states = stage.forward_states(x)
                errors[dtype] = ((stage.reconstruct_input(states) - x).abs().max() / x.abs().max()).item()
                top = states[-1].abs().max().item()
            grads = []
            for efficient in (False, True):
                torch.manual_seed(0)
                stage = _build(family, steps, "plain", 16, h).stages[0]
                stage.memory_efficient = efficient
                xi = torch.randn(8, 16, 32, requires_grad=True)
                stage(xi).square().sum().backward()
                grads.append(torch.cat([xi.grad.flatten()] + [p.grad.flatten() for p in stage.parameters()]))
            grad_diff = ((grads[1] - grads[0]).norm() / grads[0].norm()).item()
            print(f"{family:<12}{h:>5} | {top:>9.3g} | {errors[torch.float64]:>10.2e}{errors[torch.float32]:>10.2e}"
                  f" | {grad_diff:>18.2e}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="+", default=reversible_schemes(), metavar="SCHEME",
                        help="reversible schemes to measure, NAME or NAME:PARAM=VALUE,... (default: every "
                             "registered one)")
    parser.add_argument("--depths", nargs="+", type=int, default=[8, 20, 50, 100, 200])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--drift", action="store_true", help="print the float32 / float64 inversion drift")
    parser.add_argument("--worker", nargs=3, metavar=("FAMILY", "DEPTH", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    for text in args.families:
        scheme_of(text)  # a bad scheme fails here, before any subprocess
    if args.worker:
        family, depth, mode = args.worker
        worker(family, int(depth), mode, args.batch, args.width, args.length, args.repeats)
    elif args.drift:
        drift_table(args)
    else:
        memory_table(args)


if __name__ == "__main__":
    main()
