"""``nas leaderboard RUN [RUN ...]``: rank trials across runs, summarise families, analyse coefficients.

Views: ``trials`` (one row per trial, default), ``families`` (best / median / count per family),
``coefficients`` (Spearman and Pearson correlation of accuracy with each coefficient) and ``bins``
(accuracy per coefficient bin), ``evaluation`` (the runs' final evaluations, ``nas evaluate``). ``--pareto`` keeps the Pareto front; ``--plots DIR`` writes the PNGs.

Every view and plot compares trials at equal training budget (``nas.fidelity``): the trials that ran the
run's full budget, or, with fewer than two of those, every finished trial at the highest rung all reached;
``--all-budgets`` shows every finished trial at the budget it ran. A line on stderr says which.
"""
from __future__ import annotations

import sys
from pathlib import Path

from nas.checks import positive_int


EPILOG = ("Equal budgets: by default every view and plot compares, per run, the trials that ran the full budget "
          "(completed, all epochs); with fewer than two of those, every finished trial at the highest ASHA rung "
          "all of them reached (values read from each trial's per-epoch history). The budget column gives the "
          "epochs behind each row; a line on stderr says which budget is compared and how many trials were left "
          "out. --all-budgets (or --all) shows trials at the budget they ran; stopped trials are hollow markers in "
          "the plots. Duplicate trials (not trained again) are never rows of their own; with search.duplicates: "
          "reseed, one row per architecture gives the mean and standard deviation over its seeds. vs_resnet: "
          "against the run's plain ResNet baseline that completed its full budget.")


def add_arguments(parser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="run folders or storage URIs (s3://bucket/prefix/run), or run names under --storage")
    parser.add_argument("--sort", default="best_val_acc", metavar="COL",
                        help="column to sort by, in its natural direction (accuracies descending, costs "
                             "ascending); default best_val_acc")
    parser.add_argument("--ascending", action="store_true", default=None, help="force ascending order")
    parser.add_argument("--descending", action="store_false", dest="ascending", help="force descending order")
    parser.add_argument("--family", default=None, metavar="F", help="only this scheme family (comma list allowed)")
    parser.add_argument("--all", action="store_true",
                        help="include diverged and failed trials (default: finished trials only)")
    parser.add_argument("--all-budgets", action="store_true",
                        help="compare finished trials at the budget each ran, stopped ones included (default: "
                             "equal budgets, see below)")
    parser.add_argument("--top", type=int, default=None, metavar="N", help="only the first N rows")
    parser.add_argument("--format", default="table", choices=("table", "csv", "markdown", "parquet"))
    parser.add_argument("--output", default=None, metavar="FILE",
                        help="write to FILE (atomically) instead of stdout; required for parquet")
    parser.add_argument("--pareto", default=None, metavar="OBJ,OBJ",
                        help="keep the Pareto front of these objectives among the finished, feasible trials, e.g. "
                             "val_acc,params (col:max / col:min force a direction)")
    parser.add_argument("--view", default="trials", choices=("trials", "families", "coefficients", "bins", "evaluation"),
                        help="evaluation: the final evaluation of each run by nas evaluate (test accuracy mean ± "
                             "std over n seeds, difference against the plain ResNet with its 95%% interval, the search's "
                             "score and its optimism; on stderr per run: the seed rule and the Spearman correlation "
                             "between search score and test mean)")
    parser.add_argument("--columns", default=None, metavar="A,B,...",
                        help="columns of the trials view (default: a compact set for table/markdown, all for "
                             "csv/parquet; 'all' for every column)")
    parser.add_argument("--plots", default=None, metavar="DIR", help="write the leaderboard plots (PNG) here")
    parser.add_argument("--storage", "--results-root", dest="results_root", default="results", metavar="URI",
                        help="where run names are looked up: a folder or a storage URI, as nas search --storage "
                             "(default: results; --results-root is the older name)")


# Files of a run folder that nas search writes and the leaderboard reads: never an output.
RUN_FILES = ("trials.csv", "pareto.csv", "search.json", "optuna.db", "search.log")


def run(args) -> int:
    if args.top is not None:
        positive_int(args.top, "--top")
    if args.format == "parquet" and args.output is None:
        raise ValueError("--format parquet: needs --output FILE (parquet is binary)")
    from nas import leaderboard as lb
    from nas.fidelity import equal_budget
    from nas.paths import check_output_file, check_output_folder

    if args.output is not None:
        check_output_file(args.output, "--output")
    if args.plots is not None:
        check_output_folder(args.plots, "--plots")

    # Everything is validated before anything is written.
    frame = lb.load(args.runs, results_root=args.results_root)
    if args.output is not None:
        inputs = {Path(run_dir) / name for run_dir in frame.attrs["run_dirs"] for name in RUN_FILES}
        if Path(args.output).resolve() in inputs:
            raise ValueError(f"--output: {args.output} is a file of the run it reads; write the table elsewhere")
    # A duplicate carries another trial's result: never a row of its own, counted in the summary line.
    frame, duplicates = lb.without_duplicates(frame)
    every_trial = frame  # the history and learning-curve plots show trials stopped early too
    notes = [f"{duplicates} duplicate trial(s) left out (the same network, training configuration and seed as "
             "an earlier trial: not trained again)"] if duplicates else []
    if not args.all:
        lb.check_runs_have_finished_trials(frame)
        frame, budgets = equal_budget(frame, all_budgets=args.all_budgets)
        notes = budgets + notes
    else:  # every trial, at the budget it ran
        frame = frame.assign(budget=frame["epochs_run"]) if "epochs_run" in frame.columns else frame
    families = None if args.family is None else [f.strip() for f in args.family.split(",") if f.strip()]
    frame = lb.filter_family(frame, families)
    frame = lb.sort_trials(frame, args.sort, args.ascending)
    objectives = None
    if args.pareto is not None:
        objectives = lb.parse_objectives(args.pareto)
        frame = lb.pareto_front(frame, objectives)
    if args.view == "trials":
        aggregated, seed_notes = lb.one_row_per_architecture(frame)
        notes += seed_notes
        columns = _columns(args, aggregated, lb)
        table = aggregated.head(args.top) if args.top else aggregated
        table = lb.display_frame(table, columns) if columns is not None else table.reset_index(drop=True)
    elif args.view == "families":
        table = lb.family_summary(frame)
    elif args.view == "coefficients":
        table = lb.coefficient_correlations(frame)
    elif args.view == "evaluation":
        table = lb.evaluation_view(frame)
        notes += table.attrs.get("notes", [])  # per run: seed rule, Spearman, the pick's optimism
    else:
        table = lb.coefficient_bins(frame)
    if args.view != "trials" and args.top:
        table = table.head(args.top)

    # Plots first: they read weights and can still fail; they appear all at once or not at all.
    written = [] if args.plots is None else lb.write_plots(frame, args.plots, top=args.top or 5,
                                                            objectives=objectives or "best_val_acc,params",
                                                            every_trial=every_trial)
    if args.output is not None:
        lb.write_table(table, args.output, args.format)
    else:
        sys.stdout.write(lb.render(table, args.format))
    for note in notes:
        print(f"nas leaderboard: {note}", file=sys.stderr)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _columns(args, frame, lb):
    """None (every column, for files) or the list of columns shown."""
    if args.columns == "all":
        return list(frame.columns)
    if args.columns is not None:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()]
        lb.check_columns(frame, columns, "--columns")
        return columns
    if args.format in ("csv", "parquet"):
        return None
    seeds = [c for c in ("seeds", f"{lb.METRIC}_mean", f"{lb.METRIC}_std", "fully_raced", "vs_resnet_paired",
                         "vs_resnet_ci_low", "vs_resnet_ci_high", "shared_seeds") if c in frame.columns]
    return [c for c in lb.TABLE_COLUMNS if c in frame.columns] + seeds
