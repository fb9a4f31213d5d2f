"""The Customer.io Track API v1 client: identify, track, suppress, unsuppress, delete, region.

Everything a request to Customer.io needs in order to be safe lives here:

- identify and track payloads always pass the sanitizer (no code path sends raw attributes);
- identifiers are percent-encoded with no safe characters (dot segments included), so no
  identifier can change the path it is sent to;
- explicit timeouts, bounded retries of 408/429/5xx/transport errors with full-jitter backoff that
  honours ``Retry-After``, a shared token bucket for every attempt;
- a 401 re-reads the credentials once (a rotated key is picked up without a redeploy);
- redirects are never followed, so Basic credentials never reach another host;
- logs and exception texts name the operation, status, attempt and request id, never an
  identifier, a payload or a credential.

>>> creds = TrackCredentials(site_id="site", api_key="key", region="eu")   # doctest: +SKIP
>>> with TrackClient(creds, pepper=pepper, rate_limit=TokenBucket(10)) as client:  # doctest: +SKIP
...     client.identify("user-1", {"email": "a@example.invalid", "plan": "pro"})
...     client.track("user-1", "purchase", {"amount": 10})
...     client.suppress("user-1")
...     client.delete("user-1")
TrackResponse(status=200, request_id=...)

Worst case per call: ``max_attempts * (timeout + wait)`` where a wait is at most
``max(backoff_cap, retry_after_cap)``; the calling function's Timeout must exceed it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import random as _random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from cio_security.customerio.ratelimit import TokenBucket
from cio_security.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    CustomerIOError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    RedirectRefusedError,
    ServerError,
    TransientError,
    TransportError,
)
from cio_security.sanitizer.core import SanitizerPolicy, sanitize_attributes
from cio_security.secrets.models import Region, TrackCredentials

__all__ = [
    "DEFAULT_TIMEOUT",
    "TRACK_URLS",
    "CredentialsProvider",
    "RegionInfo",
    "TrackClient",
    "TrackResponse",
    "parse_retry_after",
    "track_path",
]

logger = logging.getLogger(__name__)

TRACK_URLS: Final[Mapping[Region, str]] = {
    "us": "https://track.customer.io",
    "eu": "https://track-eu.customer.io",
}
DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=2.0)
USER_AGENT: Final = "cio-security/0.1"
REQUEST_ID_HEADERS: Final = ("x-request-id", "x-amzn-requestid", "x-amz-request-id", "cf-ray")
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")

Operation = Literal["identify", "track", "suppress", "unsuppress", "delete", "region"]
CredentialsProvider = Callable[[bool], TrackCredentials]
"""``provider(False)`` returns the current (possibly cached) credentials, ``provider(True)`` re-reads them."""


@dataclass(frozen=True, slots=True)
class TrackResponse:
    """The outcome of a successful call: the HTTP status and Customer.io's request id if any."""

    status: int
    request_id: str | None = None


class RegionInfo(BaseModel):
    """``GET /api/v1/accounts/region``: where a credential set's workspace lives."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    url: str
    data_center: str
    environment_id: int | str


def track_path(*segments: str) -> str:
    """The request path for ``segments``, each percent-encoded as exactly one path segment.

    ``quote(..., safe="")`` leaves no separator unencoded; the dot segments ``.`` and ``..``,
    which ``quote`` keeps as they are and every URL library resolves, are encoded as ``%2E``.

    >>> track_path("api", "v1", "customers", "../accounts/region")
    '/api/v1/customers/..%2Faccounts%2Fregion'
    >>> track_path("api", "v1", "customers", "..")
    '/api/v1/customers/%2E%2E'
    """
    encoded = []
    for segment in segments:
        part = quote(segment, safe="")
        if part in {".", ".."}:
            part = part.replace(".", "%2E")
        encoded.append(part)
    return "/" + "/".join(encoded)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP-date); None when absent or invalid.

    >>> parse_retry_after("7")
    7.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0)
    10.0
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # an HTTP-date is always GMT
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


def _request_id(response: httpx.Response) -> str | None:
    """The response's request id when it is a short, plain token (it ends up in logs and errors)."""
    for name in REQUEST_ID_HEADERS:
        value: str | None = response.headers.get(name)
        if value and _REQUEST_ID.match(value):
            return value
    return None


def _validated_base_url(base_url: str) -> str:
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        raise ConfigurationError("Customer.io base URL is not a valid URL") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigurationError("Customer.io base URL must be an http(s) URL with a host")
    if url.userinfo:
        raise ConfigurationError("Customer.io base URL must not contain credentials")
    if url.query or url.fragment:
        raise ConfigurationError("Customer.io base URL must not have a query or a fragment")
    if url.scheme == "http" and not _is_loopback(url.host):
        logger.warning("Customer.io base URL uses plain http to a non-loopback host")
    return str(url).rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TrackClient:
    """A Customer.io Track API v1 client. One HTTP connection pool per client; reuse the client.

    ``credentials`` is a TrackCredentials or a provider: ``provider(False)`` is called for each
    call (it should cache), ``provider(True)`` once after a 401 to pick up a rotated key.
    ``base_url`` overrides the region's Track URL (the sandbox). ``pepper`` (and optionally
    ``policy``) configure the sanitizer that identify and track always apply: without a pepper,
    identify and track raise ConfigurationError. ``rate_limit`` paces every attempt.
    ``transport``, ``sleep`` and ``random`` are injectable for tests.

    Every method raises a TransientError (retry later; RateLimitedError carries ``retry_after``)
    or a PermanentError; see ``cio_security.errors``. identify and track may also raise the
    sanitizer's PayloadLimitError for attributes too deep or too large to check.

    >>> with TrackClient(provider, base_url=sandbox.url, pepper=pepper) as client:  # doctest: +SKIP
    ...     client.suppress("user-123").status
    200
    """

    def __init__(
        self,
        credentials: TrackCredentials | CredentialsProvider,
        *,
        base_url: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_attempts: int = 4,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        retry_after_cap: float = 20.0,
        rate_limit: TokenBucket | None = None,
        pepper: str | bytes | None = None,
        policy: SanitizerPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if isinstance(credentials, TrackCredentials):
            fixed = credentials
            self._provider: CredentialsProvider = lambda _refresh: fixed
        elif callable(credentials):
            self._provider = credentials
        else:
            raise ConfigurationError("credentials must be TrackCredentials or a provider callable")
        if max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        for name, value in (
            ("backoff_base", backoff_base),
            ("backoff_cap", backoff_cap),
            ("retry_after_cap", retry_after_cap),
        ):
            if not (math.isfinite(value) and value >= 0):
                raise ConfigurationError(f"{name} must be a finite number >= 0")
        if pepper is not None and not pepper:
            raise ConfigurationError("pepper must not be empty")
        self._base_url = _validated_base_url(base_url) if base_url else None
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self.rate_limit = rate_limit
        self._pepper = pepper
        self._policy = policy
        self._sleep = sleep
        self._random = random
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TrackClient(base_url={self._base_url!r}, max_attempts={self.max_attempts})"

    # -- the Track API ---------------------------------------------------------------------------

    def identify(self, customer_id: str, attributes: Mapping[str, Any]) -> TrackResponse:
        """Create or update a person: ``PUT /api/v1/customers/{id}`` with sanitized attributes."""
        path = self._customer_path("identify", customer_id)
        body = self._sanitized("identify", attributes)
        return self._call("identify", "PUT", path, body)

    def track(self, customer_id: str, name: str, data: Mapping[str, Any] | None = None) -> TrackResponse:
        """Send an event: ``POST /api/v1/customers/{id}/events`` ``{"name", "data"}``, data sanitized."""
        path = self._customer_path("track", customer_id, "events")
        if not isinstance(name, str) or not name:
            raise BadRequestError("event name must be a non-empty string", operation="track")
        body = {"name": name, "data": self._sanitized("track", data or {})}
        return self._call("track", "POST", path, body)

    def suppress(self, customer_id: str) -> TrackResponse:
        """Suppress a person: deletes them and blocks re-adding the identifier."""
        return self._call("suppress", "POST", self._customer_path("suppress", customer_id, "suppress"))

    def unsuppress(self, customer_id: str) -> TrackResponse:
        """Lift a suppression: the identifier may be added again (the person is not restored)."""
        return self._call("unsuppress", "POST", self._customer_path("unsuppress", customer_id, "unsuppress"))

    def delete(self, customer_id: str) -> TrackResponse:
        """Delete a person. A 404 (already gone) is returned as ``TrackResponse(404, ...)``."""
        return self._call("delete", "DELETE", self._customer_path("delete", customer_id))

    def region(self) -> RegionInfo:
        """``GET /api/v1/accounts/region``: the credential set's data center and workspace."""
        response = self._send("region", "GET", track_path("api", "v1", "accounts", "region"), None)
        try:
            return RegionInfo.model_validate_json(response.content)
        except ValidationError:
            raise PermanentError(
                "unexpected region response body",
                status=response.status_code,
                request_id=_request_id(response),
                operation="region",
            ) from None

    # -- internals -------------------------------------------------------------------------------

    @staticmethod
    def _customer_path(operation: Operation, customer_id: str, *suffix: str) -> str:
        if not isinstance(customer_id, str) or not customer_id:
            raise BadRequestError("identifier must be a non-empty string", operation=operation)
        return track_path("api", "v1", "customers", customer_id, *suffix)

    def _sanitized(self, operation: Operation, attributes: Mapping[str, Any]) -> dict[str, Any]:
        if self._pepper is None:
            raise ConfigurationError(f"{operation} needs a pepper: attributes are always sanitized")
        if not isinstance(attributes, Mapping):
            raise BadRequestError("attributes must be a mapping", operation=operation)
        sanitized: dict[str, Any] = sanitize_attributes(
            dict(attributes), pepper=self._pepper, policy=self._policy
        )
        return sanitized

    def _call(
        self, operation: Operation, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> TrackResponse:
        response = self._send(operation, method, path, body)
        return TrackResponse(response.status_code, _request_id(response))

    def _base_for(self, credentials: TrackCredentials) -> str:
        return self._base_url or TRACK_URLS[credentials.region]

    def _url(self, base: str, path: str) -> httpx.URL:
        base_url = httpx.URL(base)
        raw_path = (base_url.raw_path.rstrip(b"/") + path.encode("ascii")).decode("ascii")
        url = base_url.copy_with(raw_path=raw_path.encode("ascii"))
        if url.raw_path.decode("ascii") != raw_path:  # never let a URL library rewrite the path
            raise ConfigurationError("the request path would not be sent as built")
        return url

    def _encode(self, operation: Operation, body: Mapping[str, Any] | None) -> bytes | None:
        if body is None:
            return None
        try:
            return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError):
            raise BadRequestError("payload is not JSON-serialisable", operation=operation) from None

    def _credentials(self, refresh: bool) -> TrackCredentials:
        credentials = self._provider(refresh)
        if not isinstance(credentials, TrackCredentials):
            raise ConfigurationError("the credentials provider must return TrackCredentials")
        return credentials

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)) for the attempt-th retry."""
        return self._random() * min(self.backoff_cap, self.backoff_base * 2.0**attempt)

    def _send(
        self, operation: Operation, method: str, path: str, body: Mapping[str, Any] | None
    ) -> httpx.Response:
        """Send with retries; return a 2xx response (or a 404 for delete), raise anything else."""
        content = self._encode(operation, body)
        headers = {"Content-Type": "application/json"} if content is not None else None
        credentials = self._credentials(False)
        refreshed = False
        attempt = 0
        while True:
            url = self._url(self._base_for(credentials), path)
            if self.rate_limit is not None:
                self.rate_limit.acquire()
            attempt += 1
            try:
                response = self._http.request(
                    method,
                    url,
                    content=content,
                    headers=headers,
                    auth=httpx.BasicAuth(credentials.site_id, credentials.api_key.get_secret_value()),
                )
            except httpx.TransportError as exc:
                reason = type(exc).__name__
                logger.warning(
                    "Customer.io %s attempt %d/%d: %s", operation, attempt, self.max_attempts, reason
                )
                failure: CustomerIOError = TransportError(
                    f"Customer.io unreachable ({reason})", operation=operation
                )
                retry_after = None
            else:
                status = response.status_code
                logger.debug(
                    "Customer.io %s attempt %d/%d: status %d", operation, attempt, self.max_attempts, status
                )
                if 200 <= status < 300 or (status == 404 and operation == "delete"):
                    return response
                if status == 401 and not refreshed:
                    refreshed = True
                    fresh = self._credentials(True)
                    if not fresh.same_as(credentials):
                        logger.info("Customer.io %s: 401, retrying once with re-read credentials", operation)
                        credentials = fresh
                        attempt -= 1  # the retry with rotated credentials is not a transient retry
                        continue
                failure = _error_for(operation, response)
                if isinstance(failure, PermanentError):
                    raise failure
                retry_after = (
                    parse_retry_after(response.headers.get("retry-after")) if status in {429, 503} else None
                )
                if retry_after is not None and retry_after > self.retry_after_cap:
                    logger.warning(
                        "Customer.io %s: status %d asks to wait %.1f s, beyond the %.1f s cap",
                        operation,
                        status,
                        retry_after,
                        self.retry_after_cap,
                    )
                    raise RateLimitedError(
                        "Customer.io asked to retry later",
                        retry_after=retry_after,
                        status=status,
                        request_id=failure.request_id,
                        operation=operation,
                    )
                logger.warning(
                    "Customer.io %s attempt %d/%d: status %d", operation, attempt, self.max_attempts, status
                )
            if attempt >= self.max_attempts:
                raise failure
            delay = self._backoff(attempt - 1)
            if retry_after is not None:
                delay = max(delay, retry_after)
            self._sleep(delay)


def _error_for(operation: Operation, response: httpx.Response) -> CustomerIOError:
    """The error for a non-2xx response: TransientError subclasses are retried, the rest raised."""
    status = response.status_code
    request_id = _request_id(response)
    if 300 <= status < 400:
        return RedirectRefusedError(
            "Customer.io answered with a redirect; not followed",
            status=status,
            request_id=request_id,
            operation=operation,
        )
    if status in {401, 403}:
        return AuthenticationError(
            "Customer.io rejected the credentials", status=status, request_id=request_id, operation=operation
        )
    if status == 404:
        return NotFoundError(
            "Customer.io found no such resource", status=status, request_id=request_id, operation=operation
        )
    if status == 429:
        return RateLimitedError(
            "Customer.io rate limit exceeded",
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            status=status,
            request_id=request_id,
            operation=operation,
        )
    if status == 408:
        return TransientError(
            "Customer.io timed out reading the request",
            status=status,
            request_id=request_id,
            operation=operation,
        )
    if status >= 500:
        return ServerError(
            "Customer.io server error", status=status, request_id=request_id, operation=operation
        )
    return BadRequestError(
        "Customer.io rejected the request", status=status, request_id=request_id, operation=operation
    )
