"""``ciosec dlq list`` and ``ciosec dlq discard`` on moto (SQS queues and the audit table built from
template.yaml): what a dead letter says (reason, failing fields, workspace, request id, first sent,
deliveries), a listing that changes nothing it reports, and a discard recorded in the audit."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import subject_hash
from cio_security.deletion.dead_letters import DeadLetterQueue
from cio_security.deletion.request import DeletionRequest
from cio_security.errors import SecretError
from cio_security.workspaces import DEFAULT_WORKSPACE
from ciosec.cli import main
from ciosec.operations.deletion import (
    DeadLetter,
    RequestInputError,
    discard,
    discard_reason,
    list_dead_letters,
    max_receive_count,
)
from ciosec.operations.stack import StackInfo
from fixtures.audit import AUDIT_TABLE, MemoryAuditStore
from fixtures.aws import REGION
from fixtures.template import queue_attributes

EMAIL = "dlq-subject@example.com"
OTHER_EMAIL = "someone-else@example.com"
PEPPER = b"dlq-pepper-0123456789abcdef0123456789abcdef"
PEPPER_SECRET = "cio-security/pepper"
ONE_WORKSPACE = (DEFAULT_WORKSPACE,)
US, EU = "prod-us", "prod-eu"


def body(request_id: str, identifier: str = EMAIL, **fields: Any) -> str:
    return json.dumps({"request_id": request_id, "identifier": identifier, **fields})


class Queues:
    """The deletion queue (with the template's redrive policy) and its dead-letter queue."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs
        self.dlq_url = sqs.create_queue(
            QueueName="dlq", Attributes=queue_attributes("DeletionDeadLetterQueue")
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.queue_url = sqs.create_queue(
            QueueName="deletion", Attributes=queue_attributes("DeletionQueue", dead_letter_queue_arn=arn)
        )["QueueUrl"]
        self.dead_letters = DeadLetterQueue(self.dlq_url, sqs)
        self.max_receive_count = max_receive_count(sqs, self.queue_url)

    def moved_by_the_redrive_policy(self, text: str) -> str:
        """Send ``text`` to the deletion queue and receive it until SQS moves it to the DLQ."""
        message_id: str = self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=text)["MessageId"]
        while self.sqs.receive_message(QueueUrl=self.queue_url, VisibilityTimeout=0, WaitTimeSeconds=0).get(
            "Messages"
        ):
            pass
        return message_id

    def visible(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
        return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture
def queues(dynamodb: Any) -> Queues:  # dynamodb: moto is on, with the audit table
    return Queues(boto3.client("sqs", region_name=REGION))


def save_state(queues: Queues, path: Path, workspaces: tuple[str, ...] = ()) -> str:
    """The stack's state file, for a stack of ``workspaces`` (the primary first; none: a stack
    from before workspaces)."""
    StackInfo(
        deletion_queue_url=queues.queue_url,
        deletion_dlq_url=queues.dlq_url,
        audit_table=AUDIT_TABLE,
        pepper_secret_id=PEPPER_SECRET,
        region=REGION,
        workspaces=",".join(workspaces),
        workspace_secret_prefix="cio-security/customerio/" if len(workspaces) > 1 else "",
    ).save(path)
    return str(path)


@pytest.fixture
def state(queues: Queues, tmp_path: Path) -> str:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name=PEPPER_SECRET, SecretString=json.dumps({"pepper": PEPPER.decode()}))
    return save_state(queues, tmp_path / "stack.json")


@pytest.fixture
def state_of(state: str, queues: Queues, tmp_path: Path) -> Callable[[tuple[str, ...]], str]:
    """The state file of the stack (its pepper secret, queues and audit table) serving these
    workspaces, the primary first."""
    return lambda workspaces: save_state(queues, tmp_path / f"{'-'.join(workspaces)}.json", workspaces)


def ciosec(state: str, *argv: str) -> int:
    return main(["--state", state, *argv])


@pytest.fixture
def letters(queues: Queues) -> dict[str, str]:
    """One dead letter of each kind, by name -> message id."""
    sent = {
        "schema": queues.dead_letters.send(
            body("dsar-schema", requested_at="2026-11-28T10:00"),
            reason="schema_error",
            request_id="dsar-schema",
            fields=("requested_at",),
            receive_count=1,
        ),
        "legacy": queues.dead_letters.send(  # before dead letters carried their fields
            body("dsar-legacy", identifier="user-1", identifier_type="email"),
            reason="schema_error",
            request_id="dsar-legacy",
        ),
        "workspace": queues.dead_letters.send(
            body("dsar-ws", workspaces=["prod-eu"]),
            reason="customerio_401",
            request_id="dsar-ws",
            workspace="prod-eu",
            receive_count=2,
        ),
        "garbage": queues.dead_letters.send(f"not json {EMAIL}", reason="invalid_json"),
    }
    sent["moved"] = queues.moved_by_the_redrive_policy(body("dsar-moved"))
    return sent


def by_request(listing: list[DeadLetter]) -> dict[str | None, DeadLetter]:
    return {letter.request_id: letter for letter in listing}


def test_each_dead_letter_says_why_where_and_how_often(queues: Queues, letters: dict[str, str]) -> None:
    listing = by_request(
        list_dead_letters(queues.sqs, queues.dlq_url, max_receive_count=queues.max_receive_count)
    )
    assert {r: (d.reason, d.fields, d.workspace, d.receive_count) for r, d in listing.items()} == {
        "dsar-schema": ("schema_error", ("requested_at",), None, 1),
        "dsar-legacy": ("schema_error", ("identifier",), None, None),  # read again from the body
        "dsar-ws": ("customerio_401", (), "prod-eu", 2),
        None: ("invalid_json", (), None, None),
        "dsar-moved": ("max_receives", (), None, queues.max_receive_count),
    }
    assert listing["dsar-moved"].message_id == letters["moved"]
    assert all(letter.sent_at for letter in listing.values())
    assert EMAIL not in json.dumps([letter.public() for letter in listing.values()])


def test_two_listings_report_the_same_and_leave_every_message_visible(
    queues: Queues, letters: dict[str, str]
) -> None:
    first = [d.public() for d in list_dead_letters(queues.sqs, queues.dlq_url, max_receive_count=5)]
    assert queues.visible() == len(letters)  # released at once: nothing hidden for a timeout
    second = [d.public() for d in list_dead_letters(queues.sqs, queues.dlq_url, max_receive_count=5)]
    assert sorted(first, key=json.dumps) == sorted(second, key=json.dumps)
    assert queues.visible() == len(letters)


def test_the_command_lists_the_columns_and_explains_the_count(
    state: str, letters: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert ciosec(state, "dlq", "list") == 0
    out = capsys.readouterr().out
    header, *rows, total = out.splitlines()
    assert header.split() == [
        "MESSAGE",
        "ID",
        "REQUEST",
        "ID",
        "REASON",
        "FIELDS",
        "WORKSPACE",
        "FIRST",
        "SENT",
        "DELIVERIES",
    ]
    assert total == f"{len(letters)} message(s)"
    schema = next(row for row in rows if "dsar-schema" in row).split()
    assert (schema[0], schema[2], schema[3], schema[-1]) == (
        letters["schema"],
        "schema_error",
        "requested_at",
        "1",
    )
    workspace = next(row for row in rows if "dsar-ws" in row).split()
    assert (workspace[3], workspace[4]) == ("-", "prod-eu")
    assert EMAIL not in out
    assert ciosec(state, "dlq", "list", "--json") == 0
    first = capsys.readouterr().out
    assert ciosec(state, "dlq", "list", "--json") == 0
    assert capsys.readouterr().out == first
    with pytest.raises(SystemExit):
        main(["dlq", "list", "--help"])
    assert "SQS has no peek" in capsys.readouterr().out


def test_the_listing_shows_identifiers_only_when_asked(
    state: str, letters: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert ciosec(state, "dlq", "list", "--json", "--show-identifiers") == 0
    shown = {entry["request_id"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert shown["dsar-schema"]["identifier"] == EMAIL
    assert "identifier" not in shown[None]


# -- discard ------------------------------------------------------------------------------------------


def audited(
    store: AuditStore,
    request_id: str,
    reason: str,
    *,
    named: tuple[str, ...] | None = None,
    stack: tuple[str, ...] = ONE_WORKSPACE,
) -> None:
    """An audit record of a request that failed and was dead-lettered a day ago, on a stack of the
    workspaces ``stack`` (the primary first); its message named ``named`` (None: none)."""
    request = DeletionRequest.model_validate(
        {"request_id": request_id, "identifier": EMAIL, "workspaces": named}
    )
    at = datetime.now(UTC) - timedelta(days=1)
    record = store.begin(
        request,
        at,
        subject_hash("email", EMAIL, PEPPER),
        60,
        workspaces=named or stack,
        primary=stack[0],
    )
    store.fail(request_id, reason, at, lease_token=record.lease_token)


def test_discard_by_reason_records_each_in_the_audit(
    state: str, letters: dict[str, str], store: AuditStore, queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    audited(store, "dsar-ws", "customerio_401", named=(EU,))
    assert (
        ciosec(
            state, "dlq", "discard", "--all-reason", "customerio_401", "--reason", "workspace-closed", "--yes"
        )
        == 0
    )
    out = capsys.readouterr()
    assert f"discarded {letters['workspace']}: dsar-ws recorded in the audit as discarded" in out.out
    assert "discarded 1 of 1 dead letter(s)" in out.out
    record = store.get("dsar-ws")
    assert record is not None
    assert (record.status, record.discard_reason) == ("discarded", "workspace-closed")
    assert queues.visible() == len(letters) - 1
    assert letters["workspace"] not in {d.message_id for d in list_dead_letters(queues.sqs, queues.dlq_url)}


def test_discard_by_message_id_when_nothing_is_on_record(
    state: str, letters: dict[str, str], queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = (letters["garbage"], letters["schema"], letters["moved"])
    assert ciosec(state, "dlq", "discard", *chosen, "--reason", "unusable", "--yes") == 0
    out = capsys.readouterr().out
    assert (
        f"discarded {letters['garbage']}: nothing was on record (no readable request_id), nothing written "
        "to the audit"
    ) in out
    assert (
        f"discarded {letters['schema']}: nothing was on record (no audit record of dsar-schema), nothing "
        "written to the audit"
    ) in out
    assert f"discarded {letters['moved']}: nothing was on record (no audit record of dsar-moved)" in out
    assert EMAIL not in out
    assert queues.visible() == len(letters) - 3


def record_of(store: AuditStore, request_id: str) -> dict[str, Any]:
    record = store.get(request_id)
    assert record is not None
    return record.model_dump()


REUSED: dict[str, tuple[str, str]] = {
    "request_id_conflict": (
        body("dsar-genuine", OTHER_EMAIL),
        "its subject is not the one on record for dsar-genuine",
    ),
    "schema_error": (
        body("dsar-genuine", OTHER_EMAIL, requested_at="2026-11-28T10:00"),
        "its body is not a readable deletion request, so it cannot be dsar-genuine's",
    ),
    "invalid_json": (
        f'{{"request_id": "dsar-genuine", "identifier": "{OTHER_EMAIL}"',
        "its body is not a readable deletion request, so it cannot be dsar-genuine's",
    ),
}


@pytest.mark.parametrize("reason", list(REUSED))
def test_a_letter_that_reused_a_request_id_leaves_that_record_alone(
    state: str,
    store: AuditStore,
    queues: Queues,
    capsys: pytest.CaptureFixture[str],
    reason: str,
) -> None:
    """A message that reused a genuine request's id (another subject, a broken body) carries that
    request's id: its body is checked against the record like any letter's, and discarding it does
    not mark the genuine request discarded."""
    audited(store, "dsar-genuine", "customerio_401")
    before = record_of(store, "dsar-genuine")
    text, why = REUSED[reason]
    message_id = queues.dead_letters.send(text, reason=reason, request_id="dsar-genuine")
    assert ciosec(state, "dlq", "discard", message_id, "--reason", "duplicate-request", "--yes") == 0
    out = capsys.readouterr()
    assert record_of(store, "dsar-genuine") == before
    assert f"discarded {message_id}: nothing was on record ({why}; " in out.out
    assert "recorded in the audit" not in out.out
    assert "discarded 1 of 1 dead letter(s)" in out.out
    assert queues.visible() == 0
    assert OTHER_EMAIL not in out.out + out.err and EMAIL not in out.out + out.err


def test_a_genuine_dead_letter_marks_its_record_discarded(store: AuditStore, queues: Queues) -> None:
    audited(store, "dsar-1", "customerio_401")
    message_id = queues.dead_letters.send(body("dsar-1"), reason="customerio_401", request_id="dsar-1")
    result = discard(
        queues.sqs,
        queues.dlq_url,
        store,
        message_ids=[message_id],
        reason="withdrawn",
        pepper=lambda: PEPPER,
        workspaces=ONE_WORKSPACE,
    )
    assert [letter.message_id for letter in result.recorded] == [message_id]
    record = store.get("dsar-1")
    assert record is not None
    assert (record.status, record.discard_reason) == ("discarded", "withdrawn")
    assert queues.visible() == 0


@pytest.mark.parametrize(
    "case",
    [
        (body("dsar-1", OTHER_EMAIL), "its subject is not the one on record for dsar-1"),
        (body("dsar-1", EMAIL, action="delete"), "its action is not the one on record for dsar-1"),
        (body("dsar-2", EMAIL), "its body names request dsar-2, not dsar-1"),
        (f"not json {EMAIL}", "its body is not a readable deletion request"),
        (
            body("dsar-1", EMAIL, requested_at="2026-11-28T10:00"),
            "its body is not a readable deletion request",
        ),
    ],
)
def test_a_letter_that_is_not_the_records_request_leaves_it_alone(
    state: str,
    store: AuditStore,
    queues: Queues,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, str],
) -> None:
    """A letter of a reason that does name its own record, whose body is not that record's
    request (another subject, action or request id, or no request at all), writes nothing there."""
    text, why = case
    audited(store, "dsar-1", "customerio_401")
    before = record_of(store, "dsar-1")
    message_id = queues.dead_letters.send(text, reason="customerio_401", request_id="dsar-1")
    assert ciosec(state, "dlq", "discard", message_id, "--reason", "withdrawn", "--yes") == 0
    out = capsys.readouterr()
    assert record_of(store, "dsar-1") == before
    assert f"discarded {message_id}: nothing was on record ({why}" in out.out
    assert "nothing written to the audit" in out.out
    assert "recorded in the audit" not in out.out
    assert queues.visible() == 0
    assert OTHER_EMAIL not in out.out + out.err and EMAIL not in out.out + out.err


def test_a_schema_error_letter_that_is_its_records_request_is_recorded_there(
    state_of: Callable[[tuple[str, ...]], str],
    store: AuditStore,
    queues: Queues,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A request for prod-us and prod-eu, recorded while the stack served both; prod-eu was then
    removed from the stack, and the request's redelivery was refused as a ``schema_error`` (a
    workspace the stack is not configured with). The letter is its record's own request: the
    discard is written there."""
    audited(store, "dsar-removed", "customerio_503", named=(US, EU), stack=(US, EU))
    shrunk = state_of((US,))
    message_id = queues.dead_letters.send(
        body("dsar-removed", workspaces=[US, EU]),
        reason="schema_error",
        request_id="dsar-removed",
        fields=("workspaces",),
    )
    assert ciosec(shrunk, "dlq", "discard", message_id, "--reason", "workspace-removed", "--yes") == 0
    out = capsys.readouterr()
    assert f"discarded {message_id}: dsar-removed recorded in the audit as discarded" in out.out
    record = store.get("dsar-removed")
    assert record is not None
    assert (record.status, record.discard_reason) == ("discarded", "workspace-removed")
    assert queues.visible() == 0
    assert EMAIL not in out.out + out.err


@pytest.mark.parametrize("named", [None, (US, EU)], ids=["every-workspace", "named"])
def test_a_request_id_conflict_letter_that_is_the_genuine_request_is_recorded_there(
    state_of: Callable[[tuple[str, ...]], str],
    store: AuditStore,
    queues: Queues,
    capsys: pytest.CaptureFixture[str],
    named: tuple[str, ...] | None,
) -> None:
    """A genuine copy dead-lettered as a ``request_id_conflict`` (refused beside an impostor in one
    batch) is its record's request, as its body shows: the discard is written there."""
    audited(store, "dsar-shared", "customerio_401", named=named, stack=(US, EU))
    two = state_of((US, EU))
    text = body("dsar-shared") if named is None else body("dsar-shared", workspaces=list(named))
    message_id = queues.dead_letters.send(text, reason="request_id_conflict", request_id="dsar-shared")
    assert ciosec(two, "dlq", "discard", message_id, "--reason", "duplicate-request", "--yes") == 0
    out = capsys.readouterr()
    assert f"discarded {message_id}: dsar-shared recorded in the audit as discarded" in out.out
    record = store.get("dsar-shared")
    assert record is not None
    assert (record.status, record.discard_reason) == ("discarded", "duplicate-request")
    assert EMAIL not in out.out + out.err


OTHER_SETS = {
    # (what the genuine request named, what the letter names): None is none
    "subset-then-another": ((US,), [EU]),
    "subset-then-none": ((US,), None),
    "none-then-subset": (None, [US]),
    "subset-then-an-unknown-name": ((US,), ["jane-doe"]),
}


@pytest.mark.parametrize(
    "case",
    [
        (sets, reason)
        for sets in OTHER_SETS
        for reason in ("customerio_401", "request_id_conflict", "schema_error")
    ],
    ids="-".join,
)
def test_a_letter_for_another_set_of_workspaces_leaves_the_record_alone(
    state_of: Callable[[tuple[str, ...]], str],
    store: AuditStore,
    queues: Queues,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, str],
) -> None:
    """Same subject and action, another set of workspaces than the record's (the letter's own, or
    every workspace of the stack when it names none): another request under the same id, as
    ``begin`` judges it, so nothing is written there, and no workspace name it gave is printed."""
    sets, reason = case
    recorded, letter = OTHER_SETS[sets]
    audited(store, "dsar-set", "customerio_401", named=recorded, stack=(US, EU))
    before = record_of(store, "dsar-set")
    two = state_of((US, EU))
    text = body("dsar-set") if letter is None else body("dsar-set", workspaces=letter)
    message_id = queues.dead_letters.send(text, reason=reason, request_id="dsar-set")
    assert ciosec(two, "dlq", "discard", message_id, "--reason", "duplicate-request", "--yes") == 0
    out = capsys.readouterr()
    assert record_of(store, "dsar-set") == before
    assert (
        f"discarded {message_id}: nothing was on record (its workspaces are not the ones on record for "
        "dsar-set; dsar-set's record is left as it is), nothing written to the audit"
    ) in out.out
    assert "jane-doe" not in out.out + out.err and EMAIL not in out.out + out.err
    assert queues.visible() == 0


def test_a_letter_naming_the_records_set_in_another_order_is_its_request(
    store: AuditStore, queues: Queues
) -> None:
    """The set, not its order, and a record whose message named none takes a letter naming every
    workspace of the stack, or none, as its own."""
    audited(store, "dsar-all", "customerio_401", stack=(US, EU))
    for text in (body("dsar-all", workspaces=[EU, US]), body("dsar-all")):
        message_id = queues.dead_letters.send(text, reason="customerio_401", request_id="dsar-all")
        result = discard(
            queues.sqs,
            queues.dlq_url,
            store,
            message_ids=[message_id],
            reason="withdrawn",
            pepper=lambda: PEPPER,
            workspaces=(US, EU),
        )
        assert [letter.message_id for letter in result.recorded] == [message_id]


def test_without_the_pepper_a_letter_that_needs_the_check_stays(store: AuditStore, queues: Queues) -> None:
    audited(store, "dsar-1", "customerio_401")
    before = record_of(store, "dsar-1")
    message_id = queues.dead_letters.send(body("dsar-1"), reason="customerio_401", request_id="dsar-1")

    def unreadable() -> bytes:
        raise SecretError("secret cio-security/pepper (AWSCURRENT) could not be read")

    for pepper in (unreadable, None):
        result = discard(
            queues.sqs,
            queues.dlq_url,
            store,
            message_ids=[message_id],
            reason="withdrawn",
            pepper=pepper,
            workspaces=ONE_WORKSPACE,
        )
        assert result.discarded == 0
        ((letter, why),) = result.failed
        assert letter.message_id == message_id
        assert "cannot check that it is dsar-1's request" in why
        assert record_of(store, "dsar-1") == before
        assert queues.visible() == 1


def test_discard_asks_first(
    state: str,
    letters: dict[str, str],
    queues: Queues,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert ciosec(state, "dlq", "discard", letters["garbage"], "--reason", "unusable") == 1
    assert "nothing discarded" in capsys.readouterr().err
    assert queues.visible() == len(letters)

    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert ciosec(state, "dlq", "discard", letters["garbage"], "--reason", "unusable") == 0
    assert "This cannot be undone [y/N]" in capsys.readouterr().out
    assert queues.visible() == len(letters) - 1


def test_discard_without_a_terminal_needs_yes(
    state: str,
    letters: dict[str, str],
    queues: Queues,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert ciosec(state, "dlq", "discard", letters["garbage"], "--reason", "unusable") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1] == (
        "ciosec: dlq discard: nothing discarded; confirm with --yes (there is no terminal to ask)"
    )
    assert queues.visible() == len(letters)


def test_discard_of_what_is_not_there(
    state: str, letters: dict[str, str], queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ciosec(state, "dlq", "discard", "no-such-message", "--reason", "unusable", "--yes") == 1
    err = capsys.readouterr().err
    assert "not on the dead-letter queue: no-such-message" in err
    assert "nothing discarded: no dead letter matches" in err
    assert queues.visible() == len(letters)


def test_an_audit_that_refuses_keeps_the_dead_letter(queues: Queues, letters: dict[str, str]) -> None:
    store = MemoryAuditStore()
    request = DeletionRequest.model_validate(
        {"request_id": "dsar-ws", "identifier": EMAIL, "workspaces": [EU]}
    )
    now = datetime.now(UTC)
    # A delivery holds the lease.
    store.begin(request, now, subject_hash("email", EMAIL, PEPPER), 300, workspaces=(EU,))
    result = discard(
        queues.sqs,
        queues.dlq_url,
        store,
        message_ids=[letters["workspace"]],
        reason="closed",
        now=now,
        pepper=lambda: PEPPER,
        workspaces=ONE_WORKSPACE,
    )
    assert result.discarded == 0
    ((letter, why),) = result.failed
    assert letter.request_id == "dsar-ws"
    assert "being processed right now" in why
    assert queues.visible() == len(letters)


@pytest.mark.parametrize("reason", ["Workspace Closed", "x", "dup@example.com", "4111111111111111", "a" * 49])
def test_the_discard_reason_is_a_short_slug(reason: str) -> None:
    with pytest.raises(RequestInputError, match="short slug"):
        discard_reason(reason)
