"""Ordinary mistakes end in one line saying what is wrong and what to do, and a non-zero exit:
never a traceback (``ciosec.mistakes``, through the real CLI in a subprocess)."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from ciosec.mistakes import EXIT_MISTAKE, explain

ROOT = Path(__file__).resolve().parents[3]
PEPPER = "p" * 40


def ciosec(*args: str, cwd: Path, env: dict[str, str] | None = None, pipe_to_head: bool = False):
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") or key in {"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"}
    }
    environment.update(
        {
            "PYTHONPATH": f"{ROOT / 'local'}{os.pathsep}{ROOT / 'layers' / 'shared'}",
            "AWS_CONFIG_FILE": str(cwd / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "no-aws-credentials"),
            "PEP": PEPPER,
            **(env or {}),
        }
    )
    command = [sys.executable, "-m", "ciosec", *args]
    if not pipe_to_head:
        return subprocess.run(
            command, check=False, cwd=cwd, env=environment, capture_output=True, text=True, timeout=60
        )
    producer = subprocess.Popen(
        command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert producer.stdout is not None
    producer.stdout.read(5)
    producer.stdout.close()  # the reader goes away, as `| head -c 5` does
    _, stderr = producer.communicate(timeout=60)
    return subprocess.CompletedProcess(command, producer.returncode, "", stderr.decode())


def assert_one_clean_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == EXIT_MISTAKE, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ciosec: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_a_missing_file(tmp_path: Path) -> None:
    result = ciosec("sanitize", "nope.json", "--pepper-env", "PEP", cwd=tmp_path)
    assert_one_clean_line(result, "nope.json", "no such file")


def test_a_directory_instead_of_a_file(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    assert_one_clean_line(ciosec("sanitize", "events", "--pepper-env", "PEP", cwd=tmp_path), "is a directory")


def test_a_policy_file_that_is_missing(tmp_path: Path) -> None:
    (tmp_path / "event.json").write_text("{}")
    result = ciosec("sanitize", "event.json", "--policy", "policy.json", "--pepper-env", "PEP", cwd=tmp_path)
    assert_one_clean_line(result, "policy.json")


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "event.json").write_bytes(b'{"a": "\xff\xfe"}')
    result = ciosec("sanitize", "event.json", "--pepper-env", "PEP", cwd=tmp_path)
    assert_one_clean_line(result, "UTF-8")


def test_a_deployed_stack_without_a_region(tmp_path: Path) -> None:
    result = ciosec("--stack", "prod", "deletion", "status", "dsar-1", cwd=tmp_path)
    assert_one_clean_line(result, "no AWS region", "AWS_DEFAULT_REGION")


def test_a_stack_file_left_by_a_killed_make_local(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = {
        "deletion_queue_url": f"http://127.0.0.1:{port}/000000000000/q",
        "audit_table": "audit",
        "endpoint_url": f"http://127.0.0.1:{port}",
        "region": "eu-west-1",
    }
    (tmp_path / ".local-stack").mkdir()
    (tmp_path / ".local-stack" / "stack.json").write_text(json.dumps(state))
    result = ciosec("deletion", "status", "dsar-1", cwd=tmp_path)
    assert_one_clean_line(result, "not running", "make local")


def test_a_closed_pipe(tmp_path: Path) -> None:
    (tmp_path / "event.json").write_text(json.dumps({f"plan_{i}": "v" * 500 for i in range(5000)}))
    result = ciosec("sanitize", "event.json", "--pepper-env", "PEP", cwd=tmp_path, pipe_to_head=True)
    assert_one_clean_line(result, "closed pipe")


@pytest.mark.parametrize(
    ("exc", "fragment"),
    [
        (
            ClientError(
                {"Error": {"Code": "ValidationError", "Message": "Stack with id prod does not exist"}},
                "DescribeStacks",
            ),
            "no such stack",
        ),
        (ClientError({"Error": {"Code": "AccessDenied", "Message": "x"}}, "SendMessage"), "operator policy"),
        (
            ClientError({"Error": {"Code": "AccessDenied", "Message": "x"}}, "UpdateSecretVersionStage"),
            "IncidentResponderPolicyArn",
        ),
        (ClientError({"Error": {"Code": "ExpiredToken", "Message": "x"}}, "GetItem"), "expired"),
        (OSError(errno.EADDRINUSE, "Address already in use"), "--port"),
        (RuntimeError("wrapped"), None),
    ],
)
def test_explanations(exc: Exception, fragment: str | None) -> None:
    message = explain(exc)
    if fragment is None:
        assert message is None  # a bug keeps its traceback
    else:
        assert message is not None and fragment in message


def test_a_wrapped_cause_is_explained() -> None:
    outer = ValueError("could not load")
    outer.__cause__ = FileNotFoundError(errno.ENOENT, "No such file", "people.csv")
    assert explain(outer) == "people.csv: no such file (check the path)"


def test_a_port_already_in_use_by_another_local_stack(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = ciosec("--state", str(tmp_path / "stack.json"), "local", "--port", port, cwd=tmp_path)
    assert_one_clean_line(result, "already in use", "--port")
    assert not (tmp_path / "stack.json").exists()
