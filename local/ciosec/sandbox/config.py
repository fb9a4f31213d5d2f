"""How the sandbox behaves (``SandboxConfig``) and where it listens (``HOST``, ``APP_PREFIX``)."""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cio_security.customerio.ratelimit import TokenBucket
from ciosec.sandbox.faults import ErrorBody, Faults, RetryAfterFormat

HOST = "127.0.0.1"
"""The only address the sandbox binds: its admin API needs no authentication."""
APP_PREFIX = "/app"
"""Where the App API is served: ``{url}/app`` stands for ``https://api.customer.io`` (EU
``https://api-eu.customer.io``), a host of its own in reality. A path prefix on the same port
keeps one server for tests, and a client that sends an App API call to the Track base URL (or the
reverse) still gets a 404."""
MAX_LATENCY_SECONDS = 30.0
MAX_PROCESSING_DELAY_SECONDS = 3600.0
APP_API_RATE_LIMIT_RPS = 10.0
"""The App API's documented limit: "Your request is over the 10-per-second limit"."""


class SandboxConfig(BaseModel):
    """How the sandbox behaves; change it with ``Sandbox.configure`` or ``POST /_sandbox/config``.

    - ``latency``: seconds added to every Track and App API request.
    - ``rate_limit_rps`` / ``rate_limit_burst``: a token bucket on Track requests (off by default:
      Customer.io's 1000 req/s is "not strictly enforced"); ``rate_limit_retry_after`` and
      ``rate_limit_body`` shape its 429s (and the App API's), which Customer.io does not document.
    - ``app_rate_limit_rps``: the App API's limit per key (10 req/s, documented; None turns it off).
    - ``processing_delay``: seconds before the App API sees a Track change (Track is asynchronous).
    - ``ip_addresses``: what ``GET /v1/info/ip_addresses`` lists (loopback: the sandbox's webhooks
      come from there).
    - ``faults``: random faults (``ciosec.sandbox.faults.Faults``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency: float = Field(default=0.0, ge=0, le=MAX_LATENCY_SECONDS)
    rate_limit_rps: float | None = Field(default=None, gt=0)
    rate_limit_burst: float | None = Field(default=None, ge=1)
    rate_limit_retry_after: RetryAfterFormat = "seconds"
    rate_limit_body: ErrorBody = "json"
    app_rate_limit_rps: float | None = Field(default=APP_API_RATE_LIMIT_RPS, gt=0)
    processing_delay: float = Field(default=0.0, ge=0, le=MAX_PROCESSING_DELAY_SECONDS)
    ip_addresses: tuple[str, ...] = ("127.0.0.1", "::1")
    faults: Faults = Field(default_factory=Faults)

    @field_validator("rate_limit_rps", "app_rate_limit_rps")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be finite")
        return value

    @field_validator("ip_addresses")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            ipaddress.ip_address(address)  # ValueError for anything but one address
        return value


def rate_limiter(config: SandboxConfig, clock: Callable[[], float] = time.monotonic) -> TokenBucket | None:
    """The sandbox's Track rate limiter; the default burst is one second's worth of requests."""
    if not config.rate_limit_rps:
        return None
    burst = config.rate_limit_burst or max(1.0, config.rate_limit_rps)
    return TokenBucket(config.rate_limit_rps, burst, clock=clock)


def app_rate_limiter(
    config: SandboxConfig, clock: Callable[[], float] = time.monotonic
) -> TokenBucket | None:
    """One App API key's rate limiter: ``app_rate_limit_rps``, a burst of one second's worth."""
    if not config.app_rate_limit_rps:
        return None
    return TokenBucket(config.app_rate_limit_rps, max(1.0, config.app_rate_limit_rps), clock=clock)
