"""The audit record of a deletion request (DESIGN section 4), as stored: one item per ``request_id``.

A record holds a keyed hash of the subject (HMAC-SHA256 with the pepper over
``identifier_type + ":" + identifier``), never the identifier itself; the action and regulation;
the status of each Track API step with Customer.io's status code; the requested, received and
completed timestamps; the statutory deadline; the number of attempts; and ``expires_at``, the
table's TTL attribute, at least 24 calendar months after the record was last finished.

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
    "MIN_RETENTION_DAYS",
    "AuditRecord",
    "RecordStatus",
    "StepName",
    "StepRecord",
    "StepStatus",
    "expiry_for",
    "iso",
    "subject_hash",
]

StepName = Literal["suppress", "delete"]
StepStatus = Literal["pending", "done", "failed"]
RecordStatus = Literal["received", "in_progress", "completed", "failed"]

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
    """One Track API step of a request: its status, Customer.io's last status code, and when."""

    model_config = ConfigDict(extra="ignore")

    status: StepStatus = "pending"
    status_code: int | None = None
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
    completed_at: str | None = None
    failure_reason: str | None = None
    last_error: str | None = None
    last_status_code: int | None = None
    lease_until: str | None = None
    lease_token: str | None = None
    expires_at: int

    @property
    def finished(self) -> bool:
        """True once completed (a failed record may be redriven and tried again)."""
        return self.status == "completed"

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
