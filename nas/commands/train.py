"""``nas train``: train one scheme network, print a line per epoch, then validation and test accuracy.

Example: ``nas train --scheme lm_resnet --k 0.3 --data mnist1d --epochs 30 --widths 16,32,64``.
Options left out take the defaults of ``nas.train.TrainConfig`` and ``nas.networks.NetworkSpec``.

``nas train --spec PATH`` trains the network of a ``spec.json`` instead (a searched scheme that is not a
registered name, say): PATH is a trial folder (``results/<run>/trials/<id>``), an export model folder, an
``nas export`` output folder (its rank-1 model, ``index.json``) or a ``spec.json`` file. The training
defaults are then those of the ``train_config.json`` beside that ``spec.json`` (a trial folder has one),
else ``TrainConfig``'s; training flags override them. Flags that define the network (``--scheme``, its
coefficient options, ``--macro``, ``--widths``, ``--steps-per-stage``, ``--h``, ``--learn-scheme``) are refused
with ``--spec``.

``--out DIR`` keeps the trained network as an export folder in ``nas export``'s layout (``DIR/index.json`` and one
model folder: ``model.pt2``, ``weights.safetensors``, ``spec.json``, ``card.md`` ...), written by ``nas.export``'s
writer; ``--force`` replaces only an earlier export folder, as for ``nas export``. A diverged network is not kept.

``--learn-scheme network --learn-order 2`` trains the scheme's coefficients with the weights (docs/learned.md);
the learned scheme is printed after training and saved under ``"learned"`` in ``--output``.

Exit status 0 when training completes, 1 when it diverged, 2 on bad input.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from nas.checks import positive_int

from .scheme_options import add_scheme_options, given_options, scheme_parameters

# CLI option -> TrainConfig field (options left at None keep the TrainConfig default)
TRAIN_OPTIONS = {
    "epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "momentum": "momentum",
    "nesterov": "nesterov", "weight_decay": "weight_decay", "schedule": "schedule",
    "label_smoothing": "label_smoothing", "augment": "augment", "seed": "seed", "device": "device", "bf16": "bf16",
    "coefficient_lr": "coefficient_lr",
}


def add_arguments(parser) -> None:
    parser.epilog = ("--spec PATH: train the network of a spec.json (a trial folder, an export folder or the file). "
                     "Training defaults: the train_config.json beside that spec.json (a trial folder has one), "
                     "else TrainConfig's; training flags override them. Network flags are refused with --spec.")
    net = parser.add_argument_group("network")
    net.add_argument("--spec", default=None, metavar="PATH",
                     help="train the network of this spec.json: a trial folder, an export folder or the file "
                          "(instead of --scheme and the other network flags)")
    net.add_argument("--scheme", default=None, help="registered scheme name (see `nas schemes`); default euler")
    net.add_argument("--macro", choices=("sequence", "image", "mlp"), default=None,
                     help="macro-architecture (default: the data set's natural one)")
    net.add_argument("--widths", default=None, help="comma-separated stage widths (default 16,32,64)")
    net.add_argument("--steps-per-stage", type=int, default=None, help="scheme steps per stage (default 2)")
    net.add_argument("--h", type=float, default=None, help="step size h (default 1)")
    net.add_argument("--tie", default=None, choices=("none", "stage"),
                     help="stage: one residual function per stage, shared by its steps (default none)")
    net.add_argument("--norm", default=None, choices=("per_step", "shared", "none"),
                     help="normalisation inside the residual function (default per_step; shared needs --tie stage)")
    net.add_argument("--learn-scheme", default=None, choices=("none", "network", "stage", "step"),
                     help="train the scheme's coefficients with the weights, one set per network, stage or step, "
                          "starting at --scheme and keeping its order (docs/learned.md; default none)")
    net.add_argument("--learn-order", type=int, default=None,
                     help="with --learn-scheme: the order the learned coefficients keep (default: the scheme's, "
                          "at most 3 for Runge-Kutta and k for k-step methods)")

    add_scheme_options(parser, float)

    data = parser.add_argument_group("data")
    data.add_argument("--data", default=None, help="mnist1d (default), cifar10, cifar100 or toy2d; with --spec of a "
                                                  "trial or export folder: the run's data set, splits and seeds")
    data.add_argument("--data-root", default=None, help="folder holding the CIFAR files (default ./data)")
    data.add_argument("--num-samples", type=int, default=None, help="size of the train+validation pool")
    data.add_argument("--val-fraction", type=float, default=None,
                      help="share of the pool used for validation (default 0.2)")
    data.add_argument("--data-seed", type=int, default=None, help="seed of the validation split (default 0)")
    data.add_argument("--toy2d-kind", default=None, help="toy2d: circles, moons or spirals")
    data.add_argument("--noise", type=float, default=None, help="toy2d: standard deviation of the point noise")
    data.add_argument("--workers", type=int, default=None, help="CIFAR: DataLoader worker processes")

    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=None, help="default 30")
    train.add_argument("--batch-size", type=int, default=None, help="default 128")
    train.add_argument("--lr", type=float, default=None, help="(peak) learning rate, default 0.05")
    train.add_argument("--momentum", type=float, default=None, help="default 0.9")
    train.add_argument("--coefficient-lr", type=float, default=None,
                       help="learning rate of learned scheme coefficients (--learn-scheme; default --lr)")
    train.add_argument("--no-nesterov", dest="nesterov", action="store_const", const=False, default=None,
                       help="plain momentum instead of Nesterov")
    train.add_argument("--weight-decay", type=float, default=None, help="default 5e-4")
    train.add_argument("--schedule", default=None, help="step, cosine, onecycle (default) or constant")
    train.add_argument("--label-smoothing", type=float, default=None, help="default 0")
    train.add_argument("--no-augment", dest="augment", action="store_const", const=False, default=None,
                       help="no data augmentation")
    train.add_argument("--seed", type=int, default=None, help="seed of initialisation, shuffling, augmentation")
    train.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    train.add_argument("--bf16", action="store_const", const=True, default=None, help="bfloat16 autocast")
    train.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    train.add_argument("--out", default=None, metavar="DIR",
                       help="keep the trained network as an export folder, as nas export writes it: DIR/index.json and "
                            "DIR/<scheme>/ with model.pt2, weights.safetensors, spec.json, card.md (must not exist)")
    train.add_argument("--force", action="store_true",
                       help="with --out: replace DIR if it is an earlier export folder (as nas export --force)")
    train.add_argument("--output", default=None, metavar="FILE",
                       help="write the network spec, data spec and result as JSON to FILE (its folder must exist; "
                            "checked before training)")


def network_flags(args) -> list[str]:
    """The command-line flags given that define the network (refused together with ``--spec``)."""
    given = [f"--{name.replace('_', '-')}" for name in ("scheme", "macro", "widths", "steps_per_stage", "h", "tie",
                                                         "norm", "learn_scheme", "learn_order")
             if getattr(args, name) is not None]
    return given + [f"--{option}" for option in given_options(args)]


def read_spec(path, refused: list[str]):
    """``(spec, training defaults, the data its run trained on or None)`` of ``--spec PATH`` (see the module
    docstring); read without running code, every problem a ``ValueError`` naming the file."""
    from pathlib import Path

    from nas.messages import one_line
    from nas.network_kinds import spec_from_dict
    from nas.safe_load import read_json
    from nas.train import TrainConfig

    if refused:
        raise ValueError(f"--spec: the spec.json defines the network; leave out {', '.join(refused)}")
    location = Path(path)
    if location.is_dir() and not (location / "spec.json").exists() and (location / "index.json").is_file():
        from nas.export.loading import index_models
        from nas.paths import contained

        index_path = location / "index.json"
        best = min(index_models(read_json(index_path, f"--spec: {index_path}"), index_path), key=lambda m: m["rank"])
        location = contained(location, best["folder"], f"--spec: {index_path}: models[rank {best['rank']}].folder")
    file = location / "spec.json" if location.is_dir() else location
    if not file.is_file():
        raise ValueError(f"--spec: {file} does not exist (give a trial folder, an export folder or a spec.json file)")
    try:
        spec = spec_from_dict(read_json(file, f"--spec: {file}"))
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"--spec: {file}: {one_line(exc)}") from None
    defaults = {}
    train_file = file.parent / "train_config.json"
    if train_file.is_file():
        defaults = read_json(train_file, f"--spec: {train_file}")
        try:
            TrainConfig.from_dict(defaults)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"--spec: {train_file}: {one_line(exc)}") from None
    return spec, defaults, run_data(file.parent)


DATA_FLAGS = ("data", "data_root", "num_samples", "val_fraction", "data_seed", "toy2d_kind", "noise", "workers")


def run_data(folder):
    """The ``load_dataset`` arguments a model folder was trained on: a trial folder's run (``../../search.json``
    ``data``) or an export's ``card.json`` (``data.options``); None when the folder records none."""
    from nas.safe_load import read_json

    search = folder.parent.parent / "search.json"
    if (folder / "metrics.json").is_file() and search.is_file():
        from nas.export.selection import dataset_options

        return dataset_options(read_json(search, f"--spec: {search}"))
    if (folder / "card.json").is_file():
        options = (read_json(folder / "card.json", f"--spec: {folder / 'card.json'}").get("data") or {}).get("options")
        return options if isinstance(options, dict) and isinstance(options.get("name"), str) else None
    return None


def data_arguments(args, from_spec) -> tuple[str, dict, str]:
    """(data set name, ``load_dataset`` keyword arguments, where they come from): the flags, or, with ``--spec``
    of a trial or export folder and no data flag, the data its run trained on."""
    recorded = None if from_spec is None else from_spec[2]
    if recorded is not None and all(getattr(args, flag) is None for flag in DATA_FLAGS):
        options = dict(recorded)
        return options.pop("name"), options, "the data of the run that trained --spec"
    options = {name: value for name, value in
               (("kind", args.toy2d_kind), ("noise", args.noise), ("num_workers", args.workers)) if value is not None}
    request = dict(seed=0 if args.data_seed is None else args.data_seed, root=args.data_root,
                   num_samples=args.num_samples, val_fraction=0.2 if args.val_fraction is None else args.val_fraction,
                   **options)
    return args.data or "mnist1d", request, "the command-line flags"


def check_spec_fits(spec, info, data_name: str) -> None:
    """The spec's input channels and classes are the data set's."""
    in_channels = getattr(spec, "in_channels", 3)  # a converted torchvision ResNet takes 3-channel images
    if in_channels != info.in_channels or spec.num_classes != info.num_classes:
        raise ValueError(f"--spec: the network takes {in_channels} input channel(s) and {spec.num_classes} classes, "
                         f"but --data {data_name} has {info.in_channels} channel(s) and {info.num_classes} classes")
    macro = getattr(spec, "macro", None)
    if macro is not None:
        info.check_macro(macro, "--spec: the spec's macro")


def parse_widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"widths: expected comma-separated positive integers such as 16,32,64, got {text!r}") from None
    if not widths or any(w <= 0 for w in widths):
        raise ValueError(f"widths: expected comma-separated positive integers such as 16,32,64, got {text!r}")
    return widths


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


@dataclass(frozen=True)
class TrainRequest:
    """What ``nas train`` was asked for, checked before torch is imported (``check_request``)."""

    output: Path | None  # --output FILE
    out: Path | None  # --out DIR (an export folder)
    from_spec: tuple | None  # read_spec's (spec, training defaults, recorded data) for --spec
    data_name: str
    data_request: dict
    data_source: str  # where the data arguments come from
    info: object  # nas.data_info's description of the data set
    macro: str
    widths: tuple[int, ...] | None


def check_request(args) -> TrainRequest:
    """Everything validated before any data is generated or loaded, and first what needs no torch (it takes
    seconds to import), so a typo such as --num-samples 1000000000000 is refused at once: the output paths,
    the data request against the data budget, the widths against the parameter budget (nas.limits)."""
    from nas.data_info import check_request as check_data_request
    from nas.limits import check_depth, check_fixed_layers, check_workers
    from nas.paths import check_output_file

    output = None if args.output is None else check_output_file(args.output, "--output")
    out = None if args.out is None else check_out_folder(args.out, args.force)
    if args.force and args.out is None:
        raise ValueError("--force: only with --out DIR (it replaces an earlier export folder)")
    if args.threads is not None:
        check_workers(positive_int(args.threads, "threads"), "--threads")
    from_spec = None if args.spec is None else read_spec(args.spec, network_flags(args))
    data_name, data_request, data_source = data_arguments(args, from_spec)
    info = check_data_request(data_name, **data_request)
    macro = args.macro or info.macro
    info.check_macro(macro, "--macro")
    widths = None if args.widths is None else parse_widths(args.widths)
    if widths is not None:
        check_fixed_layers(macro, info.in_channels, info.num_classes, widths, f"--widths {args.widths}")
        if args.steps_per_stage is not None:
            check_depth(len(widths), args.steps_per_stage, "--steps-per-stage")
    return TrainRequest(output, out, from_spec, data_name, data_request, data_source, info, macro, widths)


def check_out_folder(out, force: bool) -> Path:
    """``--out DIR``: refused as ``nas export --out`` refuses it (``nas.export.folders.check_target``: an existing
    folder only with --force, and only an earlier export folder, never a run folder or anything in one)."""
    from nas.export.folders import check_target

    return check_target(out, force)


def network_and_config(args, request: TrainRequest):
    """(network spec, TrainConfig): those of ``--spec`` with the training flags over its defaults, or the
    network the flags describe."""
    from nas import schemes
    from nas.networks import NetworkSpec
    from nas.train import TrainConfig

    flags = {field: getattr(args, option) for option, field in TRAIN_OPTIONS.items()
             if getattr(args, option) is not None}
    if request.from_spec is not None:
        spec, defaults, _ = request.from_spec
        check_spec_fits(spec, request.info, request.data_name)
        return spec, TrainConfig.from_dict({**defaults, **flags})
    scheme_name = args.scheme or "euler"
    scheme = schemes.get(scheme_name, **scheme_parameters(scheme_name, given_options(args)))
    network_options = {name: value for name, value in (
        ("widths", request.widths), ("steps_per_stage", args.steps_per_stage), ("h", args.h), ("tie", args.tie),
        ("norm", args.norm), ("learn_scheme", args.learn_scheme), ("learn_order", args.learn_order))
        if value is not None}
    spec = NetworkSpec(scheme=scheme, macro=request.macro, in_channels=request.info.in_channels,
                       num_classes=request.info.num_classes, **network_options)
    return spec, TrainConfig(**flags)


def announce(spec, data, config, request: TrainRequest) -> None:
    """The first lines: what is trained on which data."""
    sizes = data.sizes()
    print(f"nas train: {spec.scheme} on {data.name} ({sizes['train']} train / {sizes['val']} val / "
          f"{sizes['test']} test), {spec.macro} widths {','.join(map(str, spec.widths))} x "
          f"{spec.steps_per_stage} steps, {config.epochs} epochs", flush=True)
    if request.from_spec is not None:  # a trial or export folder: say whether its run's data or the flags' is used
        print(f"data: {data.name} {json.dumps({k: v for k, v in data.spec.items() if v is not None})} "
              f"({request.data_source})", flush=True)


def epoch_printer(config):
    """``fit``'s callback: one line per epoch."""
    width = len(str(config.epochs))

    def progress(metrics, _checkpoint):
        print(f"epoch {metrics['epoch']:>{width}}/{config.epochs}  lr {metrics['lr']:.4g}  "
              f"train loss {metrics['train_loss']:.4f} acc {_percent(metrics['train_acc'])}  "
              f"val loss {metrics['val_loss']:.4f} acc {_percent(metrics['val_acc'])}  "
              f"{metrics['epoch_time']:.2f} s", flush=True)

    return progress


def report(result, test: dict, learned) -> None:
    """The closing lines: status, accuracies, size and time, and the learned scheme(s)."""
    if result.status == "diverged":
        print(f"diverged: {result.message}")
    best = "" if result.best_epoch is None else f" (best {_percent(result.best_val_acc)} at epoch {result.best_epoch})"
    print(f"final: status {result.status}, {result.epochs_run} epochs, val acc {_percent(result.final_val_acc)}{best}, "
          f"test acc {_percent(test['acc'])} (loss {test['loss']:.4f}); {result.params:,} parameters, "
          f"{result.flops:,} FLOPs/sample, {result.train_time:.1f} s on {result.device}")
    for entry in (learned or {}).get("schemes", []):
        print(f"learned scheme: {json.dumps(entry['scheme'])}")


def write_output(output: Path, spec, data, result, test: dict, learned) -> None:
    """``--output FILE``: network spec, data spec, result and test metrics as JSON."""
    from nas import atomic

    payload = {"network": spec.to_dict(), "data": data.spec, "train": result.to_dict(), "test": test}
    if learned is not None:
        payload["learned"] = learned
    atomic.write_text(output, json.dumps(payload, indent=2) + "\n")  # NaN / inf allowed: a run may hold them


def keep_export(out: Path, force: bool, model, spec, data, config, result) -> Path:
    """``--out DIR``: the trained network as an export folder, in ``nas export``'s layout (``index.json`` and
    one model folder, written by ``nas.export``'s writer); returns the model folder."""
    from nas.export.folders import model_folder_name, write_export, write_model_folder

    name = getattr(spec.scheme, "name", None) or spec.scheme.family
    record = {"trial_id": "trained", "scheme_name": name, "family": spec.scheme.family, "rank": 1,
              "baseline": False, "trial_path": None, "trial_metrics": None, "eval_batch_size": config.eval_batch_size,
              "val_acc": result.final_val_acc, "val_loss": result.final_val_loss, "best_val_acc": result.best_val_acc,
              "epochs_run": result.epochs_run, "wall_time": result.train_time, "status": result.status,
              "seed": config.seed, "params": result.params, "flops": result.flops}
    origin = {"title": f"{name} (trained by nas train)",
              "search": {"run": None, "run_dir": None, "trial_dir": None, "config": None,
                         "trained_by": "nas train", "train_config": config.to_dict()}}
    model.to("cpu")  # the program and the weights are saved for the CPU, as nas export saves them

    def write(target):
        return write_model_folder(target, model, spec, data, record, run_dir=out, search={}, origin=origin)

    (written,) = write_export(out, [(record, model_folder_name(name), write)], replace=force, writer="nas train",
                              header={"run": None, "trained_by": "nas train",
                                      "ranking": "one network trained by nas train"})
    return written


def run(args) -> int:
    request = check_request(args)

    import torch

    from nas.data import load_dataset
    from nas import network_kinds
    from nas.networks.learned import learned_record
    from nas.train import evaluate, fit, seeded

    spec, config = network_and_config(args, request)
    network_kinds.check(spec, input_shape=request.info.input_shape, batch_size=config.batch_size)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    data = load_dataset(request.data_name, **request.data_request)
    with seeded(config.seed):
        model = network_kinds.build_network(spec)
    announce(spec, data, config, request)
    result = fit(model, data, config, callback=epoch_printer(config))
    test = evaluate(model, data.test, config.eval_batch_size, bf16=config.bf16)
    learned = learned_record(spec, model.state_dict())
    report(result, test, learned)
    if request.output is not None:
        write_output(request.output, spec, data, result, test, learned)
    if request.out is not None:
        if result.status == "diverged":  # non-finite weights: no program to export
            print(f"--out: {request.out} not written: training diverged", file=sys.stderr)
        else:
            print(f"kept in {keep_export(request.out, args.force, model, spec, data, config, result)}")
    return 0 if result.status != "diverged" else 1
