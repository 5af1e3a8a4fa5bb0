"""The ``nas`` command line: a table of subcommands, ``main() -> int``.

Each subcommand lives in ``nas/commands/<name>.py`` with ``add_arguments(parser)`` and ``run(args) -> int``
and is imported only when used, so ``nas schemes`` does not pay for importing Ray. Every error path ends
in one line on stderr: bad input (a ``ValueError`` from the API, an argument error) or a file that cannot be
read or written (``OSError``) exits with status 2; SIGINT / SIGTERM (``nas.interrupt``) with 130 / 143; a
closed output pipe (``nas schemes --json | head -1``) quietly with 141, as a program killed by SIGPIPE.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .interrupt import Interrupted, catch_signals
from .messages import one_line

# name -> (module, one-line help)
SUBCOMMANDS = {
    "schemes": ("nas.commands.schemes", "list the registered numerical schemes"),
    "train": ("nas.commands.train", "train one scheme network"),
    "diagnose": ("nas.commands.diagnose", "modified-equation diagnostics of a scheme"),
    "search": ("nas.commands.search", "run an architecture search over schemes"),
    "evaluate": ("nas.commands.evaluate", "retrain a run's best architectures with several seeds, score on test"),
    "export": ("nas.commands.export", "export the best trials of a run as PyTorch models"),
    "convert": ("nas.commands.convert", "convert a torchvision ResNet into a scheme network and export it"),
    "leaderboard": ("nas.commands.leaderboard", "coefficient leaderboards across runs"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2, no usage dump
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


BUDGETS_HELP = ("Resource budgets (README, Limits): networks above NAS_MAX_PARAMS parameters (default 100 million) "
                "or NAS_MAX_ACTIVATION_GB of training activations (default 16), and data sets above "
                "NAS_MAX_DATA_GB in memory (default 4), are refused before anything is built; set these "
                "environment variables to raise them.")
BROKEN_PIPE_STATUS = 128 + 13  # SIGPIPE's number: the status a shell reports for a writer whose reader left


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nas", description="Architecture search over numerical schemes.", epilog=BUDGETS_HELP)
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
        print(f"nas: error: give a command ({', '.join(SUBCOMMANDS)}); see nas --help", file=sys.stderr)
        return 2
    if getattr(args, "_missing", False):
        print(f"nas {args.command}: not available in this version", file=sys.stderr)
        return 2
    module = importlib.import_module(args._module)
    try:
        with catch_signals():
            status = int(module.run(args) or 0)
            sys.stdout.flush()  # a reader that left shows here, not as a traceback at interpreter exit
        return status
    except BrokenPipeError:
        _discard_stdout()
        return BROKEN_PIPE_STATUS
    except Interrupted as exc:
        print(f"nas {args.command}: {one_line(exc)}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print(f"nas {args.command}: interrupted by SIGINT", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        print(f"nas {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2


def _discard_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail again (Python docs, SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (e.g. captured by a test): nothing to silence
        pass


if __name__ == "__main__":
    raise SystemExit(main())
