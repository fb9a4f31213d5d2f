"""The operator commands (``ciosec deletion ...``, ``ciosec dlq ...``) against moto, end to end with
the real handler and the sandbox."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import subject_hash
from cio_security.deletion.request import parse_deletion_message
from ciosec.cli import main
from ciosec.operations.deletion import RequestInputError, read_bulk_csv, read_identifier
from ciosec.operations.stack import StackInfo
from fixtures.aws import REGION
from fixtures.logs import sensitive
from fixtures.sandbox import SANDBOX_CREDENTIALS

from .conftest import AUDIT_TABLE, PEPPER, PEPPER_SECRET, DeletionStack, deletion_body

EMAIL = "dsar-subject@example.com"


@pytest.fixture
def state(deletion: DeletionStack, tmp_path: Path) -> str:
    path = tmp_path / "stack.json"
    StackInfo(
        deletion_queue_url=deletion.queue_url,
        deletion_dlq_url=deletion.dlq_url,
        audit_table=AUDIT_TABLE,
        pepper_secret_id=PEPPER_SECRET,
        region=REGION,
    ).save(path)
    sensitive(EMAIL)
    return str(path)


def ciosec(state: str, *argv: str) -> int:
    return main(["--state", state, *argv])


def test_submit_from_stdin_then_status(
    deletion: DeletionStack, state: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(EMAIL + "\n"))
    assert (
        ciosec(
            state, "deletion", "submit", "--request-id", "op-1", "--identifier-stdin", "--regulation", "ccpa"
        )
        == 0
    )
    out = capsys.readouterr()
    assert "op-1" in out.out
    assert EMAIL not in out.out + out.err
    (message,) = deletion.receive()
    body = json.loads(message["Body"])
    assert (body["identifier"], body["identifier_type"], body["action"], body["regulation"]) == (
        EMAIL,
        "email",
        "erase",
        "ccpa",
    )
    deletion.sandbox.add_person(EMAIL)
    assert deletion.invoke([message]) == {"batchItemFailures": []}
    capsys.readouterr()  # the handler's metrics

    assert ciosec(state, "deletion", "status", "op-1") == 0
    record = json.loads(capsys.readouterr().out)
    assert (
        record["status"],
        record["regulation"],
        record["verification"],
        record["steps"]["suppress"]["status"],
    ) == ("completed", "ccpa", "not_verified", "done")
    assert EMAIL not in json.dumps(record)
    assert ciosec(state, "deletion", "status", "op-unknown") == 1


def test_submit_with_an_identifier_argument_warns(
    deletion: DeletionStack, state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        ciosec(
            state,
            "deletion",
            "submit",
            "--request-id",
            "op-2",
            "--identifier",
            "user-42",
            "--action",
            "delete",
        )
        == 0
    )
    assert "shell history" in capsys.readouterr().err
    (message,) = deletion.receive()
    assert json.loads(message["Body"])["action"] == "delete"


def test_submit_refuses_an_invalid_request_without_sending(
    deletion: DeletionStack, state: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(EMAIL + "\n"))
    argv = [
        "deletion",
        "submit",
        "--request-id",
        "op-3",
        "--identifier-stdin",
        "--requested-at",
        "2026-01-01",
    ]
    assert ciosec(state, *argv) == 1
    err = capsys.readouterr().err
    assert "requested_at" in err
    assert EMAIL not in err
    assert deletion.receive() == []


def test_read_identifier_sources() -> None:
    assert read_identifier(from_stdin=True, stdin=io.StringIO(" spaced id \r\n")) == " spaced id "
    assert read_identifier(interactive=True, prompt=lambda _: "from-prompt") == "from-prompt"
    with pytest.raises(RequestInputError):
        read_identifier(from_stdin=True, stdin=io.StringIO("\n"))
    with pytest.raises(RequestInputError):
        read_identifier()


def test_bulk_plain_list_in_batches_of_ten(
    deletion: DeletionStack, state: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "people.csv"
    path.write_text("".join(f"bulk-user-{i}\n" for i in range(25)))
    assert ciosec(state, "deletion", "bulk", str(path), "--id-prefix", "batch7", "--action", "delete") == 0
    assert "submitted 25 of 25" in capsys.readouterr().out
    bodies = []
    while messages := deletion.receive():
        bodies.extend(json.loads(m["Body"]) for m in messages)
        deletion.invoke(messages)
    assert sorted(b["request_id"] for b in bodies) == [f"batch7-{i:06d}" for i in range(1, 26)]
    assert {b["action"] for b in bodies} == {"delete"}
    record = deletion.audit("batch7-000025")
    assert record is not None
    assert record.status == "completed"


def test_bulk_with_columns(deletion: DeletionStack, state: str, tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(
        f'request_id,identifier,action,regulation\ncol-1,{EMAIL},erase,ccpa\ncol-2,"comma,id",delete,\n'
    )
    assert ciosec(state, "deletion", "bulk", str(path)) == 0
    bodies = {json.loads(m["Body"])["request_id"]: json.loads(m["Body"]) for m in deletion.receive()}
    assert bodies["col-1"]["regulation"] == "ccpa"
    assert (bodies["col-2"]["identifier"], bodies["col-2"]["regulation"]) == ("comma,id", "gdpr")


def test_bulk_refuses_the_whole_file_when_a_row_is_invalid(
    deletion: DeletionStack, state: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"request_id,identifier,regulation\nr-1,{EMAIL},gdpr\nr-2,x,hipaa\nr-1,y,gdpr\n")
    assert ciosec(state, "deletion", "bulk", str(path)) == 1
    err = capsys.readouterr().err
    assert "row 3" in err
    assert "regulation" in err
    assert "more than once" in err
    assert EMAIL not in err
    assert deletion.receive() == []


def test_read_bulk_csv_needs_request_ids_or_a_prefix() -> None:
    with pytest.raises(RequestInputError, match="id-prefix"):
        read_bulk_csv(["a\n", "b\n"])
    with pytest.raises(RequestInputError, match="unknown column"):
        read_bulk_csv(["identifier,email\n", "a,b\n"])
    with pytest.raises(RequestInputError, match="no rows"):
        read_bulk_csv([])


def test_dlq_list_shows_reasons_not_identifiers_and_redrive_moves_them_back(
    deletion: DeletionStack, state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    deletion.sandbox.remove_credentials(SANDBOX_CREDENTIALS.site_id)  # every call answers 401
    deletion.send(deletion_body("dlq-1", EMAIL), deletion_body("dlq-2", "user-dlq-2"), "{oops")
    deletion.drain()
    capsys.readouterr()

    assert ciosec(state, "dlq", "list") == 0
    listing = capsys.readouterr().out
    assert "dlq-1" in listing
    assert "customerio_401" in listing
    assert "invalid_json" in listing
    assert EMAIL not in listing
    assert ciosec(state, "dlq", "list", "--json", "--show-identifiers") == 0
    shown = {entry.get("request_id"): entry for entry in json.loads(capsys.readouterr().out)}
    assert shown["dlq-1"]["identifier"] == EMAIL
    assert shown[None]["reason"] == "invalid_json"
    assert len(deletion.dead_letters()) == 3  # listing leaves them on the queue

    # The operator fixes the credentials, then moves back only the authentication failures.
    deletion.sandbox.add_credentials(SANDBOX_CREDENTIALS)
    assert ciosec(state, "dlq", "redrive", "--reason", "customerio_401", "--dry-run") == 0
    assert "would move 2" in capsys.readouterr().out
    assert ciosec(state, "dlq", "redrive", "--reason", "customerio_401") == 0
    assert "moved 2" in capsys.readouterr().out
    deletion.drain()
    for request_id in ("dlq-1", "dlq-2"):
        record = deletion.audit(request_id)
        assert record is not None
        assert (record.status, record.attempts) == ("completed", 2)
    remaining = deletion.dead_letters()
    assert [m["Body"] for m in remaining] == ["{oops"]


def test_submit_to_chosen_workspaces(
    deletion: DeletionStack, state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(EMAIL + "\n"))
    argv = ["deletion", "submit", "--request-id", "op-ws", "--identifier-stdin", "--workspace", "prod-eu"]
    assert ciosec(state, *argv, "--workspace", "brand-2") == 0
    (message,) = deletion.receive()
    assert json.loads(message["Body"])["workspaces"] == ["prod-eu", "brand-2"]


def test_a_request_for_every_workspace_has_no_workspaces_field(
    deletion: DeletionStack, state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(EMAIL + "\n"))
    assert ciosec(state, "deletion", "submit", "--request-id", "op-all", "--identifier-stdin") == 0
    (message,) = deletion.receive()
    assert "workspaces" not in json.loads(message["Body"])


def test_bulk_with_a_workspaces_column(deletion: DeletionStack, state: str, tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(f"request_id,identifier,workspaces\nws-1,{EMAIL},prod-us;prod-eu\nws-2,user-2,\n")
    assert ciosec(state, "deletion", "bulk", str(path)) == 0
    bodies = {json.loads(m["Body"])["request_id"]: json.loads(m["Body"]) for m in deletion.receive()}
    assert bodies["ws-1"]["workspaces"] == ["prod-us", "prod-eu"]
    assert "workspaces" not in bodies["ws-2"]


def test_bulk_reports_a_misspelt_column_and_sends_nothing(
    deletion: DeletionStack, state: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(f"request_id,identifer,regulation,notes\nr-1,{EMAIL},gdpr,x\n")
    assert ciosec(state, "deletion", "bulk", str(path)) == 1
    err = capsys.readouterr().err
    assert "unknown column 'identifer' (did you mean 'identifier'?)" in err
    assert "unknown column 'notes'" in err
    assert EMAIL not in err
    assert deletion.receive() == []


def test_dead_letters_name_their_failing_fields_and_can_be_discarded(
    deletion: DeletionStack, state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    deletion.sandbox.remove_credentials(SANDBOX_CREDENTIALS.site_id)  # every call answers 401
    deletion.send(
        deletion_body("dlq-401", EMAIL),
        json.dumps({"request_id": "dlq-bad", "identifier": EMAIL, "requested_at": "2026-11-28T10:00"}),
        "{oops",
    )
    deletion.drain()
    capsys.readouterr()

    assert ciosec(state, "dlq", "list", "--json") == 0
    first = capsys.readouterr().out
    listed = {entry["request_id"]: entry for entry in json.loads(first)}
    assert (listed["dlq-bad"]["reason"], listed["dlq-bad"]["fields"]) == ("schema_error", ["requested_at"])
    assert listed["dlq-401"]["reason"] == "customerio_401"
    assert EMAIL not in first
    assert ciosec(state, "dlq", "list", "--json") == 0
    assert capsys.readouterr().out == first  # a listing changes nothing it reports

    # The refused body and the broken one can never succeed: nothing of them was ever recorded.
    assert ciosec(state, "dlq", "discard", "--all-reason", "schema_error", "--all-reason", "invalid_json",
                  "--reason", "unusable-body", "--yes") == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "nothing was on record (no readable request_id)" in out
    assert "discarded 2 of 2 dead letter(s)" in out
    # The authentication failure has a record, which keeps the discard and its reason.
    assert (
        ciosec(state, "dlq", "discard", listed["dlq-401"]["message_id"], "--reason", "withdrawn", "--yes")
        == 0
    )
    assert "dlq-401 recorded in the audit as discarded" in capsys.readouterr().out
    record = deletion.audit("dlq-401")
    assert record is not None
    assert (record.status, record.discard_reason) == ("discarded", "withdrawn")
    assert deletion.dead_letters() == []


def test_discarding_a_letter_that_reused_a_request_id_leaves_the_genuine_record_alone(
    deletion: DeletionStack, state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    deletion.sandbox.remove_credentials(SANDBOX_CREDENTIALS.site_id)  # every call answers 401
    deletion.send(deletion_body("dsar-shared", EMAIL))
    deletion.drain()
    # Another request under the same id (another subject): the handler refuses it as a conflict,
    # and its dead letter carries the genuine request's id.
    deletion.send(deletion_body("dsar-shared", "impostor-subject-7"))
    deletion.drain()
    genuine = deletion.audit("dsar-shared")
    assert genuine is not None
    assert genuine.status != "discarded"
    capsys.readouterr()

    assert ciosec(state, "dlq", "list", "--json") == 0
    listed = {entry["reason"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert (
        listed["request_id_conflict"]["request_id"] == listed["customerio_401"]["request_id"] == "dsar-shared"
    )

    conflict = listed["request_id_conflict"]["message_id"]
    assert ciosec(state, "dlq", "discard", conflict, "--reason", "duplicate-request", "--yes") == 0
    out = capsys.readouterr()
    assert (
        f"discarded {conflict}: nothing was on record (its subject is not the one on record for dsar-shared"
    ) in out.out
    assert "recorded in the audit" not in out.out
    assert "impostor-subject-7" not in out.out + out.err and EMAIL not in out.out + out.err
    assert deletion.audit("dsar-shared") == genuine  # untouched

    # The genuine request's own dead letter is checked against its record, and discarded there.
    own = listed["customerio_401"]["message_id"]
    assert ciosec(state, "dlq", "discard", own, "--reason", "withdrawn", "--yes") == 0
    assert f"discarded {own}: dsar-shared recorded in the audit as discarded" in capsys.readouterr().out
    record = deletion.audit("dsar-shared")
    assert record is not None
    assert (record.status, record.discard_reason) == ("discarded", "withdrawn")
    assert deletion.dead_letters() == []


def test_a_genuine_request_behind_an_impostor_in_one_batch_completes(
    deletion: DeletionStack, state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A request dead-lettered (401), then redelivered once the credentials are back, in the same
    batch as, and behind, another subject's message under its request_id: the impostor is the
    ``request_id_conflict``, the genuine copy completes. Discarding the impostor's letter writes
    nothing to the genuine record."""
    impostor = "impostor-subject-8"
    sensitive(impostor)
    deletion.sandbox.remove_credentials(SANDBOX_CREDENTIALS.site_id)
    deletion.send(deletion_body("dsar-twice", EMAIL))
    deletion.drain()
    first = deletion.audit("dsar-twice")
    assert first is not None and first.status == "dead_lettered"
    deletion.sandbox.add_credentials(SANDBOX_CREDENTIALS)
    deletion.send(deletion_body("dsar-twice", impostor), deletion_body("dsar-twice", EMAIL))
    messages = deletion.receive()
    assert len(messages) == 2
    messages.sort(key=lambda m: impostor not in m["Body"])  # the impostor first
    assert deletion.invoke(messages) == {"batchItemFailures": []}
    record = deletion.audit("dsar-twice")
    assert record is not None
    assert (record.status, record.subject_hash) == ("completed", first.subject_hash)
    capsys.readouterr()

    assert ciosec(state, "dlq", "list", "--json") == 0
    listed = {entry["reason"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert set(listed) == {"customerio_401", "request_id_conflict"}
    conflict = listed["request_id_conflict"]["message_id"]
    assert ciosec(state, "dlq", "discard", conflict, "--reason", "duplicate-request", "--yes") == 0
    out = capsys.readouterr()
    assert (
        f"discarded {conflict}: nothing was on record (its subject is not the one on record for dsar-twice"
    ) in out.out
    assert impostor not in out.out + out.err and EMAIL not in out.out + out.err
    assert deletion.audit("dsar-twice") == record


def test_a_schema_error_letter_of_a_recorded_request_is_discarded_on_its_record(
    deletion: DeletionStack, state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A request recorded for ``default`` and ``prod-eu`` while the stack served both, dead-lettered;
    prod-eu has since been removed, so its redelivery is refused as a ``schema_error`` (a workspace
    the stack is not configured with) and its record left as it was. That letter is the record's
    own request: discarding it is written there."""
    store = AuditStore(AUDIT_TABLE, client=deletion.dynamodb)
    both = ("default", "prod-eu")
    text = deletion_body("dsar-shrunk", EMAIL, workspaces=list(both))
    request = parse_deletion_message(text)
    at = datetime.now(UTC) - timedelta(days=1)
    hashed = subject_hash(request.identifier_type or "id", EMAIL, PEPPER)
    leased = store.begin(request, at, hashed, 60, workspaces=both, primary="default")
    store.fail("dsar-shrunk", "customerio_401", at, lease_token=leased.lease_token, workspace="prod-eu")
    before = deletion.audit("dsar-shrunk")
    deletion.send(text)
    deletion.drain()
    assert deletion.audit("dsar-shrunk") == before  # refused before anything was written
    capsys.readouterr()

    assert ciosec(state, "dlq", "list", "--json") == 0
    (letter,) = json.loads(capsys.readouterr().out)
    assert (letter["reason"], letter["request_id"], letter["fields"]) == (
        "schema_error",
        "dsar-shrunk",
        ["workspaces"],
    )
    assert ciosec(state, "dlq", "discard", "--all-reason", "schema_error", "--reason", "workspace-removed",
                  "--yes") == 0  # fmt: skip
    out = capsys.readouterr()
    assert f"discarded {letter['message_id']}: dsar-shrunk recorded in the audit as discarded" in out.out
    record = deletion.audit("dsar-shrunk")
    assert record is not None
    assert (record.status, record.discard_reason) == ("discarded", "workspace-removed")
    assert EMAIL not in out.out + out.err
    assert deletion.dead_letters() == []
