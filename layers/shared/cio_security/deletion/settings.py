"""The deletion function's settings and the stack-wide rate budget (DESIGN section 7).

``DeletionSettings.rate_limit_rps`` (``CUSTOMERIO_RATE_LIMIT_RPS``) is the default Track budget:
the budget of every workspace without its own (``CUSTOMERIO_WORKSPACE_RATE_LIMITS``, which wins).
``budget_for`` resolves a workspace's budget and ``rate_for`` this invocation's share of it, the
rate of that workspace's token bucket (``deletion.routing.deletion_routes``).

>>> from cio_security.workspaces import Workspace
>>> settings = DeletionSettings(audit_table="t", dead_letter_queue_url="q", rate_limit_rps=40)
>>> settings.rate_for(Workspace("prod-us")), settings.rate_for(Workspace("prod-eu", rate_limit_rps=10))
(8.0, 2.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from cio_security import config
from cio_security.audit.record import DEFAULT_RETENTION_DAYS, MIN_RETENTION_DAYS
from cio_security.config import (
    AUDIT_RETENTION_DAYS,
    CUSTOMERIO_BACKOFF_BASE_SECONDS,
    CUSTOMERIO_BACKOFF_CAP_SECONDS,
    CUSTOMERIO_MAX_ATTEMPTS,
    CUSTOMERIO_RETRY_AFTER_CAP_SECONDS,
    CUSTOMERIO_TIMEOUT_SECONDS,
    DELETION_DEADLINE_WARNING_DAYS,
    DELETION_MAX_RECEIVE_COUNT,
)
from cio_security.customerio.retry import DELETION, RetryPolicy
from cio_security.errors import ConfigurationError

if TYPE_CHECKING:
    from cio_security.workspaces import Workspace

__all__ = [
    "DeletionSettings",
    "rate_per_invocation",
]

DEFAULT_MAX_CONCURRENCY: Final = 5
DEFAULT_DEADLINE_WARNING_DAYS: Final = 7.0
DEFAULT_LEASE_SECONDS: Final = 900.0
"""Lease without a known time budget: Lambda's longest timeout, so no live invocation loses it."""
LEASE_MARGIN_SECONDS: Final = 30.0
AUDIT_WRITE_ALLOWANCE_SECONDS: Final = 2.0
"""One phase of a batch's audit writes (run concurrently, one per request)."""
AWS_CALL_ALLOWANCE_SECONDS: Final = 2.0
"""One phase of other AWS calls: scheduling verification, dead letters, erasure events."""
AFTER_CALL_PHASES: Final = (AUDIT_WRITE_ALLOWANCE_SECONDS,) * 2 + (AWS_CALL_ALLOWANCE_SECONDS,) * 3
"""What follows a Track call in an invocation: the results' audit writes, verification scheduled,
the records marked submitted, dead letters sent, events published."""


def rate_per_invocation(total_rps: float, max_concurrency: int) -> float:
    """Each invocation's share of the stack-wide Customer.io budget: ``total_rps / max_concurrency``.

    The SQS event source's ScalingConfig ``MaximumConcurrency`` caps how many invocations run at
    once, and each invocation paces all its calls (retries included) through one token bucket at
    this rate, so together they never exceed ``total_rps``. An erase is two calls, so the stack's
    ceiling is ``total_rps`` batch requests per second, each carrying a whole invocation's batch
    of erasures (Track API v2, one operation per request).

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


# -- settings ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletionSettings:
    """The deletion function's settings, from environment variables (DESIGN section 7 plus the
    ones named in this module). Explicit constructor arguments win; ``from_env`` reads them."""

    audit_table: str
    dead_letter_queue_url: str
    track_url: str | None = None
    rate_limit_rps: float = config.DEFAULT_RATE_LIMIT_RPS
    """The stack-wide Track budget of every workspace without its own (see ``budget_for``)."""
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    retention_days: int = DEFAULT_RETENTION_DAYS
    deadline_warning_days: float = DEFAULT_DEADLINE_WARNING_DAYS
    retry: RetryPolicy = DELETION
    """How each Track call is retried and timed out: the ``DELETION`` preset unless overridden."""
    max_receive_count: int = 0
    """The deletion queue's ``maxReceiveCount`` (0: unknown, SQS alone dead-letters exhausted retries)."""
    event_bus_name: str | None = None
    """Where ``ErasureCompleted`` / ``ErasureFailed`` events go (``EVENT_BUS_NAME``; unset: none)."""

    @classmethod
    def from_env(cls) -> DeletionSettings:
        """Read and check the settings; a missing or invalid one raises ConfigurationError."""
        return cls(
            audit_table=config.require_env(config.AUDIT_TABLE),
            dead_letter_queue_url=config.require_env(config.DEAD_LETTER_QUEUE_URL),
            track_url=config.env_str(config.CUSTOMERIO_TRACK_URL) or None,
            rate_limit_rps=config.env_positive_float(
                config.CUSTOMERIO_RATE_LIMIT_RPS, config.DEFAULT_RATE_LIMIT_RPS
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
            retry=_retry_from_env(DELETION),
            max_receive_count=config.env_int(DELETION_MAX_RECEIVE_COUNT, 0),
            event_bus_name=config.env_str(config.EVENT_BUS_NAME) or None,
        )

    @property
    def rate_per_invocation(self) -> float:
        """This invocation's share of the default Track budget (``rate_limit_rps``, see
        ``rate_per_invocation``): the rate of a workspace without a budget of its own."""
        return rate_per_invocation(self.rate_limit_rps, self.max_concurrency)

    def budget_for(self, workspace: Workspace) -> float:
        """``workspace``'s stack-wide Track budget: its own (``Workspace.rate_limit_rps``, from
        ``CUSTOMERIO_WORKSPACE_RATE_LIMITS``) or else this settings' ``rate_limit_rps``."""
        own = workspace.rate_limit_rps
        return self.rate_limit_rps if own is None else own

    def rate_for(self, workspace: Workspace) -> float:
        """This invocation's share of ``workspace``'s Track budget (``budget_for``, divided by the
        maximum concurrency): one bucket per workspace, so one workspace's backlog never spends
        another's budget."""
        return rate_per_invocation(self.budget_for(workspace), self.max_concurrency)

    @property
    def deadline_warning(self) -> timedelta:
        """How close to its statutory deadline a request counts as at risk."""
        return timedelta(days=self.deadline_warning_days)

    @property
    def call_budget_seconds(self) -> float:
        """The least time left in the invocation to start a Track batch call: the call at its worst
        (``RetryPolicy.worst_case``: every attempt and the 401 refresh request timing out, the
        longest waits) and everything that follows it (``AFTER_CALL_PHASES``). A call is never cut
        off by the invocation's end; requests without time for one are retried (``out_of_time``)."""
        return self.retry.worst_case() + sum(AFTER_CALL_PHASES)

    @property
    def invocation_worst_case_seconds(self) -> float:
        """The longest one invocation can take: the batch's leases (one phase of audit writes), then
        Track calls only while ``call_budget_seconds`` is left, the last of them at its worst with
        everything after it. The function's Timeout must exceed it."""
        return AUDIT_WRITE_ALLOWANCE_SECONDS + self.call_budget_seconds


def _retry_from_env(preset: RetryPolicy) -> RetryPolicy:
    """``preset`` with the overrides the environment sets: ``CUSTOMERIO_TIMEOUT_SECONDS`` (see
    ``RetryPolicy.with_timeout_seconds``), ``CUSTOMERIO_MAX_ATTEMPTS``,
    ``CUSTOMERIO_BACKOFF_BASE_SECONDS``, ``CUSTOMERIO_BACKOFF_CAP_SECONDS`` and
    ``CUSTOMERIO_RETRY_AFTER_CAP_SECONDS``. An unset variable keeps the preset's value; a
    non-number or an out-of-range one raises ConfigurationError naming it."""
    return preset.with_timeout_seconds(
        config.env_float(CUSTOMERIO_TIMEOUT_SECONDS, preset.timeout_seconds, minimum=0.01)
    ).with_changes(
        max_attempts=config.env_int(CUSTOMERIO_MAX_ATTEMPTS, preset.max_attempts, minimum=1),
        backoff_base=config.env_float(CUSTOMERIO_BACKOFF_BASE_SECONDS, preset.backoff_base),
        backoff_cap=config.env_float(CUSTOMERIO_BACKOFF_CAP_SECONDS, preset.backoff_cap),
        retry_after_cap=config.env_float(CUSTOMERIO_RETRY_AFTER_CAP_SECONDS, preset.retry_after_cap),
    )
