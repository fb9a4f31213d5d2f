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
with the same key (``check``, done once per client and again whenever the key or the host
changes: a 401's re-read, a rotated key, another region). Batched lookups are used only for
``id`` (a returned ``customer.id`` matches a requested id exactly); emails, cio_ids and phones
are looked up one by one.

The host is ``base_url`` when given (the sandbox), else ``region``'s when given, else the region
the key declares (``AppApiKey.region``).

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
from typing import Any, Final

import httpx

from cio_security.customerio.auth import RoutedAuth
from cio_security.customerio.ratelimit import TokenBucket
from cio_security.customerio.retry import APP_LOOKUP, RetryPolicy
from cio_security.customerio.sender import PooledClient, Sender
from cio_security.customerio.urls import (
    BaseUrlOverride,
    override_for,
    rebased_url,
    track_path,
    validated_override,
)
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
    per call, like ``TrackAuth``). Requests go to ``base_url`` when given, else to the host of the
    current key's region; a re-read key of another region re-sends to its host."""

    requires_request_body = True  # a re-send to another host builds a new request with the body

    def __init__(self, provider: AppKeyProvider, base_url: BaseUrlOverride = None) -> None:
        self._provider = provider
        self._override = base_url
        self.key = _read(provider, refresh=False)
        self.refreshed = False

    @property
    def base_url(self) -> str:
        """Where requests with the current key go: the override, or its region's host."""
        return override_for(self._override, self.key.region) or APP_URLS[self.key.region]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        refused = self.key
        request.headers["Authorization"] = _bearer(refused)
        response = yield request
        if response.status_code != 401 or self.refreshed:
            return
        self.refreshed = True
        fresh = _read(self._provider, refresh=True)
        if fresh.same_as(refused) and fresh.region == refused.region:
            return
        old_base = self.base_url
        self.key = fresh
        if self.base_url != old_base:
            headers = request.headers.copy()
            del headers["Host"]
            request = httpx.Request(
                request.method,
                rebased_url(request.url, old_base, self.base_url),
                headers=headers,
                content=request.content,
                extensions=request.extensions,
            )
        request.headers["Authorization"] = _bearer(fresh)
        yield request


def _bearer(key: AppApiKey) -> str:
    return f"Bearer {key.app_api_key.get_secret_value()}"


def _read(provider: AppKeyProvider, *, refresh: bool) -> AppApiKey:
    key = provider(refresh)
    if not isinstance(key, AppApiKey):
        raise ConfigurationError("the App API key provider must return AppApiKey")
    return key


class AppClient(PooledClient):
    """Person lookups through the App API (module docstring). Reuse the client; close it.

    ``key`` is an AppApiKey or a provider. ``base_url`` (the sandbox) or ``region`` fixes the
    host; without either, the key's own ``region`` picks it. ``rate_limit`` paces every request
    (default: the App API's 10 per second, for this client alone: share one bucket between
    clients of one workspace). ``retry``, ``transport``, ``sleep`` and ``random`` as for
    ``TrackClient``.

    Raises TransientError (retry later) or PermanentError (401/403 after the key re-read: the key
    is wrong; 404 on ``check``: the base URL is wrong; 400: a malformed lookup).
    """

    def __init__(
        self,
        key: AppApiKey | AppKeyProvider,
        *,
        region: Region | None = None,
        base_url: BaseUrlOverride = None,
        retry: RetryPolicy = APP_LOOKUP,
        rate_limit: TokenBucket | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._fixed = key if isinstance(key, AppApiKey) else None
        if isinstance(key, AppApiKey):
            fixed = key
            self._provider: AppKeyProvider = lambda _refresh: fixed
        elif callable(key):
            self._provider = key
        else:
            raise ConfigurationError("key must be AppApiKey or a provider callable")
        if region is not None and region not in APP_URLS:
            raise ConfigurationError("region must be us or eu")
        self._override: BaseUrlOverride = (
            validated_override(base_url) if base_url else (APP_URLS[region] if region else None)
        )
        self._sender = Sender(
            retry=retry,
            rate_limit=rate_limit if rate_limit is not None else TokenBucket(APP_RATE_LIMIT_RPS),
            transport=transport,
            sleep=sleep,
            random=random,
        )
        self._trusted: tuple[str, AppApiKey] | None = None
        """The base URL and key ``check`` last proved: a 404 is trusted with these only."""

    def __repr__(self) -> str:
        where = self._override or (APP_URLS[self._fixed.region] if self._fixed else "the key's region")
        return f"AppClient(base_url={where!r})"

    # -- the calls -------------------------------------------------------------------------------

    def check(self) -> frozenset[str]:
        """``GET /v1/workspaces``: prove that the base URL is the App API and the key works, and
        return the ids of the workspaces the answer lists (the key's account; empty when it
        lists none). A 404 here raises NotFoundError (wrong URL), a 401/403 AuthenticationError
        (wrong key), an answer that is not a JSON object ServerError."""
        return self._check(AppAuth(self._provider, self._override))

    def _check(self, auth: AppAuth) -> frozenset[str]:
        response = self._sender.send("workspaces", "GET", track_path("v1", "workspaces"), auth=auth)
        data = _json(response.content)
        if not isinstance(data, dict):
            raise ServerError(
                "the App API answered /v1/workspaces without a JSON object", operation="workspaces"
            )
        self._trusted = (auth.base_url, auth.key)
        return _workspace_ids(data)

    def person_exists(self, identifier_type: IdentifierType, identifier: str) -> bool:
        """True while Customer.io still has the person, False once the App API answers 404."""
        if not isinstance(identifier, str) or not identifier:
            raise BadRequestError("identifier must be a non-empty string", operation="lookup")
        value = (
            identifier[len("cio_") :]
            if identifier_type == "cio_id" and identifier.startswith("cio_")
            else identifier
        )
        path = track_path("v1", "customers", value, "attributes")
        return self._lookup("GET", path, params={"id_type": identifier_type}) is not None

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` (Customer.io ``id`` values, 1 to 100) still exist: one
        ``POST /v1/customers/attributes?id_type=id``. ServerError (transient) when the answer does
        not say which people it found."""
        wanted = list(dict.fromkeys(ids))
        if not 1 <= len(wanted) <= MAX_LOOKUP_IDS or not all(isinstance(i, str) and i for i in wanted):
            raise BadRequestError("a batched lookup takes 1 to 100 non-empty ids", operation="lookup")
        body = json.dumps({"ids": wanted}, separators=(",", ":"), ensure_ascii=False).encode()
        response = self._lookup(
            "POST",
            track_path("v1", "customers", "attributes"),
            params={"id_type": "id"},
            content=body,
        )
        if response is None:
            raise NotFoundError(
                "the App API answered 404 to a batched lookup", status=404, operation="lookup"
            )
        found = _found_ids(_json(response.content))
        if found is None:
            raise ServerError("the App API answered a lookup without a customers list", operation="lookup")
        return found & set(wanted)

    # -- internals -------------------------------------------------------------------------------

    def _proved(self, auth: AppAuth) -> bool:
        """True when ``check`` proved the base URL and key ``auth`` holds now."""
        return (
            self._trusted is not None
            and self._trusted[0] == auth.base_url
            and self._trusted[1].same_as(auth.key)
        )

    def _lookup(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response | None:
        """A lookup with a proved base URL and key: the 2xx response, or None for a 404 that
        counts ("the customer_id does not exist"). A 404 counts only when the lookup's own URL and
        key (after any 401 re-read) are the ones ``check`` proved; otherwise the new ones are
        proved first and the lookup is asked once more. ``check``'s own failures propagate (a
        404 there is a wrong URL: NotFoundError)."""
        for _ in range(2):
            auth = AppAuth(self._provider, self._override)
            if not self._proved(auth):
                self._check(auth)
                auth = AppAuth(self._provider, self._override)
            try:
                return self._sender.send("lookup", method, path, auth=auth, content=content, params=params)
            except NotFoundError:
                if self._proved(auth):
                    return None
                logger.info("App API key or host changed during a lookup; proving them before a 404 counts")
        raise ServerError("the App API key or host kept changing during a lookup", operation="lookup")


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def _workspace_ids(data: dict[str, Any]) -> frozenset[str]:
    """The ``id`` values of ``/v1/workspaces``' ``workspaces`` list, as strings (documented as
    ``"13XXXX"``; a number is read as its digits)."""
    workspaces = data.get("workspaces")
    if not isinstance(workspaces, list):
        return frozenset()
    ids = (item.get("id") if isinstance(item, dict) else None for item in workspaces)
    return frozenset(str(i) for i in ids if isinstance(i, str | int) and not isinstance(i, bool) and str(i))


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
