"""Where a deletion goes in each Customer.io workspace: ``WorkspaceRoutes``, one Track client and one
erasure verifier per workspace, each built the first time it is needed and kept.

A company runs several workspaces (``cio_security.workspaces``), each with its own Track
credentials, App API key and rate limits, so each workspace gets its own ``TrackClient`` (its own
token bucket: one workspace's backlog never spends another's budget) and its own verifier (or none:
a workspace whose App API key secret holds the template's placeholder is recorded
``not_verified``). Building them lazily keeps a cold start from reading every workspace's secrets;
keeping them keeps the HTTP pools and the buckets for the execution environment's life.

>>> routes = WorkspaceRoutes.single(track_client)            # doctest: +SKIP
>>> routes.names, routes.client("default") is track_client  # doctest: +SKIP
(('default',), True)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from cio_security.errors import ConfigurationError
from cio_security.workspaces import DEFAULT_WORKSPACE, UnknownWorkspaceError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from cio_security.customerio.urls import BaseUrlOverride
    from cio_security.deletion.settings import DeletionSettings
    from cio_security.deletion.submission import BatchClient
    from cio_security.deletion.verification_protocol import ErasureVerifier
    from cio_security.secrets.store import SecretStore
    from cio_security.workspaces import Workspaces

__all__ = ["PerWorkspace", "WorkspaceRoutes", "deletion_routes"]


T_co = TypeVar("T_co", covariant=True)


class PerWorkspace(Generic[T_co]):  # noqa: UP046 - declared covariant: PerWorkspace[AppClient] is a PerWorkspace[PersonLookup]
    """One ``T`` per workspace, built by ``factory(name)`` the first time it is asked for and kept
    (a factory that raises is asked again next time). Only the workspaces in ``names``: another
    name raises UnknownWorkspaceError. Thread-safe.

    >>> clients = PerWorkspace(["prod-us", "prod-eu"], lambda name: f"client of {name}")
    >>> clients.get("prod-eu")
    'client of prod-eu'
    """

    def __init__(self, names: Sequence[str], factory: Callable[[str], T_co]) -> None:
        self.names = tuple(names)
        self._factory = factory
        self._built: dict[str, T_co] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> T_co:
        """The ``T`` of workspace ``name``."""
        if name not in self.names:
            raise UnknownWorkspaceError([name])
        with self._lock:
            if name not in self._built:
                self._built[name] = self._factory(name)
            return self._built[name]

    def built(self) -> list[T_co]:
        """Every ``T`` built so far."""
        with self._lock:
            return list(self._built.values())

    def clear(self) -> list[T_co]:
        """Forget every ``T`` built so far; returns them (to close)."""
        with self._lock:
            built, self._built = list(self._built.values()), {}
        return built


class WorkspaceRoutes:
    """The stack's workspaces (``names``, the first the primary) with a Track client and an erasure
    verifier for each, from ``client(name)`` and ``verifier(name)`` factories called at most once
    per workspace (a factory that raises is asked again next time: a secret that could not be read
    is read again on the redelivery). Thread-safe.

    ``verifier(name)`` None: nothing verifies that workspace's erasures (``not_verified``).
    """

    def __init__(
        self,
        names: Sequence[str],
        client: Callable[[str], BatchClient],
        verifier: Callable[[str], ErasureVerifier | None] | None = None,
    ) -> None:
        if not names:
            raise ConfigurationError("at least one Customer.io workspace is required")
        if len(set(names)) != len(names):
            raise ConfigurationError("a workspace is named twice")
        self.names = tuple(names)
        self._clients: PerWorkspace[BatchClient] = PerWorkspace(self.names, client)
        self._verifiers: PerWorkspace[ErasureVerifier | None] = PerWorkspace(
            self.names, verifier or (lambda _name: None)
        )

    @classmethod
    def single(
        cls, client: BatchClient, verifier: ErasureVerifier | None = None, *, name: str = DEFAULT_WORKSPACE
    ) -> WorkspaceRoutes:
        """One workspace (``name``) served by ``client`` and ``verifier``."""
        return cls([name], lambda _name: client, lambda _name: verifier)

    def __repr__(self) -> str:
        return f"WorkspaceRoutes(names={self.names!r})"

    @property
    def primary(self) -> str:
        """The primary workspace: a record written before workspaces existed is its state."""
        return self.names[0]

    def select(self, names: Sequence[str] | None) -> tuple[str, ...]:
        """The workspaces ``names`` picks, in configured order (None: all of them). An unknown name
        raises UnknownWorkspaceError naming every unknown one."""
        if names is None:
            return self.names
        unknown = [name for name in dict.fromkeys(names) if name not in self.names]
        if unknown or not names:
            raise UnknownWorkspaceError(unknown)
        wanted = set(names)
        return tuple(name for name in self.names if name in wanted)

    def ordered(self, names: Sequence[str]) -> tuple[str, ...]:
        """``names`` in configured order, the ones no longer configured last (sorted)."""
        known = [name for name in self.names if name in names]
        return tuple(known) + tuple(sorted(set(names) - set(self.names)))

    def client(self, name: str) -> BatchClient:
        """The Track client of workspace ``name`` (built on first use). UnknownWorkspaceError for a
        name the stack is not configured with; whatever the factory raises (a SecretError, a
        ConfigurationError) otherwise."""
        return self._clients.get(name)

    def verifier(self, name: str) -> ErasureVerifier | None:
        """The erasure verifier of workspace ``name`` (decided on first use), or None when its
        erasures are not verified."""
        return self._verifiers.get(name)

    def close(self) -> None:
        """Close every client built (their connection pools)."""
        for client in self._clients.clear():
            close = getattr(client, "close", None)
            if callable(close):
                close()


def deletion_routes(
    workspaces: Workspaces,
    secrets: SecretStore,
    settings: DeletionSettings,
    sqs: SQSClient | None = None,
    *,
    track_urls: BaseUrlOverride = None,
) -> WorkspaceRoutes:
    """The deletion function's routes: for each of the stack's ``workspaces``, a ``TrackClient``
    with that workspace's credentials (re-read on a 401), ``track_urls`` (the local stack's
    sandboxes; None: Customer.io's hosts), the settings' retry policy and a token bucket at this
    invocation's share of the workspace's own budget (``DeletionSettings.rate_for``); and its
    erasure verifier (``verification_settings.erasure_verifier`` on its App API key secret: None,
    erasures recorded ``not_verified``, while the secret holds the template's placeholder)."""
    # Imported here: the HTTP client and the verifier load only when a deletion function builds them.
    from cio_security.customerio.ratelimit import TokenBucket  # noqa: PLC0415
    from cio_security.customerio.track import TrackClient  # noqa: PLC0415
    from cio_security.deletion.verification_settings import erasure_verifier  # noqa: PLC0415
    from cio_security.secrets.loaders import track_credentials_provider  # noqa: PLC0415

    def client(name: str) -> BatchClient:
        workspace = workspaces.get(name)
        return TrackClient(
            # Credentials labelled for another workspace (a reordered Workspaces) raise a
            # SecretError before anything is sent: the requests are retried, never misrouted.
            track_credentials_provider(secrets, workspace.track_credentials_secret_id, workspace=name),
            base_url=track_urls,
            retry=settings.retry,
            rate_limit=TokenBucket(settings.rate_for(workspace)),
        )

    def verifier(name: str) -> ErasureVerifier | None:
        secret_id = workspaces.get(name).app_api_key_secret_id
        return erasure_verifier(secrets, sqs, secret_id=secret_id, workspace=name)

    return WorkspaceRoutes(workspaces.names, client, verifier)
