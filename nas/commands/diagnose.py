"""``nas diagnose``: order, stability and modified equation of a scheme (``nas.diagnostics.analyze``).

Examples::

    nas diagnose rk4
    nas diagnose rk4 ab2 leapfrog --plot regions.png        # several schemes, regions overlaid
    nas diagnose lm_resnet                                  # symbolic in k
    nas diagnose lm_resnet --k 0.3 --json
    nas diagnose --tableau '[[0,0],[1,0]]' --b '[0.5,0.5]'
    nas diagnose --multistep --alpha '[0,-1,1]' --beta '["-1/2","3/2",0]'
    nas diagnose --noise '{"kind": "stochastic_depth", "shape": "linear", "p_L": 0.5}' --depth 20

Numbers in the JSON options are read exactly (0.5 is 1/2, "1/3" is a third), so tableaux typed as
decimals are analysed in exact arithmetic. Bad input is one line on stderr and exit status 2.
"""
from __future__ import annotations

import json
import sys


def add_arguments(parser) -> None:
    parser.add_argument("schemes", nargs="*", metavar="SCHEME",
                        help="registered scheme names (see `nas schemes`) or scheme JSON objects")
    parser.add_argument("--k", default=None, help="lm_resnet: analyse at this fixed k (number or 'p/q')")
    parser.add_argument("--tableau", default=None, help="Runge-Kutta matrix A as JSON rows, e.g. '[[0,0],[1,0]]'")
    parser.add_argument("--b", default=None, help="Runge-Kutta weights b as a JSON list (with --tableau)")
    parser.add_argument("--c", default=None, help="Runge-Kutta nodes c (optional; must equal the row sums)")
    parser.add_argument("--multistep", action="store_true", help="a linear multistep method from --alpha/--beta")
    parser.add_argument("--alpha", default=None, help="multistep α_0 … α_k as a JSON list (α_k = 1)")
    parser.add_argument("--beta", default=None, help="multistep β_0 … β_k as a JSON list (β_k = 0)")
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

    items = []
    for text in args.schemes:
        if text.lstrip().startswith("{"):
            items.append(registry.from_dict(_json(text, "SCHEME")))
        elif text == "lm_resnet" and args.k is not None:
            try:
                k = Fraction(args.k)
            except (ValueError, ZeroDivisionError):
                raise ValueError(f"--k: cannot read {args.k!r} as a number") from None
            items.append(registry.get("lm_resnet", k=k))
        else:
            items.append(registry.get(text))
    if args.k is not None and "lm_resnet" not in args.schemes:
        raise ValueError("--k: only applies to lm_resnet")
    if args.tableau is not None or args.b is not None:
        if args.tableau is None or args.b is None:
            raise ValueError("--tableau and --b: give both (the matrix A and the weights b)")
        c = None if args.c is None else _json(args.c, "--c")
        items.append(registry.ButcherTableau(A=_json(args.tableau, "--tableau"), b=_json(args.b, "--b"), c=c,
                                             name="tableau"))
    if args.multistep or args.alpha is not None or args.beta is not None:
        if args.alpha is None or args.beta is None:
            raise ValueError("--multistep: give --alpha and --beta (JSON lists of the same length)")
        items.append(registry.LinearMultistep(alpha=_json(args.alpha, "--alpha"), beta=_json(args.beta, "--beta"),
                                              name="multistep"))
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
    from nas.diagnostics.plots import check_plottable
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
        plottable = [r for r in reports if r.kind in ("runge_kutta", "multistep")]
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
