"""The operator CLI: ``ciosec <group> <command>`` (``python -m ciosec``), ``--help`` everywhere.

Works against the local stack (the default, see ``make local``) and, with ``--stack NAME`` and
the usual AWS credentials, against a deployed stack.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
from collections.abc import Callable, Sequence

import ciosec.commands
from ciosec.commands import Subcommands


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
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    result: int = args.func(args)
    return result
