"""The erasure verifier's audit writes (``audit.transitions`` verified / verification_checked /
unverified through ``BaseAuditStore``), on DynamoDB (moto) and in memory alike: only a record
awaiting verification changes, and of two concurrent ends of one verification only one wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cio_security.audit import transitions
from cio_security.audit.base import AuditBackend
from cio_security.audit.record import AuditRecord, subject_hash
from cio_security.deletion.request import DeletionRequest
from cio_security.errors import AuditError
from fixtures.logs import sensitive

PEPPER = b"unit-pepper-0123456789abcdef0123456789abcdef"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = START + timedelta(minutes=15)
IDENTIFIER = "audit-verify-subject"


def awaiting(store: AuditBackend, request_id: str = "dsar-a1") -> AuditRecord:
    """A record Customer.io accepted at START, awaiting verification."""
    sensitive(IDENTIFIER)
    request = DeletionRequest.model_validate(
        {"request_id": request_id, "identifier": IDENTIFIER, "requested_at": "2026-11-30T10:00:00Z"}
    )
    record = store.begin(request, START, subject_hash("id", IDENTIFIER, PEPPER), 60)
    record = store.accept(record, "suppress", 200, "req-1", START, complete=False)
    return store.await_verification(record, START)


def test_a_check_counts_and_touches_nothing_else(any_store: AuditBackend) -> None:
    before = awaiting(any_store)
    after = any_store.record_verification_check("dsar-a1", LATER, checks=1)
    assert after is not None
    assert after.verification_checks == 1
    # Besides the count (the request's and its workspace's) only the write's own stamps change.
    assert after.workspace("default").verification_checks == 1
    ignored = {"verification_checks", "updated_at", "workspaces", "revision"}
    assert after.model_dump(exclude=ignored) == before.model_dump(exclude=ignored)
    assert after.workspace("default").model_dump(exclude={"verification_checks"}) == before.workspace(
        "default"
    ).model_dump(exclude={"verification_checks"})


def test_a_duplicate_never_lowers_the_count(any_store: AuditBackend) -> None:
    awaiting(any_store)
    any_store.record_verification_check("dsar-a1", LATER, checks=3)
    after = any_store.record_verification_check("dsar-a1", LATER, checks=2)
    assert after is not None and after.verification_checks == 3


def test_verified_completes_the_record_with_its_times(any_store: AuditBackend) -> None:
    awaiting(any_store)
    record = any_store.record_verified("dsar-a1", LATER, checks=2)
    assert record is not None
    assert (record.status, record.verification, record.verification_checks) == ("completed", "verified", 2)
    assert record.verified_at == record.completed_at == "2026-12-01T09:15:00.000Z"
    assert record.submitted_at == "2026-12-01T09:00:00.000Z"
    assert record.lease_token is None and record.finished
    assert any_store.get("dsar-a1") == record


def test_unverified_keeps_the_reason_and_restarts_the_retention(any_store: AuditBackend) -> None:
    before = awaiting(any_store)
    record = any_store.record_unverified("dsar-a1", "still_present", LATER + timedelta(days=1), checks=10)
    assert record is not None
    assert (record.status, record.verification, record.last_error) == (
        "unverified",
        "unverified",
        "still_present",
    )
    assert record.completed_at is None and record.verified_at is None
    assert record.expires_at > before.expires_at
    assert record.finished  # a redelivered deletion message calls Customer.io no more


def test_a_record_no_longer_awaiting_verification_is_left_alone(any_store: AuditBackend) -> None:
    awaiting(any_store)
    verified = any_store.record_verified("dsar-a1", LATER, checks=1)
    assert any_store.record_unverified("dsar-a1", "still_present", LATER, checks=2) is None
    assert any_store.record_verification_check("dsar-a1", LATER, checks=2) is None
    assert any_store.record_verified("dsar-a1", LATER, checks=3) is None
    assert any_store.get("dsar-a1") == verified


def test_a_record_that_was_never_verified_is_left_alone(any_store: AuditBackend) -> None:
    sensitive(IDENTIFIER)
    request = DeletionRequest.model_validate({"request_id": "dsar-nv", "identifier": IDENTIFIER})
    record = any_store.begin(request, START, subject_hash("id", IDENTIFIER, PEPPER), 60)
    any_store.accept(record, "suppress", 200, None, START, complete=True)  # not_verified
    assert any_store.record_verified("dsar-nv", LATER, checks=1) is None


def test_no_record_is_an_audit_error(any_store: AuditBackend) -> None:
    with pytest.raises(AuditError):
        any_store.record_verified("dsar-none", LATER, checks=1)


def test_of_two_concurrent_ends_only_one_is_written(any_store: AuditBackend) -> None:
    """An ``unverified`` computed from a read taken before a ``verified`` was written fails its
    condition, reads again, finds nothing pending and leaves the verified record as it is."""
    awaiting(any_store)
    read = any_store._get_record
    interleaved = []

    def read_then_race(request_id: str) -> AuditRecord | None:
        record = read(request_id)
        if not interleaved:
            interleaved.append(True)
            any_store.record_verified(request_id, LATER, checks=1)  # another check gets there first
        return record

    any_store._get_record = read_then_race  # type: ignore[method-assign]
    try:
        assert any_store.record_unverified("dsar-a1", "still_present", LATER, checks=10) is None
    finally:
        any_store._get_record = read  # type: ignore[method-assign]
    final = any_store.get("dsar-a1")
    assert final is not None and (final.status, final.verification) == ("completed", "verified")


def test_the_transitions_are_pure() -> None:
    request = DeletionRequest.model_validate({"request_id": "dsar-p", "identifier": "p"})
    record = transitions.new_record(request, START, subject_hash="0" * 64, lease_seconds=60, lease_token="t")
    record = transitions.awaiting_verification(
        transitions.submission_accepted(record, "suppress", 200, None, START), START
    )
    snapshot = record.model_copy(deep=True)
    assert transitions.awaiting_verification_check(record)
    checked = transitions.verification_checked(record, LATER, checks=1)
    verified = transitions.verified(checked, LATER, checks=2)
    unverified = transitions.unverified(checked, "app_api_401", LATER, checks=1)
    assert record == snapshot
    assert (checked.verification_checks, verified.verification_checks, unverified.verification_checks) == (
        1,
        2,
        1,
    )
    assert not transitions.awaiting_verification_check(verified)
    assert not transitions.awaiting_verification_check(unverified)
