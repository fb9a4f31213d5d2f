"""Every ordinary mistake an operator makes, through the real ``ciosec`` command in its own process:
one line on stderr saying what is wrong and what to do, a non-zero exit, never a traceback.

The mistakes: a file that is missing or unreadable (a bulk CSV, the input to sanitize, a sanitizer
policy, an event to invoke, a body for ``webhook send --file``); an invalid option value; the port of
a ``make local`` that is still running; the stack file of a ``make local`` that was killed; ``--stack``
without an AWS region, or naming a stack that does not exist; output closed before the end (a pipe
into ``head``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import LocalStackProcess, port_open, wait_for

ROOT = Path(__file__).resolve().parents[2]
PEPPER = "p" * 40


def ciosec(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    pipe_to_head: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``python -m ciosec ARGS`` as an operator's shell runs it, with no AWS configuration at all
    unless ``env`` gives some."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CUSTOMERIO_"))}
    environment.update(
        {
            "AWS_CONFIG_FILE": str(cwd / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "no-aws-credentials"),
            "PEP": PEPPER,
            **(env or {}),
        }
    )
    command = [sys.executable, "-m", "ciosec", *args]
    if not pipe_to_head:
        return subprocess.run(
            command,
            check=False,
            cwd=cwd,
            env=environment,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
    producer = subprocess.Popen(
        command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert producer.stdout is not None
    producer.stdout.read(5)
    producer.stdout.close()  # the reader goes away, as `| head -c 5` does
    _, err = producer.communicate(timeout=120)
    return subprocess.CompletedProcess(command, producer.returncode, "", err.decode())


def assert_clean(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """One line on stderr holding every fragment, a non-zero exit, no traceback; the line."""
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def stale_state(directory: Path) -> Path:
    """A stack file pointing at ports nothing listens on: what a killed ``make local`` leaves."""
    from ciosec.emulator.local_stack import free_port

    port = free_port()
    state = {
        "deletion_queue_url": f"http://127.0.0.1:{port}/000000000000/q",
        "deletion_dlq_url": f"http://127.0.0.1:{port}/000000000000/dlq",
        "audit_table": "audit",
        "event_bus_name": "bus",
        "signing_key_secret_id": "signing",
        "pepper_secret_id": "pepper",
        "webhook_url": f"http://127.0.0.1:{port}/webhooks/customerio",
        "endpoint_url": f"http://127.0.0.1:{port}",
        "sandbox_url": f"http://127.0.0.1:{port}",
        "region": "eu-west-1",
    }
    path = directory / "stack.json"
    path.write_text(json.dumps(state))
    return path


# -- files ------------------------------------------------------------------------------------------

MISSING_FILE_COMMANDS = {
    "bulk CSV": ["deletion", "bulk", "{missing}"],
    "sanitize input": ["sanitize", "{missing}", "--pepper-env", "PEP"],
    "sanitizer policy": ["sanitize", "{present}", "--policy", "{missing}", "--pepper-env", "PEP"],
    "invoke event": ["invoke", "webhook", "{missing}"],
    "webhook send --file": ["webhook", "send", "--file", "{missing}"],
}


@pytest.mark.parametrize("what", sorted(MISSING_FILE_COMMANDS))
@pytest.mark.parametrize("problem", ["missing", "a directory", "not UTF-8"])
def test_a_file_that_cannot_be_read(tmp_path: Path, what: str, problem: str) -> None:
    if (what, problem) == ("webhook send --file", "not UTF-8"):
        pytest.skip("a body is sent as the bytes it is: not UTF-8 is no mistake there")
    state = stale_state(tmp_path)  # a stack file exists: the file is the only mistake
    (tmp_path / "event.json").write_text("{}")
    name = {"missing": "nope.json", "a directory": "folder", "not UTF-8": "latin1.json"}[problem]
    if problem == "a directory":
        (tmp_path / name).mkdir()
    elif problem == "not UTF-8":
        (tmp_path / name).write_bytes(b'{"a": "caf\xe9"}\n')
    args = [part.format(missing=name, present="event.json") for part in MISSING_FILE_COMMANDS[what]]
    result = ciosec("--state", str(state), *args, cwd=tmp_path)
    expected = {"missing": "no such file", "a directory": "is a directory", "not UTF-8": "UTF-8"}[problem]
    if (what, problem) == ("sanitizer policy", "not UTF-8"):
        expected = "invalid sanitizer policy"  # read as JSON bytes: the parser's own words
    line = assert_clean(result, expected)
    if problem != "not UTF-8":
        assert name in line  # the file is named


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file: permissions cannot be refused")
def test_a_file_without_read_permission(tmp_path: Path) -> None:
    locked = tmp_path / "locked.json"
    locked.write_text("{}")
    locked.chmod(0)
    assert_clean(ciosec("sanitize", "locked.json", "--pepper-env", "PEP", cwd=tmp_path), "permission denied")


# -- option values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["sandbox", "faults", "--error-rate", "1.5"],
            "ciosec: --error-rate must be between 0 and 1 (got 1.5)",
        ),
        (["sandbox", "faults", "--latency", "-2"], "ciosec: --latency must be between 0 and 30 (got -2)"),
        (["sandbox", "webhooks", "send", "--count", "many"], "ciosec: --count must be a whole number"),
        (["local", "--port", "99999"], "ciosec: --port must be between 0 and 65535 (got 99999)"),
        (["webhook", "tail", "--seconds", "inf"], "ciosec: --seconds must be a finite number (got inf)"),
        (
            ["deletion", "submit", "--request-id", "x", "--regulation", "hipaa"],
            "ciosec: --regulation must be one of 'gdpr', 'ccpa' (got 'hipaa')",
        ),
    ],
)
def test_an_invalid_option_value(tmp_path: Path, args: list[str], line: str) -> None:
    result = ciosec(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert assert_clean(result).startswith(line)


def test_fault_settings_the_sandbox_refuses(tmp_path: Path, stack: LocalStackProcess) -> None:
    """Each probability is in range, but together they exceed 1: the running sandbox refuses."""
    result = ciosec(
        "--state", str(stack.state), "sandbox", "faults", "--error-rate", "0.7", "--reset-rate", "0.7",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert_clean(result, "the sandbox refused it", "add up to more than 1")
    cleared = ciosec("--state", str(stack.state), "sandbox", "faults", "--reset", cwd=tmp_path)
    assert cleared.returncode == 0 and json.loads(cleared.stdout)["faults"]["error_rate"] == 0


# -- the local stack --------------------------------------------------------------------------------


def test_a_running_make_local_then_a_killed_one(tmp_path: Path, stack: LocalStackProcess) -> None:
    # Another `make local` on the port of the one running.
    other = tmp_path / "other"
    other.mkdir()
    second = ciosec("--state", str(other / "stack.json"), "local", "--port", str(stack.port), cwd=other)
    assert_clean(second, "already in use", "--port")
    assert not (other / "stack.json").exists()
    assert stack.process.poll() is None  # the first one runs on

    # The first one killed (kill -9: no clean-up), leaving its stack file behind.
    os.killpg(stack.process.pid, signal.SIGKILL)
    stack.process.wait(30)
    wait_for(lambda: not port_open(stack.port), timeout=30)
    assert stack.state.exists()
    for args in (["deletion", "status", "dsar-1"], ["webhook", "send"], ["sandbox", "state"]):
        result = ciosec("--state", str(stack.state), *args, cwd=tmp_path)
        assert_clean(result, "make local")


def test_no_local_stack_at_all(tmp_path: Path) -> None:
    result = ciosec("--state", str(tmp_path / "stack.json"), "deletion", "status", "dsar-1", cwd=tmp_path)
    assert_clean(result, "no local stack found", "make local")


# -- a deployed stack -------------------------------------------------------------------------------


def test_stack_without_a_region(tmp_path: Path) -> None:
    result = ciosec("--stack", "prod", "deletion", "status", "dsar-1", cwd=tmp_path)
    assert_clean(result, "no AWS region", "AWS_DEFAULT_REGION")


def test_stack_that_does_not_exist(tmp_path: Path, stack: LocalStackProcess) -> None:
    """An account (the local stack's moto server stands for it) where no such stack was deployed."""
    aws = {
        "AWS_ENDPOINT_URL": stack.info["endpoint_url"],
        "AWS_DEFAULT_REGION": stack.info["region"],
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    result = ciosec("--stack", "no-such-stack", "deletion", "status", "dsar-1", cwd=tmp_path, env=aws)
    assert_clean(result, "no such stack", "--stack")


# -- output -----------------------------------------------------------------------------------------


def test_output_closed_before_the_end(tmp_path: Path) -> None:
    (tmp_path / "big.json").write_text(json.dumps({f"plan_{i}": "v" * 500 for i in range(5000)}))
    result = ciosec("sanitize", "big.json", "--pepper-env", "PEP", cwd=tmp_path, pipe_to_head=True)
    assert_clean(result, "closed pipe")
