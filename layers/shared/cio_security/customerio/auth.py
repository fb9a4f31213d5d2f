"""Track API authentication: HTTP Basic from a credentials provider, with one re-read of the
credentials on a 401, as an ``httpx.Auth`` flow (the way httpx's ``DigestAuth`` answers a 401 by
re-sending the request).

>>> auth = TrackAuth(track_credentials_provider(store))             # doctest: +SKIP
>>> http.request("DELETE", url, auth=auth)                           # doctest: +SKIP
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Generator

import httpx

from cio_security.customerio.urls import BaseUrlOverride, rebased_url, track_base_url
from cio_security.errors import ConfigurationError
from cio_security.secrets.models import TrackCredentials

__all__ = [
    "CredentialsProvider",
    "RoutedAuth",
    "TrackAuth",
    "as_provider",
    "read_credentials",
]

CredentialsProvider = Callable[[bool], TrackCredentials]
"""``provider(False)`` returns the current (possibly cached) credentials, ``provider(True)`` re-reads them."""


def as_provider(credentials: TrackCredentials | CredentialsProvider) -> CredentialsProvider:
    """``credentials`` as a provider: fixed credentials are their own re-read."""
    if isinstance(credentials, TrackCredentials):
        fixed = credentials
        return lambda _refresh: fixed
    if callable(credentials):
        return credentials
    raise ConfigurationError("credentials must be TrackCredentials or a provider callable")


def read_credentials(provider: CredentialsProvider, *, refresh: bool) -> TrackCredentials:
    """``provider(refresh)``, checked to be TrackCredentials (ConfigurationError otherwise)."""
    credentials = provider(refresh)
    if not isinstance(credentials, TrackCredentials):
        raise ConfigurationError("the credentials provider must return TrackCredentials")
    return credentials


class RoutedAuth(httpx.Auth):
    """An ``httpx.Auth`` that also says where its requests go: ``base_url``, the host for the
    credentials it currently holds (``sender.Sender`` builds each attempt's URL from it)."""

    @property
    def base_url(self) -> str:
        raise NotImplementedError


class TrackAuth(RoutedAuth):
    """HTTP Basic auth (``site_id:api_key``) for the Track API, from a credentials provider.

    One instance serves one Track call, all its attempts included. It reads the current
    credentials when created (``provider(False)``). The first 401 it sees makes it re-read them
    once (``provider(True)``); when they differ from the refused ones it re-sends the request
    with them, and every later attempt of the call uses them. When they are the same, or on any
    later 401, the 401 is the answer. When the re-read credentials belong to another region and
    no ``base_url`` override is set, the re-sent request goes to that region's Track host, as
    every later attempt does (``base_url`` gives the base URL for the current credentials).
    """

    requires_request_body = True  # a re-send to another host builds a new request with the body

    def __init__(self, provider: CredentialsProvider, *, base_url: BaseUrlOverride = None) -> None:
        self._provider = provider
        self._override = base_url
        self.credentials = read_credentials(provider, refresh=False)
        self.refreshed = False

    @property
    def base_url(self) -> str:
        """Where requests with the current credentials go: the override, or their region's host."""
        return track_base_url(self.credentials, self._override)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        refused = self.credentials
        request.headers["Authorization"] = _basic(refused)
        response = yield request
        if response.status_code != 401 or self.refreshed:
            return
        self.refreshed = True
        fresh = read_credentials(self._provider, refresh=True)
        if fresh.same_as(refused):
            return
        self.credentials = fresh
        yield self._resend(request, refused)

    def _resend(self, request: httpx.Request, refused: TrackCredentials) -> httpx.Request:
        old_base, new_base = track_base_url(refused, self._override), self.base_url
        if new_base != old_base:
            headers = request.headers.copy()
            del headers["Host"]
            request = httpx.Request(
                request.method,
                rebased_url(request.url, old_base, new_base),
                headers=headers,
                content=request.content,
                extensions=request.extensions,
            )
        request.headers["Authorization"] = _basic(self.credentials)
        return request


def _basic(credentials: TrackCredentials) -> str:
    """The Basic ``Authorization`` value, encoded as httpx's ``BasicAuth`` encodes it (UTF-8)."""
    pair = f"{credentials.site_id}:{credentials.api_key.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")
