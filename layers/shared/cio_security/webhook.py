"""Customer.io reporting webhooks after verification: the event model, settings and the
EventBridge entry. No AWS event shapes here (the handler reads API Gateway's)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from cio_security import config
from cio_security.errors import ConfigurationError, InvalidEventError, PayloadLimitError, PublishError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

EVENT_SOURCE = "customerio"
# PutEvents' limit for one entry, source and detail-type included.
MAX_ENTRY_BYTES = 256 * 1024
DEFAULT_DEDUPE_SECONDS = 7 * 24 * 3600


_LOGGABLE_ID = re.compile(r"[A-Za-z0-9_.:-]+").fullmatch


class WebhookEvent(BaseModel):
    """A Customer.io reporting webhook. Fields beyond these are ignored and never published:
    they are unknown to the sanitizer policy's authors."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
    object_type: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    metric: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    timestamp: int = Field(ge=0, lt=10**12)
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def log_id(self) -> str:
        """``event_id`` for logs when it has an id's shape (Customer.io sends ULIDs); otherwise a
        placeholder, so a signed but odd id that looks like an email never reaches a log."""
        return self.event_id if _LOGGABLE_ID(self.event_id) else "(withheld: not an id)"


def parse_webhook_event(body: bytes) -> WebhookEvent:
    """Validate a verified body; InvalidEventError names the failing fields, never their values."""
    try:
        return WebhookEvent.model_validate_json(body)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"]) or "(root)" for err in exc.errors()})
        raise InvalidEventError(f"invalid webhook event (fields: {', '.join(fields)[:200]})") from None


@dataclass(frozen=True)
class WebhookSettings:
    """The webhook function's settings, from DESIGN section 7's environment variables."""

    signing_key_secret_id: str
    event_bus_name: str
    idempotency_table: str
    tolerance_seconds: int = config.DEFAULT_WEBHOOK_TOLERANCE_SECONDS
    max_body_bytes: int = config.DEFAULT_WEBHOOK_MAX_BODY_BYTES
    grace_seconds: int = config.DEFAULT_SIGNING_KEY_GRACE_SECONDS
    dedupe_seconds: int = DEFAULT_DEDUPE_SECONDS
    key_refresh_seconds: int = 60

    @classmethod
    def from_env(cls) -> WebhookSettings:
        """Read and check the settings; a missing or invalid one raises ConfigurationError."""
        tolerance = config.env_int(config.WEBHOOK_TOLERANCE_SECONDS, config.DEFAULT_WEBHOOK_TOLERANCE_SECONDS)
        dedupe = config.env_int(config.WEBHOOK_DEDUPE_SECONDS, DEFAULT_DEDUPE_SECONDS, minimum=1)
        if dedupe < tolerance:
            # A replay inside the tolerance must still find its idempotency record.
            raise ConfigurationError("WEBHOOK_DEDUPE_SECONDS must be at least WEBHOOK_TOLERANCE_SECONDS")
        return cls(
            signing_key_secret_id=config.require_env(config.SIGNING_KEY_SECRET_ID),
            event_bus_name=config.require_env(config.EVENT_BUS_NAME),
            idempotency_table=config.require_env(config.IDEMPOTENCY_TABLE),
            tolerance_seconds=tolerance,
            max_body_bytes=config.env_int(
                config.WEBHOOK_MAX_BODY_BYTES, config.DEFAULT_WEBHOOK_MAX_BODY_BYTES, minimum=1
            ),
            grace_seconds=config.env_int(
                config.SIGNING_KEY_GRACE_SECONDS, config.DEFAULT_SIGNING_KEY_GRACE_SECONDS
            ),
            dedupe_seconds=dedupe,
            key_refresh_seconds=config.env_int(config.SIGNING_KEY_REFRESH_SECONDS, 60),
        )


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
