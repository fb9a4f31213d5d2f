"""DeletionProcessor with a fake Track v2 client and a moto audit table: one batch request per
invocation, what each Track answer means for each request, resume, leases, deadlines, the
dead-letter queue, verification, events, and no identifier anywhere."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import boto3
import pytest

from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import StepRecord, subject_hash
from cio_security.deletion.dead_letters import DeadLetterQueue
from cio_security.deletion.outcome import QueueMessage
from cio_security.deletion.processor import DeletionProcessor
from cio_security.deletion.request import DeletionRequest
from cio_security.errors import (
    AuditError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    RedirectRefusedError,
    SecretError,
    ServerError,
    TransientError,
    TransportError,
)
from fixtures.audit import MemoryAuditStore
from fixtures.aws import REGION
from fixtures.logs import LogCapture, sensitive

from .conftest import (
    PEPPER,
    START,
    FakeClock,
    FakeTrackClient,
    RecordingEvents,
    RecordingVerifier,
    Sent,
    scan,
)

IDENTIFIER = "erase-me-91c3@example.org"


def request(**overrides: Any) -> DeletionRequest:
    data = {
        "request_id": "dsar-proc-1",
        "identifier": IDENTIFIER,
        "requested_at": "2026-11-28T10:00:00Z",
    } | overrides
    return DeletionRequest.model_validate(data)


def body(**overrides: Any) -> str:
    return request(**overrides).model_dump_json()


def people(count: int, **overrides: Any) -> list[DeletionRequest]:
    return [request(request_id=f"dsar-{i}", identifier=f"person-{i}", **overrides) for i in range(count)]


@pytest.fixture(autouse=True)
def _identifier_is_sensitive() -> None:
    sensitive(IDENTIFIER, "person-")


# -- one request --------------------------------------------------------------------------------------


def test_erase_is_one_suppress_recorded_with_its_status_and_request_id(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore
) -> None:
    outcome = processor.process(request())
    assert outcome.kind == "completed"
    assert fake_client.batches == [[("suppress", "email", IDENTIFIER)]]
    assert [(c.step, c.status_code) for c in outcome.calls] == [("suppress", 200)]
    assert outcome.age_seconds == pytest.approx((START - request().requested_at).total_seconds())
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.status, record.verification) == ("completed", "not_verified")
    assert record.steps == {
        "suppress": StepRecord(
            status="done", status_code=200, customerio_request_id="req-fake", at=record.submitted_at
        )
    }
    assert record.submitted_at == record.completed_at
    assert record.lease_token is None


def test_delete_action_only_deletes(processor: DeletionProcessor, fake_client: FakeTrackClient) -> None:
    outcome = processor.process(request(action="delete"))
    assert outcome.kind == "completed"
    assert fake_client.operations() == ["delete"]


def test_a_completed_request_calls_nothing(
    processor: DeletionProcessor, fake_client: FakeTrackClient
) -> None:
    processor.process(request())
    fake_client.batches.clear()
    outcome = processor.process(request())
    assert outcome.kind == "already_done"
    assert fake_client.batches == []


def test_a_crash_between_the_call_and_its_audit_write_sends_again(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore, clock: FakeClock
) -> None:
    # The first invocation leased, sent suppress, and died before recording it; its lease runs out.
    req = request()
    store.begin(req, clock(), processor.subject_hash(req), 30)
    clock.advance(seconds=31)
    outcome = processor.process(req)
    assert outcome.kind == "completed"
    assert fake_client.operations() == ["suppress"]  # idempotent: suppressing twice is harmless
    final = store.get(req.request_id)
    assert final is not None
    assert final.attempts == 2


def test_a_recorded_acceptance_is_never_sent_again(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore, clock: FakeClock
) -> None:
    # Accepted and recorded, then the invocation died before completing the record.
    req = request()
    record = store.begin(req, clock(), processor.subject_hash(req), 30)
    store.accept(record, "suppress", 200, "req-1", clock(), complete=False)
    clock.advance(seconds=31)
    outcome = processor.process(req)
    assert outcome.kind == "completed"
    assert fake_client.batches == []
    final = store.get(req.request_id)
    assert final is not None
    assert (final.status, final.verification, final.steps["suppress"].customerio_request_id) == (
        "completed",
        "not_verified",
        "req-1",
    )


def test_a_legacy_erase_with_its_suppress_done_completes_without_a_call(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore, clock: FakeClock
) -> None:
    # Before Track v2 an erase was suppress then delete; a crash between them left delete pending.
    # Suppress already deleted the person (CUSTOMERIO.md): nothing more is sent.
    req = request()
    record = store.begin(req, clock(), processor.subject_hash(req), 30)
    store.record_transient_failure(
        req.request_id, "delete", 503, "customerio_503", clock(), lease_token=record.lease_token
    )
    again = store.begin(req, clock(), processor.subject_hash(req), 30)
    store.mark_step(req.request_id, "suppress", 200, clock(), lease_token=again.lease_token)
    clock.advance(seconds=31)
    assert processor.process(req).kind == "completed"
    assert fake_client.batches == []


def test_a_held_lease_means_retry_without_calls(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore, clock: FakeClock
) -> None:
    req = request()
    store.begin(req, clock(), processor.subject_hash(req), 60)
    outcome = processor.process(req)
    assert (outcome.kind, outcome.reason) == ("retry", "lease_held")
    assert fake_client.batches == []


# -- a batch: one Track request, each answer per request -----------------------------------------------


def test_a_batch_is_one_track_request_with_explicit_identifier_types(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore
) -> None:
    requests = [
        request(request_id="r-id", identifier="user-1"),
        request(request_id="r-email", identifier="b@example.org"),
        request(request_id="r-cio", identifier="cio_03000001"),
        request(request_id="r-phone", identifier="+14155552671"),
        request(request_id="r-email-shaped-id", identifier="c@example.org", identifier_type="id"),
        request(request_id="r-delete", identifier="user-2", action="delete"),
    ]
    outcomes = processor.process_requests(requests)
    assert [o.kind for o in outcomes] == ["completed"] * 6
    assert fake_client.batches == [
        [
            ("suppress", "id", "user-1"),
            ("suppress", "email", "b@example.org"),
            ("suppress", "cio_id", "03000001"),  # v2 cio_ids carry no cio_ prefix
            ("suppress", "phone", "+14155552671"),
            ("suppress", "id", "c@example.org"),  # the stated type, not the shape
            ("delete", "id", "user-2"),
        ]
    ]
    records = {r.request_id: r for r in (store.get(req.request_id) for req in requests) if r}
    assert {r.status for r in records.values()} == {"completed"}
    assert records["r-email-shaped-id"].subject_hash == subject_hash("id", "c@example.org", PEPPER)
    sensitive("user-1", "b@example.org", "c@example.org", "03000001", "+14155552671", "user-2")


def test_a_207_refuses_only_the_operations_it_names(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore
) -> None:
    fake_client.script({1: "invalid_identifiers", 3: "bad reason with spaces!"})
    outcomes = processor.process_requests(people(5))
    assert [(o.kind, o.reason) for o in outcomes] == [
        ("completed", None),
        ("permanent", "customerio_rejected_invalid_identifiers"),
        ("completed", None),
        ("permanent", "customerio_rejected_unknown"),  # never a reason that is not a short code
        ("completed", None),
    ]
    assert len(fake_client.batches) == 1
    refused = store.get("dsar-1")
    assert refused is not None
    assert (refused.status, refused.failure_reason, refused.submitted_at) == (
        "failed",
        "customerio_rejected_invalid_identifiers",
        None,
    )
    assert refused.steps["suppress"] == StepRecord(
        status="failed", status_code=207, customerio_request_id="req-fake", at=refused.updated_at
    )
    accepted = store.get("dsar-2")
    assert accepted is not None
    assert (accepted.status, accepted.steps["suppress"].status_code) == ("completed", 207)


def test_a_whole_request_400_is_split_until_the_bad_operation_is_alone(
    processor: DeletionProcessor, fake_client: FakeTrackClient
) -> None:
    def refuse_person_5(sent: list[Sent]) -> Any:
        if any(value == "person-5" for _, _, value in sent):
            return BadRequestError("x", status=400, operation="batch")
        return 200

    fake_client.script(*[refuse_person_5] * 20)
    outcomes = processor.process_requests(people(8))
    assert [(o.kind, o.reason) for o in outcomes] == [("completed", None)] * 5 + [
        ("permanent", "customerio_400")
    ] + [("completed", None)] * 2
    # 8 -> 4 (accepted) + 4 -> 2 -> 1 (accepted) + 1 (alone: refused), then 2 (accepted)
    assert [len(b) for b in fake_client.batches] == [8, 4, 4, 2, 1, 1, 2]
    assert sorted(fake_client.calls).count(("suppress", "person-0")) == 2


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (RateLimitedError("x", status=429, retry_after=1.0), "customerio_429"),
        (ServerError("x", status=503), "customerio_503"),
        (ServerError("x", status=207), "customerio_207"),  # a 207 that names nothing usable
        (TransportError("x"), "customerio_unreachable"),
    ],
)
def test_a_transient_failure_is_transient_for_every_request_in_the_call(
    processor: DeletionProcessor,
    fake_client: FakeTrackClient,
    store: AuditStore,
    error: TransientError,
    reason: str,
) -> None:
    fake_client.script(error)
    outcomes = processor.process_requests(people(3))
    assert [(o.kind, o.reason) for o in outcomes] == [("retry", reason)] * 3
    for i in range(3):
        record = store.get(f"dsar-{i}")
        assert record is not None
        assert (record.status, record.last_error, record.lease_token) == ("in_progress", reason, None)
        assert record.steps["suppress"].status == "pending"
        assert record.steps["suppress"].status_code == error.status

    # The redelivery leases them at once (released) and sends them again.
    processor.clock.advance(seconds=1)  # type: ignore[attr-defined]
    assert [o.kind for o in processor.process_requests(people(3))] == ["completed"] * 3
    assert len(fake_client.batches) == 2


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (AuthenticationError("x", status=401), "customerio_401"),
        (AuthenticationError("x", status=403), "customerio_403"),
        (NotFoundError("x", status=404), "customerio_404"),  # a wrong URL, never "already gone"
        (RedirectRefusedError("x", status=302), "customerio_302"),
    ],
)
def test_a_permanent_failure_of_the_call_is_permanent_for_every_request_in_it(
    processor: DeletionProcessor,
    fake_client: FakeTrackClient,
    store: AuditStore,
    error: Exception,
    reason: str,
) -> None:
    fake_client.script(error)
    outcomes = processor.process_requests(people(3))
    assert [(o.kind, o.reason) for o in outcomes] == [("permanent", reason)] * 3
    assert len(fake_client.batches) == 1  # no split: only a 400 is about one operation
    record = store.get("dsar-2")
    assert record is not None
    assert (record.status, record.failure_reason, record.lease_token) == ("failed", reason, None)
    assert not record.submitted
    assert record.steps["suppress"].status == "failed"


def test_secret_failure_is_retried_with_the_leases_released(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore
) -> None:
    fake_client.script(SecretError("secret track could not be read"))
    outcome = processor.process(request())
    assert (outcome.kind, outcome.reason) == ("retry", "configuration")
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.lease_token, record.last_error, record.steps["suppress"].status_code) == (
        None,
        "configuration",
        None,
    )


def test_a_bug_in_the_call_is_retried_with_the_leases_released(
    processor: DeletionProcessor, fake_client: FakeTrackClient, store: AuditStore, captured_logs: LogCapture
) -> None:
    fake_client.script(RuntimeError(f"bug near {IDENTIFIER}"))
    outcome = processor.process(request())
    assert (outcome.kind, outcome.reason) == ("retry", "unexpected_error")
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.lease_token, record.last_error) == (None, "unexpected_error")
    assert "RuntimeError" in captured_logs.text
    assert IDENTIFIER not in captured_logs.text


def test_no_call_starts_without_time_for_it(
    store: AuditStore, fake_client: FakeTrackClient, clock: FakeClock
) -> None:
    processor = DeletionProcessor(fake_client, store, PEPPER, clock=clock, call_budget_seconds=58)
    outcome = processor.process(request(), time_left=lambda: 57.0)
    assert (outcome.kind, outcome.reason) == ("retry", "out_of_time")
    assert fake_client.batches == []
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.lease_token, record.last_error) == (None, "out_of_time")


def test_a_split_stops_when_the_time_runs_out(store: AuditStore, fake_client: FakeTrackClient) -> None:
    left = iter([100.0, 100.0, 10.0, 10.0])  # the lease, the whole batch, then no time for halves
    processor = DeletionProcessor(fake_client, store, PEPPER, call_budget_seconds=58)
    fake_client.script(BadRequestError("x", status=400))
    outcomes = processor.process_requests(people(4), time_left=lambda: next(left))
    assert [(o.kind, o.reason) for o in outcomes] == [("retry", "out_of_time")] * 4
    assert len(fake_client.batches) == 1


def test_the_lease_lasts_the_time_left_plus_a_margin(
    processor: DeletionProcessor, store: AuditStore, clock: FakeClock
) -> None:
    req = request()
    store.begin(req, clock(), processor.subject_hash(req), 12.0 + processor.lease_margin_seconds)
    clock.advance(seconds=12 + processor.lease_margin_seconds - 1)
    assert processor.process(req, time_left=lambda: 12.0).reason == "lease_held"


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
    processor: DeletionProcessor, captured_logs: LogCapture, requested: str, regulation: str, expected: str
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
    fake_client.script(ServerError("x", status=503))
    first = DeletionRequest.model_validate({"request_id": "no-date", "identifier": IDENTIFIER})
    assert processor.process(first).kind == "retry"
    clock.advance(days=40)  # redelivered much later: the model would say "requested now"
    again = DeletionRequest.model_validate({"request_id": "no-date", "identifier": IDENTIFIER})
    outcome = processor.process(again)
    assert (outcome.kind, outcome.deadline_status) == ("completed", "past")


def test_request_id_reused_for_another_person_is_permanent(
    processor: DeletionProcessor, fake_client: FakeTrackClient
) -> None:
    processor.process(request())
    fake_client.batches.clear()
    outcome = processor.process(request(identifier="another-person"))
    assert (outcome.kind, outcome.reason) == ("permanent", "request_id_conflict")
    assert fake_client.batches == []


def test_audit_outage_means_retry_without_calls(fake_client: FakeTrackClient, dynamodb: Any) -> None:
    processor = DeletionProcessor(fake_client, AuditStore("missing-table", client=dynamodb), PEPPER)
    outcome = processor.process(request())
    assert (outcome.kind, outcome.reason) == ("retry", "audit_unavailable")
    assert fake_client.batches == []


def test_an_acceptance_that_cannot_be_recorded_is_retried(fake_client: FakeTrackClient) -> None:
    store = MemoryAuditStore()

    def broken_accept(*args: Any, **kwargs: Any) -> Any:
        raise AuditError("throttled")

    store.write_held = broken_accept  # type: ignore[method-assign]  # how acceptances are recorded
    processor = DeletionProcessor(fake_client, store, PEPPER, clock=FakeClock())
    outcome = processor.process(request())
    assert (outcome.kind, outcome.reason) == ("retry", "audit_unavailable")
    (record,) = store.records()
    assert (record.lease_token, record.last_error, record.submitted) == (None, "audit_unavailable", False)


def test_an_unexpected_error_after_the_call_releases_every_lease(fake_client: FakeTrackClient) -> None:
    store = MemoryAuditStore()

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    store.write_held = bug  # type: ignore[method-assign]  # how acceptances are recorded
    processor = DeletionProcessor(fake_client, store, PEPPER, clock=FakeClock())
    outcomes = processor.process_batch([QueueMessage(r.model_dump_json()) for r in people(3)])
    assert [(o.kind, o.reason) for o in outcomes] == [("retry", "unexpected_error")] * 3
    assert {(r.lease_token, r.last_error) for r in store.records()} == {(None, "unexpected_error")}


def test_the_memory_store_behaves_like_dynamodb_for_the_processor(fake_client: FakeTrackClient) -> None:
    store = MemoryAuditStore()
    processor = DeletionProcessor(fake_client, store, PEPPER, clock=FakeClock())
    fake_client.script(ServerError("x", status=500))
    assert processor.process(request()).reason == "customerio_500"
    assert processor.process(request()).kind == "completed"
    assert processor.process(request()).kind == "already_done"
    assert fake_client.operations() == ["suppress", "suppress"]
    (record,) = store.records()
    assert (record.status, record.attempts) == ("completed", 2)


def test_records_and_outcomes_never_hold_the_identifier(
    processor: DeletionProcessor, fake_client: FakeTrackClient, dynamodb: Any
) -> None:
    fake_client.script(AuthenticationError("x", status=403))
    outcomes = [processor.process(request()), processor.process(request(request_id="dsar-proc-2"))]
    raw = json.dumps(scan(dynamodb)) + repr(outcomes)
    assert IDENTIFIER not in raw
    assert subject_hash("email", IDENTIFIER, PEPPER) in raw


def test_concurrent_batches_on_one_processor_send_each_request_once(fake_client: FakeTrackClient) -> None:
    store = MemoryAuditStore(latency=0.001)
    with ThreadPoolExecutor(max_workers=4) as executor:
        processor = DeletionProcessor(fake_client, store, PEPPER, executor=executor)
        batches = [[QueueMessage(r.model_dump_json()) for r in people(40)[i::4]] for i in range(4)]
        results: list[list[Any]] = []
        threads = [
            threading.Thread(target=lambda b=b: results.append(processor.process_batch(b))) for b in batches
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(o.kind for batch in results for o in batch) == ["completed"] * 40
    assert sorted(fake_client.calls) == sorted(("suppress", f"person-{i}") for i in range(40))
    assert {r.status for r in store.records()} == {"completed"}


# -- duplicates in one batch ---------------------------------------------------------------------------


def test_a_duplicate_in_the_batch_shares_the_first_ones_fate_and_calls_nothing(
    processor: DeletionProcessor, fake_client: FakeTrackClient
) -> None:
    messages = [
        QueueMessage(body(), "m-1"),
        QueueMessage(body(request_id="other", identifier="p2")),
        QueueMessage(body(), "m-3"),
    ]
    outcomes = processor.process_batch(messages)
    assert [o.kind for o in outcomes] == ["completed", "completed", "already_done"]
    assert fake_client.calls == [("suppress", IDENTIFIER), ("suppress", "p2")]
    sensitive("p2")


def test_a_duplicate_request_id_for_another_subject_is_a_conflict(
    processor: DeletionProcessor, fake_client: FakeTrackClient
) -> None:
    outcomes = processor.process_batch([QueueMessage(body()), QueueMessage(body(identifier="someone-else"))])
    assert [(o.kind, o.reason) for o in outcomes] == [
        ("completed", None),
        ("permanent", "request_id_conflict"),
    ]
    assert len(fake_client.calls) == 1


def test_a_duplicate_of_a_retried_request_is_retried(
    processor: DeletionProcessor, fake_client: FakeTrackClient
) -> None:
    fake_client.script(ServerError("x", status=502))
    outcomes = processor.process_batch([QueueMessage(body()), QueueMessage(body())])
    assert [(o.kind, o.reason) for o in outcomes] == [("retry", "customerio_502")] * 2
    assert len(fake_client.calls) == 1


# -- verification -------------------------------------------------------------------------------------


@pytest.fixture
def verifier() -> RecordingVerifier:
    return RecordingVerifier()


@pytest.fixture
def verified_processor(
    store: AuditStore, fake_client: FakeTrackClient, clock: FakeClock, verifier: RecordingVerifier
) -> DeletionProcessor:
    return DeletionProcessor(fake_client, store, PEPPER, clock=clock, verifier=verifier)


def test_with_a_verifier_accepted_requests_are_submitted_and_scheduled(
    verified_processor: DeletionProcessor, verifier: RecordingVerifier, store: AuditStore
) -> None:
    outcomes = verified_processor.process_requests(
        [request(), request(request_id="r2", identifier="+14155552671")]
    )
    assert [o.kind for o in outcomes] == ["submitted", "submitted"]
    assert verifier.scheduled == [("dsar-proc-1", "email", IDENTIFIER), ("r2", "phone", "+14155552671")]
    # scheduled while still leased, with the acceptance recorded
    assert all(r.submitted and r.lease_token for r in verifier.records)
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.status, record.verification, record.completed_at, record.lease_token) == (
        "submitted",
        "pending",
        None,
        None,
    )
    assert record.submitted_at is not None
    assert verified_processor.process(request()).kind == "already_done"
    sensitive("+14155552671")


def test_a_verifier_that_cannot_schedule_makes_the_requests_retry_without_a_second_call(
    verified_processor: DeletionProcessor,
    verifier: RecordingVerifier,
    fake_client: FakeTrackClient,
    store: AuditStore,
    clock: FakeClock,
) -> None:
    verifier.fail_with = ServerError("queue unavailable", status=503)
    outcome = verified_processor.process(request())
    assert (outcome.kind, outcome.reason) == ("retry", "verification_unavailable")
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.status, record.submitted, record.lease_token) == ("in_progress", True, None)
    clock.advance(seconds=1)
    again = verified_processor.process(request())
    assert again.kind == "submitted"
    assert fake_client.operations() == ["suppress"]  # the acceptance was recorded: not sent again
    assert [s[0] for s in verifier.scheduled] == ["dsar-proc-1"]


def test_refused_requests_are_not_scheduled(
    verified_processor: DeletionProcessor, verifier: RecordingVerifier, fake_client: FakeTrackClient
) -> None:
    fake_client.script({0: "invalid_identifiers"})
    outcomes = verified_processor.process_requests(people(2))
    assert [o.kind for o in outcomes] == ["permanent", "submitted"]
    assert [s[0] for s in verifier.scheduled] == ["dsar-1"]


# -- events -------------------------------------------------------------------------------------------


def test_completions_and_failures_are_published_without_the_identifier(
    store: AuditStore, fake_client: FakeTrackClient, clock: FakeClock
) -> None:
    events = RecordingEvents()
    processor = DeletionProcessor(fake_client, store, PEPPER, clock=clock, events=events)  # type: ignore[arg-type]
    fake_client.script({1: "invalid_identifiers"})
    outcomes = processor.process_batch([QueueMessage(r.model_dump_json()) for r in people(2)])
    assert [(o.kind, o.event_published) for o in outcomes] == [("completed", True), ("permanent", True)]
    assert events.kinds() == [("ErasureCompleted", "dsar-0"), ("ErasureFailed", "dsar-1")]
    completed = json.loads(events.published[0].entry("bus")["Detail"])
    assert completed["status"] == "completed"
    assert completed["verification"] == "not_verified"
    assert completed["deadline_met"] is True
    failed = json.loads(events.published[1].entry("bus")["Detail"])
    assert (failed["reason"], failed["deadline_met"]) == ("customerio_rejected_invalid_identifiers", None)
    text = json.dumps([e.entry("bus", "cio-security.deletion") for e in events.published], default=str)
    assert "person-" not in text
    assert subject_hash("id", "person-0", PEPPER) not in text


def test_a_publish_failure_never_changes_the_outcome(
    store: AuditStore, fake_client: FakeTrackClient, clock: FakeClock
) -> None:
    events = RecordingEvents()
    events.fail = {"dsar-proc-1"}
    processor = DeletionProcessor(fake_client, store, PEPPER, clock=clock, events=events)  # type: ignore[arg-type]
    outcome = processor.process(request())
    assert (outcome.kind, outcome.event_published) == ("completed", False)
    record = store.get("dsar-proc-1")
    assert record is not None
    assert record.status == "completed"


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
    ("message", "reason", "request_id"),
    [
        ("{not json", "invalid_json", None),
        (
            '{"request_id": "bad-action", "identifier": "' + IDENTIFIER + '", "action": "shred"}',
            "schema_error",
            "bad-action",
        ),
        ('["a list"]', "schema_error", None),
        ('{"identifier": "' + IDENTIFIER + '"}', "schema_error", None),
        ('{"request_id": "long-id", "identifier": "' + "x" * 151 + '"}', "schema_error", "long-id"),
    ],
)
def test_invalid_messages_go_to_the_dead_letter_queue_unchanged(
    dlq_processor: tuple[DeletionProcessor, FakeTrackClient, Any, str],
    message: str,
    reason: str,
    request_id: str | None,
) -> None:
    processor, fake_client, sqs, url = dlq_processor
    outcome = processor.process_message(message, message_id="m-1")
    assert (outcome.kind, outcome.reason, outcome.request_id, outcome.dead_lettered) == (
        "permanent",
        reason,
        request_id,
        True,
    )
    (letter,) = dead_letters(sqs, url)
    assert letter["Body"] == message
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    # The fields at fault, when the parser names them: names only, never a value.
    assert IDENTIFIER not in attributes.pop("fields", "")
    expected = {"reason": reason, "source_message_id": "m-1"}
    if request_id:
        expected["request_id"] = request_id
    assert attributes == expected
    assert fake_client.batches == []


def test_refused_operations_go_to_the_dead_letter_queue_with_their_reason(
    dlq_processor: tuple[DeletionProcessor, FakeTrackClient, Any, str],
) -> None:
    processor, fake_client, sqs, url = dlq_processor
    fake_client.script({1: "invalid_identifiers"})
    outcomes = processor.process_batch(
        [QueueMessage(r.model_dump_json(), f"m-{i}") for i, r in enumerate(people(3))]
    )
    assert [(o.kind, o.dead_lettered) for o in outcomes] == [
        ("completed", False),
        ("permanent", True),
        ("completed", False),
    ]
    (letter,) = dead_letters(sqs, url)
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes == {
        "reason": "customerio_rejected_invalid_identifiers",
        "request_id": "dsar-1",
        "source_message_id": "m-1",
        "workspace": "default",  # the workspace that refused it
    }


def test_a_permanent_customerio_failure_goes_to_the_dead_letter_queue(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str]
) -> None:
    sqs, url = dlq
    processor = DeletionProcessor(fake_client, store, PEPPER, dead_letters=DeadLetterQueue(url, client=sqs))
    fake_client.script(AuthenticationError("x", status=401))
    outcome = processor.process_message(body(), message_id="m-2")
    assert (outcome.kind, outcome.dead_lettered) == ("permanent", True)
    (letter,) = dead_letters(sqs, url)
    assert letter["MessageAttributes"]["reason"]["StringValue"] == "customerio_401"
    assert letter["MessageAttributes"]["request_id"]["StringValue"] == "dsar-proc-1"


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
    message = json.dumps(
        {"request_id": "r-x", "identifier": IDENTIFIER, IDENTIFIER: 1, "regulation": IDENTIFIER}
    )
    outcome = processor.process_message(message)
    assert (outcome.kind, outcome.reason) == ("permanent", "schema_error")
    assert IDENTIFIER not in captured_logs.text
    assert "regulation" in captured_logs.text  # the invalid field is named


# -- the last delivery and the safety net ------------------------------------------------------------


def last_delivery_processor(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str], **extra: Any
) -> DeletionProcessor:
    sqs, url = dlq
    return DeletionProcessor(
        fake_client,
        store,
        PEPPER,
        dead_letters=DeadLetterQueue(url, client=sqs),
        max_receive_count=3,
        **extra,
    )


@pytest.mark.parametrize("receive_count", [None, 1, 2])
def test_a_transient_failure_before_the_last_delivery_is_retried(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str], receive_count: int | None
) -> None:
    processor = last_delivery_processor(store, fake_client, dlq)
    fake_client.script(ServerError("x", status=503))
    outcome = processor.process_message(body(), receive_count=receive_count)
    assert (outcome.kind, outcome.reason, outcome.dead_lettered) == ("retry", "customerio_503", False)
    assert dead_letters(*dlq) == []


@pytest.mark.parametrize("receive_count", [3, 4])
def test_a_transient_failure_on_the_last_delivery_is_dead_lettered_with_its_cause(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str], receive_count: int
) -> None:
    events = RecordingEvents()
    processor = last_delivery_processor(store, fake_client, dlq, events=events)
    fake_client.script(RateLimitedError("x", status=429))
    message = body()
    outcome = processor.process_message(message, message_id="m-9", receive_count=receive_count)
    assert (outcome.kind, outcome.reason, outcome.dead_lettered) == ("permanent", "retries_exhausted", True)
    (letter,) = dead_letters(*dlq)
    assert letter["Body"] == message
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes == {
        "reason": "retries_exhausted",
        "last_error": "customerio_429",
        "request_id": "dsar-proc-1",
        "source_message_id": "m-9",
        "workspace": "default",  # the workspace still to do
        "receive_count": str(receive_count),
    }
    # The record stays open: a redrive sends the operation again.
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.finished, record.last_error) == (False, "customerio_429")
    assert events.kinds() == [("ErasureFailed", "dsar-proc-1")]
    assert events.published[0].reason == "retries_exhausted"


def test_without_a_max_receive_count_sqs_keeps_the_last_word(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str]
) -> None:
    sqs, url = dlq
    processor = DeletionProcessor(fake_client, store, PEPPER, dead_letters=DeadLetterQueue(url, client=sqs))
    fake_client.script(ServerError("x", status=500))
    outcome = processor.process_message(body(), receive_count=50)
    assert (outcome.kind, outcome.reason) == ("retry", "customerio_500")
    assert dead_letters(sqs, url) == []


def test_the_last_delivery_stays_queued_when_the_dead_letter_queue_is_down(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str]
) -> None:
    sqs, _ = dlq
    missing = DeadLetterQueue("https://sqs.eu-west-1.amazonaws.com/123456789012/gone", client=sqs)
    processor = DeletionProcessor(fake_client, store, PEPPER, dead_letters=missing, max_receive_count=1)
    fake_client.script(TransportError("x"))
    outcome = processor.process_message(body(), receive_count=1)
    assert (outcome.kind, outcome.reason) == ("retry", "dead_letter_unavailable")
    assert not outcome.dead_lettered


def test_an_unexpected_error_is_a_retry_then_a_reasoned_dead_letter(
    store: AuditStore, fake_client: FakeTrackClient, dlq: tuple[Any, str], captured_logs: LogCapture
) -> None:
    processor = last_delivery_processor(store, fake_client, dlq)
    # An exception whose text quotes the identifier: only its type may reach the logs.
    fake_client.script(RuntimeError(f"bug near {IDENTIFIER}"), RuntimeError(IDENTIFIER))
    message = body()
    first = processor.process_message(message, receive_count=1)
    assert (first.kind, first.reason, first.request_id) == ("retry", "unexpected_error", "dsar-proc-1")
    last = processor.process_message(message, receive_count=3)
    assert (last.kind, last.reason, last.dead_lettered) == ("permanent", "retries_exhausted", True)
    (letter,) = dead_letters(*dlq)
    assert letter["MessageAttributes"]["last_error"]["StringValue"] == "unexpected_error"
    record = store.get("dsar-proc-1")
    assert record is not None
    assert (record.lease_token, record.last_error) == (None, "unexpected_error")
    assert "RuntimeError" in captured_logs.text
    assert IDENTIFIER not in captured_logs.text


def test_a_bug_in_parsing_is_a_retry_for_that_message_only(
    processor: DeletionProcessor, fake_client: FakeTrackClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cio_security.deletion.processor as module

    real = module.parse_deletion_message

    def parse(message: str | bytes) -> DeletionRequest:
        if "boom" in str(message):
            raise RuntimeError("bug")
        return real(message)

    monkeypatch.setattr(module, "parse_deletion_message", parse)
    outcomes = processor.process_batch([QueueMessage(body()), QueueMessage('{"boom": 1}')])
    assert [(o.kind, o.reason) for o in outcomes] == [("completed", None), ("retry", "unexpected_error")]
