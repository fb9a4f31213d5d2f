"""The audit store: the lease state machine (``transitions``) over a backend's storage primitives.

``BaseAuditStore`` implements every operation once; a backend (``dynamodb.AuditStore``, or a test
double) only stores, with three primitives, the way Powertools' ``BasePersistenceLayer`` leaves
``_get_record``/``_put_record``/``_update_record`` to its backends:

- ``_get_record(request_id)``: the stored record (a strongly consistent read), or None;
- ``_create_record(record)``: store a new record unless one exists, atomically; return the
  existing record when there is one;
- ``_replace_record(request_id, changes, condition)``: write ``changes`` (a transition's
  ``RecordChanges``) atomically if ``condition`` holds for the stored record, and return the
  record as stored; raise ``ConditionNotMetError`` when it does not hold.

The conditions are ``UnderLease`` (the record exists and holds the caller's lease token),
``RecordExists`` (a write without a token) and ``LeaseFree`` (taking a lease: status and attempts
as the caller saw them and no unexpired lease). A backend writes only what a transition changed,
so a write never undoes a concurrent one to other attributes (a step recorded done by a lease
holder just before its lease was taken over survives the takeover).

Writes are conditional, so concurrent deliveries of one request cannot both call Customer.io:

- ``begin`` creates the record, or takes a *lease* on an unfinished one (``lease_until``,
  ``lease_token``, one more ``attempts``). While another invocation's lease is unexpired it
  raises ``LeaseHeldError``: that duplicate is reported for redelivery and finds the outcome then.
  A message of the request_id for another subject, action or set of workspaces raises
  ``AuditConflictError`` before anything is written or returned (``begin``'s docstring has the
  rule for workspaces).
- ``mark_step``, ``record_transient_failure``, ``release``, ``fail`` and ``complete`` are
  conditional on the caller's lease token; a lease taken over meanwhile raises ``LeaseLostError``.
  They read the record, apply the transition and write what changed.
- ``accept`` and ``await_verification`` (a Track v2 submission and what follows it) take the record
  the caller holds, as its last write returned it, and write without reading first: under the
  caller's lease token no one else writes the record, and the token condition makes the write fail
  (``LeaseLostError``) if the lease was taken over. One write per step instead of a read and a
  write: audit writes bound the deletion function's throughput (BENCHMARKS.md).
- ``record_verification_check``, ``record_verified`` and ``record_unverified`` (the erasure
  verifier's) hold no lease: they write a record only while it awaits verification, conditional
  on the status and attempts read (``LeaseFree``: no deletion holds it either), so of two
  concurrent checks of one request only one can end its verification. They return None when the
  record no longer awaits verification (another check ended it). Each names the ``workspace``
  checked; the conditions include the record's ``revision``, so two workspaces' checks of one
  request never undo each other.
- ``record_dead_lettered`` (the request's message went to the dead-letter queue) and
  ``record_discarded`` (an operator discarded that dead letter; the record is kept) write without
  a lease too, conditional on the record as read, and refuse while a delivery holds the lease.
- ``write_held`` writes any transition (several folded into one) under the caller's lease: the
  deletion processor records every workspace's result of a delivery in one write.

>>> store = AuditStore("audit-table")                                     # doctest: +SKIP
>>> record = store.begin(request, now, subject_hash=h, lease_seconds=120) # doctest: +SKIP
>>> token = record.lease_token                                            # doctest: +SKIP
>>> store.mark_step(request.request_id, "suppress", 200, now, lease_token=token)  # doctest: +SKIP
>>> store.complete(request.request_id, now, lease_token=token)            # doctest: +SKIP
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from cio_security.audit import transitions
from cio_security.audit.record import (
    DEFAULT_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    AuditRecord,
    RecordStatus,
    StepName,
    StepRecord,
    Verification,
)
from cio_security.deletion.request import DeletionRequest
from cio_security.errors import AuditError, LeaseHeldError, LeaseLostError
from cio_security.workspaces import DEFAULT_WORKSPACE

__all__ = [
    "AuditBackend",
    "BaseAuditStore",
    "ConditionNotMetError",
    "LeaseFree",
    "RecordChanges",
    "RecordExists",
    "UnderLease",
    "WriteCondition",
]

logger = logging.getLogger(__name__)

_BEGIN_TRIES: Final = 3


class ConditionNotMetError(AuditError):
    """A backend's conditional write found the stored record not as the condition requires (or no
    record). Raised by ``_replace_record``; ``BaseAuditStore`` turns it into LeaseLostError,
    AuditError or another try, and never lets it out."""


# -- write conditions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnderLease:
    """The record exists and holds lease ``token``: a write by the lease holder."""

    token: str

    def holds(self, record: AuditRecord | None) -> bool:
        return record is not None and record.lease_token == self.token


@dataclass(frozen=True, slots=True)
class RecordExists:
    """The record exists: a write without a lease token."""

    def holds(self, record: AuditRecord | None) -> bool:
        return record is not None


@dataclass(frozen=True, slots=True)
class LeaseFree:
    """A write without a lease (taking one, a verifier's, a dead letter's): the record's status,
    attempts and ``revision`` are as the caller saw them, and no lease on it is unexpired at
    ``now`` (``transitions.lease_expired``). The revision makes it optimistic locking: two such
    writes computed from one read (two workspaces' checks of one request) cannot both land."""

    status: RecordStatus
    attempts: int
    now: datetime
    revision: int = 0

    def holds(self, record: AuditRecord | None) -> bool:
        return (
            record is not None
            and record.status == self.status
            and record.attempts == self.attempts
            and record.revision == self.revision
            and transitions.lease_expired(record, self.now)
        )

    @classmethod
    def of(cls, record: AuditRecord, now: datetime) -> LeaseFree:
        """The condition that ``record`` is still as read, with no unexpired lease at ``now``."""
        return cls(record.status, record.attempts, now, record.revision)


WriteCondition = UnderLease | RecordExists | LeaseFree


# -- what a write changes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordChanges:
    """What a transition changed in a record, as a backend writes it: ``values`` are top-level
    attributes set (JSON-mode values, never None), ``steps`` the steps set (by name), ``removed``
    the attributes that became None. ``updated_at`` is always among ``values`` (every transition
    stamps it), so a write is never empty."""

    values: Mapping[str, Any]
    steps: Mapping[StepName, StepRecord] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()

    @classmethod
    def between(cls, before: AuditRecord, after: AuditRecord) -> RecordChanges:
        """The changes that turn ``before`` into ``after`` (steps are only ever added or replaced)."""
        old = before.model_dump(mode="json", exclude={"steps"})
        new = after.model_dump(mode="json", exclude={"steps"})
        return cls(
            values={
                name: value
                for name, value in new.items()
                if value is not None and (value != old.get(name) or name == "updated_at")
            },
            steps={
                name: step.model_copy()
                for name, step in after.steps.items()
                if before.steps.get(name) != step
            },
            removed=frozenset(
                name for name, value in new.items() if value is None and old.get(name) is not None
            ),
        )

    def apply(self, record: AuditRecord) -> AuditRecord:
        """``record`` with these changes made (a new record; ``record`` is left as it was)."""
        data = record.model_dump(mode="json")
        data.update(self.values)
        data.update(dict.fromkeys(self.removed))
        data["steps"] = data["steps"] | {
            name: step.model_dump(mode="json") for name, step in self.steps.items()
        }
        return AuditRecord.model_validate(data)


# -- the store -----------------------------------------------------------------------------------------


def _new_lease_token() -> str:
    return uuid.uuid4().hex


class BaseAuditStore(ABC):
    """Audit records keyed by ``request_id``: the lease state machine over three storage primitives
    (module docstring). Every method raises AuditError when the storage cannot be reached or
    refuses the request. Thread-safe when the backend's primitives are: one store serves every
    record of a concurrent batch.

    ``retention_days``: how long past completion (or failure, or receipt) a record is kept;
    at least ``MIN_RETENTION_DAYS``.
    """

    def __init__(self, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        if retention_days < MIN_RETENTION_DAYS:
            raise ValueError(f"audit records are kept at least {MIN_RETENTION_DAYS} days")
        self.retention_days = retention_days

    # -- the storage primitives (backends) ---------------------------------------------------------

    @abstractmethod
    def _get_record(self, request_id: str) -> AuditRecord | None:
        """The stored record of ``request_id`` (a strongly consistent read), or None."""

    @abstractmethod
    def _create_record(self, record: AuditRecord) -> AuditRecord | None:
        """Store ``record`` unless a record with its ``request_id`` exists (atomically): None when
        stored, the existing record otherwise."""

    @abstractmethod
    def _replace_record(
        self, request_id: str, changes: RecordChanges, condition: WriteCondition
    ) -> AuditRecord:
        """Make ``changes`` to the stored record of ``request_id`` (atomically) if ``condition``
        holds for it, and return the record as now stored. Raises ConditionNotMetError when the
        condition does not hold (or there is no record)."""

    # -- reading -----------------------------------------------------------------------------------

    def get(self, request_id: str) -> AuditRecord | None:
        """The record of ``request_id`` (strongly consistent read), or None when there is none."""
        return self._get_record(request_id)

    # -- the lease ---------------------------------------------------------------------------------

    def begin(
        self,
        request: DeletionRequest,
        now: datetime,
        subject_hash: str,
        lease_seconds: float,
        *,
        workspaces: Sequence[str] = (DEFAULT_WORKSPACE,),
        primary: str = DEFAULT_WORKSPACE,
    ) -> AuditRecord:
        """Create the record of ``request`` (targeting ``workspaces``) or take the lease on its
        unfinished record (whose targets stay as they were first recorded).

        ``workspaces`` is the message's resolved target set: its ``workspaces`` when it names them
        (``request.workspaces``), every workspace the stack is configured with when it does not.
        ``primary`` is the stack's primary workspace, the one a record written before workspaces
        existed targets.

        A record that exists is first checked to be the same request, before anything else
        (before a finished record is returned and before any lease is taken, so a conflicting
        message never writes the genuine record): the same subject and action
        (``transitions.check_same_request``) and the same targets
        (``transitions.check_same_targets``):

        - a record with a per-workspace map: the message's resolved set must be the map's
          workspaces, named or not;
        - a record written before workspaces existed targets ``primary`` alone: a message without
          ``workspaces`` is no conflict with it (it means what it meant when first received, even
          on a stack that gained a workspace since); one naming any set but exactly ``primary``
          is.

        Then it returns the record as it now stands: a finished record (Customer.io accepted it
        everywhere) is returned untouched (the caller does nothing more); otherwise the caller
        holds the lease until ``lease_until`` and must pass ``record.lease_token`` to the writes
        that follow. Taking the lease on an existing record counts one more attempt and lifts a
        ``failed`` status (an operator redrove the message).

        Raises AuditConflictError when the request_id belongs to another subject, action or set of
        workspaces (whatever the record's state, a held lease included), LeaseHeldError while
        another invocation's lease is unexpired, AuditError otherwise.
        """
        record = transitions.new_record(
            request,
            now,
            subject_hash=subject_hash,
            lease_seconds=lease_seconds,
            lease_token=_new_lease_token(),
            retention_days=self.retention_days,
            workspaces=workspaces,
        )
        existing = self._create_record(record)
        if existing is None:
            logger.info("audit record created", extra={"request_id": request.request_id})
            return record
        named = getattr(request, "workspaces", None) is not None
        for _ in range(_BEGIN_TRIES):
            transitions.check_same_request(existing, record)
            transitions.check_same_targets(existing, workspaces, named=named, primary=primary)
            if existing.finished:
                return existing
            if not transitions.may_lease(existing, now):
                raise LeaseHeldError(request.request_id, existing.lease_until)
            leased = self._take_lease(existing, now, lease_seconds)
            if leased is not None:
                return leased
            fresh = self._get_record(request.request_id)
            if fresh is None:  # pragma: no cover - records are never deleted by this code
                raise AuditError(f"audit record {request.request_id} vanished")
            existing = fresh
        raise LeaseHeldError(request.request_id, existing.lease_until)

    def _take_lease(self, existing: AuditRecord, now: datetime, lease_seconds: float) -> AuditRecord | None:
        """Lease an unfinished record whose lease has expired; None when it changed meanwhile."""
        leased = transitions.lease_taken(
            existing, now, lease_seconds=lease_seconds, lease_token=_new_lease_token()
        )
        condition = LeaseFree.of(existing, now)
        try:
            stored = self._replace_record(
                existing.request_id, RecordChanges.between(existing, leased), condition
            )
        except ConditionNotMetError:
            return None
        logger.info(
            "audit record leased", extra={"request_id": existing.request_id, "attempt": existing.attempts + 1}
        )
        return stored

    # -- writes under the lease --------------------------------------------------------------------

    def mark_step(
        self,
        request_id: str,
        step: StepName,
        status_code: int | None,
        now: datetime,
        *,
        lease_token: str | None = None,
        workspace: str | None = None,
    ) -> None:
        """Record ``step`` (of ``workspace``; None: the record's only one) done with Customer.io's
        status code: it is never called again for this request. Call it right after the call
        returns, before the next step."""
        self._write(
            request_id,
            lease_token,
            lambda r: transitions.step_done(r, step, status_code, now, workspace=workspace),
        )

    def record_transient_failure(
        self,
        request_id: str,
        step: StepName,
        status_code: int | None,
        reason: str,
        now: datetime,
        *,
        lease_token: str | None = None,
        customerio_request_id: str | None = None,
        workspace: str | None = None,
    ) -> AuditRecord:
        """Record a failure a retry may fix (``reason`` a short code such as ``customerio_503``;
        in ``workspace``, None: the record's only one) and release the lease, so the redelivered
        message is processed at once. Returns the record as stored."""
        return self._write(
            request_id,
            lease_token,
            lambda r: transitions.transient_failure(
                r,
                step,
                status_code,
                reason,
                now,
                customerio_request_id=customerio_request_id,
                workspace=workspace,
            ),
        )

    def release(
        self, request_id: str, reason: str, now: datetime, *, lease_token: str | None = None
    ) -> AuditRecord:
        """Give the lease back without touching the steps (``reason`` recorded as the last error).
        Returns the record as stored."""
        return self._write(request_id, lease_token, lambda r: transitions.released(r, reason, now))

    def fail(
        self,
        request_id: str,
        reason: str,
        now: datetime,
        *,
        step: StepName | None = None,
        status_code: int | None = None,
        lease_token: str | None = None,
        customerio_request_id: str | None = None,
        workspace: str | None = None,
    ) -> AuditRecord:
        """Record a permanent failure (status ``failed``, ``failure_reason``; ``step`` failed in
        ``workspace``, None: the record's only one) and release the lease.
        A later delivery of the same request (an operator's redrive) may lease it again. Returns
        the record as stored."""
        return self._write(
            request_id,
            lease_token,
            lambda r: transitions.failed(
                r,
                reason,
                now,
                step=step,
                status_code=status_code,
                customerio_request_id=customerio_request_id,
                retention_days=self.retention_days,
                workspace=workspace,
            ),
        )

    def accept(
        self,
        record: AuditRecord,
        step: StepName,
        status_code: int | None,
        customerio_request_id: str | None,
        now: datetime,
        *,
        complete: bool,
        workspace: str | None = None,
    ) -> AuditRecord:
        """Record that Customer.io accepted ``record``'s operation ``step`` (``submission_accepted``:
        step done, ``submitted_at``), under the lease ``record`` holds. With ``complete`` the same
        write also completes the request with verification ``not_verified`` (nothing verifies it);
        without, the lease is kept for ``await_verification``. Returns the record as stored.
        Raises LeaseLostError when the lease was taken over, AuditError otherwise."""

        def transition(current: AuditRecord) -> AuditRecord:
            accepted = transitions.submission_accepted(
                current, step, status_code, customerio_request_id, now, workspace=workspace
            )
            if not complete:
                return accepted
            return transitions.completed(
                accepted,
                now,
                verification="not_verified",
                retention_days=self.retention_days,
                workspace=workspace,
            )

        return self._write_held(record, transition)

    def await_verification(
        self, record: AuditRecord, now: datetime, *, workspace: str | None = None
    ) -> AuditRecord:
        """Move an accepted ``record`` (held under its lease) to ``submitted`` with verification
        ``pending`` (of ``workspace``; None: every accepted workspace not yet scheduled) and release
        the lease (``awaiting_verification``). Returns the record as stored; raises LeaseLostError
        when the lease was taken over, AuditError otherwise."""
        return self._write_held(
            record,
            lambda r: transitions.awaiting_verification(
                r, now, retention_days=self.retention_days, workspace=workspace
            ),
        )

    def write_held(
        self, record: AuditRecord, transition: Callable[[AuditRecord], AuditRecord]
    ) -> AuditRecord:
        """Apply ``transition`` (any of ``transitions``, or several folded into one) to ``record``
        as the caller holds it under its lease, and write what changed in one conditional write
        without reading first. Returns the record as stored; raises LeaseLostError when the lease
        was taken over, AuditError otherwise."""
        return self._write_held(record, transition)

    def complete(
        self,
        request_id: str,
        now: datetime,
        *,
        lease_token: str | None = None,
        verification: Verification | None = None,
        workspace: str | None = None,
    ) -> AuditRecord:
        """Mark ``workspace`` (None: the record's only one) completed at ``now``, and the request
        with it once every workspace is (``completed_at``; ``expires_at`` moves to the retention
        period after completion; ``verification`` when given), and release the lease. Returns the
        final record."""
        return self._write(
            request_id,
            lease_token,
            lambda r: transitions.completed(
                r, now, verification=verification, retention_days=self.retention_days, workspace=workspace
            ),
        )

    # -- the erasure verifier's writes (no lease) ----------------------------------------------------

    def record_verification_check(
        self,
        request_id: str,
        now: datetime,
        *,
        checks: int,
        seen: AuditRecord | None = None,
        workspace: str | None = None,
    ) -> AuditRecord | None:
        """One more check found the person still there (``checks`` made so far). Returns the record
        as stored, or None when it no longer awaits verification. ``seen``: the record as the
        caller read it, written over without a new read while its status and attempts hold."""
        return self._write_verification(
            request_id,
            now,
            lambda r: transitions.verification_checked(r, now, checks=checks, workspace=workspace),
            seen,
            workspace,
        )

    def record_verified(
        self,
        request_id: str,
        now: datetime,
        *,
        checks: int,
        seen: AuditRecord | None = None,
        workspace: str | None = None,
    ) -> AuditRecord | None:
        """Check number ``checks`` found the person gone: status ``completed``, verification
        ``verified``, ``verified_at``. Returns the record as stored, or None when it no longer
        awaits verification (``seen`` as for ``record_verification_check``)."""
        return self._write_verification(
            request_id,
            now,
            lambda r: transitions.verified(
                r, now, checks=checks, retention_days=self.retention_days, workspace=workspace
            ),
            seen,
            workspace,
        )

    def record_unverified(
        self,
        request_id: str,
        reason: str,
        now: datetime,
        *,
        checks: int,
        seen: AuditRecord | None = None,
        workspace: str | None = None,
    ) -> AuditRecord | None:
        """The verification window ended without proof (``reason``): status and verification
        ``unverified``. Returns the record as stored, or None when it no longer awaits
        verification (``seen`` as for ``record_verification_check``)."""
        return self._write_verification(
            request_id,
            now,
            lambda r: transitions.unverified(
                r, reason, now, checks=checks, retention_days=self.retention_days, workspace=workspace
            ),
            seen,
            workspace,
        )

    # -- after the lease: dead letters and the operator's discards ---------------------------------

    def record_dead_lettered(self, request_id: str, reason: str, now: datetime) -> AuditRecord | None:
        """The request's message went to the dead-letter queue with ``reason``: status
        ``dead_lettered`` (``transitions.dead_lettered``). Written while no lease is held,
        conditional on the record as read. Returns the record as stored, None when there is no
        record; raises LeaseHeldError while a delivery holds its lease, AuditError otherwise."""
        return self._write_unleased(
            request_id,
            now,
            lambda r: transitions.dead_lettered(r, reason, now, retention_days=self.retention_days),
        )

    def record_discarded(self, request_id: str, *, reason: str, now: datetime) -> AuditRecord | None:
        """An operator discarded the request's dead letter, one that can never succeed: the
        record is marked ``discarded`` with ``reason`` (``discarded_at``, ``discard_reason``) and
        kept for the retention period counted from ``now``; a record Customer.io already accepted
        keeps its status (``transitions.discarded``). Never deletes a record. Returns the record as
        stored, or None when no record exists for ``request_id``; raises LeaseHeldError while a
        delivery of the request holds its lease, AuditError otherwise.

        >>> store.record_discarded("dsar-1", reason="identifier never existed", now=now)  # doctest: +SKIP
        """
        return self._write_unleased(
            request_id,
            now,
            lambda r: transitions.discarded(r, reason, now, retention_days=self.retention_days),
        )

    def _write_unleased(
        self, request_id: str, now: datetime, transition: Callable[[AuditRecord], AuditRecord]
    ) -> AuditRecord | None:
        """Apply ``transition`` to the stored record while no lease on it is unexpired, conditional on
        the record as read (``LeaseFree``), re-read and tried again when a concurrent write got there
        first. None when there is no record."""
        for _ in range(_BEGIN_TRIES):
            current = self._get_record(request_id)
            if current is None:
                return None
            if not transitions.lease_expired(current, now):
                raise LeaseHeldError(request_id, current.lease_until)
            changes = RecordChanges.between(current, transition(current))
            try:
                return self._replace_record(request_id, changes, LeaseFree.of(current, now))
            except ConditionNotMetError:
                continue
        raise AuditError(f"audit record {request_id} kept changing during a write")

    def _write_verification(
        self,
        request_id: str,
        now: datetime,
        transition: Callable[[AuditRecord], AuditRecord],
        seen: AuditRecord | None = None,
        workspace: str | None = None,
    ) -> AuditRecord | None:
        """Apply a verifier's ``transition`` while the record's ``workspace`` (None: its only one)
        awaits verification, conditional on the status, attempts and revision read (``seen`` first,
        when given: one write instead of a read and a write, as ``_write_held`` does), re-read and
        tried again when a concurrent write got there first. Raises AuditError when there is no
        record or the writes keep conflicting."""
        for _ in range(_BEGIN_TRIES):
            current, seen = (seen, None) if seen is not None else (self._get_record(request_id), None)
            if current is None:
                raise AuditError(f"audit record {request_id} does not exist")
            if not transitions.awaiting_verification_check(current, workspace):
                return None
            changes = RecordChanges.between(current, transition(current))
            try:
                return self._replace_record(request_id, changes, LeaseFree.of(current, now))
            except ConditionNotMetError:
                continue
        raise AuditError(f"audit record {request_id} kept changing during a verification write")

    def _write(
        self, request_id: str, lease_token: str | None, transition: Callable[[AuditRecord], AuditRecord]
    ) -> AuditRecord:
        """Apply ``transition`` to the stored record under ``lease_token`` (or to any existing
        record without one). Raises LeaseLostError when the record holds another token (or there is
        none), AuditError when there is no record to write without a token."""
        condition: WriteCondition = UnderLease(lease_token) if lease_token is not None else RecordExists()
        current = self._get_record(request_id)
        if current is None or not condition.holds(current):
            raise self._refused(request_id, lease_token)
        changes = RecordChanges.between(current, transition(current))
        try:
            return self._replace_record(request_id, changes, condition)
        except ConditionNotMetError as exc:
            raise self._refused(request_id, lease_token) from exc

    def _write_held(
        self, record: AuditRecord, transition: Callable[[AuditRecord], AuditRecord]
    ) -> AuditRecord:
        """Apply ``transition`` to ``record`` as the caller holds it (under its lease token) and
        write what changed, without reading first (module docstring)."""
        if record.lease_token is None:
            raise AuditError(f"audit record {record.request_id} is not held under a lease")
        condition = UnderLease(record.lease_token)
        changes = RecordChanges.between(record, transition(record))
        try:
            return self._replace_record(record.request_id, changes, condition)
        except ConditionNotMetError as exc:
            raise LeaseLostError(record.request_id) from exc

    @staticmethod
    def _refused(request_id: str, lease_token: str | None) -> AuditError:
        if lease_token is not None:
            return LeaseLostError(request_id)
        return AuditError(f"audit record {request_id} does not exist")


AuditBackend = BaseAuditStore
"""What DeletionProcessor needs of an audit store: any ``BaseAuditStore`` (``AuditStore`` on
DynamoDB, or a test double)."""
