"""Kept bodies: a verified webhook that cannot be published is stored, not refused (DESIGN
section 3), so Customer.io's stream never waits behind a delivery no retry can fix.

A kept body is an object ``quarantine/<id>`` in the stack's webhook bucket (SSE-KMS, public
access blocked, TLS only, expiring after ``QuarantineRetentionDays``). The id is a keyed hash of
the body (HMAC-SHA256 with the pepper), so:

- the key holds no personal data and cannot be guessed from a body without the pepper;
- a retried delivery of the same body lands on the same object;
- the id doubles as an integrity tag: only the stack, which holds the pepper, can write an
  object whose id matches its bytes, so a replay never publishes a body someone slipped in.

The object's metadata holds the reason, a safe detail (field names, an error type, a size: never
a value), the event id when it has an id's shape (a ULID or UUID), the signature headers the
delivery came with and the workspace whose key verified it (none is personal data).

>>> kept = Quarantine(store, pepper=lambda: pepper)                                  # doctest: +SKIP
>>> body_id = kept.keep(b"not json", reason="not_json", detail="line 1 column 1")   # doctest: +SKIP
>>> kept.get(body_id[:12]).reason                                                      # doctest: +SKIP
'not_json'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from cio_security.errors import CioSecurityError
from cio_security.sanitizer.loggable import personal_data_shape
from cio_security.webhook.storage.base import ObjectInfo, ObjectStore
from cio_security.workspaces import WORKSPACE_NAME_PATTERN

__all__ = [
    "PREFIX",
    "KeepReason",
    "KeptBody",
    "Quarantine",
    "QuarantineLookupError",
    "event_id_of",
    "id_shaped",
]

PREFIX: Final = "quarantine/"

KeepReason = Literal[
    "not_json",  # not JSON at all (or not UTF-8)
    "invalid_event",  # JSON, but not a reporting event (missing or mistyped fields)
    "non_finite_number",  # NaN or Infinity: JSON that EventBridge refuses
    "too_large",  # above WEBHOOK_MAX_BODY_BYTES: kept unparsed
    "sanitizer_limit",  # deeper or larger than the sanitizer's bounds
    "publish_refused",  # EventBridge refused the entry itself (InvalidArgument, MalformedDetail)
    "unexpected_error",  # a bug while processing a verified event: fix, deploy, replay
]
KEEP_REASONS: Final[tuple[KeepReason, ...]] = (
    "not_json",
    "invalid_event",
    "non_finite_number",
    "too_large",
    "sanitizer_limit",
    "publish_refused",
    "unexpected_error",
)

_TAG = b"cio-security/webhook/quarantine/v1\x00"
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}").fullmatch
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}").fullmatch
_HEX_ID = re.compile(r"[0-9a-f]{8,64}").fullmatch
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_WORKSPACE = re.compile(WORKSPACE_NAME_PATTERN).fullmatch
DETAIL_MAX = 300


def id_shaped(value: object) -> bool:
    """Whether ``value`` looks like an event id and nothing else: a ULID (what Customer.io sends)
    or a UUID, without the shape of personal data (a run of digits that passes for a card
    number, say). Only such a value is written to metadata: a signed body's ``event_id`` may be
    anything, an email address included."""
    if not isinstance(value, str) or not (_ULID(value) or _UUID(value)):
        return False
    return personal_data_shape(value) is None


def event_id_of(body: bytes) -> str | None:
    """The body's ``event_id`` when the body is a JSON object and the id has an id's shape."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = parsed.get("event_id") if isinstance(parsed, dict) else None
    return value if id_shaped(value) else None


def _safe(text: str) -> str:
    """ASCII, printable, bounded: S3 metadata travels as HTTP headers."""
    return _UNPRINTABLE.sub("?", text)[:DETAIL_MAX]


class QuarantineLookupError(CioSecurityError):
    """No kept body, or more than one, matches the id (prefix) the operator gave."""


@dataclass(frozen=True)
class KeptBody:
    """A kept body as the operator sees it; ``body`` only when it was fetched (``get``)."""

    id: str
    size: int
    received_at: datetime | None
    reason: str = ""
    detail: str = ""
    event_id: str | None = None
    timestamp: str | None = None  # X-CIO-Timestamp of the delivery
    signature: str | None = None  # X-CIO-Signature of the delivery
    body: bytes | None = field(default=None, repr=False)
    workspace: str | None = None  # the workspace whose key verified the delivery

    @property
    def key(self) -> str:
        return PREFIX + self.id

    def public(self) -> dict[str, object]:
        """JSON-ready, never the body."""
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "reason": self.reason,
            "detail": self.detail,
            "event_id": self.event_id,
            "size": self.size,
            "workspace": self.workspace,
        }


def _kept(info: ObjectInfo, body: bytes | None = None) -> KeptBody:
    meta: Mapping[str, str] = info.metadata
    return KeptBody(
        id=info.key.removeprefix(PREFIX),
        size=info.size,
        received_at=info.last_modified,
        reason=meta.get("reason", ""),
        detail=meta.get("detail", ""),
        event_id=meta.get("event-id") or None,
        timestamp=meta.get("cio-timestamp") or None,
        signature=meta.get("cio-signature") or None,
        body=body,
        workspace=meta.get("workspace") or None,
    )


class Quarantine:
    """Keep, list, fetch and remove kept bodies in an ObjectStore. ``pepper`` is called when an
    id is computed (the webhook's cached pepper secret)."""

    def __init__(self, store: ObjectStore, *, pepper: Callable[[], bytes]) -> None:
        self.store = store
        self._pepper = pepper

    def body_id(self, body: bytes) -> str:
        """The keyed hash that names a kept body (64 hex characters)."""
        return hmac.new(self._pepper(), _TAG + body, hashlib.sha256).hexdigest()

    def authentic(self, kept: KeptBody) -> bool:
        """Whether a fetched body is one this stack kept (its id is the keyed hash of its bytes)."""
        return kept.body is not None and hmac.compare_digest(self.body_id(kept.body), kept.id)

    def keep(
        self,
        body: bytes,
        *,
        reason: KeepReason,
        detail: str = "",
        event_id: str | None = None,
        timestamp: str | None = None,
        signature: str | None = None,
        workspace: str | None = None,
    ) -> str:
        """Store ``body`` with its reason (and the ``workspace`` whose key verified it); returns
        its id. ObjectStoreError when the store fails (the webhook then answers 503 and
        Customer.io retries)."""
        body_id = self.body_id(body)
        metadata = {"reason": reason, "detail": _safe(detail)}
        if id_shaped(event_id):
            metadata["event-id"] = str(event_id)
        if timestamp and timestamp.isdigit():
            metadata["cio-timestamp"] = timestamp[:12]
        if signature and re.fullmatch(r"[0-9a-fA-F]{64}", signature):
            metadata["cio-signature"] = signature.lower()
        if workspace and _WORKSPACE(workspace):
            metadata["workspace"] = workspace
        self.store.put(PREFIX + body_id, body, metadata=metadata, content_type="application/octet-stream")
        return body_id

    def list(self, *, limit: int | None = 100) -> list[KeptBody]:
        """Kept bodies with their reasons (one HEAD per object for the metadata), oldest first."""
        found: list[KeptBody] = []
        for info in self._infos():
            if limit is not None and len(found) >= limit:
                break
            head = self.store.head(info.key)
            if head is not None:
                found.append(_kept(head))
        return sorted(found, key=lambda k: (k.received_at is None, k.received_at or datetime.min, k.id))

    def get(self, id_or_prefix: str) -> KeptBody:
        """The kept body whose id is, or starts with, ``id_or_prefix`` (at least 8 hex
        characters). QuarantineLookupError when none or several match."""
        wanted = id_or_prefix.strip().lower()
        if not _HEX_ID(wanted):
            raise QuarantineLookupError("a kept body's id is 8 to 64 hexadecimal characters")
        matches = list(self._infos(PREFIX + wanted))
        if not matches:
            raise QuarantineLookupError(f"no kept body with id {wanted}")
        if len(matches) > 1:
            raise QuarantineLookupError(
                f"{len(matches)} kept bodies start with {wanted}: give more of the id"
            )
        stored = self.store.get(matches[0].key)
        if stored is None:
            raise QuarantineLookupError(f"no kept body with id {wanted} (it was just removed or expired)")
        return _kept(stored, stored.body)

    def remove(self, kept: KeptBody | str) -> None:
        """Delete a kept body (after it was published, or on the operator's word)."""
        self.store.delete(PREFIX + (kept.id if isinstance(kept, KeptBody) else kept))

    def _infos(self, prefix: str = PREFIX) -> Iterator[ObjectInfo]:
        return (info for info in self.store.list(prefix) if info.key.startswith(PREFIX))
