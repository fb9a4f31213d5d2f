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

if TYPE_CHECKING:
    from cio_security.rotation.kinds import KindName

__all__ = ["RotationSettings"]


@dataclass(frozen=True)
class RotationSettings:
    """Which secrets the function rotates, and how testSecret calls Customer.io.

    ``track_credentials_secret_id``, ``signing_key_secret_id`` and ``app_api_key_secret_id`` are
    names or ARNs (an empty one is not rotated). ``track_url`` overrides the Track API host of the
    credentials' region, ``app_url`` the App API host of the key's region (the sandbox).
    ``retry`` is the policy of testSecret's Customer.io calls (the region call, the App API's
    workspace list): the ``ROTATION_TEST`` preset, two attempts with short waits, because Secrets
    Manager retries a failed step; its worst case, twice (pending and current value), stays well
    inside the function's Timeout. ``transport`` and ``sleep`` are injectable for tests.
    """

    track_credentials_secret_id: str = ""
    signing_key_secret_id: str = ""
    app_api_key_secret_id: str = ""
    track_url: str | None = None
    app_url: str | None = None
    retry: RetryPolicy = ROTATION_TEST
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], object] = field(default=time.sleep, repr=False)

    @classmethod
    def from_env(cls) -> RotationSettings:
        """``TRACK_CREDENTIALS_SECRET_ID``, ``SIGNING_KEY_SECRET_ID``, ``APP_API_KEY_SECRET_ID`` (at
        least one of the first two), ``CUSTOMERIO_TRACK_URL`` and ``CUSTOMERIO_APP_URL``. Raises
        ConfigurationError when neither the Track credentials nor the signing key is configured."""
        settings = cls(
            track_credentials_secret_id=config.env_str(config.TRACK_CREDENTIALS_SECRET_ID),
            signing_key_secret_id=config.env_str(config.SIGNING_KEY_SECRET_ID),
            app_api_key_secret_id=config.env_str(config.APP_API_KEY_SECRET_ID),
            track_url=config.env_str(config.CUSTOMERIO_TRACK_URL) or None,
            app_url=config.env_str(config.CUSTOMERIO_APP_URL) or None,
        )
        if not settings.configured_secrets():
            raise ConfigurationError(
                f"environment variable {config.TRACK_CREDENTIALS_SECRET_ID} or "
                f"{config.SIGNING_KEY_SECRET_ID} is required"
            )
        return settings

    def configured_secrets(self) -> tuple[tuple[KindName, str], ...]:
        """The configured secret ids, each with the kind of secret it holds (empty ones left out)."""
        configured: tuple[tuple[KindName, str], ...] = (
            ("track", self.track_credentials_secret_id),
            ("signing_key", self.signing_key_secret_id),
            ("app_api_key", self.app_api_key_secret_id),
        )
        return tuple((kind, secret_id) for kind, secret_id in configured if secret_id)
