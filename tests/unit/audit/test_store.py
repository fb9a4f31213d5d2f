"""The audit store on each backend (moto DynamoDB and the in-memory double): creation, leases,
conditional writes, retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cio_security.audit.base import AuditBackend
from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import MIN_RETENTION_DAYS, AuditRecord, expiry_for, iso, subject_hash
from cio_security.deletion.request import DeletionRequest
from cio_security.errors import (
    AuditConflictError,
    AuditError,
    CioSecurityError,
    LeaseHeldError,
    LeaseLostError,
)
from fixtures.audit import MemoryAuditStore

from .conftest import PEPPER, START, TABLE, scan

IDENTIFIER = "person-7f2c@example.org"


def request(**overrides: Any) -> DeletionRequest:
    data = {
        "request_id": "dsar-unit-1",
        "identifier": IDENTIFIER,
        "action": "erase",
        "regulation": "gdpr",
        "requested_at": "2026-11-28T10:00:00Z",
    } | overrides
    return DeletionRequest.model_validate(data)


def hash_of(req: DeletionRequest) -> str:
    return subject_hash(req.identifier_type or "id", req.identifier, PEPPER)


def begin(store: AuditBackend, req: DeletionRequest, now: datetime = START, lease: float = 60) -> AuditRecord:
    return store.begin(req, now, hash_of(req), lease)


def test_subject_hash_is_keyed_and_typed() -> None:
    assert subject_hash("email", IDENTIFIER, PEPPER) != subject_hash("id", IDENTIFIER, PEPPER)
    assert subject_hash("email", IDENTIFIER, PEPPER) != subject_hash("email", IDENTIFIER, b"x" * 32)
    assert len(subject_hash("email", IDENTIFIER, PEPPER)) == 64


def test_iso_is_fixed_width_utc_and_orders_as_time() -> None:
    a = iso(datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC))
    assert a == "2026-01-02T03:04:05.006Z"
    later = iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) + timedelta(hours=30))
    assert a < later
    with pytest.raises(ValueError, match="timezone"):
        iso(datetime(2026, 1, 1))


def test_begin_creates_a_leased_record_with_every_field(any_store: AuditBackend) -> None:
    req = request()
    record = begin(any_store, req, lease=120)
    assert record.status == "received"
    assert record.attempts == 1
    assert set(record.steps) == {"suppress"}  # an erase is one Track v2 operation
    assert all(step.status == "pending" for step in record.steps.values())
    assert record.requested_at == "2026-11-28T10:00:00.000Z"
    assert record.received_at == iso(START)
    assert record.deadline == "2026-12-28T10:00:00.000Z"
    assert record.lease_until == iso(START + timedelta(seconds=120))
    assert record.lease_token
    assert record.identifier_type == "email"
    assert record.subject_hash == hash_of(req)
    assert record.expires_at >= int((START + timedelta(days=MIN_RETENTION_DAYS)).timestamp())
    assert any_store.get(req.request_id) == record


def test_ccpa_deadline_is_45_days(any_store: AuditBackend) -> None:
    record = begin(any_store, request(regulation="ccpa", request_id="ccpa-1"))
    assert record.deadline == "2027-01-12T10:00:00.000Z"


def test_a_held_lease_refuses_a_concurrent_duplicate(any_store: AuditBackend) -> None:
    req = request()
    begin(any_store, req, lease=60)
    with pytest.raises(LeaseHeldError) as caught:
        begin(any_store, req, now=START + timedelta(seconds=59))
    assert isinstance(caught.value, CioSecurityError)
    assert caught.value.request_id == req.request_id
    assert IDENTIFIER not in str(caught.value)


def test_an_expired_lease_is_taken_over_and_counts_an_attempt(any_store: AuditBackend) -> None:
    req = request()
    first = begin(any_store, req, lease=60)
    second = begin(any_store, req, now=START + timedelta(seconds=61), lease=60)
    assert second.attempts == 2
    assert second.lease_token != first.lease_token
    assert second.lease_until == iso(START + timedelta(seconds=121))
    # the first holder's writes are refused now
    with pytest.raises(LeaseLostError):
        any_store.mark_step(req.request_id, "suppress", 200, START, lease_token=first.lease_token)


def test_steps_transient_failures_and_completion(any_store: AuditBackend) -> None:
    req = request()
    record = begin(any_store, req)
    token = record.lease_token
    any_store.mark_step(req.request_id, "suppress", 200, START + timedelta(seconds=1), lease_token=token)
    any_store.record_transient_failure(
        req.request_id, "delete", 503, "customerio_503", START + timedelta(seconds=2), lease_token=token
    )
    mid = any_store.get(req.request_id)
    assert mid is not None
    assert mid.status == "in_progress"
    assert mid.step_done("suppress")
    assert not mid.step_done("delete")
    assert mid.steps["suppress"].status_code == 200
    assert mid.steps["delete"].status_code == 503
    assert (mid.last_error, mid.last_status_code) == ("customerio_503", 503)
    assert mid.lease_token is None  # released: the redelivery need not wait
    assert mid.lease_until == iso(START + timedelta(seconds=2))

    again = begin(any_store, req, now=START + timedelta(seconds=3))
    assert again.attempts == 2
    assert again.step_done("suppress")
    any_store.mark_step(
        req.request_id, "delete", 200, START + timedelta(seconds=4), lease_token=again.lease_token
    )
    done = any_store.complete(req.request_id, START + timedelta(seconds=5), lease_token=again.lease_token)
    assert done.status == "completed"
    assert done.completed_at == iso(START + timedelta(seconds=5))
    assert done.lease_until is None
    assert done.lease_token is None
    assert done.expires_at == expiry_for(START + timedelta(seconds=5))


def test_a_completed_record_is_returned_untouched(any_store: AuditBackend) -> None:
    req = request()
    record = begin(any_store, req)
    any_store.complete(req.request_id, START, lease_token=record.lease_token)
    again = begin(any_store, req, now=START + timedelta(seconds=1))
    assert again.finished
    assert again.attempts == 1


def test_failed_record_can_be_leased_again_after_a_redrive(any_store: AuditBackend) -> None:
    req = request()
    record = begin(any_store, req)
    any_store.fail(
        req.request_id,
        "customerio_401",
        START,
        step="suppress",
        status_code=401,
        lease_token=record.lease_token,
    )
    failed = any_store.get(req.request_id)
    assert failed is not None
    assert (failed.status, failed.failure_reason) == ("failed", "customerio_401")
    assert failed.steps["suppress"].status == "failed"
    assert failed.steps["suppress"].status_code == 401
    again = begin(any_store, req, now=START + timedelta(seconds=1))
    assert again.status == "in_progress"
    assert again.failure_reason is None
    assert again.attempts == 2


def test_request_id_reused_for_another_subject_or_action_is_a_conflict(any_store: AuditBackend) -> None:
    begin(any_store, request())
    with pytest.raises(AuditConflictError, match="subject"):
        begin(any_store, request(identifier="someone-else"), now=START + timedelta(hours=1))
    with pytest.raises(AuditConflictError, match="action"):
        begin(any_store, request(action="delete"), now=START + timedelta(hours=1))


def test_release_gives_the_lease_back(any_store: AuditBackend) -> None:
    req = request()
    record = begin(any_store, req, lease=600)
    any_store.release(
        req.request_id, "out_of_time", START + timedelta(seconds=1), lease_token=record.lease_token
    )
    again = begin(any_store, req, now=START + timedelta(seconds=2))
    assert again.attempts == 2
    assert again.last_error == "out_of_time"


def test_writes_without_a_record_fail_clearly(any_store: AuditBackend) -> None:
    with pytest.raises(AuditError, match="does not exist"):
        any_store.mark_step("missing", "delete", 200, START)
    with pytest.raises(LeaseLostError):
        any_store.complete("missing", START, lease_token="x")
    assert any_store.get("missing") is None


def test_an_unreachable_table_raises_audit_error(dynamodb: Any) -> None:
    store = AuditStore("no-such-table", client=dynamodb)
    with pytest.raises(AuditError):
        store.get("r")
    with pytest.raises(AuditError):
        begin(store, request())


def test_retention_is_at_least_24_calendar_months() -> None:
    # 730 days fall a day short of 24 months when a 29 February is inside the window.
    moment = datetime(2027, 3, 1, tzinfo=UTC)
    assert expiry_for(moment, MIN_RETENTION_DAYS) >= int(datetime(2029, 3, 1, tzinfo=UTC).timestamp())
    assert expiry_for(moment, 800) == int((moment + timedelta(days=800)).timestamp())
    with pytest.raises(ValueError, match="730"):
        expiry_for(moment, 365)
    with pytest.raises(ValueError, match="730"):
        AuditStore("t", retention_days=100)
    with pytest.raises(ValueError, match="730"):
        MemoryAuditStore(retention_days=100)


def test_items_never_hold_the_identifier(store: AuditStore, dynamodb: Any) -> None:
    req = request()
    record = begin(store, req)
    store.mark_step(req.request_id, "suppress", 200, START, lease_token=record.lease_token)
    store.fail(req.request_id, "customerio_403", START, step="delete", status_code=403)
    raw = json.dumps(scan(dynamodb))
    assert IDENTIFIER not in raw
    assert "person-7f2c" not in raw
    assert hash_of(req) in raw


def test_record_round_trips_through_dynamodb_types(store: AuditStore, dynamodb: Any) -> None:
    record = begin(store, request())
    (item,) = dynamodb.scan(TableName=TABLE)["Items"]
    assert item["expires_at"] == {"N": str(record.expires_at)}
    assert item["attempts"] == {"N": "1"}
    assert AuditRecord.from_item(item) == record


def interleave(store: AuditBackend, between: Any) -> None:
    """Run ``between()`` once, right after the next ``begin`` has found the existing record and
    before it writes."""
    create = store._create_record

    def create_then_interleave(record: AuditRecord) -> AuditRecord | None:
        existing = create(record)
        del store._create_record  # once: ``between`` may begin too
        between()
        return existing

    store._create_record = create_then_interleave  # type: ignore[method-assign]


def test_a_takeover_keeps_a_step_the_old_holder_recorded_meanwhile(any_store: AuditBackend) -> None:
    req = request()
    first = begin(any_store, req, lease=60)
    token = first.lease_token
    any_store.mark_step(req.request_id, "suppress", 200, START + timedelta(seconds=1), lease_token=token)
    late = START + timedelta(seconds=61)  # the first lease has expired: the old holder still writes
    interleave(any_store, lambda: any_store.mark_step(req.request_id, "delete", 200, late, lease_token=token))
    second = begin(any_store, req, now=late)
    assert second.attempts == 2
    assert second.step_done("suppress")
    assert second.step_done("delete")  # not undone by the takeover
    assert any_store.get(req.request_id) == second


def test_a_lease_taken_by_another_delivery_meanwhile_is_held(any_store: AuditBackend) -> None:
    req = request()
    begin(any_store, req, lease=60)
    late = START + timedelta(seconds=61)
    rival: list[AuditRecord] = []
    interleave(any_store, lambda: rival.append(any_store.begin(req, late, hash_of(req), 60)))
    with pytest.raises(LeaseHeldError) as caught:
        begin(any_store, req, now=late)
    (taken,) = rival
    assert taken.attempts == 2
    assert caught.value.lease_until == taken.lease_until
    stored = any_store.get(req.request_id)
    assert stored is not None
    assert (stored.attempts, stored.lease_token) == (2, taken.lease_token)


# -- Track v2 submissions: written on the held record, without reading first ------------------------


class CountingReads:
    """Counts a store's reads (``_get_record``)."""

    def __init__(self, store: AuditBackend) -> None:
        self.reads = 0
        original = store._get_record

        def counted(request_id: str) -> AuditRecord | None:
            self.reads += 1
            return original(request_id)

        store._get_record = counted  # type: ignore[method-assign]


def test_accept_and_complete_in_one_write_without_a_read(any_store: AuditBackend) -> None:
    req = request()
    record = begin(any_store, req)
    counter = CountingReads(any_store)
    done = any_store.accept(record, "suppress", 200, "cio-req-1", START + timedelta(seconds=1), complete=True)
    assert counter.reads == 0
    assert (done.status, done.verification) == ("completed", "not_verified")
    assert done.submitted_at == done.completed_at == iso(START + timedelta(seconds=1))
    assert done.steps["suppress"].customerio_request_id == "cio-req-1"
    assert done.lease_token is None
    assert any_store.get(req.request_id) == done
    assert begin(any_store, req, now=START + timedelta(hours=1)) == done  # finished: untouched


def test_accept_then_await_verification(any_store: AuditBackend) -> None:
    req = request()
    record = begin(any_store, req)
    accepted = any_store.accept(record, "suppress", 207, None, START + timedelta(seconds=1), complete=False)
    assert (accepted.status, accepted.lease_token) == ("in_progress", record.lease_token)
    assert accepted.submitted
    waiting = any_store.await_verification(accepted, START + timedelta(seconds=2))
    assert (waiting.status, waiting.verification, waiting.lease_token) == ("submitted", "pending", None)
    assert waiting.completed_at is None
    assert waiting.finished
    assert any_store.get(req.request_id) == waiting


def test_accept_refuses_a_record_whose_lease_was_taken_over(any_store: AuditBackend) -> None:
    req = request()
    first = begin(any_store, req, lease=60)
    second = begin(any_store, req, now=START + timedelta(seconds=61))
    with pytest.raises(LeaseLostError):
        any_store.accept(first, "suppress", 200, None, START + timedelta(seconds=62), complete=True)
    stored = any_store.get(req.request_id)
    assert stored == second  # nothing written
    with pytest.raises(AuditError):
        any_store.await_verification(stored.model_copy(update={"lease_token": None}), START)


def test_accepting_a_legacy_erase_keeps_its_other_step(any_store: AuditBackend) -> None:
    req = request()
    record = begin(any_store, req)
    any_store.record_transient_failure(
        req.request_id, "delete", 503, "customerio_503", START, lease_token=record.lease_token
    )
    again = begin(any_store, req, now=START + timedelta(seconds=1))
    done = any_store.accept(again, "suppress", 200, None, START + timedelta(seconds=2), complete=True)
    assert done.steps["delete"].status_code == 503  # written by another writer: kept
    assert done.step_done("suppress")
