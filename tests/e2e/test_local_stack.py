"""``make local`` as a user runs it: start the stack with the same entry point, drive it over HTTP
and through the CLI, check the results in moto and the sandbox, stop it, and leave nothing behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from ciosec.emulator.functions import EVENTS
from ciosec.emulator.local_stack import free_port

STARTUP_SECONDS = 90


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class LocalStackProcess:
    def __init__(self, tmp: Path) -> None:
        self.state = tmp / "stack.json"
        self.port = free_port()
        # A user's shell, minus anything that could reach a real AWS account.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CUSTOMERIO_"))}
        self.log = (tmp / "local.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ciosec", "--state", str(self.state), "local", "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (self.state.exists() and _port_open(self.port)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"local stack did not start: {(tmp / 'local.log').read_text()[-2000:]}")
            time.sleep(0.2)
        self.info: dict[str, Any] = json.loads(self.state.read_text())

    def cli(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "ciosec", "--state", str(self.state), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"ciosec {' '.join(args)} failed: {result.stdout}\n{result.stderr}")
        return result

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.info["endpoint_url"],
            region_name=self.info["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def sandbox_state(self) -> dict[str, Any]:
        return httpx.get(f"{self.info['sandbox_url']}/_sandbox/state", timeout=10).json()

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()
        return self.process.returncode


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStackProcess]:
    running = LocalStackProcess(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("condition not reached in time")


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
    assert not _port_open(stack.port)
    assert not stack.state.exists()
    for url in (info["endpoint_url"], info["sandbox_url"]):
        assert not _port_open(int(url.rsplit(":", 1)[1]))


def _completed(stack: LocalStackProcess, request_id: str) -> dict[str, Any] | None:
    result = stack.cli("deletion", "status", request_id, check=False)
    if result.returncode != 0:
        return None
    record: dict[str, Any] = json.loads(result.stdout)
    return record if record.get("status") == "completed" else None
