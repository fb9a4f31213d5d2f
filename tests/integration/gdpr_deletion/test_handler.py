"""The deletion handler end to end: moto SQS/DynamoDB/Secrets Manager and the sandbox over HTTP."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import AuditRecord, subject_hash
from cio_security.deletion.request import DeletionRequest
from fixtures.functions import FakeLambdaContext
from fixtures.logs import LogCapture, sensitive
from fixtures.sandbox import SANDBOX_CREDENTIALS

from .conftest import (
    AUDIT_TABLE,
    HOSTILE_IDENTIFIERS,
    MAX_RECEIVE_COUNT,
    PEPPER,
    ROTATED,
    TRACK_SECRET,
    DeletionStack,
    deletion_body,
    track_json,
)

SUPPRESS = "/api/v1/customers/*/suppress"


def failures(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def reasons(stack: DeletionStack) -> dict[str, str]:
    """request_id -> reason attribute of every dead letter."""
    found = {}
    for message in stack.dead_letters():
        attributes = message.get("MessageAttributes", {})
        request_id = attributes.get("request_id", {}).get("StringValue", message["Body"])
        found[request_id] = attributes["reason"]["StringValue"]
    return found


def erase(stack: DeletionStack, request_id: str, identifier: str, **fields: Any) -> dict[str, Any]:
    stack.sandbox.add_person(identifier, {"plan": "pro"})
    stack.send(deletion_body(request_id, identifier, **fields))
    return stack.deliver()


# -- both actions ---------------------------------------------------------------------------------


def test_erase_suppresses_then_deletes_and_audits(deletion: DeletionStack) -> None:
    deletion.sandbox.add_person("user-1", {"plan": "pro"})
    deletion.send(deletion_body("dsar-1", "user-1", action="erase", regulation="gdpr"))
    response = deletion.deliver()
    assert response == {"batchItemFailures": []}
    assert deletion.calls() == [("suppress", "user-1", 200), ("delete", "user-1", 200)]
    assert "user-1" not in deletion.sandbox.people()
    assert "user-1" in deletion.sandbox.suppressed()
    assert deletion.queue_depth() == 0
    record = deletion.audit("dsar-1")
    assert record is not None
    assert record.status == "completed"
    assert record.attempts == 1
    assert {s: (r.status, r.status_code) for s, r in record.steps.items()} == {
        "suppress": ("done", 200),
        "delete": ("done", 200),
    }
    assert record.subject_hash == subject_hash("id", "user-1", PEPPER)
    assert (record.requested_at, record.deadline) == ("2026-11-28T10:00:00.000Z", "2026-12-28T10:00:00.000Z")
    assert record.received_at <= (record.completed_at or "")
    assert record.lease_until is None


def test_delete_only_deletes_and_the_person_may_come_back(deletion: DeletionStack) -> None:
    deletion.sandbox.add_person("user-2")
    deletion.send(deletion_body("dsar-2", "user-2", action="delete", regulation="ccpa"))
    assert deletion.deliver() == {"batchItemFailures": []}
    assert deletion.calls() == [("delete", "user-2", 200)]
    assert "user-2" not in deletion.sandbox.people()
    assert "user-2" not in deletion.sandbox.suppressed()
    record = deletion.audit("dsar-2")
    assert record is not None
    assert (record.status, record.regulation, set(record.steps)) == ("completed", "ccpa", {"delete"})
    assert record.deadline == "2027-01-12T10:00:00.000Z"


def test_deleting_someone_who_never_existed_completes(deletion: DeletionStack) -> None:
    # Customer.io answers 200 whether or not the person existed: the request completes.
    deletion.send(deletion_body("dsar-gone", "never-existed", action="delete"))
    assert deletion.deliver() == {"batchItemFailures": []}
    record = deletion.audit("dsar-gone")
    assert record is not None
    assert (record.status, record.steps["delete"].status_code) == ("completed", 200)


def test_a_404_on_delete_is_dead_lettered_not_recorded_as_gone(deletion: DeletionStack) -> None:
    deletion.sandbox.fail_next(status=404, operation="delete")  # a wrong base URL or a proxy
    deletion.send(deletion_body("dsar-404", "user-404", action="delete"))
    assert deletion.deliver() == {"batchItemFailures": []}
    record = deletion.audit("dsar-404")
    assert record is not None
    assert (record.status, record.failure_reason) == ("failed", "customerio_404")
    (letter,) = deletion.dead_letters()
    assert letter["MessageAttributes"]["reason"]["StringValue"] == "customerio_404"


# -- transient failures: batch item failures, then redelivery -------------------------------------


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"status": 429, "headers": {"Retry-After": "0"}}, "customerio_429"),
        ({"status": 503}, "customerio_503"),
        ({"status": 500}, "customerio_500"),
        ({"kind": "timeout", "hang_seconds": 1.5}, "customerio_unreachable"),
        ({"kind": "reset"}, "customerio_unreachable"),
    ],
)
def test_transient_failure_after_retries_is_a_batch_item_failure(
    deletion: DeletionStack, fault: dict[str, Any], reason: str
) -> None:
    deletion.sandbox.fail_next(times=3, path=SUPPRESS, **fault)  # every attempt of the client
    (message_id,) = deletion.send(deletion_body("dsar-t", "user-t"))
    response = deletion.deliver()
    assert failures(response) == {message_id}
    assert [op for op, _, _ in deletion.calls()] == ["suppress"] * 3
    assert deletion.dead_letters() == []
    record = deletion.audit("dsar-t")
    assert record is not None
    assert (record.status, record.last_error, record.attempts) == ("in_progress", reason, 1)
    assert record.steps["suppress"].status == "pending"
    assert record.lease_token is None

    # The visibility timeout passes and SQS redelivers: the request completes.
    deletion.expire_failures()
    assert deletion.deliver() == {"batchItemFailures": []}
    final = deletion.audit("dsar-t")
    assert final is not None
    assert (final.status, final.attempts) == ("completed", 2)


def test_a_transient_failure_on_delete_resumes_at_delete(deletion: DeletionStack) -> None:
    deletion.sandbox.fail_next(times=3, status=502, operation="delete")
    (message_id,) = deletion.send(deletion_body("dsar-resume", "user-r"))
    assert failures(deletion.deliver()) == {message_id}
    deletion.expire_failures()
    assert deletion.deliver() == {"batchItemFailures": []}
    operations = [(op, status) for op, _, status in deletion.calls()]
    assert operations == [
        ("suppress", 200),
        ("delete", 502),
        ("delete", 502),
        ("delete", 502),
        ("delete", 200),
    ]


def test_a_retry_after_beyond_the_cap_is_not_waited_for(deletion: DeletionStack) -> None:
    deletion.sandbox.fail_next(status=429, path=SUPPRESS, headers={"Retry-After": "3600"})
    (message_id,) = deletion.send(deletion_body("dsar-slow", "user-slow"))
    started = time.monotonic()
    assert failures(deletion.deliver()) == {message_id}
    assert time.monotonic() - started < 5
    assert len(deletion.calls()) == 1


def test_the_last_delivery_dead_letters_with_the_cause(deletion: DeletionStack) -> None:
    deletion.sandbox.configure(faults={"error_rate": 1.0, "seed": 1})
    (message_id,) = deletion.send(deletion_body("dsar-doomed", "user-d"))
    for _ in range(MAX_RECEIVE_COUNT - 1):
        assert failures(deletion.deliver()) == {message_id}
        deletion.expire_failures()
    # The last delivery: the handler dead-letters it itself, with a reason, before SQS would.
    assert deletion.deliver() == {"batchItemFailures": []}
    assert deletion.queue_depth() == 0
    (dead,) = deletion.dead_letters()
    assert json.loads(dead["Body"])["request_id"] == "dsar-doomed"
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["reason"] == "retries_exhausted"
    assert attributes["last_error"].startswith("customerio_5")
    assert (attributes["request_id"], attributes["source_message_id"]) == ("dsar-doomed", message_id)
    record = deletion.audit("dsar-doomed")
    assert record is not None
    assert (record.status, record.attempts) == ("in_progress", MAX_RECEIVE_COUNT)
    assert record.last_error is not None
    assert record.last_error.startswith("customerio_5")


def test_without_the_receive_count_setting_sqs_still_dead_letters(
    deletion: DeletionStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DELETION_MAX_RECEIVE_COUNT")
    deletion.app.settings.cache_clear()
    deletion.app.processor.cache_clear()
    deletion.sandbox.configure(faults={"error_rate": 1.0, "seed": 1})
    (message_id,) = deletion.send(deletion_body("dsar-doomed", "user-d"))
    for _ in range(MAX_RECEIVE_COUNT):
        assert failures(deletion.deliver()) == {message_id}
        deletion.expire_failures()
    assert deletion.receive() == []  # SQS moved it on the next receive, without a reason
    (dead,) = deletion.dead_letters()
    assert json.loads(dead["Body"])["request_id"] == "dsar-doomed"
    assert "reason" not in dead.get("MessageAttributes", {})
    record = deletion.audit("dsar-doomed")
    assert record is not None
    assert record.last_error is not None  # the cause is still on the audit record


# -- permanent failures: the DLQ at once, not batch item failures ----------------------------------


@pytest.mark.parametrize(
    ("body", "reason", "request_id"),
    [
        ('{"request_id": "dsar-bad-json", "identifier": ', "invalid_json", None),
        (deletion_body("dsar-schema", "user-s", action="shred"), "schema_error", "dsar-schema"),
        (deletion_body("dsar-schema-2", "user-s", requested_at="yesterday"), "schema_error", "dsar-schema-2"),
        (json.dumps({"identifier": "user-s"}), "schema_error", None),
    ],
)
def test_invalid_messages_go_to_the_dlq_at_once(
    deletion: DeletionStack, body: str, reason: str, request_id: str | None
) -> None:
    (message_id,) = deletion.send(body)
    assert deletion.deliver() == {"batchItemFailures": []}
    assert deletion.queue_depth() == 0
    (dead,) = deletion.dead_letters()
    assert dead["Body"] == body
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    expected = {"reason": reason, "source_message_id": message_id}
    if request_id:
        expected["request_id"] = request_id
    assert attributes == expected
    assert deletion.calls() == []
    assert deletion.audit_items() == []


@pytest.mark.parametrize("status", [400, 403])
def test_customerio_rejections_go_to_the_dlq_with_their_status(deletion: DeletionStack, status: int) -> None:
    deletion.sandbox.fail_next(status=status, path=SUPPRESS)
    body = deletion_body(f"dsar-{status}", "user-p")
    deletion.send(body)
    assert deletion.deliver() == {"batchItemFailures": []}
    assert len(deletion.calls()) == 1  # no retry for a permanent failure
    assert reasons(deletion) == {f"dsar-{status}": f"customerio_{status}"}
    record = deletion.audit(f"dsar-{status}")
    assert record is not None
    assert (record.status, record.failure_reason) == ("failed", f"customerio_{status}")
    assert record.steps["suppress"].status_code == status


def test_401_even_after_a_credential_refresh_goes_to_the_dlq(deletion: DeletionStack) -> None:
    deletion.sandbox.remove_credentials(SANDBOX_CREDENTIALS.site_id)  # revoked in Customer.io
    deletion.send(deletion_body("dsar-401", "user-a"))
    assert deletion.deliver() == {"batchItemFailures": []}
    # one attempt, one re-read of the secret (unchanged), no retry with the same credentials
    assert deletion.calls() == [("suppress", "user-a", 401)]
    assert reasons(deletion) == {"dsar-401": "customerio_401"}
    record = deletion.audit("dsar-401")
    assert record is not None
    assert (record.status, record.failure_reason) == ("failed", "customerio_401")


def test_a_401_forces_one_credential_refresh_then_succeeds(deletion: DeletionStack) -> None:
    erase(deletion, "dsar-warm", "user-warm")  # the credentials are cached now
    # The operator rotates: a new credential set in Customer.io and the secret; the old set is deleted.
    deletion.sandbox.add_credentials(ROTATED)
    deletion.secretsmanager.put_secret_value(SecretId=TRACK_SECRET, SecretString=track_json(ROTATED))
    deletion.sandbox.remove_credentials(SANDBOX_CREDENTIALS.site_id)
    deletion.sandbox.clear_requests()

    assert erase(deletion, "dsar-rotated", "user-rot") == {"batchItemFailures": []}
    seen = [(r.operation, r.status, r.site_id) for r in deletion.sandbox.requests()]
    assert seen == [
        ("suppress", 401, None),
        ("suppress", 200, ROTATED.site_id),
        ("delete", 200, ROTATED.site_id),
    ]
    assert deletion.dead_letters() == []


# -- batches ---------------------------------------------------------------------------------------


def test_partial_batch_failure_reports_only_the_transient_records(deletion: DeletionStack) -> None:
    deletion.sandbox.fail_next(times=3, status=503, path="/api/v1/customers/user-flaky/suppress")
    deletion.sandbox.fail_next(status=400, path="/api/v1/customers/user-bad/suppress")
    ids = deletion.send(
        deletion_body("ok-1", "user-ok-1"),
        deletion_body("flaky", "user-flaky"),
        deletion_body("ok-2", "user-ok-2", action="delete"),
        "not json at all",
        deletion_body("bad", "user-bad"),
        deletion_body("ok-3", "user-ok-3", regulation="ccpa"),
    )
    messages = []
    while len(messages) < len(ids):
        messages.extend(deletion.receive())
    response = deletion.invoke(messages)
    assert failures(response) == {ids[1]}
    assert reasons(deletion) == {"not json at all": "invalid_json", "bad": "customerio_400"}
    for request_id in ("ok-1", "ok-2", "ok-3"):
        record = deletion.audit(request_id)
        assert record is not None
        assert record.status == "completed"
    assert deletion.queue_depth() == 1


def test_a_batch_is_processed_concurrently(deletion: DeletionStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMERIO_TIMEOUT_SECONDS", "5")
    deletion.sandbox.configure(latency=0.2)
    deletion.send(*(deletion_body(f"conc-{i}", f"user-c{i}") for i in range(10)))
    messages = []
    while len(messages) < 10:
        messages.extend(deletion.receive())
    started = time.monotonic()
    assert deletion.invoke(messages) == {"batchItemFailures": []}
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"20 calls of 0.2 s took {elapsed:.1f} s: not concurrent"  # sequential: 4 s+


def test_the_batch_stays_under_its_share_of_the_rate_budget(
    deletion: DeletionStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTOMERIO_RATE_LIMIT_RPS", "20")
    monkeypatch.setenv("DELETION_MAX_CONCURRENCY", "2")  # 10 requests/s for this invocation
    deletion.sandbox.configure(rate_limit_rps=12, rate_limit_burst=2)
    deletion.send(*(deletion_body(f"rate-{i}", f"user-r{i}") for i in range(10)))
    messages = []
    while len(messages) < 10:
        messages.extend(deletion.receive())
    started = time.monotonic()
    assert deletion.invoke(messages) == {"batchItemFailures": []}
    assert time.monotonic() - started >= 1.8  # 20 calls at 10/s
    assert [s for _, _, s in deletion.calls() if s == 429] == []


# -- duplicates and crashes ------------------------------------------------------------------------


def test_duplicate_in_one_batch_calls_customerio_once_per_step(deletion: DeletionStack) -> None:
    deletion.sandbox.configure(latency=0.1)
    body = deletion_body("dsar-dup", "user-dup")
    ids = deletion.send(body, body, deletion_body("dsar-other", "user-other"))
    messages = []
    while len(messages) < 3:
        messages.extend(deletion.receive())
    response = deletion.invoke(messages)
    assert failures(response) <= set(ids[:2])  # a concurrent duplicate waits for redelivery
    deletion.drain()
    assert deletion.calls("user-dup") == [("suppress", "user-dup", 200), ("delete", "user-dup", 200)]
    assert deletion.dead_letters() == []


def test_duplicate_across_batches_calls_nothing_the_second_time(deletion: DeletionStack) -> None:
    body = deletion_body("dsar-again", "user-again")
    deletion.send(body)
    assert deletion.deliver() == {"batchItemFailures": []}
    deletion.send(body)  # delivered again later (at-least-once delivery, or resubmitted)
    assert deletion.deliver() == {"batchItemFailures": []}
    assert len(deletion.calls()) == 2
    record = deletion.audit("dsar-again")
    assert record is not None
    assert (record.status, record.attempts) == ("completed", 1)


def test_resume_after_a_crash_between_suppress_and_delete(deletion: DeletionStack) -> None:
    # What a crashed invocation leaves: suppress done and recorded, its lease run out.
    request = DeletionRequest.model_validate_json(deletion_body("dsar-crash", "user-crash"))
    store = AuditStore(AUDIT_TABLE, client=deletion.dynamodb)
    then = datetime.now(UTC) - timedelta(minutes=20)
    record = store.begin(request, then, subject_hash("id", "user-crash", PEPPER), 60)
    store.mark_step("dsar-crash", "suppress", 200, then, lease_token=record.lease_token)

    deletion.sandbox.add_person("user-crash")
    deletion.send(request.model_dump_json())
    assert deletion.deliver() == {"batchItemFailures": []}
    assert deletion.calls() == [("delete", "user-crash", 200)]
    final = deletion.audit("dsar-crash")
    assert final is not None
    assert (final.status, final.attempts) == ("completed", 2)


def test_a_crash_inside_a_step_leaves_the_message_for_redelivery(
    deletion: DeletionStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    (message_id,) = deletion.send(deletion_body("dsar-bug", "user-bug"))
    client = deletion.app.processor().client
    original = client.delete

    def crash(_identifier: str) -> Any:
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(client, "delete", crash)
    assert failures(deletion.deliver()) == {message_id}
    monkeypatch.setattr(client, "delete", original)
    deletion.expire_failures()
    assert deletion.deliver() == {"batchItemFailures": []}
    assert [op for op, _, _ in deletion.calls()] == ["suppress", "delete"]


def test_no_step_starts_without_time_left(deletion: DeletionStack) -> None:
    deletion.context = FakeLambdaContext(function_name="gdpr-deletion", remaining_ms=1000)
    (message_id,) = deletion.send(deletion_body("dsar-late", "user-late"))
    assert failures(deletion.deliver()) == {message_id}
    assert deletion.calls() == []
    record = deletion.audit("dsar-late")
    assert record is not None
    assert (record.last_error, record.lease_token) == ("out_of_time", None)


# -- identifiers -----------------------------------------------------------------------------------


def test_hostile_identifiers_are_deleted_exactly(deletion: DeletionStack) -> None:
    for identifier in HOSTILE_IDENTIFIERS:
        deletion.sandbox.add_person(identifier, {"plan": "pro"})
    deletion.sandbox.add_person("a", {"bystander": True})
    deletion.sandbox.add_person("accounts", {"bystander": True})
    bodies = [deletion_body(f"hostile-{i}", ident) for i, ident in enumerate(HOSTILE_IDENTIFIERS)]
    deletion.send(*bodies)
    deletion.drain()
    assert all(r == {"batchItemFailures": []} for r in deletion.responses)
    assert set(deletion.sandbox.people()) == {"a", "accounts"}
    assert deletion.sandbox.suppressed() == set(HOSTILE_IDENTIFIERS)
    assert {r.operation for r in deletion.sandbox.requests()} == {"suppress", "delete"}
    for request in deletion.sandbox.requests():
        assert request.raw_path.count("/") == (5 if request.operation == "suppress" else 4)


def test_audit_records_and_logs_hold_no_identifier(
    deletion: DeletionStack, captured_logs: LogCapture
) -> None:
    deletion.sandbox.fail_next(status=403, path="/api/v1/customers/first%2Blast%40example.com/suppress")
    deletion.sandbox.fail_next(times=3, status=503, method="DELETE", path="/api/v1/customers/a%2Fb")
    deletion.send(*(deletion_body(f"pii-{i}", ident) for i, ident in enumerate(HOSTILE_IDENTIFIERS)))
    deletion.drain()
    items = deletion.audit_items()
    assert len(items) == len(HOSTILE_IDENTIFIERS)
    strings = _strings(items)
    for identifier in HOSTILE_IDENTIFIERS:
        assert not [s for s in strings if identifier in s or identifier.strip() in s]
    statuses = {AuditRecord.from_item(item).request_id: AuditRecord.from_item(item).status for item in items}
    assert statuses.pop("pii-4") == "failed"
    assert set(statuses.values()) == {"completed"}
    for item in items:
        record = AuditRecord.from_item(item)
        assert record.subject_hash in {
            subject_hash(t, ident, PEPPER) for ident in HOSTILE_IDENTIFIERS for t in ("id", "email", "cio_id")
        }
        assert record.expires_at > time.time() + 730 * 86400
    text = captured_logs.text
    assert "pii-0" in text  # request ids are logged ...
    for identifier in HOSTILE_IDENTIFIERS:
        if len(identifier.strip()) >= 4:
            assert identifier.strip() not in text  # ... identifiers never


def _strings(value: Any) -> list[str]:
    """Every string anywhere in a DynamoDB item list (attribute names included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_metrics_are_emitted_with_their_template_names(
    deletion: DeletionStack, capsys: pytest.CaptureFixture[str]
) -> None:
    deletion.sandbox.fail_next(times=3, status=503, path="/api/v1/customers/user-m2/suppress")
    deletion.send(
        deletion_body("m-1", "user-m1", requested_at="2026-01-01T00:00:00Z"),  # long past its deadline
        deletion_body("m-2", "user-m2"),
        "{broken",
    )
    messages = []
    while len(messages) < 3:
        messages.extend(deletion.receive())
    capsys.readouterr()
    deletion.invoke(messages)
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    values: dict[str, list[float]] = {}
    for blob in emitted:
        for definition in blob["_aws"]["CloudWatchMetrics"]:
            for metric in definition["Metrics"]:
                value = blob[metric["Name"]]
                values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    totals = {name: sum(v) for name, v in values.items()}
    assert totals["DeletionCompleted"] == 1.0
    assert totals["DeletionRetried"] == 1.0
    assert totals["DeletionFailedPermanently"] == 1.0
    assert totals["DeletionSentToDlq"] == 1.0
    assert totals["DeadlineAtRisk"] == 1.0
    assert values["DeletionAge"][0] > 300 * 86400
    sensitive("user-m1", "user-m2")
