"""Erasure events on the stack's EventBridge bus: ``ErasureCompleted``, ``ErasureVerified`` and
``ErasureFailed``, source ``cio-security.deletion`` (``SOURCE``).

The detail is built from the audit record alone, so it holds no identifier and no subject hash:

```json
{"request_id": "dsar-2026-0001", "status": "completed", "verification": "not_verified",
 "action": "erase", "regulation": "gdpr", "requested_at": "2026-11-28T10:00:00.000Z",
 "submitted_at": "2026-11-28T10:00:03.120Z", "completed_at": "2026-11-28T10:00:03.180Z",
 "deadline": "2026-12-28T10:00:00.000Z", "deadline_met": true}
```

Every detail also lists the Customer.io ``workspaces`` the request erases in (sorted) and
``workspace_results``, per workspace ``{status, verification, submitted_at, verified_at}``
(workspace names are configuration, never personal data; a record written before workspaces
existed is listed under the stack's primary workspace, which the publisher passes as
``primary``). ``ErasureCompleted`` and ``ErasureVerified`` are published once the whole request is
done (every workspace).

``ErasureVerified`` adds ``verified_at``; ``ErasureFailed`` has ``failed_at``, ``reason`` (a
short code such as ``customerio_rejected_invalid_identifiers`` or ``retries_exhausted``) and
``workspace`` (the workspace that failed, or null) instead of ``completed_at``.
``deadline_met`` is ``AuditRecord.deadline_met``: whether Customer.io accepted
the erasure by the deadline, and for a failure ``false`` once the deadline has passed without an
erasure and ``null`` while there is still time (a failed request may be redriven).

Publishing never decides an erasure's outcome: the audit record is the source of truth, written
before any event. ``ErasureEvents.publish`` sends up to 10 entries per PutEvents call (the API's
maximum: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html) and
reports what failed (a refused call, or entries EventBridge answered with an ``ErrorCode``, which
PutEvents reports per entry rather than as an error) instead of raising; the caller logs and
counts them.

>>> event = ErasureEvent("ErasureCompleted", record)                # doctest: +SKIP
>>> ErasureEvents("cio-security-customerio").publish([event]).failed  # doctest: +SKIP
[]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cio_security import config
from cio_security.audit.record import AuditRecord, iso
from cio_security.workspaces import DEFAULT_WORKSPACE

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

__all__ = [
    "MAX_ENTRIES_PER_CALL",
    "SOURCE",
    "ErasureEvent",
    "ErasureEventType",
    "ErasureEvents",
    "PublishReport",
    "erasure_detail",
]

logger = logging.getLogger(__name__)

SOURCE: Final = "cio-security.deletion"
MAX_ENTRIES_PER_CALL: Final = 10
ErasureEventType = Literal["ErasureCompleted", "ErasureVerified", "ErasureFailed"]


def erasure_detail(
    kind: ErasureEventType,
    record: AuditRecord,
    *,
    reason: str | None = None,
    now: datetime | None = None,
    primary: str = DEFAULT_WORKSPACE,
) -> dict[str, Any]:
    """The event detail for ``record`` (module docstring). ``now`` is when the event happened
    (``failed_at``, and the moment ``deadline_met`` is judged at); default: the record's
    ``updated_at``. ``primary`` is the stack's primary workspace (``workspaces_from_env().primary``):
    a record written before workspaces existed is its state, listed under its name."""
    at = iso(now) if now is not None else record.updated_at
    states = record.workspace_states(primary)
    detail: dict[str, Any] = {
        "request_id": record.request_id,
        "status": record.status,
        "verification": record.verification,
        "action": record.action,
        "regulation": record.regulation,
        "requested_at": record.requested_at,
        "submitted_at": record.submitted_at,
        "deadline": record.deadline,
        "deadline_met": record.deadline_met(datetime.fromisoformat(at)),
        "workspaces": list(states),
        "workspace_results": {
            name: {
                "status": state.status,
                "verification": state.verification,
                "submitted_at": state.submitted_at,
                "verified_at": state.verified_at,
            }
            for name, state in states.items()
        },
    }
    if kind == "ErasureFailed":
        failed = [name for name, state in states.items() if state.status == "failed"]
        detail["failed_at"] = at
        detail["reason"] = reason or record.failure_reason or record.last_error or "failed"
        detail["workspace"] = failed[0] if failed else None
        return detail
    detail["completed_at"] = record.completed_at
    if kind == "ErasureVerified":
        detail["verified_at"] = record.verified_at
    return detail


@dataclass(frozen=True, slots=True)
class ErasureEvent:
    """One erasure event to publish: its type, the audit record it reports, and for
    ``ErasureFailed`` the reason."""

    kind: ErasureEventType
    record: AuditRecord
    reason: str | None = None
    at: datetime | None = None
    """When it happened (``failed_at``; the entry's ``Time``); default now."""
    primary: str = DEFAULT_WORKSPACE
    """The stack's primary workspace: the one a record written before workspaces existed names."""

    def entry(self, bus_name: str, source: str = SOURCE) -> dict[str, Any]:
        """The PutEvents entry."""
        at = self.at or datetime.now(UTC)
        detail = erasure_detail(self.kind, self.record, reason=self.reason, now=self.at, primary=self.primary)
        return {
            "EventBusName": bus_name,
            "Source": source,
            "DetailType": self.kind,
            "Time": at,
            "Detail": json.dumps(detail, separators=(",", ":")),
        }


@dataclass
class PublishReport:
    """What ``publish`` did, by request id."""

    published: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class ErasureEvents:
    """Publishes erasure events to ``bus_name`` (the stack's EventBus). ``client`` is a boto3
    EventBridge client (created with ``config.boto_config()`` on first use when not given); it is
    thread-safe, so one publisher serves a whole batch."""

    def __init__(
        self, bus_name: str, client: EventBridgeClient | None = None, *, source: str = SOURCE
    ) -> None:
        self.bus_name = bus_name
        self.source = source
        self._client = client

    def __repr__(self) -> str:
        return f"ErasureEvents(bus_name={self.bus_name!r})"

    @property
    def client(self) -> EventBridgeClient:
        """The EventBridge client, created on first use."""
        if self._client is None:
            self._client = boto3.client("events", config=config.boto_config())
        return self._client

    def publish(self, events: Sequence[ErasureEvent]) -> PublishReport:
        """Publish ``events``, 10 per PutEvents call. Never raises for an AWS failure: what could
        not be published is logged (request ids and error codes only) and reported as failed."""
        report = PublishReport()
        for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
            chunk = events[start : start + MAX_ENTRIES_PER_CALL]
            ids = [event.record.request_id for event in chunk]
            try:
                response = self.client.put_events(
                    Entries=[event.entry(self.bus_name, self.source) for event in chunk]  # type: ignore[misc]
                )
            except (ClientError, BotoCoreError) as exc:
                logger.warning(
                    "erasure events not published: %s", type(exc).__name__, extra={"request_ids": ids}
                )
                report.failed.extend(ids)
                continue
            results = response.get("Entries", [])
            for index, request_id in enumerate(ids):
                result = results[index] if index < len(results) else {}
                if result.get("EventId"):
                    report.published.append(request_id)
                else:
                    logger.warning(
                        "erasure event not published",
                        extra={"request_id": request_id, "error_code": result.get("ErrorCode", "missing")},
                    )
                    report.failed.append(request_id)
        return report
