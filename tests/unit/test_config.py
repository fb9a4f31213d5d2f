"""Positive finite numbers from the environment (cio_security.config): the request budgets."""

from __future__ import annotations

import pytest

from cio_security.config import env_positive_float, positive_float
from cio_security.errors import ConfigurationError

NAME = "CUSTOMERIO_RATE_LIMIT_RPS"


@pytest.mark.parametrize(
    ("raw", "expected"), [("", 7.0), ("  ", 7.0), ("60", 60.0), (" 2.5 ", 2.5), ("1e-3", 0.001)]
)
def test_unset_is_the_default_and_a_positive_number_is_read(raw: str, expected: float) -> None:
    assert env_positive_float(NAME, 7.0, {NAME: raw}) == expected
    assert env_positive_float(NAME, 7.0, {}) == 7.0


def test_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAME, "12")
    assert env_positive_float(NAME, 7.0) == 12.0
    monkeypatch.delenv(NAME)
    assert env_positive_float(NAME, 7.0) == 7.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("fast", "must be a number"),
        ("pasted-track-api-key-91c0", "must be a number"),
        ("nan", "must be a positive number"),
        ("0", "must be a positive number"),
        ("-0.0", "must be a positive number"),
        ("-1", "must be a positive number"),
        ("inf", "must be a positive number"),
        ("-inf", "must be a positive number"),
        ("1e400", "must be a positive number"),  # infinity once parsed
    ],
)
def test_anything_else_is_refused_naming_the_variable_never_the_value(raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^environment variable {NAME} {message}$") as caught:
        env_positive_float(NAME, 7.0, {NAME: raw})
    assert raw not in str(caught.value)
    with pytest.raises(ConfigurationError, match=f"^a budget {message}$"):
        positive_float(raw, what="a budget")
