"""The Customer.io Track API v1 client: identify, track, suppress, unsuppress, delete, region.

Everything a request to Customer.io needs in order to be safe goes through ``TrackClient``:

- identify and track payloads always pass the sanitizer (no code path sends raw attributes);
- identifiers are percent-encoded with no safe characters (dot segments included), so no
  identifier can change the path it is sent to (``urls``);
- explicit timeouts, bounded retries of 408/429/5xx/transport errors with full-jitter backoff that
  honours ``Retry-After`` (``retry.RetryPolicy``), a shared token bucket for every request sent;
- a 401 re-reads the credentials once, so a rotated key is picked up without a redeploy
  (``auth.TrackAuth``);
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

Worst case per call: ``retry.worst_case()`` (every attempt and the 401 re-send timing out, the
longest waits); the calling function's Timeout must exceed it.
"""

from __future__ import annotations

import json
import logging
import random as _random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from pydantic import ValidationError

from cio_security.customerio.auth import CredentialsProvider, TrackAuth, as_provider
from cio_security.customerio.ratelimit import TokenBucket
from cio_security.customerio.responses import (
    Operation,
    RegionInfo,
    TrackResponse,
    request_id_of,
)
from cio_security.customerio.retry import DEFAULT, RetryPolicy
from cio_security.customerio.sender import PooledClient, Sender
from cio_security.customerio.urls import BaseUrlOverride, track_path, validated_override
from cio_security.customerio.v2 import (
    MAX_BATCH_BYTES,
    BatchResult,
    PersonOperation,
    batch_body,
    parse_batch_errors,
)
from cio_security.errors import (
    BadRequestError,
    ConfigurationError,
    PermanentError,
    ServerError,
)
from cio_security.sanitizer.attributes import sanitize_attributes
from cio_security.sanitizer.policy import SanitizerPolicy
from cio_security.secrets.models import TrackCredentials

__all__ = ["RegionInfo", "TrackClient", "TrackResponse"]  # with the types its calls return

logger = logging.getLogger(__name__)


class TrackClient(PooledClient):
    """A Customer.io Track API v1 client. One HTTP connection pool per client; reuse the client.

    ``credentials`` is a TrackCredentials or a provider: ``provider(False)`` is called for each
    call (it should cache), ``provider(True)`` once after a 401 to pick up a rotated key.
    ``base_url`` overrides the region's Track URL (the sandbox). ``pepper`` (and optionally
    ``policy``) configure the sanitizer that identify and track always apply: without a pepper,
    identify and track raise ConfigurationError. ``retry`` says how each call is retried and
    timed out (``RetryPolicy``; its ``worst_case()`` is the longest a call can take).
    ``rate_limit`` paces every request sent: each attempt and the re-send after a 401.
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
        base_url: BaseUrlOverride = None,
        retry: RetryPolicy = DEFAULT,
        rate_limit: TokenBucket | None = None,
        pepper: str | bytes | None = None,
        policy: SanitizerPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._provider = as_provider(credentials)
        self._sender = Sender(
            retry=retry, rate_limit=rate_limit, transport=transport, sleep=sleep, random=random
        )
        if pepper is not None and not pepper:
            raise ConfigurationError("pepper must not be empty")
        self._base_url = validated_override(base_url)
        self.retry = retry
        self.rate_limit = rate_limit
        self._pepper = pepper
        self._policy = policy

    # -- lifecycle -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"TrackClient(base_url={self._base_url!r}, max_attempts={self.retry.max_attempts})"

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
        """Delete a person: ``DELETE /api/v1/customers/{id}``.

        Customer.io documents 200 and 401 only: the Track API never says whether the person
        existed. A 404 therefore means a wrong base URL or a proxy, and raises NotFoundError
        (permanent) like any other call's 404, never "already gone"."""
        return self._call("delete", "DELETE", self._customer_path("delete", customer_id))

    def batch(self, operations: Sequence[PersonOperation]) -> BatchResult:
        """Send person operations in one ``POST /api/v2/batch`` (``cio_security.customerio.v2``).

        Returns a BatchResult: status 200 (all accepted) or 207 with the failed operations by
        index. A 207 whose body does not say which operations failed raises ServerError (a
        TransientError: nothing is known to be accepted, and suppress/delete may be re-sent).
        A whole-request failure raises as every call does (400: BadRequestError, the caller may
        split the batch to isolate a bad operation; 401 after the credential re-read, 403:
        AuthenticationError; 404: NotFoundError, a wrong URL; 429/5xx/timeouts: TransientError).
        BadRequestError before sending for an empty batch or one over the documented sizes.
        """
        if not operations:
            raise BadRequestError("a batch needs at least one operation", operation="batch")
        body = batch_body([operation.encoded() for operation in operations])
        if len(body) > MAX_BATCH_BYTES:
            raise BadRequestError("a batch exceeds 500 KB", operation="batch")
        response = self._send("batch", "POST", track_path("api", "v2", "batch"), None, content=body)
        request_id = request_id_of(response)
        if response.status_code != 207:
            return BatchResult(response.status_code, request_id)
        errors = parse_batch_errors(response.content, len(operations))
        if errors is None:
            logger.warning("Customer.io batch: 207 without a usable errors list; nothing counts as accepted")
            raise ServerError(
                "Customer.io answered 207 without saying which operations failed",
                status=207,
                request_id=request_id,
                operation="batch",
            )
        logger.info("Customer.io batch: %d of %d operations refused", len(errors), len(operations))
        return BatchResult(207, request_id, errors)

    def region(self) -> RegionInfo:
        """``GET /api/v1/accounts/region``: the credential set's region and workspace (``environment_id``)."""
        response = self._send("region", "GET", track_path("api", "v1", "accounts", "region"), None)
        try:
            return RegionInfo.model_validate_json(response.content)
        except ValidationError:
            raise PermanentError(
                "unexpected region response body",
                status=response.status_code,
                request_id=request_id_of(response),
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
        return TrackResponse(response.status_code, request_id_of(response))

    def _encode(self, operation: Operation, body: Mapping[str, Any] | None) -> bytes | None:
        if body is None:
            return None
        try:
            return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError):
            raise BadRequestError("payload is not JSON-serialisable", operation=operation) from None

    def _send(
        self,
        operation: Operation,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send with retries (``Sender.send``); ``content`` is a body already encoded (``body`` is
        then None). Each call gets its own ``TrackAuth``: one credential re-read per call."""
        content = self._encode(operation, body) if content is None else content
        auth = TrackAuth(self._provider, base_url=self._base_url)
        return self._sender.send(operation, method, path, auth=auth, content=content)
