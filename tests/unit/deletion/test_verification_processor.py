"""cio_security.deletion.verification_processor without Lambda: a fake clock, a fake App API, a queue
that records tickets and the in-memory audit store, so every outcome of a check is reachable
exactly (the window's end, retries that are not checks, duplicates, out of time)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cio_security.audit.record import AuditRecord, subject_hash
from cio_security.deletion.events import ErasureEvent, PublishReport
from cio_security.deletion.request import DeletionRequest, IdentifierType
from cio_security.deletion.verification import (
    TicketMessage,
    VerificationOutcome,
    VerificationPolicy,
    VerificationTicket,
)
from cio_security.deletion.verification_processor import CONFIGURATION_REASONS, VerificationProcessor
from cio_security.errors import (
    AuditError,
    AuthenticationError,
    DeadLetterError,
    NotFoundError,
    RateLimitedError,
    SecretError,
    ServerError,
    TransportError,
)
from fixtures.audit import MemoryAuditStore
from fixtures.logs import LogCapture, sensitive

PEPPER = b"unit-pepper-0123456789abcdef0123456789abcdef"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = VerificationPolicy()


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeAppApi:
    """``AppClient``'s lookups over a set of people still present (``present``, by type and
    value); ``fail`` scripts exceptions for the next calls. Records every call."""

    def __init__(self) -> None:
        self.present: set[tuple[str, str]] = set()
        self.fail: list[Exception] = []
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self._lock = threading.Lock()

    def _next_failure(self) -> Exception | None:
        with self._lock:
            return self.fail.pop(0) if self.fail else None

    def person_exists(self, identifier_type: IdentifierType, identifier: str) -> bool:
        with self._lock:
            self.calls.append((identifier_type, (identifier,)))
        if failure := self._next_failure():
            raise failure
        return (identifier_type, identifier) in self.present

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        with self._lock:
            self.calls.append(("id", tuple(ids)))
        if failure := self._next_failure():
            raise failure
        return {i for i in ids if ("id", i) in self.present}


class FakeQueue:
    """The verification queue: every ticket sent, with the time it was sent at; ``refuse`` makes
    the next sends fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[VerificationTicket, datetime]] = []
        self.refuse = False

    def send(self, tickets: Sequence[VerificationTicket], now: datetime) -> list[bool]:
        if self.refuse:
            return [False] * len(tickets)
        self.sent.extend((t, now) for t in tickets)
        return [True] * len(tickets)

    def take(self) -> list[VerificationTicket]:
        tickets, self.sent = [t for t, _ in self.sent], []
        return tickets


class FakeDeadLetters:
    def __init__(self) -> None:
        self.letters: list[dict[str, Any]] = []
        self.refuse = False

    def send(self, body: str, **attributes: Any) -> str:
        if self.refuse:
            raise DeadLetterError("refused")
        self.letters.append({"body": body, **attributes})
        return "dl-1"


class FakeEvents:
    def __init__(self) -> None:
        self.published: list[ErasureEvent] = []

    def publish(self, events: Sequence[ErasureEvent]) -> PublishReport:
        self.published.extend(events)
        return PublishReport(published=[e.record.request_id for e in events])


class Harness:
    """A processor over fakes, and the helpers the tests share."""

    def __init__(self, **options: Any) -> None:
        self.clock = Clock()
        self.app = FakeAppApi()
        self.queue = FakeQueue()
        self.store = MemoryAuditStore()
        self.dead = FakeDeadLetters()
        self.events = FakeEvents()
        self.processor = VerificationProcessor(
            options.pop("lookup", self.app),
            self.store,
            self.queue,
            PEPPER,
            policy=options.pop("policy", POLICY),
            dead_letters=self.dead,  # type: ignore[arg-type]
            events=self.events,  # type: ignore[arg-type]
            clock=self.clock,
            **options,
        )

    def submit(
        self, request_id: str, identifier: str, identifier_type: IdentifierType = "id"
    ) -> VerificationTicket:
        """An erasure Customer.io accepted now: its record awaits verification; its first ticket."""
        sensitive(identifier)
        request = DeletionRequest.model_validate(
            {
                "request_id": request_id,
                "identifier": identifier,
                "identifier_type": identifier_type,
                "requested_at": "2026-11-30T10:00:00Z",
            }
        )
        now = self.clock()
        record = self.store.begin(request, now, subject_hash(identifier_type, identifier, PEPPER), 60)
        record = self.store.accept(record, request.steps[0], 200, "req-1", now, complete=False)
        self.store.await_verification(record, now)
        return POLICY.first_ticket(request_id, identifier_type, identifier, now)

    def run(
        self, *tickets: VerificationTicket | str, receive_count: int | None = None, **kwargs: Any
    ) -> list[VerificationOutcome]:
        messages = [
            TicketMessage(t if isinstance(t, str) else t.body(), f"m-{i}", receive_count)
            for i, t in enumerate(tickets)
        ]
        return self.processor.process(messages, **kwargs)

    def record(self, request_id: str) -> AuditRecord:
        record = self.store.get(request_id)
        assert record is not None
        return record


@pytest.fixture
def h() -> Harness:
    return Harness()


def kinds(outcomes: list[VerificationOutcome]) -> list[str]:
    return [o.kind for o in outcomes]


# -- the three ends of a verification ------------------------------------------------------------------


def test_a_person_gone_at_the_first_check_is_verified(h: Harness) -> None:
    ticket = h.submit("dsar-1", "user-1")
    h.clock.advance(minutes=15)
    (outcome,) = h.run(ticket)
    assert (outcome.kind, outcome.request_id, outcome.checks) == ("verified", "dsar-1", 1)
    assert outcome.age_seconds == 900
    record = h.record("dsar-1")
    assert (record.status, record.verification, record.verification_checks) == ("completed", "verified", 1)
    assert record.verified_at == record.completed_at == "2026-12-01T09:15:00.000Z"
    assert [(e.kind, e.record.request_id) for e in h.events.published] == [("ErasureVerified", "dsar-1")]
    assert h.queue.sent == []


def test_a_person_still_present_is_checked_again_after_the_backoff_then_verified(h: Harness) -> None:
    ticket = h.submit("dsar-2", "user-2")
    h.app.present.add(("id", "user-2"))
    h.clock.advance(minutes=15)
    (outcome,) = h.run(ticket)
    assert (outcome.kind, outcome.checks) == ("rescheduled", 1)
    (following,) = h.queue.take()
    assert (following.checks, following.due_at) == (1, START + timedelta(minutes=30))
    record = h.record("dsar-2")
    assert (record.status, record.verification, record.verification_checks) == ("submitted", "pending", 1)
    h.app.present.clear()  # Customer.io caught up
    h.clock.advance(minutes=15)
    (outcome,) = h.run(following)
    assert (outcome.kind, outcome.checks) == ("verified", 2)
    assert h.record("dsar-2").verification_checks == 2


def test_a_person_still_present_when_the_window_ends_is_unverified(h: Harness) -> None:
    ticket: VerificationTicket | None = h.submit("dsar-3", "user-3")
    h.app.present.add(("id", "user-3"))
    outcomes = []
    while ticket is not None:
        h.clock.now = ticket.due_at
        outcomes += h.run(ticket)
        sent = h.queue.take()
        ticket = sent[0] if sent else None
    assert kinds(outcomes) == ["rescheduled"] * 9 + ["unverified"]
    assert h.clock.now == START + timedelta(hours=24)
    assert (outcomes[-1].reason, outcomes[-1].checks) == ("still_present", 10)
    record = h.record("dsar-3")
    assert (record.status, record.verification, record.last_error) == (
        "unverified",
        "unverified",
        "still_present",
    )
    assert record.verification_checks == 10
    assert record.verified_at is None and record.completed_at is None
    assert h.events.published == []


# -- lookups: batched for ids, paced, within the time left ----------------------------------------


def test_ids_are_looked_up_a_hundred_at_a_time_and_other_types_one_by_one(h: Harness) -> None:
    tickets = [h.submit(f"dsar-id-{i}", f"user-{i}") for i in range(250)]
    tickets += [h.submit("dsar-email", "gone-a1@example.org", "email")]
    tickets += [h.submit("dsar-phone", "+14155552671", "phone")]
    h.app.present.add(("id", "user-7"))
    h.clock.advance(minutes=15)
    outcomes = h.run(*tickets)
    # Other types are asked as they come; ids wait for a full batch of 100.
    assert sorted((kind, len(ids)) for kind, ids in h.app.calls) == [
        ("email", 1),
        ("id", 50),
        ("id", 100),
        ("id", 100),
        ("phone", 1),
    ]
    assert kinds(outcomes).count("verified") == 251
    assert outcomes[7].kind == "rescheduled"


def test_concurrent_reads_lookups_and_writes_give_the_same_answers(h: Harness) -> None:
    parallel = Harness(executor=ThreadPoolExecutor(4))
    tickets = [parallel.submit(f"dsar-p-{i}", f"p-{i}@example.org", "email") for i in range(20)]
    parallel.app.present.update(("email", f"p-{i}@example.org") for i in range(0, 20, 2))
    parallel.clock.advance(minutes=15)
    outcomes = parallel.run(*tickets)
    assert kinds(outcomes) == ["rescheduled", "verified"] * 10
    assert len(parallel.app.calls) == 20


def test_no_lookup_is_started_without_the_time_for_one(h: Harness) -> None:
    harness = Harness(lookup_budget_seconds=58.0)
    ticket = harness.submit("dsar-late", "user-late")
    harness.clock.advance(minutes=15)
    (outcome,) = harness.run(ticket, time_left=lambda: 30.0)
    assert (outcome.kind, outcome.reason) == ("deferred", "out_of_time")
    assert harness.app.calls == []
    (back,) = harness.queue.take()
    assert back == ticket  # unchanged: nothing was checked
    assert harness.record("dsar-late").verification == "pending"


# -- no answer is not a check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (RateLimitedError("limited", status=429), "app_api_429"),
        (ServerError("down", status=503), "app_api_503"),
        (TransportError("timeout"), "app_api_unreachable"),
        (AuthenticationError("bad key", status=401), "app_api_401"),
        (NotFoundError("not the App API", status=404), "app_api_404"),
        (SecretError("no key"), "app_api_configuration"),
    ],
)
def test_a_lookup_without_an_answer_is_asked_again_and_never_counts(
    h: Harness, failure: Exception, reason: str
) -> None:
    ticket = h.submit("dsar-na", "user-na")
    h.clock.advance(minutes=15)
    h.app.fail.append(failure)
    (outcome,) = h.run(ticket)
    assert (outcome.kind, outcome.reason, outcome.checks) == ("retry_later", reason, 0)
    (retry,) = h.queue.take()
    assert (retry.checks, retry.failures, retry.last_error) == (0, 1, reason)
    assert retry.due_at == h.clock.now + timedelta(seconds=60)
    record = h.record("dsar-na")
    assert (record.verification, record.verification_checks) == ("pending", 0)
    assert (reason in CONFIGURATION_REASONS) == isinstance(
        failure, AuthenticationError | NotFoundError | SecretError
    )
    h.clock.now = retry.due_at
    (outcome,) = h.run(retry)
    assert (outcome.kind, outcome.checks) == ("verified", 1)


def test_a_batched_lookup_without_an_answer_affects_only_its_own_people(h: Harness) -> None:
    tickets = [h.submit(f"dsar-b-{i}", f"person-{i:03d}") for i in range(150)]
    h.clock.advance(minutes=15)
    h.app.fail.append(ServerError("down", status=500))
    outcomes = h.run(*tickets)
    assert kinds(outcomes) == ["retry_later"] * 100 + ["verified"] * 50


def test_no_answer_until_the_window_and_its_grace_are_over_is_unverified_with_the_reason(h: Harness) -> None:
    ticket = h.submit("dsar-401", "user-401")
    h.clock.now = ticket.window_ends_at + timedelta(hours=1)
    h.app.fail.append(AuthenticationError("revoked", status=401))
    (outcome,) = h.run(ticket)
    assert (outcome.kind, outcome.reason) == ("unverified", "app_api_401")
    record = h.record("dsar-401")
    assert (record.status, record.last_error, record.verification_checks) == ("unverified", "app_api_401", 0)


def test_a_client_that_cannot_be_built_is_no_answer() -> None:
    def no_key() -> FakeAppApi:
        raise SecretError("secret app-key (AWSCURRENT) could not be read")

    harness = Harness(lookup=no_key)
    ticket = harness.submit("dsar-nokey", "user-nokey")
    harness.clock.advance(minutes=15)
    (outcome,) = harness.run(ticket)
    assert (outcome.kind, outcome.reason) == ("retry_later", "app_api_configuration")


# -- tickets that are not due, duplicates, tickets that are not tickets ----------------------------------


def test_a_ticket_not_due_goes_back_without_a_read_or_a_lookup(h: Harness) -> None:
    ticket = h.submit("dsar-early", "user-early")
    h.clock.advance(minutes=5)
    reads = []
    original = h.store.get
    h.store.get = lambda rid: reads.append(rid) or original(rid)  # type: ignore[method-assign]
    (outcome,) = h.run(ticket)
    assert outcome.kind == "deferred"
    assert h.queue.take() == [ticket]
    assert reads == [] and h.app.calls == []


def test_a_duplicate_superseded_by_a_later_check_is_dropped(h: Harness) -> None:
    ticket = h.submit("dsar-dup", "user-dup")
    h.app.present.add(("id", "user-dup"))
    h.clock.advance(minutes=15)
    assert kinds(h.run(ticket)) == ["rescheduled"]
    (outcome,) = h.run(ticket)  # the same ticket delivered again
    assert (outcome.kind, outcome.reason) == ("already_done", "superseded")
    assert len(h.app.calls) == 1


def test_a_ticket_of_a_record_no_longer_pending_ends(h: Harness) -> None:
    ticket = h.submit("dsar-done", "user-done")
    h.clock.advance(minutes=15)
    assert kinds(h.run(ticket)) == ["verified"]
    (outcome,) = h.run(ticket)
    assert (outcome.kind, outcome.reason) == ("already_done", "verification_verified")
    assert len(h.app.calls) == 1 and len(h.events.published) == 1


def test_a_ticket_for_another_subject_is_dead_lettered_never_looked_up(h: Harness) -> None:
    ticket = h.submit("dsar-forged", "user-real")
    forged = ticket.model_copy(update={"identifier": "someone-else"})
    sensitive("someone-else")
    h.clock.advance(minutes=15)
    (outcome,) = h.run(forged)
    assert (outcome.kind, outcome.reason, outcome.dead_lettered) == (
        "dead_lettered",
        "subject_mismatch",
        True,
    )
    assert h.app.calls == []
    assert h.dead.letters[0]["reason"] == "subject_mismatch"
    assert h.record("dsar-forged").verification == "pending"


def test_a_ticket_without_a_record_is_dead_lettered(h: Harness) -> None:
    ticket = POLICY.first_ticket("dsar-ghost", "id", "ghost", START)
    h.clock.advance(minutes=15)
    (outcome,) = h.run(ticket)
    assert (outcome.kind, outcome.reason) == ("dead_lettered", "audit_record_missing")


def test_a_message_that_is_not_a_ticket_is_dead_lettered_and_spares_its_batch(h: Harness) -> None:
    ticket = h.submit("dsar-ok", "user-ok")
    h.clock.advance(minutes=15)
    outcomes = h.run("{not json", ticket)
    assert kinds(outcomes) == ["dead_lettered", "verified"]
    assert (h.dead.letters[0]["reason"], h.dead.letters[0]["body"]) == ("invalid_json", "{not json")


# -- our own failures: SQS delivers the ticket again ---------------------------------------------------


def test_an_unreadable_record_is_a_retry_and_the_last_delivery_is_dead_lettered(h: Harness) -> None:
    ticket = h.submit("dsar-ddb", "user-ddb")
    h.clock.advance(minutes=15)

    def unavailable(_: str) -> None:
        raise AuditError("throttled")

    h.store.get = unavailable  # type: ignore[method-assign, assignment]
    (outcome,) = h.run(ticket, receive_count=1)
    assert (outcome.kind, outcome.reason) == ("retry", "audit_unavailable")
    last = Harness(max_receive_count=5)
    last.clock.advance(minutes=15)
    last.store.get = unavailable  # type: ignore[method-assign, assignment]
    (outcome,) = last.run(ticket, receive_count=5)
    assert (outcome.kind, outcome.reason) == ("dead_lettered", "retries_exhausted")
    assert last.dead.letters[0]["last_error"] == "audit_unavailable"


def test_a_ticket_that_cannot_go_back_is_a_retry_and_its_check_is_not_recorded(h: Harness) -> None:
    ticket = h.submit("dsar-sqs", "user-sqs")
    h.app.present.add(("id", "user-sqs"))
    h.clock.advance(minutes=15)
    h.queue.refuse = True
    (outcome,) = h.run(ticket)
    assert (outcome.kind, outcome.reason) == ("retry", "queue_unavailable")
    assert h.record("dsar-sqs").verification_checks == 0  # the redelivered ticket is not superseded
    h.queue.refuse = False
    assert kinds(h.run(ticket)) == ["rescheduled"]


def test_a_verification_not_recorded_is_a_retry(h: Harness) -> None:
    ticket = h.submit("dsar-w", "user-w")
    h.clock.advance(minutes=15)

    def refuse(*_: object, **__: object) -> None:
        raise AuditError("throttled")

    h.store.record_verified = refuse  # type: ignore[method-assign, assignment]
    (outcome,) = h.run(ticket)
    assert (outcome.kind, outcome.reason) == ("retry", "audit_unavailable")
    assert h.events.published == []


def test_a_dead_letter_that_cannot_be_sent_leaves_the_message_for_redelivery(h: Harness) -> None:
    h.dead.refuse = True
    (outcome,) = h.run("[]")
    assert (outcome.kind, outcome.reason) == ("retry", "dead_letter_unavailable")


def test_an_unexpected_error_is_a_retry_for_what_was_not_settled(h: Harness) -> None:
    ticket = h.submit("dsar-bug", "user-bug")
    h.clock.advance(minutes=15)
    h.app.fail.append(ZeroDivisionError())  # not an error the client raises: a bug
    (outcome,) = h.run(ticket)
    assert (outcome.kind, outcome.reason) == ("retry", "unexpected_error")


# -- what is logged ------------------------------------------------------------------------------------


def test_no_identifier_is_logged_or_returned(h: Harness, captured_logs: LogCapture) -> None:
    identifiers = ["log-subject-1@example.org", "+447700900123", "cio_a1b2c3", "user-log-4"]
    types: list[IdentifierType] = ["email", "phone", "cio_id", "id"]
    tickets = [
        h.submit(f"dsar-log-{i}", v, t) for i, (v, t) in enumerate(zip(identifiers, types, strict=True))
    ]
    h.app.present.add(("email", identifiers[0]))
    h.app.fail.append(ServerError("down", status=502))
    h.clock.advance(minutes=15)
    outcomes = h.run(*tickets, "{}")
    assert captured_logs.records  # it did log
    for identifier in identifiers:
        assert identifier not in captured_logs.text
        assert all(identifier not in repr(o) for o in outcomes)
