"""Checking a batch of verification tickets through the App API (``verification`` says what a check
can end in). No Lambda event shapes: the handler passes queue messages and gets one
``VerificationOutcome`` per message back.

``VerificationProcessor.process(messages)``:

1. parses each ticket; one that is not a ticket is dead-lettered (``invalid_json``,
   ``schema_error``); one not due yet is put back with the delay left (``deferred``);
2. reads each due ticket's audit record: a record no longer awaiting verification, or one that
   counts more checks than the ticket (a duplicate a later check superseded), ends the ticket
   (``already_done``); no record (``audit_record_missing``) or an identifier that does not hash
   to the record's ``subject_hash`` (``subject_mismatch``) is dead-lettered;
3. looks the rest up: ``id`` identifiers in batched lookups of up to 100, every other type one
   request each, several in flight at once on ``executor`` under the client's token bucket, none
   started with less than ``lookup_budget_seconds`` left in the invocation (those are put back
   unchanged);
4. settles each answer (``verification``'s table): gone -> ``verified``; still there ->
   ``rescheduled`` or, at the window's end, ``unverified``; no answer -> ``retry_later`` or, past
   the window and its grace, ``unverified``;
5. queues every ticket that goes back, then records the checks of the rescheduled ones (a ticket
   first, so a failure between the two never leaves a request without one), and publishes
   ``ErasureVerified`` for the verified.

The audit writes of one request's tickets in a batch (one per workspace) are made one after
another, each over the record the last one returned; different requests' concurrently. Two writes
of one request made at once from the same read would always conflict (the condition on its
``revision``): the loser pays a failed write and a read, and with several workspaces it could run
out of tries and come back for nothing.

Whatever fails on our side (the audit table, the queue, a bug) answers ``retry`` for the tickets it
touched: the handler reports them as batch item failures and SQS delivers them again; on a
message's last delivery they are dead-lettered with reason ``retries_exhausted`` instead.

No identifier is logged, returned or put in an error text: request ids, counts and reasons only.
"""

from __future__ import annotations

import hmac
import logging
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from cio_security.audit.record import AuditRecord, iso, subject_hash
from cio_security.customerio.app_api import MAX_LOOKUP_IDS
from cio_security.deletion.routing import PerWorkspace
from cio_security.deletion.verification import (
    InvalidTicketError,
    OutcomeKind,
    PersonLookup,
    TicketMessage,
    TicketQueue,
    VerificationOutcome,
    VerificationPolicy,
    VerificationTicket,
)
from cio_security.errors import (
    AuditError,
    CioSecurityError,
    ConfigurationError,
    CustomerIOError,
    DeadLetterError,
    PermanentError,
    SecretError,
    TransientError,
)
from cio_security.workspaces import DEFAULT_WORKSPACE, UnknownWorkspaceError

if TYPE_CHECKING:
    from cio_security.audit.base import BaseAuditStore
    from cio_security.deletion.dead_letters import DeadLetterQueue
    from cio_security.deletion.events import ErasureEvents

__all__ = ["CONFIGURATION_REASONS", "VerificationProcessor", "app_api_reason"]

logger = logging.getLogger(__name__)

CONFIGURATION_REASONS: Final = frozenset(
    {"app_api_400", "app_api_401", "app_api_403", "app_api_404", "app_api_rejected", "app_api_configuration"}
)
"""No-answer reasons an operator must fix: the App API refused the request or its own check
(``GET /v1/workspaces``: a wrong key, region or URL), or the key could not be read (no key)."""


def app_api_reason(exc: Exception) -> str:
    """``app_api_<status>``, else ``app_api_unreachable`` (transient), ``app_api_rejected``
    (permanent) or ``app_api_configuration`` (no usable key or client)."""
    if isinstance(exc, CustomerIOError):
        if exc.status is not None:
            return f"app_api_{exc.status}"
        return "app_api_unreachable" if isinstance(exc, TransientError) else "app_api_rejected"
    return "app_api_configuration"


@dataclass
class _Check:
    """A due ticket on its way through ``process``: its record, the App API's answer (``present``,
    or ``no_answer`` with the reason), and where it ends (``outcome``, or ``send`` and
    ``send_kind`` for a ticket that goes back to the queue)."""

    index: int
    message: TicketMessage
    ticket: VerificationTicket
    record: AuditRecord | None = None
    present: bool | None = None
    no_answer: str | None = None

    workspace: str = DEFAULT_WORKSPACE

    @property
    def request_id(self) -> str:
        return self.ticket.request_id


@dataclass
class _Return:
    """A ticket that goes back to the queue, and what the message's outcome is once it is there."""

    index: int
    ticket: VerificationTicket
    kind: OutcomeKind
    reason: str | None = None
    record: AuditRecord | None = None
    """The audit record as read before the check (a rescheduled ticket's check is written over it,
    or over what a later write of the batch to the request returned: ``_Batch.written``)."""


@dataclass
class _Batch:
    """A batch on its way through ``process``: each message's outcome once known, the reasons of
    those to dead-letter, and the tickets that go back to the queue."""

    messages: Sequence[TicketMessage]
    outcomes: list[VerificationOutcome | None] = field(default_factory=list)
    dead: dict[int, str] = field(default_factory=dict)
    returns: list[_Return] = field(default_factory=list)
    written: dict[str, AuditRecord] = field(default_factory=dict)
    """Each request's record as this batch's last audit write returned it: the next write of the
    request is made over it (its tickets are settled one after another, ``_map_by_request``)."""

    def __post_init__(self) -> None:
        self.outcomes = [None] * len(self.messages)

    def settle(
        self, check: _Check, kind: OutcomeKind, reason: str | None = None, *, age_seconds: float | None = None
    ) -> None:
        self.outcomes[check.index] = VerificationOutcome(
            kind,
            check.request_id,
            check.message.message_id,
            reason,
            check.ticket.checks,
            age_seconds=age_seconds,
        )

    def dead_letter(self, check: _Check, reason: str) -> None:
        self.dead[check.index] = reason
        self.settle(check, "dead_lettered", reason)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class VerificationProcessor:
    """Checks erasures through the App API (module docstring). Thread-safe.

    ``lookup`` makes the App API calls (``AppClient``: its own retries, pacing and 401 re-read),
    or is a factory called once per batch with lookups to make (so a key that cannot be read is
    "no answer" for those tickets, not a crash). ``audit`` holds the records; ``queue`` takes
    tickets back; ``pepper`` keys the subject hash each ticket is checked against.
    ``dead_letters`` receives what can never be checked; ``events`` publishes ``ErasureVerified``.
    ``lookup_budget_seconds``: a lookup is not started with less time left in the invocation.
    ``max_receive_count``: the queue's maxReceiveCount, so the last delivery of a message that
    still needs a retry is dead-lettered with its reason (0: leave that to SQS).
    ``executor`` (a thread pool) runs a batch's audit reads and writes and its lookups concurrently
    (lookups stay paced by the client's bucket; the writes of one request one after another, module
    docstring); without one they run one after another.
    ``workspace_lookups`` (a ``PerWorkspace``, or a function of the name): the App API client of
    each Customer.io workspace (its own key and
    budget), for a stack of several; a ticket is checked in its ``workspace`` (``primary`` when it
    names none, as tickets written before workspaces existed). Without it, ``lookup`` serves the
    ``primary`` workspace alone.
    ``clock`` is injectable for tests.

    >>> processor = VerificationProcessor(app, AuditStore("audit"), queue, pepper)   # doctest: +SKIP
    >>> [o.kind for o in processor.process([TicketMessage(body)])]                    # doctest: +SKIP
    ['verified']
    """

    def __init__(
        self,
        lookup: PersonLookup | Callable[[], PersonLookup] | None,
        audit: BaseAuditStore,
        queue: TicketQueue,
        pepper: str | bytes,
        *,
        policy: VerificationPolicy | None = None,
        dead_letters: DeadLetterQueue | None = None,
        events: ErasureEvents | None = None,
        clock: Callable[[], datetime] = _utc_now,
        lookup_budget_seconds: float = 0.0,
        max_receive_count: int = 0,
        executor: Executor | None = None,
        workspace_lookups: PerWorkspace[PersonLookup] | Callable[[str], PersonLookup] | None = None,
        primary: str = DEFAULT_WORKSPACE,
    ) -> None:
        if not pepper:
            raise ConfigurationError("the pepper must not be empty")
        if lookup is None and workspace_lookups is None:
            raise ConfigurationError("an App API lookup (or one per workspace) is required")
        self._lookup = lookup
        self._workspace_lookups = workspace_lookups
        self.primary = primary
        self.audit = audit
        self.queue = queue
        self.policy = policy or VerificationPolicy()
        self.dead_letters = dead_letters
        self.events = events
        self.clock = clock
        self.lookup_budget_seconds = lookup_budget_seconds
        self.max_receive_count = max_receive_count
        self.executor = executor
        self._pepper = pepper

    def __repr__(self) -> str:
        return f"VerificationProcessor(audit={self.audit!r}, policy={self.policy!r})"

    def close(self) -> None:
        """Close the App API clients this processor holds (the one given, and every workspace's
        built so far when they are a ``PerWorkspace``)."""
        clients: list[object] = [self._lookup]
        if isinstance(self._workspace_lookups, PerWorkspace):
            clients.extend(self._workspace_lookups.clear())
        for client in clients:
            close = getattr(client, "close", None)
            if callable(close):
                close()

    # -- a batch ---------------------------------------------------------------------------------

    def process(
        self, messages: Sequence[TicketMessage], *, time_left: Callable[[], float] | None = None
    ) -> list[VerificationOutcome]:
        """Settle every message of a batch; one outcome per message, in order (module docstring).
        ``time_left()`` gives the seconds left in the invocation. Never raises for anything a
        message, the App API, the audit table or the queue did."""
        batch = _Batch(messages)
        try:
            checks = self._parse(batch, self.clock())
            readable = list(self._map(lambda check: self._read_record(batch, check), checks))
            checks = [check for check, ok in zip(checks, readable, strict=True) if ok]
            self._look_up(checks, time_left)
            now = self.clock()
            settled = self._map_by_request(
                lambda check: self._settle(batch, check, now), checks, lambda check: check.request_id
            )
            verified = [record for record in settled if record is not None]
            self._send_back(batch, now)
            self._publish(verified)
        except Exception as exc:  # noqa: BLE001 - the safety net: SQS delivers them again
            # The type and the stack only: an exception's text may quote an identifier.
            logger.error(
                "unexpected error while verifying erasures",
                extra={"error": type(exc).__name__, "stack": "".join(traceback.format_tb(exc.__traceback__))},
            )
        return self._dead_letter(batch)

    def _parse(self, batch: _Batch, now: datetime) -> list[_Check]:
        """Parse every message: the due tickets to check; the others dead-lettered or put back."""
        due = []
        for index, message in enumerate(batch.messages):
            try:
                ticket = VerificationTicket.from_body(message.body)
            except InvalidTicketError as exc:
                logger.warning(
                    "verification ticket rejected",
                    extra={"reason": exc.reason, "request_id": exc.request_id, "fields": list(exc.fields)},
                )
                batch.outcomes[index] = VerificationOutcome(
                    "dead_lettered", exc.request_id, message.message_id, exc.reason
                )
                batch.dead[index] = exc.reason
                continue
            if self.policy.is_due(ticket, now):
                due.append(_Check(index, message, ticket, workspace=ticket.workspace or self.primary))
            else:
                batch.returns.append(_Return(index, ticket, "deferred"))
        return due

    def _settle(self, batch: _Batch, check: _Check, now: datetime) -> AuditRecord | None:
        """Turn the App API's answer into an audit write or a ticket to queue (the table of
        ``verification``); returns the record when it was verified now, for its event."""
        if check.present is None and check.no_answer is None:  # no time was left to ask
            batch.returns.append(_Return(check.index, check.ticket, "deferred", "out_of_time"))
        elif check.present is False:
            return self._record_verified(batch, check, now)
        elif check.present is True:
            following = self.policy.after_present(check.ticket, now)
            if following is None:
                self._record_unverified(batch, check, "still_present", now, check.ticket.checks + 1)
            else:
                logger.info(
                    "person still present; checked again later",
                    extra={"request_id": check.request_id, "checks": following.checks},
                )
                batch.returns.append(_Return(check.index, following, "rescheduled", record=check.record))
        else:
            reason = check.no_answer or "app_api_unreachable"
            retry = self.policy.after_no_answer(check.ticket, reason, now)
            if retry is None:
                self._record_unverified(batch, check, reason, now, check.ticket.checks)
            else:
                logger.warning(
                    "App API gave no answer; asked again later",
                    extra={"request_id": check.request_id, "reason": reason, "failures": retry.failures},
                )
                batch.returns.append(_Return(check.index, retry, "retry_later", reason))
        return None

    # -- the steps -------------------------------------------------------------------------------

    def _map[T, R](self, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``work`` on every item, on the executor when there is one; results in order."""
        if self.executor is None or len(items) < 2:
            return [work(item) for item in items]
        return list(self.executor.map(work, items))

    def _map_by_request[T, R](
        self, work: Callable[[T], R], items: Sequence[T], request_id: Callable[[T], str]
    ) -> list[R]:
        """``work`` on every item, results in order: the items of one request one after another
        (in batch order), different requests' concurrently (``_map``; module docstring)."""
        groups: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            groups.setdefault(request_id(item), []).append(index)
        results: dict[int, R] = {}

        def run(indexes: list[int]) -> None:
            for index in indexes:
                results[index] = work(items[index])

        self._map(run, list(groups.values()))
        return [results[index] for index in range(len(items))]

    def _read_record(self, batch: _Batch, check: _Check) -> bool:
        """Read the check's record onto it: True when the ticket is to be looked up; otherwise its
        outcome is settled (module docstring, step 2)."""
        rid, ticket = check.request_id, check.ticket
        try:
            record = self.audit.get(rid)
        except AuditError:
            logger.warning("audit record not readable; the ticket comes back", extra={"request_id": rid})
            batch.settle(check, "retry", "audit_unavailable")
            return False
        state = None
        if record is not None:
            try:
                state = record.workspace(check.workspace, primary=self.primary)
            except KeyError:
                state = None
        if record is None:
            logger.error("no audit record for a verification ticket", extra={"request_id": rid})
            batch.dead_letter(check, "audit_record_missing")
        elif state is None:
            logger.error(
                "verification ticket names a workspace its request does not target",
                extra={"request_id": rid, "workspace": check.workspace},
            )
            batch.dead_letter(check, "workspace_not_targeted")
        elif state.verification != "pending":
            batch.settle(check, "already_done", f"verification_{state.verification or 'none'}")
        elif state.verification_checks > ticket.checks:
            logger.info(
                "verification ticket superseded by a later check; dropped",
                extra={"request_id": rid, "checks": ticket.checks},
            )
            batch.settle(check, "already_done", "superseded")
        elif not self._same_subject(ticket, record):
            logger.error("verification ticket names another subject", extra={"request_id": rid})
            batch.dead_letter(check, "subject_mismatch")
        else:
            check.record = record
            return True
        return False

    def _same_subject(self, ticket: VerificationTicket, record: AuditRecord) -> bool:
        """The ticket's identifier hashes to the record's subject (compared in constant time)."""
        digest = subject_hash(ticket.identifier_type, ticket.identifier, self._pepper)
        return ticket.identifier_type == record.identifier_type and hmac.compare_digest(
            digest.encode("ascii"), record.subject_hash.encode("ascii")
        )

    def _client(self, workspace: str) -> PersonLookup:
        """The App API client of ``workspace``: its own (``workspace_lookups``), or the one given
        (or the factory's) for the primary workspace."""
        if isinstance(self._workspace_lookups, PerWorkspace):
            return self._workspace_lookups.get(workspace)
        if self._workspace_lookups is not None:
            return self._workspace_lookups(workspace)
        if workspace != self.primary:
            raise UnknownWorkspaceError([workspace])
        if self._lookup is None:  # pragma: no cover - the constructor requires one of the two
            raise ConfigurationError("no App API lookup")
        if isinstance(self._lookup, PersonLookup):
            return self._lookup
        return self._lookup()

    def _look_up(self, checks: list[_Check], time_left: Callable[[], float] | None) -> None:
        """Ask the App API about every check, each in its workspace (through that workspace's
        client and budget, the workspaces concurrently): ``present``, or ``no_answer`` with the
        reason; a check left with neither had no time to be asked."""
        if not checks:
            return
        by_workspace: dict[str, list[_Check]] = {}
        for check in checks:
            by_workspace.setdefault(check.workspace, []).append(check)

        def may_call() -> bool:
            return time_left is None or time_left() >= self.lookup_budget_seconds

        work: list[tuple[PersonLookup, list[_Check]]] = []
        for workspace, mine in by_workspace.items():
            try:
                lookup = self._client(workspace)
            except CioSecurityError as exc:
                reason = app_api_reason(exc)
                logger.error(
                    "App API client unavailable: %s",
                    type(exc).__name__,
                    extra={"reason": reason, "workspace": workspace},
                )
                for check in mine:
                    check.no_answer = reason
                continue
            work.extend((lookup, group) for group in _groups(mine))
        for _ in self._map(lambda item: _ask(item[0], item[1], may_call), work):
            pass

    def _record_verified(self, batch: _Batch, check: _Check, now: datetime) -> AuditRecord | None:
        rid, checks = check.request_id, check.ticket.checks + 1
        try:
            record = self.audit.record_verified(
                rid, now, checks=checks, seen=batch.written.get(rid, check.record), workspace=check.workspace
            )
        except AuditError:
            logger.warning(
                "erasure verified but not recorded; the ticket comes back", extra={"request_id": rid}
            )
            batch.settle(check, "retry", "audit_unavailable")
            return None
        if record is None:
            batch.settle(check, "already_done", "not_pending")
            return None
        batch.written[rid] = record
        age = (now - check.ticket.submitted_at).total_seconds()
        logger.info(
            "erasure verified",
            extra={"request_id": rid, "checks": checks, "age_seconds": age, "workspace": check.workspace},
        )
        check.ticket = check.ticket.model_copy(update={"checks": checks})
        batch.settle(check, "verified", age_seconds=age)
        # The request's event once every workspace is done (this check finished the last one).
        return record if record.status == "completed" else None

    def _record_unverified(
        self, batch: _Batch, check: _Check, reason: str, now: datetime, checks: int
    ) -> None:
        rid = check.request_id
        try:
            record = self.audit.record_unverified(
                rid,
                reason,
                now,
                checks=checks,
                seen=batch.written.get(rid, check.record),
                workspace=check.workspace,
            )
        except AuditError:
            logger.warning(
                "erasure unverified but not recorded; the ticket comes back", extra={"request_id": rid}
            )
            batch.settle(check, "retry", "audit_unavailable")
            return
        if record is None:
            batch.settle(check, "already_done", "not_pending")
            return
        batch.written[rid] = record
        logger.error(
            "erasure not verified within the window",
            extra={
                "request_id": rid,
                "reason": reason,
                "checks": checks,
                "window_ends_at": iso(check.ticket.window_ends_at),
                "workspace": check.workspace,
            },
        )
        check.ticket = check.ticket.model_copy(update={"checks": checks})
        batch.settle(check, "unverified", reason)

    def _send_back(self, batch: _Batch, now: datetime) -> None:
        """Queue every returning ticket; then record the checks of the rescheduled ones."""
        if not batch.returns:
            return
        sent = self.queue.send([item.ticket for item in batch.returns], now)
        for item, ok in zip(batch.returns, sent, strict=True):
            message_id = batch.messages[item.index].message_id
            kind, reason = (item.kind, item.reason) if ok else ("retry", "queue_unavailable")
            batch.outcomes[item.index] = VerificationOutcome(
                kind, item.ticket.request_id, message_id, reason, item.ticket.checks
            )
        rescheduled = [
            item for item, ok in zip(batch.returns, sent, strict=True) if ok and item.kind == "rescheduled"
        ]
        for _ in self._map_by_request(
            lambda item: self._count_check(batch, item.ticket, now, item.record),
            rescheduled,
            lambda item: item.ticket.request_id,
        ):
            pass

    def _count_check(
        self, batch: _Batch, ticket: VerificationTicket, now: datetime, seen: AuditRecord | None
    ) -> None:
        """Record one more check (best effort: the next check writes the count too)."""
        rid = ticket.request_id
        try:
            record = self.audit.record_verification_check(
                rid,
                now,
                checks=ticket.checks,
                seen=batch.written.get(rid, seen),
                workspace=ticket.workspace or self.primary,
            )
        except AuditError:
            logger.warning(
                "verification check not recorded; the next one will be",
                extra={"request_id": rid},
            )
            return
        if record is not None:
            batch.written[rid] = record

    def _publish(self, records: list[AuditRecord]) -> None:
        """An event for each request a check completed now (its last workspace done):
        ``ErasureVerified`` when every workspace's erasure was verified, ``ErasureCompleted`` when
        some workspace is not verified at all. The audit record was written first; a failed publish
        is logged by the publisher and never undoes the verification."""
        if not records or self.events is None:
            return
        from cio_security.deletion.events import ErasureEvent  # noqa: PLC0415 - only when publishing

        report = self.events.publish(
            [
                ErasureEvent(
                    "ErasureVerified" if record.verification == "verified" else "ErasureCompleted",
                    record,
                    primary=self.primary,
                )
                for record in records
            ]
        )
        if report.failed:
            logger.warning("ErasureVerified events not published", extra={"request_ids": report.failed})

    def _dead_letter(self, batch: _Batch) -> list[VerificationOutcome]:
        """Every message's outcome, once what can never be checked, and retries on their last
        delivery, went to the dead-letter queue with the reason (a send that fails leaves the
        message for redelivery)."""
        settled = []
        for index, message in enumerate(batch.messages):
            outcome = batch.outcomes[index] or VerificationOutcome(
                "retry", None, message.message_id, "unexpected_error"
            )
            reason, last_error = batch.dead.get(index), None
            if outcome.kind == "retry" and self._last_delivery(message.receive_count):
                reason, last_error = "retries_exhausted", outcome.reason
            if reason is not None and self.dead_letters is not None:
                outcome = self._send_dead_letter(message, outcome, reason, last_error)
            settled.append(outcome)
        return settled

    def _send_dead_letter(
        self, message: TicketMessage, outcome: VerificationOutcome, reason: str, last_error: str | None
    ) -> VerificationOutcome:
        if self.dead_letters is None:  # pragma: no cover - checked by the caller
            return outcome
        try:
            self.dead_letters.send(
                message.body,
                reason=reason,
                request_id=outcome.request_id,
                message_id=message.message_id,
                last_error=last_error,
            )
        except DeadLetterError:
            logger.exception(
                "verification ticket not dead-lettered; left for redelivery",
                extra={"request_id": outcome.request_id, "reason": reason},
            )
            return replace(outcome, kind="retry", reason="dead_letter_unavailable")
        logger.warning(
            "verification ticket sent to the dead-letter queue",
            extra={"request_id": outcome.request_id, "reason": reason, "last_error": last_error},
        )
        return replace(outcome, kind="dead_lettered", reason=reason, dead_lettered=True)

    def _last_delivery(self, receive_count: int | None) -> bool:
        return bool(self.max_receive_count) and (receive_count or 0) >= self.max_receive_count


# -- lookups -----------------------------------------------------------------------------------------


def _groups(checks: list[_Check]) -> Iterator[list[_Check]]:
    """``id`` checks in batches of up to 100 distinct ids, every other check alone."""
    batch: list[_Check] = []
    ids: set[str] = set()
    for check in checks:
        if check.ticket.identifier_type != "id":
            yield [check]
            continue
        if check.ticket.identifier not in ids and len(ids) == MAX_LOOKUP_IDS:
            yield batch
            batch, ids = [], set()
        batch.append(check)
        ids.add(check.ticket.identifier)
    if batch:
        yield batch


def _ask(lookup: PersonLookup, group: list[_Check], may_call: Callable[[], bool]) -> None:
    """One App API request for ``group`` (unless there is no time for it); its answer, or why there
    is none, on each check."""
    if not may_call():
        return
    try:
        if group[0].ticket.identifier_type != "id":
            first = group[0].ticket
            group[0].present = lookup.person_exists(first.identifier_type, first.identifier)
            return
        found = lookup.existing_ids([check.ticket.identifier for check in group])
    except (CustomerIOError, ConfigurationError, SecretError) as exc:
        reason = app_api_reason(exc)
        permanent = isinstance(exc, PermanentError | ConfigurationError | SecretError)
        logger.log(
            logging.ERROR if permanent else logging.WARNING,
            "App API lookup got no answer: %s",
            type(exc).__name__,
            extra={"reason": reason, "people": len(group)},
        )
        for check in group:
            check.no_answer = reason
        return
    for check in group:
        check.present = check.ticket.identifier in found
