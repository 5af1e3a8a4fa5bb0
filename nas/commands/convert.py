"""``nas convert ARCH --scheme S --out DIR``: a torchvision ResNet as a scheme network, exported like a trial.

Example: ``nas convert resnet18 --scheme lm_resnet --k 0.3 --weights DEFAULT --num-classes 10 --out lm18``.
The folder holds ``model.pt2`` (loadable without nas), ``weights.safetensors`` + ``spec.json`` (``nas.load``) and
``card.md``/``card.json`` (``nas.conversion.folder``). Nothing is downloaded: ``--weights`` reads the checkpoint
where torch.hub caches it (``$TORCH_HOME/hub/checkpoints``) and names that path when it is missing. Every input
is checked before anything is built or written.
"""
from __future__ import annotations

import json

from nas.checks import positive_int
from nas.limits import check_seed

from .scheme_options import add_scheme_options, given_options, scheme_parameters


def add_arguments(parser) -> None:
    parser.add_argument("architecture", help="a torchvision ResNet: resnet18, resnet34, resnet50, resnet101, "
                                             "resnet152, resnext50_32x4d, wide_resnet50_2, ... (docs/convert.md)")
    parser.add_argument("--scheme", default="euler", help="registered scheme name (see `nas schemes`); default euler")
    add_scheme_options(parser, float)
    net = parser.add_argument_group("network")
    net.add_argument("--weights", default=None, metavar="NAME",
                     help="torchvision pretrained weights (DEFAULT, IMAGENET1K_V1, ...) read from the torch.hub cache; "
                          "default: random weights")
    net.add_argument("--num-classes", type=int, default=1000, help="classifier outputs (default 1000; with --weights "
                                                                   "another number re-initialises fc)")
    net.add_argument("--stem", default="imagenet", help="imagenet (torchvision's, default) or cifar (3x3 stride-1 "
                                                        "first convolution, no max pool)")
    net.add_argument("--h", type=float, default=1.0, help="step size of the scheme steps (default 1)")
    net.add_argument("--relu", default="step", help="where the blocks' final ReLU goes: step (after every step, "
                                                    "default: euler is exact), stage or none")
    net.add_argument("--noise", default=None, metavar="JSON", help="a noise schedule as a JSON object")
    net.add_argument("--tie", default="none", help="none (the only choice: every torchvision block keeps its own "
                                                   "weights; stage is refused, see docs/tied.md)")
    net.add_argument("--memory-efficient", action="store_true",
                     help="recompute the steps in backward by inverting them (reversible schemes, --relu stage/none)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="side of the example images the program is exported with (default 224; 32 with --stem "
                             "cifar)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and the check batch")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist)")
    parser.add_argument("--force", action="store_true",
                        help="replace DIR if it is an earlier export (it holds the .nas-export marker and only the "
                             "files an export writes); never a run folder, anything inside one, or anything else")


def _noise(text):
    if text is None:
        return None
    from nas.messages import quote
    from nas.schemes.noise import NoiseSchedule

    try:
        return NoiseSchedule.from_dict(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"--noise: not valid JSON ({exc.msg}): {quote(text)}") from None


def run(args) -> int:
    from nas.schemes import get

    check_seed(args.seed, "--seed")
    if args.image_size is not None:
        positive_int(args.image_size, "--image-size")
    scheme = get(args.scheme, **scheme_parameters(args.scheme, given_options(args)))

    import copy

    import torch

    from nas.conversion import ConvertedSpec, build_converted, torchvision_model
    from nas.conversion.architectures import load_pretrained, pretrained_state
    from nas.conversion.folder import check_target, write_folder
    from nas.conversion.network import check_untied
    from nas import network_kinds
    from nas.train import seeded

    check_untied(args.tie, "--tie")
    spec = ConvertedSpec(architecture=args.architecture, scheme=scheme, num_classes=args.num_classes, stem=args.stem,
                         h=args.h, relu=args.relu, noise=_noise(args.noise), memory_efficient=args.memory_efficient)
    size = args.image_size or (32 if spec.stem == "cifar" else 224)
    network_kinds.check(spec, input_shape=(3, size, size), batch_size=2, where=f"nas convert {spec.architecture}")
    out = check_target(args.out, args.force)
    state, path = (None, None) if args.weights is None else pretrained_state(spec.architecture, args.weights)

    with seeded(args.seed):
        model = torchvision_model(spec.architecture, spec.num_classes, spec.stem)
        example = torch.randn(2, 3, size, size)
    if state is None:
        provenance = {"source": "random", "seed": args.seed,
                      "text": f"random (torchvision's initialisation, seed {args.seed})"}
    else:
        fresh = load_pretrained(model, state, f"weights {args.weights}: {path}")
        provenance = {"source": "pretrained", "weights": args.weights, "file": str(path), "reinitialised": fresh,
                      "text": f"torchvision's {args.weights} from {path}"
                              + (f"; re-initialised: {', '.join(fresh)}" if fresh else "")}
    model.eval()
    network = build_converted(copy.deepcopy(model), spec).eval()
    with torch.no_grad():
        difference = (network(example) - model(example)).abs().max().item()
    check = {"input_shape": list(example.shape), "mode": "eval", "max_abs_difference": difference}
    write_folder(network, out, example, provenance=provenance, check=check, replace=args.force)
    print(network.summary())
    print(f"  weights: {provenance['text']}")
    print(f"  max |converted - original| on a random batch {list(example.shape)} (eval): {difference:.3g}")
    print(out)
    return 0
