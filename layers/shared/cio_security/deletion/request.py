"""The deletion request (DESIGN section 4): the body of a deletion queue message.

```json
{
  "request_id": "dsar-2026-0001",
  "identifier": "user-123",
  "identifier_type": "id",
  "action": "erase",
  "regulation": "gdpr",
  "requested_at": "2026-11-28T10:00:00Z",
  "workspaces": ["prod-eu"]
}
```

``request_id`` and ``identifier`` are required. ``workspaces`` (optional) is the subset of the
stack's configured Customer.io workspaces to erase in: absent or null, every one of them; given, a
non-empty list of distinct workspace names (``cio_security.workspaces.WORKSPACE_NAME_PATTERN``).
Whether the names are configured is the processor's check, not the parser's.

A message that is not a valid request raises InvalidDeletionRequestError (a
``DeletionMessageError``): ``.fields`` names the fields at fault and ``.problems`` says, one
sentence each, which rule each breaks, never quoting a value:

>>> try:
...     parse_deletion_message('{"request_id": "r1", "identifier": "u1", "requested_at": "2026-11-28T10:00"}')
... except DeletionMessageError as exc:
...     exc.fields, [str(p) for p in exc.problems]
(('requested_at',), ['requested_at needs a timezone (e.g. 2026-11-28T10:00:00Z)'])
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from cio_security.errors import DeletionRejection, InvalidDeletionRequestError
from cio_security.sanitizer.loggable import personal_data_shape
from cio_security.validation import (
    ROOT,
    FieldProblem,
    StrictModel,
    field_problems,
    no_control_chars,
    rule_error,
)
from cio_security.workspaces import WORKSPACE_NAME_PATTERN

__all__ = [
    "EXAMPLE_TIME",
    "MAX_ID_BYTES",
    "MAX_WORKSPACES",
    "DeletionMessageError",
    "DeletionRequest",
    "RequestId",
    "add_one_month",
    "identifier_problem",
    "infer_identifier_type",
    "parse_deletion_message",
    "readable_request_id",
    "request_problems",
]

IdentifierType = Literal["id", "email", "cio_id", "phone"]
Action = Literal["erase", "delete"]
Regulation = Literal["gdpr", "ccpa"]

EARLIEST_REQUEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW = timedelta(days=1)
EXAMPLE_TIME: Final = "2026-11-28T10:00:00Z"
MAX_ID_BYTES: Final = 150
"""Customer.io's limit on a person's ``id`` (Journeys Track API, "Customer limits"; the Track API
refuses a longer one with 400): a longer ``id`` identifier is a schema error, dead-lettered with
the field name, rather than a Track failure."""
MAX_WORKSPACES: Final = 32
"""More names than any stack has workspaces: a longer list is a mistake, refused early."""
E164: Final = re.compile(r"^\+[1-9][0-9]{1,14}$")
"""A phone number as Customer.io takes it: E.164, ``+`` and up to 15 digits."""
_WORKSPACE_NAME: Final = re.compile(WORKSPACE_NAME_PATTERN)


def _loggable_request_id(value: str) -> str:
    """A request id is logged, dead-lettered and stored as it is: it must be printable and must
    not be written like personal data, which would put that data in every log line of the request.
    Refused: anything with an ``@`` (an email); a phone number written internationally (``+`` and
    digits) or with separators (``(415) 555-0100``, ``415.555.0100``, ``020 7946 0000``); an SSN
    written with separators (``123-45-6789``); a card number written in groups
    (``4111 1111 1111 1111``, ``4111-1111-1111-1111``); an IBAN, compact or grouped. A run of digits
    with no separator inside it and no ``+`` before it is a counter or a ticket number, whatever its
    length or checksum (``dsar-123456789``, ``REQ-0512345678``): ``personal_data_shape`` with
    ``digit_runs_are_counters``.

    >>> [readable_request_id({"request_id": v}) for v in ("dsar-123456789", "dsar-123-45-6789")]
    ['dsar-123456789', None]
    """
    if not value.isprintable():
        raise ValueError("must be printable characters (no control characters or line breaks)")
    shape = personal_data_shape(value, digit_runs_are_counters=True)
    if shape is not None:
        raise ValueError(
            f"must not have the shape of personal data (it looks like: {shape}); use your DSAR "
            "reference, such as dsar-2026-0001"
        )
    return value


def _workspace_name(value: str) -> str:
    if not _WORKSPACE_NAME.match(value):
        raise ValueError(
            "must be a workspace name: lowercase letters, digits and inner hyphens, 1-32 characters"
        )
    return value


WorkspaceName = Annotated[str, AfterValidator(_workspace_name)]
RequestId = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_loggable_request_id)
]
"""A deletion ``request_id`` (DESIGN 4): 1-128 printable characters, not written as personal data
(``_loggable_request_id``); the same rule wherever one is read (requests, verification tickets)."""


def add_one_month(moment: datetime) -> datetime:
    """The same day next month, clamped to the month's last day (31 Jan -> 28/29 Feb), at the same
    wall-clock time in ``moment``'s own timezone: the month is counted in the calendar ``moment``
    is written in (``DeletionRequest.deadline`` passes ``requested_at`` at its own offset).

    >>> add_one_month(datetime.fromisoformat("2026-01-31T22:00:00-05:00")).isoformat()
    '2026-02-28T22:00:00-05:00'
    """
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
    """Why ``identifier`` cannot name a person as ``identifier_type`` (the rule, never the value),
    or None. Track API v2 takes the type as stated (no shape inference), so only what Customer.io
    would refuse is refused here: an ``id`` over 150 bytes, an ``email`` without ``@``, a ``phone``
    not in E.164, an empty ``cio_id``. Text that is not valid UTF-8 is refused by the model.

    >>> identifier_problem("phone", "415-555-0100")
    'a phone number must be E.164 (+ and up to 15 digits, e.g. +14155552671)'
    """
    if identifier_type == "id" and len(identifier.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        return f"an id is at most {MAX_ID_BYTES} bytes in UTF-8 (Customer.io's limit)"
    if identifier_type == "email" and "@" not in identifier:
        return "an email needs an @"
    if identifier_type == "phone" and not E164.match(identifier):
        return "a phone number must be E.164 (+ and up to 15 digits, e.g. +14155552671)"
    if identifier_type == "cio_id" and not identifier.removeprefix("cio_").strip():
        return "a cio_id needs characters after its cio_ prefix"
    return None


class DeletionRequest(StrictModel):
    """One GDPR/CCPA deletion request, the body of a deletion queue message (module docstring).

    ``regulation`` defaults to ``gdpr`` (the shorter deadline) and ``requested_at`` to the moment
    the request is parsed (held in UTC; the offset it was given with is kept, for the deadline and
    when the request is serialized); ``identifier_type`` is honoured as stated (Track API v2 takes
    it explicitly, and a workspace may use email-shaped ids) and inferred from the shape only when
    absent (``infer_identifier_type``). ``workspaces`` None: every configured workspace.

    >>> DeletionRequest.model_validate({"request_id": "r1", "identifier": "a@b.c"}).identifier_type
    'email'
    """

    request_id: RequestId
    identifier: Annotated[
        str, StringConstraints(min_length=1, max_length=512), AfterValidator(no_control_chars)
    ]
    identifier_type: IdentifierType | None = None
    action: Action = "erase"
    regulation: Regulation = "gdpr"
    requested_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    workspaces: tuple[WorkspaceName, ...] | None = None
    _requested_offset: timedelta = PrivateAttr(default=timedelta(0))
    """The UTC offset ``requested_at`` was given with: the requester's calendar, in which the GDPR
    month is counted (``deadline``)."""

    @field_validator("identifier")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: JSON can escape one, UTF-8 cannot hold it
            raise ValueError("must be valid UTF-8 text") from None
        return value

    @field_validator("requested_at")
    @classmethod
    def _aware_in_range(cls, value: datetime) -> datetime:
        """Checked in UTC, returned at its own offset (``_requested_in_utc`` keeps the offset and
        holds the moment in UTC)."""
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"needs a timezone (e.g. {EXAMPLE_TIME})")
        try:
            moment = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range (before year 1 in UTC)") from None
        # A request cannot come from the future (one day of clock skew allowed), and the bounds
        # keep the statutory deadline representable.
        if moment < EARLIEST_REQUEST:
            raise ValueError("must not be before 2000-01-01")
        if moment > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise ValueError("must not be in the future (one day of clock skew is allowed)")
        return value

    @field_validator("workspaces")
    @classmethod
    def _distinct_workspaces(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must name at least one workspace (leave it out to erase in every workspace)")
        if len(value) > MAX_WORKSPACES:
            raise ValueError(f"must name at most {MAX_WORKSPACES} workspaces")
        if len(set(value)) != len(value):
            raise ValueError("must not name a workspace twice")
        return value

    @model_validator(mode="after")
    def _requested_in_utc(self) -> DeletionRequest:
        """``requested_at`` held in UTC, its offset kept for the deadline."""
        offset = self.requested_at.utcoffset()
        self._requested_offset = offset or timedelta(0)
        object.__setattr__(self, "requested_at", self.requested_at.astimezone(UTC))
        return self

    @field_serializer("requested_at")
    def _requested_at_as_given(self, value: datetime) -> datetime:
        """Serialized at the offset it was given with, so a message built from a request (``ciosec
        deletion submit``) keeps the requester's calendar, and its deadline."""
        return value.astimezone(timezone(self._requested_offset))

    @model_validator(mode="after")
    def _fill_identifier_type(self) -> DeletionRequest:
        stated = self.identifier_type
        identifier_type = stated or infer_identifier_type(self.identifier)
        object.__setattr__(self, "identifier_type", identifier_type)
        problem = identifier_problem(identifier_type, self.identifier)
        if problem is not None:
            # Located at "identifier", so the dead letter names the field (never the value).
            if stated is not None:
                text = f"identifier_type '{stated}' contradicts the identifier: {problem}"
            else:
                text = (
                    f"identifier (taken as identifier_type '{identifier_type}' from its shape): "
                    f"{problem}; state identifier_type if that is wrong"
                )
            raise rule_error(type(self).__name__, "identifier", text)
        return self

    @property
    def steps(self) -> tuple[Literal["suppress", "delete"], ...]:
        """The Track API operations this request needs: one, sent in a v2 batch. ``erase`` is a
        suppress, which deletes the person and blocks their identifiers (CUSTOMERIO.md: a delete
        after it is redundant); ``delete`` only deletes."""
        return ("suppress",) if self.action == "erase" else ("delete",)

    @property
    def deadline(self) -> datetime:
        """Statutory deadline, in UTC: GDPR one calendar month after the request, counted in the
        requester's calendar (``requested_at`` at the offset it was given with: 28 Feb 22:00
        -05:00, which is 1 Mar in UTC, is due 28 Mar 22:00 -05:00), CCPA 45 days.

        >>> DeletionRequest.model_validate(
        ...     {"request_id": "r1", "identifier": "u1", "requested_at": "2026-02-28T22:00:00-05:00"}
        ... ).deadline.isoformat()
        '2026-03-29T03:00:00+00:00'
        """
        if self.regulation == "ccpa":
            return self.requested_at + timedelta(days=45)
        local = self.requested_at.astimezone(timezone(self._requested_offset))
        return add_one_month(local).astimezone(UTC)


_KNOWN_FIELDS: Final = tuple(DeletionRequest.model_fields)


class DeletionMessageError(InvalidDeletionRequestError):
    """InvalidDeletionRequestError with ``.problems``: one FieldProblem per broken rule, each
    naming its field and the rule, never the value. Its text holds them all (safe to log)."""

    def __init__(
        self,
        reason: DeletionRejection,
        problems: Sequence[FieldProblem],
        *,
        request_id: str | None = None,
    ) -> None:
        self.problems = tuple(problems)
        fields = tuple(sorted({problem.field for problem in self.problems}))
        super().__init__(reason, request_id=request_id, fields=fields)
        self.args = (f"deletion request rejected: {reason}: {'; '.join(map(str, self.problems))}",)


def request_problems(exc: ValidationError) -> tuple[FieldProblem, ...]:
    """The problems of a DeletionRequest's ValidationError (``field_problems`` over its fields).

    >>> try:
    ...     DeletionRequest.model_validate({"request_id": "r1", "identifier": "u1", "action": "purge"})
    ... except ValidationError as exc:
    ...     [str(p) for p in request_problems(exc)]
    ["action must be 'erase' or 'delete'"]
    """
    return field_problems(exc, known=_KNOWN_FIELDS)


def readable_request_id(data: Any) -> str | None:
    """``data["request_id"]`` when it is one a DeletionRequest would accept (for the dead-letter
    queue, logs and the operator's listing), else None: never an id that could be personal data.

    >>> readable_request_id({"request_id": "dsar-1"}), readable_request_id({"request_id": "a@b.c"})
    ('dsar-1', None)
    """
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

    Raises DeletionMessageError (an InvalidDeletionRequestError) with reason ``invalid_json`` (not
    JSON) or ``schema_error`` (JSON, but not a valid request), ``.fields`` and ``.problems``. An
    unexpected key, which could itself be personal data, is never named in ``.fields``; a problem
    repeats it only when it is a near miss of a field name (``did you mean 'identifier'?``).

    >>> parse_deletion_message('{"request_id": "r1", "identifier": "u1"}').steps
    ('suppress',)
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise DeletionMessageError(
            "invalid_json", [FieldProblem(ROOT, "the message is not valid JSON (UTF-8)")]
        ) from None
    if not isinstance(data, dict):
        raise DeletionMessageError(
            "schema_error", [FieldProblem(ROOT, "the message must be a JSON object of a deletion request")]
        )
    request_id = readable_request_id(data)
    try:
        return DeletionRequest.model_validate(data)
    except ValidationError as exc:
        raise DeletionMessageError("schema_error", request_problems(exc), request_id=request_id) from None
