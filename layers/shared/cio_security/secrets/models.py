"""The secrets' JSON shapes (DESIGN section 2): Track credentials, webhook signing key, pepper, and
the optional App API key that enables erasure verification.

Track credentials, App API keys and signing keys may carry an optional ``workspace`` label: the
name of the stack's workspace (``cio_security.workspaces``) the value was staged for, written by
``ciosec secrets stage KIND --workspace NAME``. A value without it (older secrets, the template's
placeholders) is read as before. The label is configuration, not a secret: it may be logged; the
functions and the rotation refuse a value whose label names another workspace than the secret's
owner (``cio_security.secrets.labels``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, StringConstraints, field_validator

from cio_security.validation import CONTROL_CHARACTERS, StrictModel, no_control_chars
from cio_security.workspaces import WORKSPACE_NAME_PATTERN

Region = Literal["us", "eu"]
WorkspaceLabel = Annotated[str, StringConstraints(pattern=WORKSPACE_NAME_PATTERN)]
"""A workspace name (``cio_security.workspaces.WORKSPACE_NAME_PATTERN``): lowercase letters, digits
and inner hyphens, 1-32 characters; safe in a log line."""
# A signing key is what Customer.io shows in its UI: URL-safe printable ASCII, no whitespace.
_SIGNING_KEY = re.compile(r"^[A-Za-z0-9_\-+/=.:]+$")
MIN_SIGNING_KEY_LENGTH = 32
MIN_PEPPER_LENGTH = 32


class WorkspaceLabelled(StrictModel):
    """A secret value that may say which workspace it was staged for (``workspace``, optional)."""

    workspace: WorkspaceLabel | None = None
    """The workspace the value was staged for; None: not labelled (older values, placeholders)."""


class TrackCredentials(WorkspaceLabelled):
    """Track API credentials secret: ``{"site_id", "api_key", "region"}``, optionally
    ``"workspace"`` (the workspace it was staged for)."""

    site_id: Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(no_control_chars)]
    api_key: SecretStr = Field(min_length=1, max_length=512)
    region: Region = "us"

    @field_validator("api_key")
    @classmethod
    def _api_key_printable(cls, value: SecretStr) -> SecretStr:
        if CONTROL_CHARACTERS.search(value.get_secret_value()):
            raise ValueError("must not contain control characters")
        return value

    def same_as(self, other: TrackCredentials) -> bool:
        """True when both hold the same site id and API key (region and label aside)."""
        return (
            self.site_id == other.site_id
            and self.api_key.get_secret_value() == other.api_key.get_secret_value()
        )


class SigningKey(WorkspaceLabelled):
    """Webhook signing key secret: ``{"signing_key"}``, optionally ``"workspace"``."""

    signing_key: SecretStr

    @field_validator("signing_key")
    @classmethod
    def _shape(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if len(raw) < MIN_SIGNING_KEY_LENGTH or len(raw) > 512:
            raise ValueError(f"must be {MIN_SIGNING_KEY_LENGTH} to 512 characters long")
        if not _SIGNING_KEY.match(raw):
            raise ValueError("must be printable ASCII without whitespace")
        return value

    def key_bytes(self) -> bytes:
        """The key as bytes for HMAC."""
        return self.signing_key.get_secret_value().encode("ascii")

    def same_as(self, other: SigningKey) -> bool:
        """True when both hold the same key (label aside)."""
        return self.signing_key.get_secret_value() == other.signing_key.get_secret_value()


class Pepper(StrictModel):
    """Hashing pepper secret: ``{"pepper"}``, at least 32 characters of randomness."""

    pepper: SecretStr

    @field_validator("pepper")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_PEPPER_LENGTH:
            raise ValueError(f"must be at least {MIN_PEPPER_LENGTH} characters")
        return value

    def key_bytes(self) -> bytes:
        """The pepper as bytes for HMAC."""
        return self.pepper.get_secret_value().encode("utf-8")


class AppApiKey(WorkspaceLabelled):
    """App API key secret: ``{"app_api_key", "region"}`` (optionally ``"workspace"``), a Bearer
    token for ``api.customer.io`` (``region`` ``eu``: ``api-eu.customer.io``; ``us`` when absent),
    a scoped key created in Customer.io in the workspace of the Track credentials; it only needs
    to read people."""

    app_api_key: SecretStr = Field(min_length=1, max_length=512)
    region: Region = "us"

    @field_validator("app_api_key")
    @classmethod
    def _printable(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if CONTROL_CHARACTERS.search(raw) or not raw.strip() or raw != raw.strip():
            raise ValueError("must be printable, without surrounding whitespace")
        return value

    def same_as(self, other: AppApiKey) -> bool:
        """True when both hold the same key (region and label aside)."""
        return self.app_api_key.get_secret_value() == other.app_api_key.get_secret_value()
