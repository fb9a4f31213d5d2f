"""The audit store's writes after the lease, on each backend: a dead-lettered request's record says
so, and an operator's discard of a dead letter is recorded (never a deletion)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cio_security.audit.base import AuditBackend
from cio_security.audit.record import expiry_for, iso
from cio_security.errors import LeaseHeldError

from .conftest import START
from .test_store import begin, request


def test_record_discarded_marks_a_dead_lettered_record_and_keeps_it(any_store: AuditBackend) -> None:
    record = begin(any_store, request())
    any_store.fail(record.request_id, "customerio_401", START, lease_token=record.lease_token)
    any_store.record_dead_lettered(record.request_id, "customerio_401", START)
    later = START + timedelta(days=3)

    discarded = any_store.record_discarded(record.request_id, reason="workspace closed", now=later)

    assert discarded is not None
    assert discarded.status == "discarded"
    assert discarded.discard_reason == "workspace closed"
    assert discarded.discarded_at == iso(later)
    assert discarded.failure_reason == "customerio_401"  # the history stays
    assert discarded.expires_at == expiry_for(later, any_store.retention_days)
    assert any_store.get(record.request_id) == discarded


def test_record_discarded_without_a_record_is_none(any_store: AuditBackend) -> None:
    assert any_store.record_discarded("dsar-never-seen", reason="unknown", now=START) is None
    assert any_store.get("dsar-never-seen") is None


def test_record_discarded_keeps_an_accepted_erasure_completed(any_store: AuditBackend) -> None:
    record = begin(any_store, request())
    any_store.accept(record, "suppress", 200, "req-1", START, complete=True)

    discarded = any_store.record_discarded(record.request_id, reason="stale dead letter", now=START)

    assert discarded is not None
    assert discarded.status == "completed"
    assert discarded.discard_reason == "stale dead letter"


def test_record_discarded_refuses_while_a_delivery_holds_the_lease(any_store: AuditBackend) -> None:
    record = begin(any_store, request(), lease=120)
    with pytest.raises(LeaseHeldError):
        any_store.record_discarded(record.request_id, reason="x", now=START + timedelta(seconds=1))
    assert any_store.get(record.request_id) == record


def test_a_redelivery_lifts_dead_lettered_and_discarded(any_store: AuditBackend) -> None:
    record = begin(any_store, request())
    any_store.release(record.request_id, "customerio_503", START, lease_token=record.lease_token)
    dead = any_store.record_dead_lettered(record.request_id, "retries_exhausted", START)
    assert dead is not None
    assert dead.status == "dead_lettered"
    assert dead.failure_reason == "retries_exhausted"
    assert any_store.record_discarded(record.request_id, reason="gone", now=START) is not None

    again = begin(any_store, request(), now=START + timedelta(minutes=5))

    assert again.status == "in_progress"
    assert again.attempts == 2
    assert again.failure_reason is None
