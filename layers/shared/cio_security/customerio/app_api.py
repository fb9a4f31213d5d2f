"""The Customer.io App API, for what erasure verification needs: is a person still there?

Documented behaviour (docs.customer.io, App API):

- Bearer auth with an App API key (``Authorization: Bearer <key>``); hosts ``api.customer.io``
  (US) and ``api-eu.customer.io`` (EU); 10 requests per second, 429 beyond.
- ``GET /v1/customers/{customer_id}/attributes?id_type=id|email|cio_id|phone``: 200 with the
  person, **404 "the customer_id does not exist"** once they are gone.
- ``POST /v1/customers/attributes?id_type=...`` with ``{"ids": [...]}`` (1 to 100): the people
  found, ``{"customers": [{"customer": {"id", "attributes"}}]}``; "if an ID in the request does
  not exist, the response omits it".
- ``GET /v1/workspaces``: a cheap authenticated call.

A 404 means "gone" only when it comes from the App API itself: a wrong base URL or a proxy
answers 404 too, and reading that as "gone" would verify erasures that never happened. So the
client trusts a lookup's 404 only after ``GET /v1/workspaces`` answered 200 on the same base URL
with the same key (``check``, done once per client and again after a 401). Batched lookups are
used only for ``id`` (a returned ``customer.id`` matches a requested id exactly); emails,
cio_ids and phones are looked up one by one.

>>> with AppClient(app_key_provider(store), region="eu") as app:   # doctest: +SKIP
...     app.person_exists("email", "a@example.invalid")
False
"""

from __future__ import annotations

import json
import logging
import random as _random
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self

import httpx

from cio_security.customerio.auth import RoutedAuth
from cio_security.customerio.ratelimit import TokenBucket
from cio_security.customerio.responses import Operation
from cio_security.customerio.retry import APP_LOOKUP, RetryPolicy
from cio_security.customerio.sender import Sender
from cio_security.customerio.urls import track_path, validated_base_url
from cio_security.customerio.v2 import IdentifierType
from cio_security.errors import BadRequestError, ConfigurationError, NotFoundError, ServerError
from cio_security.secrets.models import AppApiKey, Region

__all__ = [
    "APP_RATE_LIMIT_RPS",
    "APP_URLS",
    "MAX_LOOKUP_IDS",
    "AppAuth",
    "AppClient",
    "AppKeyProvider",
]

logger = logging.getLogger(__name__)

APP_URLS: Final[Mapping[Region, str]] = {
    "us": "https://api.customer.io",
    "eu": "https://api-eu.customer.io",
}
APP_RATE_LIMIT_RPS: Final = 10.0
MAX_LOOKUP_IDS: Final = 100

AppKeyProvider = Callable[[bool], AppApiKey]
"""``provider(False)`` returns the current (possibly cached) key, ``provider(True)`` re-reads it."""


class AppAuth(RoutedAuth):
    """Bearer auth from an App API key provider, re-reading the key once on a 401 (one instance
    per call, like ``TrackAuth``)."""

    def __init__(self, provider: AppKeyProvider, base_url: str) -> None:
        self._provider = provider
        self._base_url = base_url
        self.key = _read(provider, refresh=False)
        self.refreshed = False

    @property
    def base_url(self) -> str:
        return self._base_url

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        refused = self.key
        request.headers["Authorization"] = f"Bearer {refused.app_api_key.get_secret_value()}"
        response = yield request
        if response.status_code != 401 or self.refreshed:
            return
        self.refreshed = True
        fresh = _read(self._provider, refresh=True)
        if fresh.same_as(refused):
            return
        self.key = fresh
        request.headers["Authorization"] = f"Bearer {fresh.app_api_key.get_secret_value()}"
        yield request


def _read(provider: AppKeyProvider, *, refresh: bool) -> AppApiKey:
    key = provider(refresh)
    if not isinstance(key, AppApiKey):
        raise ConfigurationError("the App API key provider must return AppApiKey")
    return key


class AppClient:
    """Person lookups through the App API (module docstring). Reuse the client; close it.

    ``key`` is an AppApiKey or a provider. ``region`` picks the host; ``base_url`` overrides it
    (the sandbox). ``rate_limit`` paces every request (default: the App API's 10 per second, for
    this client alone: share one bucket between clients of one workspace). ``retry``,
    ``transport``, ``sleep`` and ``random`` as for ``TrackClient``.

    Raises TransientError (retry later) or PermanentError (401/403 after the key re-read: the key
    is wrong; 404 on ``check``: the base URL is wrong; 400: a malformed lookup).
    """

    def __init__(
        self,
        key: AppApiKey | AppKeyProvider,
        *,
        region: Region = "us",
        base_url: str | None = None,
        retry: RetryPolicy = APP_LOOKUP,
        rate_limit: TokenBucket | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if isinstance(key, AppApiKey):
            fixed = key
            self._provider: AppKeyProvider = lambda _refresh: fixed
        elif callable(key):
            self._provider = key
        else:
            raise ConfigurationError("key must be AppApiKey or a provider callable")
        if region not in APP_URLS:
            raise ConfigurationError("region must be us or eu")
        self._base_url = validated_base_url(base_url) if base_url else APP_URLS[region]
        self._sender = Sender(
            retry=retry,
            rate_limit=rate_limit if rate_limit is not None else TokenBucket(APP_RATE_LIMIT_RPS),
            transport=transport,
            sleep=sleep,
            random=random,
        )
        self._trusted = False

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

    def __repr__(self) -> str:
        return f"AppClient(base_url={self._base_url!r})"

    # -- the calls -------------------------------------------------------------------------------

    def check(self) -> None:
        """``GET /v1/workspaces``: prove that the base URL is the App API and the key works. A 404
        here raises NotFoundError (wrong URL), a 401/403 AuthenticationError (wrong key)."""
        response = self._send("workspaces", "GET", track_path("v1", "workspaces"))
        if not isinstance(_json(response.content), dict):
            raise ServerError(
                "the App API answered /v1/workspaces without a JSON object", operation="workspaces"
            )
        self._trusted = True

    def person_exists(self, identifier_type: IdentifierType, identifier: str) -> bool:
        """True while Customer.io still has the person, False once the App API answers 404."""
        if not isinstance(identifier, str) or not identifier:
            raise BadRequestError("identifier must be a non-empty string", operation="lookup")
        value = (
            identifier[len("cio_") :]
            if identifier_type == "cio_id" and identifier.startswith("cio_")
            else identifier
        )
        self._ensure_trusted()
        path = track_path("v1", "customers", value, "attributes")
        try:
            self._send("lookup", "GET", path, params={"id_type": identifier_type})
        except NotFoundError:
            return False
        return True

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` (Customer.io ``id`` values, 1 to 100) still exist: one
        ``POST /v1/customers/attributes?id_type=id``. ServerError (transient) when the answer does
        not say which people it found."""
        wanted = list(dict.fromkeys(ids))
        if not 1 <= len(wanted) <= MAX_LOOKUP_IDS or not all(isinstance(i, str) and i for i in wanted):
            raise BadRequestError("a batched lookup takes 1 to 100 non-empty ids", operation="lookup")
        self._ensure_trusted()
        body = json.dumps({"ids": wanted}, separators=(",", ":"), ensure_ascii=False).encode()
        response = self._send(
            "lookup",
            "POST",
            track_path("v1", "customers", "attributes"),
            params={"id_type": "id"},
            content=body,
        )
        found = _found_ids(_json(response.content))
        if found is None:
            raise ServerError("the App API answered a lookup without a customers list", operation="lookup")
        return found & set(wanted)

    # -- internals -------------------------------------------------------------------------------

    def _ensure_trusted(self) -> None:
        if not self._trusted:
            self.check()

    def _send(
        self,
        operation: Operation,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        auth = AppAuth(self._provider, self._base_url)
        response = self._sender.send(operation, method, path, auth=auth, content=content, params=params)
        if auth.refreshed:  # a new key: prove it (and the URL) again before trusting a 404
            self._trusted = operation == "workspaces"
        return response


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def _found_ids(data: Any) -> set[str] | None:
    """The ``customer.id`` values of a batched lookup's answer, or None when it has no list."""
    customers = data.get("customers") if isinstance(data, dict) else None
    if not isinstance(customers, list):
        return None
    found: set[str] = set()
    for item in customers:
        customer = item.get("customer") if isinstance(item, dict) else None
        identifier = customer.get("id") if isinstance(customer, dict) else None
        if isinstance(identifier, str | int) and not isinstance(identifier, bool):
            found.add(str(identifier))
    return found
