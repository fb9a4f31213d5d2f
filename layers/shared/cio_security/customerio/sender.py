"""What every Customer.io API client shares: one HTTP connection pool, pacing, and the retry loop.

``Sender.send`` is about the request: it sends, retries 408/429/5xx/transport errors as its
``RetryPolicy`` says (full-jitter backoff, honouring ``Retry-After`` up to the cap), and returns a
2xx response or raises the error the status maps to (``responses.error_for``). Authentication is
the caller's ``httpx.Auth`` (a 401 re-read of credentials lives there), and it also says where
requests go (``base_url``). Every request sent takes a rate-limit token, retries and an auth
flow's re-send included. Redirects are never followed, so credentials never reach another host.
Logs name the operation, attempt and status, never an identifier, a payload or a credential.
"""

from __future__ import annotations

import logging
import random as _random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Final, Self

import httpx

from cio_security.customerio.auth import RoutedAuth
from cio_security.customerio.ratelimit import TokenBucket
from cio_security.customerio.responses import Operation, error_for
from cio_security.customerio.retry import RetryPolicy, parse_retry_after
from cio_security.customerio.urls import request_url
from cio_security.errors import (
    ConfigurationError,
    CustomerIOError,
    PermanentError,
    RateLimitedError,
    TransportError,
)

__all__ = ["USER_AGENT", "PooledClient", "Sender"]

logger = logging.getLogger("cio_security.customerio.track")  # the name operators already filter on

USER_AGENT: Final = "cio-security/0.1"


class Sender:
    """One connection pool with the retry loop. Reuse it; ``close`` it when done.

    ``retry`` says how each call is retried and timed out; ``rate_limit`` paces every request
    sent; ``transport``, ``sleep`` and ``random`` are injectable for tests.
    """

    def __init__(
        self,
        *,
        retry: RetryPolicy,
        rate_limit: TokenBucket | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if not isinstance(retry, RetryPolicy):
            raise ConfigurationError("retry must be a RetryPolicy")
        self.retry = retry
        self.rate_limit = rate_limit
        self._sleep = sleep
        self._random = random
        self._http = httpx.Client(
            timeout=retry.timeout,
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            event_hooks={"request": [self._pace]},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _pace(self, request: httpx.Request) -> None:
        """The request event hook: every request sent takes a token (retries and an auth flow's
        re-send included)."""
        if self.rate_limit is not None:
            self.rate_limit.acquire()

    def send(
        self,
        operation: Operation,
        method: str,
        path: str,
        *,
        auth: RoutedAuth,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; return a 2xx response, raise anything else (module docstring)."""
        headers = {"Content-Type": "application/json"} if content is not None else None
        attempts = self.retry.max_attempts
        attempt = 0
        while True:
            url = request_url(auth.base_url, path)
            if params:
                url = url.copy_merge_params(dict(params))
            attempt += 1
            try:
                response = self._http.request(method, url, content=content, headers=headers, auth=auth)
            except httpx.TransportError as exc:
                reason = type(exc).__name__
                logger.warning("Customer.io %s attempt %d/%d: %s", operation, attempt, attempts, reason)
                failure: CustomerIOError = TransportError(
                    f"Customer.io unreachable ({reason})", operation=operation
                )
                retry_after = None
            else:
                for refused in response.history:  # the 401 the auth flow answered with re-read credentials
                    logger.debug(
                        "Customer.io %s attempt %d/%d: status %d",
                        operation,
                        attempt,
                        attempts,
                        refused.status_code,
                    )
                    logger.info("Customer.io %s: 401, retrying once with re-read credentials", operation)
                status = response.status_code
                logger.debug("Customer.io %s attempt %d/%d: status %d", operation, attempt, attempts, status)
                if 200 <= status < 300:
                    return response
                failure = error_for(operation, response)
                if isinstance(failure, PermanentError):
                    raise failure
                # Every retried status (408, 429, 5xx) may ask for a wait: honoured up to the cap.
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                if retry_after is not None and retry_after > self.retry.retry_after_cap:
                    logger.warning(
                        "Customer.io %s: status %d asks to wait %.1f s, beyond the %.1f s cap",
                        operation,
                        status,
                        retry_after,
                        self.retry.retry_after_cap,
                    )
                    raise RateLimitedError(
                        "Customer.io asked to retry later",
                        retry_after=retry_after,
                        status=status,
                        request_id=failure.request_id,
                        operation=operation,
                    )
                logger.warning(
                    "Customer.io %s attempt %d/%d: status %d", operation, attempt, attempts, status
                )
            if attempt >= attempts:
                raise failure
            self._sleep(self.retry.wait(attempt - 1, self._random(), retry_after))


class PooledClient:
    """What a client holding a ``Sender`` (``self._sender``) shares: ``close`` and use as a
    context manager, so the pool is closed when the ``with`` block ends."""

    _sender: Sender

    def close(self) -> None:
        """Close the connection pool."""
        self._sender.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
