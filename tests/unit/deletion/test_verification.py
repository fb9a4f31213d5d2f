"""cio_security.deletion.verification: the timing of erasure checks (first check, backoff, the
window, retries of lookups that got no answer) and the ticket the verification queue carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cio_security.deletion.verification import (
    MAX_DELAY_SECONDS,
    InvalidTicketError,
    VerificationPolicy,
    VerificationTicket,
    delay_seconds,
)
from cio_security.errors import ConfigurationError
from fixtures.logs import sensitive

SUBMITTED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
IDENTIFIER = "verification-subject-5b1d@example.org"


@pytest.fixture(autouse=True)
def _sensitive() -> None:
    sensitive(IDENTIFIER)


def ticket(policy: VerificationPolicy | None = None, **changes: object) -> VerificationTicket:
    first = (policy or VerificationPolicy()).first_ticket("dsar-v1", "email", IDENTIFIER, SUBMITTED)
    return first.model_copy(update=changes)


def schedule(policy: VerificationPolicy) -> list[timedelta]:
    """When each check happens while the person stays present, from the submission."""
    current: VerificationTicket | None = ticket(policy)
    times = []
    while current is not None:
        times.append(current.due_at - SUBMITTED)
        current = policy.after_present(current, current.due_at)
    return times


# -- timing ------------------------------------------------------------------------------------------


def test_the_first_check_comes_after_the_delay_and_the_window_counts_from_the_submission() -> None:
    first = ticket()
    assert (first.due_at, first.window_ends_at) == (
        SUBMITTED + timedelta(minutes=15),
        SUBMITTED + timedelta(hours=24),
    )
    assert (first.checks, first.failures, first.last_error) == (0, 0, None)


def test_checks_back_off_doubling_to_four_hours_and_the_last_is_at_the_windows_end() -> None:
    hours = [round(t.total_seconds() / 3600, 2) for t in schedule(VerificationPolicy())]
    assert hours == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0]


def test_a_check_at_the_windows_end_that_still_finds_the_person_ends_the_checks() -> None:
    policy = VerificationPolicy()
    last = ticket(checks=9, due_at=SUBMITTED + timedelta(hours=24))
    assert policy.after_present(last, last.window_ends_at) is None
    assert policy.after_present(last, last.window_ends_at + timedelta(minutes=5)) is None


def test_each_check_counts_and_clears_earlier_lookup_failures() -> None:
    policy = VerificationPolicy()
    failing = ticket(failures=3, last_error="app_api_503")
    following = policy.after_present(failing, failing.due_at)
    assert following is not None
    assert (following.checks, following.failures, following.last_error) == (1, 0, None)
    assert following.identifier == IDENTIFIER and following.request_id == "dsar-v1"


def test_a_short_window_is_checked_at_its_end() -> None:
    policy = VerificationPolicy(first_check_delay=timedelta(seconds=60), window=timedelta(seconds=150))
    assert [t.total_seconds() for t in schedule(policy)] == [60, 120, 150]


def test_without_a_first_delay_checks_are_still_spaced_by_the_minimum_interval() -> None:
    policy = VerificationPolicy(
        first_check_delay=timedelta(0), window=timedelta(seconds=4), max_interval=timedelta(seconds=2)
    )
    # 1 s, then 2 s; the third check is within a second of the window's end: it is the last.
    assert [t.total_seconds() for t in schedule(policy)] == [0, 1, 3]


def test_no_answer_is_asked_again_later_doubling_to_fifteen_minutes_and_is_not_a_check() -> None:
    policy = VerificationPolicy()
    current = ticket()
    waits = []
    now = current.due_at
    for _ in range(6):
        following = policy.after_no_answer(current, "app_api_503", now)
        assert following is not None
        waits.append((following.due_at - now).total_seconds())
        assert following.checks == 0
        current, now = following, following.due_at
    assert waits == [60, 120, 240, 480, 900, 900]
    assert (current.failures, current.last_error) == (6, "app_api_503")


def test_no_answer_past_the_window_and_its_grace_gives_up() -> None:
    policy = VerificationPolicy()
    late = ticket(checks=9)
    assert (
        policy.after_no_answer(late, "app_api_401", late.window_ends_at + timedelta(minutes=59)) is not None
    )
    assert policy.after_no_answer(late, "app_api_401", late.window_ends_at + timedelta(hours=1)) is None


def test_a_ticket_is_due_within_a_second_of_its_time() -> None:
    first = ticket()
    assert not VerificationPolicy.is_due(first, first.due_at - timedelta(seconds=2))
    assert VerificationPolicy.is_due(first, first.due_at - timedelta(milliseconds=500))
    assert VerificationPolicy.is_due(first, first.due_at + timedelta(hours=1))


@pytest.mark.parametrize(
    "changes",
    [
        {"window": timedelta(minutes=10)},  # ends before the first check
        {"first_check_delay": timedelta(seconds=-1)},
        {"max_interval": timedelta(0)},
        {"retry_delay": timedelta(0)},
    ],
)
def test_a_policy_that_cannot_work_is_refused(changes: dict[str, timedelta]) -> None:
    with pytest.raises(ConfigurationError):
        VerificationPolicy(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("due_in", "delay"),
    [(-30.0, 0), (0.0, 0), (0.2, 1), (59.5, 60), (900.0, 900), (86_400.0, MAX_DELAY_SECONDS)],
)
def test_the_sqs_timer_is_whole_seconds_up_to_fifteen_minutes(due_in: float, delay: int) -> None:
    assert delay_seconds(SUBMITTED + timedelta(seconds=due_in), SUBMITTED) == delay


# -- the ticket ---------------------------------------------------------------------------------------


def test_a_ticket_round_trips_through_its_body_and_its_repr_hides_the_identifier() -> None:
    first = ticket()
    assert VerificationTicket.from_body(first.body()) == first
    assert IDENTIFIER not in repr(first)
    assert json.loads(first.body())["identifier"] == IDENTIFIER  # only in the (encrypted) queue


@pytest.mark.parametrize(
    ("body", "reason", "fields"),
    [
        ("not json", "invalid_json", ()),
        ("[]", "schema_error", ("(root)",)),
        ('{"request_id": "r1"}', "schema_error", None),
        (None, "schema_error", ("(unexpected field)",)),
        ("checks", "schema_error", ("checks",)),
    ],
)
def test_a_body_that_is_not_a_ticket_is_refused_without_quoting_it(
    body: str | None, reason: str, fields: tuple[str, ...] | None
) -> None:
    data = json.loads(ticket().body())
    if body is None:
        data[IDENTIFIER] = "x"  # an unexpected key is never named: it may be personal data
        body = json.dumps(data)
    elif body == "checks":
        data["checks"] = -1
        body = json.dumps(data)
    with pytest.raises(InvalidTicketError) as raised:
        VerificationTicket.from_body(body)
    assert raised.value.reason == reason
    if fields is not None:
        assert raised.value.fields == fields
    assert IDENTIFIER not in str(raised.value)


def test_a_ticket_needs_aware_times() -> None:
    data = json.loads(ticket().body())
    data["due_at"] = "2026-12-01T09:15:00"
    with pytest.raises(InvalidTicketError) as raised:
        VerificationTicket.from_body(json.dumps(data))
    assert raised.value.fields == ("due_at",)
    assert raised.value.request_id == "dsar-v1"
