"""What became of a deletion request or message: the processor's answer to the handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cio_security.audit.record import AuditRecord, StepName

__all__ = ["DeadlineStatus", "DeletionOutcome", "OutcomeKind", "StepCall"]

OutcomeKind = Literal["completed", "already_done", "retry", "permanent"]
DeadlineStatus = Literal["ok", "near", "past"]


@dataclass(frozen=True, slots=True)
class StepCall:
    """One Track API call made while processing a request."""

    step: StepName
    status_code: int | None


@dataclass(frozen=True, slots=True)
class DeletionOutcome:
    """What became of one request or message.

    ``kind``: ``completed`` (every step done now), ``already_done`` (completed earlier: nothing
    called), ``retry`` (redeliver it later) or ``permanent`` (no retry can fix it). ``reason`` is a
    short code safe to log (``customerio_503``, ``lease_held``, ``invalid_json``, ...).
    ``dead_lettered`` is True once a permanent failure was sent to the dead-letter queue.
    """

    kind: OutcomeKind
    request_id: str | None
    reason: str | None = None
    calls: tuple[StepCall, ...] = ()
    deadline_status: DeadlineStatus = "ok"
    age_seconds: float | None = None
    dead_lettered: bool = False
    record: AuditRecord | None = field(default=None, repr=False, compare=False)
