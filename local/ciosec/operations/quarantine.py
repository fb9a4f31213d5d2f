"""The operator's side of kept webhook bodies (``ciosec webhook quarantine list | show | replay``),
on the local stack or a deployed one, through the boto3 clients it is given.

A kept body is customer data exactly as Customer.io sent it. What an operator needs to fix the
cause is rarely the values: ``outline`` shows the body's *structure* (keys, value types, string
lengths, where a NaN or an unexpected type sits) and the event's id, type and metric when they have
a safe shape. The raw bytes are printed only when asked for explicitly (``show --raw``).

``replay`` runs a kept body through the current code (this checkout's ``cio_security``: deploy the
fix, then replay from the same revision) and the stack's current key ring, exactly as the webhook
function would, deduplicated against the function's own idempotency records; a body that is
published (or was already) is removed from the bucket, one that still cannot be is left with its
new reason.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cio_security.sanitizer.loggable import personal_data_shape
from cio_security.secrets.loaders import signing_key_loader
from cio_security.secrets.store import SecretStore
from cio_security.webhook.claims import ClaimCheck
from cio_security.webhook.dedupe import dynamodb_deduplicator
from cio_security.webhook.outcome import Outcome
from cio_security.webhook.processor import WebhookProcessor
from cio_security.webhook.quarantine import KeptBody, Quarantine, id_shaped
from cio_security.webhook.settings import WebhookSettings
from cio_security.webhook.signature import SigningKeyRing
from cio_security.webhook.storage.s3 import S3ObjectStore
from ciosec.operations.stack import StackInfo

__all__ = [
    "ReplayResult",
    "StackClients",
    "outline",
    "pepper_of",
    "quarantine_for",
    "replay",
    "replay_processor",
    "structure",
]

MAX_DEPTH = 8
MAX_ITEMS = 20
_SAFE_WORD = re.compile(r"[A-Za-z0-9_.-]{1,64}").fullmatch


@dataclass(frozen=True)
class StackClients:
    """The boto3 clients the quarantine commands use (S3, Secrets Manager, EventBridge)."""

    s3: Any
    secretsmanager: Any
    events: Any


def _need(value: str, what: str) -> str:
    if not value:
        raise SystemExit(f"the stack has no {what} (deploy this version of the template)")
    return value


def pepper_of(store: SecretStore, stack: StackInfo) -> Callable[[], bytes]:
    """The stack's pepper, read from its pepper secret when called (``store`` caches it), as the
    functions key their hashes with. Exits when the stack names no pepper secret."""
    secret_id = _need(stack.pepper_secret_id, "pepper secret")

    def pepper() -> bytes:
        return store.pepper(secret_id).key_bytes()

    return pepper


def quarantine_for(stack: StackInfo, clients: StackClients) -> Quarantine:
    """The stack's kept bodies."""
    store = S3ObjectStore(_need(stack.webhook_bucket, "webhook bucket"), clients.s3)
    return Quarantine(store, pepper=pepper_of(SecretStore(client=clients.secretsmanager), stack))


def replay_processor(stack: StackInfo, clients: StackClients) -> WebhookProcessor:
    """A WebhookProcessor wired to the stack as the function is: its key ring, pepper, bucket, bus
    and idempotency table (default settings otherwise)."""
    settings = WebhookSettings(
        signing_key_secret_id=_need(stack.signing_key_secret_id, "signing key secret"),
        event_bus_name=_need(stack.event_bus_name, "event bus"),
        idempotency_table=_need(stack.idempotency_table, "idempotency table"),
        quarantine_bucket=_need(stack.webhook_bucket, "webhook bucket"),
    )
    secrets = SecretStore(client=clients.secretsmanager)
    pepper = pepper_of(secrets, stack)
    loader = signing_key_loader(secrets, settings.signing_key_secret_id, grace_seconds=settings.grace_seconds)
    store = S3ObjectStore(settings.quarantine_bucket, clients.s3)
    return WebhookProcessor(
        settings=settings,
        key_ring=SigningKeyRing(loader, refresh_interval=0),
        pepper=pepper,
        events=clients.events,
        quarantine=Quarantine(store, pepper=pepper),
        claims=ClaimCheck(store, pepper=pepper),
        deduplicate=dynamodb_deduplicator(
            settings.idempotency_table, expires_after_seconds=settings.record_seconds
        ),
    )


@dataclass(frozen=True)
class ReplayResult:
    """What became of one kept body: the outcome, and whether it left the bucket."""

    id: str
    outcome: Outcome
    removed: bool

    def line(self) -> str:
        kind, reason = self.outcome.kind, self.outcome.reason
        if kind in {"published", "duplicate"}:
            where = " (as a claim check)" if self.outcome.claim_checked else ""
            gone = "removed from the bucket" if self.removed else "left in the bucket (--keep)"
            return f"{self.id[:16]}  {kind}{where}; {gone}"
        if kind == "kept":
            return (
                f"{self.id[:16]}  still not publishable: {reason} ({self.outcome.detail}); left in the bucket"
            )
        if kind == "rejected":
            return f"{self.id[:16]}  NOT replayed: not a body this stack kept ({reason}); left in the bucket"
        return f"{self.id[:16]}  not replayed now ({kind}: {reason}); try again"


def replay(
    processor: WebhookProcessor, kept_bodies: Iterable[KeptBody], *, keep: bool = False
) -> list[ReplayResult]:
    """Replay each kept body (fetched with its bytes); remove the published ones unless ``keep``."""
    results: list[ReplayResult] = []
    with warnings.catch_warnings():
        # Powertools warns that there is no Lambda context to bound an in-progress record by.
        warnings.filterwarnings("ignore", message="Couldn't determine the remaining time left")
        for kept in kept_bodies:
            outcome = processor.replay(kept)
            removed = outcome.kind in {"published", "duplicate"} and not keep
            if removed:
                processor.quarantine.remove(kept)
            results.append(ReplayResult(kept.id, outcome, removed))
    return results


# -- what an operator sees of a body ----------------------------------------------------------------


def outline(body: bytes) -> dict[str, Any]:
    """The body's shape without its values: whether it is UTF-8 and JSON (and where it is not),
    the event's safe fields, and every key with its value's type (strings by length; a key that
    looks like personal data is withheld too)."""
    summary: dict[str, Any] = {"size": len(body)}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        summary.update(utf8=False, error=f"not UTF-8 at byte {exc.start}")
        return summary
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        position = (
            f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        )
        summary.update(utf8=True, json=False, error=f"not JSON{position}")
        return summary
    except RecursionError:
        summary.update(utf8=True, json=False, error="nested too deeply to parse")
        return summary
    summary.update(utf8=True, json=True)
    if isinstance(parsed, dict):
        summary["event"] = _safe_fields(parsed)
    summary["structure"] = structure(parsed)
    return summary


def structure(value: Any) -> Any:
    """``value``'s structure without its values: objects and arrays as they are (up to MAX_ITEMS
    entries and MAX_DEPTH levels, then their type and size), a key that looks like personal data
    withheld, and every other value replaced by its type (a string with its length: ``string(17)``).

    >>> structure({"email": "a@example.com", "tags": ["x"], "n": 1})
    {'email': 'string(13)', 'tags': ['string(1)'], 'n': 'number'}
    """
    return _shape(value, depth=0)


def _safe_fields(parsed: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    event_id = parsed.get("event_id")
    fields["event_id"] = event_id if id_shaped(event_id) else _type(event_id)
    for name in ("object_type", "metric"):
        value = parsed.get(name)
        fields[name] = value if isinstance(value, str) and _SAFE_WORD(value) else _type(value)
    timestamp = parsed.get("timestamp")
    fields["timestamp"] = (
        timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else _type(timestamp)
    )
    return fields


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN (not JSON)" if math.isnan(value) else "Infinity (not JSON)"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return f"string({len(value)})"
    if isinstance(value, list):
        return f"array({len(value)})"
    if isinstance(value, dict):
        return f"object({len(value)})"
    return type(value).__name__


def _key(key: str) -> str:
    shape = personal_data_shape(key)
    return f"<key withheld: {shape}>" if shape else key


def _shape(value: Any, *, depth: int) -> Any:
    if depth >= MAX_DEPTH and isinstance(value, dict | list):
        return f"{_type(value)} (deeper levels not shown)"
    if isinstance(value, dict):
        shown = {_key(str(k)): _shape(v, depth=depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
        if len(value) > MAX_ITEMS:
            shown["..."] = f"{len(value) - MAX_ITEMS} more keys"
        return shown
    if isinstance(value, list):
        items = [_shape(v, depth=depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"... {len(value) - MAX_ITEMS} more items")
        return items
    return _type(value)
