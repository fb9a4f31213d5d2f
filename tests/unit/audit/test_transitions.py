"""The lease state machine as pure functions: each transition's fields, the same-request check, the
lease test, and that the record passed in is never modified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cio_security.audit import transitions
from cio_security.audit.base import RecordChanges
from cio_security.audit.record import AuditRecord, StepRecord, expiry_for, iso, subject_hash
from cio_security.deletion.request import DeletionRequest
from cio_security.errors import AuditConflictError

from .conftest import PEPPER, START

LATER = START + timedelta(seconds=30)


def request(**overrides: Any) -> DeletionRequest:
    data = {
        "request_id": "dsar-transitions-1",
        "identifier": "cust-4711",
        "action": "erase",
        "regulation": "gdpr",
        "requested_at": "2026-11-28T10:00:00Z",
    } | overrides
    return DeletionRequest.model_validate(data)


def new(req: DeletionRequest | None = None, *, holder: str = "token-1", lease: float = 60) -> AuditRecord:
    req = req or request()
    return transitions.new_record(
        req,
        START,
        subject_hash=subject_hash(req.identifier_type or "id", req.identifier, PEPPER),
        lease_seconds=lease,
        lease_token=holder,
    )


def legacy(record: AuditRecord | None = None) -> AuditRecord:
    """An erase record as written before Track v2: a suppress step and a delete step."""
    record = record or new()
    return record.model_copy(update={"steps": {"suppress": StepRecord(), "delete": StepRecord()}}, deep=True)


def unchanged(record: AuditRecord) -> AuditRecord:
    """A deep copy to compare ``record`` with after a transition."""
    return record.model_copy(deep=True)


def test_new_record_is_leased_to_its_creator_with_every_step_pending() -> None:
    record = new(lease=120)
    assert (record.request_id, record.status, record.attempts) == ("dsar-transitions-1", "received", 1)
    assert record.identifier_type == "id"
    assert record.steps == {"suppress": StepRecord()}  # an erase is one v2 operation: suppress
    assert (record.received_at, record.updated_at) == (iso(START), iso(START))
    assert record.requested_at == "2026-11-28T10:00:00.000Z"
    assert record.deadline == "2026-12-28T10:00:00.000Z"
    assert record.lease_until == iso(START + timedelta(seconds=120))
    assert record.lease_token == "token-1"
    assert record.expires_at == expiry_for(START)
    assert record.completed_at is record.failure_reason is record.last_error is None


def test_a_delete_request_has_only_the_delete_step() -> None:
    assert set(new(request(action="delete")).steps) == {"delete"}


def test_record_new_is_new_record_under_a_fresh_token() -> None:
    req = request()
    one = AuditRecord.new(req, START, subject_hash="0" * 64, lease_seconds=60)
    two = AuditRecord.new(req, START, subject_hash="0" * 64, lease_seconds=60)
    assert one.lease_token and two.lease_token and one.lease_token != two.lease_token
    same = transitions.new_record(
        req, START, subject_hash="0" * 64, lease_seconds=60, lease_token=one.lease_token
    )
    assert same == one


def test_lease_taken_counts_an_attempt_under_a_new_token() -> None:
    record = new()
    before = unchanged(record)
    leased = transitions.lease_taken(record, LATER, lease_seconds=90, lease_token="token-2")
    assert leased.attempts == 2
    assert leased.lease_token == "token-2"
    assert leased.lease_until == iso(LATER + timedelta(seconds=90))
    assert leased.updated_at == iso(LATER)
    assert leased.status == "received"  # only a failed status is lifted
    assert record == before


def test_lease_taken_lifts_a_failed_status_and_clears_its_reason() -> None:
    failed = transitions.failed(new(), "customerio_401", START)
    leased = transitions.lease_taken(failed, LATER, lease_seconds=60, lease_token="token-2")
    assert (leased.status, leased.failure_reason) == ("in_progress", None)
    in_progress = transitions.step_done(new(), "suppress", 200, START)
    assert (
        transitions.lease_taken(in_progress, LATER, lease_seconds=60, lease_token="t").status == "in_progress"
    )


def test_step_done_records_the_status_code_and_leaves_other_steps() -> None:
    record = legacy()
    before = unchanged(record)
    done = transitions.step_done(record, "suppress", 200, LATER)
    assert done.steps["suppress"] == StepRecord(status="done", status_code=200, at=iso(LATER))
    assert done.steps["delete"] == StepRecord()
    assert done.step_done("suppress")
    assert (done.status, done.last_status_code, done.updated_at) == ("in_progress", 200, iso(LATER))
    assert done.lease_token == "token-1"  # still leased
    assert record == before
    done.steps["delete"].status = "failed"  # the result shares nothing with its input
    assert record.steps["delete"].status == "pending"


def test_transient_failure_keeps_the_step_pending_and_gives_the_lease_back() -> None:
    record = transitions.step_done(legacy(), "suppress", 200, START)
    before = unchanged(record)
    failed = transitions.transient_failure(record, "delete", 503, "customerio_503", LATER)
    assert failed.steps["delete"] == StepRecord(status="pending", status_code=503, at=iso(LATER))
    assert failed.step_done("suppress")
    assert (failed.status, failed.last_status_code, failed.last_error) == (
        "in_progress",
        503,
        "customerio_503",
    )
    assert (failed.lease_until, failed.lease_token) == (iso(LATER), None)
    assert transitions.may_lease(failed, LATER)
    assert record == before


def test_transient_failure_without_a_status_code() -> None:
    failed = transitions.transient_failure(new(), "suppress", None, "customerio_timeout", LATER)
    assert failed.steps["suppress"] == StepRecord(status="pending", status_code=None, at=iso(LATER))
    assert failed.last_status_code is None


def test_released_gives_the_lease_back_without_touching_the_steps() -> None:
    record = new()
    released = transitions.released(record, "out_of_time", LATER)
    assert released.steps == record.steps
    assert (released.last_error, released.updated_at) == ("out_of_time", iso(LATER))
    assert (released.lease_until, released.lease_token) == (iso(LATER), None)
    assert released.status == record.status
    assert released.attempts == record.attempts


def test_failed_with_a_step_records_it_failed() -> None:
    record = new()
    before = unchanged(record)
    failed = transitions.failed(
        record, "customerio_401", LATER, step="suppress", status_code=401, retention_days=900
    )
    assert (failed.status, failed.failure_reason) == ("failed", "customerio_401")
    assert failed.steps["suppress"] == StepRecord(status="failed", status_code=401, at=iso(LATER))
    assert failed.last_status_code == 401
    assert (failed.lease_until, failed.lease_token) == (iso(LATER), None)
    assert failed.expires_at == expiry_for(LATER, 900)
    assert not failed.finished
    assert record == before


def test_failed_without_a_step_leaves_the_steps() -> None:
    record = transitions.step_done(new(), "suppress", 200, START)
    failed = transitions.failed(record, "audit_conflict", LATER)
    assert failed.steps == record.steps
    assert failed.last_status_code == 200
    assert failed.expires_at == expiry_for(LATER)


def test_completed_clears_the_lease_and_restarts_retention() -> None:
    record = transitions.lease_taken(
        transitions.failed(new(), "customerio_401", START), START, lease_seconds=60, lease_token="t2"
    )
    record = transitions.step_done(record, "delete", 200, START)
    before = unchanged(record)
    done = transitions.completed(record, LATER, retention_days=900)
    assert (done.status, done.completed_at, done.updated_at) == ("completed", iso(LATER), iso(LATER))
    assert done.lease_until is done.lease_token is done.failure_reason is None
    assert done.expires_at == expiry_for(LATER, 900)
    assert done.finished
    assert record == before


def test_the_same_request_passes_the_check() -> None:
    transitions.check_same_request(new(), new(holder="other"))


def test_another_subject_or_action_is_a_conflict() -> None:
    existing = new()
    with pytest.raises(AuditConflictError, match="subject"):
        transitions.check_same_request(existing, new(request(identifier="cust-4712")))
    with pytest.raises(AuditConflictError, match="action"):
        transitions.check_same_request(existing, new(request(action="delete")))


def test_a_record_may_be_leased_once_unfinished_and_its_lease_expired() -> None:
    record = new(lease=60)
    expiry = START + timedelta(seconds=60)
    assert not transitions.may_lease(record, expiry - timedelta(milliseconds=1))
    assert transitions.may_lease(record, expiry)  # lease_until <= now, as the DynamoDB condition
    assert transitions.lease_expired(record, expiry)
    unleased = record.model_copy(update={"lease_until": None, "lease_token": None})
    assert transitions.may_lease(unleased, START)
    done = transitions.completed(record, START)
    assert transitions.lease_expired(done, START)
    assert not transitions.may_lease(done, START)


def test_transitions_do_not_read_the_clock() -> None:
    far = datetime(2031, 6, 1, tzinfo=UTC)
    record = transitions.released(new(), "out_of_time", far)
    assert record.updated_at == iso(far)


def test_record_changes_are_what_a_transition_changed() -> None:
    record = transitions.step_done(legacy(), "suppress", 200, START)
    leased = transitions.lease_taken(
        transitions.failed(record, "customerio_500", START), LATER, lease_seconds=60, lease_token="t2"
    )
    changes = RecordChanges.between(record, leased)
    assert set(changes.values) == {"attempts", "lease_until", "lease_token", "updated_at", "revision"}
    assert not changes.steps
    assert changes.removed == frozenset()
    done = transitions.transient_failure(leased, "delete", None, "customerio_timeout", LATER)
    changes = RecordChanges.between(leased, done)
    assert set(changes.steps) == {"delete"}
    assert "lease_token" in changes.removed
    assert "last_status_code" in changes.removed
    assert changes.apply(leased) == done
    same = RecordChanges.between(done, done)
    assert set(same.values) == {"updated_at"}  # a write is never empty


# -- Track v2 submissions -----------------------------------------------------------------------------


def test_submission_accepted_records_the_step_the_request_id_and_submitted_at() -> None:
    record = new()
    before = unchanged(record)
    accepted = transitions.submission_accepted(record, "suppress", 207, "cio-req-9", LATER)
    assert accepted.steps["suppress"] == StepRecord(
        status="done", status_code=207, customerio_request_id="cio-req-9", at=iso(LATER)
    )
    assert (accepted.status, accepted.submitted_at, accepted.last_status_code) == (
        "in_progress",
        iso(LATER),
        207,
    )
    assert accepted.submitted and not accepted.finished
    assert accepted.lease_token == "token-1"  # kept for what follows
    assert record == before


def test_completed_not_verified_when_nothing_verifies() -> None:
    accepted = transitions.submission_accepted(new(), "suppress", 200, None, START)
    done = transitions.completed(accepted, LATER, verification="not_verified")
    assert (done.status, done.verification, done.completed_at) == ("completed", "not_verified", iso(LATER))
    assert done.lease_token is None
    assert transitions.completed(accepted, LATER).verification is None  # unchanged unless given


def test_awaiting_verification_releases_the_lease_and_finishes_the_queue_work() -> None:
    accepted = transitions.submission_accepted(new(), "suppress", 200, "r", START)
    waiting = transitions.awaiting_verification(accepted, LATER, retention_days=900)
    assert (waiting.status, waiting.verification, waiting.verified_at) == ("submitted", "pending", None)
    assert waiting.lease_until is waiting.lease_token is None
    assert waiting.expires_at == expiry_for(LATER, 900)
    assert waiting.completed_at is None
    assert waiting.finished  # a redelivered message calls nothing
    assert not transitions.may_lease(waiting, LATER)


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        ("received", False),
        ("in_progress", False),
        ("failed", False),
        ("submitted", True),
        ("completed", True),
        ("unverified", True),
    ],
)
def test_finished_statuses(status: str, finished: bool) -> None:
    assert new().model_copy(update={"status": status}).finished is finished


def test_a_legacy_erase_is_submitted_once_its_suppress_is_done() -> None:
    # Before Track v2 an erase was suppress then delete; suppress alone deletes the person, so a
    # record whose suppress is done (delete pending) was accepted and is never sent again.
    record = transitions.step_done(legacy(), "suppress", 200, START)
    assert record.submitted
    assert not legacy().submitted
    assert new(request(action="delete")).steps == {"delete": StepRecord()}


def test_failures_record_customerios_request_id() -> None:
    failed = transitions.failed(
        new(), "customerio_rejected_x", LATER, step="suppress", status_code=207, customerio_request_id="cio-1"
    )
    assert failed.steps["suppress"].customerio_request_id == "cio-1"
    pending = transitions.transient_failure(
        new(), "suppress", 503, "customerio_503", LATER, customerio_request_id="cio-2"
    )
    assert pending.steps["suppress"].customerio_request_id == "cio-2"
