"""The ``nas`` command line: a table of subcommands, ``main() -> int``.

Each subcommand lives in ``nas/commands/<name>.py`` with ``add_arguments(parser)`` and ``run(args) -> int``
and is imported only when used, so ``nas schemes`` does not pay for importing Ray. Bad input (a
``ValueError`` from the API, or an argument error) becomes one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS = {
    "schemes": ("nas.commands.schemes", "list the registered numerical schemes"),
    "train": ("nas.commands.train", "train one scheme network"),
    "diagnose": ("nas.commands.diagnose", "modified-equation diagnostics of a scheme"),
    "search": ("nas.commands.search", "run an architecture search over schemes"),
    "export": ("nas.commands.export", "export the best trials of a run as PyTorch models"),
    "leaderboard": ("nas.commands.leaderboard", "coefficient leaderboards across runs"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2, no usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nas", description="Architecture search over numerical schemes.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            sub_parser.set_defaults(_missing=True)
            continue
        module.add_arguments(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if getattr(args, "_missing", False):
        print(f"nas {args.command}: not available in this version", file=sys.stderr)
        return 2
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"nas {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nas {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
