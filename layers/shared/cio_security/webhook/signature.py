"""Customer.io reporting-webhook signatures (DESIGN section 3). No AWS event shapes here.

Signed bytes are ``b"v0:" + timestamp + b":" + raw_body``, HMAC-SHA256 with the signing key, sent
as lowercase hex in ``X-CIO-Signature`` beside ``X-CIO-Timestamp`` (unix seconds). The raw body
is exactly what arrived: never re-serialised JSON.

>>> key = b"k" * 32
>>> headers = sign_webhook(key, b'{"event_id":"1"}', timestamp=1_700_000_000)
>>> ring = SigningKeyRing(lambda refresh: [key])
>>> ring.verify(headers, b'{"event_id":"1"}', now=1_700_000_010)
1700000000

A stack serving several Customer.io workspaces has one ring per workspace in a
``WorkspaceKeyRing``, which also says *whose* key verified a request (see its docstring for the
order keys are tried in).
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
from typing import Protocol

from cio_security.config import (
    DEFAULT_SIGNING_KEY_REFRESH_SECONDS,
    DEFAULT_WEBHOOK_FUTURE_SKEW_SECONDS,
    DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
)
from cio_security.errors import ConfigurationError, SecretError, SignatureError
from cio_security.workspaces import DEFAULT_WORKSPACE

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


def read_body(body: str | bytes | None, *, is_base64: bool, max_bytes: int | None = None) -> bytes:
    """The raw body bytes (base64-decoded when ``is_base64``), exactly as they were signed.

    With ``max_bytes``, a body above it raises SignatureError("too_large"), checked before and
    after decoding so an oversized body is never decoded. The webhook passes none: whatever
    Lambda delivered is verified, and a verified body too large to parse is kept, not refused.
    Raises SignatureError("malformed") for invalid base64 or a string that cannot be the bytes
    Customer.io signed.
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
        if max_bytes is not None and len(raw) > max_bytes:
            raise SignatureError("too_large")
        return raw
    # Reject by the encoded length first so an oversized body is never decoded.
    if max_bytes is not None and len(raw) > (max_bytes // 3 + 1) * 4 + 4:
        raise SignatureError("too_large")
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("malformed", "webhook rejected: body is not valid base64") from None
    if max_bytes is not None and len(decoded) > max_bytes:
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
    headers: Mapping[str, str] | None,
    *,
    tolerance: int = DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
    future_skew: int = DEFAULT_WEBHOOK_FUTURE_SKEW_SECONDS,
    now: float | None = None,
) -> tuple[str, bytes]:
    """Validate the signature headers' presence, shape and freshness.

    A timestamp may be up to ``tolerance`` seconds old (Customer.io's retries may carry the first
    attempt's timestamp) and up to ``future_skew`` seconds ahead of our clock. Returns the
    timestamp text and the signature digest. Raises SignatureError with reason ``missing``,
    ``malformed`` or ``stale`` (too old or too far in the future).
    """
    timestamp, digest = signature_headers(headers)
    current = time.time() if now is None else now
    age = current - int(timestamp)
    if age > tolerance or -age > future_skew:
        raise SignatureError("stale")
    return timestamp, digest


def signature_headers(headers: Mapping[str, str] | None) -> tuple[str, bytes]:
    """The timestamp text and signature digest, checked for presence and shape only (no clock).

    Raises SignatureError with reason ``missing`` or ``malformed``.
    """
    timestamp = header(headers, TIMESTAMP_HEADER)
    signature = header(headers, SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise SignatureError("missing")
    timestamp, signature = timestamp.strip(), signature.strip()
    if not _TIMESTAMP.match(timestamp) or not _HEX_SIGNATURE.match(signature):
        raise SignatureError("malformed")
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


class KeyRing(Protocol):
    """What the processor verifies with: ``SigningKeyRing`` (one workspace) or
    ``WorkspaceKeyRing`` (several)."""

    def match(self, timestamp: str, digest: bytes, body: bytes) -> str | None:
        """The workspace whose key signed ``body`` at ``timestamp``, or None."""
        ...

    def matches(self, timestamp: str, digest: bytes, body: bytes) -> bool:
        """Whether one of the ring's keys signed ``body`` at ``timestamp``."""
        ...

    def clear(self) -> None:
        """Forget the cached keys."""
        ...


class SigningKeyRing:
    """The signing keys a webhook may be signed with, in the order they are tried, cached.

    ``load(force_refresh)`` returns the keys (AWSCURRENT, AWSPENDING, then AWSPREVIOUS inside its
    grace window). On a signature mismatch the ring reloads once, at most every
    ``refresh_interval`` seconds (default 5), so a rotated key is picked up without a redeploy and
    a flood of forged requests costs at most one key load per interval and execution environment.
    ``workspace`` is the Customer.io workspace the keys are of (``cio_security.workspaces``).

    Loaded keys are read again (bypassing any cache) on the first request after ``max_age``
    seconds (None: only on a mismatch): genuine traffic never mismatches, so without an age a warm
    execution environment would go on accepting a key rotated out long ago. When that read fails
    (Secrets Manager throttling or unreachable), the keys already held are kept and the read is
    tried again every ``refresh_interval`` (logged): an outage does not turn genuine deliveries
    into 503s. Keys the loader marks as expiring (``LoadedKeys``: AWSPREVIOUS, for the rest of its
    grace window) are dropped when their time is up, without any read, whatever happens to the
    reload.
    """

    def __init__(
        self,
        load: KeyLoader,
        *,
        refresh_interval: float = DEFAULT_SIGNING_KEY_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        workspace: str = DEFAULT_WORKSPACE,
        max_age: float | None = None,
    ) -> None:
        self._load = load
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._max_age = max_age
        self._keys: Sequence[bytes] | None = None
        self._loaded_at = float("-inf")
        self._expires_at = float("inf")  # when the keys are read again
        self._expiring = 0  # how many of the last keys are dropped at _expiring_at
        self._expiring_at = float("inf")
        self._lock = threading.Lock()
        self.workspace = workspace

    def _current(self, *, refresh: bool) -> Sequence[bytes]:
        with self._lock:
            now = self._clock()
            if self._keys is not None and self._expiring and now >= self._expiring_at:
                self._keys, self._expiring = self._keys[: len(self._keys) - self._expiring], 0
            if self._keys is None or refresh:
                return self._store(self._load(refresh))
            if now >= self._expires_at:
                try:
                    return self._store(self._load(True))
                except (SecretError, ConfigurationError) as exc:
                    self._expires_at = now + self._refresh_interval
                    logger.warning(
                        "signing keys could not be read again; the keys held are kept for now",
                        extra={"workspace": self.workspace, "error": type(exc).__name__},
                    )
            return self._keys

    def _store(self, loaded: Sequence[bytes]) -> Sequence[bytes]:
        keys = self._keys = tuple(loaded)
        self._loaded_at = now = self._clock()
        self._expires_at = now + self._max_age if self._max_age is not None else float("inf")
        valid_for: float | None = getattr(loaded, "valid_for", None)
        expiring: int = getattr(loaded, "expiring", 0)
        if valid_for is None or not expiring:
            self._expiring, self._expiring_at = 0, float("inf")
        else:
            self._expiring, self._expiring_at = expiring, now + valid_for
        return keys

    def keys(self, *, refresh: bool = False) -> Sequence[bytes]:
        """The keys, loaded on first use (``refresh``: read again). Raises what the loader raises."""
        return self._current(refresh=refresh)

    @property
    def max_age(self) -> float | None:
        """How long loaded keys are used before they are read again (None: until a mismatch)."""
        return self._max_age

    @property
    def refresh_interval(self) -> float:
        """How long after a load a mismatch may read the keys again (seconds)."""
        return self._refresh_interval

    @property
    def loaded(self) -> bool:
        """Whether the keys have been loaded (and not cleared since)."""
        return self._keys is not None

    def may_refresh(self) -> bool:
        """Whether a mismatch may re-read the keys now (``refresh_interval`` since the last load)."""
        return self._clock() - self._loaded_at >= self._refresh_interval

    def verify(
        self,
        headers: Mapping[str, str] | None,
        body: bytes,
        *,
        tolerance: int = DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
        future_skew: int = DEFAULT_WEBHOOK_FUTURE_SKEW_SECONDS,
        now: float | None = None,
    ) -> int:
        """Verify a webhook; return its timestamp. Raises SignatureError on any failure."""
        timestamp, digest = check_headers(headers, tolerance=tolerance, future_skew=future_skew, now=now)
        if not self.matches(timestamp, digest, body):
            raise SignatureError("mismatch")
        return int(timestamp)

    def match(self, timestamp: str, digest: bytes, body: bytes) -> str | None:
        """``workspace`` when one of the ring's keys signed ``body`` at ``timestamp`` (no freshness
        check: the operator's replay of a kept body uses it), else None. Reloads the keys once on
        a miss, at most every ``refresh_interval`` seconds."""
        index = matching_key_index(self._current(refresh=False), timestamp, body, digest)
        if index is None and self.may_refresh():
            logger.info("signature mismatch: reloading signing keys")
            index = matching_key_index(self._current(refresh=True), timestamp, body, digest)
        return None if index is None else self.workspace

    def matches(self, timestamp: str, digest: bytes, body: bytes) -> bool:
        """Whether one of the ring's keys signed ``body`` at ``timestamp`` (see ``match``)."""
        return self.match(timestamp, digest, body) is not None

    def clear(self) -> None:
        """Forget the cached keys (the next verification reads them again): after a SnapStart
        restore, keys cached before the snapshot may have been rotated since."""
        with self._lock:
            self._keys = None
            self._loaded_at = float("-inf")
            self._expires_at = float("inf")
            self._expiring, self._expiring_at = 0, float("inf")


class SigningKeysUnavailableError(SecretError):
    """No configured workspace's key matched, and the keys of at least one workspace could not
    be read: that workspace may have signed the request, so it is answered 503 (Customer.io
    retries), never 401. The message names the workspaces, never a key."""


_UNREADABLE = (SecretError, ConfigurationError)


class WorkspaceKeyRing:
    """The signing keys of several Customer.io workspaces, one ``SigningKeyRing`` each, and which
    workspace's key verified a request.

    Order: the workspaces in configured order (the primary first); within a workspace its ring's
    order (AWSCURRENT, AWSPENDING, AWSPREVIOUS inside the grace window), every key of that
    workspace computed (as a single ring does); the first workspace with a matching key is the
    request's workspace, and the workspaces after it are not tried. A delivery from the k-th
    workspace thus costs the HMACs of the first k workspaces' keys (each over the body), so list
    the busiest workspaces first after the primary. On a miss, every workspace whose keys may be
    re-read (its own ``refresh_interval``) is re-read and tried again, in the same order: a key
    rotated in one workspace is picked up without touching the others'.

    A workspace whose keys cannot be read is skipped (logged) and retried at most every
    ``refresh_interval``; when no other workspace's key matches, the request is answered 503
    (``SigningKeysUnavailableError``): that workspace might have signed it. A workspace with no
    usable key yet (the template's placeholder) matches nothing and holds nobody up.

    Keys are unique across workspaces (the rotation refuses a key another workspace holds); if
    two workspaces did share one, the first in this order would get its requests.
    """

    def __init__(
        self, rings: Sequence[SigningKeyRing], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not rings:
            raise ConfigurationError("a workspace key ring needs at least one workspace")
        self.rings = tuple(rings)
        self._clock = clock
        self._failed_at: dict[str, float] = {}

    @property
    def workspaces(self) -> tuple[str, ...]:
        """The workspaces, in the order their keys are tried."""
        return tuple(ring.workspace for ring in self.rings)

    def _keys(self, ring: SigningKeyRing, *, refresh: bool) -> Sequence[bytes] | None:
        """The ring's keys, or None when they cannot be read (retried at most every refresh
        interval: a workspace whose secret is broken does not cost a read per request)."""
        failed_at = self._failed_at.get(ring.workspace)
        if failed_at is not None and not refresh and not ring.loaded:
            return None
        try:
            keys = ring.keys(refresh=refresh)
        except _UNREADABLE as exc:
            self._failed_at[ring.workspace] = self._clock()
            logger.warning(
                "signing keys of a workspace could not be read",
                extra={"workspace": ring.workspace, "error": type(exc).__name__},
            )
            return None
        self._failed_at.pop(ring.workspace, None)
        return keys

    def _may_retry(self, ring: SigningKeyRing) -> bool:
        failed_at = self._failed_at.get(ring.workspace)
        if failed_at is None:
            return ring.may_refresh()
        return self._clock() - failed_at >= ring.refresh_interval

    def match(self, timestamp: str, digest: bytes, body: bytes) -> str | None:
        """The workspace whose key signed ``body`` at ``timestamp`` (no freshness check), or None.

        Raises SigningKeysUnavailableError when nothing matched and a workspace's keys could
        not be read."""
        for ring in self.rings:
            keys = self._keys(ring, refresh=False)
            if keys is not None and matching_key_index(keys, timestamp, body, digest) is not None:
                return ring.workspace
        unreadable: list[str] = []
        for ring in self.rings:
            if not self._may_retry(ring):
                if ring.workspace in self._failed_at:
                    unreadable.append(ring.workspace)
                continue
            logger.info("signature mismatch: reloading signing keys", extra={"workspace": ring.workspace})
            keys = self._keys(ring, refresh=True)
            if keys is None:
                unreadable.append(ring.workspace)
            elif matching_key_index(keys, timestamp, body, digest) is not None:
                return ring.workspace
        if unreadable:
            raise SigningKeysUnavailableError(
                f"the signing keys of workspace(s) {', '.join(unreadable)} could not be read"
            )
        return None

    def matches(self, timestamp: str, digest: bytes, body: bytes) -> bool:
        """Whether a workspace's key signed ``body`` at ``timestamp`` (see ``match``)."""
        return self.match(timestamp, digest, body) is not None

    def clear(self) -> None:
        """Forget every workspace's cached keys."""
        for ring in self.rings:
            ring.clear()
        self._failed_at.clear()
