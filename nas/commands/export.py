"""``nas export RUN [--top K | --trial ID] --out DIR``: the best trials of a run as PyTorch models.

Each model folder holds ``model.pt2`` (``torch.export``, loadable without nas), ``weights.safetensors`` +
``spec.json`` (``nas.load``), ``card.md`` / ``card.json`` and a stability-region plot; see ``nas.export``.
"""
from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("run",
                        help="run folder or storage URI (s3://bucket/prefix/run), or a run name under --results-root")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--top", type=int, default=None, metavar="K",
                        help="export the K best finished trials by best validation accuracy (default 1)")
    choice.add_argument("--trial", default=None, metavar="ID", help="export this trial")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder: DIR/index.json and one folder per trial (must not exist)")
    parser.add_argument("--force", action="store_true", help="replace DIR if it exists")
    parser.add_argument("--results-root", default="results", metavar="DIR",
                        help="where run names are looked up: a folder or a storage URI (default: results)")


def run(args) -> int:
    if args.top is not None and args.top < 1:
        raise ValueError(f"--top: must be a positive integer, got {args.top}")
    from nas.export import export_run

    folders = export_run(args.run, args.out, top=1 if args.top is None else args.top, trial=args.trial,
                         replace=args.force, results_root=args.results_root)
    for folder in folders:
        print(folder)
    return 0
