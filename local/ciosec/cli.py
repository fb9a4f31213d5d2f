"""The operator CLI: ``ciosec <group> <command>`` (``python -m ciosec``), ``--help`` everywhere.

Works against the local stack (the default, see ``make local``) and, with ``--stack NAME`` and
the usual AWS credentials, against a deployed stack. A value out of range or of the wrong kind is
refused as it is parsed, in one line naming the option (``ciosec.options``); any other ordinary
mistake is told in one line too (``ciosec.mistakes``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

import ciosec.commands
from ciosec import options
from ciosec.commands import Subcommands
from ciosec.mistakes import EXIT_INTERRUPTED, EXIT_MISTAKE, explain

_CHECKED_BY_NAME: dict[str, Callable[[str], Any]] = {
    "--port": options.port,
    "--limit": options.count,
    "--count": options.count,
    "--wait": options.seconds(),
    "--timeout": options.seconds(allow_zero=False),
    "--revocation-timeout": options.seconds(allow_zero=False),
}
"""The check an option declared with a bare ``type=int`` or ``type=float`` gets from its name."""


def _checked_types(parser: argparse.ArgumentParser) -> None:
    """Give every option of the command tree declared with a bare ``int`` or ``float`` a checked
    type: the one its name calls for (``--port``: 0 to 65535), else a whole or a finite number. A
    command that declares its own check (``ciosec.options``) keeps it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in set(action.choices.values()):
                _checked_types(subparser)
            continue
        if action.type not in (int, float):
            continue
        named = next((_CHECKED_BY_NAME[o] for o in action.option_strings if o in _CHECKED_BY_NAME), None)
        action.type = named or (options.integer if action.type is int else options.number)


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = options.OneLineErrorParser(
        prog="ciosec", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--stack", help="name of a deployed CloudFormation stack (default: the local stack)")
    parser.add_argument("--state", default=".local-stack/stack.json", help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(ciosec.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"ciosec.commands.{module_info.name}")
        register: Callable[[Subcommands], None] = module.register
        register(groups)
    _checked_types(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; an ordinary mistake ends in one line on stderr and a non-zero exit
    (``ciosec.mistakes``), a bug keeps its traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        print("ciosec: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        if isinstance(exc, BrokenPipeError):
            # Python would report the closed pipe again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"ciosec: {message}", file=sys.stderr)
        return EXIT_MISTAKE
    return result
