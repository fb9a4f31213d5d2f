"""The workspace label of a secret value, checked where the value is used (the reorder guard).

The stack's ``Workspaces`` parameter decides which secrets a workspace reads: the first name owns
the stack's original secrets, every other name ``{prefix}workspaces/{name}/{kind}``. Reordering
the list (``produs,prodeu`` -> ``prodeu,produs``) would hand the original secrets, which still
hold produs's credentials, to prodeu. A value staged with ``ciosec secrets stage KIND --workspace
NAME`` carries ``"workspace": NAME``, so whoever reads it can tell:

- the Track credentials and App API key providers (``loaders``) raise ``WorkspaceMismatchError``
  (a SecretError: the deletion function retries, nothing is sent to Customer.io; a verification
  gets no answer, never a false "verified");
- the webhook's key loaders log a warning and keep verifying (a mismatch only mislabels events);
- the rotation refuses to stage or promote a value labelled for another workspace.

A value without a label (older secrets, the template's placeholders) is accepted as before.
Workspace names are configuration, never secret: messages name both workspaces, never a value.

>>> from cio_security.secrets.models import TrackCredentials
>>> creds = TrackCredentials(site_id="s", api_key="k", workspace="produs")  # type: ignore[arg-type]
>>> foreign_label(creds, "prodeu")
'produs'
>>> foreign_label(creds, "produs") is None
True
"""

from __future__ import annotations

from cio_security.errors import SecretError
from cio_security.secrets.models import WorkspaceLabelled

__all__ = ["WorkspaceMismatchError", "foreign_label", "mismatch_message", "require_workspace"]


def foreign_label(value: WorkspaceLabelled, expected: str | None) -> str | None:
    """The workspace ``value`` is labelled for when that is not ``expected``; None when the value
    has no label, nothing is expected (None), or the label is ``expected``."""
    label = value.workspace
    if label is None or expected is None or label == expected:
        return None
    return label


def mismatch_message(secret_id: str, what: str, *, expected: str, labelled: str) -> str:
    """Why a workspace must not use a value labelled for another one (names both, never a value)."""
    return (
        f"secret {secret_id} holds {what} staged for workspace {labelled}, but workspace {expected} "
        f"reads it: the order of the stack's Workspaces parameter may have changed (its first name "
        f"reads the stack's original secrets): restore the previous order (docs/WORKSPACES.md, "
        f"Reordering Workspaces); a rotation cannot move one workspace's credentials into another's"
    )


class WorkspaceMismatchError(SecretError):
    """A secret value labelled for another workspace than the one reading it. ``expected`` and
    ``labelled`` are workspace names (configuration, safe to log); the value is never quoted."""

    def __init__(self, secret_id: str, what: str, *, expected: str, labelled: str) -> None:
        self.secret_id = secret_id
        self.expected = expected
        self.labelled = labelled
        super().__init__(mismatch_message(secret_id, what, expected=expected, labelled=labelled))


def require_workspace[V: WorkspaceLabelled](
    value: V, expected: str | None, *, secret_id: str, what: str
) -> V:
    """``value``, when it may be used by workspace ``expected`` (no label, or its own; ``expected``
    None checks nothing); WorkspaceMismatchError otherwise."""
    labelled = foreign_label(value, expected)
    if labelled is not None and expected is not None:
        raise WorkspaceMismatchError(secret_id, what, expected=expected, labelled=labelled)
    return value
