"""Publishing a verified, sanitized webhook event to EventBridge.

An event is published with ``source`` ``customerio`` and ``detail-type`` its ``metric``; its
``detail`` holds ``event_id``, ``object_type``, ``metric``, ``timestamp``, ``workspace`` (the
Customer.io workspace whose signing key verified the delivery: ``cio_security.workspaces``), the
sanitized ``data`` and the ``sanitizer`` report. An event whose entry would reach PutEvents' size
limit is published as a reference instead: the same envelope with ``claim_check`` (``bucket``,
``key``, ``size``, ``sha256``, ``workspace``) in place of ``data`` and ``sanitizer`` (see
``claims``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from cio_security.errors import InvalidEventError, PayloadLimitError, PublishError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

    from cio_security.webhook.claims import ClaimPointer
    from cio_security.webhook.event import WebhookEvent

__all__ = [
    "EVENT_SOURCE",
    "MAX_ENTRY_BYTES",
    "claim_check_entry",
    "entry_size",
    "event_bridge_entry",
    "event_detail",
    "publish_entry",
    "serialize_detail",
]

EVENT_SOURCE: Final = "customerio"
MAX_ENTRY_BYTES: Final = 256 * 1024
"""PutEvents' entry size limit: "the total entry size must be less than 256KB", counted as the
UTF-8 bytes of Source, DetailType, Detail and each Resource, plus 14 for Time
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html)."""

# Entry error codes that describe the entry itself (a retry sends the same bytes and fails the
# same way): the event is kept instead. The others (InternalFailure, ThrottlingException, and
# AccessDenied/NotAuthorized*, which a fix to the stack cures) are ours: 503, Customer.io retries.
# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html
REFUSED_ENTRY_CODES: Final = frozenset({"InvalidArgument", "MalformedDetail"})


def event_detail(
    event: WebhookEvent,
    data: Mapping[str, Any],
    report: Mapping[str, Any] | None,
    *,
    workspace: str | None = None,
) -> dict[str, Any]:
    """The ``detail`` of a published event: the five event fields, the workspace (when given)
    and the sanitizer report."""
    detail: dict[str, Any] = {
        "event_id": event.event_id,
        "object_type": event.object_type,
        "metric": event.metric,
        "timestamp": event.timestamp,
    }
    if workspace is not None:
        detail["workspace"] = workspace
    detail["data"] = data
    if report is not None:
        detail["sanitizer"] = report
    return detail


def serialize_detail(detail: Mapping[str, Any]) -> str:
    """Compact JSON of a detail. InvalidEventError for NaN or Infinity, which parse from a body
    but are not JSON: EventBridge would refuse the entry."""
    try:
        return json.dumps(detail, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise InvalidEventError("invalid webhook event (a non-finite number in data)") from None


def entry_size(entry: Mapping[str, Any]) -> int:
    """PutEvents' size of one entry, as EventBridge counts it."""
    size = 14 if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        value = entry.get(name)
        if value is not None:
            size += len(str(value).encode("utf-8"))
    for resource in entry.get("Resources") or ():
        size += len(str(resource).encode("utf-8"))
    return size


def _entry(event: WebhookEvent, detail_json: str, bus_name: str) -> dict[str, Any]:
    return {
        "Source": EVENT_SOURCE,
        "DetailType": event.metric,
        "Detail": detail_json,
        "EventBusName": bus_name,
    }


def event_bridge_entry(
    event: WebhookEvent,
    data: Mapping[str, Any],
    *,
    bus_name: str,
    report: Mapping[str, Any] | None = None,
    detail_json: str | None = None,
) -> dict[str, Any]:
    """The PutEvents entry for a verified, sanitized event. Raises PayloadLimitError when it
    reaches PutEvents' entry size (publish a claim check instead) and InvalidEventError for a
    non-finite number. ``detail_json`` skips serialising again when the caller already did."""
    serialized = (
        detail_json if detail_json is not None else serialize_detail(event_detail(event, data, report))
    )
    entry = _entry(event, serialized, bus_name)
    if entry_size(entry) >= MAX_ENTRY_BYTES:
        raise PayloadLimitError("sanitized event exceeds the EventBridge entry size")
    return entry


def claim_check_entry(event: WebhookEvent, pointer: ClaimPointer, *, bus_name: str) -> dict[str, Any]:
    """The entry of a claim-checked event: the envelope with ``claim_check`` instead of ``data``
    (at most a few hundred bytes: the event's id, type and metric are bounded by its model), and
    the pointer's ``workspace`` as ``detail.workspace``."""
    detail: dict[str, Any] = {
        "event_id": event.event_id,
        "object_type": event.object_type,
        "metric": event.metric,
        "timestamp": event.timestamp,
    }
    if pointer.workspace is not None:
        detail["workspace"] = pointer.workspace
    detail["claim_check"] = pointer.as_dict()
    return _entry(event, serialize_detail(detail), bus_name)


def publish_entry(client: EventBridgeClient | Any, entry: dict[str, Any]) -> str:
    """Put one entry on the bus and return its EventBridge id.

    Raises InvalidEventError when EventBridge refuses the entry itself (InvalidArgument,
    MalformedDetail: no retry can fix it) and PublishError on any other failure (ours: retry).
    """
    try:
        response = client.put_events(Entries=[entry])  # type: ignore[list-item]
    except (BotoCoreError, ClientError) as exc:
        raise PublishError(f"PutEvents failed: {type(exc).__name__}") from None
    results = response.get("Entries", [])
    if response.get("FailedEntryCount", 0) or not results or "EventId" not in results[0]:
        code = results[0].get("ErrorCode", "unknown") if results else "no result"
        if code in REFUSED_ENTRY_CODES:
            raise InvalidEventError(f"EventBridge refused the entry: {code}")
        raise PublishError(f"PutEvents rejected the entry: {code}")
    event_id: str = results[0]["EventId"]
    return event_id
