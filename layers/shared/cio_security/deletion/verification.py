"""Erasure verification (DESIGN section 4): what is checked, when, and what a check can end in.

Track is asynchronous: a 200 means accepted, not done. Where an App API key is configured the
deletion function hands each accepted erasure to a verifier (``verification_queue.QueueVerifier``)
that queues a *ticket* (``VerificationTicket``): the request id, the identifier and its type, when
the next check is due, when the window ends, the checks made so far. The verification function
checks due tickets through the App API (``verification_processor.VerificationProcessor``):

==============================  ==============================================================
what the App API answers        what happens
==============================  ==============================================================
404 (the person is gone)        audit ``verified`` (status ``completed``, ``verified_at``),
                                an ``ErasureVerified`` event
still there, window not over    one more check counted (``verification_checks``), the next one
                                queued after the backoff
still there at the window end   audit ``unverified`` (``last_error`` ``still_present``): the
                                ``ErasureNotVerified`` metric and alarm
no answer (429, 5xx, timeouts,  not a check: asked again later (``retry_delay``, doubling);
a wrong key or URL, no key)     past the window and its grace, ``unverified`` with the reason
==============================  ==============================================================

``VerificationPolicy`` holds the timing (first check, backoff, window, retries);
``VerificationTicket`` is the queue message; ``PersonLookup`` and ``TicketQueue`` are what the
processor needs of the App API client and of the queue.

>>> from datetime import UTC
>>> policy = VerificationPolicy()
>>> ticket = policy.first_ticket("dsar-1", "id", "user-1", datetime(2026, 11, 28, tzinfo=UTC))
>>> ticket.due_at.isoformat(), ticket.window_ends_at.isoformat()
('2026-11-28T00:15:00+00:00', '2026-11-29T00:00:00+00:00')
>>> "user-1" in repr(ticket)
False
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, Protocol, Self, runtime_checkable

from pydantic import AwareDatetime, Field, ValidationError

from cio_security.deletion.request import IdentifierType, RequestId, readable_request_id
from cio_security.errors import CioSecurityError, ConfigurationError
from cio_security.validation import StrictModel, field_names
from cio_security.workspaces import WORKSPACE_NAME_PATTERN

__all__ = [
    "DUE_TOLERANCE",
    "MAX_DELAY_SECONDS",
    "InvalidTicketError",
    "OutcomeKind",
    "PersonLookup",
    "TicketMessage",
    "TicketQueue",
    "VerificationOutcome",
    "VerificationPolicy",
    "VerificationTicket",
    "delay_seconds",
]

MAX_DELAY_SECONDS: Final = 900
"""SQS's longest message timer: "The maximum is 15 minutes"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-timers.html).
A ticket due later is delivered early and put back with the delay left."""
DUE_TOLERANCE: Final = timedelta(seconds=1)
"""A ticket due within this is due now (SQS delays are whole seconds)."""

OutcomeKind = Literal[
    "verified",
    "unverified",
    "rescheduled",
    "deferred",
    "retry_later",
    "already_done",
    "dead_lettered",
    "retry",
]
"""What became of one ticket message:

- ``verified``: the App API no longer finds the person; audit ``verified``.
- ``unverified``: the window is over without that proof; audit ``unverified``.
- ``rescheduled``: still there; the check counted and the next one queued.
- ``deferred``: not due yet (or no time left to look it up); put back unchanged.
- ``retry_later``: the App API gave no answer; asked again later, not counted as a check.
- ``already_done``: its record no longer awaits verification, or a later check superseded it.
- ``dead_lettered``: not a valid ticket, or its record is missing or names another subject.
- ``retry``: something on our side failed (the audit table, the queue): report it as a batch
  item failure so SQS delivers it again.
"""


# -- the ticket ----------------------------------------------------------------------------------------


class InvalidTicketError(CioSecurityError):
    """A verification queue message is not a ticket; ``reason`` is ``invalid_json`` or
    ``schema_error``, ``fields`` the fields at fault (names only, never values)."""

    def __init__(self, reason: str, fields: Sequence[str] = (), request_id: str | None = None) -> None:
        self.reason = reason
        self.fields = tuple(fields)
        self.request_id = request_id
        detail = f" (fields: {', '.join(self.fields)})" if self.fields else ""
        super().__init__(f"verification ticket rejected: {reason}{detail}")


class VerificationTicket(StrictModel):
    """One pending check of an accepted erasure: the body of a verification queue message.

    ``identifier`` is personal data: it lives only in the encrypted queue (never in a log, the
    audit record or an outcome; it is left out of ``repr``). ``checks`` counts the checks that
    found the person still there; ``failures`` the lookups in a row that got no answer (not
    checks). Times are timezone-aware.
    """

    version: Literal[1] = 1
    request_id: RequestId
    identifier_type: IdentifierType
    identifier: str = Field(min_length=1, max_length=1024, repr=False)
    submitted_at: AwareDatetime
    due_at: AwareDatetime
    window_ends_at: AwareDatetime
    checks: int = Field(default=0, ge=0, le=10_000)
    failures: int = Field(default=0, ge=0, le=10_000)
    workspace: str | None = Field(default=None, pattern=WORKSPACE_NAME_PATTERN)
    """The Customer.io workspace checked (its App API key and budget); None in a ticket written
    before workspaces existed: the primary workspace."""
    last_error: str | None = Field(default=None, max_length=64)
    """Why the last lookup got no answer (``app_api_503``...), the reason given if the window
    ends without one."""

    def body(self) -> str:
        """The queue message body (compact JSON; without ``workspace`` when it has none)."""
        return self.model_dump_json(exclude={"workspace"} if self.workspace is None else None)

    @classmethod
    def from_body(cls, body: str | bytes) -> Self:
        """Parse a queue message body; InvalidTicketError (never quoting the body) otherwise."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidTicketError("invalid_json") from None
        request_id = readable_request_id(data)  # never an id that could be personal data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            known = set(cls.model_fields)
            raise InvalidTicketError(
                "schema_error",
                field_names(exc, known=known),
                request_id,
            ) from None


# -- timing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationPolicy:
    """When erasures are checked.

    - the first check ``first_check_delay`` after the submission (Track needs time);
    - while the person is still there, the next check after an interval that starts at
      ``first_check_delay`` (at least ``min_interval``) and doubles after each check, up to
      ``max_interval``, never later than the window's end, where the last check is made;
    - ``window``: how long after the submission the person may still be found; a check at or
      after its end that still finds them makes the erasure ``unverified``;
    - a lookup that gets no answer is asked again after ``retry_delay``, doubling up to
      ``max_retry_delay``, and is not a check; after the window and ``answer_grace`` more without
      an answer, the erasure is ``unverified`` with the last reason.

    With the defaults (15 minutes, 24 hours, 4 hours): checks at 15 and 30 minutes, 1, 2, 4, 8,
    12, 16 and 20 hours, and 24 hours.

    >>> policy = VerificationPolicy()
    >>> [policy.interval(k) // 60 for k in (1, 2, 3, 4, 5, 6)]
    [15.0, 30.0, 60.0, 120.0, 240.0, 240.0]
    """

    first_check_delay: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(hours=24)
    max_interval: timedelta = timedelta(hours=4)
    min_interval: timedelta = timedelta(seconds=1)
    retry_delay: timedelta = timedelta(seconds=60)
    max_retry_delay: timedelta = timedelta(seconds=MAX_DELAY_SECONDS)
    answer_grace: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        for name in ("first_check_delay", "answer_grace"):
            if getattr(self, name) < timedelta(0):
                raise ConfigurationError(f"verification {name} must not be negative")
        for name in ("min_interval", "max_interval", "retry_delay", "max_retry_delay"):
            if getattr(self, name) <= timedelta(0):
                raise ConfigurationError(f"verification {name} must be positive")
        if self.window < self.first_check_delay:
            raise ConfigurationError("the verification window must not end before the first check")

    def first_ticket(
        self,
        request_id: str,
        identifier_type: IdentifierType,
        identifier: str,
        submitted_at: datetime,
        *,
        workspace: str | None = None,
    ) -> VerificationTicket:
        """The ticket of an erasure Customer.io accepted at ``submitted_at`` (in ``workspace``)."""
        return VerificationTicket(
            request_id=request_id,
            identifier_type=identifier_type,
            identifier=identifier,
            submitted_at=submitted_at,
            due_at=submitted_at + self.first_check_delay,
            window_ends_at=submitted_at + self.window,
            workspace=workspace,
        )

    def interval(self, checks: int) -> float:
        """Seconds from check number ``checks`` (1 for the first) to the next one."""
        base = max(self.first_check_delay, self.min_interval).total_seconds()
        grown = base * 2.0 ** min(max(checks - 1, 0), 62)
        return max(self.min_interval.total_seconds(), min(self.max_interval.total_seconds(), grown))

    @staticmethod
    def is_due(ticket: VerificationTicket, now: datetime) -> bool:
        """True when ``ticket``'s check is due at ``now``."""
        return ticket.due_at <= now + DUE_TOLERANCE

    def after_present(self, ticket: VerificationTicket, now: datetime) -> VerificationTicket | None:
        """The ticket of the next check after one at ``now`` found the person still there, or None
        when the window is over (the erasure is unverified)."""
        if now + DUE_TOLERANCE >= ticket.window_ends_at:
            return None
        checks = ticket.checks + 1
        due = min(now + timedelta(seconds=self.interval(checks)), ticket.window_ends_at)
        return ticket.model_copy(update={"checks": checks, "due_at": due, "failures": 0, "last_error": None})

    def after_no_answer(
        self, ticket: VerificationTicket, reason: str, now: datetime
    ) -> VerificationTicket | None:
        """The ticket to ask again after a lookup at ``now`` got no answer (``reason``), or None when
        the window and its grace are over (the erasure is unverified)."""
        if now >= ticket.window_ends_at + self.answer_grace:
            return None
        wait = self.retry_delay.total_seconds() * 2.0 ** min(ticket.failures, 62)
        wait = min(wait, self.max_retry_delay.total_seconds())
        return ticket.model_copy(
            update={
                "failures": ticket.failures + 1,
                "due_at": now + timedelta(seconds=wait),
                "last_error": reason[:64],
            }
        )


def delay_seconds(due_at: datetime, now: datetime) -> int:
    """The SQS message timer for a ticket due at ``due_at``: whole seconds, 0 to 900."""
    return min(MAX_DELAY_SECONDS, max(0, math.ceil((due_at - now).total_seconds())))


# -- collaborators -------------------------------------------------------------------------------------


@runtime_checkable
class PersonLookup(Protocol):
    """The App API lookups a check needs (``cio_security.customerio.AppClient``)."""

    def person_exists(self, identifier_type: IdentifierType, identifier: str) -> bool: ...

    def existing_ids(self, ids: Sequence[str]) -> set[str]: ...


class TicketQueue(Protocol):
    """Where tickets go back (``verification_queue.VerificationQueue``)."""

    def send(self, tickets: Sequence[VerificationTicket], now: datetime) -> list[bool]:
        """Queue ``tickets``, each delayed until its ``due_at`` (at most 900 s); one success flag
        per ticket, in order. Never raises for an AWS failure."""
        ...


@dataclass(frozen=True, slots=True)
class TicketMessage:
    """One verification queue message as the handler received it."""

    body: str
    message_id: str | None = None
    receive_count: int | None = None


@dataclass(frozen=True, slots=True)
class VerificationOutcome:
    """What became of one ticket message (``OutcomeKind``). ``reason`` is a short code safe to log;
    ``checks`` the checks counted so far; ``age_seconds`` submission to verification (verified
    only); ``dead_lettered`` True once sent to the dead-letter queue."""

    kind: OutcomeKind
    request_id: str | None
    message_id: str | None = None
    reason: str | None = None
    checks: int = 0
    age_seconds: float | None = None
    dead_lettered: bool = False
