"""Erasure events: the detail built from the audit record alone, and ErasureEvents on moto's
EventBridge (10 entries per PutEvents call, failures reported, never raised)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cio_security.audit import transitions
from cio_security.audit.record import AuditRecord, iso, subject_hash
from cio_security.deletion.events import SOURCE, ErasureEvent, ErasureEvents, erasure_detail
from cio_security.deletion.request import DeletionRequest
from fixtures.aws import REGION

REQUESTED = datetime(2026, 11, 1, 10, tzinfo=UTC)  # GDPR deadline 1 December
IDENTIFIER = "event-subject@example.org"


def record(request_id: str = "dsar-ev-1", **fields: Any) -> AuditRecord:
    req = DeletionRequest.model_validate(
        {"request_id": request_id, "identifier": IDENTIFIER, "requested_at": iso(REQUESTED)} | fields
    )
    return transitions.new_record(
        req,
        REQUESTED,
        subject_hash=subject_hash("email", IDENTIFIER, b"p" * 32),
        lease_seconds=60,
        lease_token="t",
    )


def completed(at: datetime) -> AuditRecord:
    accepted = transitions.submission_accepted(record(), "suppress", 200, "cio-1", at)
    return transitions.completed(accepted, at, verification="not_verified")


def test_the_completed_detail() -> None:
    at = REQUESTED + timedelta(days=3)
    detail = erasure_detail("ErasureCompleted", completed(at), now=at)
    assert detail == {
        "request_id": "dsar-ev-1",
        "status": "completed",
        "verification": "not_verified",
        "action": "erase",
        "regulation": "gdpr",
        "requested_at": "2026-11-01T10:00:00.000Z",
        "submitted_at": iso(at),
        "completed_at": iso(at),
        "deadline": "2026-12-01T10:00:00.000Z",
        "deadline_met": True,
        "workspaces": ["default"],
        "workspace_results": {
            "default": {
                "status": "completed",
                "verification": "not_verified",
                "submitted_at": iso(at),
                "verified_at": None,
            }
        },
    }


def test_a_late_completion_did_not_meet_its_deadline() -> None:
    at = REQUESTED + timedelta(days=40)
    assert erasure_detail("ErasureCompleted", completed(at), now=at)["deadline_met"] is False


def test_the_verified_detail_carries_verified_at() -> None:
    at = REQUESTED + timedelta(days=1)
    verified = completed(at).model_copy(update={"verification": "verified", "verified_at": iso(at)})
    detail = erasure_detail("ErasureVerified", verified, now=at)
    assert (detail["verification"], detail["verified_at"]) == ("verified", iso(at))


@pytest.mark.parametrize(("days", "met"), [(3, None), (31, False)])
def test_a_failure_has_a_reason_and_a_deadline_verdict_once_known(days: int, met: bool | None) -> None:
    at = REQUESTED + timedelta(days=days)
    failed = transitions.failed(record(), "customerio_rejected_x", at, step="suppress", status_code=207)
    detail = erasure_detail("ErasureFailed", failed, reason="customerio_rejected_x", now=at)
    assert (detail["status"], detail["reason"], detail["failed_at"], detail["deadline_met"]) == (
        "failed",
        "customerio_rejected_x",
        iso(at),
        met,
    )
    assert "completed_at" not in detail


def test_no_detail_holds_the_identifier_or_its_hash() -> None:
    at = REQUESTED + timedelta(days=1)
    entry = ErasureEvent("ErasureCompleted", completed(at), at=at).entry("bus")
    text = json.dumps(entry, default=str)
    assert IDENTIFIER not in text
    assert completed(at).subject_hash not in text
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        SOURCE,
        "ErasureCompleted",
        "bus",
    )


@pytest.fixture
def bus(aws: None) -> tuple[Any, str]:
    events = boto3.client("events", region_name=REGION)
    events.create_event_bus(Name="cio-security-customerio")
    return events, "cio-security-customerio"


def test_publish_sends_ten_entries_per_call(bus: tuple[Any, str]) -> None:
    client, name = bus
    calls: list[int] = []
    original = client.put_events

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Entries"]))
        return original(**kwargs)

    client.put_events = counting
    at = REQUESTED + timedelta(days=1)
    events = [
        ErasureEvent("ErasureCompleted", completed(at).model_copy(update={"request_id": f"r{i}"}))
        for i in range(23)
    ]
    report = ErasureEvents(name, client).publish(events)
    assert calls == [10, 10, 3]
    assert report.published == [f"r{i}" for i in range(23)]
    assert report.failed == []


def test_a_refused_call_is_reported_not_raised(aws: None) -> None:
    client = boto3.client("events", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error("put_events", service_error_code="AccessDeniedException")
    with stubber:
        report = ErasureEvents("bus", client).publish(
            [ErasureEvent("ErasureCompleted", completed(REQUESTED))]
        )
    assert (report.published, report.failed) == ([], ["dsar-ev-1"])


def test_entries_eventbridge_refuses_are_reported(aws: None) -> None:
    client = boto3.client("events", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response(
        "put_events",
        {
            "FailedEntryCount": 1,
            "Entries": [{"EventId": "e-1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "x"}],
        },
    )
    at = REQUESTED + timedelta(days=1)
    events = [
        ErasureEvent("ErasureCompleted", completed(at)),
        ErasureEvent("ErasureCompleted", completed(at).model_copy(update={"request_id": "dsar-ev-2"})),
    ]
    with stubber:
        report = ErasureEvents("bus", client).publish(events)
    assert (report.published, report.failed) == (["dsar-ev-1"], ["dsar-ev-2"])


def test_the_detail_names_every_workspace_and_a_failure_names_the_one_that_failed() -> None:
    at = REQUESTED + timedelta(days=2)
    req = DeletionRequest.model_validate(
        {"request_id": "dsar-ev-ws", "identifier": IDENTIFIER, "requested_at": iso(REQUESTED)}
    )
    both = transitions.new_record(
        req,
        REQUESTED,
        subject_hash=subject_hash("email", IDENTIFIER, b"p" * 32),
        lease_seconds=60,
        lease_token="t",
        workspaces=("prod-us", "prod-eu"),
    )
    us_done = transitions.workspace_accepted(
        both, "prod-us", "suppress", at, status_code=200, customerio_request_id="c", verified=False
    )
    eu_failed = transitions.workspace_not_accepted(
        us_done, "prod-eu", "customerio_401", at, permanent=True, step="suppress", status_code=401
    )
    record = transitions.settled(eu_failed, at)
    detail = erasure_detail("ErasureFailed", record, now=at)
    assert detail["workspaces"] == ["prod-eu", "prod-us"]
    assert (detail["status"], detail["reason"], detail["workspace"]) == (
        "failed",
        "customerio_401",
        "prod-eu",
    )
    assert detail["workspace_results"]["prod-us"]["status"] == "completed"
    assert detail["workspace_results"]["prod-eu"]["status"] == "failed"
    assert IDENTIFIER not in json.dumps(detail)


def test_a_record_written_before_workspaces_is_listed_under_the_configured_primary() -> None:
    """A stack whose primary is ``produs``: an old record (no ``workspaces``) is its state, and
    every event built from it says so, never ``default``."""
    old = completed(REQUESTED + timedelta(days=1)).model_copy(update={"workspaces": {}})
    for kind in ("ErasureCompleted", "ErasureFailed"):
        detail = json.loads(ErasureEvent(kind, old, at=REQUESTED, primary="produs").entry("bus")["Detail"])
        assert detail["workspaces"] == ["produs"]
        assert list(detail["workspace_results"]) == ["produs"]
        assert detail["workspace_results"]["produs"]["status"] == "completed"
    assert erasure_detail("ErasureCompleted", old, primary="produs")["workspaces"] == ["produs"]
    assert erasure_detail("ErasureCompleted", old)["workspaces"] == ["default"]  # a one-workspace stack
