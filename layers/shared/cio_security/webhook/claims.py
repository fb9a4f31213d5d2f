"""The claim check: an event too large for one EventBridge entry goes to the webhook bucket, and
the bus gets the usual envelope with a pointer instead of ``data`` (DESIGN section 3).

A ``sent`` event with Customer.io's "Body Content" on carries the whole message and can exceed
PutEvents' 256 KB entry limit after sanitizing; AWS's own advice for such events is to put them in
S3 and publish a reference
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).

The object is the sanitized ``detail`` exactly as it would have been published (UTF-8 JSON); the
pointer is ``{"bucket", "key", "size", "sha256"}`` (size in bytes, SHA-256 of the object as hex),
so a consumer can check what it fetched, and ``workspace``, the Customer.io workspace whose key
signed the event (also the object's ``workspace`` metadata). The key is
``claims/<keyed hash of the event id>.json`` (for a workspace other than the primary, of the
workspace and the event id: event ids are unique per workspace only): no personal data in it, and
a retried delivery of the same event overwrites the same object.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from cio_security.webhook.storage.base import ObjectStore

__all__ = ["PREFIX", "ClaimCheck", "ClaimPointer"]

PREFIX: Final = "claims/"
_TAG = b"cio-security/webhook/claims/v1\x00"


@dataclass(frozen=True)
class ClaimPointer:
    """Where a claim-checked event's detail is, and how to check it."""

    bucket: str
    key: str
    size: int
    sha256: str
    workspace: str | None = None

    def as_dict(self) -> dict[str, object]:
        pointer: dict[str, object] = {
            "bucket": self.bucket,
            "key": self.key,
            "size": self.size,
            "sha256": self.sha256,
        }
        if self.workspace is not None:
            pointer["workspace"] = self.workspace
        return pointer


class ClaimCheck:
    """Stores claim-checked details in an ObjectStore; ``pepper`` keys the object names."""

    def __init__(self, store: ObjectStore, *, pepper: Callable[[], bytes]) -> None:
        self.store = store
        self._pepper = pepper

    def key_for(self, event_id: str, namespace: str | None = None) -> str:
        """The object's key: the keyed hash of ``event_id``, or of ``namespace`` (a workspace
        other than the primary) and ``event_id``."""
        named = event_id.encode("utf-8") if namespace is None else f"{namespace}\x00{event_id}".encode()
        digest = hmac.new(self._pepper(), _TAG + named, hashlib.sha256).hexdigest()
        return f"{PREFIX}{digest}.json"

    def put(
        self,
        event_id: str,
        detail_json: bytes,
        *,
        workspace: str | None = None,
        namespace: str | None = None,
    ) -> ClaimPointer:
        """Store the serialized detail of ``workspace``'s event under ``key_for(event_id,
        namespace)``; ObjectStoreError when the store fails."""
        key = self.key_for(event_id, namespace)
        metadata = {} if workspace is None else {"workspace": workspace}
        self.store.put(key, detail_json, metadata=metadata, content_type="application/json")
        return ClaimPointer(
            bucket=self.store.bucket,
            key=key,
            size=len(detail_json),
            sha256=hashlib.sha256(detail_json).hexdigest(),
            workspace=workspace,
        )
