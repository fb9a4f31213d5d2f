"""Deletion unit fixtures: a moto audit table built from template.yaml, a fake Track client that
records its calls, and a clock the test moves by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cio_security.audit.dynamodb import AuditStore
from cio_security.deletion.processor import DeletionProcessor
from fixtures.audit import AUDIT_TABLE, audit_items
from fixtures.logs import sensitive

PEPPER = b"unit-pepper-0123456789abcdef0123456789abcdef"
TABLE = AUDIT_TABLE
scan = audit_items
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeResponse:
    """What TrackClient returns: the status and Customer.io's request id."""

    status: int
    request_id: str | None = None


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeTrackClient:
    """Records every call; ``script(op, outcome...)`` queues what the next calls of ``op`` do:
    an int is a status to answer, an exception is raised."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._script: dict[str, list[Any]] = {"suppress": [], "delete": []}

    def script(self, operation: str, *outcomes: Any) -> None:
        self._script[operation].extend(outcomes)

    def _answer(self, operation: str, identifier: str) -> FakeResponse:
        self.calls.append((operation, identifier))
        queued = self._script[operation]
        outcome = queued.pop(0) if queued else 200
        if isinstance(outcome, BaseException):
            raise outcome
        return FakeResponse(outcome, "req-fake")

    def suppress(self, customer_id: str) -> FakeResponse:
        return self._answer("suppress", customer_id)

    def delete(self, customer_id: str) -> FakeResponse:
        return self._answer("delete", customer_id)

    def operations(self) -> list[str]:
        return [op for op, _ in self.calls]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_client() -> FakeTrackClient:
    return FakeTrackClient()


@pytest.fixture
def processor(store: AuditStore, fake_client: FakeTrackClient, clock: FakeClock) -> DeletionProcessor:
    sensitive(PEPPER.decode())
    return DeletionProcessor(fake_client, store, PEPPER, clock=clock)
