"""Customer.io reporting-webhook signatures (DESIGN section 3). No AWS event shapes here.

Signed bytes are ``b"v0:" + timestamp + b":" + raw_body``, HMAC-SHA256 with the signing key, sent
as lowercase hex in ``X-CIO-Signature`` beside ``X-CIO-Timestamp`` (unix seconds). The raw body
is exactly what arrived: never re-serialised JSON.

>>> key = b"k" * 32
>>> headers = sign_webhook(key, b'{"event_id":"1"}', timestamp=1_700_000_000)
>>> ring = SigningKeyRing(lambda refresh: [key])
>>> ring.verify(headers, b'{"event_id":"1"}', now=1_700_000_010)
1700000000
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from cio_security.config import DEFAULT_SIGNING_KEY_REFRESH_SECONDS, DEFAULT_WEBHOOK_TOLERANCE_SECONDS
from cio_security.errors import SignatureError

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-cio-signature"
TIMESTAMP_HEADER = "x-cio-timestamp"
SIGNATURE_VERSION = b"v0"
_HEX_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header's value, matching its name case-insensitively (REST keeps case, HTTP APIs lower it)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value if isinstance(value, str) else None
    return None


def read_body(body: str | bytes | None, *, is_base64: bool, max_bytes: int) -> bytes:
    """The raw body bytes, bounded by ``max_bytes`` before and after base64 decoding.

    Raises SignatureError("too_large") above the limit and SignatureError("malformed") for
    invalid base64.
    """
    if body is None:
        return b""
    try:
        # surrogateescape restores bytes that were decoded with it; other lone surrogates cannot
        # be the bytes Customer.io signed.
        raw = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
    except UnicodeEncodeError:
        raise SignatureError("malformed", "webhook rejected: body is not encodable") from None
    if not is_base64:
        if len(raw) > max_bytes:
            raise SignatureError("too_large")
        return raw
    # Reject by the encoded length first so an oversized body is never decoded.
    if len(raw) > (max_bytes // 3 + 1) * 4 + 4:
        raise SignatureError("too_large")
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("malformed", "webhook rejected: body is not valid base64") from None
    if len(decoded) > max_bytes:
        raise SignatureError("too_large")
    return decoded


def compute_signature(key: bytes, timestamp: str | bytes, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``v0:<timestamp>:<body>``."""
    ts = timestamp.encode("ascii") if isinstance(timestamp, str) else timestamp
    return hmac.new(key, SIGNATURE_VERSION + b":" + ts + b":" + body, hashlib.sha256).hexdigest()


def sign_webhook(key: bytes | str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers Customer.io would send with ``body``: for tests, the CLI and the local stack."""
    key_bytes = key.encode("ascii") if isinstance(key, str) else key
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-CIO-Timestamp": ts, "X-CIO-Signature": compute_signature(key_bytes, ts, body)}


def check_headers(
    headers: Mapping[str, str] | None, *, tolerance: int, now: float | None = None
) -> tuple[str, bytes]:
    """Validate the signature headers' presence, shape and freshness.

    Returns the timestamp text and the signature digest. Raises SignatureError with reason
    ``missing``, ``malformed`` or ``stale`` (too old or too far in the future).
    """
    timestamp = header(headers, TIMESTAMP_HEADER)
    signature = header(headers, SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise SignatureError("missing")
    timestamp, signature = timestamp.strip(), signature.strip()
    if not _TIMESTAMP.match(timestamp) or not _HEX_SIGNATURE.match(signature):
        raise SignatureError("malformed")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise SignatureError("stale")
    return timestamp, bytes.fromhex(signature)


def matching_key_index(keys: Sequence[bytes], timestamp: str, body: bytes, digest: bytes) -> int | None:
    """Index of the first key whose signature equals ``digest`` (constant-time compares), or None.

    Every key is tried even after a match, so timing does not reveal which stage matched.
    """
    found: int | None = None
    signed = SIGNATURE_VERSION + b":" + timestamp.encode("ascii") + b":" + body
    for index, key in enumerate(keys):
        candidate = hmac.new(key, signed, hashlib.sha256).digest()
        if hmac.compare_digest(candidate, digest) and found is None:
            found = index
    return found


KeyLoader = Callable[[bool], Sequence[bytes]]


class SigningKeyRing:
    """The signing keys a webhook may be signed with, in the order they are tried, cached.

    ``load(force_refresh)`` returns the keys (AWSCURRENT, AWSPENDING, then AWSPREVIOUS inside its
    grace window). On a signature mismatch the ring reloads once, at most every
    ``refresh_interval`` seconds, so a rotated key is picked up without a redeploy and a flood of
    forged requests costs at most one secret read a minute.
    """

    def __init__(
        self,
        load: KeyLoader,
        *,
        refresh_interval: float = DEFAULT_SIGNING_KEY_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._keys: Sequence[bytes] | None = None
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def _current(self, *, refresh: bool) -> Sequence[bytes]:
        with self._lock:
            if self._keys is None or refresh:
                self._keys = tuple(self._load(refresh))
                self._loaded_at = self._clock()
            return self._keys

    def _may_refresh(self) -> bool:
        return self._clock() - self._loaded_at >= self._refresh_interval

    def verify(
        self,
        headers: Mapping[str, str] | None,
        body: bytes,
        *,
        tolerance: int = DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
        now: float | None = None,
    ) -> int:
        """Verify a webhook; return its timestamp. Raises SignatureError on any failure."""
        timestamp, digest = check_headers(headers, tolerance=tolerance, now=now)
        keys = self._current(refresh=False)
        index = matching_key_index(keys, timestamp, body, digest)
        if index is None and self._may_refresh():
            logger.info("signature mismatch: reloading signing keys")
            index = matching_key_index(self._current(refresh=True), timestamp, body, digest)
        if index is None:
            raise SignatureError("mismatch")
        return int(timestamp)
