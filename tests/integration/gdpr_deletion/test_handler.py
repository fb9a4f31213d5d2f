"""The deletion handler end to end: moto SQS/DynamoDB/Secrets Manager/EventBridge and the sandbox
over HTTP, Track API v2 batches."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import AuditRecord, subject_hash
from cio_security.deletion.request import DeletionRequest
from fixtures.aws import REGION
from fixtures.functions import FakeLambdaContext
from fixtures.logs import LogCapture, sensitive
from fixtures.metrics import metric_totals
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

BATCH = "/api/v2/batch"


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


def deliver_all(stack: DeletionStack, count: int) -> dict[str, Any]:
    """Receive ``count`` messages (SQS hands out at most 10 per call) and invoke the handler once."""
    messages: list[dict[str, Any]] = []
    while len(messages) < count:
        messages.extend(stack.receive())
    return stack.invoke(messages)


# -- both actions ---------------------------------------------------------------------------------


def test_erase_is_one_suppress_in_a_v2_batch_and_is_audited(deletion: DeletionStack) -> None:
    deletion.sandbox.add_person("user-1", {"plan": "pro", "email": "u1@example.org"})
    deletion.send(deletion_body("dsar-1", "user-1", action="erase", regulation="gdpr"))
    response = deletion.deliver()
    assert response == {"batchItemFailures": []}
    assert deletion.calls() == [("suppress", "user-1", 200)]
    assert deletion.batches() == [(200, 1)]
    assert "user-1" not in deletion.sandbox.people()
    assert {"user-1", "u1@example.org"} <= deletion.sandbox.suppressed()  # suppress blocks id and email
    assert deletion.queue_depth() == 0
    record = deletion.audit("dsar-1")
    assert record is not None
    assert (record.status, record.verification, record.attempts) == ("completed", "not_verified", 1)
    step = record.steps["suppress"]
    assert (step.status, step.status_code) == ("done", 200)
    (sent,) = deletion.sandbox.requests()
    assert step.customerio_request_id == sent.request_id
    assert set(record.steps) == {"suppress"}
    assert record.subject_hash == subject_hash("id", "user-1", PEPPER)
    assert (record.requested_at, record.deadline) == ("2026-11-28T10:00:00.000Z", "2026-12-28T10:00:00.000Z")
    assert record.received_at <= (record.submitted_at or "") <= (record.completed_at or "")
    assert record.lease_until is None
    sensitive("u1@example.org")


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


def test_a_whole_batch_is_one_track_request(deletion: DeletionStack) -> None:
    identifiers = [f"user-b{i}" for i in range(10)] + ["b@example.org", "cio_0000ab12"]
    for identifier in identifiers:
        deletion.sandbox.add_person(identifier)
    deletion.send(*(deletion_body(f"b-{i}", ident) for i, ident in enumerate(identifiers)))
    assert deliver_all(deletion, len(identifiers)) == {"batchItemFailures": []}
    assert deletion.batches() == [(200, len(identifiers))]
    assert deletion.sandbox.people() == {}
    assert {deletion.audit(f"b-{i}").status for i in range(len(identifiers))} == {"completed"}  # type: ignore[union-attr]
    sensitive("b@example.org", "0000ab12")


def test_a_stated_identifier_type_is_honoured(deletion: DeletionStack) -> None:
    # A workspace whose ids look like emails: the stated type reaches Customer.io as given.
    deletion.sandbox.add_person("cio_0000cafe", {"id": "shop-7@example.org"})
    deletion.sandbox.add_person("shop-7@example.org")  # someone else, whose email it is
    deletion.send(deletion_body("typed", "shop-7@example.org", identifier_type="id"))
    assert deletion.deliver() == {"batchItemFailures": []}
    (request,) = deletion.sandbox.requests()
    assert request.body == {
        "batch": [{"type": "person", "action": "suppress", "identifiers": {"id": "shop-7@example.org"}}]
    }
    assert "cio_0000cafe" not in deletion.sandbox.people()
    assert "shop-7@example.org" in deletion.sandbox.people()  # the email's owner is untouched
    sensitive("shop-7@example.org", "0000cafe")


def test_an_id_over_150_bytes_is_a_schema_error_not_a_track_failure(deletion: DeletionStack) -> None:
    deletion.send(deletion_body("too-long", "x" * 151))
    assert deletion.deliver() == {"batchItemFailures": []}
    assert deletion.calls() == []
    (dead,) = deletion.dead_letters()
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "schema_error"
    assert deletion.audit("too-long") is None


def test_a_404_dead_letters_every_request_of_the_batch_as_a_wrong_url(
    deletion: DeletionStack, capsys: pytest.CaptureFixture[str]
) -> None:
    deletion.sandbox.fail_next(status=404, operation="batch")  # a wrong base URL or a proxy
    deletion.send(
        deletion_body("dsar-404", "user-404", action="delete"), deletion_body("dsar-404b", "user-404b")
    )
    capsys.readouterr()
    assert deliver_all(deletion, 2) == {"batchItemFailures": []}
    for request_id in ("dsar-404", "dsar-404b"):
        record = deletion.audit(request_id)
        assert record is not None
        assert (record.status, record.failure_reason, record.submitted_at) == (
            "dead_lettered",  # the audit record says where the request went
            "customerio_404",
            None,
        )
    assert reasons(deletion) == {"dsar-404": "customerio_404", "dsar-404b": "customerio_404"}
    assert metric_totals(capsys.readouterr().out)["DeletionWrongUrl"] == 2.0  # alarmed


# -- 207: per-operation outcomes ------------------------------------------------------------------


def test_a_207_dead_letters_only_the_refused_operation(deletion: DeletionStack) -> None:
    for identifier in ("user-ok-1", "user-bad", "user-ok-2"):
        deletion.sandbox.add_person(identifier)
    deletion.sandbox.fail_operations(identifier="user-bad", reason="invalid_identifiers")
    deletion.send(
        deletion_body("ok-1", "user-ok-1"),
        deletion_body("bad", "user-bad"),
        deletion_body("ok-2", "user-ok-2", action="delete"),
    )
    assert deliver_all(deletion, 3) == {"batchItemFailures": []}
    assert deletion.batches() == [(207, 3)]
    assert reasons(deletion) == {"bad": "customerio_rejected_invalid_identifiers"}
    assert set(deletion.sandbox.people()) == {"user-bad"}
    bad = deletion.audit("bad")
    assert bad is not None
    assert (bad.status, bad.steps["suppress"].status, bad.steps["suppress"].status_code) == (
        "dead_lettered",
        "failed",
        207,
    )
    for request_id in ("ok-1", "ok-2"):
        record = deletion.audit(request_id)
        assert record is not None
        assert (record.status, record.steps[next(iter(record.steps))].status_code) == ("completed", 207)


def test_a_one_off_whole_request_400_is_split_and_every_request_completes(deletion: DeletionStack) -> None:
    deletion.sandbox.fail_next(status=400, operation="batch")
    deletion.send(*(deletion_body(f"split-{i}", f"user-s{i}") for i in range(4)))
    assert deliver_all(deletion, 4) == {"batchItemFailures": []}
    assert deletion.batches() == [(400, 4), (200, 2), (200, 2)]
    assert deletion.dead_letters() == []


def test_a_400_for_a_single_request_is_permanent(deletion: DeletionStack) -> None:
    deletion.sandbox.fail_next(status=400, operation="batch")
    deletion.send(deletion_body("dsar-400", "user-p"))
    assert deletion.deliver() == {"batchItemFailures": []}
    assert deletion.batches() == [(400, 1)]
    assert reasons(deletion) == {"dsar-400": "customerio_400"}


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
def test_a_transient_failure_is_a_batch_item_failure_for_every_request_in_the_call(
    deletion: DeletionStack, fault: dict[str, Any], reason: str
) -> None:
    deletion.sandbox.fail_next(times=3, path=BATCH, **fault)  # every attempt of the client
    ids = deletion.send(deletion_body("dsar-t", "user-t"), deletion_body("dsar-t2", "user-t2"))
    response = deliver_all(deletion, 2)
    assert failures(response) == set(ids)
    assert len(deletion.batches()) == 3
    assert deletion.dead_letters() == []
    record = deletion.audit("dsar-t")
    assert record is not None
    assert (record.status, record.last_error, record.attempts) == ("in_progress", reason, 1)
    assert record.steps["suppress"].status == "pending"
    assert record.lease_token is None

    # The visibility timeout passes and SQS redelivers: the requests complete.
    deletion.expire_failures()
    assert deliver_all(deletion, 2) == {"batchItemFailures": []}
    final = deletion.audit("dsar-t")
    assert final is not None
    assert (final.status, final.attempts) == ("completed", 2)


def test_random_operation_refusals_and_whole_batch_failures_lose_nothing(deletion: DeletionStack) -> None:
    deletion.sandbox.configure(faults={"operation_error_rate": 0.3, "error_rate": 0.3, "seed": 7})
    identifiers = {f"rand-{i}": f"user-rand-{i}" for i in range(20)}
    deletion.send(*(deletion_body(rid, ident) for rid, ident in identifiers.items()))
    deletion.drain()
    dead = reasons(deletion)
    assert dead and set(dead.values()) == {"customerio_rejected_injected"}
    for request_id in identifiers:
        record = deletion.audit(request_id)
        assert record is not None
        assert (record.status == "completed") != (request_id in dead)


def test_a_retry_after_beyond_the_cap_is_not_waited_for(deletion: DeletionStack) -> None:
    deletion.sandbox.fail_next(status=429, path=BATCH, headers={"Retry-After": "3600"})
    (message_id,) = deletion.send(deletion_body("dsar-slow", "user-slow"))
    started = time.monotonic()
    assert failures(deletion.deliver()) == {message_id}
    assert time.monotonic() - started < 5
    assert len(deletion.batches()) == 1


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
    # Dead-lettered as retries_exhausted: the audit record says so (issue #17), not in_progress.
    assert (record.status, record.attempts) == ("dead_lettered", MAX_RECEIVE_COUNT)
    assert record.failure_reason == "retries_exhausted"
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
        (deletion_body("dsar-phone", "4155552671", identifier_type="phone"), "schema_error", "dsar-phone"),
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
    # The fields at fault when the parser names them (names only: no value of the body).
    assert "user-s" not in attributes.pop("fields", "")
    expected = {"reason": reason, "source_message_id": message_id, "receive_count": "1"}
    if request_id:
        expected["request_id"] = request_id
    assert attributes == expected
    assert deletion.calls() == []
    assert deletion.audit_items() == []


def test_a_403_dead_letters_every_request_of_the_batch(deletion: DeletionStack) -> None:
    deletion.sandbox.fail_next(status=403, path=BATCH)
    deletion.send(deletion_body("dsar-403", "user-p"), deletion_body("dsar-403b", "user-q"))
    assert deliver_all(deletion, 2) == {"batchItemFailures": []}
    assert len(deletion.batches()) == 1  # no retry for a permanent failure
    assert reasons(deletion) == {"dsar-403": "customerio_403", "dsar-403b": "customerio_403"}
    record = deletion.audit("dsar-403")
    assert record is not None
    assert (record.status, record.failure_reason) == ("dead_lettered", "customerio_403")
    assert record.steps["suppress"].status_code == 403


def test_401_even_after_a_credential_refresh_goes_to_the_dlq(deletion: DeletionStack) -> None:
    deletion.sandbox.remove_credentials(SANDBOX_CREDENTIALS.site_id)  # revoked in Customer.io
    deletion.send(deletion_body("dsar-401", "user-a"))
    assert deletion.deliver() == {"batchItemFailures": []}
    # one attempt, one re-read of the secret (unchanged), no retry with the same credentials
    assert deletion.calls() == [("suppress", "user-a", 401)]
    assert reasons(deletion) == {"dsar-401": "customerio_401"}
    record = deletion.audit("dsar-401")
    assert record is not None
    assert (record.status, record.failure_reason) == ("dead_lettered", "customerio_401")


def test_a_401_forces_one_credential_refresh_then_succeeds(deletion: DeletionStack) -> None:
    erase(deletion, "dsar-warm", "user-warm")  # the credentials are cached now
    # The operator rotates: a new credential set in Customer.io and the secret; the old set is deleted.
    deletion.sandbox.add_credentials(ROTATED)
    deletion.secretsmanager.put_secret_value(SecretId=TRACK_SECRET, SecretString=track_json(ROTATED))
    deletion.sandbox.remove_credentials(SANDBOX_CREDENTIALS.site_id)
    deletion.sandbox.clear_requests()

    assert erase(deletion, "dsar-rotated", "user-rot") == {"batchItemFailures": []}
    seen = [(r.operation, r.status, r.site_id) for r in deletion.sandbox.requests()]
    assert seen == [("batch", 401, None), ("batch", 200, ROTATED.site_id)]
    assert deletion.dead_letters() == []


# -- batches and the rate budget -------------------------------------------------------------------


def test_a_mixed_batch_settles_each_message_on_its_own(deletion: DeletionStack) -> None:
    deletion.sandbox.fail_operations(identifier="user-bad", reason="invalid_identifiers")
    ids = deletion.send(
        deletion_body("ok-1", "user-ok-1"),
        deletion_body("ok-2", "user-ok-2", action="delete"),
        "not json at all",
        deletion_body("bad", "user-bad"),
        deletion_body("ok-3", "user-ok-3", regulation="ccpa"),
    )
    response = deliver_all(deletion, len(ids))
    assert response == {"batchItemFailures": []}
    assert reasons(deletion) == {
        "not json at all": "invalid_json",
        "bad": "customerio_rejected_invalid_identifiers",
    }
    for request_id in ("ok-1", "ok-2", "ok-3"):
        record = deletion.audit(request_id)
        assert record is not None
        assert record.status == "completed"
    assert deletion.queue_depth() == 0


def test_every_track_request_takes_a_token_of_the_invocations_budget(
    deletion: DeletionStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTOMERIO_RATE_LIMIT_RPS", "4")
    monkeypatch.setenv("DELETION_MAX_CONCURRENCY", "2")  # 2 requests/s for this invocation
    deletion.sandbox.configure(rate_limit_rps=2.5, rate_limit_burst=1)
    deletion.sandbox.fail_next(status=400, operation="batch")  # 1 refused + 2 halves: 3 requests
    deletion.send(*(deletion_body(f"rate-{i}", f"user-r{i}") for i in range(4)))
    started = time.monotonic()
    assert deliver_all(deletion, 4) == {"batchItemFailures": []}
    assert time.monotonic() - started >= 0.9  # 3 requests at 2/s, the first one at once
    assert [status for status, _ in deletion.batches()] == [400, 200, 200]


# -- duplicates and crashes ------------------------------------------------------------------------


def test_duplicate_in_one_batch_calls_customerio_once(deletion: DeletionStack) -> None:
    body = deletion_body("dsar-dup", "user-dup")
    deletion.send(body, body, deletion_body("dsar-other", "user-other"))
    assert deliver_all(deletion, 3) == {"batchItemFailures": []}
    assert deletion.calls("user-dup") == [("suppress", "user-dup", 200)]
    assert deletion.dead_letters() == []


def test_duplicate_across_batches_calls_nothing_the_second_time(deletion: DeletionStack) -> None:
    body = deletion_body("dsar-again", "user-again")
    deletion.send(body)
    assert deletion.deliver() == {"batchItemFailures": []}
    deletion.send(body)  # delivered again later (at-least-once delivery, or resubmitted)
    assert deletion.deliver() == {"batchItemFailures": []}
    assert len(deletion.calls()) == 1
    record = deletion.audit("dsar-again")
    assert record is not None
    assert (record.status, record.attempts) == ("completed", 1)


def test_resume_of_a_pre_v2_erase_whose_suppress_was_done(deletion: DeletionStack) -> None:
    # What a crashed Track v1 invocation left: suppress done and recorded, delete pending, the lease
    # run out. Suppress already deleted the person: the request completes without any call.
    request = DeletionRequest.model_validate_json(deletion_body("dsar-crash", "user-crash"))
    store = AuditStore(AUDIT_TABLE, client=deletion.dynamodb)
    then = datetime.now(UTC) - timedelta(minutes=20)
    record = store.begin(request, then, subject_hash("id", "user-crash", PEPPER), 60)
    store.record_transient_failure(
        "dsar-crash", "delete", 503, "customerio_503", then, lease_token=record.lease_token
    )
    again = store.begin(request, then, subject_hash("id", "user-crash", PEPPER), 60)
    store.mark_step("dsar-crash", "suppress", 200, then, lease_token=again.lease_token)

    deletion.send(request.model_dump_json())
    assert deletion.deliver() == {"batchItemFailures": []}
    assert deletion.calls() == []
    final = deletion.audit("dsar-crash")
    assert final is not None
    assert (final.status, final.attempts) == ("completed", 3)


def test_a_crash_inside_the_call_leaves_the_messages_for_redelivery(
    deletion: DeletionStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    (message_id,) = deletion.send(deletion_body("dsar-bug", "user-bug"))
    client = deletion.app.processor().routes.client("default")
    original = client.batch

    def crash(_operations: Any) -> Any:
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(client, "batch", crash)
    assert failures(deletion.deliver()) == {message_id}
    monkeypatch.setattr(client, "batch", original)
    deletion.expire_failures()
    assert deletion.deliver() == {"batchItemFailures": []}
    assert [op for op, _, _ in deletion.calls()] == ["suppress"]


def test_no_call_starts_without_time_left(deletion: DeletionStack) -> None:
    deletion.context = FakeLambdaContext(function_name="gdpr-deletion", remaining_ms=1000)
    (message_id,) = deletion.send(deletion_body("dsar-late", "user-late"))
    assert failures(deletion.deliver()) == {message_id}
    assert deletion.calls() == []
    record = deletion.audit("dsar-late")
    assert record is not None
    assert (record.last_error, record.lease_token) == ("out_of_time", None)


# -- identifiers -----------------------------------------------------------------------------------


def test_hostile_identifiers_are_erased_exactly(deletion: DeletionStack) -> None:
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
    assert {r.operation for r in deletion.sandbox.requests()} == {"batch"}
    assert {r.raw_path for r in deletion.sandbox.requests()} == {BATCH}  # identifiers never in a path


def test_audit_records_and_logs_hold_no_identifier(
    deletion: DeletionStack, captured_logs: LogCapture
) -> None:
    deletion.sandbox.fail_operations(identifier="first+last@example.com", reason="invalid_identifiers")
    deletion.send(*(deletion_body(f"pii-{i}", ident) for i, ident in enumerate(HOSTILE_IDENTIFIERS)))
    deletion.drain()
    items = deletion.audit_items()
    assert len(items) == len(HOSTILE_IDENTIFIERS)
    strings = _strings(items)
    for identifier in HOSTILE_IDENTIFIERS:
        assert not [s for s in strings if identifier in s or identifier.strip() in s]
    statuses = {AuditRecord.from_item(item).request_id: AuditRecord.from_item(item).status for item in items}
    assert statuses.pop("pii-4") == "dead_lettered"
    assert set(statuses.values()) == {"completed"}
    for item in items:
        record = AuditRecord.from_item(item)
        assert record.subject_hash in {
            subject_hash(t, ident, PEPPER) for ident in HOSTILE_IDENTIFIERS for t in ("id", "email", "cio_id")
        }
        assert record.expires_at > time.time() + 730 * 86400
    text = captured_logs.text
    assert "pii-4" in text  # request ids are logged ...
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


# -- metrics and events ----------------------------------------------------------------------------


def test_metrics_are_emitted_with_their_template_names(
    deletion: DeletionStack, capsys: pytest.CaptureFixture[str]
) -> None:
    deletion.sandbox.fail_operations(identifier="user-m2", reason="invalid_identifiers")
    deletion.send(
        deletion_body("m-1", "user-m1", requested_at="2026-01-01T00:00:00Z"),  # long past its deadline
        deletion_body("m-2", "user-m2"),
        "{broken",
    )
    capsys.readouterr()
    deliver_all(deletion, 3)
    totals = metric_totals(capsys.readouterr().out)
    assert totals["DeletionCompleted"] == 1.0
    assert totals["DeletionFailedPermanently"] == 2.0
    assert totals["DeletionSentToDlq"] == 2.0
    assert totals["DeadlineAtRisk"] == 1.0
    assert totals["DeletionAge"] > 300 * 86400
    assert "DeletionRetried" not in totals
    sensitive("user-m1", "user-m2")


@pytest.fixture
def erasure_events(deletion: DeletionStack, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The stack's bus with a rule sending ``cio-security.deletion`` events to a queue; yields a
    function returning the events received so far."""
    events = boto3.client("events", region_name=REGION)
    bus = events.create_event_bus(Name="cio-security-customerio")["EventBusArn"]
    sink = deletion.sqs.create_queue(QueueName="erasure-events")["QueueUrl"]
    sink_arn = deletion.sqs.get_queue_attributes(QueueUrl=sink, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="erasures", EventBusName=bus, EventPattern=json.dumps({"source": ["cio-security.deletion"]})
    )
    events.put_targets(Rule="erasures", EventBusName=bus, Targets=[{"Id": "sink", "Arn": sink_arn}])
    monkeypatch.setenv("EVENT_BUS_NAME", "cio-security-customerio")
    deletion.app.settings.cache_clear()
    deletion.app.processor.cache_clear()

    def received() -> list[dict[str, Any]]:
        found = []
        while got := deletion.sqs.receive_message(QueueUrl=sink, MaxNumberOfMessages=10).get("Messages", []):
            found.extend(json.loads(m["Body"]) for m in got)
        return found

    return received


def test_completion_and_failure_events_reach_the_bus(deletion: DeletionStack, erasure_events: Any) -> None:
    deletion.sandbox.fail_operations(identifier="user-ev-bad", reason="invalid_identifiers")
    deletion.send(
        deletion_body("ev-ok", "user-ev-ok", regulation="ccpa"), deletion_body("ev-bad", "user-ev-bad")
    )
    assert deliver_all(deletion, 2) == {"batchItemFailures": []}
    received = {e["detail"]["request_id"]: e for e in erasure_events()}
    assert {(e["source"], e["detail-type"]) for e in received.values()} == {
        ("cio-security.deletion", "ErasureCompleted"),
        ("cio-security.deletion", "ErasureFailed"),
    }
    ok = received["ev-ok"]["detail"]
    assert ok.pop("workspaces") == ["default"]
    assert ok.pop("workspace_results")["default"]["status"] == "completed"
    assert ok | {"submitted_at": None, "completed_at": None} == {
        "request_id": "ev-ok",
        "status": "completed",
        "verification": "not_verified",
        "action": "erase",
        "regulation": "ccpa",
        "requested_at": "2026-11-28T10:00:00.000Z",
        "submitted_at": None,
        "completed_at": None,
        "deadline": "2027-01-12T10:00:00.000Z",
        "deadline_met": True,
    }
    bad = received["ev-bad"]["detail"]
    assert (bad["status"], bad["reason"]) == ("dead_lettered", "customerio_rejected_invalid_identifiers")
    assert "failed_at" in bad
    text = json.dumps(list(received.values()))
    assert "user-ev" not in text
    record = deletion.audit("ev-ok")
    assert record is not None
    assert record.subject_hash not in text
    sensitive("user-ev-ok", "user-ev-bad")


def test_a_bus_that_refuses_events_never_changes_an_outcome(
    deletion: DeletionStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    deletion.app.settings.cache_clear()
    deletion.app.processor.cache_clear()
    deletion.send(deletion_body("ev-lost", "user-ev-lost"))
    capsys.readouterr()
    assert deletion.deliver() == {"batchItemFailures": []}
    record = deletion.audit("ev-lost")
    assert record is not None
    assert record.status == "completed"
    assert metric_totals(capsys.readouterr().out)["ErasureEventFailed"] == 1.0
