"""What the processor is given and what it answers: a queue message in, a ``DeletionOutcome`` out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cio_security.audit.record import AuditRecord, StepName

__all__ = ["DeadlineStatus", "DeletionOutcome", "OutcomeKind", "QueueMessage", "StepCall"]

OutcomeKind = Literal["completed", "submitted", "already_done", "retry", "permanent"]
DeadlineStatus = Literal["ok", "near", "past"]


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """One deletion queue message: its body, SQS message id and ApproximateReceiveCount (None
    when unknown, as in a hand-made event)."""

    body: str
    message_id: str | None = None
    receive_count: int | None = None


@dataclass(frozen=True, slots=True)
class StepCall:
    """One Track API operation sent while processing a request (in a v2 batch), with the status
    of the request that carried it (None: no answer) and the workspace it went to."""

    step: StepName
    status_code: int | None
    workspace: str | None = None


@dataclass(frozen=True, slots=True)
class DeletionOutcome:
    """What became of one request or message.

    ``kind``: ``completed`` (accepted by Customer.io now; nothing verifies it), ``submitted``
    (accepted now; verification scheduled), ``already_done`` (accepted earlier: nothing called),
    ``retry`` (redeliver it later) or ``permanent`` (no retry can fix it). ``reason`` is a short
    code safe to log (``customerio_503``, ``customerio_rejected_invalid_identifiers``,
    ``lease_held``, ``invalid_json``, ...). ``dead_lettered`` is True once a permanent failure was
    sent to the dead-letter queue. ``event_published`` says whether its erasure event reached the
    bus (None: no event for this outcome). ``workspace``: the workspace a ``permanent`` or ``retry``
    came from, when one did (configuration, never personal data); ``fields``: the message fields
    at fault in a ``schema_error`` (names only).
    """

    kind: OutcomeKind
    request_id: str | None
    reason: str | None = None
    calls: tuple[StepCall, ...] = ()
    deadline_status: DeadlineStatus = "ok"
    age_seconds: float | None = None
    dead_lettered: bool = False
    event_published: bool | None = None
    workspace: str | None = None
    fields: tuple[str, ...] = ()
    record: AuditRecord | None = field(default=None, repr=False, compare=False)

    @property
    def handled(self) -> bool:
        """True when the message is done with (deleted from the queue): anything but ``retry``."""
        return self.kind != "retry"
