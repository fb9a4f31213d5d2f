"""Erasure across every Customer.io workspace a company runs (issue #15), through the real deletion
handler: moto for AWS and two sandbox servers, ``prod-us`` (the primary, the ``sandbox`` fixture)
and ``prod-eu`` (its own server in the EU region), each region pointed at its sandbox.

Fan-out and subsets, unknown workspace names, a failure in one workspace (transient: resumed
without calling the workspace already done; permanent: dead-lettered, the audit saying which
workspace failed), the last delivery, per-workspace budgets and records written before workspaces
existed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cio_security.audit import transitions
from cio_security.audit.record import AuditRecord, attribute_value, subject_hash
from cio_security.deletion.request import DeletionRequest
from cio_security.workspaces import workspace_secret_name
from ciosec.sandbox import Sandbox
from fixtures.logs import LogCapture, sensitive
from fixtures.workspaces_sandboxes import (
    EU,
    EU_CREDENTIALS,
    SECRET_PREFIX,
    US,
    create_workspace_secrets,
    eu_sandbox_server,
    workspaces_environment,
)

from .conftest import AUDIT_TABLE, MAX_RECEIVE_COUNT, PEPPER, DeletionStack, deletion_body


@pytest.fixture
def eu_sandbox() -> Iterator[Sandbox]:
    with eu_sandbox_server() as server:
        yield server


@pytest.fixture
def fanout(deletion: DeletionStack, eu_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> DeletionStack:
    """The deletion stack serving ``prod-us`` (its original secrets, the US sandbox) and
    ``prod-eu`` (its own secrets, the EU sandbox). The processor is built on the first invocation,
    so the environment set here is what it reads."""
    workspaces_environment(monkeypatch, deletion.sandbox, eu_sandbox)
    create_workspace_secrets(deletion.secretsmanager)
    return deletion


def failures(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def batches(sandbox: Sandbox) -> list[tuple[int | None, list[str]]]:
    """(status, identifiers) of every Track v2 batch a sandbox received."""
    return [
        (r.status, [next(iter(op["identifiers"].values())) for op in r.body.get("batch", [])])
        for r in sandbox.requests()
        if r.operation == "batch" and isinstance(r.body, dict)
    ]


def seed(us: Sandbox, eu: Sandbox, *identifiers: str) -> None:
    for identifier in identifiers:
        sensitive(identifier)
        us.add_person(identifier, {"plan": "pro"})
        eu.add_person(identifier, {"plan": "pro"})


def record_of(stack: DeletionStack, request_id: str) -> AuditRecord:
    record = stack.audit(request_id)
    assert record is not None
    return record


def attributes(message: dict[str, Any]) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}


# -- fan-out -------------------------------------------------------------------------------------------


def test_a_request_is_erased_in_every_workspace_with_one_audit_record(
    fanout: DeletionStack, eu_sandbox: Sandbox
) -> None:
    seed(fanout.sandbox, eu_sandbox, "user-both-1", "user-both-2")
    fanout.send(deletion_body("dsar-ws-1", "user-both-1"), deletion_body("dsar-ws-2", "user-both-2"))
    messages = fanout.receive() + fanout.receive()
    assert fanout.invoke(messages) == {"batchItemFailures": []}

    # One v2 batch per workspace carries the whole invocation's requests.
    assert [(s, sorted(ids)) for s, ids in batches(fanout.sandbox)] == [(200, ["user-both-1", "user-both-2"])]
    assert [(s, sorted(ids)) for s, ids in batches(eu_sandbox)] == [(200, ["user-both-1", "user-both-2"])]
    assert fanout.sandbox.people() == {}
    assert eu_sandbox.people(EU_CREDENTIALS.environment_id) == {}
    record = record_of(fanout, "dsar-ws-1")
    assert (record.status, record.verification, record.attempts) == ("completed", "not_verified", 1)
    assert set(record.workspaces) == {US, EU}
    for name in (US, EU):
        state = record.workspaces[name]
        assert (state.status, state.verification, state.status_code, state.attempts) == (
            "completed",
            "not_verified",
            200,
            1,
        )
        assert state.steps["suppress"].status == "done"
        assert state.customerio_request_id
        assert state.submitted_at is not None
    assert record.submitted_at == max(s.submitted_at or "" for s in record.workspaces.values())
    # One record per request, keyed by a hash of the subject, never the identifier.
    assert "user-both-1" not in json.dumps(fanout.audit_items())
    assert record.subject_hash == subject_hash("id", "user-both-1", PEPPER)


def test_a_subset_erases_only_in_the_workspaces_it_names(fanout: DeletionStack, eu_sandbox: Sandbox) -> None:
    seed(fanout.sandbox, eu_sandbox, "user-eu-only")
    fanout.send(deletion_body("dsar-eu-only", "user-eu-only", workspaces=[EU]))
    assert fanout.deliver() == {"batchItemFailures": []}
    assert batches(fanout.sandbox) == []
    assert batches(eu_sandbox) == [(200, ["user-eu-only"])]
    assert "user-eu-only" in fanout.sandbox.people()  # the US workspace was not asked
    record = record_of(fanout, "dsar-eu-only")
    assert (record.status, set(record.workspaces)) == ("completed", {EU})


def test_an_unknown_workspace_is_a_schema_error_and_nothing_is_sent(
    fanout: DeletionStack, eu_sandbox: Sandbox, captured_logs: LogCapture
) -> None:
    seed(fanout.sandbox, eu_sandbox, "user-unknown-ws")
    # A name the pattern admits that is no workspace at all: a phone number, personal data.
    body = deletion_body("dsar-unknown-ws", "user-unknown-ws", workspaces=[EU, "14155550100"])
    (message_id,) = fanout.send(body)
    assert fanout.deliver() == {"batchItemFailures": []}
    assert batches(fanout.sandbox) == batches(eu_sandbox) == []
    assert fanout.audit("dsar-unknown-ws") is None
    (dead,) = fanout.dead_letters()
    assert dead["Body"] == body
    found = attributes(dead)
    assert (found["reason"], found["fields"], found["request_id"]) == (
        "schema_error",
        "workspaces",
        "dsar-unknown-ws",
    )
    assert found["source_message_id"] == message_id
    assert "14155550100" not in json.dumps(found)
    # The unknown names come from the producer: the log counts them, never names them.
    assert "14155550100" not in captured_logs.text
    assert '"unknown_workspaces": 1' in captured_logs.text
    assert "user-unknown-ws" not in captured_logs.text


def item_of(stack: DeletionStack, request_id: str) -> str:
    """The audit item exactly as stored."""
    item = stack.dynamodb.get_item(
        TableName=AUDIT_TABLE, Key={"request_id": {"S": request_id}}, ConsistentRead=True
    )["Item"]
    return json.dumps(item, sort_keys=True)


def test_a_finished_subset_resent_with_another_or_no_subset_is_a_conflict_and_erases_nothing(
    fanout: DeletionStack, eu_sandbox: Sandbox
) -> None:
    seed(fanout.sandbox, eu_sandbox, "user-subset-once")
    genuine = deletion_body("dsar-subset-once", "user-subset-once", workspaces=[US])
    fanout.send(genuine)
    assert fanout.deliver() == {"batchItemFailures": []}
    assert record_of(fanout, "dsar-subset-once").status == "completed"
    stored = item_of(fanout, "dsar-subset-once")

    # The same request_id with the EU workspace, then with none (every workspace): conflicts.
    fanout.send(
        deletion_body("dsar-subset-once", "user-subset-once", workspaces=[EU]),
        deletion_body("dsar-subset-once", "user-subset-once"),
    )
    assert fanout.deliver() == {"batchItemFailures": []}
    dead = fanout.dead_letters()
    assert [attributes(d)["reason"] for d in dead] == ["request_id_conflict"] * 2
    assert batches(eu_sandbox) == []
    assert "user-subset-once" in eu_sandbox.people(EU_CREDENTIALS.environment_id)  # not this request's
    assert item_of(fanout, "dsar-subset-once") == stored
    # The genuine message, redelivered, is still done.
    fanout.send(genuine)
    assert fanout.deliver() == {"batchItemFailures": []}
    assert len(fanout.dead_letters()) == 2  # the two conflicts only
    assert item_of(fanout, "dsar-subset-once") == stored


# -- a failure in one workspace ------------------------------------------------------------------------


def test_a_transient_failure_in_one_workspace_resumes_without_repeating_the_other(
    fanout: DeletionStack, eu_sandbox: Sandbox
) -> None:
    seed(fanout.sandbox, eu_sandbox, "user-resume")
    eu_sandbox.fail_next(times=3, status=503, operation="batch")  # the client's three attempts
    (message_id,) = fanout.send(deletion_body("dsar-resume", "user-resume"))

    assert failures(fanout.deliver()) == {message_id}  # SQS redelivers it
    record = record_of(fanout, "dsar-resume")
    assert record.status == "in_progress"
    assert (record.workspaces[US].status, record.workspaces[EU].status) == ("completed", "pending")
    assert (record.workspaces[EU].last_error, record.workspaces[EU].status_code) == ("customerio_503", 503)
    assert record.last_error == "customerio_503"
    assert record.lease_token is None  # given back: the redelivery is processed at once

    fanout.expire_failures()
    assert fanout.deliver() == {"batchItemFailures": []}
    assert batches(fanout.sandbox) == [(200, ["user-resume"])]  # the US workspace: once, ever
    assert [status for status, _ in batches(eu_sandbox)] == [503, 503, 503, 200]
    final = record_of(fanout, "dsar-resume")
    assert (final.status, final.attempts) == ("completed", 2)
    assert (final.workspaces[US].attempts, final.workspaces[EU].attempts) == (1, 2)
    assert "user-resume" not in eu_sandbox.people(EU_CREDENTIALS.environment_id)


def test_a_permanent_failure_in_one_workspace_is_dead_lettered_and_a_redrive_finishes_it(
    fanout: DeletionStack, eu_sandbox: Sandbox
) -> None:
    seed(fanout.sandbox, eu_sandbox, "user-401")
    eu_secret = workspace_secret_name(SECRET_PREFIX, EU, "track-credentials")
    wrong = EU_CREDENTIALS.model_copy(update={"api_key": "revoked-eu-key-0b1c2d3e4f"})
    sensitive(wrong.api_key)
    fanout.secretsmanager.put_secret_value(
        SecretId=eu_secret,
        SecretString=json.dumps({"site_id": wrong.site_id, "api_key": wrong.api_key, "region": "eu"}),
    )
    body = deletion_body("dsar-401", "user-401")
    fanout.send(body)
    assert fanout.deliver() == {"batchItemFailures": []}

    (dead,) = fanout.dead_letters()
    found = attributes(dead)
    assert (found["reason"], found["workspace"], found["request_id"]) == ("customerio_401", EU, "dsar-401")
    record = record_of(fanout, "dsar-401")
    assert (record.status, record.failure_reason) == ("dead_lettered", "customerio_401")
    assert (record.workspaces[US].status, record.workspaces[EU].status) == ("completed", "failed")
    assert (record.workspaces[EU].failure_reason, record.workspaces[EU].status_code) == (
        "customerio_401",
        401,
    )
    assert "user-401" not in fanout.sandbox.people()

    # The operator fixes the EU credentials and redrives the dead letter: only EU is called.
    fanout.secretsmanager.put_secret_value(
        SecretId=eu_secret,
        SecretString=json.dumps(
            {"site_id": EU_CREDENTIALS.site_id, "api_key": EU_CREDENTIALS.api_key, "region": "eu"}
        ),
    )
    fanout.send(dead["Body"])
    assert fanout.deliver() == {"batchItemFailures": []}
    assert batches(fanout.sandbox) == [(200, ["user-401"])]
    assert [status for status, _ in batches(eu_sandbox)][-1] == 200
    final = record_of(fanout, "dsar-401")
    assert (final.status, final.failure_reason) == ("completed", None)
    assert {s.status for s in final.workspaces.values()} == {"completed"}
    assert "user-401" not in eu_sandbox.people(EU_CREDENTIALS.environment_id)


def test_the_last_delivery_dead_letters_the_workspace_still_failing(
    fanout: DeletionStack, eu_sandbox: Sandbox
) -> None:
    seed(fanout.sandbox, eu_sandbox, "user-doomed")
    eu_sandbox.configure(faults={"error_rate": 1.0, "seed": 3})
    (message_id,) = fanout.send(deletion_body("dsar-ws-doomed", "user-doomed"))
    for _ in range(MAX_RECEIVE_COUNT - 1):
        assert failures(fanout.deliver()) == {message_id}
        fanout.expire_failures()
    assert fanout.deliver() == {"batchItemFailures": []}

    (dead,) = fanout.dead_letters()
    found = attributes(dead)
    assert (found["reason"], found["workspace"]) == ("retries_exhausted", EU)
    assert found["last_error"].startswith("customerio_5")
    assert len(batches(fanout.sandbox)) == 1  # US was done on the first delivery, never again
    record = record_of(fanout, "dsar-ws-doomed")
    assert (record.status, record.failure_reason, record.attempts) == (
        "dead_lettered",
        "retries_exhausted",
        MAX_RECEIVE_COUNT,
    )
    assert (record.workspaces[US].status, record.workspaces[EU].status) == ("completed", "pending")


# -- budgets -------------------------------------------------------------------------------------------


def test_each_workspace_paces_itself_with_its_own_budget(
    fanout: DeletionStack, eu_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # prod-eu's stack-wide budget is 1 request/s: this invocation's share (2 concurrent) is 0.5/s.
    monkeypatch.setenv("CUSTOMERIO_WORKSPACE_RATE_LIMITS", f"{EU}=1")
    seed(fanout.sandbox, eu_sandbox, "user-budget")
    routes = fanout.app.processor().routes
    us_bucket = routes.client(US).rate_limit
    eu_bucket = routes.client(EU).rate_limit
    assert (us_bucket.rate, eu_bucket.rate) == (500.0, 0.5)  # CUSTOMERIO_RATE_LIMIT_RPS=1000 / 2
    eu_bucket.acquire()  # EU's budget spent: its next request waits about 2 s

    started = time.time()  # the sandbox logs wall-clock arrival times
    fanout.send(deletion_body("dsar-budget", "user-budget"))
    assert fanout.deliver() == {"batchItemFailures": []}

    (us_request,) = [r for r in fanout.sandbox.requests() if r.operation == "batch"]
    (eu_request,) = [r for r in eu_sandbox.requests() if r.operation == "batch"]
    assert us_request.received_at - started < 1.0  # not held up by EU's spent budget
    assert eu_request.received_at - started >= 1.5
    assert record_of(fanout, "dsar-budget").status == "completed"


# -- records written before workspaces existed ---------------------------------------------------------


def legacy_item(request_id: str, identifier: str, *, status: str = "in_progress") -> dict[str, Any]:
    """An audit item as the code before workspaces wrote it: no ``workspaces``, no ``revision``."""
    request = DeletionRequest.model_validate(
        {"request_id": request_id, "identifier": identifier, "requested_at": "2026-11-28T10:00:00Z"}
    )
    record = transitions.new_record(
        request,
        request.requested_at,
        subject_hash=subject_hash("id", identifier, PEPPER),
        lease_seconds=0,
        lease_token="old-token",
    )
    data = record.model_dump(mode="json", exclude_none=True, exclude={"workspaces", "revision"})
    data.update(status=status, lease_token="old-token", attempts=1)
    if status == "completed":
        data["steps"] = {"suppress": {"status": "done", "status_code": 200}}
        data.update(completed_at="2026-11-28T10:00:03.000Z", verification="not_verified")
    return {name: attribute_value(value) for name, value in data.items()}


def test_a_record_written_before_workspaces_is_the_primary_workspaces(
    fanout: DeletionStack, eu_sandbox: Sandbox
) -> None:
    seed(fanout.sandbox, eu_sandbox, "user-legacy", "user-legacy-done")
    fanout.dynamodb.put_item(TableName=AUDIT_TABLE, Item=legacy_item("dsar-legacy", "user-legacy"))
    fanout.dynamodb.put_item(
        TableName=AUDIT_TABLE, Item=legacy_item("dsar-legacy-done", "user-legacy-done", status="completed")
    )
    fanout.send(
        deletion_body("dsar-legacy", "user-legacy"), deletion_body("dsar-legacy-done", "user-legacy-done")
    )
    assert fanout.invoke(fanout.receive() + fanout.receive()) == {"batchItemFailures": []}

    # The unfinished one goes on in the primary workspace alone, as it was received.
    assert batches(fanout.sandbox) == [(200, ["user-legacy"])]
    assert batches(eu_sandbox) == []
    record = record_of(fanout, "dsar-legacy")
    assert (record.status, record.attempts, set(record.workspaces)) == ("completed", 2, {US})
    # The finished one stays as it was: nothing called, nothing written.
    done = record_of(fanout, "dsar-legacy-done")
    assert (done.status, done.workspaces, done.revision) == ("completed", {}, 0)
    assert done.workspace(US, primary=US).status == "completed"
