"""The deletion function's settings and the stack-wide rate budget (DESIGN section 7)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import httpx

from cio_security import config
from cio_security.audit.store import DEFAULT_RETENTION_DAYS, MIN_RETENTION_DAYS
from cio_security.config import (
    AUDIT_RETENTION_DAYS,
    CUSTOMERIO_BACKOFF_BASE_SECONDS,
    CUSTOMERIO_MAX_ATTEMPTS,
    CUSTOMERIO_RETRY_AFTER_CAP_SECONDS,
    CUSTOMERIO_TIMEOUT_SECONDS,
    DELETION_DEADLINE_WARNING_DAYS,
    DELETION_MAX_RECEIVE_COUNT,
)
from cio_security.errors import ConfigurationError

__all__ = [
    "DeletionSettings",
    "rate_per_invocation",
    "worst_case_call_seconds",
]

DEFAULT_MAX_CONCURRENCY: Final = 5
DEFAULT_DEADLINE_WARNING_DAYS: Final = 7.0
DEFAULT_TIMEOUT_SECONDS: Final = 5.0
DEFAULT_MAX_ATTEMPTS: Final = 3
DEFAULT_BACKOFF_BASE_SECONDS: Final = 0.2
DEFAULT_BACKOFF_CAP_SECONDS: Final = 5.0
DEFAULT_RETRY_AFTER_CAP_SECONDS: Final = 10.0
DEFAULT_LEASE_SECONDS: Final = 900.0
"""Lease without a known time budget: Lambda's longest timeout, so no live invocation loses it."""
LEASE_MARGIN_SECONDS: Final = 30.0
AUDIT_WRITE_ALLOWANCE_SECONDS: Final = 2.0


def rate_per_invocation(total_rps: float, max_concurrency: int) -> float:
    """Each invocation's share of the stack-wide Customer.io budget: ``total_rps / max_concurrency``.

    The SQS event source's ScalingConfig ``MaximumConcurrency`` caps how many invocations run at
    once, and each invocation paces all its calls (retries included) through one token bucket at
    this rate, so together they never exceed ``total_rps``. An erase is two calls, so the stack's
    ceiling is ``total_rps / 2`` erasures per second.

    >>> rate_per_invocation(100, 5)
    20.0
    """
    if not (math.isfinite(total_rps) and total_rps > 0):
        raise ConfigurationError(
            "the Customer.io rate limit must be a positive number of requests per second"
        )
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ConfigurationError("the maximum concurrency must be a positive integer")
    return float(total_rps) / max_concurrency


def worst_case_call_seconds(
    *,
    timeout: httpx.Timeout,
    max_attempts: int,
    backoff_base: float,
    backoff_cap: float,
    retry_after_cap: float,
) -> float:
    """The longest one TrackClient call can take: every attempt hits its connect and read timeouts,
    and every wait between attempts is the longest the client accepts (its backoff, or a
    ``Retry-After`` up to ``retry_after_cap``; a longer one is not waited for)."""
    per_attempt = (timeout.connect or 0.0) + (timeout.read or 0.0)
    waits = sum(
        max(min(backoff_cap, backoff_base * 2.0**i), retry_after_cap) for i in range(max_attempts - 1)
    )
    return max_attempts * per_attempt + waits


# -- settings ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletionSettings:
    """The deletion function's settings, from environment variables (DESIGN section 7 plus the
    ones named in this module). Explicit constructor arguments win; ``from_env`` reads them."""

    audit_table: str
    dead_letter_queue_url: str
    track_url: str | None = None
    rate_limit_rps: float = config.DEFAULT_RATE_LIMIT_RPS
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    retention_days: int = DEFAULT_RETENTION_DAYS
    deadline_warning_days: float = DEFAULT_DEADLINE_WARNING_DAYS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS
    backoff_cap_seconds: float = DEFAULT_BACKOFF_CAP_SECONDS
    retry_after_cap_seconds: float = DEFAULT_RETRY_AFTER_CAP_SECONDS
    max_receive_count: int = 0
    """The deletion queue's ``maxReceiveCount`` (0: unknown, SQS alone dead-letters exhausted retries)."""

    @classmethod
    def from_env(cls) -> DeletionSettings:
        """Read and check the settings; a missing or invalid one raises ConfigurationError."""
        return cls(
            audit_table=config.require_env(config.AUDIT_TABLE),
            dead_letter_queue_url=config.require_env(config.DEAD_LETTER_QUEUE_URL),
            track_url=config.env_str(config.CUSTOMERIO_TRACK_URL) or None,
            rate_limit_rps=config.env_float(
                config.CUSTOMERIO_RATE_LIMIT_RPS, config.DEFAULT_RATE_LIMIT_RPS, minimum=0.001
            ),
            max_concurrency=config.env_int(
                config.DELETION_MAX_CONCURRENCY, DEFAULT_MAX_CONCURRENCY, minimum=1
            ),
            retention_days=config.env_int(
                AUDIT_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, minimum=MIN_RETENTION_DAYS
            ),
            deadline_warning_days=config.env_float(
                DELETION_DEADLINE_WARNING_DAYS, DEFAULT_DEADLINE_WARNING_DAYS
            ),
            timeout_seconds=config.env_float(
                CUSTOMERIO_TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS, minimum=0.01
            ),
            max_attempts=config.env_int(CUSTOMERIO_MAX_ATTEMPTS, DEFAULT_MAX_ATTEMPTS, minimum=1),
            backoff_base_seconds=config.env_float(
                CUSTOMERIO_BACKOFF_BASE_SECONDS, DEFAULT_BACKOFF_BASE_SECONDS
            ),
            retry_after_cap_seconds=config.env_float(
                CUSTOMERIO_RETRY_AFTER_CAP_SECONDS, DEFAULT_RETRY_AFTER_CAP_SECONDS
            ),
            max_receive_count=config.env_int(DELETION_MAX_RECEIVE_COUNT, 0),
        )

    @property
    def timeout(self) -> httpx.Timeout:
        """The Track client's timeouts: connect at most 2 s, read/write/pool ``timeout_seconds``."""
        seconds = self.timeout_seconds
        return httpx.Timeout(connect=min(2.0, seconds), read=seconds, write=seconds, pool=seconds)

    @property
    def rate_per_invocation(self) -> float:
        """This invocation's share of the Customer.io budget (see ``rate_per_invocation``)."""
        return rate_per_invocation(self.rate_limit_rps, self.max_concurrency)

    @property
    def deadline_warning(self) -> timedelta:
        """How close to its statutory deadline a request counts as at risk."""
        return timedelta(days=self.deadline_warning_days)

    @property
    def worst_case_call_seconds(self) -> float:
        """The longest one Track call can take with these settings (``worst_case_call_seconds``):
        the function's Timeout should exceed two of them (an erase) plus the audit writes."""
        return worst_case_call_seconds(
            timeout=self.timeout,
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base_seconds,
            backoff_cap=self.backoff_cap_seconds,
            retry_after_cap=self.retry_after_cap_seconds,
        )

    @property
    def step_budget_seconds(self) -> float:
        """The least time left in the invocation to start a step: one attempt (connect and read
        timeouts) plus the audit writes around it. A step whose retries then run past the
        invocation's end is cut off by Lambda; SQS redelivers the batch and the lease, sized to the
        invocation, has expired by then, so the retry resumes at the first step not recorded done."""
        return (self.timeout.connect or 0.0) + (self.timeout.read or 0.0) + AUDIT_WRITE_ALLOWANCE_SECONDS
