"""Learned against searched coefficients at equal compute (issue 21, item 5), on the tied MNIST-1D setting.

    .venv/bin/python benchmarks/learned_vs_searched.py [--budget 600] [--seeds 1000,1001,1002,1003,1004]
                                                       [--coefficient-lr 0.1] [--workers 2] [--quick]
                                                       [--output DIR] [--results PREFIX]

The network is search_spaces/tied.yaml's (MNIST-1D, widths 8/16/32, 4 steps per stage, h = 1, ``tie: stage``,
``norm: none``, ~15k parameters, 20 epochs of its training recipe). Two searches with the **same budget**:
``nas search`` (``nas.search.run``) with the same wall-time budget (``--budget`` seconds, the search's
``time_budget``), the same number of concurrent trials (``--workers``, one CPU each), the same sampler (TPE, seed
0) and scheduler (ASHA, rungs at 5 and 10 epochs). What differs is what a trial does:

- **searched**: each trial trains one proposed scheme with fixed coefficients, drawn by TPE from the ``rk``
  (explicit 2- and 3-stage tableaux, coefficients in [-0.5, 1]) and ``lmm`` (explicit zero-stable 2-step
  methods, coefficients in [-1, 1]) blocks of tied.yaml: black-box search over the family's coefficients;
- **learned**: each trial trains the same network with ``learn_scheme: network`` (one θ for the whole network,
  ``docs/learned.md``), starting from one of ``heun``, ``ralston`` (RK2, order 2 kept), ``kutta3`` (RK3, order 3
  kept) or ``ab2`` (2-step Adams-Bashforth, order 2 kept), with ``coefficient_lr`` (``--coefficient-lr``). TPE
  chooses the starting point; a starting point proposed again trains with the next seed
  (``duplicates: reseed``), so the budget is spent on learning runs either way.

Each side's best is chosen on validation accuracy only, as ``nas evaluate`` chooses it
(``nas.evaluation.selection.rank_searched``: the architectures at equal budget, mean over their seeds). Then
the two winners and the tied plain ResNet (tied Euler, the same network) are trained again from scratch on the
fresh seeds (``--seeds``, default 1000-1004; refused if any search trial used one of them), each with the
winner's full training configuration, and scored on the test split, which no selection saw. The learned
winner is retrained as it was selected: from its starting point, learning θ (its learned scheme is recorded
per seed). Reported: test accuracy mean ± std over the seeds and the paired 95% interval of the difference
against the tied ResNet (``nas.statistics``), plus each search's trial count, epochs trained and summed trial
seconds (so the budgets can be compared in those units too).

Written: ``--results`` (default ``results/benchmarks/learned_vs_searched``) ``.md`` (the table and the setup)
and ``.csv`` (one row per retrained (arm, seed)); the search runs under ``--output`` (default
``benchmarks/output/learned_vs_searched-<UTC time>/``, git-ignored). ``--quick``: a smoke setting (a 30-second
budget, 2 epochs, 600 signals, 2 seeds) that exercises every step in a few minutes; its numbers mean nothing,
and its results go under ``--output`` unless ``--results`` is given.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import datetime
import json
import multiprocessing
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

REPOSITORY = Path(__file__).resolve().parent.parent
LEARNED_STARTS = ["heun", "ralston", "kutta3", "ab2"]
DEFAULT_SEEDS = "1000,1001,1002,1003,1004"
SEARCHES = ("searched", "learned")  # the two sides, each one nas search run
ARMS = (*SEARCHES, "resnet")


def tied_space(name: str, quick: bool) -> dict:
    """The data, training and network of search_spaces/tied.yaml with h fixed at 1, and its search settings
    without racing; no scheme blocks and no baselines yet (``searched_space`` and ``learned_space`` add them)."""
    from nas import safe_yaml

    tied = safe_yaml.load_file(REPOSITORY / "search_spaces" / "tied.yaml")
    search = {key: value for key, value in tied["search"].items() if key not in ("race", "time_budget")}
    search.update(trials=10000, sampler="tpe", scheduler="asha", seed=0, cpus_per_trial=1)
    space = {"name": name, "data": dict(tied["data"]), "train": dict(tied["train"]), "search": search,
             "network": {**tied["network"], "h": 1.0}, "constraints": dict(tied.get("constraints") or {})}
    if quick:
        space["data"]["num_samples"] = 600
        space["train"]["epochs"] = 2
        space["search"].update(grace_period=1)
    return space


def searched_space(quick: bool) -> dict:
    """Black-box search over the coefficients: tied.yaml's ``rk`` and ``lmm`` blocks."""
    from nas import safe_yaml

    tied = safe_yaml.load_file(REPOSITORY / "search_spaces" / "tied.yaml")
    blocks = [block for block in tied["scheme"] if block.get("label") in ("rk", "lmm")]
    return {**tied_space("searched", quick), "scheme": blocks}


def learned_space(quick: bool, coefficient_lr: float) -> dict:
    """Learned coefficients from a few starting points of order 2 and 3 (``learn_scheme: network``)."""
    space = tied_space("learned", quick)
    space["network"]["learn_scheme"] = "network"
    space["train"]["coefficient_lr"] = coefficient_lr
    space["search"]["duplicates"] = "reseed"
    space["scheme"] = [{"family": "named", "names": list(LEARNED_STARTS)}]
    return space


def run_cost(run_dir: Path) -> dict:
    """Trials, epochs trained and summed trial wall seconds of a search run (duplicates cost nothing)."""
    with open(run_dir / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    trained = [row for row in rows if row.get("status") not in ("duplicate", "not_started")]
    return {"trials": len(trained),
            "completed": sum(row.get("status") == "completed" for row in trained),
            "epochs": sum(int(float(row["epochs_run"] or 0)) for row in trained),
            "trial_seconds": sum(float(row["wall_time"] or 0.0) for row in trained)}


def winner(run_dir: Path) -> dict:
    """The best architecture of a run on validation accuracy (``nas evaluate``'s rule) with its spec and
    training configuration."""
    from nas import leaderboard
    from nas.evaluation.selection import rank_searched

    frame = leaderboard.load([run_dir])
    ranked = rank_searched(frame)
    if ranked.empty:
        raise ValueError(f"{run_dir.name}: no finished, feasible trial at the full budget")
    row = ranked.iloc[0]
    trial_dir = run_dir / str(row["trial_dir"])
    spec = json.loads((trial_dir / "spec.json").read_text())
    train = json.loads((trial_dir / "train_config.json").read_text())
    mean = row.get("best_val_acc_mean", row["best_val_acc"])
    return {"scheme_name": str(row["scheme_name"]), "trial_id": str(row["trial_id"]), "spec": spec, "train": train,
            "val_acc": float(mean), "val_seeds": int(row.get("seeds", 1) or 1)}


def resnet_of(chosen: dict) -> dict:
    """The tied plain ResNet: the winner's network with Euler and fixed coefficients."""
    from nas.network_kinds import spec_from_dict
    from nas.schemes import get

    spec = {key: value for key, value in chosen["spec"].items() if key not in ("learn_scheme", "learn_order")}
    spec = spec_from_dict({**spec, "scheme": get("euler").to_dict()}).to_dict()
    return {"scheme_name": "euler", "spec": spec, "train": chosen["train"]}


def train_once(arm: str, spec: dict, train: dict, data_options: dict, seed: int) -> dict:
    """Train ``spec`` from scratch with ``train`` and ``seed`` on one CPU thread; test accuracy of the final
    epoch's model (as ``nas evaluate`` scores it) and, for a network that learns, the learned scheme."""
    import torch

    from nas.data import load_dataset
    from nas.network_kinds import build_network, spec_from_dict
    from nas.networks.learned import learned_schemes
    from nas.train import TrainConfig, evaluate, fit, seeded

    torch.set_num_threads(1)
    data = load_dataset(**data_options)
    config = TrainConfig.from_dict({**train, "seed": seed, "device": "cpu"})
    network = spec_from_dict(spec)
    with seeded(seed):
        model = build_network(network)
    started = time.perf_counter()
    result = fit(model, data, config)
    seconds = time.perf_counter() - started
    test = evaluate(model, data.test)
    record = {"arm": arm, "seed": seed, "status": result.status, "test_acc": test["acc"],
              "val_acc": result.final_val_acc, "epochs": result.epochs_run, "seconds": seconds, "learned_scheme": ""}
    if getattr(network, "learn_scheme", "none") != "none":
        schemes = learned_schemes(model)
        first = schemes[0][0] if isinstance(schemes[0], (list, tuple)) else schemes[0]
        record["learned_scheme"] = json.dumps(first.to_dict(), sort_keys=True)
    return record


def earlier_records(path, arms: dict, seeds: list[int]) -> list[dict]:
    """The rows of an earlier results .csv (``--records``) for the seeds asked for, as ``train_once`` records;
    refused when a row's winner is not this invocation's (another search's results must not be mixed in)."""
    if path is None:
        return []
    with open(path, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if int(row["seed"]) in seeds]
    for row in rows:
        if row["arm"] not in arms or row["scheme"] != arms[row["arm"]]["label"]:
            raise SystemExit(f"--records: {path} holds {row['arm']} = {row['scheme']!r}, not this run's winner")
    numbers = ("test_acc", "val_acc", "seconds")
    return [{**row, "seed": int(row["seed"]), "epochs": int(row["epochs"]),
             **{key: float(row[key]) for key in numbers}} for row in rows]


def retrain(arms: dict, data_options: dict, seeds: list[int], workers: int, skip=frozenset()) -> list[dict]:
    """Every (arm, seed) pair not in ``skip`` trained once, ``workers`` at a time in fresh processes."""
    context = multiprocessing.get_context("spawn")
    records = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(train_once, arm, chosen["spec"], chosen["train"], data_options, seed)
                   for arm, chosen in arms.items() for seed in seeds if (arm, seed) not in skip]
        for future in concurrent.futures.as_completed(futures):
            record = future.result()
            print(f"  {record['arm']:<8} seed {record['seed']}: test acc {100 * record['test_acc']:.2f}%, "
                  f"{record['status']}, {record['seconds']:.0f} s", flush=True)
            records.append(record)
    return sorted(records, key=lambda r: (ARMS.index(r["arm"]), r["seed"]))


def table(records: list[dict], arms: dict) -> list[str]:
    """The markdown table: per arm, test accuracy mean ± std and the paired difference against the ResNet."""
    from nas.statistics import describe, paired_difference

    by_arm = {arm: {r["seed"]: r["test_acc"] for r in records if r["arm"] == arm} for arm in arms}
    lines = ["| arm | scheme (selected on validation) | val acc at selection | test acc (mean ± std) | median "
             "| vs tied ResNet: mean [paired 95% CI] | seeds |", "|---|---|---|---|---|---|---|"]
    for arm, chosen in arms.items():
        stats = describe(list(by_arm[arm].values()))
        if arm == "resnet":
            versus = "—"
        else:
            diff = paired_difference(by_arm[arm], by_arm["resnet"])
            versus = "—" if diff["ci_low"] is None else \
                f"{100 * diff['mean']:+.2f} [{100 * diff['ci_low']:+.2f}, {100 * diff['ci_high']:+.2f}] points"
        selected = "—" if "val_acc" not in chosen else \
            f"{100 * chosen['val_acc']:.2f}% ({chosen['val_seeds']} seed{'s' if chosen['val_seeds'] > 1 else ''})"
        std = "" if stats["std"] is None else f" ± {100 * stats['std']:.2f}"
        median = 100 * statistics.median(by_arm[arm].values())
        lines.append(f"| {arm} | {chosen['label']} | {selected} | {100 * stats['mean']:.2f}{std}% | {median:.2f}% "
                     f"| {versus} "
                     f"| {','.join(str(s) for s in sorted(by_arm[arm]))} |")
    return lines


def head_to_head(records: list[dict]) -> str:
    """The question itself: learned − searched, paired by seed (``nas.statistics``), as one sentence."""
    from nas.statistics import paired_difference

    by_arm = {arm: {r["seed"]: r["test_acc"] for r in records if r["arm"] == arm} for arm in SEARCHES}
    diff = paired_difference(by_arm["learned"], by_arm["searched"])
    if diff["ci_low"] is None:
        return "Learned − searched: fewer than two paired seeds."
    return (f"Learned − searched, paired over {diff['n']} seeds: {100 * diff['mean']:+.2f} points, 95% CI "
            f"[{100 * diff['ci_low']:+.2f}, {100 * diff['ci_high']:+.2f}].")


def label(chosen: dict, arm: str) -> str:
    """A readable name of a winner: the scheme and, for the searched side, its coefficients."""
    from nas.schemes import from_dict

    scheme = from_dict(chosen["spec"]["scheme"])
    if arm == "learned":
        return f"learned from {chosen['scheme_name']} (order {chosen['spec'].get('learn_order')} kept)"
    if arm == "resnet":
        return "tied Euler (plain ResNet)"
    coefficients = json.dumps(scheme.to_dict(), sort_keys=True)
    return f"{chosen['scheme_name']}: `{coefficients}`"


def parse_arguments(argv) -> tuple[argparse.Namespace, list[int]]:
    """The command line, checked; ``--quick`` shrinks the budget and the seeds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--budget", type=float, default=600.0, help="wall seconds per search (default 600)")
    parser.add_argument("--seeds", default=DEFAULT_SEEDS, help="fresh evaluation seeds (default 1000-1004)")
    parser.add_argument("--coefficient-lr", type=float, default=0.1, help="learning rate of θ (default 0.1)")
    parser.add_argument("--workers", type=int, default=2, help="concurrent trainings, one CPU each (default 2)")
    parser.add_argument("--quick", action="store_true", help="a smoke setting whose numbers mean nothing")
    parser.add_argument("--output", default=None, help="folder for the search runs (must not exist)")
    parser.add_argument("--results", default=None, help="path prefix of the .md and .csv results")
    parser.add_argument("--runs", default=None,
                        help="reuse the two search runs of an earlier invocation (its --output folder): no search, "
                             "the same winners; the budget reported is theirs")
    parser.add_argument("--records", default=None,
                        help="an earlier results .csv of the same winners: its (arm, seed) rows are reused, only the "
                             "other seeds are trained (to add seeds to a finished comparison)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.quick:
        args.budget, seeds = min(args.budget, 30.0), seeds[:2]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds) or not args.budget > 0 or args.workers < 1:
        parser.error("--seeds: at least two distinct seeds; --budget > 0; --workers >= 1")
    args.stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.output = Path(args.output or args.runs or
                       REPOSITORY / "benchmarks" / "output" / f"learned_vs_searched-{args.stamp}")
    if args.runs is None and args.output.exists():
        parser.error(f"--output: {args.output} already exists")
    if args.runs is not None and not all((args.output / arm / "trials.csv").is_file() for arm in SEARCHES):
        parser.error(f"--runs: {args.runs} does not hold the runs {', '.join(SEARCHES)} of an earlier invocation")
    # a smoke run's numbers mean nothing: they stay beside its runs unless --results says otherwise
    default_results = args.output / "learned_vs_searched_quick" if args.quick else \
        REPOSITORY / "results" / "benchmarks" / "learned_vs_searched"
    args.results = Path(args.results or default_results)
    return args, seeds


def run_searches(spaces: dict, args) -> tuple[dict, dict, dict]:
    """One ``nas search`` per side with the same wall-time budget and workers, in one embedded Ray: the run
    folders, their costs (``run_cost``) and the wall seconds of each."""
    import ray

    from nas.search import run as search

    ray.init(address="local", num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    runs, costs, timings = {}, {}, {}
    try:
        for arm, space in spaces.items():
            print(f"search {arm}: {args.budget:g} s with {args.workers} workers ...", flush=True)
            begun = time.perf_counter()
            found = search(space, name=arm, time_budget=args.budget, results_dir=args.output, progress=False,
                           leaderboard=False)
            timings[f"search {arm}"] = time.perf_counter() - begun
            runs[arm], costs[arm] = found.run_dir, run_cost(found.run_dir)
            print(f"  {costs[arm]}", flush=True)
    finally:
        ray.shutdown()
    return runs, costs, timings


def report(args, seeds: list[int], setting: dict, costs: dict, timings: dict, records: list[dict],
           arms: dict) -> str:
    """The results file's markdown: the command, the setting, the table, the cost of each search, the wall
    times and the learned winner's learned scheme per seed."""
    quick = " --quick" if args.quick else ""
    reused = "".join(f" --{name} {value}" for name, value in (("runs", args.runs), ("records", args.records))
                     if value is not None)
    header = [f"# Learned against searched coefficients at equal compute{' (QUICK smoke setting)' if quick else ''}",
              "", f"`benchmarks/learned_vs_searched.py --budget {args.budget:g} --seeds {','.join(map(str, seeds))} "
              f"--coefficient-lr {args.coefficient_lr:g} --workers {args.workers}{quick}{reused}`, {args.stamp}, "
              f"{os.cpu_count()} CPUs (shared).", "",
              f"Data {json.dumps(setting['data'])}, training {json.dumps(setting['train'])}, network "
              f"{json.dumps(setting['network'])}. Budget per side: {args.budget:g} s of search wall time with "
              f"{args.workers} concurrent one-CPU trials (TPE, ASHA). Test accuracy of each side's winner "
              f"(chosen on validation accuracy) retrained on the fresh seeds, paired against the tied ResNet on "
              f"the same seeds.", ""]
    cost_lines = ["| side | budget (wall s, workers) | trials trained | of them all epochs | epochs trained "
                  "| summed trial seconds |", "|---|---|---|---|---|---|"]
    for arm, cost in costs.items():
        cost_lines.append(f"| {arm} | {args.budget:g} s, {args.workers} | {cost['trials']} | {cost['completed']} "
                          f"| {cost['epochs']} | {cost['trial_seconds']:.0f} |")
    timing_line = ", ".join(f"{key} {value / 60:.1f} min" for key, value in timings.items())
    lines = header + table(records, arms) + ["", head_to_head(records), "", "Cost of each search:", ""] + cost_lines
    reuse = "" if args.runs is None else f" (the searches of {Path(args.runs).name} reused" + \
        ("" if args.records is None else f", the seeds of {Path(args.records).name} not trained again") + ")"
    lines += ["", f"Wall time of this invocation{reuse}: {timing_line}.", ""]
    learned = [r for r in records if r["learned_scheme"]]
    if learned:
        lines += ["Learned schemes of the retrained learned winner (per seed):", ""]
        lines += [f"- seed {r['seed']}: `{r['learned_scheme']}`" for r in learned] + [""]
    return "\n".join(lines)


def write_results(results: Path, text: str, records: list[dict], arms: dict) -> None:
    """``results``.md (the report) and ``results``.csv (one row per retrained (arm, seed))."""
    results.parent.mkdir(parents=True, exist_ok=True)
    results.with_suffix(".md").write_text(text)
    with open(results.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["arm", "scheme", "seed", "status", "test_acc", "val_acc", "epochs",
                                                    "seconds", "learned_scheme"])
        writer.writeheader()
        for record in records:
            writer.writerow({**record, "scheme": arms[record["arm"]]["label"]})


def main(argv=None) -> int:
    args, seeds = parse_arguments(argv)
    from nas.evaluation.seeds import search_seeds

    spaces = {"searched": searched_space(args.quick), "learned": learned_space(args.quick, args.coefficient_lr)}
    started = time.perf_counter()
    if args.runs is None:
        runs, costs, timings = run_searches(spaces, args)
    else:  # the runs of an earlier invocation: same winners, their cost
        runs = {arm: args.output / arm for arm in SEARCHES}
        costs, timings = {arm: run_cost(run_dir) for arm, run_dir in runs.items()}, {}
        budgets = {json.loads((run_dir / "search.json").read_text())["settings"]["time_budget"]
                   for run_dir in runs.values()}
        if len(budgets) != 1:
            raise SystemExit(f"--runs: the two searches had different budgets {sorted(budgets)}")
        args.budget = float(budgets.pop())
    used = set().union(*(search_seeds(run_dir) for run_dir in runs.values()))
    if used & set(seeds):
        raise SystemExit(f"--seeds: {sorted(used & set(seeds))} trained in a search; the final seeds must be fresh")
    arms = {arm: winner(run_dir) for arm, run_dir in runs.items()}
    arms["resnet"] = resnet_of(arms["searched"])
    for arm, chosen in arms.items():
        chosen["label"] = label(chosen, arm)
        print(f"{arm}: {chosen['label']}", flush=True)
    data_options = json.loads((runs["searched"] / "search.json").read_text())["data"]
    begun = time.perf_counter()
    print(f"retraining {len(arms)} networks x {len(seeds)} fresh seeds ...", flush=True)
    reused = earlier_records(args.records, arms, seeds)
    records = sorted(reused + retrain(arms, data_options, seeds, args.workers,
                                      skip={(r["arm"], r["seed"]) for r in reused}),
                     key=lambda r: (ARMS.index(r["arm"]), r["seed"]))
    timings["retraining"] = time.perf_counter() - begun
    timings["total"] = time.perf_counter() - started
    text = report(args, seeds, spaces["searched"], costs, timings, records, arms)
    print("\n" + text)
    write_results(args.results, text, records, arms)
    (args.output / "summary.json").write_text(json.dumps({"costs": costs, "timings": timings, "records": records,
                                                          "winners": {a: c["label"] for a, c in arms.items()}},
                                                         indent=2))
    print(f"written: {args.results.with_suffix('.md')}, {args.results.with_suffix('.csv')}; runs under {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
