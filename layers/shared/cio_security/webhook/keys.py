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

from collections.abc import Callable
from datetime import datetime

from cio_security.errors import ConfigurationError
from cio_security.secrets.loaders import LoadedKeys, signing_key_loader
from cio_security.secrets.store import SecretStore
from cio_security.webhook.signature import SigningKeyRing, WorkspaceKeyRing
from cio_security.workspaces import Workspaces

__all__ = ["key_ring_for", "workspace_key_loader"]


def workspace_key_loader(
    store: SecretStore,
    secret_id: str,
    *,
    grace_seconds: int,
    clock: Callable[[], datetime] | None = None,
    workspace: str | None = None,
) -> Callable[[bool], LoadedKeys]:
    """A key loader for one workspace of several: ``signing_key_loader`` with ``one_of_several``
    (an AWSCURRENT that cannot be read raises SecretError; no usable key is an empty list). Keys
    labelled for another workspace than ``workspace`` are still used, with one warning per load
    (the ``Workspaces`` order may have changed: deliveries would only be tagged with the wrong
    workspace)."""
    return signing_key_loader(
        store, secret_id, grace_seconds=grace_seconds, clock=clock, workspace=workspace, one_of_several=True
    )


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
        return SigningKeyRing(
            loader, refresh_interval=refresh_interval, workspace=name, max_age=store.max_age
        )
    return WorkspaceKeyRing(
        [
            SigningKeyRing(
                workspace_key_loader(store, secret_id, grace_seconds=grace_seconds, workspace=name),
                refresh_interval=refresh_interval,
                workspace=name,
                max_age=store.max_age,
            )
            for name, secret_id in configured
        ]
    )
