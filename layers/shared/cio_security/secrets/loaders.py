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
from cio_security.errors import ConfigurationError, SecretFormatError, SecretNotFoundError
from cio_security.secrets.labels import WorkspaceMismatchError, require_workspace
from cio_security.secrets.models import AppApiKey, TrackCredentials, WorkspaceLabelled
from cio_security.secrets.store import STAGES, SecretStore

__all__ = [
    "LoadedKeys",
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


class LoadedKeys(list[bytes]):
    """Signing keys as a loader returns them, in the order they are tried; the last ``expiring``
    of them (AWSPREVIOUS) stop being valid ``valid_for`` seconds after the load (the rest of its
    grace window; None: no limit of their own). ``SigningKeyRing`` reads both from any sequence
    that has them and drops those keys when their time is up."""

    valid_for: float | None
    expiring: int

    def __init__(
        self, keys: Iterable[bytes] = (), *, valid_for: float | None = None, expiring: int = 0
    ) -> None:
        super().__init__(keys)
        self.valid_for = valid_for
        self.expiring = expiring


def signing_key_loader(
    store: SecretStore,
    secret_id: str | None = None,
    *,
    grace_seconds: int,
    clock: Callable[[], datetime] | None = None,
    workspace: str | None = None,
    one_of_several: bool = False,
) -> Callable[[bool], LoadedKeys]:
    """A key loader for ``SigningKeyRing``: AWSCURRENT, then AWSPENDING (a key being rotated in),
    then AWSPREVIOUS while the current version is younger than ``grace_seconds`` (0 disables).

    A stage that does not exist (no rotation under way, no previous version) or is not a valid
    signing key is skipped; no usable key at all raises ConfigurationError (the operator has not
    stored a signing key yet). A stage that exists but cannot be read now (a timeout, throttling,
    a denied KMS decrypt), or a secret that does not exist at all, raises SecretError: the key it
    holds may be the one that signed the request, so the caller answers 503 (Customer.io retries)
    rather than 401 (which Customer.io meets with a one-hour wait and a backlog). With
    ``workspace``, keys labelled for another workspace are still used, with one warning per load
    (``warn_foreign_signing_keys``).

    The keys come as ``LoadedKeys``; when AWSPREVIOUS is among them (last), it is marked expiring
    after what is left of its grace window: the ring drops it then, so the previous key stops
    being accepted when its window ends, however warm the execution environment is.

    ``one_of_several``: the loader of one workspace among several (``webhook.keys``): no usable key
    is an empty list with a warning (the workspace is not set up yet: it signed nothing, so it
    holds nobody up).
    """
    sid = secret_id or config.require_env(config.SIGNING_KEY_SECRET_ID)
    now = clock or (lambda: datetime.now(UTC))

    def grace_left() -> float:
        # Asked after the AWSCURRENT read, whose GetSecretValue response carried its CreatedDate.
        if grace_seconds <= 0:
            return 0.0
        created = store.current_version_created(sid)
        return 0.0 if created is None else grace_seconds - (now() - created).total_seconds()

    def load(force_refresh: bool) -> LoadedKeys:
        keys: list[bytes] = []
        labels: list[str | None] = []
        previous_for: float | None = None  # what is left of the grace window, once AWSPREVIOUS is in
        for stage in STAGES:
            grace = grace_left() if stage == "AWSPREVIOUS" else None
            if grace is not None and grace <= 0:
                continue
            try:
                key = store.signing_key(sid, stage=stage, force_fetch=force_refresh)
            except SecretFormatError:
                if not one_of_several:  # there, the template's placeholder is expected
                    logger.warning("signing key version is not a valid key; skipped", extra={"stage": stage})
                continue
            except SecretNotFoundError:
                if stage == "AWSCURRENT":  # the secret itself is gone: its keys may have signed
                    raise
                continue  # an absent stage (no rotation under way) is normal
            keys.append(key.key_bytes())
            labels.append(key.workspace)
            previous_for = grace
        if not keys:
            if not one_of_several:
                raise ConfigurationError(
                    f"no usable webhook signing key in secret {sid}: stage one and rotate"
                )
            logger.warning("a workspace has no usable webhook signing key yet", extra={"secret_id": sid})
        warn_foreign_signing_keys(workspace, sid, labels)
        return LoadedKeys(keys, valid_for=previous_for, expiring=0 if previous_for is None else 1)

    return load
