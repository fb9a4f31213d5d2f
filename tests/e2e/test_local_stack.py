"""``make local`` as a user runs it: start the stack with the same entry point, drive it over HTTP
and through the CLI, check the results in moto and the sandbox, stop it, and leave nothing behind."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cio_security.deletion.verification import VerificationPolicy
from ciosec.emulator.functions import EVENTS

from .conftest import LocalStackProcess, port_open, wait_for


def test_local_stack_end_to_end(stack: LocalStackProcess) -> None:
    info = stack.info
    assert info["webhook_url"] == f"http://127.0.0.1:{stack.port}/webhooks/customerio"

    # Webhooks: a signed one is published, a forged one refused.
    assert stack.cli("webhook", "send").stdout.startswith("200")
    forged = stack.cli("webhook", "send", "--forge", check=False)
    assert forged.stdout.startswith("401")

    # The sample events work with the CLI: the signed sample replayed (its timestamp is fixed).
    replay = stack.cli(
        "invoke",
        "webhook",
        str(EVENTS / "webhook" / "valid.json"),
        "--env",
        "WEBHOOK_TOLERANCE_SECONDS=999999999",
        "--env",
        "WEBHOOK_DEDUPE_SECONDS=999999999",
    )
    assert '"statusCode": 200' in replay.stdout
    batch = stack.cli("invoke", "gdpr_deletion", str(EVENTS / "gdpr_deletion" / "sqs_batch.json"))
    assert '"batchItemFailures": []' in batch.stdout

    # A deletion request goes through the queue, the deletion function and the sandbox.
    stack.cli("deletion", "submit", "--request-id", "e2e-1", "--identifier-stdin", stdin="e2e-user-1\n")
    record = wait_for(lambda: _completed(stack, "e2e-1"))
    assert record["status"] == "completed"
    assert "e2e-user-1" not in json.dumps(record)
    workspaces = stack.sandbox_state()["workspaces"].values()
    assert any("e2e-user-1" in ws["suppressed"] for ws in workspaces)
    assert not any("e2e-user-1" in ws["people"] for ws in workspaces)

    # Two workspaces (issue 15), one sandbox per region, each seeded with fictitious people: one
    # request erases a seeded person in both.
    assert info["workspaces"] == "us,eu"
    sandboxes = (info["sandbox_url_us"], info["sandbox_url_eu"])
    assert info["sandbox_url"] == sandboxes[0] != sandboxes[1]
    for url in sandboxes:
        assert _in_workspace(stack.sandbox_state(url), "demo-user-2")
    stack.cli("deletion", "submit", "--request-id", "e2e-ws", "--identifier-stdin", stdin="demo-user-2\n")
    wait_for(lambda: not any(_in_workspace(stack.sandbox_state(url), "demo-user-2") for url in sandboxes))
    for url in sandboxes:
        assert any(
            "demo-user-2" in ws["suppressed"] for ws in stack.sandbox_state(url)["workspaces"].values()
        )
        assert _in_workspace(stack.sandbox_state(url), "demo-user-3")  # only the one requested
    assert "eu" in stack.cli("secrets", "status", "--workspace", "eu").stdout

    # Rotate the Track credentials to a new set of the same workspace; deletions keep working.
    new_credentials = stack.cli("sandbox", "new-credentials").stdout
    stack.cli("secrets", "stage", "track", stdin=new_credentials)
    stack.cli("secrets", "rotate", "track")
    current = json.loads(
        stack.aws("secretsmanager").get_secret_value(
            SecretId=info["track_credentials_secret_id"], VersionStage="AWSCURRENT"
        )["SecretString"]
    )
    assert current["site_id"] == json.loads(new_credentials)["site_id"]
    stack.cli("deletion", "submit", "--request-id", "e2e-2", "--identifier-stdin", stdin="e2e-user-2\n")
    assert wait_for(lambda: _completed(stack, "e2e-2"))["status"] == "completed"

    # Everything stops on Ctrl-C, and nothing is left listening.
    assert stack.stop() == 0
    assert not port_open(stack.port)
    assert not stack.state.exists()
    for url in (info["endpoint_url"], info["sandbox_url"], info["sandbox_url_eu"]):
        assert not port_open(int(url.rsplit(":", 1)[1]))


def test_invoke_runs_erasure_verification_on_the_local_stack(
    stack: LocalStackProcess, tmp_path: Path
) -> None:
    """``ciosec invoke erasure_verification``: on an event file of tickets, and on the tickets
    waiting on the verification queue (none once the stack's own event source has checked them),
    printing each ticket's outcome and never the identifier it holds."""
    person = "e2e-verify-user"
    # One workspace: moto's conditional writes are not atomic across threads, and the stack's event
    # source checks a request's tickets of two workspaces concurrently.
    submit = ("deletion", "submit", "--request-id", "e2e-v1", "--workspace", "eu", "--identifier-stdin")
    stack.cli(*submit, stdin=f"{person}\n")
    record = wait_for(lambda: _verified(stack, "e2e-v1"))  # by the stack's own event source
    assert record["status"] == "completed"

    submitted = datetime.now(UTC) - timedelta(hours=1)
    tickets = [
        VerificationPolicy().first_ticket(request_id, "id", person, submitted, workspace="eu").body()
        for request_id in ("e2e-v1", "e2e-v-unknown")
    ]
    records = [{"messageId": f"m-{i}", "receiptHandle": "r", "body": body} for i, body in enumerate(tickets)]
    event = tmp_path / "tickets.json"
    event.write_text(json.dumps({"Records": records}))
    result = stack.cli("invoke", "erasure_verification", str(event))
    table = result.stdout.split("REQUEST ID", 1)[1].splitlines()[1:]
    assert [line.split() for line in table] == [
        ["e2e-v1", "eu", "already_done", "verification_verified", "0"],
        ["e2e-v-unknown", "eu", "dead_lettered", "audit_record_missing", "0"],
        ["2", "ticket(s):", "1", "already_done,", "1", "dead_lettered"],
    ]
    letters = stack.aws("sqs").receive_message(
        QueueUrl=stack.info["verification_dlq_url"], MessageAttributeNames=["All"]
    )["Messages"]
    assert [m["MessageAttributes"]["request_id"]["StringValue"] for m in letters] == ["e2e-v-unknown"]

    waiting = stack.cli("invoke", "erasure_verification", "--from-queue")
    assert "no ticket waiting on the verification queue" in waiting.stdout
    for output in (result, waiting):
        assert person not in output.stdout + output.stderr


def _verified(stack: LocalStackProcess, request_id: str) -> dict[str, Any] | None:
    result = stack.cli("deletion", "status", request_id, check=False)
    if result.returncode != 0:
        return None
    record: dict[str, Any] = json.loads(result.stdout)
    return record if record.get("verification") == "verified" else None


def _completed(stack: LocalStackProcess, request_id: str) -> dict[str, Any] | None:
    result = stack.cli("deletion", "status", request_id, check=False)
    if result.returncode != 0:
        return None
    record: dict[str, Any] = json.loads(result.stdout)
    return record if record.get("status") == "completed" else None


def _in_workspace(state: dict[str, Any], identifier: str) -> bool:
    """Whether a sandbox's state holds the person in one of its workspaces."""
    return any(identifier in ws["people"] for ws in state["workspaces"].values())
