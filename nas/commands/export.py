"""``nas export RUN [--top K | --trial ID | --evaluated [--rank R]] --out DIR``: the best trials of a run (or
an architecture of its final evaluation) as PyTorch models.

Every choice writes one layout: ``DIR/index.json`` (the models in rank order, with the ranking rule) and one
model folder per model. ``--top K`` exports the first K rows of ``nas leaderboard RUN``: finished trials compared
at equal budget, duplicates left out, one row per architecture (its best seed; in a raced run the fully raced
first), baselines ranked among the searched trials as the leaderboard lists them. ``nas evaluate --top K``
retrains the K best searched architectures of the same order (baselines left out of its ranks and retrained
beside them); ``--evaluated --rank R`` is its R-th.

Each model folder holds ``model.pt2`` (``torch.export``, loadable without nas), ``weights.safetensors`` +
``spec.json`` (``nas.load``), ``card.md`` / ``card.json`` and a stability-region plot; see ``nas.export``.
"""
from __future__ import annotations

from nas.checks import positive_int
from nas.limits import MAX_TOP, check_count


def add_arguments(parser) -> None:
    parser.add_argument("run",
                        help="run folder or storage URI (s3://bucket/prefix/run), or a run name under --storage")
    choice = parser.add_mutually_exclusive_group()
    parser.epilog = ("Ranking of --top: the order of `nas leaderboard RUN` -- finished trials at equal budget, "
                     "duplicates left out, one row per architecture (its best seed), baselines ranked among the "
                     "searched trials (marked baseline in index.json). nas evaluate ranks the searched architectures "
                     "in the same order without the baselines; --evaluated --rank R is its R-th. Every choice "
                     "writes DIR/index.json and one folder per model.")
    choice.add_argument("--top", type=int, default=None, metavar="K",
                        help="export the first K rows of `nas leaderboard RUN`, baselines included (default 1; see "
                             "below)")
    choice.add_argument("--trial", default=None, metavar="ID", help="export this trial")
    choice.add_argument("--evaluated", action="store_true",
                        help="export an architecture of the run's final evaluation (nas evaluate): the seed with "
                             "the median test accuracy; the card reports test mean ± std, n and the 95%% interval "
                             "of the difference against the plain ResNet")
    parser.add_argument("--rank", type=int, default=None, metavar="R",
                        help="with --evaluated: the architecture of search rank R (default 1)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder: DIR/index.json and one folder per model (must not exist)")
    parser.add_argument("--force", action="store_true",
                        help="replace DIR if it is an earlier export (it holds the .nas-export marker and only the "
                             "files an export writes); never a run folder, anything inside one, or anything else")
    parser.add_argument("--storage", "--results-root", dest="results_root", default="results", metavar="URI",
                        help="where run names are looked up: a folder or a storage URI, as nas search --storage "
                             "(default: results; --results-root is the older name)")


def run(args) -> int:
    if args.top is not None:
        check_count(positive_int(args.top, "--top"), "--top", MAX_TOP)
    if args.rank is not None and not args.evaluated:
        raise ValueError("--rank: only with --evaluated (use --top K or --trial ID otherwise)")
    if args.evaluated:
        from nas.export import export_evaluated

        print(export_evaluated(args.run, args.out, rank=1 if args.rank is None else args.rank, replace=args.force,
                               results_root=args.results_root))  # the model folder, as --top prints them
        return 0
    from nas.export import export_run

    folders = export_run(args.run, args.out, top=1 if args.top is None else args.top, trial=args.trial,
                         replace=args.force, results_root=args.results_root)
    for folder in folders:
        print(folder)
    return 0
