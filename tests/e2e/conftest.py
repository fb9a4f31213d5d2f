"""The local stack as a user runs it (``python -m ciosec local`` in its own process group), for the
end-to-end tests: ``stack`` starts one and stops it after the test, leaving no port behind."""

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

from ciosec.emulator.local_stack import free_port

STARTUP_SECONDS = 90


def port_open(port: int) -> bool:
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
        while not (self.state.exists() and port_open(self.port)):
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

    def sandbox_state(self, url: str | None = None) -> dict[str, Any]:
        """A sandbox's state (default: the primary workspace's, the US one)."""
        return httpx.get(f"{url or self.info['sandbox_url']}/_sandbox/state", timeout=10).json()

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
