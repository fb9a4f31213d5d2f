"""Deduplication: a stable key prefix (the function and the operator's replay agree), failures
leave no record behind."""

from __future__ import annotations

import pytest

from cio_security.webhook.dedupe import KEY_PREFIX, IdempotencyDeduplicator
from fixtures.stubbed_webhook import MemoryPersistence


def test_once_per_event_id_with_a_fixed_key_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    persistence = MemoryPersistence()
    dedupe = IdempotencyDeduplicator(persistence, expires_after_seconds=60)
    calls: list[str] = []

    def work() -> dict:
        calls.append("x")
        return {"published": "id"}

    assert dedupe("e-1", work) == ({"published": "id"}, False)
    # The command line has no Lambda function name: the record key does not depend on it.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "another-name")
    assert dedupe("e-1", work) == ({"published": "id"}, True)
    assert calls == ["x"]
    assert all(key.startswith(f"{KEY_PREFIX}#") for key in persistence.items)


def test_a_failing_work_leaves_no_record() -> None:
    persistence = MemoryPersistence()
    dedupe = IdempotencyDeduplicator(persistence, expires_after_seconds=60)

    def failing() -> dict:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        dedupe("e-2", failing)
    assert persistence.items == {}
    assert dedupe("e-2", lambda: {"ok": True}) == ({"ok": True}, False)
