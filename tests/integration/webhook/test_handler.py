"""The webhook handler end to end: API Gateway event in, EventBridge (moto) -> SQS out, the webhook
bucket (moto S3) for kept bodies and claim checks. Each rule of DESIGN section 3 through the real
handler."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from cio_security.webhook.signature import sign_webhook
from fixtures.aws import REGION
from fixtures.logs import LogCapture, sensitive

from .conftest import BUCKET, SIGNING_KEY, TABLE, ULID, WebhookStack, emf_lines, sample_event

NEW_KEY = "rotated-signing-key-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
OLD_KEY = SIGNING_KEY
SHAPES = ["http", "rest"]
DAY = 86_400
EIGHT_DAYS = 8 * DAY


def body_of(response: dict) -> dict:
    return json.loads(response["body"])


def metric_names(out: str) -> set[str]:
    documents = emf_lines(out)
    return {m["Name"] for doc in documents for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


# ------------------------------------------------------------------ published


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
    assert body_of(response) == {"message": "ok"}
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
    assert webhook.kept() == {}


@pytest.mark.parametrize("shape", SHAPES)
def test_header_names_are_case_insensitive(webhook: WebhookStack, shape: str) -> None:
    raw = json.dumps(sample_event()).encode()
    signed = sign_webhook(SIGNING_KEY, raw)
    headers = {"x-CIO-timestamp": signed["X-CIO-Timestamp"], "X-Cio-Signature": signed["X-CIO-Signature"]}
    assert webhook.send(raw, headers=headers, shape=shape)["statusCode"] == 200


# ------------------------------------------------------------------ 401: not Customer.io's


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
    assert webhook.kept() == {}  # an unverified body is never stored
    rejected = [m for m in emf_lines(capsys.readouterr().out) if "WebhookRejected" in m]
    assert rejected and rejected[0]["reason"] == reason


def test_invalid_base64_is_rejected_as_malformed(webhook: WebhookStack) -> None:
    from fixtures.apigw import http_api_event

    event = http_api_event(b"", sign_webhook(SIGNING_KEY, b"x"))
    event["body"], event["isBase64Encoded"] = "!!!not base64!!!", True
    assert webhook.invoke_raw(event)["statusCode"] == 401


def test_unknown_key_is_refused(webhook: WebhookStack) -> None:
    assert webhook.send(sample_event(), key="another-key-that-was-never-configured-000")["statusCode"] == 401


# ------------------------------------------------------------------ timestamps


@pytest.mark.parametrize("offset", [-(EIGHT_DAYS + 1), -(30 * DAY), 301, 3600, 10**9])
def test_timestamps_outside_the_tolerance_are_stale(
    webhook: WebhookStack, offset: int, capsys: pytest.CaptureFixture[str]
) -> None:
    response = webhook.send(sample_event(), timestamp=int(time.time()) + offset)
    assert response["statusCode"] == 401
    assert webhook.published() == []
    rejected = [m for m in emf_lines(capsys.readouterr().out) if "WebhookRejected" in m]
    assert rejected[0]["reason"] == "stale"


@pytest.mark.parametrize("offset", [-(EIGHT_DAYS - 60), -(7 * DAY), -3600, -301, 0, 290])
def test_the_past_tolerance_covers_customerios_seven_days_of_retries(
    webhook: WebhookStack, offset: int
) -> None:
    """A retry that carries the first attempt's timestamp is accepted for the dedupe window."""
    assert webhook.send(sample_event(), timestamp=int(time.time()) + offset)["statusCode"] == 200
    assert len(webhook.published()) == 1


def test_an_accepted_old_timestamp_is_new_or_a_remembered_duplicate(webhook: WebhookStack) -> None:
    """Tolerance never exceeds the dedupe window: a replay of an accepted delivery finds its record."""
    sent_at = int(time.time()) - (7 * DAY + 3600)
    raw = json.dumps(sample_event("01JREPLAY0000000000000000A")).encode()
    headers = sign_webhook(SIGNING_KEY, raw, timestamp=sent_at)

    assert webhook.send(raw, headers=headers)["statusCode"] == 200
    assert webhook.send(raw, headers=headers)["statusCode"] == 200  # the same signed bytes again

    assert len(webhook.published()) == 1
    record = webhook.dynamodb.get_item(
        TableName="cio-security-idempotency",
        Key={"id": {"S": webhook.idempotency_key("01JREPLAY0000000000000000A")}},
    )["Item"]
    remembered_until = int(record["expiration"]["N"])
    # Remembered at least until the signed timestamp leaves the tolerance.
    assert remembered_until >= sent_at + EIGHT_DAYS


def test_tolerance_is_configurable(webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_TOLERANCE_SECONDS", "10")
    webhook.reset()
    assert webhook.send(sample_event(), timestamp=int(time.time()) - 60)["statusCode"] == 401


def test_tolerance_defaults_to_the_dedupe_window(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_DEDUPE_SECONDS", "3600")
    webhook.reset()
    assert (
        webhook.send(sample_event("01JA0000000000000000000000"), timestamp=int(time.time()) - 3500)[
            "statusCode"
        ]
        == 200
    )
    assert (
        webhook.send(sample_event("01JB0000000000000000000000"), timestamp=int(time.time()) - 3700)[
            "statusCode"
        ]
        == 401
    )


def test_a_tolerance_longer_than_the_dedupe_window_is_cut_to_the_window(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch, captured_logs: LogCapture
) -> None:
    """A misconfigured tolerance neither stalls the stream (every delivery a 503) nor lets a
    timestamp older than the dedupe window through (its replay would be published again)."""
    monkeypatch.setenv("WEBHOOK_TOLERANCE_SECONDS", "7200")
    monkeypatch.setenv("WEBHOOK_DEDUPE_SECONDS", "3600")
    webhook.reset()
    now = int(time.time())
    assert webhook.send(sample_event("01JTA000000000000000000000"), timestamp=now - 3500)["statusCode"] == 200
    assert webhook.send(sample_event("01JTB000000000000000000000"), timestamp=now - 3700)["statusCode"] == 401
    assert "dedupe window is used" in captured_logs.text


def test_the_idempotency_record_outlives_the_window_by_the_future_skew(webhook: WebhookStack) -> None:
    before = int(time.time())
    assert webhook.send(sample_event("01JTC000000000000000000000"))["statusCode"] == 200
    item = webhook.dynamodb.get_item(
        TableName=TABLE, Key={"id": {"S": webhook.idempotency_key("01JTC000000000000000000000")}}
    )["Item"]
    expires = int(item["expiration"]["N"])
    assert before + 691_200 + 300 <= expires <= int(time.time()) + 691_200 + 300


def test_the_future_skew_stays_300_seconds(webhook: WebhookStack) -> None:
    assert (
        webhook.send(sample_event("01JC0000000000000000000000"), timestamp=int(time.time()) + 280)[
            "statusCode"
        ]
        == 200
    )
    assert (
        webhook.send(sample_event("01JD0000000000000000000000"), timestamp=int(time.time()) + 320)[
            "statusCode"
        ]
        == 401
    )


# ------------------------------------------------------------------ kept, never refused


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not_json"),
        (b"\xff\xfe\x00", "not_json"),
        (b"[]", "invalid_event"),
        (b'{"event_id": "1"}', "invalid_event"),
        (json.dumps({**sample_event(), "timestamp": "yesterday"}).encode(), "invalid_event"),
        (json.dumps({**sample_event(), "metric": "has space"}).encode(), "invalid_event"),
        (json.dumps({**sample_event(), "data": ["not", "an", "object"]}).encode(), "invalid_event"),
        (
            b'{"event_id":"01J0000000000000000000000N","object_type":"email","metric":"opened",'
            b'"timestamp":1,"data":{"k":NaN}}',
            "non_finite_number",
        ),
        (
            b'{"event_id":"i","object_type":"email","metric":"opened","timestamp":1,"data":{"k":[Infinity]}}',
            "non_finite_number",
        ),
    ],
)
@pytest.mark.parametrize("shape", SHAPES)
def test_a_verified_body_that_is_not_an_event_is_kept_and_answered_200(
    webhook: WebhookStack, body: bytes, reason: str, shape: str, capsys: pytest.CaptureFixture[str]
) -> None:
    response = webhook.send(body, shape=shape)

    assert response["statusCode"] == 200
    assert body_of(response) == {"message": "ok"}
    assert webhook.published() == []
    ((key, kept),) = webhook.kept().items()
    assert kept["body"] == body  # exactly the signed bytes
    assert kept["metadata"]["reason"] == reason
    assert len(key.removeprefix("quarantine/")) == 64  # a keyed hash: no personal data in the key
    assert "WebhookQuarantined" in metric_names(capsys.readouterr().out)


def test_a_kept_body_records_only_an_id_shaped_event_id(webhook: WebhookStack) -> None:
    sensitive("someone@example.com")
    webhook.send(json.dumps({**sample_event(ULID), "timestamp": "bad"}).encode())
    webhook.send(json.dumps({**sample_event("someone@example.com"), "timestamp": "bad"}).encode())
    event_ids = sorted(str(k["metadata"].get("event-id")) for k in webhook.kept().values())
    assert event_ids == [ULID, "None"]


def test_a_kept_body_keeps_its_signature_headers(webhook: WebhookStack) -> None:
    raw = b"not json at all"
    headers = sign_webhook(SIGNING_KEY, raw)
    webhook.send(raw, headers=headers)
    ((kept),) = webhook.kept().values()
    assert kept["metadata"]["cio-timestamp"] == headers["X-CIO-Timestamp"]
    assert kept["metadata"]["cio-signature"] == headers["X-CIO-Signature"]


def test_a_retried_invalid_delivery_lands_on_the_same_object(webhook: WebhookStack) -> None:
    raw = b"{broken"
    assert webhook.send(raw, timestamp=int(time.time()) - 100)["statusCode"] == 200
    assert webhook.send(raw, timestamp=int(time.time()))["statusCode"] == 200
    assert len(webhook.kept()) == 1


def test_a_body_deeper_than_the_sanitizer_allows_is_kept(webhook: WebhookStack) -> None:
    nested: dict = {}
    cursor = nested
    for _ in range(40):
        cursor["a"] = {}
        cursor = cursor["a"]
    assert webhook.send(sample_event(deep=nested))["statusCode"] == 200
    ((kept),) = webhook.kept().values()
    assert kept["metadata"]["reason"] == "sanitizer_limit"
    assert webhook.published() == []


# ------------------------------------------------------------------ sizes and the claim check


def large_sent_event(event_id: str, content_bytes: int) -> dict:
    """A ``sent`` event with Customer.io's Body Content on: the whole message in ``data``, here in
    parts below the sanitizer's 64 KiB string bound (a longer string is dropped, not published)."""
    part = "<p>" + "Your order has shipped. " * 2000 + "</p>"
    return {
        "event_id": event_id,
        "object_type": "email",
        "metric": "sent",
        "timestamp": 1_795_000_000,
        "data": {
            "customer_id": "user-1",
            "delivery_id": "dlv-1",
            "subject": "Shipped",
            "content": [part] * (content_bytes // len(part) + 1),
        },
    }


@pytest.mark.parametrize("base64_encoded", [False, True])
def test_an_event_above_the_eventbridge_entry_limit_is_published_as_a_claim_check(
    webhook: WebhookStack, base64_encoded: bool
) -> None:
    event = large_sent_event("01JLARGEAAAAAAAAAAAAAAAAAA", 400_000)

    response = webhook.send(event, base64_encoded=base64_encoded)

    assert response["statusCode"] == 200
    (delivered,) = webhook.published()
    detail = delivered["detail"]
    assert detail["event_id"] == event["event_id"] and detail["metric"] == "sent"
    assert "data" not in detail and "sanitizer" not in detail
    pointer = detail["claim_check"]
    assert pointer["bucket"] == BUCKET and pointer["key"].startswith("claims/")
    stored = webhook.s3.get_object(Bucket=pointer["bucket"], Key=pointer["key"])
    claimed = stored["Body"].read()
    assert len(claimed) == pointer["size"]
    assert hashlib.sha256(claimed).hexdigest() == pointer["sha256"]
    full = json.loads(claimed)
    assert full["data"]["content"] == event["data"]["content"]  # sanitized, nothing to drop here
    assert full["event_id"] == event["event_id"] and "sanitizer" in full
    assert webhook.kept() == {}


def test_a_claim_checked_event_retried_after_a_publish_failure_overwrites_one_object(
    webhook: WebhookStack,
) -> None:
    class Failing:
        def put_events(self, **_: object) -> dict:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}

    event = large_sent_event("01JLARGEAAAAAAAAAAAAAAAAAB", 300_000)
    with webhook.replacing_client("events", Failing()):
        assert webhook.send(event)["statusCode"] == 503
    assert webhook.send(event)["statusCode"] == 200
    assert len(webhook.objects("claims/")) == 1
    assert len(webhook.published()) == 1


def test_the_default_body_limit_is_lambdas_own(webhook: WebhookStack) -> None:
    """Anything Lambda delivers (6 MB at most, the whole event) is verified and handled."""
    event = large_sent_event("01JHVGEAAAAAAAAAAAAAAAAAAA", 3_000_000)
    assert webhook.send(event)["statusCode"] == 200
    (delivered,) = webhook.published()
    assert "claim_check" in delivered["detail"]


@pytest.mark.parametrize("base64_encoded", [False, True])
def test_a_verified_body_above_a_lowered_limit_is_kept_not_refused(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch, base64_encoded: bool
) -> None:
    monkeypatch.setenv("WEBHOOK_MAX_BODY_BYTES", "1024")
    webhook.reset()
    big = sample_event(blob="x" * 2000)
    # Unsigned: 401 (verified first, whatever the size).
    assert webhook.send(b"{" * 5000, headers={}, base64_encoded=base64_encoded)["statusCode"] == 401
    # Signed: kept, answered 200.
    assert webhook.send(big, base64_encoded=base64_encoded)["statusCode"] == 200
    ((kept),) = webhook.kept().values()
    assert kept["metadata"]["reason"] == "too_large"
    assert webhook.send(sample_event(), base64_encoded=base64_encoded)["statusCode"] == 200
    assert len(webhook.published()) == 1


# ------------------------------------------------------------------ duplicates


@pytest.mark.parametrize("shape", SHAPES)
def test_duplicate_delivery_publishes_once(
    webhook: WebhookStack, shape: str, capsys: pytest.CaptureFixture[str]
) -> None:
    event = sample_event("01JDUPL1CATE00000000000000")
    first = webhook.send(event, shape=shape)
    # A retry, re-signed with a new timestamp or not: still the same event.
    second = webhook.send(event, shape=shape, timestamp=int(time.time()) + 5)

    assert first["statusCode"] == second["statusCode"] == 200
    assert len(webhook.published()) == 1
    assert "WebhookDuplicate" in metric_names(capsys.readouterr().out)


# ------------------------------------------------------------------ 503: our own failures


def test_publish_failure_is_503_and_a_retry_publishes(webhook: WebhookStack) -> None:
    class Failing:
        def put_events(self, **_: object) -> dict:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]}

    event = sample_event("01JRETRY00000000000000000A")
    with webhook.replacing_client("events", Failing()):
        response = webhook.send(event)
    assert response["statusCode"] == 503
    assert body_of(response) == {"message": "temporarily unavailable"}
    assert webhook.published() == []
    # Nothing was marked done: Customer.io's retry is published.
    assert webhook.send(event)["statusCode"] == 200
    assert len(webhook.published()) == 1


@pytest.mark.parametrize("code", ["MalformedDetail", "InvalidArgument"])
def test_an_entry_eventbridge_refuses_itself_is_kept_not_retried(webhook: WebhookStack, code: str) -> None:
    class Refusing:
        def put_events(self, **_: object) -> dict:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": code}]}

    with webhook.replacing_client("events", Refusing()):
        assert webhook.send(sample_event("01JREFUSED0000000000000000"))["statusCode"] == 200
    ((kept),) = webhook.kept().values()
    assert kept["metadata"]["reason"] == "publish_refused"
    # No idempotency record is left: a replay after a fix publishes it.
    assert webhook.send(sample_event("01JREFUSED0000000000000000"))["statusCode"] == 200
    assert len(webhook.published()) == 1


def test_a_connection_failure_to_eventbridge_is_503(webhook: WebhookStack) -> None:
    class Unreachable:
        def put_events(self, **_: object) -> dict:
            raise EndpointConnectionError(endpoint_url="https://events.eu-west-1.amazonaws.com")

    with webhook.replacing_client("events", Unreachable()):
        assert webhook.send(sample_event("01JUNREACH0000000000000000"))["statusCode"] == 503


def test_missing_bus_is_503_not_a_crash(webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    webhook.reset()
    assert webhook.send(sample_event("01JN0BUS000000000000000000"))["statusCode"] == 503


def test_the_same_event_in_progress_elsewhere_is_503_and_a_retry_publishes(
    webhook: WebhookStack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = sample_event("01JC0NCURRENT0000000000000")
    webhook.mark_in_progress(event["event_id"])

    response = webhook.send(event)

    assert response["statusCode"] == 503
    assert webhook.published() == []
    assert "WebhookFailed" in metric_names(capsys.readouterr().out)
    # The other invocation gave up (its record expired or was deleted): the retry goes through.
    webhook.dynamodb.delete_item(
        TableName="cio-security-idempotency", Key={"id": {"S": webhook.idempotency_key(event["event_id"])}}
    )
    assert webhook.send(event)["statusCode"] == 200


def test_a_bucket_failure_while_keeping_is_503_and_a_retry_keeps(webhook: WebhookStack) -> None:
    class BrokenS3:
        def put_object(self, **_: object) -> dict:
            raise EndpointConnectionError(endpoint_url="https://s3.eu-west-1.amazonaws.com")

    with webhook.replacing_client("s3", BrokenS3()):
        assert webhook.send(b"not json")["statusCode"] == 503
    assert webhook.send(b"not json")["statusCode"] == 200
    assert len(webhook.kept()) == 1


def test_missing_idempotency_table_is_503(webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "no-such-table")
    webhook.reset()
    assert webhook.send(sample_event("01JN0TABLE0000000000000000"))["statusCode"] == 503
    assert webhook.published() == []


def test_missing_configuration_is_503(webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOK_QUARANTINE_BUCKET")
    webhook.reset()
    assert webhook.send(sample_event())["statusCode"] == 503


def test_no_usable_signing_key_is_503(webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # The template's placeholder before the first rotation (the old key must not linger as AWSPREVIOUS).
    monkeypatch.setenv("SIGNING_KEY_GRACE_SECONDS", "0")
    webhook.secretsmanager.put_secret_value(
        SecretId="cio-security/customerio/webhook-signing-key", SecretString=json.dumps({"signing_key": ""})
    )
    assert webhook.send(sample_event())["statusCode"] == 503


def test_a_bug_after_verification_keeps_the_body_instead_of_holding_the_stream(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch, captured_logs
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise KeyError("person@example.com")  # a bug whose message holds a value

    sensitive("person@example.com")
    monkeypatch.setattr("cio_security.webhook.processor.sanitize", broken)
    assert webhook.send(sample_event("01JBUG0000000000000000000A"))["statusCode"] == 200
    ((kept),) = webhook.kept().values()
    assert kept["metadata"]["reason"] == "unexpected_error"
    assert kept["metadata"]["detail"] == "KeyError"
    assert "KeyError" in captured_logs.text  # the type and where, never the message


def test_nothing_escapes_the_handler(webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception reaching Lambda would make API Gateway answer 502 (Customer.io's one-hour wait)."""

    def explode(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(webhook.app, "_handle", explode)
    response = webhook.send(sample_event())
    assert response["statusCode"] == 503


# ------------------------------------------------------------------ signing keys


def test_pending_key_is_accepted(webhook: WebhookStack) -> None:
    webhook.stage_key(NEW_KEY, ["AWSPENDING"])
    sensitive(NEW_KEY)
    assert webhook.send(sample_event("01JP1000000000000000000000"), key=NEW_KEY)["statusCode"] == 200
    assert webhook.send(sample_event("01JP2000000000000000000000"), key=OLD_KEY)["statusCode"] == 200


def test_rotated_key_is_picked_up_without_redeploy(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNING_KEY_REFRESH_SECONDS", "0")
    sensitive(NEW_KEY)
    assert webhook.send(sample_event("01JR1000000000000000000000"))["statusCode"] == 200  # keys now cached
    webhook.promote(webhook.stage_key(NEW_KEY, ["AWSPENDING"]))
    assert webhook.send(sample_event("01JR2000000000000000000000"), key=NEW_KEY)["statusCode"] == 200
    # The previous key is still accepted inside its grace window.
    assert webhook.send(sample_event("01JR3000000000000000000000"), key=OLD_KEY)["statusCode"] == 200


def test_a_key_regenerated_in_customerio_but_not_yet_staged_is_refused_until_staged(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rotation window the stack cannot close: Customer.io signs with a key we do not have yet."""
    monkeypatch.setenv("SIGNING_KEY_REFRESH_SECONDS", "0")
    sensitive(NEW_KEY)
    assert webhook.send(sample_event("01JW1000000000000000000000"), key=NEW_KEY)["statusCode"] == 401
    webhook.stage_key(NEW_KEY, ["AWSPENDING"])  # the rotation's createSecret
    assert webhook.send(sample_event("01JW1000000000000000000000"), key=NEW_KEY)["statusCode"] == 200


def test_the_default_refresh_interval_is_a_few_seconds(webhook: WebhookStack) -> None:
    assert webhook.app.settings().key_refresh_seconds == 5


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
    assert webhook.send(sample_event("01JG1000000000000000000000"), key=OLD_KEY)["statusCode"] == 401
    assert webhook.send(sample_event("01JG2000000000000000000000"), key=NEW_KEY)["statusCode"] == 200


def test_grace_window_zero_disables_previous_key(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNING_KEY_GRACE_SECONDS", "0")
    sensitive(NEW_KEY)
    webhook.promote(webhook.stage_key(NEW_KEY, ["AWSPENDING"]))
    assert webhook.send(sample_event("01JZ1000000000000000000000"), key=OLD_KEY)["statusCode"] == 401
    assert webhook.send(sample_event("01JZ2000000000000000000000"), key=NEW_KEY)["statusCode"] == 200


def test_a_warm_environment_stops_accepting_a_rotated_out_key(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Genuine deliveries never mismatch, so keys are read again by age (the secrets cache's):
    with no grace window, the key rotated out stops verifying within that age in every warm
    execution environment, not only in those a forged request happens to reach."""
    monkeypatch.setenv("SIGNING_KEY_GRACE_SECONDS", "0")
    monkeypatch.setenv("SECRETS_CACHE_SECONDS", "1")
    webhook.reset()
    sensitive(NEW_KEY)
    assert webhook.send(sample_event("01JK1000000000000000000000"), key=OLD_KEY)["statusCode"] == 200
    webhook.promote(webhook.stage_key(NEW_KEY, ["AWSPENDING"]))
    time.sleep(1.1)
    assert webhook.send(sample_event("01JK2000000000000000000000"), key=OLD_KEY)["statusCode"] == 401
    assert webhook.send(sample_event("01JK3000000000000000000000"), key=NEW_KEY)["statusCode"] == 200


class _Throttled:
    """A Secrets Manager client whose reads of one version stage are throttled."""

    def __init__(self, real: Any, stage: str) -> None:
        self._real, self._stage = real, stage

    def get_secret_value(self, **kwargs: Any) -> Any:
        if kwargs.get("VersionStage") == self._stage:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetSecretValue"
            )
        return self._real.get_secret_value(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.mark.parametrize("stage", ["AWSCURRENT", "AWSPENDING"])
def test_a_signing_key_that_cannot_be_read_now_is_a_503_not_a_401(webhook: WebhookStack, stage: str) -> None:
    """A throttled read of the current key (or of the pending one, which Customer.io signs with
    once the key is regenerated) may hide the key that signed: Customer.io retries a 503 with
    plain backoff, while a 401 holds the stream for an hour."""
    sensitive(NEW_KEY)
    webhook.stage_key(NEW_KEY, ["AWSPENDING"])
    throttled = _Throttled(boto3.client("secretsmanager", region_name=REGION), stage)
    with webhook.replacing_client("secretsmanager", throttled):
        for key in (OLD_KEY, NEW_KEY):
            assert webhook.send(sample_event("01JT1000000000000000000000"), key=key)["statusCode"] == 503
    assert webhook.send(sample_event("01JT1000000000000000000000"), key=NEW_KEY)["statusCode"] == 200


# ------------------------------------------------------------------ source addresses


@pytest.mark.parametrize("shape", SHAPES)
def test_a_source_outside_the_allowed_ranges_is_403_before_any_work(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch, shape: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOWED_SOURCE_CIDRS", "192.0.2.0/24, 2001:db8::/32")
    webhook.reset()
    # No secret is read for a refused source: with the signing key gone, it is still a 403.
    webhook.secretsmanager.delete_secret(
        SecretId="cio-security/customerio/webhook-signing-key", ForceDeleteWithoutRecovery=True
    )
    response = webhook.send(sample_event(), source_ip="198.51.100.7", shape=shape)
    assert response["statusCode"] == 403
    assert body_of(response) == {"message": "forbidden"}
    rejected = [m for m in emf_lines(capsys.readouterr().out) if "WebhookRejected" in m]
    assert rejected[0]["reason"] == "source_address"


@pytest.mark.parametrize("source_ip", ["192.0.2.44", "2001:db8::5", "::ffff:192.0.2.9"])
def test_a_source_inside_the_allowed_ranges_still_needs_its_signature(
    webhook: WebhookStack, monkeypatch: pytest.MonkeyPatch, source_ip: str
) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOWED_SOURCE_CIDRS", "192.0.2.0/24 2001:db8::/32")
    webhook.reset()
    assert webhook.send(sample_event(), source_ip=source_ip)["statusCode"] == 200
    assert (
        webhook.send(sample_event(), source_ip=source_ip, key="forged-key-0000000000000000")["statusCode"]
        == 401
    )


def test_without_ranges_every_source_may_try_its_signature(webhook: WebhookStack) -> None:
    assert webhook.send(sample_event(), source_ip="203.0.113.200")["statusCode"] == 200


# ------------------------------------------------------------------ routing and logs


@pytest.mark.parametrize("path", ["/other", "/webhooks/customerio/extra"])
def test_unknown_route_is_404(webhook: WebhookStack, path: str) -> None:
    from fixtures.apigw import http_api_event

    event = http_api_event(b"{}", {})
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    assert webhook.invoke_raw(event)["statusCode"] == 404


def test_logs_hold_no_secret_body_or_pii(webhook: WebhookStack, captured_logs) -> None:
    secret_note = "confidential-note-value-42"
    event = sample_event("01JL0GS0000000000000000000", email="private.person@example.com", note=secret_note)
    sensitive(secret_note, "private.person@example.com", "203.0.113.9")
    event["data"]["ip"] = "203.0.113.9"
    webhook.send(event)
    webhook.send(event, key="wrong-key-wrong-key-wrong-key-wrong-key")
    webhook.send(json.dumps({**event, "timestamp": "bad"}).encode())
    webhook.send(base64.b64encode(b"x"))
    text = captured_logs.text
    assert "webhook rejected" in text and "event published" in text and "kept" in text
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
