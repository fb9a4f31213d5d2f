"""The deletion request (DESIGN section 4): the body of a deletion queue message."""

from __future__ import annotations

import calendar
import json
import re
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
from pydantic_core import InitErrorDetails, PydanticCustomError

from cio_security.errors import InvalidDeletionRequestError
from cio_security.sanitizer.loggable import personal_data_shape
from cio_security.validation import StrictModel, no_control_chars

IdentifierType = Literal["id", "email", "cio_id", "phone"]
Action = Literal["erase", "delete"]
Regulation = Literal["gdpr", "ccpa"]

EARLIEST_REQUEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW = timedelta(days=1)
MAX_ID_BYTES: Final = 150
"""Customer.io's limit on a person's ``id`` (Journeys Track API, "Customer limits"; the Track API
refuses a longer one with 400): a longer ``id`` identifier is a schema error, dead-lettered with
the field name, rather than a Track failure."""
E164: Final = re.compile(r"^\+[1-9][0-9]{1,14}$")
"""A phone number as Customer.io takes it: E.164, ``+`` and up to 15 digits."""


def _loggable_request_id(value: str) -> str:
    """A request id is logged, dead-lettered and stored as it is: it must be printable and must
    not have the shape of personal data (an email, a phone, card or social security number, an
    IBAN: ``personal_data_shape``), which would put that data in every log line of the request."""
    if not value.isprintable():
        raise ValueError("must be printable characters")
    shape = personal_data_shape(value)
    if shape is not None:
        raise ValueError(f"must not have the shape of personal data (it looks like: {shape})")
    return value


def add_one_month(moment: datetime) -> datetime:
    """The same day next month, clamped to the month's last day (31 Jan -> 28/29 Feb)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def infer_identifier_type(identifier: str) -> IdentifierType:
    """The type of an identifier given without ``identifier_type``: ``cio_...`` is a cio_id,
    anything with ``@`` an email, an E.164 number (``+14155552671``) a phone, the rest a
    Customer.io id. A request whose ids can look like emails or phone numbers states the type.

    >>> [infer_identifier_type(v) for v in ("cio_03000001", "a@b.c", "+14155552671", "42")]
    ['cio_id', 'email', 'phone', 'id']
    """
    if identifier.startswith("cio_"):
        return "cio_id"
    if "@" in identifier:
        return "email"
    if E164.match(identifier):
        return "phone"
    return "id"


def identifier_problem(identifier_type: IdentifierType, identifier: str) -> str | None:
    """Why ``identifier`` cannot name a person as ``identifier_type`` (a short text that never
    quotes the value), or None. Track API v2 takes the type as stated (no shape inference), so only
    what Customer.io would refuse is refused here: text that is not valid UTF-8, an ``id`` over
    150 bytes, an ``email`` without ``@``, a ``phone`` not in E.164, an empty ``cio_id``."""
    try:
        size = len(identifier.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: JSON can escape one, UTF-8 cannot hold it
        return "must be valid UTF-8 text"
    if identifier_type == "id" and size > MAX_ID_BYTES:
        return f"an id is at most {MAX_ID_BYTES} bytes (Customer.io's limit)"
    if identifier_type == "email" and "@" not in identifier:
        return "an email needs an @"
    if identifier_type == "phone" and not E164.match(identifier):
        return "a phone number must be E.164 (+ and up to 15 digits)"
    if identifier_type == "cio_id" and not identifier.removeprefix("cio_").strip():
        return "a cio_id must not be empty"
    return None


class DeletionRequest(StrictModel):
    """One GDPR/CCPA deletion request, the body of a deletion queue message.

    ``regulation`` defaults to ``gdpr`` (the shorter deadline) and ``requested_at`` to the moment
    the request is parsed; ``identifier_type`` is honoured as stated (Track API v2 takes it
    explicitly, and a workspace may use email-shaped ids) and inferred from the shape only when
    absent (``infer_identifier_type``).

    >>> DeletionRequest.model_validate({"request_id": "r1", "identifier": "a@b.c"}).identifier_type
    'email'
    """

    request_id: Annotated[
        str, StringConstraints(min_length=1, max_length=128), AfterValidator(_loggable_request_id)
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
        identifier_type = self.identifier_type or infer_identifier_type(self.identifier)
        object.__setattr__(self, "identifier_type", identifier_type)
        problem = identifier_problem(identifier_type, self.identifier)
        if problem is not None:
            # Located at "identifier", so the dead letter names the field (never the value).
            detail = InitErrorDetails(
                type=PydanticCustomError("identifier", problem), loc=("identifier",), input=None
            )
            raise ValidationError.from_exception_data(type(self).__name__, [detail])
        return self

    @property
    def steps(self) -> tuple[Literal["suppress", "delete"], ...]:
        """The Track API operations this request needs: one, sent in a v2 batch. ``erase`` is a
        suppress, which deletes the person and blocks their identifiers (CUSTOMERIO.md: a delete
        after it is redundant); ``delete`` only deletes."""
        return ("suppress",) if self.action == "erase" else ("delete",)

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
    if isinstance(value, str) and 1 <= len(value) <= 128:
        try:
            return _loggable_request_id(value)
        except ValueError:
            return None
    return None


def parse_deletion_message(body: str | bytes) -> DeletionRequest:
    """Parse a deletion queue message body into a DeletionRequest.

    Raises InvalidDeletionRequestError with reason ``invalid_json`` (not JSON) or ``schema_error``
    (JSON, but not a valid request). The error names invalid fields only when they are fields of
    the model: an unexpected key, which could itself be personal data, is never named.

    >>> parse_deletion_message('{"request_id": "r1", "identifier": "u1"}').steps
    ('suppress',)
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
