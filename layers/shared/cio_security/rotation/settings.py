"""What the rotation needs besides the Secrets Manager client, with every default in one place.

>>> settings = RotationSettings.from_env()   # doctest: +SKIP
>>> settings.retry is ROTATION_TEST           # doctest: +SKIP
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from cio_security import config
from cio_security.customerio.retry import ROTATION_TEST, RetryPolicy
from cio_security.errors import ConfigurationError
from cio_security.workspaces import (
    DEFAULT_WORKSPACE,
    Workspace,
    Workspaces,
    region_url_overrides,
    workspaces_from_env,
)

if TYPE_CHECKING:
    from cio_security.customerio.urls import BaseUrlOverride
    from cio_security.rotation.kinds import KindName

__all__ = ["RotationSettings"]


@dataclass(frozen=True)
class RotationSettings:
    """Which secrets the function rotates, and how testSecret calls Customer.io.

    ``workspaces`` are the stack's Customer.io workspaces (``cio_security.workspaces``): the
    function rotates any of their secrets, and testSecret checks a pending value against the
    other workspaces' (a credential set of one workspace is never promoted into another's
    secret). Without it, the one workspace named by ``track_credentials_secret_id``,
    ``signing_key_secret_id`` and ``app_api_key_secret_id`` (names or ARNs; an empty one is not
    rotated): what the operator's command line builds for a single secret.

    ``track_url`` overrides the Track API host (one URL, or one per region: the local stack runs
    a sandbox per region), ``app_url`` the App API host (the sandbox). ``retry`` is the policy of
    testSecret's Customer.io calls (the region call, the App API's workspace list): the
    ``ROTATION_TEST`` preset, two attempts with short waits, because Secrets Manager retries a
    failed step; its worst case, twice (pending and current value) plus one call per other
    workspace, stays well inside the function's Timeout. ``transport`` and ``sleep`` are
    injectable for tests.
    """

    track_credentials_secret_id: str = ""
    signing_key_secret_id: str = ""
    app_api_key_secret_id: str = ""
    track_url: BaseUrlOverride = None
    app_url: BaseUrlOverride = None
    retry: RetryPolicy = ROTATION_TEST
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], object] = field(default=time.sleep, repr=False)
    workspaces: Workspaces | None = None

    @classmethod
    def from_env(cls) -> RotationSettings:
        """``TRACK_CREDENTIALS_SECRET_ID``, ``SIGNING_KEY_SECRET_ID``, ``APP_API_KEY_SECRET_ID`` (the
        primary workspace's; at least one of the first two), the workspaces
        (``CUSTOMERIO_WORKSPACES``, ``CUSTOMERIO_WORKSPACE_SECRET_PREFIX``), and the base URL
        overrides ``CUSTOMERIO_TRACK_URL`` / ``CUSTOMERIO_APP_URL`` (each also per region, with
        ``_US`` / ``_EU``). Raises ConfigurationError when neither the Track credentials nor the
        signing key is configured, or when the workspaces are not."""
        settings = cls(
            track_credentials_secret_id=config.env_str(config.TRACK_CREDENTIALS_SECRET_ID),
            signing_key_secret_id=config.env_str(config.SIGNING_KEY_SECRET_ID),
            app_api_key_secret_id=config.env_str(config.APP_API_KEY_SECRET_ID),
            track_url=_override(config.CUSTOMERIO_TRACK_URL),
            app_url=_override(config.CUSTOMERIO_APP_URL),
            workspaces=workspaces_from_env(),
        )
        if not settings.configured_secrets():
            raise ConfigurationError(
                f"environment variable {config.TRACK_CREDENTIALS_SECRET_ID} or "
                f"{config.SIGNING_KEY_SECRET_ID} is required"
            )
        return settings

    def configured_secrets(self) -> tuple[tuple[KindName, str], ...]:
        """The primary workspace's configured secret ids, each with the kind of secret it holds
        (empty ones left out)."""
        configured: tuple[tuple[KindName, str], ...] = (
            ("track", self.track_credentials_secret_id),
            ("signing_key", self.signing_key_secret_id),
            ("app_api_key", self.app_api_key_secret_id),
        )
        return tuple((kind, secret_id) for kind, secret_id in configured if secret_id)

    def workspace_set(self) -> Workspaces:
        """The workspaces whose secrets this function rotates: ``workspaces``, or else one
        workspace (``default``) holding the three configured secret ids."""
        if self.workspaces is not None:
            return self.workspaces
        only = Workspace(
            name=DEFAULT_WORKSPACE,
            track_credentials_secret_id=self.track_credentials_secret_id or None,
            signing_key_secret_id=self.signing_key_secret_id or None,
            app_api_key_secret_id=self.app_api_key_secret_id or None,
            primary=True,
        )
        return Workspaces((only,))


def _override(variable: str) -> BaseUrlOverride:
    """``variable`` as one URL when no per-region variant is set (as before workspaces), else the
    per-region overrides (``region_url_overrides``)."""
    if not (config.env_str(f"{variable}_US") or config.env_str(f"{variable}_EU")):
        return config.env_str(variable) or None
    return region_url_overrides(variable)
