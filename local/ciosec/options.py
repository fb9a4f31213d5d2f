"""Option values checked where they are parsed: argparse ``type=`` functions that refuse a bad value
with one line naming the option, its range and what was given, and the parser that prints it.

    >>> parser = OneLineErrorParser(prog="ciosec sandbox faults")
    >>> _ = parser.add_argument("--error-rate", type=probability)
    >>> parser.parse_args(["--error-rate", "1.5"])  # doctest: +SKIP
    ciosec: --error-rate must be between 0 and 1 (got 1.5)     (on stderr; exit status 2)

A type function raises ``argparse.ArgumentTypeError`` with the part after the option's name
(``must be between 0 and 1 (got 1.5)``); ``OneLineErrorParser.error`` puts the name in front. Every
number is finite: ``nan`` and ``inf`` are refused like any other value out of range.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from typing import ClassVar, Final, NoReturn

__all__ = [
    "EXIT_USAGE",
    "OneLineErrorParser",
    "at_least",
    "between",
    "count",
    "integer",
    "integer_between",
    "number",
    "port",
    "probability",
    "seconds",
]

EXIT_USAGE: Final = 2
"""argparse's exit status for a command line it refuses (and the CLI's for any ordinary mistake)."""

_ARGUMENT: Final = re.compile(r"^argument (?P<name>[^:]+): (?P<problem>.*)$", re.DOTALL)
_INVALID: Final = re.compile(r"^invalid (?P<kind>int|float) value: (?P<value>.*)$")
_CHOICE: Final = re.compile(r"^invalid choice: (?P<value>.*) \(choose from (?P<choices>.*)\)$")


def _shown(text: str) -> str:
    """A value as the user typed it, cut short: option values are never secrets, but may be long."""
    return text if len(text) <= 40 else text[:37] + "..."


def _format(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def number(text: str) -> float:
    """A finite number (``1``, ``0.25``, ``1e3``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {_shown(text)!r})") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number (got {_shown(text)})")
    return value


def integer(text: str) -> int:
    """A whole number (``3``, ``-1``)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (got {_shown(text)!r})") from None


def between(low: float, high: float) -> Callable[[str], float]:
    """A finite number from ``low`` to ``high``, both included."""

    def check(text: str) -> float:
        value = number(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be between {_format(low)} and {_format(high)} (got {_shown(text)})"
            )
        return value

    check.__name__ = f"number between {_format(low)} and {_format(high)}"
    return check


def at_least(low: float, *, above: bool = False) -> Callable[[str], float]:
    """A finite number of at least ``low`` (more than ``low`` with ``above=True``)."""

    def check(text: str) -> float:
        value = number(text)
        if value < low or (above and value == low):
            bound = "more than" if above else "at least"
            raise argparse.ArgumentTypeError(f"must be {bound} {_format(low)} (got {_shown(text)})")
        return value

    check.__name__ = f"number of at least {_format(low)}"
    return check


def integer_between(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (no upper bound when ``high`` is None)."""

    def check(text: str) -> int:
        value = integer(text)
        if high is None and value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low} (got {_shown(text)})")
        if high is not None and not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high} (got {_shown(text)})")
        return value

    check.__name__ = "whole number"
    return check


probability = between(0.0, 1.0)
"""A share of requests: 0 to 1."""
count = integer_between(1)
"""How many: 1 or more."""
port = integer_between(0, 65535)
"""A TCP port; 0 asks the system for a free one."""


def seconds(high: float | None = None, *, allow_zero: bool = True) -> Callable[[str], float]:
    """A duration in seconds: 0 (unless ``allow_zero`` is False) up to ``high``."""
    if high is None:
        return at_least(0.0, above=not allow_zero)
    low_check = between(0.0, high)

    def check(text: str) -> float:
        value = low_check(text)
        if not allow_zero and value == 0:
            raise argparse.ArgumentTypeError(f"must be more than 0 (got {_shown(text)})")
        return value

    check.__name__ = "seconds"
    return check


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose refusals are one line on stderr, ``<label>: <option> <problem>``,
    with a pointer to ``--help`` instead of the usage block, and exit status 2. Subparsers
    created from it are of the same class, so the whole command tree answers alike."""

    label: ClassVar[str] = "ciosec"
    """What the line starts with."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.label}: {one_line(message)} (see `{self.prog} --help`)\n")
        sys.exit(EXIT_USAGE)


def one_line(message: str) -> str:
    """argparse's ``argument --x: problem`` as ``--x problem``, on one line.

    >>> one_line("argument --error-rate: must be between 0 and 1 (got 1.5)")
    '--error-rate must be between 0 and 1 (got 1.5)'
    >>> one_line("argument --port: invalid int value: 'abc'")
    "--port must be a whole number (got 'abc')"
    >>> one_line("argument --region: invalid choice: 'mars' (choose from 'us', 'eu')")
    "--region must be one of 'us', 'eu' (got 'mars')"
    """
    matched = _ARGUMENT.match(message)
    if matched is None:
        return " ".join(message.split())
    name = matched["name"].split("/")[-1]
    problem = matched["problem"]
    invalid = _INVALID.match(problem)
    if invalid is not None:
        kind = "a whole number" if invalid["kind"] == "int" else "a number"
        problem = f"must be {kind} (got {invalid['value']})"
    choice = _CHOICE.match(problem)
    if choice is not None:
        problem = f"must be one of {choice['choices']} (got {choice['value']})"
    return " ".join(f"{name} {problem}".split())
