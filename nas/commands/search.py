"""``nas search SPACE``: run an architecture search (Ray Tune + Optuna) and print the leaderboard.

Ctrl-C (SIGINT) or SIGTERM stops the search gracefully: unfinished trials are recorded as ``interrupted``,
the last line on stderr names the command that continues the run, and the exit status is 130 / 143.
"""
from __future__ import annotations

from nas.search.run import SAMPLERS, SCHEDULERS


EPILOG = ("Baselines (space: baselines: true, or {network: {...}} to name their shape; default each network "
          "setting's constant, first choice or range's low bound): a plain ResNet (euler) and the published "
          "LM-ResNet (k learned per layer, the paper's initialisation), without noise and never stopped early by "
          "ASHA; the leaderboard's vs_resnet compares with that ResNet. Duplicates: a trial whose network, "
          "training configuration and seed equal those of an earlier trial of the run is not trained again: "
          "trials.csv records it with status duplicate and duplicate_of, and the sampler gets the earlier "
          "trial's value (space: search: {duplicates: reseed} trains it with the next seed instead).")


def add_arguments(parser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("space", nargs="?", default=None,
                        help="search-space YAML file (default: the embedded quick.yaml)")
    parser.add_argument("--name", help="run name: outputs go to RESULTS_DIR/NAME (default: the space's name); "
                                       "1-100 ASCII letters, digits, '.', '_' or '-', starting with a letter or "
                                       "digit")
    parser.add_argument("--trials", type=int, help="number of trials")
    parser.add_argument("--sampler", choices=SAMPLERS,
                        help="Optuna sampler (each runs single- and multi-objective searches, except cmaes: one "
                             "objective)")
    parser.add_argument("--scheduler", choices=SCHEDULERS, help="early stopping of bad trials")
    parser.add_argument("--objectives", help="comma-separated: val_acc, val_loss, params, flops "
                                             "(several: multi-objective, writes pareto.csv)")
    parser.add_argument("--address", help="join a running Ray cluster: auto or ray://HOST:PORT "
                                          "(default: an embedded local Ray)")
    parser.add_argument("--cpus-per-trial", type=float, help="CPUs per trial")
    parser.add_argument("--gpus-per-trial", help="GPUs per trial, fractional allowed, or auto "
                                                 "(a GPU only when the cluster has one)")
    parser.add_argument("--time-budget", type=float, help="stop starting and running trials after S seconds")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run NAME (finished trials are kept, interrupted ones continue); starts "
                             "it if it does not exist. Only for run folders you created: Ray Tune restores its "
                             "experiment by unpickling files in the run folder, which could run code planted "
                             "there. A folder whose search.json nas did not write is refused, and so is one whose "
                             "Tune files this user's nas did not sign (see --trust-run-folder)")
    parser.add_argument("--trust-run-folder", action="store_true",
                        help="with --resume: restore the Tune experiment even if its files are not signed by this "
                             "user's nas (a folder copied from elsewhere, or written before signatures existed); "
                             "Tune unpickles them, so only for folders whose every writer you trust")
    parser.add_argument("--seed", type=int, help="sampler and training seed")
    parser.add_argument("--results-dir", default="results", help="folder of run folders (default: results)")
    parser.add_argument("--storage", metavar="URI",
                        help="where run folders go instead of --results-dir: a local or shared folder (every Ray "
                             "node must see it), or an object store, s3://bucket/prefix or gs://bucket/prefix "
                             "(pyarrow.fs; S3 credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; "
                             "?endpoint_override=HOST:PORT&scheme=http for an S3-compatible server). Trials on any "
                             "node write their records there; see docs/cluster.md")
    parser.add_argument("--study-storage", metavar="URL",
                        help="database URL of the Optuna study (sqlite:////abs/path.db, postgresql://...; give it "
                             "again with --resume). Default: SQLite optuna.db in the run folder; for an object "
                             "store, on the driver in $NAS_DRIVER_DIR/runs/<scheme>/<bucket>/<prefix>/<name>/ "
                             "(default ~/.cache/nas), copied beside the run when the search ends")


def run(args) -> int:
    from .resource_options import gpus_per_trial

    from nas.search import run as run_search

    gpus = gpus_per_trial(args.gpus_per_trial)
    run_search(args.space, name=args.name, trials=args.trials, sampler=args.sampler, scheduler=args.scheduler,
               objectives=args.objectives, address=args.address, cpus_per_trial=args.cpus_per_trial,
               gpus_per_trial=gpus, time_budget=args.time_budget, resume=args.resume, seed=args.seed,
               results_dir=args.results_dir, storage=args.storage, study_storage=args.study_storage,
               trust_run_folder=args.trust_run_folder)
    return 0
