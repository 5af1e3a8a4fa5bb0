"""Search quality: TPE against random search, and racing against no racing, on one space and one time budget,
then the final evaluation of each search's winner on fresh seeds (Lindauer & Hutter 2020, "Best practices for
scientific research on NAS": compare against random search, several repetitions, anytime curves, final
evaluation with several seeds).

    .venv/bin/python benchmarks/search_quality.py [--budget 40] [--repetitions 3] [--seeds 2]
                                                  [--samplers tpe,random] [--race off,on] [--space SPACE.yaml]
                                                  [--output DIR]

Each arm is a sampler with racing off or on (``--race``; on: ``search: {race: {max_seeds: 4, share: 0.5}}``,
``nas.search.racing``). For each arm and repetition r (search seed r): ``nas search`` of the space with ``--time-budget BUDGET``
(the trial count is large, so the budget ends every search); then ``nas evaluate RUN --top 1 --seeds N`` (the
winner at the full budget and a plain ResNet of its shape, N fresh seeds from 1000 up, scored on the test split).

Printed: per search, the incumbent's validation accuracy at 25 / 50 / 75 / 100% of the budget (wall time from
the first trial's start, read from the run's Optuna study): the incumbent is the architecture with the most
finished seeds, then the best mean over them (racing's rule; without racing every architecture has one seed
and it is the best single value; a trial stopped by ASHA counts with its last, lower-fidelity value), and its
mean is what is shown -- not the best single seed --; the number of trials, and the winner's
test accuracy mean ± std over the seeds with the difference against the plain ResNet; then the mean over
repetitions per sampler. Written under ``--output`` (default ``benchmarks/output/search_quality-<UTC time>/``,
git-ignored): the run folders, ``summary.json`` and ``anytime.png`` (best value against wall time, one line
per repetition, one colour per sampler).

The default space is small so that the whole benchmark takes a few minutes on 2 CPUs: MNIST-1D with 1,000
train+val signals (250 test), widths 4/8, 1-2 steps per stage, 5 epochs, ASHA, named Runge-Kutta and
multistep schemes plus free 2-3 stage tableaux and free zero-stable 2-step methods. Use ``--space`` and a
larger ``--budget`` for a real comparison.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

FRACTIONS = (0.25, 0.5, 0.75, 1.0)
DEFAULT_SPACE = {
    "name": "search_quality",
    "data": {"name": "mnist1d", "seed": 0, "num_samples": 1000},
    "train": {"epochs": 5, "batch_size": 64},
    "search": {"trials": 10000, "scheduler": "asha", "grace_period": 1, "reduction_factor": 2},
    "network": {"widths": [4, 8], "steps_per_stage": [1, 2]},
    "scheme": [{"family": "named", "names": ["heun", "ralston", "kutta3", "rk4", "ab2"]},
               {"family": "runge_kutta", "label": "rk", "stages": [2, 3], "coefficients": {"low": -0.5, "high": 1.0}},
               {"family": "multistep", "label": "lmm", "steps": 2, "coefficients": {"low": -1.0, "high": 1.0}}],
    "constraints": {"zero_stable": True},
}


def anytime(run_dir: Path, name: str) -> list[tuple[float, float]]:
    """(seconds since the first trial started, the incumbent's mean) at each finished trial of the run's study.

    Trials with the same parameters are one architecture's seeds (racing queues them; a duplicate reports
    another trial's value and is left out); baselines are left out: the curve is the search's own finding."""
    import optuna

    storage = optuna.storages.RDBStorage(f"sqlite:///{run_dir / 'optuna.db'}")
    trials = [t for t in optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
              if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
              and "baseline" not in t.user_attrs and "duplicate_of" not in t.user_attrs]
    if not trials:
        return []
    start = min(t.datetime_start for t in trials)
    seeds: dict = {}
    points = []
    for trial in sorted(trials, key=lambda t: t.datetime_complete):
        seeds.setdefault(json.dumps(trial.params, sort_keys=True), []).append(trial.value)
        incumbent = max(seeds.values(), key=lambda values: (len(values), sum(values) / len(values)))
        points.append(((trial.datetime_complete - start).total_seconds(), sum(incumbent) / len(incumbent)))
    return points


def best_at(points, seconds: float):
    """The incumbent's mean at ``seconds`` (the last point at or before it)."""
    values = [value for t, value in points if t <= seconds]
    return values[-1] if values else None


def plot(results: list[dict], path: Path, budget: float) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    colours = {}
    for result in results:
        colour = colours.setdefault(result["arm"], f"C{len(colours)}")
        points = result["anytime"]
        if not points:
            continue
        times = [t for t, _ in points] + [max(budget, points[-1][0])]  # from the first finished trial on
        values = [v for _, v in points] + [points[-1][1]]
        axes.step(times, values, where="post", color=colour, alpha=0.8,
                  label=result["arm"] if result["repetition"] == 0 else None)
    axes.set_xlabel("wall time since the first trial started (s)")
    axes.set_ylabel("incumbent's mean validation accuracy")
    axes.set_title(f"Anytime performance, {len(results)} searches of {budget:g} s")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def with_race(space, race: str):
    """The space (a mapping or a YAML path) with racing switched on or off in its ``search`` section."""
    from nas import safe_yaml

    space = dict(safe_yaml.load_file(space)) if isinstance(space, (str, Path)) else dict(space)
    search = {k: v for k, v in (space.get("search") or {}).items() if k != "race"}
    if race == "on":
        search["race"] = {"max_seeds": 4, "share": 0.5}
    return {**space, "search": search}


def _fmt(value, digits=4):
    return "   -  " if value is None else f"{value:.{digits}f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--budget", type=float, default=40.0, help="seconds per search (default 40)")
    parser.add_argument("--repetitions", type=int, default=3, help="searches per sampler (default 3)")
    parser.add_argument("--seeds", type=int, default=2, help="evaluation seeds per winner (default 2)")
    parser.add_argument("--samplers", default="tpe,random", help="comma-separated Optuna samplers")
    parser.add_argument("--race", default="off", help="comma-separated racing modes per sampler: off, on")
    parser.add_argument("--space", default=None, help="search-space YAML (default: the small built-in space)")
    parser.add_argument("--output", default=None, help="output folder (must not exist)")
    args = parser.parse_args(argv)
    if args.repetitions < 1 or args.seeds < 2 or not args.budget > 0:
        parser.error("--repetitions >= 1, --seeds >= 2 and --budget > 0")
    races = [r.strip() for r in args.race.split(",") if r.strip()]
    if not races or any(r not in ("off", "on") for r in races):
        parser.error("--race: a comma-separated list of off and on")

    import ray

    from nas.evaluation import evaluate
    from nas.search import run as search

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    output = Path(args.output or Path(__file__).resolve().parent / "output" / f"search_quality-{stamp}")
    if output.exists():
        parser.error(f"--output: {output} already exists")
    runs = output / "runs"
    runs.mkdir(parents=True)
    space = args.space or DEFAULT_SPACE
    samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    arms = [(sampler, race) for sampler in samplers for race in races]
    # One Ray for every search and evaluation (each would otherwise start its own).
    ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    results = []
    try:
        for sampler, race in arms:
            arm = sampler if race == "off" else f"{sampler}+race"
            for repetition in range(args.repetitions):
                name = f"{arm.replace('+', '-')}-{repetition}"
                print(f"search {name}: {args.budget:g} s ...", flush=True)
                found = search(with_race(space, race), name=name, sampler=sampler, seed=repetition,
                               time_budget=args.budget, results_dir=runs, progress=False)
                points = anytime(found.run_dir, name)
                result = {"sampler": sampler, "race": race, "arm": arm, "repetition": repetition, "run": name,
                          "trials": len(found.trials),
                          "anytime": points,
                          "best_at": {f"{int(f * 100)}%": best_at(points, f * args.budget) for f in FRACTIONS}}
                try:
                    evaluation = evaluate(found.run_dir, top=1, seeds=args.seeds, progress=False).summary
                    winner = next(e for e in evaluation["architectures"] if e["role"] == "searched")
                    result.update(winner=winner["scheme_name"], test=winner["test_acc"], vs_resnet=winner["vs_resnet"])
                except ValueError as exc:  # e.g. no trial completed the full budget within the time budget
                    result.update(winner=None, test=None, vs_resnet=None, note=str(exc))
                results.append(result)
    finally:
        ray.shutdown()

    print(f"\nSearch quality: {args.budget:g} s per search, {args.repetitions} repetitions, {os.cpu_count()} CPUs, "
          f"winners evaluated with {args.seeds} fresh seeds from 1000 up")
    header = "arm        rep trials " + " ".join(f"best@{int(f * 100):>3}%" for f in FRACTIONS) + \
        "  winner                 test mean ± std      vs ResNet [95% CI]"
    print(header)
    for r in results:
        test = r["test"] or {}
        vs = r["vs_resnet"] or {}
        interval = "" if vs.get("ci_low") is None else \
            f"{vs['mean']:+.4f} [{vs['ci_low']:+.4f}, {vs['ci_high']:+.4f}]"
        print(f"{r['arm']:<10} {r['repetition']:>3} {r['trials']:>6} "
              + " ".join(f"{_fmt(r['best_at'][f'{int(f * 100)}%']):>9}" for f in FRACTIONS)
              + f"  {str(r['winner']):<22} {_fmt(test.get('mean'))} ± {_fmt(test.get('std'))}    {interval}"
              + (f"  ({r['note']})" if r.get("note") else ""))
    print("\nmean over repetitions")
    for arm in dict.fromkeys(r["arm"] for r in results):
        mine = [r for r in results if r["arm"] == arm]
        cells = []
        for f in FRACTIONS:
            values = [r["best_at"][f"{int(f * 100)}%"] for r in mine if r["best_at"][f"{int(f * 100)}%"] is not None]
            cells.append(_fmt(sum(values) / len(values) if values else None))
        tests = [r["test"]["mean"] for r in mine if r["test"] and r["test"]["mean"] is not None]
        gaps = [r["vs_resnet"]["mean"] for r in mine if r["vs_resnet"] and r["vs_resnet"].get("mean") is not None]
        print(f"{arm:<10} incumbent@25/50/75/100%: {' '.join(cells)}; winners' test mean "
              f"{_fmt(sum(tests) / len(tests) if tests else None)}, vs ResNet "
              f"{_fmt(sum(gaps) / len(gaps) if gaps else None)} over {len(tests)} searches")
    (output / "summary.json").write_text(json.dumps({"budget": args.budget, "repetitions": args.repetitions,
                                                     "seeds": args.seeds, "cpus": os.cpu_count(), "space": space,
                                                     "results": results}, indent=2, default=str))
    plot(results, output / "anytime.png", args.budget)
    print(f"\nwrote {output / 'summary.json'} and {output / 'anytime.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
