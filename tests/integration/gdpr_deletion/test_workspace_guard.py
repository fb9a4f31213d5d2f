"""The reorder guard, through the real deletion handler: moto for AWS and two sandbox servers,
``prod-us`` (the primary: the stack's original secrets, the US sandbox) and ``prod-eu`` (its own
secrets, the EU sandbox), each credential set labelled with the workspace it was staged for
(``ciosec secrets stage track --workspace NAME`` writes ``"workspace": NAME``).

An operator then reorders ``Workspaces`` (``prod-us,prod-eu`` -> ``prod-eu,prod-us``): the name
``prod-eu`` becomes the primary and reads the original secrets, which hold prod-us's credentials.
Without the guard, prod-eu's erasures would go to prod-us's Customer.io workspace and be recorded
as done. With it, the Track credentials provider refuses credentials labelled for another
workspace (a SecretError): the deletion function's path for an unreadable secret makes the
request a retry (a batch item failure; on the last delivery, dead-lettered ``retries_exhausted``
with ``last_error`` ``configuration``), nothing is sent to Customer.io, and the log names both
workspaces. Restoring the order lets the redelivery (or the redrive) finish the erasure."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from cio_security.workspaces import workspace_secret_name
from ciosec.sandbox import CredentialSet, Sandbox
from fixtures.logs import LogCapture, sensitive
from fixtures.sandbox import SANDBOX_CREDENTIALS
from fixtures.workspaces_sandboxes import (
    EU,
    EU_CREDENTIALS,
    SECRET_PREFIX,
    US,
    WORKSPACES,
    create_workspace_secrets,
    eu_sandbox_server,
    workspaces_environment,
)

from .conftest import MAX_RECEIVE_COUNT, TRACK_SECRET, DeletionStack, deletion_body

REORDERED = f"{EU},{US}"
TRACK_PLACEHOLDER = '{"site_id":"","api_key":"","region":"us"}'


@pytest.fixture
def eu_sandbox() -> Iterator[Sandbox]:
    with eu_sandbox_server() as server:
        yield server


def labelled(credentials: CredentialSet, workspace: str) -> str:
    return json.dumps(
        {
            "site_id": credentials.site_id,
            "api_key": credentials.api_key,
            "region": credentials.region,
            "workspace": workspace,
        }
    )


@pytest.fixture
def labelled_stack(
    deletion: DeletionStack, eu_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> DeletionStack:
    """prod-us and prod-eu, in that order, each Track credential set labelled with its workspace."""
    workspaces_environment(monkeypatch, deletion.sandbox, eu_sandbox)
    create_workspace_secrets(deletion.secretsmanager)
    sm = deletion.secretsmanager
    sm.put_secret_value(SecretId=TRACK_SECRET, SecretString=labelled(SANDBOX_CREDENTIALS, US))
    eu_track = workspace_secret_name(SECRET_PREFIX, EU, "track-credentials")
    sm.put_secret_value(SecretId=eu_track, SecretString=labelled(EU_CREDENTIALS, EU))
    return deletion


def reorder(stack: DeletionStack, monkeypatch: pytest.MonkeyPatch, names: str) -> None:
    """Deploy ``Workspaces`` in another order: the functions' CUSTOMERIO_WORKSPACES changes and
    every execution environment starts anew. CloudFormation generates the new non-primary name's
    secrets with the template's placeholders."""
    monkeypatch.setenv("CUSTOMERIO_WORKSPACES", names)
    additional = names.split(",")[1:]
    for name in additional:
        secret = workspace_secret_name(SECRET_PREFIX, name, "track-credentials")
        with contextlib.suppress(stack.secretsmanager.exceptions.ResourceExistsException):
            stack.secretsmanager.create_secret(Name=secret, SecretString=TRACK_PLACEHOLDER)
    if stack.app.processor.cache_info().currsize:
        stack.app.processor().client.close()
    stack.app.processor.cache_clear()
    stack.app.settings.cache_clear()


def batches(sandbox: Sandbox) -> list[tuple[int | None, list[str]]]:
    return [
        (r.status, [next(iter(op["identifiers"].values())) for op in r.body.get("batch", [])])
        for r in sandbox.requests()
        if r.operation == "batch" and isinstance(r.body, dict)
    ]


def seed(us: Sandbox, eu: Sandbox, identifier: str) -> None:
    sensitive(identifier)
    us.add_person(identifier, {"plan": "pro"})
    eu.add_person(identifier, {"plan": "pro"})


def failures(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def attributes(message: dict[str, Any]) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}


def mismatch_lines(logs: LogCapture) -> list[str]:
    return [
        r.getMessage()
        for r in logs.records
        if f"staged for workspace {US}, but workspace {EU} reads it" in r.getMessage()
    ]


def test_labelled_secrets_in_their_order_erase_as_before(
    labelled_stack: DeletionStack, eu_sandbox: Sandbox
) -> None:
    seed(labelled_stack.sandbox, eu_sandbox, "user-guard-ok")
    labelled_stack.send(deletion_body("dsar-guard-ok", "user-guard-ok"))
    assert labelled_stack.deliver() == {"batchItemFailures": []}
    assert batches(labelled_stack.sandbox) == [(200, ["user-guard-ok"])]
    assert batches(eu_sandbox) == [(200, ["user-guard-ok"])]
    record = labelled_stack.audit("dsar-guard-ok")
    assert record is not None and record.status == "completed"


def test_after_a_reorder_an_erasure_is_retried_and_customerio_gets_no_call(
    labelled_stack: DeletionStack,
    eu_sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    captured_logs: LogCapture,
) -> None:
    stack = labelled_stack
    reorder(stack, monkeypatch, REORDERED)
    seed(stack.sandbox, eu_sandbox, "user-guard-eu")
    # The dangerous case: a request for prod-eu alone, whose name now reads prod-us's credentials
    # (valid ones: without the guard the US sandbox would erase the person in prod-us).
    (message_id,) = stack.send(deletion_body("dsar-guard-eu", "user-guard-eu", workspaces=[EU]))

    assert failures(stack.deliver()) == {message_id}  # retried: SQS redelivers it
    assert batches(stack.sandbox) == batches(eu_sandbox) == []  # nothing sent anywhere
    assert "user-guard-eu" in stack.sandbox.people()
    assert "user-guard-eu" in eu_sandbox.people(EU_CREDENTIALS.environment_id)
    record = stack.audit("dsar-guard-eu")
    assert record is not None
    assert (record.status, set(record.workspaces)) == ("in_progress", {EU})
    assert (record.workspaces[EU].status, record.workspaces[EU].last_error) == ("pending", "configuration")
    assert record.lease_token is None  # given back: a redelivery is processed at once
    assert stack.dead_letters() == []

    # The log names both workspaces and the likely cause, never a credential.
    (line, *_) = mismatch_lines(captured_logs)
    assert TRACK_SECRET in line and "order of the stack's Workspaces parameter may have changed" in line
    assert SANDBOX_CREDENTIALS.api_key not in captured_logs.text

    # Every redelivery is refused the same way until the order is restored; then it finishes.
    stack.expire_failures()
    assert failures(stack.deliver()) == {message_id}
    assert batches(stack.sandbox) == batches(eu_sandbox) == []
    stack.expire_failures()
    reorder(stack, monkeypatch, WORKSPACES)
    assert stack.deliver() == {"batchItemFailures": []}
    assert batches(stack.sandbox) == []  # prod-us was never asked
    assert batches(eu_sandbox) == [(200, ["user-guard-eu"])]
    assert "user-guard-eu" not in eu_sandbox.people(EU_CREDENTIALS.environment_id)
    assert "user-guard-eu" in stack.sandbox.people()
    final = stack.audit("dsar-guard-eu")
    assert final is not None and (final.status, final.workspaces[EU].status) == ("completed", "completed")


def test_after_a_reorder_every_workspace_waits(
    labelled_stack: DeletionStack,
    eu_sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    captured_logs: LogCapture,
) -> None:
    """A request for every workspace: prod-eu (the new primary) is refused on the label, prod-us
    reads its new generated secret, the template's placeholder (not a credential set). Both wait."""
    stack = labelled_stack
    reorder(stack, monkeypatch, REORDERED)
    seed(stack.sandbox, eu_sandbox, "user-guard-all")
    (message_id,) = stack.send(deletion_body("dsar-guard-all", "user-guard-all"))
    assert failures(stack.deliver()) == {message_id}
    assert batches(stack.sandbox) == batches(eu_sandbox) == []
    record = stack.audit("dsar-guard-all")
    assert record is not None
    assert {name: state.status for name, state in record.workspaces.items()} == {US: "pending", EU: "pending"}
    assert mismatch_lines(captured_logs)


def test_the_last_delivery_dead_letters_it_and_a_redrive_after_the_fix_finishes_it(
    labelled_stack: DeletionStack, eu_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The existing path for a secret that cannot be used, pinned: on the queue's last delivery
    the request is dead-lettered (``retries_exhausted``, ``last_error`` ``configuration``), still
    with nothing sent; nothing is lost: a redrive once the order is restored erases the person."""
    stack = labelled_stack
    reorder(stack, monkeypatch, REORDERED)
    seed(stack.sandbox, eu_sandbox, "user-guard-dlq")
    body = deletion_body("dsar-guard-dlq", "user-guard-dlq", workspaces=[EU])
    (message_id,) = stack.send(body)
    for _ in range(MAX_RECEIVE_COUNT - 1):
        assert failures(stack.deliver()) == {message_id}
        stack.expire_failures()
    assert stack.deliver() == {"batchItemFailures": []}
    assert batches(stack.sandbox) == batches(eu_sandbox) == []

    (dead,) = stack.dead_letters()
    found = attributes(dead)
    assert (found["reason"], found["workspace"], found["last_error"]) == (
        "retries_exhausted",
        EU,
        "configuration",
    )
    record = stack.audit("dsar-guard-dlq")
    assert record is not None
    assert (record.status, record.failure_reason, record.attempts) == (
        "dead_lettered",
        "retries_exhausted",
        MAX_RECEIVE_COUNT,
    )
    assert record.workspaces[EU].status == "pending"

    reorder(stack, monkeypatch, WORKSPACES)
    stack.send(dead["Body"])
    assert stack.deliver() == {"batchItemFailures": []}
    assert batches(stack.sandbox) == []
    assert batches(eu_sandbox) == [(200, ["user-guard-dlq"])]
    final = stack.audit("dsar-guard-dlq")
    assert final is not None and final.status == "completed"
