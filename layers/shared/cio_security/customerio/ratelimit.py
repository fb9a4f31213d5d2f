"""A thread-safe token bucket: the client side of the stack-wide Customer.io request budget.

``CUSTOMERIO_RATE_LIMIT_RPS`` is a budget for the whole stack, yet every Lambda execution
environment holds its own bucket, so the deployment divides the budget by the function's maximum
concurrency and each environment paces itself at its share. The burst is kept small for the same
reason: every environment starts with a full bucket, so N concurrent environments can fire
``N * burst`` requests at once before pacing takes over. One token (the default) keeps that
aggregate burst at the number of environments, well inside Customer.io's limit.

Threads of one invocation share one bucket: ``acquire()`` reserves a slot under a lock and sleeps
outside it, so waiting threads leave in order, one every ``1 / rate`` seconds.

>>> bucket = TokenBucket(rate=10)     # 10 requests per second, burst of 1
>>> bucket.acquire()                   # the first token is there at once
0.0
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from cio_security.errors import ConfigurationError

__all__ = ["TokenBucket"]


class TokenBucket:
    """Tokens refill at ``rate`` per second up to ``burst``; each request takes one.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable so tests run on a fake clock.
    Raises ConfigurationError for a rate that is not a positive finite number or a burst below 1.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
            raise ConfigurationError("rate limit must be a positive, finite number of requests per second")
        if burst is None:
            burst = 1.0
        if not (isinstance(burst, int | float) and math.isfinite(burst) and burst >= 1):
            raise ConfigurationError("rate limit burst must be a finite number >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)

    def acquire(self) -> float:
        """Take one token, blocking until it is available. Returns the seconds waited."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            self._sleep(wait)
        return wait

    def try_acquire(self) -> bool:
        """Take one token if one is available now; never blocks."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def seconds_until_available(self) -> float:
        """How long until a token is available (0.0 when one is available now)."""
        with self._lock:
            self._refill()
            return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.rate

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}, burst={self.burst:g})"
