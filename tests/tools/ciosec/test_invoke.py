"""ciosec invoke and the emulator's module naming: a handler is imported under the same name in
every run (what Powertools may derive an idempotency key from), as a fresh module each time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ciosec.cli import main
from ciosec.emulator.functions import load_function, module_name


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
