"""The secrets' JSON shapes (DESIGN section 2): Track credentials, webhook signing key, pepper, and
the optional App API key that enables erasure verification."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, StringConstraints, field_validator

from cio_security.validation import CONTROL_CHARACTERS, StrictModel, no_control_chars

Region = Literal["us", "eu"]
# A signing key is what Customer.io shows in its UI: URL-safe printable ASCII, no whitespace.
_SIGNING_KEY = re.compile(r"^[A-Za-z0-9_\-+/=.:]+$")
MIN_SIGNING_KEY_LENGTH = 32
MIN_PEPPER_LENGTH = 32


class TrackCredentials(StrictModel):
    """Track API credentials secret: ``{"site_id", "api_key", "region"}``."""

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
        """True when both hold the same site id and API key (region aside)."""
        return (
            self.site_id == other.site_id
            and self.api_key.get_secret_value() == other.api_key.get_secret_value()
        )


class SigningKey(StrictModel):
    """Webhook signing key secret: ``{"signing_key"}``."""

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


class AppApiKey(StrictModel):
    """App API key secret: ``{"app_api_key", "region"}``, a Bearer token for ``api.customer.io``
    (``region`` ``eu``: ``api-eu.customer.io``; ``us`` when absent), a scoped key created in
    Customer.io in the workspace of the Track credentials; it only needs to read people."""

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
        """True when both hold the same key (region aside)."""
        return self.app_api_key.get_secret_value() == other.app_api_key.get_secret_value()
