"""``nas diagnose``: order, stability and modified equation of a scheme (``nas.diagnostics.analyze``).

Examples::

    nas diagnose rk4
    nas diagnose rk4 ab2 leapfrog --plot regions.png        # several schemes, regions overlaid
    nas diagnose lm_resnet                                  # symbolic in k
    nas diagnose lm_resnet --k 0.3 --json                   # options from the schemes' parameters
    nas diagnose --tableau '[[0,0],[1,0]]' --b '[0.5,0.5]'
    nas diagnose --multistep --alpha '[0,-1,1]' --beta '["-1/2","3/2",0]'
    nas diagnose --noise '{"kind": "stochastic_depth", "shape": "linear", "p_L": 0.5}' --depth 20
    nas diagnose --model exports/tied/rank1 --refine 1,2,4 --scheme rk4   # a trained tied network

Numbers in the JSON options are read exactly (0.5 is 1/2, "1/3" is a third), so tableaux typed as
decimals are analysed in exact arithmetic. Bad input is one line on stderr and exit status 2.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .scheme_options import (add_coefficient_options, add_scheme_options, check_options_apply, coefficient_schemes,
                             given_options, scheme_parameters)


def add_arguments(parser) -> None:
    parser.add_argument("schemes", nargs="*", metavar="SCHEME",
                        help="registered scheme names (see `nas schemes`) or scheme JSON objects")
    add_coefficient_options(parser)
    parser.add_argument("--noise", default=None, help="a noise schedule as a JSON object")
    parser.add_argument("--depth", type=int, default=None, help="noise: number of steps (default 10)")
    parser.add_argument("--h", type=float, default=None, help="noise: step size (default 1/depth)")
    parser.add_argument("--tolerance", type=float, default=1e-9, help="float order-condition tolerance")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print each report's JSON form (one per line)")
    output.add_argument("--latex", action="store_true", help="print each report as a LaTeX tabular")
    parser.add_argument("--plot", default=None, metavar="PNG",
                        help="write the stability regions of the schemes, overlaid, to this PNG file (its folder "
                             "must exist)")
    trained = parser.add_argument_group("a trained network")
    trained.add_argument("--model", default=None, metavar="FOLDER",
                         help="an export model folder or a trial folder: say whether its scheme's diagnostics "
                              "describe it (tied, time-invariant) and print them")
    trained.add_argument("--refine", default=None, metavar="FACTORS",
                         help="with --model (tied networks): evaluate it on its test split with FACTORS x the "
                              "steps of size h/FACTOR per stage, e.g. 1,2,4; prints accuracy and the relative "
                              "change of the logits per refinement")
    trained.add_argument("--scheme", default=None, metavar="SCHEME",
                         help="with --refine: also evaluate under this scheme of the same stage structure "
                              "(e.g. trained with euler, evaluated with rk4)")
    add_scheme_options(parser, number)


def number(text: str):
    """A number read exactly (0.5 is 1/2, "1/3" a third), for the scheme-parameter options."""
    from fractions import Fraction

    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"cannot read {text!r} as a number") from None


def _json(text: str, option: str):
    from fractions import Fraction

    from nas.messages import quote

    try:
        return json.loads(text, parse_float=Fraction)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{option}: not valid JSON ({exc.msg}): {quote(text)}") from None
    except RecursionError:
        raise ValueError(f"{option}: not valid JSON (nested too deeply): {quote(text)}") from None


def _schemes_from(args) -> list:
    from fractions import Fraction

    from nas import schemes as registry

    given = given_options(args)  # each option goes to the named schemes that take it
    check_options_apply(given, [text for text in args.schemes if not text.lstrip().startswith("{")])
    items = []
    for text in args.schemes:
        if text.lstrip().startswith("{"):
            items.append(registry.from_dict(_json(text, "SCHEME")))
        else:
            options = {p.option for p in registry.info(text).parameters}
            items.append(registry.get(text, **scheme_parameters(text, {o: v for o, v in given.items()
                                                                        if o in options})))
    items.extend(coefficient_schemes(args, _json))
    if args.noise is not None:
        from nas.schemes.noise import NoiseSchedule

        data = _json(args.noise, "--noise")
        data = {k: (float(v) if isinstance(v, Fraction) else v) for k, v in data.items()} \
            if isinstance(data, dict) else data
        items.append(NoiseSchedule.from_dict(data))
    elif args.depth is not None or args.h is not None:
        raise ValueError("--depth / --h: only apply to --noise")
    if not items:
        raise ValueError("nothing to diagnose: give a scheme name (see `nas schemes`), --tableau/--b, "
                         "--multistep --alpha/--beta or --noise")
    return items


def parse_factors(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> (1, 2, 4); ``ValueError`` naming the option otherwise."""
    from nas.messages import quote
    from nas.refinement import check_factor

    try:
        factors = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        raise ValueError(f"--refine: expected whole numbers separated by commas, e.g. 1,2,4; got {quote(text)}") \
            from None
    if len(factors) > 8:
        raise ValueError(f"--refine: at most 8 factors, got {len(factors)}")
    return tuple(check_factor(f) for f in factors)


def load_model_and_test_data(path):
    """(model in eval mode, test inputs, test labels) of an export model folder or a trial folder."""
    from nas.data import load_dataset
    from nas.export import read_model
    from nas.export.selection import load_data
    from nas.network_kinds import build_network
    from nas.safe_load import read_json

    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"--model: {folder} is not a folder (give an export model folder or a trial folder)")
    spec, weights = read_model(folder, f"--model {folder}")
    if (folder / "card.json").is_file():
        card = read_json(folder / "card.json", f"--model {folder}: card.json")
        options = (card.get("data") or {}).get("options")
        if not isinstance(options, dict) or not isinstance(options.get("name"), str):
            raise ValueError(f"--model {folder}: card.json records no data set (data.options)")
        splits = load_dataset(**options)
    else:
        run = folder.parent.parent
        if not (run / "search.json").is_file():
            raise ValueError(f"--model {folder}: neither an export (card.json) nor a trial folder of a run "
                             "(../../search.json)")
        splits = load_data(read_json(run / "search.json", f"--model {folder}: search.json"))
    model = build_network(spec)
    model.load_state_dict(weights)
    inputs, labels = _stack(splits.test)
    return model.eval(), inputs, labels


def _stack(split):
    import torch

    xs, ys = zip(*split.batches(1024))
    return torch.cat(xs).to(torch.float32), torch.cat(ys)


def run_model(args) -> int:
    """``--model``: the network's time-invariance, its scheme's report and (``--refine``) its refinement table."""
    from nas.diagnostics import analyze
    from nas.networks.learned import trained_schemes
    from nas.networks.tying import time_invariance_text
    from nas.refinement import format_table, refinement_table

    if args.schemes or args.noise is not None or args.plot or given_options(args) or coefficient_schemes(args, _json):
        raise ValueError("--model: diagnoses the trained network's own scheme; give no other scheme or option")
    factors = None if args.refine is None else parse_factors(args.refine)
    model, inputs, labels = load_model_and_test_data(args.model)
    spec = model.spec
    if factors is not None and getattr(spec, "tie", "none") != "stage":
        raise ValueError(f"--refine: refinement needs tied weights (tie: stage); {args.model} is untied (every "
                         "step has its own residual function)")
    # learned coefficients (learn_scheme): the concrete learned schemes, not the starting point
    schemes = trained_schemes(model)
    report = analyze(schemes[0][1], tolerance=args.tolerance)
    if args.json:
        import json as json_module

        out = {"network": {"tie": spec.tie, "norm": spec.norm, "time_invariant": spec.time_invariant,
                           "describes": time_invariance_text(spec)}, "scheme": report.to_dict()}
        if getattr(spec, "learn_scheme", "none") != "none":
            out["learned_schemes"] = [{"steps": label, "scheme": analyze(scheme, tolerance=args.tolerance).to_dict()}
                                      for label, scheme in schemes]
        if factors is not None:
            out["refinement"] = [row.to_dict() for row in refinement_table(model, inputs, labels, factors,
                                                                            args.scheme)]
        print(json_module.dumps(out))
        return 0
    print(f"network: {time_invariance_text(spec)}")
    for label, scheme in schemes:
        print()
        if label:
            print(f"learned scheme ({label}; learn_scheme {spec.learn_scheme}, order {spec.learn_order} kept):")
        one = analyze(scheme, tolerance=args.tolerance)
        print(one.to_latex() if args.latex else one)
    if factors is not None:
        print()
        print(f"depth refinement on the test split ({len(labels)} samples):")
        print(format_table(refinement_table(model, inputs, labels, factors, args.scheme)))
    return 0


def run(args) -> int:
    if args.model is not None:
        return run_model(args)
    if args.refine is not None or args.scheme is not None:
        raise ValueError("--refine / --scheme: need --model (a trained tied network)")
    from nas.diagnostics import analyze, plot_stability_regions
    from nas.diagnostics.stated_order import stated_order_text
    from nas.diagnostics.plots import check_plottable, has_stability_region
    from nas.paths import check_output_file
    from nas.schemes.noise import NoiseSchedule

    if args.plot is not None:
        check_output_file(args.plot, "--plot")
    items = _schemes_from(args)
    reports = []
    for item in items:
        if isinstance(item, NoiseSchedule):
            reports.append(analyze(item, depth=args.depth, h=args.h))
        else:
            reports.append(analyze(item, tolerance=args.tolerance))
    plottable = []
    if args.plot:  # check before printing anything, so that bad input fails cleanly
        plottable = [r for r in reports if has_stability_region(r)]
        if not plottable:
            raise ValueError("--plot: none of these schemes has a stability region in the h*lambda-plane "
                             "(Runge-Kutta and multistep schemes do)")
        for report in plottable:
            check_plottable(report)
    for i, report in enumerate(reports):
        if args.json:
            print(json.dumps(report.to_dict()))
        elif args.latex:
            print(report.to_latex())
        else:
            if i:
                print()
            print(stated_order_text(report))  # the order line as the leaderboard states it
    if args.plot:
        plot_stability_regions(plottable, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
