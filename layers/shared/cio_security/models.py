"""Pydantic models for the secrets (DESIGN section 2) and the deletion request (section 4)."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

Region = Literal["us", "eu"]
IdentifierType = Literal["id", "email", "cio_id"]
Action = Literal["erase", "delete"]
Regulation = Literal["gdpr", "ccpa"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A signing key is what Customer.io shows in its UI: URL-safe printable ASCII, no whitespace.
_SIGNING_KEY = re.compile(r"^[A-Za-z0-9_\-+/=.:]+$")
MIN_SIGNING_KEY_LENGTH = 32
MIN_PEPPER_LENGTH = 32
EARLIEST_REQUEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW = timedelta(days=1)


def _no_control_chars(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class TrackCredentials(_Strict):
    """Track API credentials secret: ``{"site_id", "api_key", "region"}``."""

    site_id: Annotated[
        str, StringConstraints(min_length=1, max_length=256), AfterValidator(_no_control_chars)
    ]
    api_key: SecretStr = Field(min_length=1, max_length=512)
    region: Region = "us"

    @field_validator("api_key")
    @classmethod
    def _api_key_printable(cls, value: SecretStr) -> SecretStr:
        if _CONTROL.search(value.get_secret_value()):
            raise ValueError("must not contain control characters")
        return value

    def same_as(self, other: TrackCredentials) -> bool:
        """True when both hold the same site id and API key (region aside)."""
        return (
            self.site_id == other.site_id
            and self.api_key.get_secret_value() == other.api_key.get_secret_value()
        )


class SigningKey(_Strict):
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


class Pepper(_Strict):
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


def _printable_request_id(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must be printable characters")
    return value


def add_one_month(moment: datetime) -> datetime:
    """The same day next month, clamped to the month's last day (31 Jan -> 28/29 Feb)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def infer_identifier_type(identifier: str) -> IdentifierType:
    """``cio_...`` is a cio_id, anything with ``@`` an email, the rest a Customer.io id."""
    if identifier.startswith("cio_"):
        return "cio_id"
    if "@" in identifier:
        return "email"
    return "id"


class DeletionRequest(_Strict):
    """One GDPR/CCPA deletion request, the body of a deletion queue message.

    ``regulation`` defaults to ``gdpr`` (the shorter deadline) and ``requested_at`` to the moment
    the request is parsed; ``identifier_type`` is inferred when absent.

    >>> DeletionRequest.model_validate({"request_id": "r1", "identifier": "a@b.c"}).identifier_type
    'email'
    """

    request_id: Annotated[
        str, StringConstraints(min_length=1, max_length=128), AfterValidator(_printable_request_id)
    ]
    identifier: Annotated[
        str, StringConstraints(min_length=1, max_length=512), AfterValidator(_no_control_chars)
    ]
    identifier_type: IdentifierType | None = None
    action: Action = "erase"
    regulation: Regulation = "gdpr"
    requested_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("identifier")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("requested_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a timezone (e.g. 2026-11-28T10:00:00Z)")
        try:
            moment = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range") from None
        # A request cannot come from the future (one day of clock skew allowed), and the bounds
        # keep the statutory deadline representable.
        if not EARLIEST_REQUEST <= moment <= datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise ValueError("must be between 2000-01-01 and now")
        return moment

    @model_validator(mode="after")
    def _fill_identifier_type(self) -> DeletionRequest:
        inferred = infer_identifier_type(self.identifier)
        if self.identifier_type is None:
            object.__setattr__(self, "identifier_type", inferred)
        elif self.identifier_type != inferred:
            # Customer.io reads the path segment by its shape (cio_ prefix, @), not by our field:
            # a contradicting type would erase a different person than the one the record names.
            raise ValueError(
                f"identifier_type {self.identifier_type} contradicts the identifier, which has the "
                f"shape of {inferred}"
            )
        return self

    @property
    def steps(self) -> tuple[Literal["suppress", "delete"], ...]:
        """The Track API calls this request needs, in order."""
        return ("suppress", "delete") if self.action == "erase" else ("delete",)

    @property
    def deadline(self) -> datetime:
        """Statutory deadline: GDPR one month after the request, CCPA 45 days."""
        if self.regulation == "ccpa":
            return self.requested_at + timedelta(days=45)
        return add_one_month(self.requested_at)
