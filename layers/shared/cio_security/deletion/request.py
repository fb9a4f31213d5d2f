"""The deletion request (DESIGN section 4): the body of a deletion queue message."""

from __future__ import annotations

import calendar
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from cio_security.errors import InvalidDeletionRequestError
from cio_security.validation import StrictModel, no_control_chars

IdentifierType = Literal["id", "email", "cio_id"]
Action = Literal["erase", "delete"]
Regulation = Literal["gdpr", "ccpa"]

EARLIEST_REQUEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW = timedelta(days=1)


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


class DeletionRequest(StrictModel):
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
        str, StringConstraints(min_length=1, max_length=512), AfterValidator(no_control_chars)
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


_KNOWN_FIELDS: Final = frozenset(DeletionRequest.model_fields)


def _readable_request_id(data: Any) -> str | None:
    """The message's request_id if it is one a DeletionRequest would accept (for the DLQ)."""
    if not isinstance(data, dict):
        return None
    value = data.get("request_id")
    if isinstance(value, str) and 1 <= len(value) <= 128 and value.isprintable():
        return value
    return None


def parse_deletion_message(body: str | bytes) -> DeletionRequest:
    """Parse a deletion queue message body into a DeletionRequest.

    Raises InvalidDeletionRequestError with reason ``invalid_json`` (not JSON) or ``schema_error``
    (JSON, but not a valid request). The error names invalid fields only when they are fields of
    the model: an unexpected key, which could itself be personal data, is never named.

    >>> parse_deletion_message('{"request_id": "r1", "identifier": "u1"}').steps
    ('suppress', 'delete')
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidDeletionRequestError("invalid_json") from None
    request_id = _readable_request_id(data)
    if not isinstance(data, dict):
        raise InvalidDeletionRequestError("schema_error", fields=("(root)",))
    try:
        return DeletionRequest.model_validate(data)
    except ValidationError as exc:
        fields = sorted(
            {
                str(err["loc"][0]) if err["loc"] and err["loc"][0] in _KNOWN_FIELDS else "(unexpected field)"
                for err in exc.errors()
            }
        )
        raise InvalidDeletionRequestError(
            "schema_error", request_id=request_id, fields=tuple(fields)
        ) from None
