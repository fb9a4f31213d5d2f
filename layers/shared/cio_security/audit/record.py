"""The audit record of a deletion request (DESIGN section 4), as stored: one item per ``request_id``.

A record holds a keyed hash of the subject (HMAC-SHA256 with the pepper over
``identifier_type + ":" + identifier``), never the identifier itself; the action and regulation;
the status of each Track API step with Customer.io's status code and request id; the requested,
received, submitted (accepted by Customer.io), verified and completed timestamps; the erasure's
verification state; the statutory deadline; the number of attempts; and ``expires_at``, the
table's TTL attribute, at least 24 calendar months after the record was last finished.

Statuses: ``received`` (created), ``in_progress`` (a step called or leased again), ``submitted``
(Customer.io accepted the operation; verification pending), ``completed`` (accepted, and verified
or not verified at all), ``unverified`` (the person was still present after the verification
window), ``failed`` (a permanent failure; a redrive may lease it again), ``dead_lettered`` (its
message went to the dead-letter queue with ``failure_reason``; a redrive may lease it again),
``discarded`` (an operator discarded its dead letter as one that can never succeed:
``discarded_at``, ``discard_reason``; the record is kept for its whole retention period).

A request may target several Customer.io workspaces (``cio_security.workspaces``): ``workspaces``
maps each targeted workspace's name to its ``WorkspaceState`` (``status``: pending, submitted,
completed, unverified or failed; ``steps``; ``attempts``, the Track calls that carried it;
``submitted_at``; ``status_code`` and ``customerio_request_id`` of its last call; ``verification``,
``verified_at``, ``verification_checks``; ``completed_at``; ``failure_reason``; ``last_error``).
The request-level fields are derived from them: ``completed`` only when every workspace is
completed (verified or not verified), ``unverified`` once every workspace is done and one of them
ended unverified, ``failed`` when a workspace failed for good, ``submitted_at`` when the last
workspace accepted. A record written before workspaces existed has no ``workspaces``: it is its
primary workspace's state (``AuditRecord.workspace``), and its first write names it.
``revision`` counts the writes (optimistic locking for writes made without a lease).

How a record changes is ``cio_security.audit.transitions``; where it is kept, ``base`` and
``dynamodb``.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel, ConfigDict, Field

from cio_security.deletion.request import Action, DeletionRequest, IdentifierType, Regulation
from cio_security.hashing import keyed_hash
from cio_security.workspaces import DEFAULT_WORKSPACE

__all__ = [
    "ACCEPTED_WORKSPACE_STATUSES",
    "DEFAULT_RETENTION_DAYS",
    "FINISHED_STATUSES",
    "MIN_RETENTION_DAYS",
    "AuditRecord",
    "RecordStatus",
    "StepName",
    "StepRecord",
    "StepStatus",
    "Verification",
    "WorkspaceState",
    "WorkspaceStatus",
    "expiry_for",
    "iso",
    "subject_hash",
    "submission_step",
]

StepName = Literal["suppress", "delete"]
StepStatus = Literal["pending", "done", "failed"]
RecordStatus = Literal[
    "received", "in_progress", "submitted", "completed", "unverified", "failed", "dead_lettered", "discarded"
]
Verification = Literal["pending", "verified", "unverified", "not_verified"]
"""Whether the erasure was verified through the App API: ``pending`` (checks scheduled),
``verified`` (the App API no longer finds the person), ``unverified`` (still found after the
verification window), ``not_verified`` (no App API key configured: nothing checks it)."""

WorkspaceStatus = Literal["pending", "submitted", "completed", "unverified", "failed"]
"""One workspace's part of a request: ``pending`` (not accepted yet: to send), ``submitted``
(accepted; verification ``pending`` once its checks are scheduled, None until then), ``completed``
(accepted, and ``verified`` or ``not_verified``), ``unverified`` (still found after the window),
``failed`` (refused for good; a redrive makes it ``pending`` again)."""

ACCEPTED_WORKSPACE_STATUSES: Final[frozenset[WorkspaceStatus]] = frozenset(
    {"submitted", "completed", "unverified"}
)
"""A workspace in one of these accepted the operation: it is never sent to again."""

FINISHED_STATUSES: Final[frozenset[RecordStatus]] = frozenset({"submitted", "completed", "unverified"})
"""Statuses after which the deletion queue has nothing more to do: Customer.io accepted the
operation, so a redelivered message calls nothing (verification, if any, goes on elsewhere)."""

MIN_RETENTION_DAYS: Final = 730
DEFAULT_RETENTION_DAYS: Final = 800
"""Days past completion (or receipt) before DynamoDB may expire a record: about 26 months, so a
record outlives the 24-month minimum with room for TTL's own lateness."""

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def iso(moment: datetime) -> str:
    """A UTC timestamp in one fixed-width format (``2026-11-28T10:00:00.000Z``), so the strings
    compare in time order, in Python and in DynamoDB condition expressions alike."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def subject_hash(identifier_type: str, identifier: str, pepper: str | bytes) -> str:
    """The keyed hash that stands for the subject in the audit trail: HMAC-SHA256 with the
    pepper over ``identifier_type + ":" + identifier`` (64 hex characters). Without the pepper
    it cannot be reversed, not even for an email address; with it, an operator can check
    whether a given person's request is on record.

    >>> len(subject_hash("email", "a@example.invalid", "p" * 32))
    64
    """
    return keyed_hash(f"{identifier_type}:{identifier}", pepper)


def submission_step(action: Action) -> StepName:
    """The one Track operation that carries ``action``: ``erase`` is a suppress (which deletes the
    person and blocks their identifiers), ``delete`` a delete. A record whose submission step is
    done was accepted by Customer.io and is never sent again."""
    return "suppress" if action == "erase" else "delete"


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def expiry_for(moment: datetime, retention_days: int = DEFAULT_RETENTION_DAYS) -> int:
    """``expires_at`` (epoch seconds) for a record finished at ``moment``: ``retention_days`` later,
    and never earlier than 24 calendar months plus a day (730 days fall short when a 29 February
    is inside the window)."""
    if retention_days < MIN_RETENTION_DAYS:
        raise ValueError(f"audit records are kept at least {MIN_RETENTION_DAYS} days")
    floor = _add_months(moment, 24) + timedelta(days=1)
    return int(max(moment + timedelta(days=retention_days), floor).timestamp())


class StepRecord(BaseModel):
    """One Track API step of a request: its status, Customer.io's last status code and request id
    (``customerio_request_id``: the Track request that carried the operation, for Customer.io
    support), and when."""

    model_config = ConfigDict(extra="ignore")

    status: StepStatus = "pending"
    status_code: int | None = None
    customerio_request_id: str | None = None
    at: str | None = None


class WorkspaceState(BaseModel):
    """One Customer.io workspace's part of a request (``AuditRecord.workspaces[name]``): its Track
    step, status, Customer.io's last status code and request id, when it was accepted, its
    verification, and the Track calls that carried its operation (``attempts``)."""

    model_config = ConfigDict(extra="ignore")

    status: WorkspaceStatus = "pending"
    steps: dict[StepName, StepRecord] = Field(default_factory=dict)
    attempts: int = Field(default=0, ge=0)
    submitted_at: str | None = None
    status_code: int | None = None
    customerio_request_id: str | None = None
    verification: Verification | None = None
    verified_at: str | None = None
    verification_checks: int = Field(default=0, ge=0)
    completed_at: str | None = None
    failure_reason: str | None = None
    last_error: str | None = None

    @property
    def accepted(self) -> bool:
        """True once Customer.io accepted this workspace's operation: it is never sent again."""
        return self.status in ACCEPTED_WORKSPACE_STATUSES

    @property
    def done(self) -> bool:
        """True once nothing more happens in this workspace (completed or unverified)."""
        return self.status in {"completed", "unverified"}

    @property
    def awaiting_verification(self) -> bool:
        """True while the verifier may still write this workspace: accepted, checks scheduled."""
        return self.status == "submitted" and self.verification == "pending"


_LEGACY_STATUS: Final[Mapping[str, WorkspaceStatus]] = {
    "received": "pending",
    "in_progress": "pending",
    "submitted": "submitted",
    "completed": "completed",
    "unverified": "unverified",
    "failed": "failed",
    "dead_lettered": "pending",
    "discarded": "pending",
}


class AuditRecord(BaseModel):
    """The audit record of one deletion request, as stored in the audit table.

    Timestamps are ISO 8601 strings in UTC (see ``iso``); ``expires_at`` is epoch seconds (the
    table's TTL attribute). No field ever holds the identifier: ``subject_hash`` stands for it.
    """

    model_config = ConfigDict(extra="ignore")

    request_id: str
    subject_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    identifier_type: IdentifierType
    action: Action
    regulation: Regulation
    steps: dict[StepName, StepRecord]
    status: RecordStatus
    attempts: int = Field(ge=0)
    requested_at: str
    received_at: str
    updated_at: str
    deadline: str
    submitted_at: str | None = None
    """When Customer.io accepted the operation (200, or 207 without an error for it)."""
    verification: Verification | None = None
    verified_at: str | None = None
    verification_checks: int = Field(default=0, ge=0)
    completed_at: str | None = None
    failure_reason: str | None = None
    discarded_at: str | None = None
    """When an operator discarded the request's dead letter (``record_discarded``)."""
    discard_reason: str | None = None
    """Why it was discarded (the operator's words: never personal data)."""
    last_error: str | None = None
    last_status_code: int | None = None
    lease_until: str | None = None
    lease_token: str | None = None
    expires_at: int
    workspaces: dict[str, WorkspaceState] = Field(default_factory=dict)
    """Each targeted workspace's part (name -> state); the request-level fields above are derived
    from them (``transitions``). Empty in a record written before workspaces existed: such a record
    is its primary workspace's state (``workspace``)."""
    workspaces_named: bool | None = None
    """Whether the first message named its workspaces (``"workspaces": [...]``); False when it
    meant every workspace configured then, so a later message without ``workspaces`` (a redrive
    after a workspace was added) carries on with this record's set. None on older records, read
    like False: a redrive is never refused for a record that does not say."""
    revision: int = Field(default=0, ge=0)
    """Counts the record's writes: writes without a lease are conditional on it (optimistic
    locking), so two verifications of one request's workspaces never undo each other."""

    def workspace_names(self, primary: str = DEFAULT_WORKSPACE) -> tuple[str, ...]:
        """The workspaces this request targets (sorted; ``primary`` alone for a record written
        before workspaces existed)."""
        return tuple(sorted(self.workspaces)) if self.workspaces else (primary,)

    def workspace(self, name: str | None = None, *, primary: str = DEFAULT_WORKSPACE) -> WorkspaceState:
        """The state of workspace ``name`` (None: the record's only workspace). A record written
        before workspaces existed is ``primary``'s state, read from its request-level fields.
        KeyError when the request does not target ``name``."""
        if self.workspaces:
            if name is None:
                if len(self.workspaces) != 1:
                    raise KeyError("the request targets several workspaces: name one")
                return next(iter(self.workspaces.values()))
            return self.workspaces[name]
        if name is not None and name != primary:
            raise KeyError(name)
        step = self.steps.get(submission_step(self.action))
        status = _LEGACY_STATUS[self.status]
        if status == "pending" and self.submitted:
            status = "submitted"  # accepted; its verification not scheduled yet
        return WorkspaceState(
            status=status,
            steps={n: s.model_copy() for n, s in self.steps.items()},
            attempts=self.attempts,
            submitted_at=self.accepted_at,
            status_code=step.status_code if step else self.last_status_code,
            customerio_request_id=step.customerio_request_id if step else None,
            verification=self.verification,
            verified_at=self.verified_at,
            verification_checks=self.verification_checks,
            completed_at=self.completed_at,
            failure_reason=self.failure_reason if self.status == "failed" else None,
            last_error=self.last_error,
        )

    def workspace_states(self, primary: str = DEFAULT_WORKSPACE) -> dict[str, WorkspaceState]:
        """Every targeted workspace's state, by name (see ``workspace``)."""
        names = self.workspace_names(primary)
        return {name: self.workspace(name, primary=primary) for name in names}

    @property
    def finished(self) -> bool:
        """True once Customer.io accepted the operation (``FINISHED_STATUSES``: submitted,
        completed or unverified): no message of this request calls Customer.io again. A failed
        record may be redriven and tried again."""
        return self.status in FINISHED_STATUSES

    @property
    def submitted(self) -> bool:
        """True once Customer.io accepted the request's operation (its ``submission_step`` is
        done): no Track call is ever repeated for it. A record written before Track v2 may hold a
        pending ``delete`` after a done ``suppress``: the suppress already deleted the person."""
        return self.step_done(submission_step(self.action))

    @property
    def accepted_at(self) -> str | None:
        """When Customer.io accepted the erasure: ``submitted_at`` (``completed_at`` for a record
        completed before Track v2, which had no ``submitted_at``), or None."""
        if self.submitted_at is not None:
            return self.submitted_at
        return self.completed_at if self.status == "completed" else None

    def deadline_met(self, now: datetime) -> bool | None:
        """Whether the erasure met its statutory deadline, as of ``now``: for a ``submitted`` or
        ``completed`` record, whether Customer.io accepted it by the deadline; for any other
        (received, in progress, failed, unverified: not erased), False once the deadline has
        passed and None (not yet known) while there is still time."""
        accepted = self.accepted_at
        if self.status in {"submitted", "completed"} and accepted is not None:
            return accepted <= self.deadline
        return False if iso(now) >= self.deadline else None

    def step_done(self, step: StepName) -> bool:
        """True when ``step`` is recorded done: it is never sent to Customer.io again."""
        record = self.steps.get(step)
        return record is not None and record.status == "done"

    def to_item(self) -> dict[str, Any]:
        """The DynamoDB item (low-level attribute values); None fields are left out."""
        data = self.model_dump(mode="json", exclude_none=True)
        return {key: attribute_value(value) for key, value in data.items()}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> AuditRecord:
        """Parse a DynamoDB item (low-level attribute values) into a record."""
        data = {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}
        return cls.model_validate(data)

    @classmethod
    def new(
        cls,
        request: DeletionRequest,
        now: datetime,
        *,
        subject_hash: str,
        lease_seconds: float,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> AuditRecord:
        """The first record of ``request`` (``transitions.new_record``) under a fresh lease token."""
        from cio_security.audit.transitions import new_record  # noqa: PLC0415 - it imports this module

        return new_record(
            request,
            now,
            subject_hash=subject_hash,
            lease_seconds=lease_seconds,
            lease_token=uuid.uuid4().hex,
            retention_days=retention_days,
        )


def attribute_value(value: Any) -> dict[str, Any]:
    """A plain (JSON-mode) value as a DynamoDB low-level attribute value (``{"S": ...}``)."""
    serialized: dict[str, Any] = dict(_serializer.serialize(value))
    return serialized


def _plain(value: Any) -> Any:
    """Decimals from DynamoDB back to int (or float), recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value
