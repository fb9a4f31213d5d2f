"""The claim check: an event too large for one EventBridge entry goes to the webhook bucket, and
the bus gets the usual envelope with a pointer instead of ``data`` (DESIGN section 3).

A ``sent`` event with Customer.io's "Body Content" on carries the whole message and can exceed
PutEvents' 256 KB entry limit after sanitizing; AWS's own advice for such events is to put them in
S3 and publish a reference
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).

The object is the sanitized ``detail`` exactly as it would have been published (UTF-8 JSON); the
pointer is ``{"bucket", "key", "size", "sha256"}`` (size in bytes, SHA-256 of the object as hex),
so a consumer can check what it fetched. The key is ``claims/<keyed hash of the event id>.json``:
no personal data in it, and a retried delivery of the same event overwrites the same object.
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

    def as_dict(self) -> dict[str, object]:
        return {"bucket": self.bucket, "key": self.key, "size": self.size, "sha256": self.sha256}


class ClaimCheck:
    """Stores claim-checked details in an ObjectStore; ``pepper`` keys the object names."""

    def __init__(self, store: ObjectStore, *, pepper: Callable[[], bytes]) -> None:
        self.store = store
        self._pepper = pepper

    def key_for(self, event_id: str) -> str:
        digest = hmac.new(self._pepper(), _TAG + event_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{PREFIX}{digest}.json"

    def put(self, event_id: str, detail_json: bytes) -> ClaimPointer:
        """Store the serialized detail; ObjectStoreError when the store fails."""
        key = self.key_for(event_id)
        self.store.put(key, detail_json, metadata={}, content_type="application/json")
        return ClaimPointer(
            bucket=self.store.bucket,
            key=key,
            size=len(detail_json),
            sha256=hashlib.sha256(detail_json).hexdigest(),
        )
