"""The Customer.io Track API client: requests, retries, rate limits, credentials.

Public names are re-exported lazily: importing the package loads none of its modules.

- ``track``: ``TrackClient``, the Track API v1 calls (identify, track, suppress, unsuppress,
  delete, region) and the retry loop.
- ``retry``: ``RetryPolicy`` (attempts, full-jitter backoff, the ``Retry-After`` cap, timeouts,
  the worst case), its presets and ``parse_retry_after``.
- ``auth``: ``TrackAuth``, Basic auth from a credentials provider that re-reads the credentials
  once on a 401 (an ``httpx.Auth`` flow), and ``CredentialsProvider``.
- ``urls``: the regions' Track hosts, base-URL validation, percent-encoded request paths.
- ``responses``: ``TrackResponse``, ``RegionInfo``, request ids, the status-to-error mapping.
- ``ratelimit``: ``TokenBucket``, the pacing every request passes through.
- ``v2``: Track API v2 person operations and batches (``PersonOperation``, ``BatchResult``,
  ``chunk`` within the documented sizes).

No module is named after a name the package exports: importing it would replace that name.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cio_security import lazy_exports

# httpx logs every request's URL at INFO, and Track API v1 paths hold the person's identifier:
# whatever level the application sets, the HTTP libraries log warnings and errors only.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)
del _name

_EXPORTS: dict[str, str] = {
    "BatchResult": "v2",
    "OperationError": "v2",
    "PersonOperation": "v2",
    "chunk": "v2",
    "CredentialsProvider": "auth",
    "DEFAULT_TIMEOUT": "retry",
    "RegionInfo": "responses",
    "RetryPolicy": "retry",
    "TRACK_URLS": "urls",
    "TokenBucket": "ratelimit",
    "TrackClient": "track",
    "TrackResponse": "responses",
    "parse_retry_after": "retry",
    "track_path": "urls",
}

__all__ = [
    "DEFAULT_TIMEOUT",
    "TRACK_URLS",
    "BatchResult",
    "CredentialsProvider",
    "OperationError",
    "PersonOperation",
    "RegionInfo",
    "RetryPolicy",
    "TokenBucket",
    "TrackClient",
    "TrackResponse",
    "chunk",
    "parse_retry_after",
    "track_path",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.customerio.auth import CredentialsProvider
    from cio_security.customerio.ratelimit import TokenBucket
    from cio_security.customerio.responses import RegionInfo, TrackResponse
    from cio_security.customerio.retry import DEFAULT_TIMEOUT, RetryPolicy, parse_retry_after
    from cio_security.customerio.track import TrackClient
    from cio_security.customerio.urls import TRACK_URLS, track_path
    from cio_security.customerio.v2 import BatchResult, OperationError, PersonOperation, chunk
