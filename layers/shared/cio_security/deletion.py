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

A 404 on delete counts as done: the person is already gone. A 404 on suppress is a permanent
failure: the real Track API answers 200 even for an unknown id (it records a suppressed
placeholder), so a 404 there means a wrong base URL or API, and recording the erasure as done
would make the audit trail claim something that did not happen.

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

import json
import logging
import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import boto3
import httpx
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from cio_security import config
from cio_security.audit import (
    DEFAULT_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    AuditBackend,
    AuditRecord,
    StepName,
    subject_hash,
)

# Environment variable names live in config; re-exported here for the deletion function's callers.
from cio_security.config import (
    AUDIT_RETENTION_DAYS,
    CUSTOMERIO_BACKOFF_BASE_SECONDS,
    CUSTOMERIO_MAX_ATTEMPTS,
    CUSTOMERIO_RETRY_AFTER_CAP_SECONDS,
    CUSTOMERIO_TIMEOUT_SECONDS,
    DELETION_DEADLINE_WARNING_DAYS,
    DELETION_MAX_RECEIVE_COUNT,
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
from cio_security.models import DeletionRequest, infer_identifier_type

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from cio_security.customerio import TrackResponse

__all__ = [
    "AUDIT_RETENTION_DAYS",
    "CUSTOMERIO_BACKOFF_BASE_SECONDS",
    "CUSTOMERIO_MAX_ATTEMPTS",
    "CUSTOMERIO_RETRY_AFTER_CAP_SECONDS",
    "CUSTOMERIO_TIMEOUT_SECONDS",
    "DELETION_DEADLINE_WARNING_DAYS",
    "DELETION_MAX_RECEIVE_COUNT",
    "DeadLetterQueue",
    "DeadlineStatus",
    "DeletionClient",
    "DeletionOutcome",
    "DeletionProcessor",
    "DeletionSettings",
    "OutcomeKind",
    "StepCall",
    "parse_deletion_message",
    "rate_per_invocation",
    "worst_case_call_seconds",
]

logger = logging.getLogger(__name__)


DEFAULT_MAX_CONCURRENCY: Final = 5
DEFAULT_DEADLINE_WARNING_DAYS: Final = 7.0
DEFAULT_TIMEOUT_SECONDS: Final = 5.0
DEFAULT_MAX_ATTEMPTS: Final = 3
DEFAULT_BACKOFF_BASE_SECONDS: Final = 0.2
DEFAULT_BACKOFF_CAP_SECONDS: Final = 5.0
DEFAULT_RETRY_AFTER_CAP_SECONDS: Final = 10.0
DEFAULT_LEASE_SECONDS: Final = 900.0
"""Lease without a known time budget: Lambda's longest timeout, so no live invocation loses it."""
LEASE_MARGIN_SECONDS: Final = 30.0
AUDIT_WRITE_ALLOWANCE_SECONDS: Final = 2.0

OutcomeKind = Literal["completed", "already_done", "retry", "permanent"]
DeadlineStatus = Literal["ok", "near", "past"]


class DeletionClient(Protocol):
    """The two Track API calls a deletion needs (``cio_security.customerio.TrackClient``)."""

    def suppress(self, customer_id: str) -> TrackResponse: ...

    def delete(self, customer_id: str) -> TrackResponse: ...


# -- the rate budget --------------------------------------------------------------------------------


def rate_per_invocation(total_rps: float, max_concurrency: int) -> float:
    """Each invocation's share of the stack-wide Customer.io budget: ``total_rps / max_concurrency``.

    The SQS event source's ScalingConfig ``MaximumConcurrency`` caps how many invocations run at
    once, and each invocation paces all its calls (retries included) through one token bucket at
    this rate, so together they never exceed ``total_rps``. An erase is two calls, so the stack's
    ceiling is ``total_rps / 2`` erasures per second.

    >>> rate_per_invocation(100, 5)
    20.0
    """
    if not (math.isfinite(total_rps) and total_rps > 0):
        raise ConfigurationError(
            "the Customer.io rate limit must be a positive number of requests per second"
        )
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ConfigurationError("the maximum concurrency must be a positive integer")
    return float(total_rps) / max_concurrency


def worst_case_call_seconds(
    *,
    timeout: httpx.Timeout,
    max_attempts: int,
    backoff_base: float,
    backoff_cap: float,
    retry_after_cap: float,
) -> float:
    """The longest one TrackClient call can take: every attempt hits its connect and read timeouts,
    and every wait between attempts is the longest the client accepts (its backoff, or a
    ``Retry-After`` up to ``retry_after_cap``; a longer one is not waited for)."""
    per_attempt = (timeout.connect or 0.0) + (timeout.read or 0.0)
    waits = sum(
        max(min(backoff_cap, backoff_base * 2.0**i), retry_after_cap) for i in range(max_attempts - 1)
    )
    return max_attempts * per_attempt + waits


# -- settings ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletionSettings:
    """The deletion function's settings, from environment variables (DESIGN section 7 plus the
    ones named in this module). Explicit constructor arguments win; ``from_env`` reads them."""

    audit_table: str
    dead_letter_queue_url: str
    track_url: str | None = None
    rate_limit_rps: float = config.DEFAULT_RATE_LIMIT_RPS
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    retention_days: int = DEFAULT_RETENTION_DAYS
    deadline_warning_days: float = DEFAULT_DEADLINE_WARNING_DAYS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS
    backoff_cap_seconds: float = DEFAULT_BACKOFF_CAP_SECONDS
    retry_after_cap_seconds: float = DEFAULT_RETRY_AFTER_CAP_SECONDS
    max_receive_count: int = 0
    """The deletion queue's ``maxReceiveCount`` (0: unknown, SQS alone dead-letters exhausted retries)."""

    @classmethod
    def from_env(cls) -> DeletionSettings:
        """Read and check the settings; a missing or invalid one raises ConfigurationError."""
        return cls(
            audit_table=config.require_env(config.AUDIT_TABLE),
            dead_letter_queue_url=config.require_env(config.DEAD_LETTER_QUEUE_URL),
            track_url=config.env_str(config.CUSTOMERIO_TRACK_URL) or None,
            rate_limit_rps=config.env_float(
                config.CUSTOMERIO_RATE_LIMIT_RPS, config.DEFAULT_RATE_LIMIT_RPS, minimum=0.001
            ),
            max_concurrency=config.env_int(
                config.DELETION_MAX_CONCURRENCY, DEFAULT_MAX_CONCURRENCY, minimum=1
            ),
            retention_days=config.env_int(
                AUDIT_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, minimum=MIN_RETENTION_DAYS
            ),
            deadline_warning_days=config.env_float(
                DELETION_DEADLINE_WARNING_DAYS, DEFAULT_DEADLINE_WARNING_DAYS
            ),
            timeout_seconds=config.env_float(
                CUSTOMERIO_TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS, minimum=0.01
            ),
            max_attempts=config.env_int(CUSTOMERIO_MAX_ATTEMPTS, DEFAULT_MAX_ATTEMPTS, minimum=1),
            backoff_base_seconds=config.env_float(
                CUSTOMERIO_BACKOFF_BASE_SECONDS, DEFAULT_BACKOFF_BASE_SECONDS
            ),
            retry_after_cap_seconds=config.env_float(
                CUSTOMERIO_RETRY_AFTER_CAP_SECONDS, DEFAULT_RETRY_AFTER_CAP_SECONDS
            ),
            max_receive_count=config.env_int(DELETION_MAX_RECEIVE_COUNT, 0),
        )

    @property
    def timeout(self) -> httpx.Timeout:
        """The Track client's timeouts: connect at most 2 s, read/write/pool ``timeout_seconds``."""
        seconds = self.timeout_seconds
        return httpx.Timeout(connect=min(2.0, seconds), read=seconds, write=seconds, pool=seconds)

    @property
    def rate_per_invocation(self) -> float:
        """This invocation's share of the Customer.io budget (see ``rate_per_invocation``)."""
        return rate_per_invocation(self.rate_limit_rps, self.max_concurrency)

    @property
    def deadline_warning(self) -> timedelta:
        """How close to its statutory deadline a request counts as at risk."""
        return timedelta(days=self.deadline_warning_days)

    @property
    def worst_case_call_seconds(self) -> float:
        """The longest one Track call can take with these settings (``worst_case_call_seconds``):
        the function's Timeout should exceed two of them (an erase) plus the audit writes."""
        return worst_case_call_seconds(
            timeout=self.timeout,
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base_seconds,
            backoff_cap=self.backoff_cap_seconds,
            retry_after_cap=self.retry_after_cap_seconds,
        )

    @property
    def step_budget_seconds(self) -> float:
        """The least time left in the invocation to start a step: one attempt (connect and read
        timeouts) plus the audit writes around it. A step whose retries then run past the
        invocation's end is cut off by Lambda; SQS redelivers the batch and the lease, sized to the
        invocation, has expired by then, so the retry resumes at the first step not recorded done."""
        return (self.timeout.connect or 0.0) + (self.timeout.read or 0.0) + AUDIT_WRITE_ALLOWANCE_SECONDS


# -- messages ---------------------------------------------------------------------------------------

_KNOWN_FIELDS: Final = frozenset(DeletionRequest.model_fields)


def _readable_request_id(data: Any) -> str | None:
    """The message's request_id if it is one a DeletionRequest would accept (for the DLQ)."""
    if not isinstance(data, dict):
        return None
    value = data.get("request_id")
    if isinstance(value, str) and 1 <= len(value) <= 128 and value.isprintable():
        return value
    return None


def parse_deletion_message(body: str | bytes) -> DeletionRequest:
    """Parse a deletion queue message body into a DeletionRequest.

    Raises InvalidDeletionRequestError with reason ``invalid_json`` (not JSON) or ``schema_error``
    (JSON, but not a valid request). The error names invalid fields only when they are fields of
    the model: an unexpected key, which could itself be personal data, is never named.

    >>> parse_deletion_message('{"request_id": "r1", "identifier": "u1"}').steps
    ('suppress', 'delete')
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidDeletionRequestError("invalid_json") from None
    request_id = _readable_request_id(data)
    if not isinstance(data, dict):
        raise InvalidDeletionRequestError("schema_error", fields=("(root)",))
    try:
        return DeletionRequest.model_validate(data)
    except ValidationError as exc:
        fields = sorted(
            {
                str(err["loc"][0]) if err["loc"] and err["loc"][0] in _KNOWN_FIELDS else "(unexpected field)"
                for err in exc.errors()
            }
        )
        raise InvalidDeletionRequestError(
            "schema_error", request_id=request_id, fields=tuple(fields)
        ) from None


class DeadLetterQueue:
    """Where permanent failures go at once: the original body, with the reason as an attribute."""

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        """The SQS client, created on first use with ``config.boto_config()``."""
        if self._client is None:
            self._client = boto3.client("sqs", config=config.boto_config())
        return self._client

    def send(
        self,
        body: str,
        *,
        reason: str,
        request_id: str | None = None,
        message_id: str | None = None,
        last_error: str | None = None,
    ) -> str:
        """Send ``body`` unchanged with attributes ``reason`` and, when known, ``request_id``,
        ``source_message_id`` and ``last_error`` (the cause behind ``retries_exhausted``). Returns
        the new message id; raises DeadLetterError when SQS refuses or cannot be reached (the source
        message then stays on its queue, so nothing is lost)."""
        named = {
            "reason": reason,
            "request_id": request_id,
            "source_message_id": message_id,
            "last_error": last_error,
        }
        attributes: dict[str, Any] = {
            name: {"DataType": "String", "StringValue": value} for name, value in named.items() if value
        }
        try:
            response = self.client.send_message(
                QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes
            )
        except (ClientError, BotoCoreError) as exc:
            raise DeadLetterError(f"dead-letter queue refused the message (reason {reason})") from exc
        return str(response.get("MessageId", ""))


# -- outcomes ---------------------------------------------------------------------------------------


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
    included). ``audit`` keeps the records: ``AuditStore`` (DynamoDB) or ``MemoryAuditStore``.
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
        """One Track call. The client answers delete's 404 (already gone: done) as a response; a
        404 on suppress raises NotFoundError, a permanent failure (module docstring)."""
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
