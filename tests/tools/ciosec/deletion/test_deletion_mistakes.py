"""A mistake with a deletion or dead-letter command ends in one line saying what is wrong and what to
do, and a non-zero exit: never a traceback, never a value from the file (the real CLI, in a
subprocess, with no stack and no AWS credentials: each mistake is found before either is needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
EMAIL = "mistake-subject@example.com"


def ciosec(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(
        {
            "PYTHONPATH": f"{ROOT / 'local'}{os.pathsep}{ROOT / 'layers' / 'shared'}",
            "AWS_CONFIG_FILE": str(cwd / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "no-aws-credentials"),
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "ciosec", *args],
        check=False,
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
    )


def one_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0]
    assert EMAIL not in result.stderr + result.stdout
    return lines[0]


def test_a_misspelt_csv_column(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(f"request_id,identifer\ndsar-1,{EMAIL}\n")
    line = one_line(ciosec("deletion", "bulk", "people.csv", cwd=tmp_path), "did you mean 'identifier'?")
    assert (
        line == "nothing submitted from people.csv: unknown column 'identifer' (did you mean 'identifier'?)"
    )


def test_an_invalid_row(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(
        f"request_id,identifier,requested_at\ndsar-1,{EMAIL},2026-11-01T10:00\n"
    )
    one_line(ciosec("deletion", "bulk", "people.csv", cwd=tmp_path), "row 2: requested_at needs a timezone")


def test_many_invalid_rows_are_listed_one_a_line(tmp_path: Path) -> None:
    rows = "".join(f"dsar-{i},{EMAIL},hipaa\n" for i in range(30))
    (tmp_path / "people.csv").write_text(f"request_id,identifier,regulation\n{rows}")
    result = ciosec("deletion", "bulk", "people.csv", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "nothing submitted from people.csv: 30 problems"
    assert lines[1] == "  row 2: regulation must be 'gdpr' or 'ccpa'"
    assert lines[-1] == "  ... and 10 more"
    assert EMAIL not in result.stderr


def test_a_missing_csv_file(tmp_path: Path) -> None:
    one_line(ciosec("deletion", "bulk", "nope.csv", cwd=tmp_path), "nope.csv", "no such file")


def test_a_csv_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_bytes(b"request_id,identifier\ndsar-1,\xff\xfe\n")
    one_line(ciosec("deletion", "bulk", "people.csv", cwd=tmp_path), "UTF-8")


def test_an_invalid_submission(tmp_path: Path) -> None:
    result = ciosec(
        "deletion", "submit", "--request-id", "dsar-1", "--identifier", EMAIL, "--identifier-type", "phone",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.stderr.startswith("warning: --identifier leaves personal data in shell history")
    result.stderr = result.stderr.split("\n", 1)[1]
    one_line(result, "not submitted: identifier_type 'phone' contradicts the identifier")


def test_an_invalid_workspace_name(tmp_path: Path) -> None:
    result = ciosec(
        "deletion", "submit", "--request-id", "dsar-1", "--identifier-stdin", "--workspace", "Prod EU",
        cwd=tmp_path, stdin=EMAIL + "\n",
    )  # fmt: skip
    one_line(result, "not submitted: workspaces[0] must be a workspace name: lowercase letters")


def test_no_identifier(tmp_path: Path) -> None:
    result = ciosec("deletion", "submit", "--request-id", "dsar-1", "--identifier-stdin", cwd=tmp_path)
    one_line(result, "not submitted: the identifier is empty")


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (("dlq", "list", "--limit", "0"), ("--limit", "at least 1")),
        (("dlq", "list", "--limit", "many"), ("--limit", "whole number")),
        (("dlq", "discard", "m-1", "--reason", "Workspace Closed"), ("--reason", "short slug")),
        (("dlq", "discard", "m-1"), ("--reason",)),
        (("dlq", "discard", "--reason", "closed"), ("message id", "--all-reason")),
    ],
)
def test_dlq_option_mistakes(tmp_path: Path, argv: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    line = one_line(ciosec(*argv, cwd=tmp_path), *fragments)
    assert line.startswith("ciosec: ")
