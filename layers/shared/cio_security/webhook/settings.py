"""The webhook function's settings (DESIGN sections 3 and 7)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cio_security import config
from cio_security.errors import ConfigurationError
from cio_security.workspaces import DEFAULT_WORKSPACE, Workspace, Workspaces, workspaces_from_env

__all__ = ["DEFAULT_DEDUPE_SECONDS", "WebhookSettings"]

DEFAULT_DEDUPE_SECONDS = config.DEFAULT_WEBHOOK_DEDUPE_SECONDS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookSettings:
    """The webhook function's settings, from DESIGN section 7's environment variables.

    ``tolerance_seconds`` is how old a signed timestamp may be, ``future_skew_seconds`` how far
    ahead of our clock. The past tolerance is never longer than ``dedupe_seconds``: every accepted
    timestamp is then either new or still remembered, so a replayed delivery is a duplicate.
    ``max_body_bytes`` bounds what is parsed; a verified body above it is kept, never refused.
    ``workspaces`` are the Customer.io workspaces whose signed deliveries are accepted
    (``cio_security.workspaces``; None: one, ``default``, with ``signing_key_secret_id``).
    """

    signing_key_secret_id: str
    event_bus_name: str
    idempotency_table: str
    quarantine_bucket: str = ""
    tolerance_seconds: int = config.DEFAULT_WEBHOOK_TOLERANCE_SECONDS
    future_skew_seconds: int = config.DEFAULT_WEBHOOK_FUTURE_SKEW_SECONDS
    max_body_bytes: int = config.DEFAULT_WEBHOOK_MAX_BODY_BYTES
    grace_seconds: int = config.DEFAULT_SIGNING_KEY_GRACE_SECONDS
    dedupe_seconds: int = DEFAULT_DEDUPE_SECONDS
    key_refresh_seconds: int = config.DEFAULT_SIGNING_KEY_REFRESH_SECONDS
    allowed_source_cidrs: str = ""
    workspaces: Workspaces | None = None

    def workspace_set(self) -> Workspaces:
        """``workspaces``, or one workspace (``default``) whose key is ``signing_key_secret_id``."""
        if self.workspaces is not None:
            return self.workspaces
        only = Workspace(
            name=DEFAULT_WORKSPACE, signing_key_secret_id=self.signing_key_secret_id, primary=True
        )
        return Workspaces((only,))

    @property
    def primary_workspace(self) -> str:
        """The primary workspace's name: its events keep the idempotency keys and claim-check
        names a single-workspace stack always had."""
        return self.workspaces.primary.name if self.workspaces is not None else DEFAULT_WORKSPACE

    @property
    def record_seconds(self) -> int:
        """How long an event's idempotency record lives: the dedupe window plus the future skew. A
        timestamp accepted up to ``future_skew_seconds`` ahead of our clock stays acceptable until
        it is ``tolerance_seconds`` (at most the dedupe window) old, so its record must outlive the
        window by the skew for a replay at the very end to still be a duplicate."""
        return self.dedupe_seconds + self.future_skew_seconds

    def __post_init__(self) -> None:
        if self.tolerance_seconds > self.dedupe_seconds:
            # A replay inside the tolerance must still find its idempotency record.
            raise ConfigurationError(
                f"{config.WEBHOOK_TOLERANCE_SECONDS} must not exceed {config.WEBHOOK_DEDUPE_SECONDS}"
            )

    @classmethod
    def from_env(cls) -> WebhookSettings:
        """Read and check the settings; a missing or invalid one raises ConfigurationError.

        ``WEBHOOK_TOLERANCE_SECONDS`` unset (or 0) means "the dedupe window"; a longer one is cut
        to the dedupe window with a warning (CloudFormation cannot compare two parameters, and
        refusing every delivery for a setting would stall Customer.io's stream).
        """
        dedupe = config.env_int(config.WEBHOOK_DEDUPE_SECONDS, DEFAULT_DEDUPE_SECONDS, minimum=1)
        tolerance = config.env_int(config.WEBHOOK_TOLERANCE_SECONDS, 0) or dedupe
        if tolerance > dedupe:
            logger.warning(
                "webhook tolerance longer than the dedupe window: the dedupe window is used",
                extra={"tolerance_seconds": tolerance, "dedupe_seconds": dedupe},
            )
            tolerance = dedupe
        return cls(
            signing_key_secret_id=config.require_env(config.SIGNING_KEY_SECRET_ID),
            event_bus_name=config.require_env(config.EVENT_BUS_NAME),
            idempotency_table=config.require_env(config.IDEMPOTENCY_TABLE),
            quarantine_bucket=config.require_env(config.WEBHOOK_QUARANTINE_BUCKET),
            tolerance_seconds=tolerance,
            future_skew_seconds=config.env_int(
                config.WEBHOOK_FUTURE_SKEW_SECONDS, config.DEFAULT_WEBHOOK_FUTURE_SKEW_SECONDS
            ),
            max_body_bytes=config.env_int(
                config.WEBHOOK_MAX_BODY_BYTES, config.DEFAULT_WEBHOOK_MAX_BODY_BYTES, minimum=1
            ),
            grace_seconds=config.env_int(
                config.SIGNING_KEY_GRACE_SECONDS, config.DEFAULT_SIGNING_KEY_GRACE_SECONDS
            ),
            dedupe_seconds=dedupe,
            key_refresh_seconds=config.env_int(
                config.SIGNING_KEY_REFRESH_SECONDS, config.DEFAULT_SIGNING_KEY_REFRESH_SECONDS
            ),
            allowed_source_cidrs=config.env_str(config.WEBHOOK_ALLOWED_SOURCE_CIDRS),
            workspaces=workspaces_from_env(),
        )
