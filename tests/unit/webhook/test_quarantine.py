"""Kept bodies: keyed-hash names, safe metadata, lookup by id prefix, authenticity."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from cio_security.webhook.quarantine import (
    PREFIX,
    Quarantine,
    QuarantineLookupError,
    event_id_of,
    id_shaped,
)
from fixtures.stubbed_webhook import MemoryObjectStore

PEPPER = b"unit-test-pepper-0123456789abcdefghijkl"


@pytest.fixture
def quarantine() -> Quarantine:
    return Quarantine(MemoryObjectStore(), pepper=lambda: PEPPER)


def test_a_body_is_named_by_its_keyed_hash(quarantine: Quarantine) -> None:
    body_id = quarantine.keep(b"person@example.com said hi", reason="not_json")
    assert len(body_id) == 64 and "@" not in body_id
    assert body_id != hashlib.sha256(b"person@example.com said hi").hexdigest()  # keyed, not guessable
    assert (
        body_id
        == hmac.new(
            PEPPER, b"cio-security/webhook/quarantine/v1\x00person@example.com said hi", hashlib.sha256
        ).hexdigest()
    )


def test_the_same_body_kept_twice_is_one_object(quarantine: Quarantine) -> None:
    first = quarantine.keep(b"x", reason="not_json")
    second = quarantine.keep(b"x", reason="not_json")
    assert first == second
    assert len(quarantine.list()) == 1


@pytest.mark.parametrize(
    ("value", "shaped"),
    [
        ("01J0000000000000000000000A", True),  # a ULID
        ("123e4567-e89b-12d3-a456-426614174000", True),  # a UUID
        ("person@example.com", False),
        ("+44 20 7946 0000", False),
        ("John Smith", False),
        ("01ARZ3NDEKTSV4RRFFQ69G5FAV", True),
        ("4111111111111111ABCDEFGHJK", False),  # ULID-shaped, but a card number inside
        (42, False),
    ],
)
def test_only_id_shaped_event_ids_are_recorded(value: object, shaped: bool) -> None:
    assert id_shaped(value) is shaped


def test_metadata_holds_reason_safe_detail_shaped_id_and_signature(quarantine: Quarantine) -> None:
    body_id = quarantine.keep(
        b"{}",
        reason="invalid_event",
        detail="fields: timestamp\u00e9\n" + "x" * 1000,
        event_id="person@example.com",
        timestamp="1795000000",
        signature="A" * 64,
    )
    kept = quarantine.get(body_id)
    assert kept.reason == "invalid_event"
    assert kept.detail.isascii() and "\n" not in kept.detail and len(kept.detail) <= 300
    assert kept.event_id is None  # not an id's shape: never stored
    assert kept.timestamp == "1795000000" and kept.signature == "a" * 64
    assert kept.body == b"{}"


def test_lookup_by_prefix(quarantine: Quarantine) -> None:
    body_id = quarantine.keep(b"one", reason="not_json")
    assert quarantine.get(body_id[:8]).id == body_id
    assert quarantine.get(body_id.upper()).id == body_id
    with pytest.raises(QuarantineLookupError, match="8 to 64"):
        quarantine.get(body_id[:7])
    with pytest.raises(QuarantineLookupError, match="no kept body"):
        quarantine.get("0" * 64 if not body_id.startswith("0" * 8) else "f" * 64)
    with pytest.raises(QuarantineLookupError):
        quarantine.get("../claims/x")


def test_an_ambiguous_prefix_asks_for_more(quarantine: Quarantine) -> None:
    store = quarantine.store
    assert isinstance(store, MemoryObjectStore)
    for suffix in ("aa", "bb"):
        store.put(PREFIX + "abcdef01" + suffix + "0" * 54, b"", metadata={}, content_type="x")
    with pytest.raises(QuarantineLookupError, match="2 kept bodies"):
        quarantine.get("abcdef01")


def test_authenticity_is_the_id_matching_the_bytes(quarantine: Quarantine) -> None:
    body_id = quarantine.keep(b"original", reason="not_json")
    assert quarantine.authentic(quarantine.get(body_id))
    store = quarantine.store
    assert isinstance(store, MemoryObjectStore)
    store.put(PREFIX + body_id, b"swapped", metadata={"reason": "not_json"}, content_type="x")
    assert not quarantine.authentic(quarantine.get(body_id))


def test_remove(quarantine: Quarantine) -> None:
    body_id = quarantine.keep(b"gone", reason="not_json")
    quarantine.remove(body_id)
    assert quarantine.list() == []


def test_list_is_limited_and_public_never_holds_the_body(quarantine: Quarantine) -> None:
    for i in range(5):
        quarantine.keep(f"body {i}".encode(), reason="not_json")
    listed = quarantine.list(limit=3)
    assert len(listed) == 3
    assert all(k.body is None and "body" not in k.public() for k in listed)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"event_id": "01J0000000000000000000000A"}', "01J0000000000000000000000A"),
        (b'{"event_id": "someone@example.com"}', None),
        (b'{"event_id": 5}', None),
        (b"[]", None),
        (b"not json", None),
        (b"[" * 100_000, None),
    ],
)
def test_event_id_of(body: bytes, expected: str | None) -> None:
    assert event_id_of(body) == expected
