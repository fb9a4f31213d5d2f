"""``ciosec sanitize``: a file through the policy (an event is read as what the webhook sanitizes),
and ``--suggest-policy FILE...`` (issue 18), end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ciosec.cli import main

EVENTS = Path(__file__).resolve().parents[3] / "events" / "webhook"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_suggest_policy_lists_paths_and_writes_a_policy_that_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEP", "p" * 32)
    lines = tmp_path / "people.jsonl"
    lines.write_text(
        json.dumps({"id": "u1", "plan": "pro", "ssn": "123-45-6789"})
        + "\n"
        + json.dumps({"id": "u2", "city": "Oslo"})
    )
    output = tmp_path / "policy.json"
    code, out, _ = run(
        capsys,
        "sanitize",
        "--suggest-policy",
        str(EVENTS / "valid.json"),
        str(lines),
        "--output",
        str(output),
    )
    assert code == 0
    assert "$.note" in out and "card_number: 1" in out and "$.ssn" in out
    for value in ("4111", "123-45-6789", "person@example.com", "Oslo", "user-123"):
        assert value not in out
    suggestion = json.loads(output.read_text())
    assert suggestion["mode"] == "deny_unknown"
    assert {"city", "plan", "note", "id", "customer_id"} <= set(suggestion["allow"])

    # The suggested policy in use: the sample event is read as its data, as the webhook reads it.
    code, out, _ = run(
        capsys,
        "sanitize",
        str(EVENTS / "valid.json"),
        "--policy",
        str(output),
        "--pepper-env",
        "PEP",
        "--report",
    )
    assert code == 0
    report = json.loads(out)["report"]
    assert report["dropped"] == ["$.note"] and report["reasons"] == ["card_number"]
    assert report["hashed"] == ["$.phone"]

    # An existing output is kept unless --force.
    with pytest.raises(SystemExit, match="exists"):
        main(["sanitize", "--suggest-policy", str(lines), "--output", str(output)])
    assert run(capsys, "sanitize", "--suggest-policy", str(lines), "--output", str(output), "--force")[0] == 0
    assert "ssn" not in json.loads(output.read_text())["allow"]


def test_suggest_policy_names_a_bad_line_not_its_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{"secret": "oops\n')
    with pytest.raises(SystemExit) as raised:
        main(["sanitize", "--suggest-policy", str(bad), "--output", str(tmp_path / "p.json")])
    assert "bad.jsonl:2" in str(raised.value) and "oops" not in str(raised.value)
    assert not (tmp_path / "p.json").exists()


def test_file_and_suggest_policy_are_exclusive() -> None:
    with pytest.raises(SystemExit, match="not both"):
        main(["sanitize", "x.json", "--suggest-policy", "y.json"])
