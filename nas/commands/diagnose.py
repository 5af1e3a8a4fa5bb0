"""``nas diagnose``: order, stability and modified equation of a scheme (``nas.diagnostics.analyze``).

Examples::

    nas diagnose rk4
    nas diagnose rk4 ab2 leapfrog --plot regions.png        # several schemes, regions overlaid
    nas diagnose lm_resnet                                  # symbolic in k
    nas diagnose lm_resnet --k 0.3 --json                   # options from the schemes' parameters
    nas diagnose --tableau '[[0,0],[1,0]]' --b '[0.5,0.5]'
    nas diagnose --multistep --alpha '[0,-1,1]' --beta '["-1/2","3/2",0]'
    nas diagnose --noise '{"kind": "stochastic_depth", "shape": "linear", "p_L": 0.5}' --depth 20

Numbers in the JSON options are read exactly (0.5 is 1/2, "1/3" is a third), so tableaux typed as
decimals are analysed in exact arithmetic. Bad input is one line on stderr and exit status 2.
"""
from __future__ import annotations

import json
import sys

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


def run(args) -> int:
    from nas.diagnostics import analyze, plot_stability_regions
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
            print(report)
    if args.plot:
        plot_stability_regions(plottable, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
