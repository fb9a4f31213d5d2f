"""The set of workspaces a request targets is fixed by its first delivery (DESIGN section 8): a later
message of the request_id with another set is a ``request_id_conflict``, whatever the record's
state (finished included), decided before any lease or write, so the genuine record is never
touched; records written before workspaces existed target the primary, and a message without
``workspaces`` still means them; unknown workspace names (from the producer, so possibly personal
data) are counted, never logged; events name the primary as configured."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from cio_security.audit import transitions
from cio_security.audit.base import AuditBackend
from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import AuditRecord, attribute_value, subject_hash
from cio_security.deletion.dead_letters import DeadLetterQueue
from cio_security.deletion.outcome import QueueMessage
from cio_security.deletion.processor import DeletionProcessor
from cio_security.deletion.request import DeletionRequest
from cio_security.deletion.routing import WorkspaceRoutes
from cio_security.errors import AuthenticationError, SecretError, ServerError
from fixtures.audit import AUDIT_TABLE, MemoryAuditStore
from fixtures.aws import REGION
from fixtures.logs import LogCapture, sensitive

from .conftest import PEPPER, START, FakeClock, FakeTrackClient, RecordingEvents

US, EU = "prod-us", "prod-eu"
IDENTIFIER = "conflict-person-1"
RID = "dsar-conflict-1"


@pytest.fixture(autouse=True)
def _identifier_is_sensitive() -> None:
    sensitive(IDENTIFIER)


def body(request_id: str = RID, **fields: Any) -> str:
    return json.dumps(
        {"request_id": request_id, "identifier": IDENTIFIER, "requested_at": "2026-11-28T10:00:00Z"} | fields
    )


@pytest.fixture
def clients() -> dict[str, FakeTrackClient]:
    return {US: FakeTrackClient(), EU: FakeTrackClient()}


@pytest.fixture
def dlq(aws: None) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs, sqs.create_queue(QueueName="deletion-dlq-conflicts")["QueueUrl"]


def dead_letters(sqs: Any, url: str) -> list[dict[str, Any]]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    messages: list[dict[str, Any]] = got.get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def attributes(letter: dict[str, Any]) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}


def stack(
    store: AuditBackend,
    clients: dict[str, FakeTrackClient],
    clock: FakeClock,
    dlq: tuple[Any, str] | None = None,
    **kwargs: Any,
) -> DeletionProcessor:
    dead = DeadLetterQueue(dlq[1], client=dlq[0]) if dlq else None
    routes = WorkspaceRoutes(list(clients), clients.__getitem__)
    return DeletionProcessor(routes, store, PEPPER, clock=clock, dead_letters=dead, **kwargs)


def raw(store: AuditBackend, request_id: str = RID) -> Any:
    """The record exactly as stored: the DynamoDB item, or the memory store's record."""
    if isinstance(store, AuditStore):
        item = store.client.get_item(
            TableName=AUDIT_TABLE, Key={"request_id": {"S": request_id}}, ConsistentRead=True
        )
        return json.dumps(item["Item"], sort_keys=True)
    record = store.get(request_id)
    assert record is not None
    return record.model_dump_json()


def calls(clients: dict[str, FakeTrackClient]) -> dict[str, int]:
    return {name: len(client.batches) for name, client in clients.items()}


# -- bug 1: a finished request re-sent with another set -------------------------------------------------


def test_a_completed_subset_resent_with_another_or_no_subset_is_a_conflict(
    any_store: AuditBackend, clients: dict[str, FakeTrackClient], dlq: tuple[Any, str]
) -> None:
    clock = FakeClock()
    run = stack(any_store, clients, clock, dlq)
    assert run.process_message(body(workspaces=[US])).kind == "completed"
    before = raw(any_store)
    for other in (body(workspaces=[EU]), body()):
        clock.advance(seconds=10)
        outcome = run.process_message(other, message_id="m-2")
        assert (outcome.kind, outcome.reason, outcome.dead_lettered) == (
            "permanent",
            "request_id_conflict",
            True,
        )
        (letter,) = dead_letters(*dlq)
        assert attributes(letter)["reason"] == "request_id_conflict"
        assert "workspace" not in attributes(letter)
    assert calls(clients) == {US: 1, EU: 0}  # nothing sent for the conflicting copies
    assert raw(any_store) == before
    # The genuine message, redelivered, is still already done.
    assert run.process_message(body(workspaces=[US])).kind == "already_done"


# -- bug 2: a conflicting copy never rewrites the genuine record ----------------------------------------


def failed(run: DeletionProcessor, clients: dict[str, FakeTrackClient], clock: FakeClock) -> None:
    clients[EU].script(AuthenticationError("x", status=401))
    assert run.process_message(body()).kind == "permanent"


def in_progress(run: DeletionProcessor, clients: dict[str, FakeTrackClient], clock: FakeClock) -> None:
    clients[EU].script(ServerError("x", status=503))
    assert run.process_message(body()).kind == "retry"


def held(run: DeletionProcessor, clients: dict[str, FakeTrackClient], clock: FakeClock) -> None:
    """Another invocation holds the lease: its record was just created."""
    req = DeletionRequest.model_validate(json.loads(body()))
    run.audit.begin(req, clock(), run.subject_hash(req), 900, workspaces=(US, EU), primary=US)


def completed(run: DeletionProcessor, clients: dict[str, FakeTrackClient], clock: FakeClock) -> None:
    assert run.process_message(body()).kind == "completed"


def redriven(run: DeletionProcessor, clients: dict[str, FakeTrackClient], clock: FakeClock) -> None:
    clients[EU].script(AuthenticationError("x", status=401))
    run.process_message(body())
    clock.advance(seconds=5)
    assert run.process_message(body()).kind == "completed"


GENUINE: dict[str, tuple[Callable[[DeletionProcessor, dict[str, FakeTrackClient], FakeClock], None], str]] = {
    "failed": (failed, "failed"),
    "dead_lettered": (failed, "dead_lettered"),
    "in_progress": (in_progress, "in_progress"),
    "lease_held": (held, "received"),
    "completed": (completed, "completed"),
    "completed_after_a_redrive": (redriven, "completed"),
}


@pytest.mark.parametrize("state", list(GENUINE))
@pytest.mark.parametrize("copy", [[US], [EU]], ids=["us-only", "eu-only"])
def test_a_conflicting_copy_leaves_the_genuine_record_exactly_as_it_was(
    any_store: AuditBackend,
    clients: dict[str, FakeTrackClient],
    dlq: tuple[Any, str],
    state: str,
    copy: list[str],
) -> None:
    clock = FakeClock()
    make, status = GENUINE[state]
    run = stack(any_store, clients, clock, dlq if state == "dead_lettered" else None)
    make(run, clients, clock)
    dead_letters(*dlq)
    genuine = any_store.get(RID)
    assert genuine is not None and genuine.status == status
    before, sent = raw(any_store), calls(clients)
    clock.advance(seconds=1)
    outcome = stack(any_store, clients, clock, dlq).process_message(body(workspaces=copy), message_id="m-x")
    assert (outcome.kind, outcome.reason, outcome.record) == ("permanent", "request_id_conflict", None)
    assert raw(any_store) == before  # byte for byte: no lease, no attempt, no last_error
    assert calls(clients) == sent
    (letter,) = dead_letters(*dlq)
    assert attributes(letter)["reason"] == "request_id_conflict"


def test_a_conflict_in_the_same_batch_leaves_the_genuine_failed_record_alone(
    any_store: AuditBackend, clients: dict[str, FakeTrackClient]
) -> None:
    clock = FakeClock()
    run = stack(any_store, clients, clock)
    failed(run, clients, clock)
    before = raw(any_store)
    clock.advance(seconds=1)
    outcomes = run.process_batch([QueueMessage(body(workspaces=[US])), QueueMessage(body(workspaces=[EU]))])
    assert [(o.kind, o.reason) for o in outcomes] == [("permanent", "request_id_conflict")] * 2
    assert raw(any_store) == before


# -- records written before workspaces existed ----------------------------------------------------------


def legacy_item(status: str, **fields: Any) -> dict[str, Any]:
    """An audit item as the code before workspaces wrote it: no ``workspaces``, no ``revision``."""
    request = DeletionRequest.model_validate(json.loads(body()))
    record = transitions.new_record(
        request,
        request.requested_at,
        subject_hash=subject_hash("id", IDENTIFIER, PEPPER),
        lease_seconds=0,
        lease_token="old-token",
    )
    data = record.model_dump(mode="json", exclude_none=True, exclude={"workspaces", "revision"})
    data.update(status=status, **fields)
    return {name: attribute_value(value) for name, value in data.items()}


def put_legacy(store: AuditBackend, status: str, **fields: Any) -> None:
    item = legacy_item(status, **fields)
    if isinstance(store, AuditStore):
        store.client.put_item(TableName=AUDIT_TABLE, Item=item)
    else:
        assert isinstance(store, MemoryAuditStore)
        store._create_record(AuditRecord.from_item(item))


@pytest.mark.parametrize("status", ["in_progress", "dead_lettered", "failed"])
def test_an_old_single_workspace_record_redriven_after_a_workspace_was_added_goes_on_in_the_primary(
    any_store: AuditBackend, clients: dict[str, FakeTrackClient], status: str
) -> None:
    put_legacy(any_store, status, failure_reason="customerio_401" if status != "in_progress" else None)
    outcome = stack(any_store, clients, FakeClock()).process_message(body())
    assert outcome.kind == "completed"
    assert calls(clients) == {US: 1, EU: 0}
    record = any_store.get(RID)
    assert record is not None and set(record.workspaces) == {US}


def test_an_old_finished_record_is_already_done_unless_another_set_is_named(
    any_store: AuditBackend, clients: dict[str, FakeTrackClient]
) -> None:
    put_legacy(
        any_store,
        "completed",
        steps={"suppress": {"status": "done", "status_code": 200}},
        completed_at="2026-11-28T10:00:03.000Z",
        verification="not_verified",
    )
    before = raw(any_store)
    run = stack(any_store, clients, FakeClock())
    assert run.process_message(body()).kind == "already_done"
    assert run.process_message(body(workspaces=[US])).kind == "already_done"
    for other in ([EU], [US, EU]):
        outcome = run.process_message(body(workspaces=other))
        assert (outcome.kind, outcome.reason) == ("permanent", "request_id_conflict")
    assert calls(clients) == {US: 0, EU: 0}
    assert raw(any_store) == before


def test_a_request_that_named_no_workspaces_is_redriven_after_a_workspace_was_added(
    any_store: AuditBackend, clients: dict[str, FakeTrackClient]
) -> None:
    # Dead-lettered on a one-workspace stack (its message named no workspaces), redriven after EU
    # was added: it carries on with the set it started with, never a conflict.
    one = {US: clients[US]}
    clients[US].script(AuthenticationError("x", status=401))
    first = stack(any_store, one, FakeClock()).process_message(body())
    assert first.kind == "permanent"
    outcome = stack(any_store, clients, FakeClock()).process_message(body())
    assert outcome.kind == "completed"
    assert calls(clients)[EU] == 0
    record = any_store.get(RID)
    assert record is not None and set(record.workspaces) == {US} and record.workspaces_named is False
    # Naming a set is still compared: the first message meant {US}.
    other = stack(any_store, clients, FakeClock()).process_message(body("dsar-other", workspaces=[US]))
    assert other.kind == "completed"
    assert stack(any_store, clients, FakeClock()).process_message(body("dsar-other")).reason == (
        "request_id_conflict"
    )


def test_a_single_workspace_stack_is_unchanged(any_store: AuditBackend) -> None:
    client = FakeTrackClient()
    put_legacy(any_store, "in_progress")
    run = DeletionProcessor(client, any_store, PEPPER, clock=FakeClock())
    assert run.process_message(body()).kind == "completed"
    assert run.process_message(body("dsar-new")).kind == "completed"
    assert [run.process_message(body(rid)).kind for rid in (RID, "dsar-new")] == ["already_done"] * 2


# -- bug 3: unknown workspace names are never logged ------------------------------------------------------

PHONE = "14155550100"


@pytest.mark.parametrize("unknown", [PHONE, "jane-doe"])
def test_unknown_workspace_names_are_counted_never_logged_or_dead_lettered(
    clients: dict[str, FakeTrackClient],
    dlq: tuple[Any, str],
    caplog: pytest.LogCaptureFixture,
    captured_logs: LogCapture,
    unknown: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="cio_security")
    run = stack(MemoryAuditStore(), clients, FakeClock(), dlq)
    message = body(workspaces=[EU, unknown])
    outcomes = run.process_batch([QueueMessage(message, "m-1"), QueueMessage(message, "m-2")])
    assert [(o.kind, o.reason, o.fields) for o in outcomes] == [
        ("permanent", "schema_error", ("workspaces",))
    ] * 2
    letters = dead_letters(*dlq)
    assert [attributes(letter) for letter in letters] == [
        {"reason": "schema_error", "fields": "workspaces", "request_id": RID, "source_message_id": m}
        for m in ("m-1", "m-2")
    ]
    ours = [record for record in caplog.records if record.name.startswith("cio_security")]
    logged = [LogCapture.render(record) for record in ours]
    assert logged and not [line for line in logged if unknown in line]
    warned = [r for r in ours if r.getMessage().startswith("deletion message names workspaces")]
    assert warned and all(r.__dict__.get("unknown_workspaces") == 1 for r in warned)
    assert unknown not in "\n".join(
        captured_logs.render(r) for r in captured_logs.records if r.name.startswith("cio_security")
    )
    assert calls(clients) == {US: 0, EU: 0}


# -- bug 4: events name the primary as configured ----------------------------------------------------------


def test_an_event_from_an_old_record_names_the_configured_primary(any_store: AuditBackend) -> None:
    """A stack whose primary is ``produs``: an old record accepted by Customer.io whose verifier could
    not be built, on its message's last delivery, is dead-lettered (``retries_exhausted``) and its
    ``ErasureFailed`` event is built from the record as it then stands, written before workspaces."""
    put_legacy(
        any_store,
        "in_progress",
        steps={"suppress": {"status": "done", "status_code": 200}},
        submitted_at="2026-11-28T10:00:03.000Z",
    )
    events = RecordingEvents()

    def unbuildable(_name: str) -> None:
        raise SecretError("the App API key secret could not be read")

    routes = WorkspaceRoutes(["produs", "prodeu"], lambda _name: FakeTrackClient(), unbuildable)  # type: ignore[arg-type]
    run = DeletionProcessor(
        routes, any_store, PEPPER, clock=FakeClock(START), events=events, max_receive_count=3
    )
    outcome = run.process_message(body(), receive_count=3)
    assert (outcome.kind, outcome.reason) == ("permanent", "retries_exhausted")
    (event,) = events.published
    assert event.kind == "ErasureFailed"
    entry = json.loads(event.entry("bus")["Detail"])
    assert entry["workspaces"] == ["produs"]
    assert list(entry["workspace_results"]) == ["produs"]


def test_copies_in_one_batch_are_judged_by_the_old_records_targets(
    any_store: AuditBackend, clients: dict[str, FakeTrackClient]
) -> None:
    """As ``begin`` judges them: an old record targets the primary, so a copy naming it, or naming
    nothing, is the same request; a copy naming another set is a conflict."""
    put_legacy(any_store, "in_progress")
    outcomes = stack(any_store, clients, FakeClock()).process_batch(
        [
            QueueMessage(body()),
            QueueMessage(body(workspaces=[US])),
            QueueMessage(body(workspaces=[US, EU])),
            QueueMessage(body(workspaces=[EU])),
        ]
    )
    assert [(o.kind, o.reason) for o in outcomes] == [
        ("completed", None),
        ("already_done", None),
        ("permanent", "request_id_conflict"),
        ("permanent", "request_id_conflict"),
    ]
    assert calls(clients) == {US: 1, EU: 0}


# -- an impostor ahead of the genuine request in one batch ------------------------------------------------

IMPOSTOR = "impostor-person-9"


@pytest.mark.parametrize("state", ["in_progress", "failed"])
@pytest.mark.parametrize("impostor_first", [True, False], ids=["impostor-first", "genuine-first"])
def test_a_genuine_copy_behind_an_impostor_in_one_batch_proceeds(
    any_store: AuditBackend,
    clients: dict[str, FakeTrackClient],
    dlq: tuple[Any, str],
    state: str,
    impostor_first: bool,
) -> None:
    """The first message of a request_id in a batch decides its copies, unless it is itself a
    conflict with the record: that says nothing of the copies after it, so the genuine one is
    processed on its own and completes; only the impostor is a ``request_id_conflict``."""
    sensitive(IMPOSTOR)
    clock = FakeClock()
    GENUINE[state][0](stack(any_store, clients, clock), clients, clock)
    genuine = any_store.get(RID)
    assert genuine is not None and genuine.status == GENUINE[state][1]
    sent = calls(clients)
    clock.advance(seconds=1)
    impostor = QueueMessage(body(identifier=IMPOSTOR), "m-impostor")
    own = QueueMessage(body(), "m-genuine")
    batch = [impostor, own] if impostor_first else [own, impostor]
    outcomes = stack(any_store, clients, clock, dlq).process_batch(batch)
    by_message = {message.message_id: outcome for message, outcome in zip(batch, outcomes, strict=True)}
    assert (by_message["m-impostor"].kind, by_message["m-impostor"].reason) == (
        "permanent",
        "request_id_conflict",
    )
    assert by_message["m-impostor"].record is None
    assert (by_message["m-genuine"].kind, by_message["m-genuine"].reason) == ("completed", None)
    record = any_store.get(RID)
    assert record is not None and record.status == "completed"
    assert record.subject_hash == genuine.subject_hash
    assert calls(clients) == {US: sent[US], EU: sent[EU] + 1}  # US had accepted it: never sent again
    (letter,) = dead_letters(*dlq)
    assert attributes(letter) == {
        "reason": "request_id_conflict",
        "request_id": RID,
        "source_message_id": "m-impostor",
    }


def test_copies_behind_an_impostor_are_judged_against_the_genuine_one(
    any_store: AuditBackend, clients: dict[str, FakeTrackClient]
) -> None:
    """[impostor, genuine, genuine, impostor]: the first genuine copy proceeds, the second shares its
    fate without a call of its own, the second impostor is judged against the genuine one."""
    sensitive(IMPOSTOR)
    clock = FakeClock()
    run = stack(any_store, clients, clock)
    in_progress(run, clients, clock)
    clock.advance(seconds=1)
    outcomes = run.process_batch(
        [
            QueueMessage(body(identifier=IMPOSTOR)),
            QueueMessage(body()),
            QueueMessage(body()),
            QueueMessage(body(identifier=IMPOSTOR)),
        ]
    )
    assert [(o.kind, o.reason) for o in outcomes] == [
        ("permanent", "request_id_conflict"),
        ("completed", None),
        ("already_done", None),
        ("permanent", "request_id_conflict"),
    ]
    assert calls(clients) == {US: 1, EU: 2}  # the first attempt, then EU once more
    record = any_store.get(RID)
    assert record is not None and record.status == "completed"


def test_a_copy_behind_one_naming_an_unknown_workspace_is_processed_on_its_own(
    any_store: AuditBackend, clients: dict[str, FakeTrackClient]
) -> None:
    """A first message refused alone (``schema_error``: a workspace the stack does not serve) says
    nothing of the valid copy behind it in the same batch: that one completes."""
    batch = [
        QueueMessage(body(workspaces=["prod-apac"]), "m-unknown"),
        QueueMessage(body(), "m-valid"),
    ]
    first, second = stack(any_store, clients, FakeClock()).process_batch(batch)
    assert (first.kind, first.reason) == ("permanent", "schema_error")
    assert (second.kind, second.reason) == ("completed", None)
    record = any_store.get(RID)
    assert record is not None and record.status == "completed"
