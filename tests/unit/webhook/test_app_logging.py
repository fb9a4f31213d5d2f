"""The webhook function's log message decoding: Powertools' result, without an exception per
plain-text message (issue #13's per-request cost)."""

from __future__ import annotations

import json

import pytest

from fixtures.functions import load_function

MESSAGES = [
    "event published",
    "webhook rejected",
    "",
    " ",
    '{"a": 1}',
    "[1, 2]",
    "12",
    "-3.5",
    "true",
    "false",
    "null",
    "nope",
    "Infinity",
    "NaN",
    '"quoted"',
    "\n{}",
]


def powertools_default(message: str) -> object:
    """What Powertools does with its default deserializer: json.loads, the text on failure."""
    try:
        return json.loads(message)
    except ValueError:
        return message


@pytest.mark.parametrize("message", MESSAGES)
def test_messages_decode_as_powertools_decodes_them(message: str) -> None:
    app = load_function("webhook")
    try:
        decoded = app._message_or_json(message)
    except ValueError:
        decoded = message  # Powertools catches the error and keeps the text
    expected = powertools_default(message)
    assert json.dumps(decoded) == json.dumps(expected)  # NaN included
    assert type(decoded) is type(expected)
