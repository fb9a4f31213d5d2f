"""Where a Track request goes: the regions' hosts, a base URL override, and request paths in
which every identifier is exactly one percent-encoded segment.

>>> str(request_url(TRACK_URLS["eu"], track_path("api", "v1", "customers", "a/b")))
'https://track-eu.customer.io/api/v1/customers/a%2Fb'
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

import httpx

from cio_security.errors import ConfigurationError
from cio_security.secrets.models import Region, TrackCredentials

__all__ = [
    "TRACK_URLS",
    "BaseUrlOverride",
    "override_for",
    "rebased_url",
    "request_url",
    "track_base_url",
    "track_path",
    "validated_base_url",
    "validated_override",
]

logger = logging.getLogger(__name__)

TRACK_URLS: Final[Mapping[Region, str]] = {
    "us": "https://track.customer.io",
    "eu": "https://track-eu.customer.io",
}


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


def validated_base_url(base_url: str) -> str:
    """``base_url`` without a trailing slash, once it is an http(s) URL with a host and without
    credentials, a query or a fragment (ConfigurationError otherwise). Plain http to a host other
    than loopback is allowed with a warning (a local proxy)."""
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


BaseUrlOverride = str | Mapping[Region, str] | None
"""Where requests go instead of Customer.io's hosts: one base URL for every region, one per
region (``{"eu": ...}``; a region without one uses its Customer.io host), or None."""


def validated_override(override: BaseUrlOverride) -> BaseUrlOverride:
    """``override`` with every URL checked by ``validated_base_url``; empty means None."""
    if not override:
        return None
    if isinstance(override, str):
        return validated_base_url(override)
    return {region: validated_base_url(url) for region, url in override.items() if url}


def override_for(override: BaseUrlOverride, region: Region) -> str | None:
    """The override that applies to ``region``, or None."""
    if override is None or isinstance(override, str):
        return override or None
    return override.get(region) or None


def track_base_url(credentials: TrackCredentials, override: BaseUrlOverride) -> str:
    """The base URL requests with ``credentials`` go to: ``override`` for their region (already
    validated), or the Track host of the credentials' region."""
    return override_for(override, credentials.region) or TRACK_URLS[credentials.region]


def request_url(base: str, path: str) -> httpx.URL:
    """``base`` followed by ``path`` (from ``track_path``), byte for byte: no URL library may
    decode or normalise the path on the way (ConfigurationError if one would)."""
    base_url = httpx.URL(base)
    raw_path = (base_url.raw_path.rstrip(b"/") + path.encode("ascii")).decode("ascii")
    url = base_url.copy_with(raw_path=raw_path.encode("ascii"))
    if url.raw_path.decode("ascii") != raw_path:  # never let a URL library rewrite the path
        raise ConfigurationError("the request path would not be sent as built")
    return url


def rebased_url(url: httpx.URL, old_base: str, new_base: str) -> httpx.URL:
    """``url``, built by ``request_url`` under ``old_base``, with the same path under ``new_base``.

    >>> str(rebased_url(httpx.URL("https://track.customer.io/api/v1/customers/a%2Fb"),
    ...                 TRACK_URLS["us"], TRACK_URLS["eu"]))
    'https://track-eu.customer.io/api/v1/customers/a%2Fb'
    """
    prefix = httpx.URL(old_base).raw_path.rstrip(b"/")
    raw_path = url.raw_path
    if not raw_path.startswith(prefix):
        raise ConfigurationError("the request URL is not under the base URL it was built from")
    return request_url(new_base, raw_path[len(prefix) :].decode("ascii"))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
