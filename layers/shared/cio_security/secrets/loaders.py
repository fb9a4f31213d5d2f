"""Providers that hand the library's clients their secrets: Track credentials for ``TrackClient``
(re-read on a 401), the App API key for ``AppClient`` and the webhook signing keys for
``SigningKeyRing``.

Given the name of the workspace that reads them (``workspace``), the providers refuse a value
labelled for another workspace (``labels``: the stack's ``Workspaces`` order may have changed)
with a ``WorkspaceMismatchError``, logged as an error naming both workspaces; the signing key
loader only warns (the webhook keeps verifying). Without ``workspace``, nothing is checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from cio_security import config
from cio_security.errors import ConfigurationError, SecretError, SecretFormatError
from cio_security.secrets.labels import WorkspaceMismatchError, require_workspace
from cio_security.secrets.models import AppApiKey, TrackCredentials, WorkspaceLabelled
from cio_security.secrets.store import STAGES, SecretStore

__all__ = [
    "app_key_provider",
    "signing_key_loader",
    "track_credentials_provider",
    "warn_foreign_signing_keys",
]

logger = logging.getLogger(__name__)


def _checked[V: WorkspaceLabelled](value: V, workspace: str | None, *, secret_id: str, what: str) -> V:
    """``value`` when workspace ``workspace`` may use it; else the mismatch is logged (an error:
    the workspace's calls stop until the order or the secret is fixed) and raised."""
    try:
        return require_workspace(value, workspace, secret_id=secret_id, what=what)
    except WorkspaceMismatchError as exc:
        logger.error(
            "%s",
            exc,
            extra={
                "workspace": exc.expected,
                "labelled_workspace": exc.labelled,
                "secret_id": secret_id,
                "reason": "workspace_mismatch",
            },
        )
        raise


def track_credentials_provider(
    store: SecretStore, secret_id: str | None = None, *, workspace: str | None = None
) -> Callable[[bool], TrackCredentials]:
    """A credentials provider for ``TrackClient``: ``provider(True)`` forces a re-read (401 path).

    With ``workspace`` (the workspace whose calls use them), credentials labelled for another
    workspace raise WorkspaceMismatchError (a SecretError) before anything is sent."""

    def provide(force_refresh: bool) -> TrackCredentials:
        if force_refresh:
            logger.info("re-reading Track API credentials after an authentication failure")
        sid = secret_id or config.require_env(config.TRACK_CREDENTIALS_SECRET_ID)
        credentials = store.track_credentials(sid, force_fetch=force_refresh)
        return _checked(credentials, workspace, secret_id=sid, what="Track API credentials")

    return provide


def app_key_provider(
    store: SecretStore, secret_id: str | None = None, *, workspace: str | None = None
) -> Callable[[bool], AppApiKey]:
    """An App API key provider for ``AppClient``: ``provider(True)`` forces a re-read (401 path).

    With ``workspace``, a key labelled for another workspace raises WorkspaceMismatchError (a
    SecretError) before any lookup: another workspace's key would find nobody and so "verify"
    every erasure."""

    def provide(force_refresh: bool) -> AppApiKey:
        if force_refresh:
            logger.info("re-reading the App API key after an authentication failure")
        sid = secret_id or config.require_env(config.APP_API_KEY_SECRET_ID)
        key = store.app_api_key(sid, force_fetch=force_refresh)
        return _checked(key, workspace, secret_id=sid, what="an App API key")

    return provide


def warn_foreign_signing_keys(workspace: str | None, secret_id: str, labels: Iterable[str | None]) -> None:
    """One warning when any of a load's signing keys (``labels``: their ``workspace`` labels) was
    staged for another workspace than ``workspace``: the keys are still used (a delivery they
    verify is genuine, only its workspace tag may be wrong), but the order of the stack's
    ``Workspaces`` may have changed."""
    if workspace is None:
        return
    foreign = sorted({label for label in labels if label is not None and label != workspace})
    if not foreign:
        return
    logger.warning(
        "secret %s holds a webhook signing key staged for workspace %s, but workspace %s reads it: the "
        "order of the stack's Workspaces parameter may have changed; the key is still used, so "
        "deliveries it verifies may be tagged with the wrong workspace",
        secret_id,
        ", ".join(foreign),
        workspace,
        extra={
            "workspace": workspace,
            "labelled_workspace": ", ".join(foreign),
            "secret_id": secret_id,
            "reason": "workspace_mismatch",
        },
    )


def signing_key_loader(
    store: SecretStore,
    secret_id: str | None = None,
    *,
    grace_seconds: int,
    clock: Callable[[], datetime] | None = None,
    workspace: str | None = None,
    one_of_several: bool = False,
) -> Callable[[bool], list[bytes]]:
    """A key loader for ``SigningKeyRing``: AWSCURRENT, then AWSPENDING (a key being rotated in),
    then AWSPREVIOUS while the current version is younger than ``grace_seconds`` (0 disables).

    A stage that is absent or not a valid signing key is skipped; no usable key at all raises
    ConfigurationError (the operator has not stored a signing key yet). With ``workspace``, keys
    labelled for another workspace are still used, with one warning per load
    (``warn_foreign_signing_keys``).

    ``one_of_several``: the loader of one workspace among several (``webhook.keys``): an AWSCURRENT
    that cannot be read raises SecretError (that workspace's current key may be the one that
    signed: the caller answers 503), and no usable key is an empty list with a warning (the
    workspace is not set up yet: it signed nothing, so it holds nobody up).
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
        labels: list[str | None] = []
        for stage in STAGES:
            if stage == "AWSPREVIOUS" and not previous_in_grace():
                continue
            try:
                key = store.signing_key(sid, stage=stage, force_fetch=force_refresh)
            except SecretFormatError:
                if not one_of_several:  # there, the template's placeholder is expected
                    logger.warning("signing key version is not a valid key; skipped", extra={"stage": stage})
                continue
            except SecretError:
                if one_of_several and stage == "AWSCURRENT":
                    raise
                continue  # an absent stage (no rotation under way) is normal
            keys.append(key.key_bytes())
            labels.append(key.workspace)
        if not keys:
            if not one_of_several:
                raise ConfigurationError(
                    f"no usable webhook signing key in secret {sid}: stage one and rotate"
                )
            logger.warning("a workspace has no usable webhook signing key yet", extra={"secret_id": sid})
        warn_foreign_signing_keys(workspace, sid, labels)
        return keys

    return load
