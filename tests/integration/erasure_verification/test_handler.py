"""Erasure verification through the real handlers (issue 14): a suppressed person is verified once
the sandbox's App API stops finding them; one still found is checked again and ends unverified with
the ErasureNotVerified metric; App API failures are not checks; a wrong App API URL verifies
nothing; without an App API key the audit says not_verified. Every test's logs are scanned for the
identifiers (tests/fixtures/logs.py)."""

from __future__ import annotations

import json
from datetime import datetime

import boto3
import pytest

from cio_security.deletion.verification import VerificationTicket
from cio_security.errors import AuditError
from ciosec.emulator.sqs_event_source import sqs_record
from fixtures.aws import REGION
from fixtures.functions import FakeLambdaContext, load_function
from fixtures.logs import LogCapture
from fixtures.metrics import metric_totals

from .conftest import APP_KEY_SECRET, VerificationStack


def seconds_between(start: str | None, end: str | None) -> float:
    assert start is not None and end is not None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def test_a_suppressed_person_is_verified_after_the_processing_delay(
    stack: VerificationStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.sandbox.configure(processing_delay=2.0)
    stack.sandbox.add_person("vp-user-1", {"email": "vp-one@example.net"})
    stack.erase(("dsar-v1", "vp-user-1"))
    record = stack.audit("dsar-v1")
    assert (record.status, record.verification) == ("submitted", "pending")
    assert "vp-user-1" not in stack.sandbox.people()  # Track applied it...
    capsys.readouterr()
    stack.verify_until(lambda: stack.verification("dsar-v1") != "pending")
    record = stack.audit("dsar-v1")
    assert (record.status, record.verification) == ("completed", "verified")
    # ...but the App API saw it only after the processing delay: checked at least twice.
    assert record.verification_checks >= 2
    assert seconds_between(record.submitted_at, record.verified_at) >= 2.0
    assert record.completed_at == record.verified_at
    lookups = stack.app_requests("app_people")
    assert [r.status for r in lookups][-1] == 200 and len(lookups) == record.verification_checks
    totals = metric_totals(capsys.readouterr().out)
    assert totals["ErasureVerified"] == 1.0
    assert totals["VerificationRescheduled"] == record.verification_checks - 1
    assert totals["VerificationAge"] >= 2.0


def test_many_ids_share_one_batched_lookup(stack: VerificationStack) -> None:
    people = [(f"dsar-b{i}", f"vb-user-{i:02d}") for i in range(25)]
    for _, identifier in people:
        stack.sandbox.add_person(identifier)
    stack.erase(*people)
    stack.verify_until(lambda: all(stack.verification(rid) == "verified" for rid, _ in people))
    (lookup,) = stack.app_requests("app_people")
    assert len(lookup.body["ids"]) == 25
    assert [r.operation for r in stack.app_requests()] == ["app_workspaces", "app_people"]


def test_emails_are_looked_up_one_by_one(stack: VerificationStack) -> None:
    stack.sandbox.add_person("ve-user-1", {"email": "ve-one@example.net"})
    stack.erase(("dsar-e1", "ve-one@example.net"))
    stack.verify_until(lambda: stack.verification("dsar-e1") == "verified")
    (lookup,) = stack.app_requests("app_person")
    assert "id_type=email" in lookup.raw_path


def test_a_person_still_present_is_rechecked_then_unverified_with_the_metric(
    stack: VerificationStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.sandbox.configure(processing_delay=3600.0)  # the App API never catches up in this test
    stack.sandbox.add_person("vs-user-1")
    stack.erase(("dsar-s1", "vs-user-1"))
    capsys.readouterr()
    stack.verify_until(lambda: stack.verification("dsar-s1") != "pending")
    record = stack.audit("dsar-s1")
    assert (record.status, record.verification, record.last_error) == (
        "unverified",
        "unverified",
        "still_present",
    )
    assert record.verified_at is None
    assert record.verification_checks == len(stack.app_requests("app_people")) >= 3
    totals = metric_totals(capsys.readouterr().out)
    assert totals["ErasureNotVerified"] == 1.0
    assert totals["VerificationRescheduled"] == record.verification_checks - 1
    assert "ErasureVerified" not in totals


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "headers": {"Retry-After": "0"}},
        {"status": 503},
        {"status": 500},
    ],
)
def test_transient_app_api_failures_are_not_checks(
    stack: VerificationStack, capsys: pytest.CaptureFixture[str], fault: dict[str, object]
) -> None:
    stack.sandbox.add_person("vt-user-1")
    stack.erase(("dsar-t1", "vt-user-1"))
    stack.sandbox.fail_next(times=3, operation="app_people", **fault)  # every attempt of one lookup
    capsys.readouterr()
    stack.verify_until(lambda: stack.verification("dsar-t1") != "pending")
    record = stack.audit("dsar-t1")
    assert (record.status, record.verification) == ("completed", "verified")
    assert record.verification_checks == 1  # the lookup that got no answer did not count
    statuses = [r.status for r in stack.app_requests("app_people")]
    assert statuses == [fault["status"]] * 3 + [200]
    totals = metric_totals(capsys.readouterr().out)
    assert (totals["VerificationLookupFailed"], totals["ErasureVerified"]) == (1.0, 1.0)
    assert "AppApiRejected" not in totals


def test_a_wrong_app_api_url_never_verifies_anything(
    stack: VerificationStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The Track host answers 404 to every App API path, as a proxy or a typo would.
    monkeypatch.setenv("CUSTOMERIO_APP_URL", stack.sandbox.url)
    stack.verification_app = load_function("erasure_verification")
    stack.sources.pop("verification", None)
    stack.sandbox.add_person("vw-user-1")
    stack.erase(("dsar-w1", "vw-user-1"))
    capsys.readouterr()

    def app_calls() -> list[str]:
        return [r.raw_path for r in stack.sandbox.requests() if r.raw_path.startswith("/v1/")]

    stack.verify_until(lambda: len(app_calls()) >= 3, timeout=10)  # the first check, two retries
    record = stack.audit("dsar-w1")
    assert (record.status, record.verification, record.verification_checks) == ("submitted", "pending", 0)
    assert record.verified_at is None
    # Only ever GET /v1/workspaces, refused: no lookup was sent, so no 404 could count.
    assert set(app_calls()) == {"/v1/workspaces"}
    totals = metric_totals(capsys.readouterr().out)
    assert totals["AppApiRejected"] >= 1.0 and "ErasureVerified" not in totals


def test_a_ticket_that_is_not_a_ticket_goes_to_the_dlq_with_its_reason(stack: VerificationStack) -> None:
    stack.sqs.send_message(QueueUrl=stack.verification_queue, MessageBody='{"request_id": "dsar-x"}')
    source = stack.source("verification")
    assert source.poll_once(source.handler_factory()) == 1
    (letter,) = stack.dead_letters()
    assert letter["MessageAttributes"]["reason"]["StringValue"] == "schema_error"
    assert letter["MessageAttributes"]["request_id"]["StringValue"] == "dsar-x"


def test_a_ticket_comes_back_when_the_audit_table_fails_and_the_batch_goes_on(
    stack: VerificationStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.sandbox.add_person("va-user-1")
    stack.erase(("dsar-a1", "va-user-1"))
    messages = []
    while not messages:
        messages = stack.sqs.receive_message(
            QueueUrl=stack.verification_queue, AttributeNames=["All"], WaitTimeSeconds=1
        ).get("Messages", [])
    ticket = VerificationTicket.from_body(messages[0]["Body"])
    assert (ticket.request_id, ticket.checks) == ("dsar-a1", 0)

    def unavailable(_request_id: str) -> None:
        raise AuditError("throttled")

    monkeypatch.setattr(stack.verification_app.processor().audit, "get", unavailable)
    event = {
        "Records": [sqs_record(m, queue_arn="arn:aws:sqs:eu-west-1:1:v", region=REGION) for m in messages]
    }
    response = stack.verification_app.handler(event, FakeLambdaContext(function_name="verification"))
    assert response == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}


def test_without_an_app_api_key_the_audit_says_not_verified(
    stack: VerificationStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.secretsmanager.put_secret_value(
        SecretId=APP_KEY_SECRET, SecretString='{"app_api_key":"","region":"us"}'
    )
    stack.deletion_app = load_function("gdpr_deletion")  # a new execution environment reads it
    stack.sources.pop("deletion", None)
    stack.sandbox.add_person("vn-user-1")
    stack.erase(("dsar-n1", "vn-user-1"))
    record = stack.audit("dsar-n1")
    assert (record.status, record.verification, record.verified_at) == ("completed", "not_verified", None)
    got = stack.sqs.receive_message(QueueUrl=stack.verification_queue, WaitTimeSeconds=0)
    assert "Messages" not in got  # nothing to check


def test_no_identifier_reaches_the_logs(stack: VerificationStack, captured_logs: LogCapture) -> None:
    identifiers = [
        ("dsar-l1", "vl-first.last@example.net"),
        ("dsar-l2", "+447700900456"),
        ("dsar-l3", "vl-id-3"),
    ]
    stack.sandbox.add_person("vl-p1", {"email": "vl-first.last@example.net"})
    stack.sandbox.add_person("vl-id-3")
    stack.sandbox.fail_next(times=3, status=502, operation="app_person")  # one lookup without an answer
    stack.erase(*identifiers)
    stack.verify_until(lambda: all(stack.verification(rid) != "pending" for rid, _ in identifiers))
    assert captured_logs.records
    for _, identifier in identifiers:
        assert identifier not in captured_logs.text
        assert identifier not in json.dumps(stack.responses)


def test_a_verified_erasure_is_announced_on_the_bus_without_the_identifier(
    stack: VerificationStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = boto3.client("events", region_name=REGION)
    bus = events.create_event_bus(Name="cio-security-customerio")["EventBusArn"]
    sink = stack.sqs.create_queue(QueueName="erasure-events")["QueueUrl"]
    sink_arn = stack.sqs.get_queue_attributes(QueueUrl=sink, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="erasures", EventBusName=bus, EventPattern=json.dumps({"source": ["cio-security.deletion"]})
    )
    events.put_targets(Rule="erasures", EventBusName=bus, Targets=[{"Id": "sink", "Arn": sink_arn}])
    monkeypatch.setenv("EVENT_BUS_NAME", "cio-security-customerio")
    stack.verification_app = load_function("erasure_verification")
    stack.sources.pop("verification", None)
    stack.sandbox.add_person("vev-user-1")
    stack.erase(("dsar-ev1", "vev-user-1"))
    stack.verify_until(lambda: stack.verification("dsar-ev1") == "verified")
    received = [
        json.loads(m["Body"])
        for m in stack.sqs.receive_message(QueueUrl=sink, MaxNumberOfMessages=10)["Messages"]
    ]
    verified = [e for e in received if e["detail-type"] == "ErasureVerified"]
    (event,) = verified
    record = stack.audit("dsar-ev1")
    assert event["detail"]["request_id"] == "dsar-ev1"
    assert (event["detail"]["verification"], event["detail"]["verified_at"]) == (
        "verified",
        record.verified_at,
    )
    assert "vev-user-1" not in json.dumps(received) and record.subject_hash not in json.dumps(received)
