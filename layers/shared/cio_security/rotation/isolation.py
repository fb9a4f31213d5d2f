"""Workspace isolation in testSecret: a value of one workspace is never promoted into another's
secret (issue #15).

A stack serves several Customer.io workspaces (``cio_security.workspaces``), each with its own
Track credentials, App API key and webhook signing key. testSecret already proves that a pending
value works and, against the *same* secret's current value, that it belongs to the same
workspace; that proof is empty on a first rotation (the current value is the template's
placeholder), and it cannot see a mix-up between two workspaces' secrets. So two more checks run:

1. ``check_distinct`` (every kind, Secrets Manager reads only): the pending value must not be
   any other workspace's AWSCURRENT, AWSPENDING or AWSPREVIOUS value of the same kind. For a
   signing key this is the whole check: two workspaces sharing a key would make the webhook's
   workspace tag ambiguous.
2. the kind's ``verify_isolation`` (``kinds``): Track credentials must not report (``GET
   /api/v1/accounts/region``) the region and ``environment_id`` of another workspace's current
   credentials; an App API key must list (``GET /v1/workspaces``) its own workspace's
   ``environment_id``.

What it costs: at most three GetSecretValue calls per other workspace, and for Track credentials
one region call per other workspace whose credentials are configured; a credential set's
workspace never changes, so the answers are kept in memory (keyed by a hash of the credential
set) and a warm function makes none. Those extra calls make one attempt each and are started
only within ``kinds.PEER_LOOKUP_BUDGET_SECONDS``, so the step stays inside the function's Timeout
(past the budget it fails retryably, and Secrets Manager's retry goes on from what was learnt). A
stack of one workspace makes no extra call at all, except that an App API key is checked against
its workspace's Track credentials (one region call).

Before both, ``check_label`` (no call at all; createSecret runs it on the staged value too): a value
labelled for another workspace (its optional ``workspace`` field, ``cio_security.secrets.labels``)
than the secret's owner (``Workspaces.owner_of``) is refused, whatever Customer.io would answer
for it: a credential set created in the right Customer.io workspace but staged for another of the
stack's workspaces is a mistake that the ``environment_id`` check cannot see (the secret's owner
may be the wrong workspace after a reorder of ``Workspaces``).

Every refusal is a permanent RotationError (``rotate`` removes AWSPENDING) naming both
workspaces (names are configuration) and never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from cio_security.errors import RotationError, SecretFormatError
from cio_security.rotation.kinds import KindName, secret_kind
from cio_security.rotation.versions import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    RotationTarget,
    read_secret_string,
    workspace_kind,
)
from cio_security.secrets.labels import foreign_label

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from cio_security.rotation.settings import RotationSettings
    from cio_security.workspaces import Workspace

__all__ = ["COMPARED_STAGES", "WorkspacePeers", "check_distinct", "check_label", "workspace_peers"]

COMPARED_STAGES: Final = (AWSCURRENT, AWSPENDING, AWSPREVIOUS)
"""The versions of another workspace's secret a pending value must differ from: the webhook
accepts all three (AWSPREVIOUS inside its grace window)."""


@dataclass(frozen=True)
class WorkspacePeers:
    """The workspace a rotated secret belongs to (``own``), the stack's other workspaces, and
    reads of their current values. ``step`` names the step in errors."""

    client: SecretsManagerClient
    own: Workspace
    others: tuple[Workspace, ...]
    step: str = "testSecret"

    def read(self, workspace: Workspace, kind: KindName, stage: str = AWSCURRENT) -> Any | None:
        """``workspace``'s value of ``kind`` at ``stage``, or None when that workspace has no
        such secret, the stage holds no value, or the value is not one of the kind (the
        template's placeholder). A Secrets Manager failure raises RotationError (retryable when
        transient): an unreadable peer could be the one the value belongs to."""
        secret_id = workspace.secret_id(workspace_kind(kind))
        if secret_id is None:
            return None
        raw = read_secret_string(self.client, self.step, secret_id, stage=stage)
        if raw is None:
            return None
        try:
            return secret_kind(kind).parse(raw, name=secret_id)
        except SecretFormatError:
            return None

    def current(self, workspace: Workspace, kind: KindName) -> Any | None:
        """``workspace``'s AWSCURRENT value of ``kind`` (see ``read``)."""
        return self.read(workspace, kind, AWSCURRENT)


def workspace_peers(
    client: SecretsManagerClient, target: RotationTarget, settings: RotationSettings
) -> WorkspacePeers:
    """The peers of ``target``'s workspace in the configured workspaces."""
    workspaces = settings.workspace_set()
    own = workspaces.get(target.workspace)
    return WorkspacePeers(client=client, own=own, others=tuple(w for w in workspaces if w.name != own.name))


def check_distinct(target: RotationTarget, pending: Any, peers: WorkspacePeers) -> None:
    """Refuse a pending value that another workspace's secret of the same kind holds (at
    AWSCURRENT, AWSPENDING or AWSPREVIOUS). Secrets Manager reads only.

    Raises:
        RotationError: the value is another workspace's (permanent; names both workspaces), or
            a peer's secret could not be read (retryable when transient).
    """
    kind = target.secret_kind
    for other in peers.others:
        for stage in COMPARED_STAGES:
            value = peers.read(other, target.kind, stage)
            if value is not None and kind.same_value(pending, value):
                raise RotationError(
                    peers.step,
                    f"the value pending for workspace {peers.own.name} (secret {target.name}) is the "
                    f"{stage} value of workspace {other.name}'s secret: every workspace needs its own; "
                    f"{kind.staging_instructions(target.name)}",
                )


def check_label(step: str, target: RotationTarget, value: Any, *, where: str) -> None:
    """Refuse a value whose ``workspace`` label names another workspace than the one that owns the
    target secret (``target.workspace``, from ``Workspaces.owner_of``). A value without a label
    (staged by hand, or before labels existed) passes. No call is made.

    Args:
        step: the step, for the error.
        target: the secret being rotated.
        value: the staged or pending value (a model of the target's kind).
        where: what holds the value, for the message (the staging secret, or the pending version).

    Raises:
        RotationError: permanent (``rotate`` removes AWSPENDING); names both workspaces, never
            the value.
    """
    labelled = foreign_label(value, target.workspace)
    if labelled is None:
        return
    raise RotationError(
        step,
        f"the value in {where} was staged for workspace {labelled}, but secret {target.name} belongs "
        f"to workspace {target.workspace}: stage {target.workspace}'s own value (ciosec secrets stage "
        f"... --workspace {target.workspace}); if the order of the stack's Workspaces parameter "
        "changed (its first name owns the stack's original secrets), restore it instead; "
        f"{target.secret_kind.staging_instructions(target.name)}",
    )
