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
window), ``failed`` (a permanent failure; a redrive may lease it again).

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

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "FINISHED_STATUSES",
    "MIN_RETENTION_DAYS",
    "AuditRecord",
    "RecordStatus",
    "StepName",
    "StepRecord",
    "StepStatus",
    "Verification",
    "expiry_for",
    "iso",
    "subject_hash",
    "submission_step",
]

StepName = Literal["suppress", "delete"]
StepStatus = Literal["pending", "done", "failed"]
RecordStatus = Literal["received", "in_progress", "submitted", "completed", "unverified", "failed"]
Verification = Literal["pending", "verified", "unverified", "not_verified"]
"""Whether the erasure was verified through the App API: ``pending`` (checks scheduled),
``verified`` (the App API no longer finds the person), ``unverified`` (still found after the
verification window), ``not_verified`` (no App API key configured: nothing checks it)."""

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
    last_error: str | None = None
    last_status_code: int | None = None
    lease_until: str | None = None
    lease_token: str | None = None
    expires_at: int

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
