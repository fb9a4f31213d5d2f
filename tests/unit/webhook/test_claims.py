"""The claim check: a keyed name per event, a pointer that lets a consumer check what it fetched."""

from __future__ import annotations

import hashlib

from cio_security.webhook.claims import ClaimCheck
from fixtures.stubbed_webhook import MemoryObjectStore


def test_the_pointer_names_and_checks_the_object() -> None:
    store = MemoryObjectStore("the-bucket")
    claims = ClaimCheck(store, pepper=lambda: b"p" * 32)
    detail = b'{"event_id":"e","data":{"content":"' + b"x" * 300_000 + b'"}}'

    pointer = claims.put("01J0000000000000000000000A", detail)

    assert pointer.bucket == "the-bucket"
    assert pointer.key.startswith("claims/") and pointer.key.endswith(".json")
    assert "01J0000000000000000000000A" not in pointer.key  # keyed hash of the id
    stored = store.get(pointer.key)
    assert stored is not None and stored.body == detail
    assert pointer.size == len(detail)
    assert pointer.sha256 == hashlib.sha256(detail).hexdigest()
    assert pointer.as_dict() == {
        "bucket": "the-bucket",
        "key": pointer.key,
        "size": len(detail),
        "sha256": pointer.sha256,
    }


def test_the_same_event_always_gets_the_same_key() -> None:
    claims = ClaimCheck(MemoryObjectStore(), pepper=lambda: b"p" * 32)
    assert claims.key_for("a") == claims.key_for("a") != claims.key_for("b")
