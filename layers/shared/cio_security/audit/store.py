"""The audit trail of deletion requests (DESIGN section 4): one DynamoDB item per ``request_id``.

A record holds a keyed hash of the subject (HMAC-SHA256 with the pepper over
``identifier_type + ":" + identifier``), never the identifier itself; the action and regulation;
the status of each Track API step with Customer.io's status code; the requested, received and
completed timestamps; the statutory deadline; the number of attempts; and ``expires_at``, the
table's TTL attribute, at least 24 calendar months after the record was last finished.

Writes are conditional, so concurrent deliveries of one request cannot both call Customer.io:

- ``begin`` creates the record, or takes a *lease* on an unfinished one (``lease_until``,
  ``lease_token``, one more ``attempts``). While another invocation's lease is unexpired it
  raises ``LeaseHeldError``: that duplicate is reported for redelivery and finds the outcome then.
- ``mark_step``, ``record_transient_failure``, ``fail`` and ``complete`` are conditional on the
  caller's lease token; a lease taken over meanwhile raises ``LeaseLostError``.

>>> store = AuditStore("audit-table")                                       # doctest: +SKIP
>>> record = store.begin(request, now, subject_hash=h, lease_seconds=120)   # doctest: +SKIP
>>> store.mark_step(request.request_id, "suppress", 200, now, lease_token=record.lease_token)
>>> store.complete(request.request_id, now, lease_token=record.lease_token)  # doctest: +SKIP
"""

from __future__ import annotations

import calendar
import hmac
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from cio_security import config
from cio_security.deletion.request import (
    Action,
    DeletionRequest,
    IdentifierType,
    Regulation,
    infer_identifier_type,
)
from cio_security.errors import AuditConflictError, AuditError, LeaseHeldError, LeaseLostError
from cio_security.hashing import keyed_hash

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "MIN_RETENTION_DAYS",
    "AuditBackend",
    "AuditRecord",
    "AuditStore",
    "MemoryAuditStore",
    "RecordStatus",
    "StepName",
    "StepRecord",
    "StepStatus",
    "expiry_for",
    "iso",
    "subject_hash",
]

logger = logging.getLogger(__name__)

StepName = Literal["suppress", "delete"]
StepStatus = Literal["pending", "done", "failed"]
RecordStatus = Literal["received", "in_progress", "completed", "failed"]

MIN_RETENTION_DAYS: Final = 730
DEFAULT_RETENTION_DAYS: Final = 800
"""Days past completion (or receipt) before DynamoDB may expire a record: about 26 months, so a
record outlives the 24-month minimum with room for TTL's own lateness."""

_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
_BEGIN_TRIES: Final = 3
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
        return {key: _serializer.serialize(value) for key, value in data.items()}

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
        """The first record of ``request``: every step pending, leased to the caller."""
        return cls(
            request_id=request.request_id,
            subject_hash=subject_hash,
            identifier_type=request.identifier_type or infer_identifier_type(request.identifier),
            action=request.action,
            regulation=request.regulation,
            steps={step: StepRecord() for step in request.steps},
            status="received",
            attempts=1,
            requested_at=iso(request.requested_at),
            received_at=iso(now),
            updated_at=iso(now),
            deadline=iso(request.deadline),
            lease_until=iso(now + timedelta(seconds=lease_seconds)),
            lease_token=uuid.uuid4().hex,
            expires_at=expiry_for(now, retention_days),
        )


def _plain(value: Any) -> Any:
    """Decimals from DynamoDB back to int (or float), recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def _value(value: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = dict(_serializer.serialize(value))
    return serialized


class AuditBackend(Protocol):
    """What DeletionProcessor needs of an audit store: ``AuditStore`` (DynamoDB) or
    ``MemoryAuditStore``. See ``AuditStore`` for each method's contract."""

    def get(self, request_id: str) -> AuditRecord | None: ...

    def begin(
        self, request: DeletionRequest, now: datetime, subject_hash: str, lease_seconds: float
    ) -> AuditRecord: ...

    def mark_step(
        self,
        request_id: str,
        step: StepName,
        status_code: int | None,
        now: datetime,
        *,
        lease_token: str | None = None,
    ) -> None: ...

    def record_transient_failure(
        self,
        request_id: str,
        step: StepName,
        status_code: int | None,
        reason: str,
        now: datetime,
        *,
        lease_token: str | None = None,
    ) -> None: ...

    def release(
        self, request_id: str, reason: str, now: datetime, *, lease_token: str | None = None
    ) -> None: ...

    def fail(
        self,
        request_id: str,
        reason: str,
        now: datetime,
        *,
        step: StepName | None = None,
        status_code: int | None = None,
        lease_token: str | None = None,
    ) -> None: ...

    def complete(self, request_id: str, now: datetime, *, lease_token: str | None = None) -> AuditRecord: ...


class AuditStore:
    """Audit records in a DynamoDB table keyed by ``request_id`` (S), TTL attribute ``expires_at``.

    ``client`` is a boto3 DynamoDB client (created with ``config.boto_config()`` on first use when
    not given); it is thread-safe, so one store serves every record of a concurrent batch.
    Every method raises AuditError when DynamoDB cannot be reached or refuses the request.
    """

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        if retention_days < MIN_RETENTION_DAYS:
            raise ValueError(f"audit records are kept at least {MIN_RETENTION_DAYS} days")
        self.table_name = table_name
        self.retention_days = retention_days
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        """The DynamoDB client, created on first use."""
        if self._client is None:
            self._client = boto3.client("dynamodb", config=config.boto_config())
        return self._client

    def __repr__(self) -> str:
        return f"AuditStore(table_name={self.table_name!r})"

    # -- reading ---------------------------------------------------------------------------------

    def get(self, request_id: str) -> AuditRecord | None:
        """The record of ``request_id`` (strongly consistent read), or None when there is none."""
        try:
            item = self.client.get_item(
                TableName=self.table_name, Key={"request_id": {"S": request_id}}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise AuditError(f"audit record {request_id} could not be read") from exc
        return AuditRecord.from_item(item) if item else None

    # -- the lease -------------------------------------------------------------------------------

    def begin(
        self,
        request: DeletionRequest,
        now: datetime,
        subject_hash: str,
        lease_seconds: float,
    ) -> AuditRecord:
        """Create the record of ``request`` or take the lease on its unfinished record.

        Returns the record as it now stands: a completed record is returned untouched (the caller
        does nothing more); otherwise the caller holds the lease until ``lease_until`` and must pass
        ``record.lease_token`` to the writes that follow. Taking the lease on an existing record
        counts one more attempt and lifts a ``failed`` status (an operator redrove the message).

        Raises LeaseHeldError while another invocation's lease is unexpired, AuditConflictError
        when the request_id belongs to another subject or action, AuditError otherwise.
        """
        record = AuditRecord.new(
            request,
            now,
            subject_hash=subject_hash,
            lease_seconds=lease_seconds,
            retention_days=self.retention_days,
        )
        existing = self._put_new(record)
        if existing is None:
            logger.info("audit record created", extra={"request_id": request.request_id})
            return record
        for _ in range(_BEGIN_TRIES):
            self._check_same_request(existing, record)
            if existing.finished:
                return existing
            if existing.lease_until is not None and existing.lease_until > iso(now):
                raise LeaseHeldError(request.request_id, existing.lease_until)
            leased = self._take_lease(existing, now, lease_seconds)
            if leased is not None:
                return leased
            fresh = self.get(request.request_id)
            if fresh is None:  # pragma: no cover - records are never deleted by this code
                raise AuditError(f"audit record {request.request_id} vanished")
            existing = fresh
        raise LeaseHeldError(request.request_id, existing.lease_until)

    def _put_new(self, record: AuditRecord) -> AuditRecord | None:
        """Put ``record`` if none exists; return the existing record otherwise."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=record.to_item(),
                ConditionExpression="attribute_not_exists(request_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                raise AuditError(f"audit record {record.request_id} could not be written") from exc
            item: Any = exc.response.get("Item")  # type: ignore[typeddict-item,unused-ignore]
            if isinstance(item, dict) and item:
                return AuditRecord.from_item(item)
            existing = self.get(record.request_id)
            if existing is None:  # pragma: no cover - a condition failure means it exists
                raise AuditError(f"audit record {record.request_id} could not be written") from exc
            return existing
        except BotoCoreError as exc:
            raise AuditError(f"audit record {record.request_id} could not be written") from exc
        return None

    @staticmethod
    def _check_same_request(existing: AuditRecord, new: AuditRecord) -> None:
        if not _same_hash(existing.subject_hash, new.subject_hash):
            raise AuditConflictError(new.request_id, "subject")
        if existing.action != new.action:
            raise AuditConflictError(new.request_id, "action")

    def _take_lease(self, existing: AuditRecord, now: datetime, lease_seconds: float) -> AuditRecord | None:
        """Lease an unfinished record whose lease has expired; None when it changed meanwhile."""
        status: RecordStatus = "in_progress" if existing.status == "failed" else existing.status
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":one": _value(1),
            ":now": _value(iso(now)),
            ":lease": _value(iso(now + timedelta(seconds=lease_seconds))),
            ":token": _value(uuid.uuid4().hex),
            ":status": _value(status),
            ":seen": _value(existing.status),
            ":attempts": _value(existing.attempts),
        }
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"request_id": {"S": existing.request_id}},
                UpdateExpression=(
                    "SET attempts = attempts + :one, lease_until = :lease, lease_token = :token, "
                    "#status = :status, updated_at = :now REMOVE failure_reason"
                ),
                ConditionExpression=(
                    "#status = :seen AND attempts = :attempts "
                    "AND (attribute_not_exists(lease_until) OR lease_until <= :now)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                return None
            raise AuditError(f"audit record {existing.request_id} could not be leased") from exc
        except BotoCoreError as exc:
            raise AuditError(f"audit record {existing.request_id} could not be leased") from exc
        logger.info(
            "audit record leased", extra={"request_id": existing.request_id, "attempt": existing.attempts + 1}
        )
        return AuditRecord.from_item(response["Attributes"])

    # -- writes under the lease ------------------------------------------------------------------

    def mark_step(
        self,
        request_id: str,
        step: StepName,
        status_code: int | None,
        now: datetime,
        *,
        lease_token: str | None = None,
    ) -> None:
        """Record ``step`` done with Customer.io's status code: it is never called again for this
        request. Call it right after the call returns, before the next step."""
        self._update(
            request_id,
            "SET steps.#step = :step, #status = :in_progress, last_status_code = :code, updated_at = :now",
            {
                ":step": _value({"status": "done", "status_code": status_code, "at": iso(now)}),
                ":in_progress": _value("in_progress"),
                ":code": _value(status_code),
                ":now": _value(iso(now)),
            },
            lease_token=lease_token,
            step=step,
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
    ) -> None:
        """Record a failure a retry may fix (``reason`` a short code such as ``customerio_503``)
        and release the lease, so the redelivered message is processed at once."""
        self._update(
            request_id,
            "SET steps.#step = :step, #status = :in_progress, last_status_code = :code, "
            "last_error = :reason, updated_at = :now, lease_until = :now REMOVE lease_token",
            {
                ":step": _value({"status": "pending", "status_code": status_code, "at": iso(now)}),
                ":in_progress": _value("in_progress"),
                ":code": _value(status_code),
                ":reason": _value(reason),
                ":now": _value(iso(now)),
            },
            lease_token=lease_token,
            step=step,
        )

    def release(self, request_id: str, reason: str, now: datetime, *, lease_token: str | None = None) -> None:
        """Give the lease back without touching the steps (``reason`` recorded as the last error)."""
        self._update(
            request_id,
            "SET last_error = :reason, updated_at = :now, lease_until = :now REMOVE lease_token",
            {":reason": _value(reason), ":now": _value(iso(now))},
            lease_token=lease_token,
        )

    def fail(
        self,
        request_id: str,
        reason: str,
        now: datetime,
        *,
        step: StepName | None = None,
        status_code: int | None = None,
        lease_token: str | None = None,
    ) -> None:
        """Record a permanent failure (status ``failed``, ``failure_reason``) and release the lease.
        A later delivery of the same request (an operator's redrive) may lease it again."""
        expression = (
            "SET #status = :failed, failure_reason = :reason, updated_at = :now, "
            "lease_until = :now, expires_at = :expires"
        )
        values = {
            ":failed": _value("failed"),
            ":reason": _value(reason),
            ":now": _value(iso(now)),
            ":expires": _value(expiry_for(now, self.retention_days)),
        }
        if step is not None:
            expression += ", steps.#step = :step, last_status_code = :code"
            values[":step"] = _value({"status": "failed", "status_code": status_code, "at": iso(now)})
            values[":code"] = _value(status_code)
        self._update(
            request_id, expression + " REMOVE lease_token", values, lease_token=lease_token, step=step
        )

    def complete(self, request_id: str, now: datetime, *, lease_token: str | None = None) -> AuditRecord:
        """Mark the request completed at ``now`` (``completed_at``; ``expires_at`` moves to the
        retention period after completion) and release the lease. Returns the final record."""
        attributes = self._update(
            request_id,
            "SET #status = :completed, completed_at = :now, updated_at = :now, expires_at = :expires "
            "REMOVE lease_until, lease_token, failure_reason",
            {
                ":completed": _value("completed"),
                ":now": _value(iso(now)),
                ":expires": _value(expiry_for(now, self.retention_days)),
            },
            lease_token=lease_token,
        )
        return AuditRecord.from_item(attributes)

    def _update(
        self,
        request_id: str,
        expression: str,
        values: dict[str, Any],
        *,
        lease_token: str | None,
        step: StepName | None = None,
    ) -> dict[str, Any]:
        names = {"#status": "status"} if "#status" in expression else {}
        if step is not None:
            names["#step"] = step
        condition = "attribute_exists(request_id)"
        if lease_token is not None:
            condition += " AND lease_token = :lease_token"
            values = {**values, ":lease_token": _value(lease_token)}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"request_id": {"S": request_id}},
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            response = self.client.update_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                if lease_token is not None:
                    raise LeaseLostError(request_id) from exc
                raise AuditError(f"audit record {request_id} does not exist") from exc
            raise AuditError(f"audit record {request_id} could not be updated") from exc
        except BotoCoreError as exc:
            raise AuditError(f"audit record {request_id} could not be updated") from exc
        attributes: dict[str, Any] = response["Attributes"]
        return attributes


class MemoryAuditStore:
    """AuditStore's semantics in memory (one process): for tests, benchmarks and local tools
    that must not depend on DynamoDB's speed. ``latency`` (seconds) is added to every operation
    to model a remote store. Thread-safe; records are copied in and out.

    >>> store = MemoryAuditStore(latency=0.005)   # DynamoDB's typical single-digit milliseconds
    """

    def __init__(self, *, retention_days: int = DEFAULT_RETENTION_DAYS, latency: float = 0.0) -> None:
        if retention_days < MIN_RETENTION_DAYS:
            raise ValueError(f"audit records are kept at least {MIN_RETENTION_DAYS} days")
        self.retention_days = retention_days
        self.latency = latency
        self._records: dict[str, AuditRecord] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryAuditStore(records={len(self._records)})"

    def _pause(self) -> None:
        if self.latency > 0:
            time.sleep(self.latency)

    def records(self) -> list[AuditRecord]:
        """Every record (copies)."""
        with self._lock:
            return [r.model_copy(deep=True) for r in self._records.values()]

    def get(self, request_id: str) -> AuditRecord | None:
        """The record of ``request_id`` (a copy), or None."""
        self._pause()
        with self._lock:
            record = self._records.get(request_id)
            return record.model_copy(deep=True) if record else None

    def begin(
        self, request: DeletionRequest, now: datetime, subject_hash: str, lease_seconds: float
    ) -> AuditRecord:
        """As ``AuditStore.begin``."""
        self._pause()
        new = AuditRecord.new(
            request,
            now,
            subject_hash=subject_hash,
            lease_seconds=lease_seconds,
            retention_days=self.retention_days,
        )
        with self._lock:
            existing = self._records.get(request.request_id)
            if existing is None:
                self._records[request.request_id] = new
                return new.model_copy(deep=True)
            AuditStore._check_same_request(existing, new)
            if existing.finished:
                return existing.model_copy(deep=True)
            if existing.lease_until is not None and existing.lease_until > iso(now):
                raise LeaseHeldError(request.request_id, existing.lease_until)
            existing.attempts += 1
            existing.lease_until = new.lease_until
            existing.lease_token = new.lease_token
            existing.status = "in_progress" if existing.status == "failed" else existing.status
            existing.failure_reason = None
            existing.updated_at = iso(now)
            return existing.model_copy(deep=True)

    def _leased(self, request_id: str, lease_token: str | None) -> AuditRecord:
        """The stored record, checked like AuditStore's conditions. Call with the lock held."""
        record = self._records.get(request_id)
        if record is None or (lease_token is not None and record.lease_token != lease_token):
            if lease_token is not None:
                raise LeaseLostError(request_id)
            raise AuditError(f"audit record {request_id} does not exist")
        return record

    def mark_step(
        self,
        request_id: str,
        step: StepName,
        status_code: int | None,
        now: datetime,
        *,
        lease_token: str | None = None,
    ) -> None:
        """As ``AuditStore.mark_step``."""
        self._pause()
        with self._lock:
            record = self._leased(request_id, lease_token)
            record.steps[step] = StepRecord(status="done", status_code=status_code, at=iso(now))
            record.status, record.last_status_code, record.updated_at = "in_progress", status_code, iso(now)

    def record_transient_failure(
        self,
        request_id: str,
        step: StepName,
        status_code: int | None,
        reason: str,
        now: datetime,
        *,
        lease_token: str | None = None,
    ) -> None:
        """As ``AuditStore.record_transient_failure``."""
        self._pause()
        with self._lock:
            record = self._leased(request_id, lease_token)
            record.steps[step] = StepRecord(status="pending", status_code=status_code, at=iso(now))
            record.status, record.last_status_code, record.last_error = "in_progress", status_code, reason
            record.updated_at = record.lease_until = iso(now)
            record.lease_token = None

    def release(self, request_id: str, reason: str, now: datetime, *, lease_token: str | None = None) -> None:
        """As ``AuditStore.release``."""
        self._pause()
        with self._lock:
            record = self._leased(request_id, lease_token)
            record.last_error = reason
            record.updated_at = record.lease_until = iso(now)
            record.lease_token = None

    def fail(
        self,
        request_id: str,
        reason: str,
        now: datetime,
        *,
        step: StepName | None = None,
        status_code: int | None = None,
        lease_token: str | None = None,
    ) -> None:
        """As ``AuditStore.fail``."""
        self._pause()
        with self._lock:
            record = self._leased(request_id, lease_token)
            record.status, record.failure_reason = "failed", reason
            record.updated_at = record.lease_until = iso(now)
            record.expires_at = expiry_for(now, self.retention_days)
            record.lease_token = None
            if step is not None:
                record.steps[step] = StepRecord(status="failed", status_code=status_code, at=iso(now))
                record.last_status_code = status_code

    def complete(self, request_id: str, now: datetime, *, lease_token: str | None = None) -> AuditRecord:
        """As ``AuditStore.complete``."""
        self._pause()
        with self._lock:
            record = self._leased(request_id, lease_token)
            record.status = "completed"
            record.completed_at = record.updated_at = iso(now)
            record.expires_at = expiry_for(now, self.retention_days)
            record.lease_until = record.lease_token = record.failure_reason = None
            return record.model_copy(deep=True)


def _same_hash(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode("ascii"), right.encode("ascii"))
