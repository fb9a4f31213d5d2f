"""The webhook's signing keys for the stack's workspaces (issue #15): one ring per workspace.

A stack of one workspace gets exactly the ring it always had (``SigningKeyRing`` over
``signing_key_loader``: same reads, same cost). A stack of several gets a ``WorkspaceKeyRing``
whose per-workspace loader tells "this workspace has no usable key yet" (the template's
placeholder: it signed nothing, so it holds nobody up) from "its key could not be read" (it may
have signed the request: 503, Customer.io retries).

>>> ring = key_ring_for(store, workspaces_from_env(), grace_seconds=86_400)  # doctest: +SKIP
>>> ring.match(timestamp, digest, body)                                      # doctest: +SKIP
'prod-eu'
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from cio_security.errors import ConfigurationError, SecretError, SecretFormatError
from cio_security.secrets.loaders import signing_key_loader, warn_foreign_signing_keys
from cio_security.secrets.store import STAGES, SecretStore
from cio_security.webhook.signature import SigningKeyRing, WorkspaceKeyRing
from cio_security.workspaces import Workspaces

__all__ = ["key_ring_for", "workspace_key_loader"]

logger = logging.getLogger(__name__)


def workspace_key_loader(
    store: SecretStore,
    secret_id: str,
    *,
    grace_seconds: int,
    clock: Callable[[], datetime] | None = None,
    workspace: str | None = None,
) -> Callable[[bool], list[bytes]]:
    """A key loader for one workspace of several: AWSCURRENT, then AWSPENDING, then AWSPREVIOUS
    while the current version is younger than ``grace_seconds`` (0 disables), as
    ``signing_key_loader``; but AWSCURRENT that cannot be read raises SecretError (whatever the
    other stages hold: the current key may be the one that signed), and no usable key at all is
    an empty list (the workspace is not set up yet), not an error. Keys labelled for another
    workspace than ``workspace`` are still used, with one warning per load (the ``Workspaces``
    order may have changed: deliveries would only be tagged with the wrong workspace)."""
    now = clock or (lambda: datetime.now(UTC))

    def previous_in_grace() -> bool:
        if grace_seconds <= 0:
            return False
        created = store.current_version_created(secret_id)
        return created is not None and (now() - created).total_seconds() < grace_seconds

    def load(force_refresh: bool) -> list[bytes]:
        keys: list[bytes] = []
        labels: list[str | None] = []
        for stage in STAGES:
            if stage == "AWSPREVIOUS" and not previous_in_grace():
                continue
            try:
                key = store.signing_key(secret_id, stage=stage, force_fetch=force_refresh)
                keys.append(key.key_bytes())
                labels.append(key.workspace)
            except SecretFormatError:
                continue  # the placeholder, or an invalid version: it signs nothing
            except SecretError:
                if stage == "AWSCURRENT":
                    raise
                continue  # an absent stage (no rotation under way) is normal
        if not keys:
            logger.warning(
                "a workspace has no usable webhook signing key yet", extra={"secret_id": secret_id}
            )
        warn_foreign_signing_keys(workspace, secret_id, labels)
        return keys

    return load


def key_ring_for(
    store: SecretStore,
    workspaces: Workspaces,
    *,
    grace_seconds: int,
    refresh_interval: float,
) -> SigningKeyRing | WorkspaceKeyRing:
    """The key ring of ``workspaces``: the primary's ``SigningKeyRing`` alone when it is the only
    one (what a single-workspace stack always had), else a ``WorkspaceKeyRing`` in configured
    order. A workspace without a signing key secret (None) is left out; none at all is a
    ConfigurationError."""
    configured = [(w.name, w.signing_key_secret_id) for w in workspaces if w.signing_key_secret_id]
    if not configured:
        raise ConfigurationError("no workspace has a webhook signing key secret")
    if len(workspaces) == 1:
        name, secret_id = configured[0]
        loader = signing_key_loader(store, secret_id, grace_seconds=grace_seconds, workspace=name)
        return SigningKeyRing(loader, refresh_interval=refresh_interval, workspace=name)
    return WorkspaceKeyRing(
        [
            SigningKeyRing(
                workspace_key_loader(store, secret_id, grace_seconds=grace_seconds, workspace=name),
                refresh_interval=refresh_interval,
                workspace=name,
            )
            for name, secret_id in configured
        ]
    )
