"""GDPR/CCPA deletion requests (DESIGN section 4): a batch of queue messages in, one outcome per
message out. No Lambda event shapes: the handler passes message bodies and gets
``DeletionOutcome``s back.

``DeletionProcessor.process_batch(messages)``:

1. parses every message (invalid JSON or a schema error is permanent); a second message of a
   ``request_id`` already in the batch shares the first one's fate (or is a ``request_id_conflict``
   when it names another subject, action or set of workspaces) and calls nothing itself, unless
   the first one was itself a ``request_id_conflict`` with the record (an impostor): the copies
   after it are then processed on their own, the first of them like any first message, so a
   genuine copy behind an impostor proceeds; a message whose
   ``workspaces`` names a workspace the stack is not configured with (``WorkspaceRoutes``) is a
   ``schema_error`` on the field ``workspaces``, with no audit record and nothing sent;
2. leases each request's audit record (``AuditStore.begin``, concurrently on ``executor``), created
   with one state per targeted workspace (every configured one, or the message's subset). The
   targets stay as first recorded: a later message whose resolved set differs (another subset, or
   none when the record targets a subset) is a ``request_id_conflict``, decided by ``begin``
   before any lease or write, whatever the record's state (finished included), so the genuine
   record is never touched (a record written before workspaces existed targets the primary, and a
   message without ``workspaces`` is no conflict with it: ``BaseAuditStore.begin``). A record
   Customer.io already accepted everywhere returns ``already_done`` without any call, another
   invocation's unexpired lease ``retry``;
3. sends, per workspace, every leased request not yet accepted there as one Track API v2 operation
   (``erase``: suppress, which deletes the person and blocks their identifiers; ``delete``: delete)
   in as few ``POST /api/v2/batch`` requests as the size limits allow (``submission.submit``: what
   each answer means for each request, 207s and whole-request 400s included), through that
   workspace's client and token bucket; the workspaces' calls run concurrently. A workspace that
   accepted a request's operation is never sent it again (a redelivery, a redrive, a retry after
   another workspace's failure);
4. records each request's results (every workspace's) in one write right after the calls:
   accepted workspaces done (status code, Customer.io's request id, ``submitted_at``) and, where
   nothing verifies them, completed with verification ``not_verified``; a transient failure keeps
   its workspace pending with the error, releases the lease and answers ``retry``; a permanent one
   marks its workspace and the record ``failed`` and answers ``permanent`` (naming the workspace);
5. with a workspace's verifier (``verification_protocol.ErasureVerifier``): schedules the checks of
   its accepted requests, then marks them ``pending`` and ends the delivery (``submitted`` once
   every workspace is accepted); a verifier that cannot be built or cannot schedule makes the
   request ``retry`` (its redelivery calls no Track API there, only schedules);
6. settles each message: a permanent outcome goes to the dead-letter queue with its reason (the
   original body, attributes ``reason``, ``fields`` of a schema error, ``request_id`` when known,
   ``workspace`` when one failed, ``source_message_id``, ``receive_count``) and its audit record
   becomes ``dead_lettered``; on a message's last delivery (its receive count has reached the
   queue's ``maxReceiveCount``, given as ``max_receive_count``) a ``retry`` is dead-lettered too,
   as ``retries_exhausted`` with the cause in ``last_error``, rather than left for SQS to move
   without one;
7. publishes ``ErasureCompleted`` (once the whole request is complete) and ``ErasureFailed`` events
   (``events.ErasureEvents``) when a publisher is given. A publish failure is logged and reported
   in the outcome (``event_published``), never allowed to change it: the audit record is the
   source of truth.

Guarantees: a workspace whose acceptance was recorded is never sent the request again; a crash
between a Track call and its audit write is resumed by sending the operation again, harmless
because suppress and delete are idempotent and Customer.io answers 200 whether or not the person
existed. An unexpected exception releases every lease it holds and answers ``retry`` with reason
``unexpected_error`` (dead-lettered with that reason on the last delivery, never reason-less).

Identifiers are never logged, stored or put in an outcome, an event or an error text: the audit
record holds ``subject_hash``, logs and reasons hold request ids and short codes.
"""

from __future__ import annotations

import contextvars
import hmac
import logging
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from cio_security.audit import transitions
from cio_security.audit.base import AuditBackend
from cio_security.audit.record import AuditRecord, StepName, subject_hash, submission_step
from cio_security.customerio.v2 import PersonOperation
from cio_security.deletion.dead_letters import DeadLetterQueue
from cio_security.deletion.events import ErasureEvent, ErasureEvents, ErasureEventType
from cio_security.deletion.outcome import (
    DeadlineStatus,
    DeletionOutcome,
    OutcomeKind,
    QueueMessage,
    StepCall,
)
from cio_security.deletion.request import DeletionRequest, parse_deletion_message
from cio_security.deletion.routing import WorkspaceRoutes
from cio_security.deletion.settings import (
    DEFAULT_DEADLINE_WARNING_DAYS,
    DEFAULT_LEASE_SECONDS,
    LEASE_MARGIN_SECONDS,
)
from cio_security.deletion.submission import BatchClient, Refused, SubmissionResult, submit
from cio_security.deletion.verification_protocol import ErasureVerifier
from cio_security.errors import (
    AuditConflictError,
    AuditError,
    CioSecurityError,
    ConfigurationError,
    DeadLetterError,
    InvalidDeletionRequestError,
    LeaseHeldError,
)
from cio_security.workspaces import UnknownWorkspaceError

__all__ = ["DeletionProcessor"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Attempt:
    """One leased request of a batch: what the phases carry between them. ``record`` is the
    record as its last write stored it (it holds the lease until a write releases it);
    ``outcome`` is set once the request's fate in this batch is known."""

    request: DeletionRequest
    record: AuditRecord
    deadline: DeadlineStatus
    targets: tuple[str, ...] = ()
    """The workspaces the request erases in (as its record was first written), configured order."""
    calls: list[StepCall] = field(default_factory=list)
    results: dict[str, SubmissionResult] = field(default_factory=dict)
    """This delivery's Track result per workspace sent to."""
    to_schedule: tuple[str, ...] = ()
    """Accepted workspaces whose verification is to be scheduled (the lease still held)."""
    unsure: tuple[str, ...] = ()
    """Accepted workspaces whose verifier could not be built: retried (``verification_unavailable``)."""
    outcome: DeletionOutcome | None = None

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @property
    def step(self) -> StepName:
        return submission_step(self.request.action)

    def operation(self) -> PersonOperation:
        identifier_type = self.request.identifier_type or "id"  # always set by the model
        return PersonOperation(self.step, identifier_type, self.request.identifier)

    def finish(self, kind: OutcomeKind, reason: str | None = None, **extra: Any) -> DeletionOutcome:
        self.outcome = DeletionOutcome(
            kind, self.request_id, reason, tuple(self.calls), self.deadline, **extra
        )
        return self.outcome


# -- the processor ----------------------------------------------------------------------------------


class DeletionProcessor:
    """Carries out deletion requests against Customer.io with an audit trail (module docstring).

    ``client`` makes the Track v2 batch calls (``TrackClient``: its own retries, backoff, rate
    limit and 401 refresh included), or is the stack's ``WorkspaceRoutes``: one client (and
    verifier) per Customer.io workspace, each request erased in every workspace it targets.
    ``audit`` keeps the records: ``AuditStore`` (DynamoDB) or
    another ``BaseAuditStore``. ``pepper`` keys the subject hash. ``dead_letters`` receives
    permanent failures. ``verifier`` schedules erasure checks (none: requests complete as
    ``not_verified``). ``events`` publishes erasure events (none: no events). ``executor`` runs a
    batch's audit writes concurrently (none: one after another). ``deadline_warning``: how close
    to the statutory deadline a request counts as at risk. ``call_budget_seconds``: a Track call is
    not started with less time left than this (``DeletionSettings.call_budget_seconds``: a call at
    its worst and the writes after it). ``max_receive_count``: the queue's ``maxReceiveCount``, so
    the last delivery of a message that still needs a retry is dead-lettered with its reason (0:
    leave that to SQS). ``clock`` is injectable for tests. Thread-safe: one processor serves
    concurrent batches.

    >>> processor = DeletionProcessor(track_client, AuditStore("audit"), pepper)   # doctest: +SKIP
    >>> [o.kind for o in processor.process_batch([QueueMessage(body)])]             # doctest: +SKIP
    ['completed']
    """

    def __init__(
        self,
        client: BatchClient | WorkspaceRoutes,
        audit: AuditBackend,
        pepper: str | bytes,
        *,
        dead_letters: DeadLetterQueue | None = None,
        verifier: ErasureVerifier | None = None,
        events: ErasureEvents | None = None,
        executor: Executor | None = None,
        clock: Callable[[], datetime] = _utc_now,
        deadline_warning: timedelta = timedelta(days=DEFAULT_DEADLINE_WARNING_DAYS),
        call_budget_seconds: float = 0.0,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        lease_margin_seconds: float = LEASE_MARGIN_SECONDS,
        max_receive_count: int = 0,
    ) -> None:
        if not pepper:
            raise ConfigurationError("the pepper must not be empty")
        if isinstance(client, WorkspaceRoutes):
            if verifier is not None:
                raise ConfigurationError("with WorkspaceRoutes, each workspace's verifier comes from them")
            self.routes = client
        else:
            self.routes = WorkspaceRoutes.single(client, verifier)
        self.client = client
        self.audit = audit
        self.dead_letters = dead_letters
        self.verifier = verifier
        self.events = events
        self.executor = executor
        self.clock = clock
        self.deadline_warning = deadline_warning
        self.call_budget_seconds = call_budget_seconds
        self.lease_seconds = lease_seconds
        self.lease_margin_seconds = lease_margin_seconds
        self.max_receive_count = max_receive_count
        self._pepper = pepper

    def __repr__(self) -> str:
        return f"DeletionProcessor(audit={self.audit!r}, routes={self.routes!r})"

    def subject_hash(self, request: DeletionRequest) -> str:
        """The keyed hash that stands for the request's subject in its audit record."""
        return subject_hash(request.identifier_type or "id", request.identifier, self._pepper)

    def deadline_status(self, deadline: datetime, now: datetime) -> DeadlineStatus:
        """``past`` after the statutory ``deadline``, ``near`` inside the warning window, else ``ok``."""
        if now >= deadline:
            return "past"
        if deadline - now <= self.deadline_warning:
            return "near"
        return "ok"

    # -- messages --------------------------------------------------------------------------------

    def process_message(
        self,
        body: str,
        *,
        message_id: str | None = None,
        receive_count: int | None = None,
        time_left: Callable[[], float] | None = None,
    ) -> DeletionOutcome:
        """``process_batch`` of one message."""
        return self.process_batch([QueueMessage(body, message_id, receive_count)], time_left=time_left)[0]

    def process_batch(
        self, messages: Sequence[QueueMessage], *, time_left: Callable[[], float] | None = None
    ) -> list[DeletionOutcome]:
        """Carry out a batch of queue messages; one outcome per message, in order (module
        docstring). ``time_left()`` gives the seconds left in the invocation: leases last that long
        plus a margin, and no Track call starts without ``call_budget_seconds`` left. Never raises
        for anything a message or a dependency did."""
        parsed: list[DeletionRequest | DeletionOutcome] = [self._parse(m.body) for m in messages]
        decided: list[DeletionOutcome | None] = [
            item if isinstance(item, DeletionOutcome) else None for item in parsed
        ]
        pending = [index for index, item in enumerate(parsed) if isinstance(item, DeletionRequest)]
        while pending:
            pending = self._process_round(parsed, pending, decided, time_left)
        outcomes = [outcome for outcome in decided if outcome is not None]
        pairs = list(zip(messages, outcomes, strict=True))  # every message decided, in order
        # Only dead letters call out: settle the rest in place, those concurrently.
        sending = [i for i, (m, o) in enumerate(pairs) if self._dead_letter_bound(m, o)]
        settled = [outcome for _, outcome in pairs]
        for index, outcome in zip(
            sending, self._map(lambda i: self._settle(*pairs[i]), sending), strict=True
        ):
            settled[index] = outcome
        return self._publish_failures(settled)

    def _process_round(
        self,
        parsed: Sequence[DeletionRequest | DeletionOutcome],
        pending: Sequence[int],
        decided: list[DeletionOutcome | None],
        time_left: Callable[[], float] | None,
    ) -> list[int]:
        """Process the first message of each request_id among ``pending`` (indexes of requests in
        ``parsed``) and decide the later copies by its outcome (``_copy_outcome``), into
        ``decided``. A first message refused on its own (``_refused_alone``: a conflict with the
        record, nothing of its own recorded) tells nothing of the copies after it: they are
        returned, to be processed in a next round, the first of them as a first message, so a
        genuine copy behind an impostor proceeds and only impostors are conflicts."""
        requests = {index: item for index in pending if isinstance(item := parsed[index], DeletionRequest)}
        primaries: dict[str, int] = {}
        for index, item in requests.items():
            primaries.setdefault(item.request_id, index)
        try:
            firsts = [requests[index] for index in primaries.values()]
            results = dict(zip(primaries, self.process_requests(firsts, time_left=time_left), strict=True))
        except Exception as exc:  # noqa: BLE001 - the safety net: retried, then dead-lettered with a reason
            # The type and the stack only: an exception's text may quote an identifier.
            logger.error(
                "unexpected error while processing deletion requests",
                extra={
                    "request_ids": list(primaries),
                    "error": type(exc).__name__,
                    "stack": "".join(traceback.format_tb(exc.__traceback__)),
                },
            )
            results = {rid: DeletionOutcome("retry", rid, "unexpected_error") for rid in primaries}
        later: list[int] = []
        for index, item in requests.items():
            first, result = primaries[item.request_id], results[item.request_id]
            if first == index:
                decided[index] = result
            elif self._refused_alone(result):
                later.append(index)
            else:
                decided[index] = self._copy_outcome(item, requests[first], result)
        return later

    @staticmethod
    def _refused_alone(outcome: DeletionOutcome) -> bool:
        """True when a first message's outcome says nothing of another message of its request_id:
        a ``request_id_conflict`` decided by ``begin`` (another subject, action or set of
        workspaces than the record's), or a ``schema_error`` of that message alone (a workspace the
        stack does not serve); no record attached, nothing written."""
        return (
            outcome.kind == "permanent"
            and outcome.reason in {"request_id_conflict", "schema_error"}
            and outcome.record is None
        )

    def _parse(self, body: str) -> DeletionRequest | DeletionOutcome:
        try:
            return parse_deletion_message(body)
        except InvalidDeletionRequestError as exc:
            logger.warning(
                "deletion message rejected",
                extra={"reason": exc.reason, "request_id": exc.request_id, "fields": list(exc.fields)},
            )
            return DeletionOutcome("permanent", exc.request_id, exc.reason, fields=tuple(exc.fields))
        except Exception as exc:  # noqa: BLE001 - the safety net: retried, then dead-lettered with a reason
            logger.error(
                "unexpected error while parsing a deletion message", extra={"error": type(exc).__name__}
            )
            return DeletionOutcome("retry", None, "unexpected_error")

    def _copy_outcome(
        self, copy: DeletionRequest, first: DeletionRequest, outcome: DeletionOutcome
    ) -> DeletionOutcome:
        """The outcome of a second message of a request_id in the same batch: nothing is called
        for it. The same request shares the first one's fate (accepted: ``already_done``);
        another subject, action or set of workspaces under the same request_id is a
        ``request_id_conflict`` (unknown workspaces: a ``schema_error``). The set is compared as
        ``begin`` compares it: with the record's targets when the first message got the record,
        else with the first message's."""
        named: Sequence[str] | None = getattr(copy, "workspaces", None)
        try:
            selected = self.routes.select(named)
            first_selected = self.routes.select(getattr(first, "workspaces", None))
        except UnknownWorkspaceError:
            return DeletionOutcome("permanent", copy.request_id, "schema_error", fields=("workspaces",))
        if outcome.record is None:
            same_workspaces = set(selected) == set(first_selected)
        else:
            try:
                transitions.check_same_targets(
                    outcome.record, selected, named=named is not None, primary=self.routes.primary
                )
            except AuditConflictError:
                same_workspaces = False
            else:
                same_workspaces = True
        same_subject = hmac.compare_digest(self.subject_hash(copy), self.subject_hash(first))
        if not same_subject or copy.action != first.action or not same_workspaces:
            logger.error(
                "request_id used twice in a batch for different requests",
                extra={"request_id": copy.request_id},
            )
            return DeletionOutcome("permanent", copy.request_id, "request_id_conflict")
        if outcome.kind in {"completed", "submitted"}:
            return replace(outcome, kind="already_done", calls=(), event_published=None)
        return replace(outcome, calls=(), dead_lettered=False, event_published=None)

    def _settle(self, message: QueueMessage, outcome: DeletionOutcome) -> DeletionOutcome:
        """The message-level policy: the last delivery's retry becomes ``retries_exhausted``, and
        a permanent outcome goes to the dead-letter queue. A dead-letter send that fails turns the
        outcome into ``retry`` (``dead_letter_unavailable``): the message stays on its queue."""
        last_error = None
        if outcome.kind == "retry" and self._last_delivery(message.receive_count):
            logger.warning(
                "retries exhausted on the message's last delivery",
                extra={
                    "request_id": outcome.request_id,
                    "reason": outcome.reason,
                    "receives": message.receive_count,
                },
            )
            last_error = outcome.reason
            outcome = replace(outcome, kind="permanent", reason="retries_exhausted")
        if outcome.kind != "permanent" or self.dead_letters is None:
            return outcome
        try:
            self.dead_letters.send(
                message.body,
                reason=outcome.reason or "permanent",
                request_id=outcome.request_id,
                message_id=message.message_id,
                last_error=last_error,
                fields=outcome.fields,
                workspace=outcome.workspace,
                receive_count=message.receive_count,
            )
        except DeadLetterError:
            logger.exception(
                "permanent failure not sent to the dead-letter queue; left for redelivery",
                extra={"request_id": outcome.request_id, "reason": outcome.reason},
            )
            return replace(outcome, kind="retry", reason="dead_letter_unavailable")
        logger.warning(
            "deletion request sent to the dead-letter queue",
            extra={
                "request_id": outcome.request_id,
                "reason": outcome.reason,
                "last_error": last_error,
                "workspace": outcome.workspace,
            },
        )
        return replace(outcome, dead_lettered=True, record=self._dead_lettered(outcome))

    def _dead_lettered(self, outcome: DeletionOutcome) -> AuditRecord | None:
        """Record on the request's audit record that its message went to the dead-letter queue
        (status ``dead_lettered``). Only a record of this request (the outcome carries it); a
        failure to write is logged, never raised: the dead letter itself holds the reason."""
        if outcome.record is None or outcome.request_id is None:
            return outcome.record
        try:
            record = self.audit.record_dead_lettered(
                outcome.request_id, outcome.reason or "permanent", self.clock()
            )
        except AuditError as exc:
            logger.warning(
                "dead letter not recorded on the audit record: %s",
                type(exc).__name__,
                extra={"request_id": outcome.request_id},
            )
            return outcome.record
        return record or outcome.record

    def _dead_letter_bound(self, message: QueueMessage, outcome: DeletionOutcome) -> bool:
        """True when ``_settle`` changes ``outcome``: a permanent one, or a retry on its last delivery."""
        return outcome.kind == "permanent" or (
            outcome.kind == "retry" and self._last_delivery(message.receive_count)
        )

    def _last_delivery(self, receive_count: int | None) -> bool:
        """True when SQS will not deliver this message again (it would move it to the DLQ)."""
        return bool(self.max_receive_count) and (receive_count or 0) >= self.max_receive_count

    # -- requests --------------------------------------------------------------------------------

    def process(
        self, request: DeletionRequest, *, time_left: Callable[[], float] | None = None
    ) -> DeletionOutcome:
        """``process_requests`` of one request (no dead-letter queue at this level)."""
        return self.process_requests([request], time_left=time_left)[0]

    def process_requests(
        self, requests: Sequence[DeletionRequest], *, time_left: Callable[[], float] | None = None
    ) -> list[DeletionOutcome]:
        """Carry out ``requests`` (distinct request ids): lease, submit in v2 batches (one per
        workspace), record, verify; one outcome per request, in order. ``ErasureCompleted`` events
        are published here; dead letters and ``ErasureFailed`` events are ``process_batch``'s."""
        now = self.clock()
        lease = (time_left() + self.lease_margin_seconds) if time_left is not None else self.lease_seconds
        begun = self._map(lambda request: self._begin(request, now, lease), list(requests))
        attempts = [item for item in begun if isinstance(item, _Attempt)]
        try:
            self._submit(attempts, time_left)
            self._map(self._record, [a for a in attempts if a.outcome is None])
            self._after_acceptance([a for a in attempts if a.outcome is None])
        except BaseException:
            for attempt in attempts:
                if attempt.outcome is None:
                    self._release(attempt, "unexpected_error")
            raise
        outcomes = [item.outcome if isinstance(item, _Attempt) else item for item in begun]
        return self._publish_completions([o for o in outcomes if o is not None])

    def _begin(self, request: DeletionRequest, now: datetime, lease: float) -> _Attempt | DeletionOutcome:
        """Lease ``request``'s record: an attempt to carry on with, or the outcome already known."""
        rid = request.request_id
        named: Sequence[str] | None = getattr(request, "workspaces", None)
        try:
            selected = self.routes.select(named)
        except UnknownWorkspaceError as exc:
            # The count only: these names come from the message's producer, not from the stack's
            # configuration, and the pattern they passed admits a phone number or a person's name.
            logger.warning(
                "deletion message names workspaces the stack is not configured with",
                extra={"request_id": rid, "reason": "schema_error", "unknown_workspaces": len(exc.names)},
            )
            return DeletionOutcome("permanent", rid, "schema_error", fields=("workspaces",))
        try:
            record = self.audit.begin(
                request,
                now,
                self.subject_hash(request),
                lease,
                workspaces=selected,
                primary=self.routes.primary,
            )
        except LeaseHeldError:
            logger.info("request is being processed by another invocation", extra={"request_id": rid})
            return DeletionOutcome("retry", rid, "lease_held")
        except AuditConflictError:
            # Decided before any lease or write: the genuine request's record is left as it was.
            logger.error(
                "request_id already used for another subject, action or set of workspaces",
                extra={"request_id": rid},
            )
            return DeletionOutcome("permanent", rid, "request_id_conflict")
        except AuditError:
            logger.exception("audit store unavailable", extra={"request_id": rid})
            return DeletionOutcome("retry", rid, "audit_unavailable")
        if record.finished:
            logger.info("request already accepted by Customer.io; nothing to do", extra={"request_id": rid})
            return DeletionOutcome("already_done", rid, record=record)
        # The record's deadline, not the message's: a message without requested_at gets "now" each
        # time it is parsed, while the record keeps the first delivery's.
        attempt = _Attempt(
            request,
            record,
            self.deadline_status(datetime.fromisoformat(record.deadline), now),
            self.routes.ordered(record.workspace_names(self.routes.primary)),
        )
        if attempt.deadline != "ok":
            logger.warning(
                "deletion request deadline %s",
                "passed" if attempt.deadline == "past" else "near",
                extra={"request_id": rid, "deadline": record.deadline, "regulation": request.regulation},
            )
        return attempt

    def _submit(self, attempts: list[_Attempt], time_left: Callable[[], float] | None) -> None:
        """Send every operation not yet accepted, one v2 batch call (or as few as the size limits
        allow) per workspace, through that workspace's client and budget; the workspaces' calls run
        concurrently, so one workspace's slow budget never holds up another's. A workspace already
        accepted for a request is never sent to again."""
        primary = self.routes.primary
        groups: dict[str, list[_Attempt]] = {}
        for attempt in attempts:
            for name in attempt.targets:
                if not attempt.record.workspace(name, primary=primary).accepted:
                    groups.setdefault(name, []).append(attempt)
        if not groups:
            return

        def may_call() -> bool:
            return time_left is None or time_left() >= self.call_budget_seconds

        def send(name: str) -> None:
            group = groups[name]
            try:
                client = self.routes.client(name)
            except CioSecurityError as exc:
                logger.error("Track client not available: %s", type(exc).__name__, extra={"workspace": name})
                reason = (
                    "workspace_not_configured" if isinstance(exc, UnknownWorkspaceError) else "configuration"
                )
                kind: Literal["retry", "permanent"] = "retry" if reason == "configuration" else "permanent"
                results: list[SubmissionResult] = [Refused(kind, reason, sent=False)] * len(group)
            else:
                results = submit(client, [attempt.operation() for attempt in group], may_call=may_call)
            for attempt, result in zip(group, results, strict=True):
                attempt.results[name] = result

        self._map(send, list(groups))

    def _verifies(self, name: str) -> bool | None:
        """Whether workspace ``name``'s erasures are verified (None: its verifier could not be built,
        for example its App API key secret could not be read: decided on a redelivery)."""
        try:
            return self.routes.verifier(name) is not None
        except CioSecurityError as exc:
            logger.warning(
                "erasure verifier not available: %s", type(exc).__name__, extra={"workspace": name}
            )
            return None

    def _record(self, attempt: _Attempt) -> None:
        """Fold one request's results (every workspace's) into its record and write it once, right
        after the calls: accepted workspaces done (completed ``not_verified`` when nothing verifies
        them), transient failures pending with their error, permanent ones failed. The delivery
        ends in the same write unless verification is to be scheduled (``_after_acceptance``)."""
        now, step, primary = self.clock(), attempt.step, self.routes.primary
        record = attempt.record
        decided: dict[str, bool | None] = {}

        def verifies(name: str) -> bool | None:  # asked once per workspace and delivery
            if name not in decided:
                decided[name] = self._verifies(name)
            return decided[name]

        for name in attempt.targets:
            result = attempt.results.get(name)
            if result is None:
                continue
            if isinstance(result, Refused):
                if result.sent:
                    attempt.calls.append(StepCall(step, result.status, name))
                self._log_refusal(attempt, name, result)
                record = transitions.workspace_not_accepted(
                    record,
                    name,
                    result.reason,
                    now,
                    permanent=result.kind == "permanent",
                    step=step if result.sent else None,
                    status_code=result.status,
                    customerio_request_id=result.customerio_request_id,
                )
                continue
            attempt.calls.append(StepCall(step, result.status, name))
            logger.info(
                "deletion operation accepted",
                extra={
                    "request_id": attempt.request_id,
                    "step": step,
                    "status": result.status,
                    "workspace": name,
                },
            )
            record = transitions.workspace_accepted(
                record,
                name,
                step,
                now,
                status_code=result.status,
                customerio_request_id=result.customerio_request_id,
                verified=verifies(name) is not False,
            )
        to_schedule, unsure = [], []
        for name in attempt.targets:  # accepted, verification not settled (now or on an earlier delivery)
            state = record.workspace(name, primary=primary)
            if not state.accepted or state.verification is not None:
                continue
            decision = verifies(name)
            if decision is None:
                unsure.append(name)
            elif decision:
                to_schedule.append(name)
            else:
                record = transitions.workspace_completed(record, name, now, verification="not_verified")
        attempt.to_schedule, attempt.unsure = tuple(to_schedule), tuple(unsure)
        folded = record
        if not to_schedule:
            folded = transitions.settled(
                record,
                now,
                reason="verification_unavailable" if unsure else None,
                retention_days=self.audit.retention_days,
            )
        self._write(attempt, folded, "operation results")

    def _log_refusal(self, attempt: _Attempt, name: str, result: Refused) -> None:
        extra = {"request_id": attempt.request_id, "reason": result.reason, "workspace": name}
        if result.kind == "permanent":
            logger.error("deletion operation refused for good", extra=extra)
        elif result.sent:
            logger.warning(
                "deletion operation not accepted; will retry",
                extra=extra | {"attempt": attempt.record.attempts},
            )

    def _write(self, attempt: _Attempt, folded: AuditRecord, what: str) -> bool:
        """Write ``folded`` (``attempt.record`` changed by pure transitions) under the lease; once the
        delivery ended in it, set the attempt's outcome. False when the write failed (the outcome is
        then ``retry``)."""
        rid = attempt.request_id
        try:
            attempt.record = self.audit.write_held(attempt.record, lambda _held: folded)
        except LeaseHeldError:
            logger.error("lease lost before the %s were recorded", what, extra={"request_id": rid})
            attempt.finish("retry", "lease_lost")
            return False
        except AuditError:
            logger.exception("%s not recorded", what, extra={"request_id": rid})
            self._release(attempt, "audit_unavailable")
            return False
        if attempt.record.lease_token is None:
            self._conclude(attempt)
        return True

    def _conclude(self, attempt: _Attempt) -> None:
        """The attempt's outcome from its record once the delivery ended (the lease given back)."""
        record = attempt.record
        if record.status in {"completed", "unverified"}:
            self._finished(attempt, "completed")
        elif record.status == "submitted":
            self._finished(attempt, "submitted")
        elif record.status == "failed":
            failed = [
                n
                for n in attempt.targets
                if record.workspace(n, primary=self.routes.primary).status == "failed"
            ]
            attempt.finish(
                "permanent",
                record.failure_reason or "failed",
                record=record,
                workspace=failed[0] if failed else None,
            )
        else:
            retrying = [
                n
                for n in attempt.targets
                if not record.workspace(n, primary=self.routes.primary).accepted or n in attempt.unsure
            ]
            attempt.finish(
                "retry",
                record.last_error or "retry",
                record=record,
                workspace=retrying[0] if retrying else None,
            )

    def _after_acceptance(self, attempts: list[_Attempt]) -> None:
        """Accepted workspaces still held under their request's lease: schedule their verification
        (one ``schedule`` call per workspace, through that workspace's verifier), then end each
        delivery with the scheduled ones ``pending``. A verifier that cannot schedule leaves its
        workspaces to the redelivery (``verification_unavailable``), which calls no Track API for
        them, only schedules."""
        pending = [attempt for attempt in attempts if attempt.to_schedule]
        if not pending:
            return
        now = self.clock()
        by_workspace: dict[str, list[_Attempt]] = {}
        for attempt in pending:
            for name in attempt.to_schedule:
                by_workspace.setdefault(name, []).append(attempt)
        scheduled: set[tuple[str, str]] = set()
        for name, group in by_workspace.items():
            try:
                verifier = self.routes.verifier(name)
                if verifier is not None:
                    verifier.schedule(
                        [attempt.record for attempt in group],
                        now,
                        requests={attempt.request_id: attempt.request for attempt in group},
                    )
            except CioSecurityError as exc:
                logger.warning(
                    "erasure verification not scheduled: %s",
                    type(exc).__name__,
                    extra={"request_ids": [attempt.request_id for attempt in group], "workspace": name},
                )
                continue
            scheduled.update((attempt.request_id, name) for attempt in group)

        def finish(attempt: _Attempt) -> None:
            done = [name for name in attempt.to_schedule if (attempt.request_id, name) in scheduled]
            missing = len(done) < len(attempt.to_schedule) or attempt.unsure
            folded = transitions.settled(
                transitions.verification_scheduled(attempt.record, done, now),
                now,
                reason="verification_unavailable" if missing else None,
                retention_days=self.audit.retention_days,
            )
            self._write(attempt, folded, "scheduled verifications")

        self._map(finish, pending)

    def _finished(self, attempt: _Attempt, kind: OutcomeKind) -> None:
        record = attempt.record
        done = record.completed_at or record.submitted_at or record.updated_at
        age = (datetime.fromisoformat(done) - datetime.fromisoformat(record.requested_at)).total_seconds()
        logger.info(
            "deletion request %s",
            "completed" if kind == "completed" else "submitted; verification pending",
            extra={
                "request_id": attempt.request_id,
                "action": attempt.request.action,
                "attempts": record.attempts,
                "age_seconds": age,
                "workspaces": list(attempt.targets),
            },
        )
        attempt.finish(kind, age_seconds=age, record=record)

    def _release(self, attempt: _Attempt, reason: str) -> None:
        """Give the lease back (``reason`` recorded as the last error) and answer ``retry``."""
        record = self._safely(
            self.audit.release,
            attempt.request_id,
            reason,
            self.clock(),
            lease_token=attempt.record.lease_token,
        )
        attempt.finish("retry", reason, record=record or attempt.record)

    # -- events ------------------------------------------------------------------------------------

    def _publish_completions(self, outcomes: list[DeletionOutcome]) -> list[DeletionOutcome]:
        return self._publish(
            outcomes,
            "ErasureCompleted",
            lambda o: o.kind == "completed" and o.record is not None and o.record.status == "completed",
        )

    def _publish_failures(self, outcomes: list[DeletionOutcome]) -> list[DeletionOutcome]:
        """``ErasureFailed`` for each request that ended permanent with an audit record of its own
        (a conflict's record belongs to another request)."""
        return self._publish(
            outcomes,
            "ErasureFailed",
            lambda o: o.kind == "permanent" and o.reason != "request_id_conflict",
        )

    def _publish(
        self,
        outcomes: list[DeletionOutcome],
        kind: ErasureEventType,
        wanted: Callable[[DeletionOutcome], bool],
    ) -> list[DeletionOutcome]:
        """One ``kind`` event per request whose outcome is ``wanted`` (and has a record); the
        outcome that carried it says whether it was published."""
        if self.events is None:
            return outcomes
        chosen: dict[str, int] = {}
        for index, outcome in enumerate(outcomes):
            if outcome.request_id is not None and outcome.record is not None and wanted(outcome):
                chosen.setdefault(outcome.request_id, index)
        if not chosen:
            return outcomes
        now = self.clock()
        events = [
            ErasureEvent(
                kind,
                record,
                reason=outcomes[index].reason if kind == "ErasureFailed" else None,
                at=now,
                primary=self.routes.primary,
            )
            for index in chosen.values()
            if (record := outcomes[index].record) is not None
        ]
        report = self.events.publish(events)
        published = set(report.published)
        updated = list(outcomes)
        for request_id, index in chosen.items():
            updated[index] = replace(updated[index], event_published=request_id in published)
        return updated

    # -- helpers -----------------------------------------------------------------------------------

    def _map(self, work: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``work`` on every item, concurrently on the executor when there is one (each item in a
        copy of the caller's context, so log keys follow it)."""
        items = list(items)
        if self.executor is None or len(items) < 2:
            return [work(item) for item in items]
        context = contextvars.copy_context()
        return list(self.executor.map(lambda item: context.copy().run(work, item), items))

    @staticmethod
    def _safely(write: Callable[..., AuditRecord], *args: Any, **kwargs: Any) -> AuditRecord | None:
        """An audit write on a failure path: its own failure is logged, never raised (the message is
        redelivered either way and the lease expires on its own)."""
        try:
            return write(*args, **kwargs)
        except AuditError as exc:
            logger.warning("audit write failed on a failure path: %s", type(exc).__name__)
            return None
