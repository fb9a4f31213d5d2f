"""One retry policy for every Customer.io call: attempts, full-jitter backoff, the ``Retry-After``
cap, per-call timeouts, and the worst case a caller's time budget must cover.

>>> DELETION.worst_case()   # three attempts of 7 s, two waits of 10 s, one 401 refresh request
48.0
>>> ROTATION_TEST.worst_case()
29.0
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Final, Self

import httpx

from cio_security.errors import ConfigurationError

__all__ = [
    "APP_LOOKUP",
    "DEFAULT",
    "DEFAULT_TIMEOUT",
    "DELETION",
    "ROTATION_TEST",
    "RetryPolicy",
    "parse_retry_after",
]

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=2.0)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one Customer.io call is retried.

    ``max_attempts`` counts every transient attempt (the first included). The wait before a
    retry is full jitter, uniform between 0 and ``backoff_base`` doubled for each earlier retry
    and capped at ``backoff_cap`` (``backoff``), or the server's ``Retry-After`` when longer; a
    ``Retry-After`` beyond ``retry_after_cap`` is not waited for (the call fails with
    RateLimitedError and the caller retries later). ``timeout`` bounds each request. A 401 is
    answered by one request with re-read credentials, which is not a transient attempt but does
    take time: ``worst_case`` counts it.
    """

    max_attempts: int = 4
    backoff_base: float = 0.2
    backoff_cap: float = 5.0
    retry_after_cap: float = 20.0
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ConfigurationError("max_attempts must be an integer")
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        for name in ("backoff_base", "backoff_cap", "retry_after_cap"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigurationError(f"{name} must be a finite number >= 0")
        if not isinstance(self.timeout, httpx.Timeout):
            raise ConfigurationError("timeout must be an httpx.Timeout")
        if self.timeout.connect is None or self.timeout.read is None:
            raise ConfigurationError("timeout must set the connect and read timeouts")

    def with_changes(self, **changes: object) -> Self:
        """A copy with some fields changed (checked like the constructor's)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def with_timeout_seconds(self, seconds: float) -> Self:
        """A copy whose read, write and pool timeouts are ``seconds``; its connect timeout is this
        policy's, or ``seconds`` when shorter (what ``CUSTOMERIO_TIMEOUT_SECONDS`` sets).

        >>> DELETION.with_timeout_seconds(1.0).timeout
        Timeout(timeout=1.0)
        """
        connect = min(self.timeout.connect or seconds, seconds)
        return self.with_changes(
            timeout=httpx.Timeout(connect=connect, read=seconds, write=seconds, pool=seconds)
        )

    @property
    def timeout_seconds(self) -> float:
        """The read timeout: how long one request may wait for Customer.io's answer."""
        return self.timeout.read or 0.0

    def backoff(self, retry: int, random: float) -> float:
        """The full-jitter wait before retry number ``retry`` (0 for the first), ``random`` in [0, 1)."""
        return random * min(self.backoff_cap, self.backoff_base * 2.0**retry)

    def wait(self, retry: int, random: float, retry_after: float | None) -> float:
        """The wait before retry number ``retry``: the backoff, or ``Retry-After`` when longer."""
        delay = self.backoff(retry, random)
        return delay if retry_after is None else max(delay, retry_after)

    @property
    def attempt_seconds(self) -> float:
        """The longest one request can take: its connect and read timeouts."""
        return (self.timeout.connect or 0.0) + (self.timeout.read or 0.0)

    def worst_case(self) -> float:
        """The longest one call can take: every transient attempt and the one 401 refresh request
        run into their connect and read timeouts, and every wait between attempts is the longest
        the policy accepts (the backoff cap, or a ``Retry-After`` up to ``retry_after_cap``)."""
        waits = sum(
            max(self.backoff(retry, 1.0), self.retry_after_cap) for retry in range(self.max_attempts - 1)
        )
        return (self.max_attempts + 1) * self.attempt_seconds + waits


DEFAULT: Final = RetryPolicy()
"""A client built without a policy: four attempts, waits up to 20 s."""

DELETION: Final = RetryPolicy(
    max_attempts=3,
    retry_after_cap=10.0,
    timeout=httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=5.0),
)
"""The deletion function: SQS redelivers what this gives up on, so a few attempts are enough."""

ROTATION_TEST: Final = RetryPolicy(
    max_attempts=2,
    backoff_cap=1.0,
    retry_after_cap=5.0,
    timeout=httpx.Timeout(connect=3.0, read=5.0, write=5.0, pool=3.0),
)
"""testSecret's region calls: Secrets Manager retries a failed step, so two attempts suffice."""

APP_LOOKUP: Final = RetryPolicy(
    max_attempts=3,
    backoff_cap=2.0,
    retry_after_cap=10.0,
    timeout=httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=5.0),
)
"""App API person lookups (erasure verification): a lookup not answered is simply tried later."""


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
