"""DeletionProcessor with a fake Track client and a moto audit table: steps, resume, leases,
failure classes, deadlines, the dead-letter queue, and no identifier anywhere."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import subject_hash
from cio_security.deletion.dead_letters import DeadLetterQueue
from cio_security.deletion.processor import DeletionProcessor
from cio_security.deletion.request import DeletionRequest
from cio_security.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    RedirectRefusedError,
    SecretError,
    ServerError,
    TransportError,
)
from fixtures.audit import MemoryAuditStore
from fixtures.aws import REGION
from fixtures.logs import LogCapture, sensitive

from .conftest import PEPPER, START, FakeClock, FakeTrackClient, scan

IDENTIFIER = "erase-me-91c3@example.org"


def request(**overrides: Any) -> DeletionRequest:
    data = {
        "request_id": "dsar-proc-1",
        "identifier": IDENTIFIER,
        "requested_at": "2026-11-28T10:00:00Z",
    } | overrides
    return DeletionRequest.model_validate(data)


@pytest.fixture(autouse=True)
def _identifier_is_sensitive() -> None:
    sensitive(IDENTIFIER)


def test_erase_suppresses_then_deletes_and_completes(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore
) -> None:
    outcome = processor.process(request())
    assert outcome.kind == "completed"
    assert fake_client.calls == [("suppress", IDENTIFIER), ("delete", IDENTIFIER)]
    assert [(c.step, c.status_code) for c in outcome.calls] == [("suppress", 200), ("delete", 200)]
    assert outcome.age_seconds == pytest.approx((START - request().requested_at).total_seconds())
    record = store.get("dsar-proc-1")
    assert record is not None
    assert record.status == "completed"
    assert {s: (r.status, r.status_code) for s, r in record.steps.items()} == {
        "suppress": ("done", 200),
        "delete": ("done", 200),
    }


def test_delete_action_only_deletes(processor: DeletionProcessor, fake_client: FakeTrackClient) -> None:
    outcome = processor.process(request(action="delete"))
    assert outcome.kind == "completed"
    assert fake_client.operations() == ["delete"]


def test_a_completed_request_calls_nothing(
    processor: DeletionProcessor, fake_client: FakeTrackClient
) -> None:
    processor.process(request())
    fake_client.calls.clear()
    outcome = processor.process(request())
    assert outcome.kind == "already_done"
    assert fake_client.calls == []


def test_resume_after_a_crash_between_suppress_and_delete(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore, clock: FakeClock
) -> None:
    # The first invocation suppressed, recorded it, and died before delete (its lease runs out).
    req = request()
    record = store.begin(req, clock(), processor.subject_hash(req), 30)
    store.mark_step(req.request_id, "suppress", 200, clock(), lease_token=record.lease_token)
    clock.advance(seconds=31)

    outcome = processor.process(req)
    assert outcome.kind == "completed"
    assert fake_client.operations() == ["delete"]
    final = store.get(req.request_id)
    assert final is not None
    assert final.attempts == 2


def test_a_held_lease_means_retry_without_calls(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore, clock: FakeClock
) -> None:
    req = request()
    store.begin(req, clock(), processor.subject_hash(req), 60)
    outcome = processor.process(req)
    assert (outcome.kind, outcome.reason) == ("retry", "lease_held")
    assert fake_client.calls == []


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (RateLimitedError("x", status=429, retry_after=1.0), "customerio_429"),
        (ServerError("x", status=503), "customerio_503"),
        (TransportError("x"), "customerio_unreachable"),
    ],
)
def test_transient_failure_is_recorded_and_retried(
    processor: DeletionProcessor,
    fake_client: FakeTrackClient,
    store: AuditStore,
    error: Exception,
    reason: str,
) -> None:
    fake_client.script("delete", error)
    outcome = processor.process(request())
    assert (outcome.kind, outcome.reason) == ("retry", reason)
    record = store.get("dsar-proc-1")
    assert record is not None
    assert record.status == "in_progress"
    assert record.step_done("suppress")
    assert record.last_error == reason
    assert record.steps["delete"].status == "pending"
    assert record.steps["delete"].status_code == getattr(error, "status", None)

    # The redelivery resumes at delete at once (the lease was released).
    processor.clock.advance(seconds=1)  # type: ignore[attr-defined]
    fake_client.calls.clear()
    again = processor.process(request())
    assert again.kind == "completed"
    assert fake_client.operations() == ["delete"]
    final = store.get("dsar-proc-1")
    assert final is not None
    assert final.attempts == 2


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (AuthenticationError("x", status=401), "customerio_401"),
        (AuthenticationError("x", status=403), "customerio_403"),
        (BadRequestError("x", status=400), "customerio_400"),
        (RedirectRefusedError("x", status=302), "customerio_302"),
        (BadRequestError("x"), "customerio_rejected"),
    ],
)
def test_permanent_failure_marks_the_record_failed(
    processor: DeletionProcessor,
    fake_client: FakeTrackClient,
    store: AuditStore,
    error: Exception,
    reason: str,
) -> None:
    fake_client.script("suppress", error)
    outcome = processor.process(request())
    assert (outcome.kind, outcome.reason) == ("permanent", reason)
    assert fake_client.operations() == ["suppress"]
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.status, record.failure_reason) == ("failed", reason)
    assert record.steps["suppress"].status == "failed"
    assert record.lease_token is None


@pytest.mark.parametrize("action", ["erase", "delete"])
def test_404_on_delete_is_permanent_not_done(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore, action: str
) -> None:
    # The Track API answers 200 whether or not the person existed: a 404 means a wrong URL.
    fake_client.script("delete", NotFoundError("x", status=404))
    outcome = processor.process(request(action=action))
    assert (outcome.kind, outcome.reason) == ("permanent", "customerio_404")
    record = store.get("dsar-proc-1")
    assert record is not None
    assert record.status == "failed"
    assert not record.step_done("delete")
    assert record.steps["delete"].status_code == 404


def test_404_on_suppress_is_permanent_not_done(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore
) -> None:
    # The real API answers 200 for an unknown id: a 404 means a wrong URL, not an erasure.
    fake_client.script("suppress", NotFoundError("x", status=404))
    outcome = processor.process(request())
    assert outcome.kind == "permanent"
    record = store.get("dsar-proc-1")
    assert record is not None
    assert record.status == "failed"
    assert not record.step_done("suppress")


def test_secret_failure_is_retried_not_dead_lettered(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore
) -> None:
    fake_client.script("suppress", SecretError("secret track could not be read"))
    outcome = processor.process(request())
    assert (outcome.kind, outcome.reason) == ("retry", "configuration")
    record = store.get("dsar-proc-1")
    assert record is not None
    assert record.lease_token is None


def test_an_unexpected_error_releases_the_lease_and_propagates(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore
) -> None:
    fake_client.script("suppress", RuntimeError("bug"))
    with pytest.raises(RuntimeError):
        processor.process(request())
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.lease_token, record.last_error) == (None, "unexpected_error")


def test_no_step_starts_without_time_for_it(
    store: AuditStore, fake_client: FakeTrackClient, clock: FakeClock
) -> None:
    processor = DeletionProcessor(fake_client, store, PEPPER, clock=clock, step_budget_seconds=40)
    remaining = iter([100.0, 60.0, 30.0])  # lease, before suppress, before delete
    outcome = processor.process(request(), time_left=lambda: next(remaining))
    assert (outcome.kind, outcome.reason) == ("retry", "out_of_time")
    assert fake_client.operations() == ["suppress"]
    record = store.get("dsar-proc-1")
    assert record is not None
    assert record.lease_token is None
    assert record.lease_until is not None


def test_the_lease_lasts_the_time_left_plus_a_margin(
    processor: DeletionProcessor, store: AuditStore, fake_client: FakeTrackClient, clock: FakeClock
) -> None:
    fake_client.script("delete", ServerError("x", status=500))
    req = request()
    # a concurrent duplicate arriving while the first is still inside its invocation
    record = store.begin(req, clock(), processor.subject_hash(req), 12.0 + processor.lease_margin_seconds)
    clock.advance(seconds=12 + processor.lease_margin_seconds - 1)
    assert processor.process(req, time_left=lambda: 12.0).reason == "lease_held"
    assert record.lease_until is not None


@pytest.mark.parametrize(
    ("requested", "regulation", "expected"),
    [
        ("2026-11-28T10:00:00Z", "gdpr", "ok"),  # deadline 28 Dec, now 1 Dec
        ("2026-11-05T10:00:00Z", "gdpr", "near"),  # deadline 5 Dec
        ("2026-10-20T10:00:00Z", "gdpr", "past"),  # deadline 20 Nov
        ("2026-10-20T10:00:00Z", "ccpa", "near"),  # deadline 4 Dec
        ("2026-10-01T10:00:00Z", "ccpa", "past"),  # deadline 15 Nov
    ],
)
def test_deadline_status_is_reported_and_warned(
    processor: DeletionProcessor,
    captured_logs: LogCapture,
    requested: str,
    regulation: str,
    expected: str,
) -> None:
    outcome = processor.process(request(requested_at=requested, regulation=regulation))
    assert outcome.kind == "completed"
    assert outcome.deadline_status == expected
    warned = [r for r in captured_logs.records if "deadline" in r.getMessage()]
    assert bool(warned) == (expected != "ok")


def test_deadline_warning_window_is_configurable(store: AuditStore, fake_client: FakeTrackClient) -> None:
    req = request(requested_at="2026-11-20T10:00:00Z")  # deadline 20 Dec: 19 days after START
    strict = DeletionProcessor(
        fake_client, store, PEPPER, clock=FakeClock(), deadline_warning=timedelta(days=20)
    )
    assert strict.deadline_status(req.deadline, START) == "near"
    assert strict.deadline_status(req.deadline, START - timedelta(days=2)) == "ok"
    assert strict.deadline_status(req.deadline, req.deadline) == "past"


def test_a_message_without_requested_at_keeps_its_first_deadline(
    store: AuditStore, fake_client: FakeTrackClient, clock: FakeClock
) -> None:
    processor = DeletionProcessor(fake_client, store, PEPPER, clock=clock)
    fake_client.script("delete", ServerError("x", status=503))
    first = DeletionRequest.model_validate({"request_id": "no-date", "identifier": IDENTIFIER})
    assert processor.process(first).kind == "retry"
    clock.advance(days=40)  # redelivered much later: the model would say "requested now"
    again = DeletionRequest.model_validate({"request_id": "no-date", "identifier": IDENTIFIER})
    outcome = processor.process(again)
    assert (outcome.kind, outcome.deadline_status) == ("completed", "past")


def test_the_memory_store_behaves_like_dynamodb_for_the_processor(fake_client: FakeTrackClient) -> None:
    store = MemoryAuditStore()
    processor = DeletionProcessor(fake_client, store, PEPPER, clock=FakeClock())
    fake_client.script("delete", ServerError("x", status=500))
    assert processor.process(request()).reason == "customerio_500"
    assert processor.process(request()).kind == "completed"
    assert processor.process(request()).kind == "already_done"
    assert fake_client.operations() == ["suppress", "delete", "delete"]
    (record,) = store.records()
    assert (record.status, record.attempts) == ("completed", 2)


def test_request_id_reused_for_another_person_is_permanent(
    processor: DeletionProcessor, fake_client: FakeTrackClient
) -> None:
    processor.process(request())
    fake_client.calls.clear()
    outcome = processor.process(request(identifier="another-person"))
    assert (outcome.kind, outcome.reason) == ("permanent", "request_id_conflict")
    assert fake_client.calls == []


def test_audit_outage_means_retry_without_calls(fake_client: FakeTrackClient, dynamodb: Any) -> None:
    processor = DeletionProcessor(fake_client, AuditStore("missing-table", client=dynamodb), PEPPER)
    outcome = processor.process(request())
    assert (outcome.kind, outcome.reason) == ("retry", "audit_unavailable")
    assert fake_client.calls == []


def test_records_and_outcomes_never_hold_the_identifier(
    processor: DeletionProcessor, fake_client: FakeTrackClient, dynamodb: Any
) -> None:
    fake_client.script("delete", AuthenticationError("x", status=403))
    outcomes = [processor.process(request()), processor.process(request(request_id="dsar-proc-2"))]
    raw = json.dumps(scan(dynamodb)) + repr(outcomes)
    assert IDENTIFIER not in raw
    assert subject_hash("email", IDENTIFIER, PEPPER) in raw


# -- messages and the dead-letter queue ---------------------------------------------------------------


@pytest.fixture
def dlq(aws: None) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs, sqs.create_queue(QueueName="deletion-dlq-unit")["QueueUrl"]


@pytest.fixture
def dlq_processor(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str]
) -> tuple[DeletionProcessor, FakeTrackClient, Any, str]:
    sqs, url = dlq
    processor = DeletionProcessor(fake_client, store, PEPPER, dead_letters=DeadLetterQueue(url, client=sqs))
    return processor, fake_client, sqs, url


def dead_letters(sqs: Any, url: str) -> list[dict[str, Any]]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return got.get("Messages", [])


@pytest.mark.parametrize(
    ("body", "reason", "request_id"),
    [
        ("{not json", "invalid_json", None),
        (
            '{"request_id": "bad-action", "identifier": "' + IDENTIFIER + '", "action": "shred"}',
            "schema_error",
            "bad-action",
        ),
        ('["a list"]', "schema_error", None),
        ('{"identifier": "' + IDENTIFIER + '"}', "schema_error", None),
    ],
)
def test_invalid_messages_go_to_the_dead_letter_queue_unchanged(
    dlq_processor: tuple[DeletionProcessor, FakeTrackClient, Any, str],
    body: str,
    reason: str,
    request_id: str | None,
) -> None:
    processor, fake_client, sqs, url = dlq_processor
    outcome = processor.process_message(body, message_id="m-1")
    assert (outcome.kind, outcome.reason, outcome.request_id, outcome.dead_lettered) == (
        "permanent",
        reason,
        request_id,
        True,
    )
    (message,) = dead_letters(sqs, url)
    assert message["Body"] == body
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    expected = {"reason": reason, "source_message_id": "m-1"}
    if request_id:
        expected["request_id"] = request_id
    assert attributes == expected
    assert fake_client.calls == []


def test_a_permanent_customerio_failure_goes_to_the_dead_letter_queue(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str]
) -> None:
    sqs, url = dlq
    processor = DeletionProcessor(fake_client, store, PEPPER, dead_letters=DeadLetterQueue(url, client=sqs))
    fake_client.script("suppress", AuthenticationError("x", status=401))
    body = request().model_dump_json()
    outcome = processor.process_message(body, message_id="m-2")
    assert (outcome.kind, outcome.dead_lettered) == ("permanent", True)
    (message,) = dead_letters(sqs, url)
    assert message["MessageAttributes"]["reason"]["StringValue"] == "customerio_401"
    assert message["MessageAttributes"]["request_id"]["StringValue"] == "dsar-proc-1"


def test_a_failed_dead_letter_send_leaves_the_message_for_redelivery(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str]
) -> None:
    sqs, _ = dlq
    missing = DeadLetterQueue("https://sqs.eu-west-1.amazonaws.com/123456789012/gone", client=sqs)
    processor = DeletionProcessor(fake_client, store, PEPPER, dead_letters=missing)
    outcome = processor.process_message("{not json")
    assert (outcome.kind, outcome.reason, outcome.dead_lettered) == (
        "retry",
        "dead_letter_unavailable",
        False,
    )


def test_rejected_messages_never_log_their_values(
    processor: DeletionProcessor, captured_logs: LogCapture
) -> None:
    body = json.dumps(
        {"request_id": "r-x", "identifier": IDENTIFIER, IDENTIFIER: 1, "regulation": IDENTIFIER}
    )
    outcome = processor.process_message(body)
    assert (outcome.kind, outcome.reason) == ("permanent", "schema_error")
    assert IDENTIFIER not in captured_logs.text
    assert "regulation" in captured_logs.text  # the invalid field is named


# -- the last delivery and the safety net ------------------------------------------------------------


def last_delivery_processor(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str]
) -> DeletionProcessor:
    sqs, url = dlq
    return DeletionProcessor(
        fake_client, store, PEPPER, dead_letters=DeadLetterQueue(url, client=sqs), max_receive_count=3
    )


@pytest.mark.parametrize("receive_count", [None, 1, 2])
def test_a_transient_failure_before_the_last_delivery_is_retried(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str], receive_count: int | None
) -> None:
    processor = last_delivery_processor(store, fake_client, dlq)
    fake_client.script("suppress", ServerError("x", status=503))
    outcome = processor.process_message(request().model_dump_json(), receive_count=receive_count)
    assert (outcome.kind, outcome.reason, outcome.dead_lettered) == ("retry", "customerio_503", False)
    assert dead_letters(*dlq) == []


@pytest.mark.parametrize("receive_count", [3, 4])
def test_a_transient_failure_on_the_last_delivery_is_dead_lettered_with_its_cause(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str], receive_count: int
) -> None:
    processor = last_delivery_processor(store, fake_client, dlq)
    fake_client.script("delete", RateLimitedError("x", status=429))
    body = request().model_dump_json()
    outcome = processor.process_message(body, message_id="m-9", receive_count=receive_count)
    assert (outcome.kind, outcome.reason, outcome.dead_lettered) == ("permanent", "retries_exhausted", True)
    (message,) = dead_letters(*dlq)
    assert message["Body"] == body
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {
        "reason": "retries_exhausted",
        "last_error": "customerio_429",
        "request_id": "dsar-proc-1",
        "source_message_id": "m-9",
    }
    # The record stays open with the suppress step done: a redrive resumes at delete.
    record = store.get("dsar-proc-1")
    assert record is not None
    assert record.step_done("suppress")
    assert not record.finished
    assert record.last_error == "customerio_429"


def test_without_a_max_receive_count_sqs_keeps_the_last_word(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str]
) -> None:
    sqs, url = dlq
    processor = DeletionProcessor(fake_client, store, PEPPER, dead_letters=DeadLetterQueue(url, client=sqs))
    fake_client.script("suppress", ServerError("x", status=500))
    outcome = processor.process_message(request().model_dump_json(), receive_count=50)
    assert (outcome.kind, outcome.reason) == ("retry", "customerio_500")
    assert dead_letters(sqs, url) == []


def test_the_last_delivery_stays_queued_when_the_dead_letter_queue_is_down(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str]
) -> None:
    sqs, _ = dlq
    missing = DeadLetterQueue("https://sqs.eu-west-1.amazonaws.com/123456789012/gone", client=sqs)
    processor = DeletionProcessor(fake_client, store, PEPPER, dead_letters=missing, max_receive_count=1)
    fake_client.script("suppress", TransportError("x"))
    outcome = processor.process_message(request().model_dump_json(), receive_count=1)
    assert (outcome.kind, outcome.reason) == ("retry", "dead_letter_unavailable")
    assert not outcome.dead_lettered


def test_an_unexpected_error_is_a_retry_then_a_reasoned_dead_letter(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str], captured_logs: LogCapture
) -> None:
    processor = last_delivery_processor(store, fake_client, dlq)
    # An exception whose text quotes the identifier: only its type may reach the logs.
    fake_client.script("suppress", RuntimeError(f"bug near {IDENTIFIER}"), RuntimeError(IDENTIFIER))
    body = request().model_dump_json()
    first = processor.process_message(body, receive_count=1)
    assert (first.kind, first.reason, first.request_id) == ("retry", "unexpected_error", "dsar-proc-1")
    last = processor.process_message(body, receive_count=3)
    assert (last.kind, last.reason, last.dead_lettered) == ("permanent", "retries_exhausted", True)
    (message,) = dead_letters(*dlq)
    assert message["MessageAttributes"]["last_error"]["StringValue"] == "unexpected_error"
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.lease_token, record.last_error) == (None, "unexpected_error")
    assert "RuntimeError" in captured_logs.text
    assert IDENTIFIER not in captured_logs.text
