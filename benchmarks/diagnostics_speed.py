"""How long ``nas.diagnostics.analyze`` takes for every registered scheme (goal: < 1 s each).

    .venv/bin/python benchmarks/diagnostics_speed.py [--repeats 5] [--no-cold]

* cold: the first call in a fresh process (imports done, caches such as the rooted-tree enumeration and
  the BCH series still empty), measured in a subprocess per scheme;
* warm: median of ``--repeats`` further calls in this process.
Ratios are printed against the 1 s goal and against a baseline measured in this same process: the warm
time of ``analyze("euler")`` (the smallest analysis).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

GOAL_SECONDS = 1.0

_COLD = """
import time
from nas.diagnostics import analyze
from nas import schemes
scheme = schemes.get({name!r})
start = time.perf_counter()
analyze(scheme)
print(time.perf_counter() - start)
"""


def cold_time(name: str) -> float:
    result = subprocess.run([sys.executable, "-c", _COLD.format(name=name)], capture_output=True, text=True,
                            check=True)
    return float(result.stdout.strip().splitlines()[-1])


def warm_time(analyze, scheme, repeats: int) -> float:
    analyze(scheme)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        analyze(scheme)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-cold", action="store_true", help="skip the fresh-process measurements")
    args = parser.parse_args(argv)

    from nas import schemes
    from nas.diagnostics import analyze

    baseline = warm_time(analyze, schemes.get("euler"), args.repeats)
    print(f"baseline: warm analyze('euler') = {baseline * 1e3:.1f} ms; goal {GOAL_SECONDS:.0f} s per scheme")
    print(f"{'scheme':<12} {'cold ms':>9} {'warm ms':>9} {'cold/goal':>10} {'warm/baseline':>14}")
    worst = 0.0
    for name in schemes.names():
        warm = warm_time(analyze, schemes.get(name), args.repeats)
        cold = float("nan") if args.no_cold else cold_time(name)
        worst = max(worst, warm if args.no_cold else cold)
        cold_text = "-" if args.no_cold else f"{cold * 1e3:9.1f}"
        goal_text = "-" if args.no_cold else f"{cold / GOAL_SECONDS:10.3f}"
        print(f"{name:<12} {cold_text:>9} {warm * 1e3:9.1f} {goal_text:>10} {warm / baseline:14.1f}")
    verdict = "met" if worst < GOAL_SECONDS else "MISSED"
    print(f"slowest: {worst * 1e3:.1f} ms -> goal {verdict} (ratio {worst / GOAL_SECONDS:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
