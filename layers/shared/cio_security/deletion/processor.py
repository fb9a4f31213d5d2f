"""GDPR/CCPA deletion requests (DESIGN section 4): parse, suppress and delete in Customer.io,
audit, and decide what happens to the message. No Lambda event shapes: the handler passes a
message body and gets a ``DeletionOutcome`` back.

``DeletionProcessor.process(request)``:

1. leases the request's audit record (``AuditStore.begin``); a completed record returns
   ``already_done`` without any Customer.io call, another invocation's unexpired lease ``retry``;
2. runs each step of ``request.steps`` not yet recorded done (``erase``: suppress, then delete;
   ``delete``: delete) and records it done with Customer.io's status code right after the call,
   so a crash between suppress and delete resumes at delete and no step is ever sent twice
   after it was recorded;
3. completes the record, or records the failure: a transient one (429, 5xx, timeouts,
   connection errors, after the client's own retries) releases the lease and answers ``retry``;
   a permanent one (400, 401 after the client's one credential refresh, 403, a redirect) marks
   the record ``failed`` and answers ``permanent``.

A 404 on either step is a permanent failure, never "already gone": the Track API answers 200
whether or not the person existed (it documents 200 and 401 only), so a 404 means a wrong base
URL or a proxy in the way, and recording the erasure as done would make the audit trail claim
something that did not happen.

``process_message(body)`` adds the message-level policy: invalid JSON or a schema error is
permanent, and a permanent outcome is sent to the dead-letter queue with its reason (the original
body, attributes ``reason``, ``request_id`` when known, ``source_message_id``). On a message's
last delivery (its receive count has reached the queue's ``maxReceiveCount``, given as
``max_receive_count``) a ``retry`` is dead-lettered too, with reason ``retries_exhausted`` and the
cause in ``last_error``, rather than left for SQS to move without one. An unexpected exception
while processing becomes a ``retry`` with reason ``unexpected_error`` (so it reaches the
dead-letter queue with that reason on the last delivery, never reason-less).

Identifiers are never logged, stored or put in an outcome or an error text: the audit record
holds ``subject_hash``, logs and reasons hold request ids and short codes.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from cio_security.audit.base import AuditBackend
from cio_security.audit.record import AuditRecord, StepName, subject_hash
from cio_security.deletion.dead_letters import DeadLetterQueue
from cio_security.deletion.outcome import DeadlineStatus, DeletionOutcome, OutcomeKind, StepCall
from cio_security.deletion.request import DeletionRequest, infer_identifier_type, parse_deletion_message
from cio_security.deletion.settings import (
    DEFAULT_DEADLINE_WARNING_DAYS,
    DEFAULT_LEASE_SECONDS,
    LEASE_MARGIN_SECONDS,
)
from cio_security.errors import (
    AuditConflictError,
    AuditError,
    ConfigurationError,
    CustomerIOError,
    DeadLetterError,
    InvalidDeletionRequestError,
    LeaseHeldError,
    PermanentError,
    SecretError,
    TransientError,
)

if TYPE_CHECKING:
    from cio_security.customerio.track import TrackResponse

__all__ = ["DeletionClient", "DeletionProcessor"]

logger = logging.getLogger(__name__)


class DeletionClient(Protocol):
    """The two Track API calls a deletion needs (``cio_security.customerio.TrackClient``)."""

    def suppress(self, customer_id: str) -> TrackResponse: ...

    def delete(self, customer_id: str) -> TrackResponse: ...


@dataclass
class _Attempt:
    """One processing attempt of a leased request: what ``process`` carries between its steps."""

    request: DeletionRequest
    record: AuditRecord
    deadline: DeadlineStatus
    calls: list[StepCall] = field(default_factory=list)

    def outcome(self, kind: OutcomeKind, reason: str | None = None, **extra: Any) -> DeletionOutcome:
        return DeletionOutcome(
            kind, self.request.request_id, reason, tuple(self.calls), self.deadline, **extra
        )


def _customerio_reason(exc: CustomerIOError) -> str:
    """``customerio_<status>``, or ``customerio_unreachable`` / ``customerio_rejected`` without one."""
    if exc.status is not None:
        return f"customerio_{exc.status}"
    return "customerio_unreachable" if isinstance(exc, TransientError) else "customerio_rejected"


def _utc_now() -> datetime:
    return datetime.now(UTC)


# -- the processor ----------------------------------------------------------------------------------


class DeletionProcessor:
    """Carries out deletion requests against Customer.io with an audit trail (module docstring).

    ``client`` makes the Track calls (its own retries, backoff, rate limit and 401 refresh
    included). ``audit`` keeps the records: ``AuditStore`` (DynamoDB) or another ``BaseAuditStore``.
    ``pepper`` keys the subject hash. ``dead_letters`` receives permanent failures in
    ``process_message``. ``deadline_warning``: how close to the statutory deadline a request
    counts as at risk. ``step_budget_seconds``: a step is not started with less time left than
    this (see ``DeletionSettings.step_budget_seconds``). ``max_receive_count``: the queue's
    ``maxReceiveCount``, so the last delivery of a message that still needs a retry is
    dead-lettered with its reason (0: leave that to SQS). ``clock`` is injectable for tests.
    Thread-safe: one processor serves a whole concurrent batch.

    >>> processor = DeletionProcessor(track_client, AuditStore("audit"), pepper)   # doctest: +SKIP
    >>> processor.process(request).kind                                              # doctest: +SKIP
    'completed'
    """

    def __init__(
        self,
        client: DeletionClient,
        audit: AuditBackend,
        pepper: str | bytes,
        *,
        dead_letters: DeadLetterQueue | None = None,
        clock: Callable[[], datetime] = _utc_now,
        deadline_warning: timedelta = timedelta(days=DEFAULT_DEADLINE_WARNING_DAYS),
        step_budget_seconds: float = 0.0,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        lease_margin_seconds: float = LEASE_MARGIN_SECONDS,
        max_receive_count: int = 0,
    ) -> None:
        if not pepper:
            raise ConfigurationError("the pepper must not be empty")
        self.client = client
        self.audit = audit
        self.dead_letters = dead_letters
        self.clock = clock
        self.deadline_warning = deadline_warning
        self.step_budget_seconds = step_budget_seconds
        self.lease_seconds = lease_seconds
        self.lease_margin_seconds = lease_margin_seconds
        self.max_receive_count = max_receive_count
        self._pepper = pepper

    def __repr__(self) -> str:
        return f"DeletionProcessor(audit={self.audit!r})"

    def subject_hash(self, request: DeletionRequest) -> str:
        """The keyed hash that stands for the request's subject in its audit record."""
        identifier_type = request.identifier_type or infer_identifier_type(request.identifier)
        return subject_hash(identifier_type, request.identifier, self._pepper)

    def deadline_status(self, deadline: datetime, now: datetime) -> DeadlineStatus:
        """``past`` after the statutory ``deadline``, ``near`` inside the warning window, else ``ok``."""
        if now >= deadline:
            return "past"
        if deadline - now <= self.deadline_warning:
            return "near"
        return "ok"

    # -- one message -----------------------------------------------------------------------------

    def process_message(
        self,
        body: str,
        *,
        message_id: str | None = None,
        receive_count: int | None = None,
        time_left: Callable[[], float] | None = None,
    ) -> DeletionOutcome:
        """Parse and process one queue message; send a permanent failure to the dead-letter queue.

        ``receive_count`` is the message's ApproximateReceiveCount: on its last delivery
        (``receive_count >= max_receive_count``) a ``retry`` is dead-lettered as
        ``retries_exhausted``. A dead-letter send that fails turns the outcome into ``retry``
        (reason ``dead_letter_unavailable``): the message stays on its queue and nothing is lost.
        """
        outcome = self._outcome(body, time_left)
        last_error = None
        if outcome.kind == "retry" and self._last_delivery(receive_count):
            logger.warning(
                "retries exhausted on the message's last delivery",
                extra={"request_id": outcome.request_id, "reason": outcome.reason, "receives": receive_count},
            )
            last_error = outcome.reason
            outcome = replace(outcome, kind="permanent", reason="retries_exhausted")
        if outcome.kind != "permanent" or self.dead_letters is None:
            return outcome
        try:
            self.dead_letters.send(
                body,
                reason=outcome.reason or "permanent",
                request_id=outcome.request_id,
                message_id=message_id,
                last_error=last_error,
            )
        except DeadLetterError:
            logger.exception(
                "permanent failure not sent to the dead-letter queue; left for redelivery",
                extra={"request_id": outcome.request_id, "reason": outcome.reason},
            )
            return replace(outcome, kind="retry", reason="dead_letter_unavailable", record=None)
        logger.warning(
            "deletion request sent to the dead-letter queue",
            extra={"request_id": outcome.request_id, "reason": outcome.reason, "last_error": last_error},
        )
        return replace(outcome, dead_lettered=True)

    def _outcome(self, body: str, time_left: Callable[[], float] | None) -> DeletionOutcome:
        """Parse and process ``body``; never raises for anything the message or a dependency did."""
        request_id = None
        try:
            request = parse_deletion_message(body)
            request_id = request.request_id
            return self.process(request, time_left=time_left)
        except InvalidDeletionRequestError as exc:
            logger.warning(
                "deletion message rejected",
                extra={"reason": exc.reason, "request_id": exc.request_id, "fields": list(exc.fields)},
            )
            return DeletionOutcome("permanent", exc.request_id, exc.reason)
        except Exception as exc:  # noqa: BLE001 - the safety net: retried, then dead-lettered with a reason
            # The type and the stack only: an exception's text may quote the identifier.
            logger.error(
                "unexpected error while processing a deletion request",
                extra={
                    "request_id": request_id,
                    "error": type(exc).__name__,
                    "stack": "".join(traceback.format_tb(exc.__traceback__)),
                },
            )
            return DeletionOutcome("retry", request_id, "unexpected_error")

    def _last_delivery(self, receive_count: int | None) -> bool:
        """True when SQS will not deliver this message again (it would move it to the DLQ)."""
        return bool(self.max_receive_count) and (receive_count or 0) >= self.max_receive_count

    # -- one request -----------------------------------------------------------------------------

    def process(
        self, request: DeletionRequest, *, time_left: Callable[[], float] | None = None
    ) -> DeletionOutcome:
        """Carry out ``request`` (module docstring). ``time_left()`` gives the seconds left in the
        invocation: the lease lasts that long plus a margin, and a step is not started without
        ``step_budget_seconds`` left. Never raises for a Customer.io or audit failure: the outcome
        says what happened."""
        rid = request.request_id
        now = self.clock()
        lease = (time_left() + self.lease_margin_seconds) if time_left is not None else self.lease_seconds
        try:
            record = self.audit.begin(request, now, self.subject_hash(request), lease)
        except LeaseHeldError:
            logger.info("request is being processed by another invocation", extra={"request_id": rid})
            return DeletionOutcome("retry", rid, "lease_held")
        except AuditConflictError:
            logger.error("request_id already used for another request", extra={"request_id": rid})
            return DeletionOutcome("permanent", rid, "request_id_conflict")
        except AuditError:
            logger.exception("audit store unavailable", extra={"request_id": rid})
            return DeletionOutcome("retry", rid, "audit_unavailable")
        if record.finished:
            logger.info("request already completed; nothing to do", extra={"request_id": rid})
            return DeletionOutcome("already_done", rid, record=record)

        # The record's timestamps, not the message's: a message without requested_at gets "now" each
        # time it is parsed, while the record keeps the first delivery's.
        deadline = datetime.fromisoformat(record.deadline)
        attempt = _Attempt(request, record, self.deadline_status(deadline, now))
        if attempt.deadline != "ok":
            logger.warning(
                "deletion request deadline %s",
                "passed" if attempt.deadline == "past" else "near",
                extra={
                    "request_id": rid,
                    "deadline": record.deadline,
                    "regulation": request.regulation,
                },
            )
        for step in request.steps:
            if record.step_done(step):
                continue
            if time_left is not None and time_left() < self.step_budget_seconds:
                logger.warning(
                    "not enough time left for the next step", extra={"request_id": rid, "step": step}
                )
                return self._release(attempt, "out_of_time")
            failed = self._step(attempt, step)
            if failed is not None:
                return failed
        return self._complete(attempt)

    def _step(self, attempt: _Attempt, step: StepName) -> DeletionOutcome | None:
        """Call Customer.io for ``step`` and record it done; an outcome only when it failed."""
        rid, token = attempt.request.request_id, attempt.record.lease_token
        try:
            status = self._call(step, attempt.request.identifier)
        except TransientError as exc:
            reason = _customerio_reason(exc)
            attempt.calls.append(StepCall(step, exc.status))
            logger.warning(
                "deletion step failed; will retry",
                extra={"request_id": rid, "step": step, "reason": reason, "attempt": attempt.record.attempts},
            )
            self._safely(
                self.audit.record_transient_failure,
                rid,
                step,
                exc.status,
                reason,
                self.clock(),
                lease_token=token,
            )
            return attempt.outcome("retry", reason)
        except PermanentError as exc:
            reason = _customerio_reason(exc)
            attempt.calls.append(StepCall(step, exc.status))
            logger.error(
                "deletion step failed permanently", extra={"request_id": rid, "step": step, "reason": reason}
            )
            self._safely(
                self.audit.fail,
                rid,
                reason,
                self.clock(),
                step=step,
                status_code=exc.status,
                lease_token=token,
            )
            return attempt.outcome("permanent", reason)
        except (ConfigurationError, SecretError) as exc:
            logger.error(
                "deletion step not attempted: %s", type(exc).__name__, extra={"request_id": rid, "step": step}
            )
            return self._release(attempt, "configuration")
        except BaseException:
            self._release(attempt, "unexpected_error")
            raise
        attempt.calls.append(StepCall(step, status))
        try:
            self.audit.mark_step(rid, step, status, self.clock(), lease_token=token)
        except LeaseHeldError:
            logger.error("lease lost before the step was recorded", extra={"request_id": rid, "step": step})
            return attempt.outcome("retry", "lease_lost")
        except AuditError:
            logger.exception("step done but not recorded", extra={"request_id": rid, "step": step})
            return self._release(attempt, "audit_unavailable")
        logger.info("deletion step done", extra={"request_id": rid, "step": step, "status": status})
        return None

    def _complete(self, attempt: _Attempt) -> DeletionOutcome:
        request = attempt.request
        try:
            final = self.audit.complete(
                request.request_id, self.clock(), lease_token=attempt.record.lease_token
            )
        except LeaseHeldError:
            return attempt.outcome("retry", "lease_lost")
        except AuditError:
            logger.exception(
                "request done but not recorded complete", extra={"request_id": request.request_id}
            )
            return self._release(attempt, "audit_unavailable")
        completed = datetime.fromisoformat(final.completed_at) if final.completed_at else self.clock()
        age = (completed - datetime.fromisoformat(final.requested_at)).total_seconds()
        logger.info(
            "deletion request completed",
            extra={
                "request_id": request.request_id,
                "action": request.action,
                "attempts": final.attempts,
                "age_seconds": age,
            },
        )
        return attempt.outcome("completed", age_seconds=age, record=final)

    def _release(self, attempt: _Attempt, reason: str) -> DeletionOutcome:
        """Give the lease back (``reason`` recorded as the last error) and answer ``retry``."""
        self._safely(
            self.audit.release,
            attempt.request.request_id,
            reason,
            self.clock(),
            lease_token=attempt.record.lease_token,
        )
        return attempt.outcome("retry", reason)

    def _call(self, step: StepName, identifier: str) -> int:
        """One Track call. A 404 raises NotFoundError, a permanent failure (module docstring)."""
        response = self.client.suppress(identifier) if step == "suppress" else self.client.delete(identifier)
        return response.status

    @staticmethod
    def _safely(write: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """An audit write on a failure path: its own failure is logged, never raised (the message is
        redelivered either way and the lease expires on its own)."""
        try:
            write(*args, **kwargs)
        except AuditError as exc:
            logger.warning("audit write failed on a failure path: %s", type(exc).__name__)
