"""``ciosec deletion report``: every request since a date with its status, deadline, whether it
was met and its verification, as CSV or JSON, from the audit table (moto, built from template.yaml),
never with an identifier or a subject hash."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import subject_hash
from cio_security.deletion.request import DeletionRequest
from ciosec.cli import main
from ciosec.operations.deletion import (
    RequestInputError,
    compliance_report,
    parse_since,
    report_csv,
    report_json,
    report_summary,
)
from ciosec.operations.stack import StackInfo
from fixtures.audit import AUDIT_TABLE
from fixtures.aws import REGION

PEPPER = b"report-pepper-0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def request(request_id: str, requested_at: str, **fields: Any) -> DeletionRequest:
    return DeletionRequest.model_validate(
        {
            "request_id": request_id,
            "identifier": f"{request_id}-person@example.org",
            "requested_at": requested_at,
        }
        | fields
    )


def begin(store: AuditStore, req: DeletionRequest, at: datetime) -> Any:
    return store.begin(req, at, subject_hash(req.identifier_type or "id", req.identifier, PEPPER), 60)


@pytest.fixture
def audit(store: AuditStore) -> AuditStore:
    """Requests in every state, made between August and November 2026."""
    # completed well in time (GDPR: one month)
    req = request("done-in-time", "2026-10-02T09:00:00Z")
    record = begin(store, req, datetime(2026, 10, 2, 9, 1, tzinfo=UTC))
    store.accept(record, "suppress", 200, "cio-1", datetime(2026, 10, 2, 9, 2, tzinfo=UTC), complete=True)
    # completed after its deadline (CCPA: 45 days)
    req = request("done-late", "2026-08-01T09:00:00Z", regulation="ccpa")
    record = begin(store, req, datetime(2026, 10, 1, tzinfo=UTC))
    store.accept(record, "suppress", 200, None, datetime(2026, 10, 1, 0, 1, tzinfo=UTC), complete=True)
    # accepted, verification pending
    req = request("waiting", "2026-11-10T09:00:00Z", action="delete")
    record = begin(store, req, datetime(2026, 11, 10, 9, 1, tzinfo=UTC))
    accepted = store.accept(
        record, "delete", 207, None, datetime(2026, 11, 10, 9, 2, tzinfo=UTC), complete=False
    )
    store.await_verification(accepted, datetime(2026, 11, 10, 9, 2, tzinfo=UTC))
    # failed, deadline passed
    req = request("failed-late", "2026-09-20T09:00:00Z")
    record = begin(store, req, datetime(2026, 9, 20, 9, 1, tzinfo=UTC))
    store.fail(
        "failed-late",
        "customerio_rejected_invalid_identifiers",
        datetime(2026, 9, 20, 9, 2, tzinfo=UTC),
        step="suppress",
        status_code=207,
        lease_token=record.lease_token,
    )
    # in progress, still in time
    begin(store, request("open", "2026-11-25T09:00:00Z"), datetime(2026, 11, 25, 9, 1, tzinfo=UTC))
    # before the report's window
    begin(store, request("old", "2026-07-01T09:00:00Z"), datetime(2026, 7, 1, tzinfo=UTC))
    return store


def test_every_request_since_the_date_with_its_deadline_verdict(audit: AuditStore, dynamodb: Any) -> None:
    rows = compliance_report(dynamodb, AUDIT_TABLE, since=datetime(2026, 8, 1, tzinfo=UTC), now=NOW)
    assert [(r.request_id, r.status, r.deadline_met, r.verification) for r in rows] == [
        ("done-late", "completed", False, "not_verified"),
        ("failed-late", "failed", False, None),
        ("done-in-time", "completed", True, "not_verified"),
        ("waiting", "submitted", True, "pending"),
        ("open", "received", None, None),
    ]
    late = rows[0]
    assert (late.regulation, late.deadline, late.accepted_at) == (
        "ccpa",
        "2026-09-15T09:00:00.000Z",
        "2026-10-01T00:01:00.000Z",
    )
    assert rows[1].failure_reason == "customerio_rejected_invalid_identifiers"


def test_csv_and_json_hold_no_identifier_and_no_subject_hash(audit: AuditStore, dynamodb: Any) -> None:
    rows = compliance_report(dynamodb, AUDIT_TABLE, since=datetime(2026, 8, 1, tzinfo=UTC), now=NOW)
    text = report_csv(rows)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [(r["request_id"], r["deadline_met"]) for r in parsed] == [
        ("done-late", "no"),
        ("failed-late", "no"),
        ("done-in-time", "yes"),
        ("waiting", "yes"),
        ("open", "pending"),
    ]
    document = json.loads(report_json(rows))
    assert document[4]["deadline_met"] is None
    both = text + report_json(rows)
    assert "person@example.org" not in both
    for item in dynamodb.scan(TableName=AUDIT_TABLE)["Items"]:
        assert item["subject_hash"]["S"] not in both
    assert report_summary(rows) == (
        "5 request(s): 2 completed, 1 failed, 1 received, 1 submitted; "
        "2 missed the deadline, 1 still open in time"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T10:00:00+02:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01T10:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
    ],
)
def test_since_takes_a_date_or_a_zoned_time(value: str, expected: datetime) -> None:
    assert parse_since(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2026-11-01T10:00:00", "01/11/2026"])
def test_since_refuses_what_it_cannot_place_in_time(value: str) -> None:
    with pytest.raises(RequestInputError):
        parse_since(value)


def test_the_command_prints_the_report_and_a_summary(
    audit: AuditStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "stack.json"
    StackInfo(audit_table=AUDIT_TABLE, region=REGION).save(state)
    assert (
        main(["--state", str(state), "deletion", "report", "--since", "2026-11-01", "--format", "json"]) == 0
    )
    out = capsys.readouterr()
    assert [row["request_id"] for row in json.loads(out.out)] == ["waiting", "open"]
    assert "2 request(s)" in out.err
    assert main(["--state", str(state), "deletion", "report", "--since", "2026-11-01"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("request_id,action,regulation,status")
    assert main(["--state", str(state), "deletion", "report", "--since", "soon"]) == 1
    assert "ISO 8601" in capsys.readouterr().err


def test_a_window_with_nothing_in_it(audit: AuditStore, dynamodb: Any) -> None:
    rows = compliance_report(dynamodb, AUDIT_TABLE, since=NOW + timedelta(days=1), now=NOW)
    assert rows == []
    assert report_csv(rows).strip().count("\n") == 0
