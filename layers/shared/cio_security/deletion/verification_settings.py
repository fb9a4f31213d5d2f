"""Erasure verification's settings, from environment variables (DESIGN section 7), and whether the
deletion function has a verifier at all (``erasure_verifier``).

The App API allows 10 requests per second ("Your request is over the 10-per-second limit"):
``CUSTOMERIO_APP_RATE_LIMIT_RPS`` (default 10; ``VerificationSettings.app_rate_limit_rps``) is that
budget for the whole stack, per workspace, kept apart from the Track API's; a workspace named in
``CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS`` has its own instead (``VerificationSettings.budget_for``).
The verification queue's event source runs at most ``VERIFICATION_MAX_CONCURRENCY`` invocations at
once (its ScalingConfig ``MaximumConcurrency``), so each invocation's App API client of a workspace
paces itself at

    per-invocation rate = the workspace's budget / VERIFICATION_MAX_CONCURRENCY

and together they stay inside the budget. A batched lookup checks up to 100 ``id`` identifiers in
one request, so the stack checks up to 1,000 ids per second, or 10 emails, cio_ids or phones.

>>> VerificationSettings(queue_url="q", dead_letter_queue_url="d", audit_table="t",
...                      app_api_key_secret_id="s").rate_per_invocation
5.0
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from cio_security import config
from cio_security.audit.record import DEFAULT_RETENTION_DAYS, MIN_RETENTION_DAYS
from cio_security.customerio.app_api import APP_RATE_LIMIT_RPS
from cio_security.customerio.retry import APP_LOOKUP, RetryPolicy
from cio_security.deletion.settings import rate_per_invocation
from cio_security.deletion.verification import VerificationPolicy
from cio_security.errors import SecretFormatError
from cio_security.secrets.models import AppApiKey
from cio_security.secrets.store import parse_secret

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from cio_security.customerio.app_api import AppClient
    from cio_security.customerio.urls import BaseUrlOverride
    from cio_security.deletion.routing import PerWorkspace
    from cio_security.deletion.verification_queue import QueueVerifier
    from cio_security.secrets.store import SecretStore
    from cio_security.workspaces import Workspace, Workspaces

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "VerificationSettings",
    "app_clients",
    "erasure_verifier",
    "is_placeholder",
    "policy_from_env",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONCURRENCY: Final = 2
"""The SQS event source's smallest MaximumConcurrency: each invocation paces at half the budget."""
AWS_CALLS_ALLOWANCE_SECONDS: Final = 10.0
"""Time kept, after the last lookup an invocation starts, for its audit writes, queue sends, dead
letters and events (each AWS call at most 2 + 5 s with the project's botocore settings)."""


def _seconds(name: str, default: timedelta, *, minimum: float = 0.0) -> timedelta:
    return timedelta(seconds=config.env_float(name, default.total_seconds(), minimum=minimum))


def policy_from_env(defaults: VerificationPolicy | None = None) -> VerificationPolicy:
    """The verification policy the environment sets: ``VERIFICATION_FIRST_CHECK_SECONDS``,
    ``VERIFICATION_WINDOW_SECONDS``, ``VERIFICATION_MAX_INTERVAL_SECONDS`` and
    ``VERIFICATION_RETRY_SECONDS`` over ``defaults``. Shared by the deletion function (the first
    ticket) and the verification function (the checks), so both read the same timing."""
    base = defaults or VerificationPolicy()
    retry = _seconds(config.VERIFICATION_RETRY_SECONDS, base.retry_delay, minimum=0.001)
    return VerificationPolicy(
        first_check_delay=_seconds(config.VERIFICATION_FIRST_CHECK_SECONDS, base.first_check_delay),
        window=_seconds(config.VERIFICATION_WINDOW_SECONDS, base.window),
        max_interval=_seconds(config.VERIFICATION_MAX_INTERVAL_SECONDS, base.max_interval, minimum=0.001),
        min_interval=min(base.min_interval, retry),
        retry_delay=retry,
        max_retry_delay=max(base.max_retry_delay, retry),
        answer_grace=base.answer_grace,
    )


@dataclass(frozen=True)
class VerificationSettings:
    """The verification function's settings (DESIGN section 7 plus the ones named here).
    Explicit constructor arguments win; ``from_env`` reads them."""

    queue_url: str
    dead_letter_queue_url: str
    audit_table: str
    app_api_key_secret_id: str
    app_url: str | None = None
    app_rate_limit_rps: float = APP_RATE_LIMIT_RPS
    """The stack-wide App API budget of every workspace without its own (see ``budget_for``)."""
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    retention_days: int = DEFAULT_RETENTION_DAYS
    max_receive_count: int = 0
    event_bus_name: str | None = None
    policy: VerificationPolicy = field(default_factory=VerificationPolicy)
    retry: RetryPolicy = APP_LOOKUP
    """How each App API call is retried and timed out (the ``APP_LOOKUP`` preset)."""

    @classmethod
    def from_env(cls) -> VerificationSettings:
        """Read and check the settings; a missing or invalid one raises ConfigurationError."""
        return cls(
            queue_url=config.require_env(config.VERIFICATION_QUEUE_URL),
            dead_letter_queue_url=config.require_env(config.VERIFICATION_DEAD_LETTER_QUEUE_URL),
            audit_table=config.require_env(config.AUDIT_TABLE),
            app_api_key_secret_id=config.require_env(config.APP_API_KEY_SECRET_ID),
            app_url=config.env_str(config.CUSTOMERIO_APP_URL) or None,
            app_rate_limit_rps=config.env_positive_float(
                config.CUSTOMERIO_APP_RATE_LIMIT_RPS, APP_RATE_LIMIT_RPS
            ),
            max_concurrency=config.env_int(
                config.VERIFICATION_MAX_CONCURRENCY, DEFAULT_MAX_CONCURRENCY, minimum=1
            ),
            retention_days=config.env_int(
                config.AUDIT_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, minimum=MIN_RETENTION_DAYS
            ),
            max_receive_count=config.env_int(config.VERIFICATION_MAX_RECEIVE_COUNT, 0),
            event_bus_name=config.env_str(config.EVENT_BUS_NAME) or None,
            policy=policy_from_env(),
        )

    @property
    def rate_per_invocation(self) -> float:
        """This invocation's share of the default App API budget (module docstring): the rate of
        a workspace without a budget of its own."""
        return rate_per_invocation(self.app_rate_limit_rps, self.max_concurrency)

    def budget_for(self, workspace: Workspace) -> float:
        """``workspace``'s stack-wide App API budget: its own (``Workspace.app_rate_limit_rps``,
        from ``CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS``) or else this settings' ``app_rate_limit_rps``."""
        own = workspace.app_rate_limit_rps
        return self.app_rate_limit_rps if own is None else own

    def rate_for(self, workspace: Workspace) -> float:
        """This invocation's share of ``workspace``'s App API budget (``budget_for``, divided by
        the maximum concurrency)."""
        return rate_per_invocation(self.budget_for(workspace), self.max_concurrency)

    @property
    def lookup_budget_seconds(self) -> float:
        """The least time left in the invocation to start a lookup: one App API call at its worst
        (``RetryPolicy.worst_case``) plus the AWS calls that follow the last one. So no
        invocation is cut off in the middle of its work."""
        return self.retry.worst_case() + AWS_CALLS_ALLOWANCE_SECONDS


# -- the deletion function's verifier ----------------------------------------------------------------


def is_placeholder(raw: str) -> bool:
    """True for the App API key secret as the template creates it (``{"app_api_key": ""}``): no key
    has been rotated in yet."""
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    return (
        isinstance(data, dict)
        and set(data) <= {"app_api_key", "region"}
        and isinstance(data.get("app_api_key"), str)
        and not data["app_api_key"].strip()
    )


def erasure_verifier(
    secrets: SecretStore,
    sqs: SQSClient | None = None,
    *,
    secret_id: str | None = None,
    workspace: str | None = None,
) -> QueueVerifier | None:
    """The deletion function's verifier of one workspace (``workspace``, whose App API key secret
    is ``secret_id``; default: ``APP_API_KEY_SECRET_ID``, the primary's), or None when its erasures
    are not verified: without that secret or ``VERIFICATION_QUEUE_URL``, or while the key secret
    holds the template's placeholder (the requests then complete with verification
    ``not_verified`` in that workspace).

    A key secret holding anything else that is not a key is logged as an error and also means
    no verifier: a verification problem never holds up an erasure. The secret is read once, when
    the processor is built: a key rotated in later takes effect in new execution environments.
    Raises SecretError when the secret cannot be read (retried with the batch)."""
    secret_id = secret_id or config.env_str(config.APP_API_KEY_SECRET_ID)
    queue_url = config.env_str(config.VERIFICATION_QUEUE_URL)
    where = {"workspace": workspace}
    if not secret_id or not queue_url:
        logger.info("no App API key configured: erasures are recorded not_verified", extra=where)
        return None
    raw = secrets.raw(secret_id)
    if is_placeholder(raw):
        logger.info(
            "the App API key secret holds the template's placeholder: erasures are recorded not_verified",
            extra=where,
        )
        return None
    try:
        parse_secret(AppApiKey, raw, name=secret_id)
    except SecretFormatError as exc:
        logger.error("%s: erasures are recorded not_verified until a key is rotated in", exc, extra=where)
        return None
    from cio_security.deletion.verification_queue import QueueVerifier, VerificationQueue  # noqa: PLC0415

    return QueueVerifier(VerificationQueue(queue_url, sqs), policy_from_env(), workspace=workspace)


# -- the verification function's App API clients -----------------------------------------------------


def app_clients(
    workspaces: Workspaces,
    secrets: SecretStore,
    settings: VerificationSettings,
    *,
    app_urls: BaseUrlOverride = None,
) -> PerWorkspace[AppClient]:
    """The verification function's App API clients, one per workspace, each built when a ticket of
    that workspace first needs it: the workspace's key (the primary's is
    ``settings.app_api_key_secret_id``; re-read on a 401), ``app_urls`` (the local stack's sandboxes;
    None: the key's region's host), the settings' retry policy and a token bucket at this
    invocation's share of the workspace's App API budget, its own or the settings' default
    (``VerificationSettings.rate_for``)."""
    # Imported here: the HTTP client loads only when a verification function builds its clients.
    from cio_security.customerio.app_api import AppClient  # noqa: PLC0415
    from cio_security.customerio.ratelimit import TokenBucket  # noqa: PLC0415
    from cio_security.deletion.routing import PerWorkspace  # noqa: PLC0415
    from cio_security.secrets.loaders import app_key_provider  # noqa: PLC0415

    def client(name: str) -> AppClient:
        workspace = workspaces.get(name)
        secret_id = settings.app_api_key_secret_id if workspace.primary else workspace.app_api_key_secret_id
        return AppClient(
            # A key labelled for another workspace raises a SecretError: no answer, never "verified".
            app_key_provider(secrets, secret_id, workspace=name),
            base_url=app_urls,
            retry=settings.retry,
            rate_limit=TokenBucket(settings.rate_for(workspace)),
        )

    return PerWorkspace(workspaces.names, client)
