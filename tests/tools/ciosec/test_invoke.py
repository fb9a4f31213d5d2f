"""ciosec invoke and the emulator's module naming: a handler is imported under the same name in
every run (what Powertools may derive an idempotency key from), as a fresh module each time.

``invoke erasure_verification`` runs through the real CLI, in a process of its own, against a local
stack whose own verification event source is stopped, so the tickets wait on its queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import pytest

from cio_security.audit.record import AuditRecord
from cio_security.deletion.verification import VerificationPolicy
from ciosec.cli import main
from ciosec.emulator.functions import load_function, module_name
from ciosec.emulator.local_stack import (
    LOCAL_VERIFICATION_TIMING,
    LOCAL_WORKSPACES,
    LocalStack,
    LocalStackOptions,
)
from ciosec.operations.stack import StackInfo
from fixtures.logs import sensitive

ROOT = Path(__file__).resolve().parents[3]


def test_the_module_name_is_stable_and_distinct_per_function() -> None:
    assert module_name("webhook") == module_name("webhook") == "webhook_app"
    assert len({module_name(n) for n in ("webhook", "gdpr_deletion", "rotation")}) == 3


def test_each_load_is_a_fresh_module_under_the_same_name() -> None:
    first, second = load_function("rotation"), load_function("rotation")
    assert first is not second  # its caches start empty, as in a new execution environment
    assert first.__name__ == second.__name__ == "rotation_app"
    assert first.handler.__module__ == second.handler.__module__ == "rotation_app"


def test_a_bad_event_file_or_env_is_told_before_the_stack_is_looked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "no-stack.json")
    (tmp_path / "broken.json").write_text("{not json")
    assert main(["--state", state, "invoke", "webhook", str(tmp_path / "broken.json")]) == 2
    assert "broken.json: not JSON (line 1)" in capsys.readouterr().err
    (tmp_path / "event.json").write_text(json.dumps({}))
    assert main(["--state", state, "invoke", "webhook", str(tmp_path / "event.json"), "--env", "X"]) == 2
    assert "--env takes NAME=VALUE (got 'X')" in capsys.readouterr().err
    assert main(["--stack", "prod", "invoke", "webhook", str(tmp_path / "event.json")]) == 2
    assert "against the local stack only" in capsys.readouterr().err


# -- erasure verification -------------------------------------------------------------------------


def test_verification_options_that_do_not_go_together_are_told_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "no-stack.json")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"Records": []}))
    refusals = {
        ("webhook", "--from-queue"): (
            "--from-queue takes tickets off the verification queue: it goes with erasure_verification"
        ),
        ("erasure_verification", str(event), "--from-queue"): "give an event file or --from-queue, not both",
        ("erasure_verification",): "give an event file (such as events/webhook/valid.json) or --from-queue",
        ("gdpr_deletion",): "give an event file (such as events/webhook/valid.json)",
        ("erasure_verification", str(event), "--limit", "5"): "--limit and --wait go with --from-queue",
        ("erasure_verification", str(event), "--wait", "1"): "--limit and --wait go with --from-queue",
    }
    for args, told in refusals.items():
        assert main(["--state", state, "invoke", *args]) == 2, args
        assert capsys.readouterr().err == f"ciosec: {told}\n"
    (tmp_path / "webhook.json").write_text(json.dumps({"body": "{}"}))
    assert main(["--state", state, "invoke", "erasure_verification", str(tmp_path / "webhook.json")]) == 2
    assert "webhook.json: not an SQS event" in capsys.readouterr().err
    # Values out of range: refused as they are parsed, in one line naming the option.
    for option, value, told in (("--limit", "0", "at least 1"), ("--wait", "21", "between 0 and 20")):
        with pytest.raises(SystemExit) as exit_status:
            main(["invoke", "erasure_verification", "--from-queue", option, value])
        assert exit_status.value.code == 2
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"ciosec: {option} must be {told} (got {value})")


def test_a_stack_file_without_the_verification_queue_asks_for_a_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "stack.json"
    StackInfo(audit_table="audit", deletion_queue_url="http://127.0.0.1:9/q").save(state)
    with patch.dict(os.environ):
        assert main(["--state", str(state), "invoke", "erasure_verification", "--from-queue"]) == 2
        assert "VERIFICATION_QUEUE_URL" not in os.environ  # refused before anything is set
    err = capsys.readouterr().err
    assert err.startswith("ciosec: the local stack's state file names no verification queue or App API")
    assert "`make local`" in err


PERSON = "invoke-verify-user"  # added to both sandbox workspaces; never in the command's output


@dataclass
class Verifying:
    """The local stack with its own verification event source stopped, so the tickets wait on the
    verification queue for ``ciosec invoke erasure_verification``; ``cli`` runs the real CLI in a
    process of its own, with a shell's environment (none of the stack's variables)."""

    stack: LocalStack
    state: Path
    shell: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "ciosec", "--state", str(self.state), "invoke", *args],
            capture_output=True,
            text=True,
            env=self.shell,
            cwd=self.state.parent,
            timeout=120,
            check=False,
        )
        assert PERSON not in result.stdout + result.stderr
        return result

    def erase(self, request_id: str, *workspaces: str) -> None:
        """An erasure of PERSON (in ``workspaces``, default every one); returns once its tickets,
        one per workspace, wait on the verification queue."""
        body = {"request_id": request_id, "identifier": PERSON, "requested_at": "2026-11-28T10:00:00Z"}
        if workspaces:
            body["workspaces"] = list(workspaces)
        sqs = boto3.client("sqs")
        sqs.send_message(QueueUrl=self.stack.info.deletion_queue_url, MessageBody=json.dumps(body))
        expected = len(workspaces) or len(LOCAL_WORKSPACES)
        self.wait_for(lambda: self.tickets()["ApproximateNumberOfMessages"] == expected)

    def tickets(self) -> dict[str, int]:
        """The verification queue's counts: waiting, in flight, delayed."""
        got = boto3.client("sqs").get_queue_attributes(
            QueueUrl=self.stack.info.verification_queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )
        return {name: int(value) for name, value in got["Attributes"].items()}

    def audit(self, request_id: str) -> AuditRecord:
        item = boto3.client("dynamodb").get_item(
            TableName=self.stack.info.audit_table, Key={"request_id": {"S": request_id}}
        )["Item"]
        return AuditRecord.from_item(item)

    @staticmethod
    def wait_for(check: Any, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "not reached in time"
            time.sleep(0.2)


@pytest.fixture
def verifying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Verifying]:
    for name in [n for n in os.environ if n.startswith("CUSTOMERIO_")]:
        monkeypatch.delenv(name)
    shell = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    shell["PYTHONPATH"] = os.pathsep.join(str(ROOT / part) for part in ("local", "layers/shared"))
    timing = {**LOCAL_VERIFICATION_TIMING, "VERIFICATION_FIRST_CHECK_SECONDS": "1"}
    options = LocalStackOptions(webhook_port=0, state_file=tmp_path / "stack.json", verification_env=timing)
    sensitive(PERSON)
    with LocalStack(options) as stack:
        assert stack.verification_source is not None
        stack.verification_source.stop()
        for workspace in LOCAL_WORKSPACES:
            stack.sandboxes[workspace.region].add_person(PERSON, environment_id=workspace.environment_id)
        yield Verifying(stack, options.state_file, shell)


def _rows(stdout: str) -> list[list[str]]:
    """The outcome table's rows (the function's own JSON log lines and the count left out)."""
    lines = [line for line in stdout.splitlines() if line and not line.startswith("{")]
    header = next(i for i, line in enumerate(lines) if line.startswith("REQUEST ID"))
    return [line.split() for line in lines[header + 1 : -1]]


def test_from_queue_verifies_the_tickets_waiting_one_batch_at_a_time(verifying: Verifying) -> None:
    verifying.erase("inv-v1")  # one ticket per workspace
    assert verifying.audit("inv-v1").verification == "pending"

    # One batch of at most --limit tickets: the one taken is checked, verified and deleted.
    first = verifying.cli("erasure_verification", "--from-queue", "--limit", "1")
    assert first.returncode == 0, first.stderr
    ((request_id, workspace, *outcome),) = _rows(first.stdout)
    assert (request_id, outcome) == ("inv-v1", ["verified", "-", "1"])
    assert first.stdout.rstrip().endswith("1 ticket(s): 1 verified")
    record = verifying.audit("inv-v1")
    assert record.workspace(workspace, primary="us").verification == "verified"
    assert (record.status, record.verification) == ("submitted", "pending")  # the other one waits
    assert verifying.tickets()["ApproximateNumberOfMessages"] == 1

    # (One at a time: moto's conditional writes are not atomic across threads, and two workspaces'
    # verifications of one request in one batch write the same record concurrently.)
    second = verifying.cli("erasure_verification", "--from-queue")
    assert second.returncode == 0, second.stderr
    other = next(w.name for w in LOCAL_WORKSPACES if w.name != workspace)
    assert _rows(second.stdout) == [["inv-v1", other, "verified", "-", "1"]]
    record = verifying.audit("inv-v1")
    assert (record.status, record.verification) == ("completed", "verified")
    assert not any(verifying.tickets().values())  # handled: deleted, as the event source does

    third = verifying.cli("erasure_verification", "--from-queue")
    assert third.returncode == 0 and "no ticket waiting on the verification queue" in third.stdout


def test_from_queue_reschedules_a_person_still_found(verifying: Verifying) -> None:
    verifying.stack.sandboxes["eu"].configure(processing_delay=3600.0)  # the App API still finds them
    verifying.erase("inv-s1", "eu")

    result = verifying.cli("erasure_verification", "--from-queue")
    assert result.returncode == 0, result.stderr
    assert _rows(result.stdout) == [["inv-s1", "eu", "rescheduled", "-", "1"]]
    assert result.stdout.rstrip().endswith("1 ticket(s): 1 rescheduled")
    record = verifying.audit("inv-s1")
    assert (record.status, record.verification, record.verification_checks) == ("submitted", "pending", 1)
    # The ticket is back on the queue, delayed until its next check.
    counts = verifying.tickets()
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesDelayed"]) == (0, 1)


def test_an_event_file_of_tickets_runs_the_function_and_shows_no_identifier(
    verifying: Verifying, tmp_path: Path
) -> None:
    now = datetime.now(UTC)

    def ticket(request_id: str) -> str:
        return VerificationPolicy().first_ticket(request_id, "id", PERSON, now - timedelta(hours=1)).body()

    # A ticket whose request id has the shape of personal data (only a forged one can: the
    # deletion function writes validated ids) is refused like a deletion message would be.
    forged = ticket("inv-forged").replace("inv-forged", "someone@example.com")
    bodies = [ticket("inv-missing"), "not a ticket", forged]
    records = [{"messageId": f"m-{i}", "receiptHandle": "r", "body": body} for i, body in enumerate(bodies)]
    event = tmp_path / "tickets.json"
    event.write_text(json.dumps({"Records": records}))

    result = verifying.cli("erasure_verification", str(event))
    assert result.returncode == 0, result.stderr
    assert [" ".join(row) for row in _rows(result.stdout)] == [
        "inv-missing us dead_lettered audit_record_missing 0",
        "(no request id) - dead_lettered invalid_json 0",
        # A request id with the shape of personal data is refused, and not shown.
        "(no request id) - dead_lettered schema_error 0",
    ]
    assert result.stdout.rstrip().endswith("3 ticket(s): 3 dead_lettered")
    assert "someone@example.com" not in result.stdout + result.stderr  # the function's logs too
    # The function dead-lettered them on the local stack, with their reasons.
    letters = boto3.client("sqs").receive_message(
        QueueUrl=verifying.stack.info.verification_dlq_url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )["Messages"]
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in letters)
    assert reasons == ["audit_record_missing", "invalid_json", "schema_error"]


def test_an_invalid_setting_is_told_in_one_line(verifying: Verifying, tmp_path: Path) -> None:
    """A function's ConfigurationError (its message names the setting, never the value) is a
    person's mistake: one line, no traceback."""
    event = tmp_path / "tickets.json"
    event.write_text(json.dumps({"Records": []}))
    result = verifying.cli("erasure_verification", str(event), "--env", "CUSTOMERIO_APP_RATE_LIMIT_RPS=abc")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ciosec: invalid configuration: ")
    assert "CUSTOMERIO_APP_RATE_LIMIT_RPS" in lines[0] and "abc" not in lines[0]
