"""The operator CLI: ``ciosec <group> <command>`` (``python -m ciosec``), ``--help`` everywhere.

Works against the local stack (the default, see ``make local``) and, with ``--stack NAME`` and
the usual AWS credentials, against a deployed stack.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence

import ciosec.commands
from ciosec.commands import Subcommands
from ciosec.mistakes import EXIT_INTERRUPTED, EXIT_MISTAKE, explain


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ciosec", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", help="name of a deployed CloudFormation stack (default: the local stack)")
    parser.add_argument("--state", default=".local-stack/stack.json", help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(ciosec.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"ciosec.commands.{module_info.name}")
        register: Callable[[Subcommands], None] = module.register
        register(groups)
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
