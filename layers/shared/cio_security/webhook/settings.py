"""The webhook function's settings (DESIGN section 7)."""

from __future__ import annotations

from dataclasses import dataclass

from cio_security import config
from cio_security.errors import ConfigurationError

__all__ = ["DEFAULT_DEDUPE_SECONDS", "WebhookSettings"]

DEFAULT_DEDUPE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class WebhookSettings:
    """The webhook function's settings, from DESIGN section 7's environment variables."""

    signing_key_secret_id: str
    event_bus_name: str
    idempotency_table: str
    tolerance_seconds: int = config.DEFAULT_WEBHOOK_TOLERANCE_SECONDS
    max_body_bytes: int = config.DEFAULT_WEBHOOK_MAX_BODY_BYTES
    grace_seconds: int = config.DEFAULT_SIGNING_KEY_GRACE_SECONDS
    dedupe_seconds: int = DEFAULT_DEDUPE_SECONDS
    key_refresh_seconds: int = config.DEFAULT_SIGNING_KEY_REFRESH_SECONDS

    @classmethod
    def from_env(cls) -> WebhookSettings:
        """Read and check the settings; a missing or invalid one raises ConfigurationError."""
        tolerance = config.env_int(config.WEBHOOK_TOLERANCE_SECONDS, config.DEFAULT_WEBHOOK_TOLERANCE_SECONDS)
        dedupe = config.env_int(config.WEBHOOK_DEDUPE_SECONDS, DEFAULT_DEDUPE_SECONDS, minimum=1)
        if dedupe < tolerance:
            # A replay inside the tolerance must still find its idempotency record.
            raise ConfigurationError("WEBHOOK_DEDUPE_SECONDS must be at least WEBHOOK_TOLERANCE_SECONDS")
        return cls(
            signing_key_secret_id=config.require_env(config.SIGNING_KEY_SECRET_ID),
            event_bus_name=config.require_env(config.EVENT_BUS_NAME),
            idempotency_table=config.require_env(config.IDEMPOTENCY_TABLE),
            tolerance_seconds=tolerance,
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
        )
