"""Deletion unit fixtures: a moto audit table built from template.yaml, a fake Track client that
records its v2 batches, a recording verifier and event publisher, and a clock the test moves by
hand."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import AuditRecord
from cio_security.customerio.v2 import BatchResult, OperationError, PersonOperation
from cio_security.deletion.events import ErasureEvent, PublishReport
from cio_security.deletion.processor import DeletionProcessor
from cio_security.deletion.request import DeletionRequest
from fixtures.audit import AUDIT_TABLE, audit_items
from fixtures.logs import sensitive

PEPPER = b"unit-pepper-0123456789abcdef0123456789abcdef"
TABLE = AUDIT_TABLE
scan = audit_items
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

Sent = tuple[str, str, str]
"""One operation as sent: (action, identifier type, identifier value as in the payload)."""
Answer = int | Mapping[int, str] | BaseException | Callable[[list[Sent]], Any]
"""What a scripted batch answers: a status (every operation accepted), ``{index: reason}`` (a 207
refusing those), an exception to raise, or a function of the operations giving one of these."""


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeTrackClient:
    """``TrackClient.batch`` that records every request it is sent (``batches``) and answers as
    scripted (``script``), then 200. Thread-safe."""

    def __init__(self) -> None:
        self.batches: list[list[Sent]] = []
        self._script: list[Answer] = []
        self._lock = threading.Lock()

    def script(self, *answers: Answer) -> None:
        self._script.extend(answers)

    def batch(self, operations: Sequence[PersonOperation]) -> BatchResult:
        sent: list[Sent] = []
        for operation in operations:
            ((identifier_type, value),) = operation.payload()["identifiers"].items()
            sent.append((operation.action, identifier_type, value))
        with self._lock:
            self.batches.append(sent)
            answer: Any = self._script.pop(0) if self._script else 200
        while callable(answer) and not isinstance(answer, BaseException):
            answer = answer(sent)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Mapping):
            return BatchResult(
                207, "req-fake", {i: OperationError(i, reason) for i, reason in answer.items()}
            )
        return BatchResult(answer, "req-fake")

    @property
    def calls(self) -> list[tuple[str, str]]:
        """Every operation sent, as (action, identifier)."""
        return [(action, value) for batch in self.batches for action, _, value in batch]

    def operations(self) -> list[str]:
        return [action for action, _ in self.calls]


class RecordingVerifier:
    """An ErasureVerifier that records what it was asked to schedule; ``fail_with`` makes the
    next ``schedule`` raise."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[str, str, str]] = []  # (request_id, identifier type, identifier)
        self.records: list[AuditRecord] = []
        self.fail_with: BaseException | None = None

    def schedule(
        self, records: Sequence[AuditRecord], now: datetime, *, requests: Mapping[str, DeletionRequest]
    ) -> None:
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        for record in records:
            request = requests[record.request_id]
            self.records.append(record)
            self.scheduled.append((record.request_id, request.identifier_type or "", request.identifier))


class RecordingEvents:
    """An ``ErasureEvents`` stand-in: keeps the entries; ``fail`` lists request ids to report failed."""

    def __init__(self) -> None:
        self.published: list[ErasureEvent] = []
        self.fail: set[str] = set()

    def publish(self, events: Sequence[ErasureEvent]) -> PublishReport:
        report = PublishReport()
        for event in events:
            if event.record.request_id in self.fail:
                report.failed.append(event.record.request_id)
            else:
                self.published.append(event)
                report.published.append(event.record.request_id)
        return report

    def kinds(self) -> list[tuple[str, str]]:
        return [(event.kind, event.record.request_id) for event in self.published]


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
