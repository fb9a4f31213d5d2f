"""The Customer.io Track API client: requests, retries, rate limits, credentials.

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "CredentialsProvider": "track",
    "DEFAULT_TIMEOUT": "track",
    "RegionInfo": "track",
    "TRACK_URLS": "track",
    "TokenBucket": "ratelimit",
    "TrackClient": "track",
    "TrackResponse": "track",
    "parse_retry_after": "track",
    "track_path": "track",
}

__all__ = [
    "DEFAULT_TIMEOUT",
    "TRACK_URLS",
    "CredentialsProvider",
    "RegionInfo",
    "TokenBucket",
    "TrackClient",
    "TrackResponse",
    "parse_retry_after",
    "track_path",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.customerio.ratelimit import TokenBucket
    from cio_security.customerio.track import (
        DEFAULT_TIMEOUT,
        TRACK_URLS,
        CredentialsProvider,
        RegionInfo,
        TrackClient,
        TrackResponse,
        parse_retry_after,
        track_path,
    )
