"""``nas evaluate RUN``: the final evaluation of a search (``nas.evaluation``).

Retrains the K best distinct architectures of the run (completed at the full budget) and its baselines from
scratch, each with N fresh seeds (from 1000 up, none that a trial of the run trained; or --seed-list), as
parallel Ray Tune trials; scores each model once on the test split; writes
``RUN/evaluation.csv`` and ``RUN/evaluation.json``, in the run's storage (a local folder or an object store:
``nas.storage``). Ctrl-C / SIGTERM stop it gracefully (exit 130 / 143 with the command that resumes it).
"""
from __future__ import annotations


def add_arguments(parser) -> None:
    parser.description = (
        "Final evaluation: retrain the K best distinct architectures of a search run (ranked at equal training "
        "budget, nas.fidelity) and its baselines (baseline_euler, baseline_lm_resnet) from scratch with N fresh "
        "seeds (1000, 1001, ..., skipping any seed a trial of the run trained: the search's own seeds never enter "
        "the evaluation), score each once on the test split (never seen by the search), and write "
        "RUN/evaluation.csv (one row per architecture and seed) and RUN/evaluation.json (test mean, std, min, max,"
        " n per architecture; the paired difference against the plain ResNet with a 95% Student-t interval; the "
        "seeds and their rule; the Spearman correlation between the search's score and the test mean, and the "
        "optimism of the search's pick). A run without a plain ResNet baseline gets one (euler, no noise, at the "
        "shape of the rank-1 architecture). The run may be in an object store (a storage URI, or a run name with "
        "--storage URI, as nas search --storage): the evaluation is then written there, beside the run, and "
        "nothing locally. Ray's and Tune's log lines go to RUN/evaluation/evaluation.log. Examples: nas evaluate "
        "quick --top 3 --seeds 5; nas evaluate quick --storage s3://bucket/prefix; nas evaluate "
        "s3://bucket/prefix/quick")
    parser.add_argument("run", help="run folder, storage URI of a run (s3://bucket/prefix/run), or a run name "
                                    "under --storage")
    parser.add_argument("--top", type=int, default=None, metavar="K",
                        help="distinct architectures to retrain, best first (default 3)")
    parser.add_argument("--seeds", type=int, default=None, metavar="N",
                        help="seeds per architecture (default 5; at least 2): fresh ones, from --first-seed up, "
                             "skipping any seed a trial of the run trained")
    parser.add_argument("--first-seed", type=int, default=None, metavar="S",
                        help="where the fresh seeds start (default 1000)")
    parser.add_argument("--seed-list", default=None, metavar="S1,S2,...",
                        help="exactly these seeds (comma-separated; refused if a trial of the search trained "
                             "one of them); --seeds, if given, must equal their number")
    parser.add_argument("--epochs", type=int, default=None, metavar="E",
                        help="epochs per training (default: the run's full budget)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted or killed evaluation (pairs already trained are kept, "
                             "unfinished ones continue from their last epoch). Only for evaluations you "
                             "started: Ray Tune restores its experiment by unpickling files in the folder, and "
                             "files this user's nas did not sign are refused (see --trust-run-folder)")
    parser.add_argument("--trust-run-folder", action="store_true",
                        help="with --resume: restore the Tune experiment even if its files are not signed by this "
                             "user's nas (a folder copied from elsewhere, or written before signatures existed); "
                             "Tune unpickles them, so only for folders whose every writer you trust")
    parser.add_argument("--address", help="join a running Ray cluster: auto or ray://HOST:PORT "
                                          "(default: an embedded local Ray)")
    parser.add_argument("--cpus-per-trial", type=float, default=None, help="CPUs per trial (default 1)")
    parser.add_argument("--gpus-per-trial", default=None,
                        help="GPUs per trial, fractional allowed, or auto (default: a GPU only when the cluster "
                             "has one)")
    parser.add_argument("--storage", metavar="URI", default=None,
                        help="the storage of the run, as given to nas search --storage: a folder or an "
                             "object-store URI (s3://bucket/prefix, gs://...); the run name is looked up there "
                             "and the evaluation is written there (default: results)")
    parser.add_argument("--results-root", default="results", metavar="DIR",
                        help="older name of --storage for a local folder (default: results)")


def run(args) -> int:
    from nas.evaluation import evaluate

    from .resource_options import gpus_per_trial

    gpus = gpus_per_trial(args.gpus_per_trial)
    evaluate(args.run, top=args.top, seeds=args.seeds, epochs=args.epochs, resume=args.resume,
             first_seed=args.first_seed, seed_list=args.seed_list,
             address=args.address, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=gpus,
             results_root=args.results_root, storage=args.storage, trust_run_folder=args.trust_run_folder)
    return 0
