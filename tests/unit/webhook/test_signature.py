"""The webhook verifier: signing scheme, header checks, tolerance, key ring and its refresh."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cio_security.errors import SecretError, SignatureError
from cio_security.secrets.loaders import LoadedKeys
from cio_security.webhook.signature import (
    SigningKeyRing,
    check_headers,
    compute_signature,
    header,
    read_body,
    sign_webhook,
)

KEY = b"unit-test-signing-key-0123456789abcdef"
OTHER = b"another-signing-key-0123456789abcdefgh"
NOW = 1_795_000_000

keys = st.binary(min_size=1, max_size=64)
bodies = st.binary(max_size=2048)


def ring(*key_list: bytes) -> SigningKeyRing:
    return SigningKeyRing(lambda refresh: list(key_list))


def test_signature_is_hmac_sha256_of_v0_timestamp_body() -> None:
    expected = hmac.new(KEY, b"v0:1795000000:{}", hashlib.sha256).hexdigest()
    assert compute_signature(KEY, "1795000000", b"{}") == expected
    assert sign_webhook(KEY, b"{}", timestamp=NOW) == {
        "X-CIO-Timestamp": "1795000000",
        "X-CIO-Signature": expected,
    }


@given(key=keys, body=bodies, ts=st.integers(0, 10**11))
def test_signed_requests_verify(key: bytes, body: bytes, ts: int) -> None:
    assert ring(key).verify(sign_webhook(key, body, timestamp=ts), body, now=ts) == ts


@given(body=bodies, data=st.data())
def test_any_changed_byte_is_a_mismatch(body: bytes, data: st.DataObject) -> None:
    headers = sign_webhook(KEY, body, timestamp=NOW)
    if body:
        i = data.draw(st.integers(0, len(body) - 1))
        flip = data.draw(st.integers(1, 255))
        tampered = body[:i] + bytes([body[i] ^ flip]) + body[i + 1 :]
    else:
        tampered = b"x"
    with pytest.raises(SignatureError) as err:
        ring(KEY).verify(headers, tampered, now=NOW)
    assert err.value.reason == "mismatch"


@given(body=bodies)
def test_signature_of_another_key_is_refused(body: bytes) -> None:
    with pytest.raises(SignatureError):
        ring(KEY).verify(sign_webhook(OTHER, body, timestamp=NOW), body, now=NOW)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.dictionaries(
        st.sampled_from(["X-CIO-Timestamp", "x-cio-signature", "X-CIO-Signature", "other"])
        | st.text(max_size=20),
        st.text(max_size=80),
        max_size=5,
    ),
    body=bodies,
)
def test_arbitrary_headers_only_ever_raise_signature_error(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(SignatureError):
        ring(KEY).verify(headers, body, now=NOW)


def test_keys_are_tried_in_order_and_any_configured_key_verifies() -> None:
    headers = sign_webhook(OTHER, b"{}", timestamp=NOW)
    assert ring(KEY, OTHER).verify(headers, b"{}", now=NOW) == NOW


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_tolerance_is_inclusive_both_ways(offset: int, ok: bool) -> None:
    headers = sign_webhook(KEY, b"{}", timestamp=NOW + offset)
    if ok:
        assert ring(KEY).verify(headers, b"{}", now=NOW, tolerance=300) == NOW + offset
    else:
        with pytest.raises(SignatureError, match="stale"):
            ring(KEY).verify(headers, b"{}", now=NOW, tolerance=300)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"X-CIO-Timestamp": "1"}, "missing"),
        ({"X-CIO-Timestamp": "", "X-CIO-Signature": "a" * 64}, "missing"),
        ({"X-CIO-Timestamp": "1.5", "X-CIO-Signature": "a" * 64}, "malformed"),
        ({"X-CIO-Timestamp": "1" * 13, "X-CIO-Signature": "a" * 64}, "malformed"),
        ({"X-CIO-Timestamp": str(NOW), "X-CIO-Signature": "g" * 64}, "malformed"),
        ({"X-CIO-Timestamp": str(NOW), "X-CIO-Signature": "a" * 63}, "malformed"),
        ({"X-CIO-Timestamp": str(NOW), "X-CIO-Signature": "sha256=" + "a" * 64}, "malformed"),
    ],
)
def test_header_shape_reasons(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(SignatureError) as err:
        check_headers(headers, tolerance=300, now=NOW)
    assert err.value.reason == reason
    assert str(err.value) == f"webhook rejected: {reason}"


def test_header_lookup_is_case_insensitive_and_ignores_non_strings() -> None:
    assert header({"X-Cio-Timestamp": "1"}, "x-cio-timestamp") == "1"
    assert header({"x-cio-timestamp": None}, "X-CIO-Timestamp") is None  # type: ignore[dict-item]
    assert header(None, "x") is None


def test_uppercase_hex_signature_is_accepted() -> None:
    headers = sign_webhook(KEY, b"{}", timestamp=NOW)
    headers["X-CIO-Signature"] = headers["X-CIO-Signature"].upper()
    assert ring(KEY).verify(headers, b"{}", now=NOW) == NOW


class TestReadBody:
    def test_plain_and_base64(self) -> None:
        assert read_body("{}", is_base64=False, max_bytes=10) == b"{}"
        assert read_body(base64.b64encode(b"\x00\xff").decode(), is_base64=True, max_bytes=10) == b"\x00\xff"
        assert read_body(None, is_base64=False, max_bytes=10) == b""

    @pytest.mark.parametrize("size", [11, 100, 10_000])
    def test_over_limit_is_too_large_both_encodings(self, size: int) -> None:
        raw = b"a" * size
        for body, b64 in ((raw.decode(), False), (base64.b64encode(raw).decode(), True)):
            with pytest.raises(SignatureError) as err:
                read_body(body, is_base64=b64, max_bytes=10)
            assert err.value.reason == "too_large"

    def test_exactly_at_limit_is_accepted(self) -> None:
        assert len(read_body(base64.b64encode(b"a" * 10).decode(), is_base64=True, max_bytes=10)) == 10

    def test_utf8_body_is_measured_in_bytes(self) -> None:
        with pytest.raises(SignatureError):
            read_body("é" * 6, is_base64=False, max_bytes=10)

    def test_invalid_base64_is_malformed(self) -> None:
        with pytest.raises(SignatureError) as err:
            read_body("***", is_base64=True, max_bytes=10)
        assert err.value.reason == "malformed"


class TestKeyRingRefresh:
    def test_reloads_on_a_miss_at_most_once_per_interval(self) -> None:
        clock = [1000.0]
        loads: list[bool] = []
        current = [KEY]

        def load(refresh: bool) -> list[bytes]:
            loads.append(refresh)
            return list(current)

        keyring = SigningKeyRing(load, refresh_interval=60, clock=lambda: clock[0])
        assert keyring.verify(sign_webhook(KEY, b"a", timestamp=NOW), b"a", now=NOW)
        assert loads == [False]

        current[:] = [OTHER]  # rotated: the ring still holds KEY
        clock[0] += 61
        assert keyring.verify(sign_webhook(OTHER, b"b", timestamp=NOW), b"b", now=NOW)
        assert loads == [False, True]

        # A flood of forged requests inside the interval triggers no further reads.
        for _ in range(50):
            with pytest.raises(SignatureError):
                keyring.verify(
                    sign_webhook(b"forged-key-000000000000000000000000", b"c", timestamp=NOW), b"c", now=NOW
                )
        assert loads == [False, True]

    def test_keys_older_than_max_age_are_read_again_without_a_mismatch(self) -> None:
        """Genuine traffic never mismatches: without an age, a warm environment would accept a key
        rotated out long ago."""
        clock = [1000.0]
        loads: list[bool] = []
        current = [KEY]

        def load(refresh: bool) -> list[bytes]:
            loads.append(refresh)
            return list(current)

        keyring = SigningKeyRing(load, refresh_interval=3600, clock=lambda: clock[0], max_age=300)
        assert keyring.max_age == 300
        assert keyring.verify(sign_webhook(KEY, b"a", timestamp=NOW), b"a", now=NOW)
        current[:] = [OTHER]  # KEY rotated out (no grace)
        clock[0] += 299
        assert keyring.verify(sign_webhook(KEY, b"b", timestamp=NOW), b"b", now=NOW)  # cached
        clock[0] += 1
        with pytest.raises(SignatureError):
            keyring.verify(sign_webhook(KEY, b"c", timestamp=NOW), b"c", now=NOW)
        assert keyring.verify(sign_webhook(OTHER, b"d", timestamp=NOW), b"d", now=NOW)
        # Read again by age, past any cache (a cached value would restart the age on a stale key);
        # no mismatch reload (interval 3600).
        assert loads == [False, True]

    def test_the_previous_key_is_dropped_when_its_grace_window_ends(self) -> None:
        """Not max_age later, and without any read: an outage cannot keep it alive."""
        clock = [1000.0]
        loads: list[bool] = []

        def load(refresh: bool) -> LoadedKeys:
            loads.append(refresh)
            return LoadedKeys([KEY, OTHER], valid_for=10, expiring=1)

        keyring = SigningKeyRing(load, refresh_interval=3600, clock=lambda: clock[0], max_age=300)
        assert keyring.verify(sign_webhook(OTHER, b"a", timestamp=NOW), b"a", now=NOW)
        clock[0] += 10
        with pytest.raises(SignatureError):
            keyring.verify(sign_webhook(OTHER, b"b", timestamp=NOW), b"b", now=NOW)
        assert keyring.verify(sign_webhook(KEY, b"c", timestamp=NOW), b"c", now=NOW)
        assert loads == [False]

    def test_a_failed_read_by_age_keeps_the_keys_and_retries_every_refresh_interval(self) -> None:
        """Secrets Manager throttling must not turn genuine deliveries into 503s, nor cost a read
        per request."""
        clock = [1000.0]
        loads: list[bool] = []
        failing = [False]

        def load(refresh: bool) -> list[bytes]:
            loads.append(refresh)
            if failing[0]:
                raise SecretError("throttled")
            return [KEY]

        keyring = SigningKeyRing(load, refresh_interval=5, clock=lambda: clock[0], max_age=300)
        assert keyring.verify(sign_webhook(KEY, b"a", timestamp=NOW), b"a", now=NOW)
        failing[0] = True
        clock[0] += 300
        for _ in range(10):
            assert keyring.verify(sign_webhook(KEY, b"b", timestamp=NOW), b"b", now=NOW)
        assert loads == [False, True]
        clock[0] += 5
        assert keyring.verify(sign_webhook(KEY, b"c", timestamp=NOW), b"c", now=NOW)
        assert loads == [False, True, True]
        failing[0] = False
        clock[0] += 5
        assert keyring.verify(sign_webhook(KEY, b"d", timestamp=NOW), b"d", now=NOW)
        clock[0] += 299
        assert keyring.verify(sign_webhook(KEY, b"e", timestamp=NOW), b"e", now=NOW)
        assert loads == [False, True, True, True]  # read again, then held for max_age

    def test_without_max_age_keys_stay_until_a_mismatch(self) -> None:
        clock = [0.0]
        loads: list[bool] = []
        keyring = SigningKeyRing(lambda refresh: loads.append(refresh) or [KEY], clock=lambda: clock[0])
        for _ in range(3):
            clock[0] += 10**6
            keyring.verify(sign_webhook(KEY, b"a", timestamp=NOW), b"a", now=NOW)
        assert loads == [False]

    def test_matching_key_needs_no_reload(self) -> None:
        loads: list[bool] = []
        keyring = SigningKeyRing(lambda refresh: loads.append(refresh) or [KEY], refresh_interval=0)
        for _ in range(3):
            keyring.verify(sign_webhook(KEY, b"a", timestamp=NOW), b"a", now=NOW)
        assert loads == [False]


class TestTolerance:
    """The past tolerance and the future skew are separate (DESIGN section 3)."""

    @pytest.mark.parametrize(
        ("offset", "ok"),
        [(-691_200, True), (-691_201, False), (300, True), (301, False), (-86_400 * 7, True)],
    )
    def test_defaults_are_eight_days_past_and_300_seconds_ahead(self, offset: int, ok: bool) -> None:
        headers = sign_webhook(KEY, b"{}", timestamp=NOW + offset)
        if ok:
            assert ring(KEY).verify(headers, b"{}", now=NOW) == NOW + offset
        else:
            with pytest.raises(SignatureError, match="stale"):
                ring(KEY).verify(headers, b"{}", now=NOW)

    def test_a_long_past_tolerance_does_not_widen_the_future_skew(self) -> None:
        headers = sign_webhook(KEY, b"{}", timestamp=NOW + 3600)
        with pytest.raises(SignatureError, match="stale"):
            check_headers(headers, tolerance=10**6, future_skew=300, now=NOW)
        assert check_headers(headers, tolerance=10, future_skew=3600, now=NOW)[0] == str(NOW + 3600)


def test_read_body_without_a_limit_returns_whatever_arrived() -> None:
    big = b"a" * 1_000_000
    assert read_body(big.decode(), is_base64=False) == big
    assert read_body(base64.b64encode(big).decode(), is_base64=True) == big


class TestMatches:
    def test_matches_ignores_freshness_for_a_kept_body(self) -> None:
        headers = sign_webhook(KEY, b"kept", timestamp=1)  # decades old
        digest = bytes.fromhex(headers["X-CIO-Signature"])
        assert ring(KEY).matches("1", digest, b"kept")
        assert not ring(OTHER).matches("1", digest, b"kept")

    def test_clear_forgets_the_keys(self) -> None:
        loads: list[bool] = []
        keyring = SigningKeyRing(lambda refresh: loads.append(refresh) or [KEY], refresh_interval=3600)
        keyring.verify(sign_webhook(KEY, b"a", timestamp=NOW), b"a", now=NOW)
        keyring.clear()
        keyring.verify(sign_webhook(KEY, b"a", timestamp=NOW), b"a", now=NOW)
        assert loads == [False, False]


def test_the_default_refresh_interval_is_a_few_seconds() -> None:
    """Short enough that a key staged after regenerating it in Customer.io is picked up at once."""
    from cio_security.config import DEFAULT_SIGNING_KEY_REFRESH_SECONDS

    assert DEFAULT_SIGNING_KEY_REFRESH_SECONDS <= 10
    keyring = SigningKeyRing(lambda refresh: [KEY])
    assert keyring._refresh_interval == DEFAULT_SIGNING_KEY_REFRESH_SECONDS
