"""WebhookProcessor without Lambda or AWS: in-memory stand-ins (fixtures.stubbed_webhook)."""

from __future__ import annotations

import json
import time

import pytest

from cio_security.errors import SecretError
from cio_security.webhook.processor import WebhookRequest
from cio_security.webhook.settings import WebhookSettings
from cio_security.webhook.signature import sign_webhook
from cio_security.webhook.sources import SourceAddressPolicy
from fixtures.stubbed_webhook import stubbed_processor

KEY = "unit-signing-key-0123456789abcdefghijkl"
PEPPER = "unit-pepper-0123456789abcdefghijklmnopq"
EVENT = {
    "event_id": "01J0000000000000000000000A",
    "object_type": "email",
    "metric": "opened",
    "timestamp": 1_795_000_000,
    "data": {"customer_id": "u-1"},
}


def request(
    body: bytes, *, key: str = KEY, source_ip: str | None = None, ts: int | None = None
) -> WebhookRequest:
    return WebhookRequest(
        body=body, is_base64=False, headers=sign_webhook(key, body, timestamp=ts), source_ip=source_ip
    )


def test_published_then_duplicate() -> None:
    processor, _, events, _ = stubbed_processor(signing_key=KEY, pepper=PEPPER)
    body = json.dumps(EVENT).encode()
    first, second = processor.handle(request(body)), processor.handle(request(body))
    assert (first.kind, first.status) == ("published", 200)
    assert (second.kind, second.status) == ("duplicate", 200)
    assert len(events.entries) == 1
    assert first.log_id == EVENT["event_id"] and first.metric == "opened"


def test_rejected_outcomes_carry_the_reason_only() -> None:
    processor, _, _, store = stubbed_processor(signing_key=KEY, pepper=PEPPER)
    outcome = processor.handle(request(b"{}", key="another-key-0000000000000000000"))
    assert (outcome.kind, outcome.status, outcome.reason) == ("rejected", 401, "mismatch")
    assert store.objects == {}


def test_refused_source_is_403_before_verification() -> None:
    processor, _, _, _ = stubbed_processor(signing_key=KEY, pepper=PEPPER)
    processor._sources = SourceAddressPolicy.parse("192.0.2.0/24")
    verified = []
    processor.key_ring.match = lambda *a, **k: verified.append(1)  # type: ignore[method-assign]
    outcome = processor.handle(request(b"{}", source_ip="203.0.113.1"))
    assert (outcome.kind, outcome.status) == ("refused", 403)
    assert verified == []


def test_a_secret_failure_while_verifying_is_unavailable() -> None:
    processor, _, _, _ = stubbed_processor(signing_key=KEY, pepper=PEPPER)

    def failing(*_: object, **__: object) -> int:
        raise SecretError("secret sk (AWSCURRENT) could not be read")

    processor.key_ring.match = failing  # type: ignore[method-assign]
    outcome = processor.handle(request(b"{}"))
    assert (outcome.kind, outcome.status, outcome.reason) == ("unavailable", 503, "verification")


def test_a_bug_before_verification_is_unavailable_not_a_crash() -> None:
    processor, _, _, _ = stubbed_processor(signing_key=KEY, pepper=PEPPER)
    processor.key_ring.match = lambda *a, **k: 1 / 0  # type: ignore[method-assign]
    assert processor.handle(request(b"{}")).status == 503


def test_a_pepper_failure_after_verification_is_unavailable_and_nothing_is_published() -> None:
    processor, _, events, store = stubbed_processor(signing_key=KEY, pepper=PEPPER)

    def no_pepper() -> bytes:
        raise SecretError("secret pepper (AWSCURRENT) could not be read")

    processor._pepper = no_pepper
    outcome = processor.handle(request(json.dumps(EVENT).encode()))
    assert (outcome.kind, outcome.reason) == ("unavailable", "secret")
    assert events.entries == [] and store.objects == {}


class TestReplay:
    def test_a_kept_body_is_published_once_fixed(self) -> None:
        processor, _, events, _ = stubbed_processor(signing_key=KEY, pepper=PEPPER)
        body = json.dumps({**EVENT, "data": {"k": float("nan")}}).encode()
        kept = processor.handle(request(body))
        assert (kept.kind, kept.reason) == ("kept", "non_finite_number")
        # Replaying with the same code keeps it (not stored again).
        again = processor.replay(processor.quarantine.get(kept.kept_id or ""))
        assert (again.kind, again.kept_id) == ("kept", None)
        assert events.entries == []
        # "The fix": the body is now publishable (here, the model accepts it after a change).
        fixed = json.dumps(EVENT).encode()
        processor.quarantine.store.objects[next(iter(processor.quarantine.store.objects))] = (
            processor.quarantine.store.objects[next(iter(processor.quarantine.store.objects))]
        )
        replayable = processor.quarantine.keep(
            fixed, reason="invalid_event", timestamp="1", signature="0" * 64
        )
        outcome = processor.replay(processor.quarantine.get(replayable))
        assert outcome.kind == "published"
        assert len(events.entries) == 1

    def test_a_kept_body_signed_with_a_key_still_in_the_ring_verifies_by_signature(self) -> None:
        processor, _, _, _ = stubbed_processor(signing_key=KEY, pepper=PEPPER)
        body = b"not json"
        kept = processor.handle(request(body, ts=int(time.time()) - 100))
        record = processor.quarantine.get(kept.kept_id or "")
        assert processor._signature_workspace(record) == "default"
        assert record.workspace == "default"

    def test_a_body_slipped_into_the_bucket_is_not_replayed(self) -> None:
        processor, _, events, store = stubbed_processor(signing_key=KEY, pepper=PEPPER)
        forged = json.dumps(EVENT).encode()
        store.put("quarantine/" + "ab" * 32, forged, metadata={"reason": "not_json"}, content_type="x")
        outcome = processor.replay(processor.quarantine.get("ab" * 32))
        assert (outcome.kind, outcome.reason) == ("rejected", "not_authentic")
        assert events.entries == []


def test_settings_bound_parsing_not_verification() -> None:
    settings = WebhookSettings("sk", "bus", "t", "b", max_body_bytes=10)
    processor, _, _, store = stubbed_processor(signing_key=KEY, pepper=PEPPER, settings=settings)
    assert processor.handle(request(b"x" * 100, key="wrong-key-000000000000000000")).status == 401
    outcome = processor.handle(request(b"x" * 100))
    assert (outcome.kind, outcome.reason) == ("kept", "too_large")
    assert len(store.objects) == 1


@pytest.mark.parametrize("body", [b"", b" ", b"null", b"{}", b'{"event_id":""}'])
def test_degenerate_signed_bodies_are_kept(body: bytes) -> None:
    processor, _, _, _ = stubbed_processor(signing_key=KEY, pepper=PEPPER)
    assert processor.handle(request(body)).kind == "kept"
