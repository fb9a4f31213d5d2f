"""The webhook handler end to end: API Gateway event in, EventBridge (moto) -> SQS out."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from cio_security.webhook.signature import sign_webhook
from fixtures.logs import sensitive

from .conftest import SIGNING_KEY, WebhookStack, sample_event

NEW_KEY = "rotated-signing-key-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
OLD_KEY = SIGNING_KEY
SHAPES = ["http", "rest"]


def body_of(response: dict) -> dict:
    return json.loads(response["body"])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("base64_encoded", [False, True])
def test_valid_webhook_is_published_sanitized(
    webhook: WebhookStack, shape: str, base64_encoded: bool
) -> None:
    event = sample_event(
        customer_id="user-1",
        email="person@example.com",
        phone="+44 20 7946 0000",
        note="paid with 4111 1111 1111 1111",
        password="hunter2hunter2",
    )
    sensitive("person@example.com", "+44 20 7946 0000", "hunter2hunter2")

    response = webhook.send(event, shape=shape, base64_encoded=base64_encoded)

    assert response["statusCode"] == 200
    published = webhook.published()
    assert len(published) == 1
    delivered = published[0]
    assert delivered["source"] == "customerio"
    assert delivered["detail-type"] == "delivered"
    detail = delivered["detail"]
    assert detail["event_id"] == event["event_id"]
    data = detail["data"]
    assert data["customer_id"] == "user-1"
    assert data["email"] == "person@example.com"  # allowed by the default policy
    assert "phone" not in data and len(data["phone_hash"]) == 64
    assert "password" not in data and "note" not in data
    assert "$.password" in detail["sanitizer"]["dropped"]
    assert "$.phone" in detail["sanitizer"]["hashed"]


@pytest.mark.parametrize("shape", SHAPES)
def test_header_names_are_case_insensitive(webhook: WebhookStack, shape: str) -> None:
    raw = json.dumps(sample_event()).encode()
    signed = sign_webhook(SIGNING_KEY, raw)
    headers = {"x-CIO-timestamp": signed["X-CIO-Timestamp"], "X-Cio-Signature": signed["X-CIO-Signature"]}
    assert webhook.send(raw, headers=headers, shape=shape)["statusCode"] == 200


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, b: (h, b + b" "), "mismatch"),
        (lambda h, b: ({**h, "X-CIO-Signature": "0" * 64}, b), "mismatch"),
        (lambda h, b: ({"X-CIO-Timestamp": h["X-CIO-Timestamp"]}, b), "missing"),
        (lambda h, b: ({"X-CIO-Signature": h["X-CIO-Signature"]}, b), "missing"),
        (lambda h, b: ({}, b), "missing"),
        (lambda h, b: ({**h, "X-CIO-Signature": "zz" * 32}, b), "malformed"),
        (lambda h, b: ({**h, "X-CIO-Signature": h["X-CIO-Signature"][:-2]}, b), "malformed"),
        (lambda h, b: ({**h, "X-CIO-Timestamp": "12ab"}, b), "malformed"),
        (lambda h, b: ({**h, "X-CIO-Timestamp": "-5"}, b), "malformed"),
    ],
)
def test_bad_signatures_get_one_generic_401(
    webhook: WebhookStack, shape: str, mutate, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = json.dumps(sample_event()).encode()
    headers, body = mutate(sign_webhook(SIGNING_KEY, raw), raw)

    response = webhook.send(body, headers=headers, shape=shape)

    assert response["statusCode"] == 401
    assert body_of(response) == {"message": "unauthorized"}  # the reason never reaches the caller
    assert webhook.published() == []
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    rejected = [m for m in emf if "WebhookRejected" in m]
    assert rejected and rejected[0]["reason"] == reason


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 10**9])
def test_stale_or_future_timestamps_are_refused(webhook: WebhookStack, offset: int) -> None:
    response = webhook.send(sample_event(), timestamp=int(time.time()) + offset)
    assert response["statusCode"] == 401
    assert webhook.published() == []


def test_timestamps_inside_the_tolerance_are_accepted(webhook: WebhookStack) -> None:
    assert webhook.send(sample_event("a"), timestamp=int(time.time()) - 290)["statusCode"] == 200
    assert webhook.send(sample_event("b"), timestamp=int(time.time()) + 290)["statusCode"] == 200
    assert len(webhook.published()) == 2


def test_tolerance_is_configurable(webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_TOLERANCE_SECONDS", "10")
    webhook.app.settings.cache_clear()
    assert webhook.send(sample_event(), timestamp=int(time.time()) - 60)["statusCode"] == 401


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("base64_encoded", [False, True])
def test_oversized_body_is_413_before_anything_else(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch, shape: str, base64_encoded: bool
) -> None:
    monkeypatch.setenv("WEBHOOK_MAX_BODY_BYTES", "1024")
    webhook.app.settings.cache_clear()
    big = sample_event(blob="x" * 2000)
    # Unsigned and not JSON either: the size check comes first.
    assert (
        webhook.send(b"{" * 5000, headers={}, shape=shape, base64_encoded=base64_encoded)["statusCode"] == 413
    )
    assert webhook.send(big, shape=shape, base64_encoded=base64_encoded)["statusCode"] == 413
    assert webhook.send(sample_event(), shape=shape, base64_encoded=base64_encoded)["statusCode"] == 200


def test_default_size_limit_is_256_kib(webhook: WebhookStack) -> None:
    limit = 262_144
    assert webhook.send(b"x" * (limit + 1), headers={})["statusCode"] == 413
    assert webhook.send(b"x" * limit, headers={})["statusCode"] == 401


def test_invalid_base64_is_rejected_as_malformed(webhook: WebhookStack) -> None:
    from fixtures.apigw import http_api_event

    event = http_api_event(b"", sign_webhook(SIGNING_KEY, b"x"))
    event["body"], event["isBase64Encoded"] = "!!!not base64!!!", True
    assert webhook.invoke_raw(event)["statusCode"] == 401


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"event_id": "1"}',
        json.dumps({**sample_event(), "timestamp": "yesterday"}).encode(),
        json.dumps({**sample_event(), "metric": "has space"}).encode(),
        json.dumps({**sample_event(), "data": ["not", "an", "object"]}).encode(),
        b"\xff\xfe\x00",
        b'{"event_id":"n","object_type":"email","metric":"opened","timestamp":1,"data":{"k":NaN}}',
        b'{"event_id":"i","object_type":"email","metric":"opened","timestamp":1,"data":{"k":[Infinity]}}',
    ],
)
def test_verified_but_invalid_event_is_400(webhook: WebhookStack, body: bytes) -> None:
    response = webhook.send(body)
    assert response["statusCode"] == 400
    assert body_of(response) == {"message": "invalid event"}
    assert webhook.published() == []


@pytest.mark.parametrize("shape", SHAPES)
def test_duplicate_delivery_publishes_once(
    webhook: WebhookStack, shape: str, capsys: pytest.CaptureFixture[str]
) -> None:
    event = sample_event("01DUPLICATE")
    first = webhook.send(event, shape=shape)
    # Customer.io re-signs a retry with a new timestamp: still the same event.
    second = webhook.send(event, shape=shape, timestamp=int(time.time()) + 5)

    assert first["statusCode"] == second["statusCode"] == 200
    assert len(webhook.published()) == 1
    assert '"WebhookDuplicate"' in capsys.readouterr().out


def test_publish_failure_is_503_and_a_retry_publishes(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Failing:
        def put_events(self, **_: object) -> dict:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}

    event = sample_event("01RETRY")
    with monkeypatch.context() as patch:
        patch.setattr(webhook.app, "events_client", Failing)
        assert webhook.send(event)["statusCode"] == 503
    assert webhook.published() == []
    # Nothing was marked done: Customer.io's retry is published.
    assert webhook.send(event)["statusCode"] == 200
    assert len(webhook.published()) == 1


def test_missing_bus_is_503_not_a_crash(webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    webhook.app.settings.cache_clear()
    assert webhook.send(sample_event("01NOBUS"))["statusCode"] == 503


def test_pending_key_is_accepted(webhook: WebhookStack) -> None:
    webhook.stage_key(NEW_KEY, ["AWSPENDING"])
    sensitive(NEW_KEY)
    assert webhook.send(sample_event("p1"), key=NEW_KEY)["statusCode"] == 200
    assert webhook.send(sample_event("p2"), key=OLD_KEY)["statusCode"] == 200


def test_rotated_key_is_picked_up_without_redeploy(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNING_KEY_REFRESH_SECONDS", "0")
    sensitive(NEW_KEY)
    assert webhook.send(sample_event("r1"))["statusCode"] == 200  # keys now cached
    webhook.promote(webhook.stage_key(NEW_KEY, ["AWSPENDING"]))
    assert webhook.send(sample_event("r2"), key=NEW_KEY)["statusCode"] == 200
    # The previous key is still accepted inside its grace window: no delivery fails mid-rotation.
    assert webhook.send(sample_event("r3"), key=OLD_KEY)["statusCode"] == 200


def test_previous_key_refused_after_grace_window(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sensitive(NEW_KEY)
    webhook.promote(webhook.stage_key(NEW_KEY, ["AWSPENDING"]))
    later = datetime.now(UTC) + timedelta(hours=25)

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return later

    monkeypatch.setattr("cio_security.secrets.loaders.datetime", Later)
    assert webhook.send(sample_event("g1"), key=OLD_KEY)["statusCode"] == 401
    assert webhook.send(sample_event("g2"), key=NEW_KEY)["statusCode"] == 200


def test_grace_window_zero_disables_previous_key(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNING_KEY_GRACE_SECONDS", "0")
    sensitive(NEW_KEY)
    webhook.promote(webhook.stage_key(NEW_KEY, ["AWSPENDING"]))
    assert webhook.send(sample_event("z1"), key=OLD_KEY)["statusCode"] == 401
    assert webhook.send(sample_event("z2"), key=NEW_KEY)["statusCode"] == 200


def test_unknown_key_is_refused(webhook: WebhookStack) -> None:
    assert webhook.send(sample_event(), key="another-key-that-was-never-configured-000")["statusCode"] == 401


def test_no_usable_signing_key_is_503(webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # The template's placeholder before the first rotation (the old key must not linger as AWSPREVIOUS).
    monkeypatch.setenv("SIGNING_KEY_GRACE_SECONDS", "0")
    webhook.secretsmanager.put_secret_value(
        SecretId="cio-security/customerio/webhook-signing-key", SecretString=json.dumps({"signing_key": ""})
    )
    assert webhook.send(sample_event())["statusCode"] == 503


@pytest.mark.parametrize("path", ["/other", "/webhooks/customerio/extra"])
def test_unknown_route_is_404(webhook: WebhookStack, path: str) -> None:
    from fixtures.apigw import http_api_event

    event = http_api_event(b"{}", {})
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    assert webhook.invoke_raw(event)["statusCode"] == 404


def test_logs_hold_no_secret_body_or_pii(webhook: WebhookStack, captured_logs) -> None:
    secret_note = "confidential-note-value-42"
    event = sample_event("01LOGS", email="private.person@example.com", note=secret_note, ip="203.0.113.9")
    sensitive(secret_note, "private.person@example.com", "203.0.113.9")
    webhook.send(event)
    webhook.send(event, key="wrong-key-wrong-key-wrong-key-wrong-key")
    webhook.send(json.dumps({**event, "timestamp": "bad"}).encode())
    text = captured_logs.text
    assert "webhook rejected" in text and "event published" in text
    assert '"data"' not in text


def test_an_event_id_shaped_like_an_email_is_published_but_never_logged(
    webhook: WebhookStack, captured_logs
) -> None:
    odd_id = "someone.else@example.com"  # signed, so accepted: only its logging is withheld
    sensitive(odd_id)
    event = {**sample_event("ignored"), "event_id": odd_id}
    assert webhook.send(event)["statusCode"] == 200
    assert webhook.send(event)["statusCode"] == 200  # a duplicate, logged the same way
    (published,) = webhook.published()
    assert published["detail"]["event_id"] == odd_id  # the event keeps its id on the bus
    assert odd_id not in captured_logs.text
    assert "(withheld: not an id)" in captured_logs.text
