"""The rate budget formula, the invocation's worst case, settings from the environment, and message
parsing."""

from __future__ import annotations

import pytest

from cio_security.customerio.retry import DELETION
from cio_security.deletion.request import parse_deletion_message
from cio_security.deletion.settings import (
    AFTER_CALL_PHASES,
    AUDIT_WRITE_ALLOWANCE_SECONDS,
    DeletionSettings,
    rate_per_invocation,
)
from cio_security.errors import ConfigurationError, InvalidDeletionRequestError


@pytest.mark.parametrize(
    ("total", "concurrency", "expected"),
    [(100, 5, 20.0), (100, 2, 50.0), (10, 4, 2.5), (100, 1, 100.0), (0.5, 2, 0.25)],
)
def test_rate_per_invocation_divides_the_budget(total: float, concurrency: int, expected: float) -> None:
    assert rate_per_invocation(total, concurrency) == expected
    assert rate_per_invocation(total, concurrency) * concurrency == pytest.approx(total)


@pytest.mark.parametrize(("total", "concurrency"), [(0, 5), (-1, 5), (float("nan"), 5), (float("inf"), 5)])
def test_rate_per_invocation_refuses_a_bad_budget(total: float, concurrency: int) -> None:
    with pytest.raises(ConfigurationError):
        rate_per_invocation(total, concurrency)


@pytest.mark.parametrize("concurrency", [0, -3, True, 2.5])
def test_rate_per_invocation_refuses_a_bad_concurrency(concurrency: object) -> None:
    with pytest.raises(ConfigurationError):
        rate_per_invocation(100, concurrency)  # type: ignore[arg-type]


def test_the_deletion_preset_worst_case_counts_the_401_refresh() -> None:
    # 3 attempts and the 401 re-send, each 2 + 5 s, and 2 waits of max(backoff, retry-after cap 10)
    assert DELETION.worst_case() == pytest.approx(4 * 7.0 + 2 * 10.0)
    assert DELETION.with_changes(max_attempts=1).worst_case() == pytest.approx(2 * 7.0)


def test_default_settings_use_the_deletion_preset() -> None:
    settings = DeletionSettings(audit_table="t", dead_letter_queue_url="q")
    assert settings.retry is DELETION
    # one operation per request, in a v2 batch: an erase is a suppress
    assert parse_deletion_message('{"request_id": "r", "identifier": "u"}').steps == ("suppress",)
    assert parse_deletion_message('{"request_id": "r", "identifier": "u", "action": "delete"}').steps == (
        "delete",
    )


def test_default_settings_call_budget_and_invocation_worst_case() -> None:
    # tests/iac/test_timeouts.py checks invocation_worst_case_seconds against template.yaml's Timeout.
    settings = DeletionSettings(audit_table="t", dead_letter_queue_url="q")
    # a Track call starts only with time for it at its worst and for everything after it
    assert sum(AFTER_CALL_PHASES) == 10.0
    assert settings.call_budget_seconds == pytest.approx(48.0 + 10.0)
    assert settings.invocation_worst_case_seconds == pytest.approx(AUDIT_WRITE_ALLOWANCE_SECONDS + 58.0)


def test_the_event_bus_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_TABLE", "audit")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", "https://sqs.example.invalid/q")
    assert DeletionSettings.from_env().event_bus_name is None
    monkeypatch.setenv("EVENT_BUS_NAME", "cio-security-customerio")
    assert DeletionSettings.from_env().event_bus_name == "cio-security-customerio"


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_TABLE", "audit")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", "https://sqs.example.invalid/q")
    monkeypatch.setenv("CUSTOMERIO_RATE_LIMIT_RPS", "60")
    monkeypatch.setenv("DELETION_MAX_CONCURRENCY", "3")
    monkeypatch.setenv("CUSTOMERIO_BACKOFF_BASE_SECONDS", "0.001")
    monkeypatch.setenv("CUSTOMERIO_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("CUSTOMERIO_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "1000")
    monkeypatch.setenv("CUSTOMERIO_BACKOFF_CAP_SECONDS", "0.25")
    monkeypatch.setenv("CUSTOMERIO_RETRY_AFTER_CAP_SECONDS", "3")
    settings = DeletionSettings.from_env()
    assert settings.rate_per_invocation == 20.0
    assert settings.retry.backoff_base == 0.001
    assert settings.retry.backoff_cap == 0.25
    assert settings.retry.retry_after_cap == 3.0
    assert settings.retry.timeout.read == 0.5
    assert settings.retry.timeout.connect == 0.5
    assert settings.retry.max_attempts == 2
    assert settings.retention_days == 1000
    assert settings.track_url is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUDIT_RETENTION_DAYS", "365"),
        ("DELETION_MAX_CONCURRENCY", "0"),
        ("CUSTOMERIO_RATE_LIMIT_RPS", "fast"),
        ("CUSTOMERIO_MAX_ATTEMPTS", "0"),
    ],
)
def test_invalid_settings_are_refused_by_name(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv("AUDIT_TABLE", "audit")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", "q")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        DeletionSettings.from_env()


def test_missing_required_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDIT_TABLE", raising=False)
    with pytest.raises(ConfigurationError, match="AUDIT_TABLE"):
        DeletionSettings.from_env()


def test_parse_a_valid_message() -> None:
    request = parse_deletion_message(
        b'{"request_id": "r1", "identifier": "cio_0300", "action": "delete", "regulation": "ccpa"}'
    )
    assert (request.identifier_type, request.steps) == ("cio_id", ("delete",))


@pytest.mark.parametrize(
    ("body", "reason", "request_id", "fields"),
    [
        ("", "invalid_json", None, ("(root)",)),
        ("{", "invalid_json", None, ("(root)",)),
        ("[" * 100_000, "invalid_json", None, ("(root)",)),
        ("null", "schema_error", None, ("(root)",)),
        ('{"request_id": "r1"}', "schema_error", "r1", ("identifier",)),
        ('{"request_id": "", "identifier": "x"}', "schema_error", None, ("request_id",)),
        ('{"request_id": "r\\u0000", "identifier": "x"}', "schema_error", None, ("request_id",)),
        (
            '{"request_id": "r2", "identifier": "x", "secret@x.org": 1}',
            "schema_error",
            "r2",
            ("(unexpected field)",),
        ),
        (
            '{"request_id": "r3", "identifier": "x", "requested_at": "2026-01-01T00:00:00"}',
            "schema_error",
            "r3",
            ("requested_at",),
        ),
    ],
)
def test_parse_errors_name_fields_never_values(
    body: str, reason: str, request_id: str | None, fields: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidDeletionRequestError) as caught:
        parse_deletion_message(body)
    error = caught.value
    assert (error.reason, error.request_id, error.fields) == (reason, request_id, fields)
    assert "secret@x.org" not in str(error)
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
