"""ciosec.options and the CLI's parser: a bad option value is one line naming the option, its range
and what was given, exit status 2, never a traceback or a usage block."""

from __future__ import annotations

import argparse

import pytest

from ciosec.cli import build_parser, main
from ciosec.options import (
    EXIT_USAGE,
    at_least,
    between,
    count,
    integer,
    integer_between,
    number,
    one_line,
    port,
    probability,
    seconds,
)


@pytest.mark.parametrize(
    ("check", "text", "message"),
    [
        (probability, "1.5", "must be between 0 and 1 (got 1.5)"),
        (probability, "-0.1", "must be between 0 and 1 (got -0.1)"),
        (probability, "nan", "must be a finite number (got nan)"),
        (probability, "often", "must be a number (got 'often')"),
        (number, "inf", "must be a finite number (got inf)"),
        (integer, "2.5", "must be a whole number (got '2.5')"),
        (count, "0", "must be at least 1 (got 0)"),
        (port, "65536", "must be between 0 and 65535 (got 65536)"),
        (port, "-1", "must be between 0 and 65535 (got -1)"),
        (integer_between(1, 1000), "1001", "must be between 1 and 1000 (got 1001)"),
        (seconds(30.0), "31", "must be between 0 and 30 (got 31)"),
        (seconds(), "-1", "must be at least 0 (got -1)"),
        (seconds(allow_zero=False), "0", "must be more than 0 (got 0)"),
        (seconds(2.0, allow_zero=False), "0", "must be more than 0 (got 0)"),
        (at_least(0.0), "-3", "must be at least 0 (got -3)"),
        (between(0.5, 2.5), "3", "must be between 0.5 and 2.5 (got 3)"),
        (probability, "x" * 100, "must be a number (got '" + "x" * 37 + "...')"),
    ],
)
def test_a_bad_value_is_refused_with_its_range(check, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        check(text)
    assert str(refused.value) == message


def test_good_values_pass() -> None:
    assert probability("0") == 0.0 and probability("1") == 1.0 and probability("0.25") == 0.25
    assert port("0") == 0 and port("3000") == 3000
    assert count("7") == 7
    assert seconds(30.0)("1e1") == 10.0


def test_argparse_messages_become_one_line() -> None:
    assert one_line("argument --x: must be at least 1 (got 0)") == "--x must be at least 1 (got 0)"
    assert one_line("argument -v/--verbose: ignored explicit argument 'x'") == (
        "--verbose ignored explicit argument 'x'"
    )
    assert one_line("the following arguments are required:\n kind") == (
        "the following arguments are required: kind"
    )


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["sandbox", "faults", "--error-rate", "1.5"],
            "ciosec: --error-rate must be between 0 and 1 (got 1.5) (see `ciosec sandbox faults --help`)",
        ),
        (["sandbox", "faults", "--latency", "31"], "ciosec: --latency must be between 0 and 30 (got 31)"),
        (["sandbox", "faults", "--rate-limit-rps", "-5"], "ciosec: --rate-limit-rps must be at least 0"),
        (["sandbox", "faults", "--seed", "x"], "ciosec: --seed must be a whole number (got 'x')"),
        (["sandbox", "webhooks", "send", "--count", "1001"], "ciosec: --count must be between 1 and 1000"),
        (
            ["sandbox", "webhooks", "send", "--unprocessable", "0"],
            "ciosec: --unprocessable must be at least 1",
        ),
        (
            ["sandbox", "webhooks", "send", "--max-real-wait", "3"],
            "ciosec: --max-real-wait must be between 0 and 2",
        ),
        (["sandbox", "new-credentials", "--region", "mars"], "ciosec: --region must be one of 'us', 'eu'"),
        (["local", "--port", "70000"], "ciosec: --port must be between 0 and 65535 (got 70000)"),
        (["local", "--port", "http"], "ciosec: --port must be a whole number (got 'http')"),
        (["dlq", "list", "--limit", "0"], "ciosec: --limit must be at least 1 (got 0)"),
        (["secrets", "rotate", "track", "--wait", "-1"], "ciosec: --wait must be at least 0 (got -1)"),
        (["webhook", "tail", "--seconds", "0"], "ciosec: --seconds must be more than 0 (got 0)"),
        (["webhook", "tail", "--count", "-2"], "ciosec: --count must be at least 1 (got -2)"),
        (["demo", "--timeout", "nan"], "ciosec: --timeout must be a finite number (got nan)"),
        (["nope"], "ciosec: COMMAND must be one of"),
    ],
)
def test_the_cli_refuses_a_bad_value_in_one_line(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(line), lines[0]


def test_every_numeric_option_is_checked() -> None:
    """No option of the command tree is left with a bare int or float: those let nan, inf and
    out-of-range values through to a traceback further down."""

    def actions(parser: argparse.ArgumentParser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in set(action.choices.values()):
                    yield from actions(sub)
            else:
                yield action

    unchecked = [a.option_strings or a.dest for a in actions(build_parser()) if a.type in (int, float)]
    assert unchecked == []


def test_the_sandbox_cli_refuses_a_bad_value_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from ciosec.sandbox.cli import main as sandbox_main

    with pytest.raises(SystemExit) as exited:
        sandbox_main(["--error-rate", "2"])
    assert exited.value.code == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "ciosec.sandbox: --error-rate must be between 0 and 1 (got 2) (see `python -m ciosec.sandbox --help`)"
    )
