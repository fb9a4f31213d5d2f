"""Providers that hand the library's clients their secrets: Track credentials for ``TrackClient``
(re-read on a 401) and the webhook signing keys for ``SigningKeyRing``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from cio_security import config
from cio_security.errors import ConfigurationError, SecretError, SecretFormatError
from cio_security.secrets.models import AppApiKey, TrackCredentials
from cio_security.secrets.store import STAGES, SecretStore

__all__ = ["app_key_provider", "signing_key_loader", "track_credentials_provider"]

logger = logging.getLogger(__name__)


def track_credentials_provider(
    store: SecretStore, secret_id: str | None = None
) -> Callable[[bool], TrackCredentials]:
    """A credentials provider for ``TrackClient``: ``provider(True)`` forces a re-read (401 path)."""

    def provide(force_refresh: bool) -> TrackCredentials:
        if force_refresh:
            logger.info("re-reading Track API credentials after an authentication failure")
        return store.track_credentials(secret_id, force_fetch=force_refresh)

    return provide


def app_key_provider(store: SecretStore, secret_id: str | None = None) -> Callable[[bool], AppApiKey]:
    """An App API key provider for ``AppClient``: ``provider(True)`` forces a re-read (401 path)."""

    def provide(force_refresh: bool) -> AppApiKey:
        if force_refresh:
            logger.info("re-reading the App API key after an authentication failure")
        return store.app_api_key(secret_id, force_fetch=force_refresh)

    return provide


def signing_key_loader(
    store: SecretStore,
    secret_id: str | None = None,
    *,
    grace_seconds: int,
    clock: Callable[[], datetime] | None = None,
) -> Callable[[bool], list[bytes]]:
    """A key loader for ``SigningKeyRing``: AWSCURRENT, then AWSPENDING (a key being rotated in),
    then AWSPREVIOUS while the current version is younger than ``grace_seconds`` (0 disables).

    A stage that is absent or not a valid signing key is skipped; no usable key at all raises
    ConfigurationError (the operator has not stored a signing key yet).
    """
    sid = secret_id or config.require_env(config.SIGNING_KEY_SECRET_ID)
    now = clock or (lambda: datetime.now(UTC))

    def previous_in_grace() -> bool:
        # Asked after the AWSCURRENT read, whose GetSecretValue response carried its CreatedDate.
        if grace_seconds <= 0:
            return False
        created = store.current_version_created(sid)
        return created is not None and (now() - created).total_seconds() < grace_seconds

    def load(force_refresh: bool) -> list[bytes]:
        keys: list[bytes] = []
        for stage in STAGES:
            if stage == "AWSPREVIOUS" and not previous_in_grace():
                continue
            try:
                keys.append(store.signing_key(sid, stage=stage, force_fetch=force_refresh).key_bytes())
            except SecretFormatError:
                logger.warning("signing key version is not a valid key; skipped", extra={"stage": stage})
            except SecretError:
                continue  # an absent stage (no rotation under way) is normal
        if not keys:
            raise ConfigurationError(f"no usable webhook signing key in secret {sid}: stage one and rotate")
        return keys

    return load
