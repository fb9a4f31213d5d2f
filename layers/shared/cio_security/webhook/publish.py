"""Publishing a verified, sanitized webhook event to EventBridge."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from cio_security.errors import InvalidEventError, PayloadLimitError, PublishError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

    from cio_security.webhook.event import WebhookEvent

__all__ = ["EVENT_SOURCE", "MAX_ENTRY_BYTES", "event_bridge_entry", "publish_entry"]

EVENT_SOURCE = "customerio"
# PutEvents' limit for one entry, source and detail-type included.
MAX_ENTRY_BYTES = 256 * 1024


def event_bridge_entry(
    event: WebhookEvent, data: dict[str, Any], *, bus_name: str, report: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The PutEvents entry for a verified, sanitized event (source ``customerio``, detail-type the
    metric). Raises PayloadLimitError when it exceeds PutEvents' entry size and InvalidEventError
    for a non-finite number."""
    detail: dict[str, Any] = {
        "event_id": event.event_id,
        "object_type": event.object_type,
        "metric": event.metric,
        "timestamp": event.timestamp,
        "data": data,
    }
    if report is not None:
        detail["sanitizer"] = report
    try:
        # NaN and Infinity parse from a body but are not JSON: EventBridge would refuse the entry.
        serialized = json.dumps(detail, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise InvalidEventError("invalid webhook event (a non-finite number in data)") from None
    entry = {
        "Source": EVENT_SOURCE,
        "DetailType": event.metric,
        "Detail": serialized,
        "EventBusName": bus_name,
    }
    size = len(entry["Source"]) + len(entry["DetailType"]) + len(entry["Detail"].encode("utf-8"))
    if size > MAX_ENTRY_BYTES:
        raise PayloadLimitError("sanitized event exceeds the EventBridge entry size")
    return entry


def publish_entry(client: EventBridgeClient, entry: dict[str, Any]) -> str:
    """Put one entry on the bus and return its EventBridge id; PublishError on any failure."""
    try:
        response = client.put_events(Entries=[entry])  # type: ignore[list-item]
    except (BotoCoreError, ClientError) as exc:
        raise PublishError(f"PutEvents failed: {type(exc).__name__}") from None
    results = response.get("Entries", [])
    if response.get("FailedEntryCount", 0) or not results or "EventId" not in results[0]:
        code = results[0].get("ErrorCode", "unknown") if results else "no result"
        raise PublishError(f"PutEvents rejected the entry: {code}")
    return results[0]["EventId"]
