"""The operator's side of deletion requests (``ciosec deletion ...`` and ``ciosec dlq ...``):
submit one request or a CSV of them, look up an audit record, report every request since a date
for a data-protection officer, list, redrive and discard the dead-letter queue. Every function
takes boto3 clients, so it runs against AWS, the local stack or moto alike.

Identifiers are personal data: they are read from standard input or a hidden prompt rather than
the command line (where shell history and process listings keep them), the dead-letter queue
listing shows request ids, reasons and field names, never an identifier unless explicitly asked
to, and every error names fields, columns and rows, never a value.
"""

from __future__ import annotations

import csv
import getpass
import hmac
import io
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, TextIO

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from cio_security.audit import transitions
from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import AuditRecord, iso, subject_hash
from cio_security.deletion.dead_letters import FIELDS_SEPARATOR
from cio_security.deletion.request import (
    DeletionMessageError,
    DeletionRequest,
    parse_deletion_message,
    readable_request_id,
    request_problems,
)
from cio_security.errors import AuditConflictError, CioSecurityError, LeaseHeldError
from cio_security.sanitizer.loggable import personal_data_shape
from cio_security.validation import closest_name

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

SQS_BATCH = 10
BULK_COLUMNS = (
    "request_id",
    "identifier",
    "identifier_type",
    "action",
    "regulation",
    "requested_at",
    "workspaces",
)
WORKSPACES_SEPARATOR: Final = ";"
"""How a CSV cell lists several workspaces: ``prod-us;prod-eu``."""
MAX_REPORTED_PROBLEMS: Final = 20
REDRIVE_POLICY_REASON = "max_receives"
"""The reason shown for a message the queue's redrive policy moved (it carries no attribute)."""
_COLUMN_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_ .-]{0,39}$")
"""What a header cell must look like before an error message repeats it."""
DISCARD_REASON: Final = re.compile(r"^[a-z][a-z0-9_-]{1,47}$")
"""An operator's reason for discarding dead letters: a short slug (``duplicate-request``)."""


class RequestInputError(ValueError):
    """A request or a CSV file cannot be used; ``problems`` name fields, columns and rows, never
    values (one sentence each)."""

    def __init__(self, *problems: str) -> None:
        self.problems: tuple[str, ...] = problems
        super().__init__("; ".join(problems))


# -- one request ---------------------------------------------------------------------------------


def read_identifier(
    *,
    identifier: str | None = None,
    from_stdin: bool = False,
    stdin: TextIO | None = None,
    interactive: bool = False,
    prompt: Callable[[str], str] = getpass.getpass,
) -> str:
    """The identifier from ``--identifier``, one line of standard input, or a hidden prompt.

    Only the line ending is removed from standard input: leading or trailing spaces can be part of
    a Customer.io id. Raises RequestInputError when there is none.
    """
    if identifier is not None:
        value = identifier
    elif from_stdin:
        if stdin is None:
            raise RequestInputError("no standard input to read the identifier from")
        value = stdin.readline().rstrip("\r\n")
    elif interactive:
        value = prompt("identifier (not echoed): ")
    else:
        raise RequestInputError("give the identifier on standard input (--identifier-stdin) or at the prompt")
    if not value:
        raise RequestInputError("the identifier is empty")
    return value


def build_request(
    request_id: str,
    identifier: str,
    *,
    identifier_type: str | None = None,
    action: str = "erase",
    regulation: str = "gdpr",
    requested_at: str | None = None,
    workspaces: Sequence[str] | None = None,
) -> DeletionRequest:
    """Validate a request exactly as the deletion function will (``requested_at`` defaults to now;
    ``workspaces`` None: every workspace of the stack). Raises RequestInputError with one problem
    per broken rule, naming the field and the rule (``requested_at needs a timezone``)."""
    data: dict[str, Any] = {
        "request_id": request_id,
        "identifier": identifier,
        "action": action,
        "regulation": regulation,
        "requested_at": requested_at or datetime.now(UTC).isoformat(),
    }
    if identifier_type:
        data["identifier_type"] = identifier_type
    if workspaces is not None:
        data["workspaces"] = list(workspaces)
    try:
        return DeletionRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestInputError(*(str(problem) for problem in request_problems(exc))) from None


def message_body(request: DeletionRequest) -> str:
    """The queue message body for a request (DESIGN section 4's JSON; ``workspaces`` only when
    the request names some)."""
    return request.model_dump_json(exclude_none=True)


def submit(sqs: SQSClient, queue_url: str, request: DeletionRequest) -> str:
    """Send one validated request to the deletion queue; returns the SQS message id."""
    return sqs.send_message(QueueUrl=queue_url, MessageBody=message_body(request))["MessageId"]


def audit_status(dynamodb: DynamoDBClient, table: str, request_id: str) -> dict[str, Any] | None:
    """The audit record of ``request_id`` as JSON-ready data, or None when there is none yet."""
    record = AuditStore(table, client=dynamodb).get(request_id)
    return record.model_dump(mode="json") if record else None


# -- the compliance report -----------------------------------------------------------------------

REPORT_COLUMNS = (
    "request_id",
    "action",
    "regulation",
    "status",
    "requested_at",
    "deadline",
    "deadline_met",
    "accepted_at",
    "completed_at",
    "verification",
    "verified_at",
    "failure_reason",
    "attempts",
)
"""What the report holds per request: no identifier, no subject hash."""


@dataclass(frozen=True)
class ReportRow:
    """One request in the compliance report. ``deadline_met``: True or False once known, None
    while a request not yet erased still has time (``AuditRecord.deadline_met``)."""

    request_id: str
    action: str
    regulation: str
    status: str
    requested_at: str
    deadline: str
    deadline_met: bool | None
    accepted_at: str | None
    completed_at: str | None
    verification: str | None
    verified_at: str | None
    failure_reason: str | None
    attempts: int

    @classmethod
    def of(cls, record: AuditRecord, now: datetime) -> ReportRow:
        return cls(
            request_id=record.request_id,
            action=record.action,
            regulation=record.regulation,
            status=record.status,
            requested_at=record.requested_at,
            deadline=record.deadline,
            deadline_met=record.deadline_met(now),
            accepted_at=record.accepted_at,
            completed_at=record.completed_at,
            verification=record.verification,
            verified_at=record.verified_at,
            failure_reason=record.failure_reason,
            attempts=record.attempts,
        )

    def public(self) -> dict[str, Any]:
        return {column: getattr(self, column) for column in REPORT_COLUMNS}


def compliance_report(
    dynamodb: DynamoDBClient, table: str, *, since: datetime, now: datetime | None = None
) -> list[ReportRow]:
    """Every audit record whose request was made at or after ``since`` (a full scan of the audit
    table, filtered on ``requested_at``), oldest first, judged against its deadline at ``now``."""
    if since.tzinfo is None:
        raise RequestInputError("--since needs a timezone or a plain date (taken as UTC)")
    moment = now or datetime.now(UTC)
    rows: list[ReportRow] = []
    paginator = dynamodb.get_paginator("scan")
    pages = paginator.paginate(
        TableName=table,
        FilterExpression="requested_at >= :since",
        ExpressionAttributeValues={":since": {"S": iso(since)}},
    )
    for page in pages:
        rows.extend(ReportRow.of(AuditRecord.from_item(item), moment) for item in page.get("Items", []))
    return sorted(rows, key=lambda row: (row.requested_at, row.request_id))


def report_csv(rows: Sequence[ReportRow]) -> str:
    """The report as CSV with a header row; ``deadline_met`` as yes, no or pending."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        data = row.public()
        met = data["deadline_met"]
        data["deadline_met"] = "pending" if met is None else ("yes" if met else "no")
        writer.writerow(["" if data[c] is None else data[c] for c in REPORT_COLUMNS])
    return out.getvalue()


def report_json(rows: Sequence[ReportRow]) -> str:
    """The report as a JSON array of objects."""
    return json.dumps([row.public() for row in rows], indent=2)


def report_summary(rows: Sequence[ReportRow]) -> str:
    """One line: how many requests, by status, and how many missed their deadline."""
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    missed = sum(1 for row in rows if row.deadline_met is False)
    pending = sum(1 for row in rows if row.deadline_met is None)
    by_status = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())) or "none"
    return f"{len(rows)} request(s): {by_status}; {missed} missed the deadline, {pending} still open in time"


def parse_since(value: str) -> datetime:
    """``--since``: an ISO 8601 date (midnight UTC) or date and time with a timezone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RequestInputError("--since must be an ISO 8601 date, e.g. 2026-11-01") from None
    if moment.tzinfo is None:
        if len(value.strip()) > 10:
            raise RequestInputError("--since needs a timezone when it has a time (e.g. 2026-11-01T00:00Z)")
        moment = moment.replace(tzinfo=UTC)
    return moment


# -- bulk ----------------------------------------------------------------------------------------


def read_bulk_csv(
    lines: Iterable[str],
    *,
    id_prefix: str | None = None,
    action: str = "erase",
    regulation: str = "gdpr",
    workspaces: Sequence[str] | None = None,
) -> list[DeletionRequest]:
    """Requests from a CSV: either one identifier per row (request ids ``{id_prefix}-{row:06d}``,
    so a re-run of the same file submits the same ids) or a header row naming columns among
    ``BULK_COLUMNS`` (``identifier`` required; ``request_id`` or ``id_prefix`` required;
    ``workspaces`` lists names separated by ``;``, empty for every workspace). ``action``,
    ``regulation`` and ``workspaces`` apply to rows that leave them empty.

    The header is checked first: a misspelt column is reported with the column it is probably
    meant to be (``unknown column 'identifer' (did you mean 'identifier'?)``), any other unknown
    column is an error too (never silently ignored), and missing required columns are named.
    Then every row is validated before anything is returned; RequestInputError lists the problems
    by row number and field, never by value. Blank rows are skipped; duplicate request ids are
    refused.
    """
    records, first_row = _csv_records(list(csv.reader(lines)), id_prefix=id_prefix)
    requests: list[DeletionRequest] = []
    rows_of: dict[str, list[int]] = {}
    problems: list[str] = []
    for offset, record in enumerate(records):
        number = first_row + offset
        if record is None:
            continue
        if _EXTRA in record:
            problems.append(f"row {number}: more cells than the header has columns")
            continue
        request_id = (record.get("request_id") or "").strip()
        if not request_id:
            if not id_prefix:
                problems.append(f"row {number}: request_id is empty (fill it in, or give --id-prefix)")
                continue
            request_id = f"{id_prefix}-{number:06d}"
        listed = _workspaces_cell(record.get("workspaces"))
        try:
            request = build_request(
                request_id,
                record.get("identifier", ""),
                identifier_type=(record.get("identifier_type") or "").strip() or None,
                action=(record.get("action") or "").strip() or action,
                regulation=(record.get("regulation") or "").strip() or regulation,
                requested_at=(record.get("requested_at") or "").strip() or None,
                workspaces=listed if listed is not None else workspaces,
            )
        except RequestInputError as exc:
            problems.extend(f"row {number}: {problem}" for problem in exc.problems)
            continue
        requests.append(request)
        rows_of.setdefault(request.request_id, []).append(number)
    for request_id, numbers in rows_of.items():
        if len(numbers) > 1:
            rows = ", ".join(map(str, numbers))
            problems.append(f"request_id {request_id} appears more than once (rows {rows})")
    if problems:
        raise RequestInputError(*problems)
    return requests


_EXTRA: Final = "\x00extra"
"""The key of a row's cells beyond the header's columns (never a column name)."""


def _workspaces_cell(cell: str | None) -> list[str] | None:
    """``prod-us;prod-eu`` -> the names; an empty cell -> None (the default applies)."""
    names = [name.strip() for name in (cell or "").split(WORKSPACES_SEPARATOR)]
    names = [name for name in names if name]
    return names or None


def _shown(cell: str) -> bool:
    """Whether an error message may repeat a header cell: it looks like a column name and not
    like personal data (a data row read as a header must not leak into the message)."""
    return bool(_COLUMN_NAME.match(cell)) and personal_data_shape(cell) is None


def _near_column(name: str) -> str | None:
    return closest_name(name.replace(" ", "_").replace("-", "_"), BULK_COLUMNS)


def _is_header(names: Sequence[str]) -> bool:
    """A first row with a column name, or a near miss of one, is a header row."""
    return any(name in BULK_COLUMNS or _near_column(name) for name in names)


def _header_problems(cells: Sequence[str], names: Sequence[str], *, id_prefix: str | None) -> list[str]:
    allowed = f"allowed: {', '.join(BULK_COLUMNS)}"
    problems: list[str] = []
    meant: set[str] = set()
    for position, (cell, name) in enumerate(zip(cells, names, strict=True), start=1):
        if name in BULK_COLUMNS:
            continue
        near = _near_column(name)
        if not name:
            problems.append(f"column {position} of the header has no name ({allowed})")
        elif not _shown(cell.strip()):
            problems.append(f"column {position} of the header is not a column name ({allowed})")
        elif near is not None:
            meant.add(near)
            problems.append(f"unknown column '{cell.strip()}' (did you mean '{near}'?)")
        else:
            problems.append(f"unknown column '{cell.strip()}' ({allowed})")
    for name in dict.fromkeys(n for n in names if n in BULK_COLUMNS and names.count(n) > 1):
        problems.append(f"column '{name}' appears more than once in the header")
    if "identifier" not in names and "identifier" not in meant:
        problems.append("missing column 'identifier' (the person to erase)")
    if "request_id" not in names and "request_id" not in meant and not id_prefix:
        problems.append("missing column 'request_id' (or give --id-prefix to number the rows)")
    return problems


def _csv_records(
    rows: list[list[str]], *, id_prefix: str | None = None
) -> tuple[list[dict[str, str] | None], int]:
    """The CSV's rows as column -> value (None for a blank row), and the file row number of the
    first one. RequestInputError for a header (or a headerless file) that cannot be used."""
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise RequestInputError("the file holds no rows")
    cells = rows[0]
    names = [cell.strip().lower() for cell in cells]
    if _is_header(names):
        problems = _header_problems(cells, names, id_prefix=id_prefix)
        if problems:
            raise RequestInputError(*problems)
        records: list[dict[str, str] | None] = []
        for row in rows[1:]:
            if not any(cell.strip() for cell in row):
                records.append(None)
                continue
            record = dict(zip(names, row, strict=False))
            if len(row) > len(names):
                record[_EXTRA] = ""
            records.append(record)
        return records, 2
    wide = [number for number, row in enumerate(rows, start=1) if len(row) > 1]
    if wide:
        raise RequestInputError(
            f"row {wide[0]} holds more than one cell: without a header row each row holds exactly "
            f"one identifier (quote one that contains a comma), or add a header row of "
            f"{', '.join(BULK_COLUMNS)}"
        )
    return [{"identifier": row[0]} if row and row[0].strip() else None for row in rows], 1


@dataclass
class BulkResult:
    """What ``submit_bulk`` did: how many were sent, and the request ids SQS refused (with codes)."""

    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def _chunks[T](items: Sequence[T], size: int = SQS_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def submit_bulk(
    sqs: SQSClient,
    queue_url: str,
    requests: Sequence[DeletionRequest],
    *,
    on_progress: Callable[[int], object] | None = None,
) -> BulkResult:
    """Send requests with SendMessageBatch, 10 at a time; ``on_progress(n)`` after each batch."""
    result = BulkResult()
    for chunk in _chunks(requests):
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": message_body(r)} for i, r in enumerate(chunk)],
        )
        result.sent += len(response.get("Successful", []))
        for failure in response.get("Failed", []):
            result.failed.append((chunk[int(failure["Id"])].request_id, failure.get("Code", "unknown")))
        if on_progress is not None:
            on_progress(len(chunk))
    return result


# -- the dead-letter queue -----------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter queue, as an operator sees it.

    ``receive_count`` is how many times the deletion queue delivered the request before it was
    dead-lettered (None when unknown), not SQS's ``ApproximateReceiveCount`` on the dead-letter
    queue: SQS has no peek, so every listing receives each message and raises that count, which
    would make each listing report more than the last.
    """

    message_id: str
    reason: str
    request_id: str | None
    receive_count: int | None
    sent_at: str | None
    fields: tuple[str, ...] = ()
    workspace: str | None = None
    last_error: str | None = None  # the cause behind retries_exhausted
    identifier: str | None = None  # only with show_identifiers
    body: str = field(default="", repr=False)
    receipt_handle: str = field(default="", repr=False)

    def public(self) -> dict[str, Any]:
        """JSON-ready, without the body (and without the identifier unless it was asked for)."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "reason": self.reason,
            "fields": list(self.fields),
            "workspace": self.workspace,
            "request_id": self.request_id,
            "sent_at": self.sent_at,
            "receive_count": self.receive_count,
            "last_error": self.last_error,
        }
        if self.identifier is not None:
            data["identifier"] = self.identifier
        return data


def _attribute(message: MessageTypeDef, name: str) -> str | None:
    attribute = message.get("MessageAttributes", {}).get(name)
    value = attribute.get("StringValue") if attribute else None
    return str(value) if value else None


def _schema_fields(body: str) -> tuple[str, ...]:
    """The failing fields of a schema error, read again from the body (a dead letter sent before
    dead letters carried a ``fields`` attribute)."""
    try:
        parse_deletion_message(body)
    except DeletionMessageError as exc:
        return exc.fields
    return ()


def _deliveries(message: MessageTypeDef, reason: str, max_receive_count: int | None) -> int | None:
    """How many times the deletion queue delivered the message before it was dead-lettered: the
    ``receive_count`` attribute, or the queue's maxReceiveCount for a message the redrive policy
    moved (or one dead-lettered on its last delivery); None when unknown."""
    recorded = _attribute(message, "receive_count")
    if recorded is not None and recorded.isdigit():
        return int(recorded)
    if reason in {REDRIVE_POLICY_REASON, "retries_exhausted"}:
        return max_receive_count
    return None


def _dead_letter(
    message: MessageTypeDef, *, show_identifiers: bool, max_receive_count: int | None = None
) -> DeadLetter:
    body = message.get("Body", "")
    parsed: Any = None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        parsed = None
    reason = _attribute(message, "reason") or REDRIVE_POLICY_REASON
    request_id = _attribute(message, "request_id") or readable_request_id(parsed)
    identifier = None
    if show_identifiers and isinstance(parsed, dict) and isinstance(parsed.get("identifier"), str):
        identifier = parsed["identifier"]
    listed = _attribute(message, "fields")
    if listed is not None:
        fields = tuple(name for name in listed.split(FIELDS_SEPARATOR) if name)
    elif reason == "schema_error":
        fields = _schema_fields(body)
    else:
        fields = ()
    sent = message.get("Attributes", {}).get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        reason=reason,
        request_id=request_id,
        receive_count=_deliveries(message, reason, max_receive_count),
        sent_at=iso(datetime.fromtimestamp(int(sent) / 1000, UTC)) if sent else None,
        fields=fields,
        workspace=_attribute(message, "workspace"),
        last_error=_attribute(message, "last_error"),
        identifier=identifier,
        body=body,
        receipt_handle=message["ReceiptHandle"],
    )


def max_receive_count(sqs: SQSClient, queue_url: str) -> int | None:
    """The maxReceiveCount of ``queue_url``'s redrive policy, or None when it has none or it cannot
    be read (the listing then shows fewer delivery counts, nothing worse)."""
    if not queue_url:
        return None
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    except (ClientError, BotoCoreError):
        return None
    try:
        policy = json.loads(attributes.get("Attributes", {}).get("RedrivePolicy", "{}"))
        return int(policy["maxReceiveCount"])
    except (ValueError, KeyError, TypeError):
        return None


def _receive_all(
    sqs: SQSClient, queue_url: str, *, limit: int | None, visibility_timeout: int
) -> list[MessageTypeDef]:
    """Receive up to ``limit`` messages (each once: they stay invisible for the timeout)."""
    found: list[MessageTypeDef] = []
    seen: set[str] = set()
    while limit is None or len(found) < limit:
        want = SQS_BATCH if limit is None else min(SQS_BATCH, limit - len(found))
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=want,
            WaitTimeSeconds=0,
            VisibilityTimeout=visibility_timeout,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update(m["MessageId"] for m in fresh)
        found.extend(fresh)
    return found


def _make_visible(sqs: SQSClient, queue_url: str, letters: Sequence[DeadLetter]) -> None:
    for chunk in _chunks(letters):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
                for i, letter in enumerate(chunk)
            ],
        )


def list_dead_letters(
    sqs: SQSClient,
    dlq_url: str,
    *,
    show_identifiers: bool = False,
    limit: int | None = 100,
    visibility_timeout: int = 30,
    max_receive_count: int | None = None,
) -> list[DeadLetter]:
    """The messages of the dead-letter queue (``limit`` at most), left on the queue: SQS has no
    peek, so they are received with a short visibility timeout and made visible again at once
    (ChangeMessageVisibility 0), and the receive count shown is the deletion queue's (see
    DeadLetter), which a listing does not change. ``max_receive_count``: the deletion queue's
    (``max_receive_count(sqs, queue_url)``), for messages its redrive policy moved."""
    letters = [
        _dead_letter(m, show_identifiers=show_identifiers, max_receive_count=max_receive_count)
        for m in _receive_all(sqs, dlq_url, limit=limit, visibility_timeout=visibility_timeout)
    ]
    _make_visible(sqs, dlq_url, letters)
    return letters


# -- discarding dead letters ---------------------------------------------------------------------


class DiscardAudit(Protocol):
    """What discarding needs of the audit store (``AuditBackend``): the record of a request, to
    check that a dead letter is that request's, and a record that the request was discarded by an
    operator, and why."""

    def get(self, request_id: str) -> AuditRecord | None:
        """The record of ``request_id``; None when there is none."""

    def record_discarded(self, request_id: str, *, reason: str, now: datetime) -> object | None:
        """Mark the record discarded; None when there is no record of ``request_id``."""


def discard_reason(value: str) -> str:
    """The operator's ``--reason`` for a discard: a short slug, never personal data.

    >>> discard_reason("duplicate-request")
    'duplicate-request'
    """
    if not DISCARD_REASON.match(value) or personal_data_shape(value) is not None:
        raise RequestInputError(
            "--reason must be a short slug: lowercase letters, digits, - and _, 2-48 characters, "
            "starting with a letter (e.g. duplicate-request)"
        )
    return value


def select_dead_letters(
    letters: Sequence[DeadLetter], *, message_ids: Collection[str] = (), reasons: Collection[str] = ()
) -> tuple[list[DeadLetter], list[str]]:
    """The letters named by message id or whose reason is one of ``reasons``, and the asked-for
    message ids that are not among ``letters``."""
    chosen = [letter for letter in letters if letter.message_id in message_ids or letter.reason in reasons]
    present = {letter.message_id for letter in letters}
    return chosen, [message_id for message_id in dict.fromkeys(message_ids) if message_id not in present]


@dataclass
class DiscardResult:
    """What ``discard`` did. ``recorded``: discarded and written to the audit; ``not_on_record``:
    discarded without an audit write, with why (no readable request_id; no audit record of it: a
    request refused before it was ever recorded; a body that is not that record's request, or not
    readable); ``failed``: left on the queue, with why; ``missing``: message ids no longer on the
    queue. A ``why`` names request ids, reasons and fields, never an identifier or a workspace
    name the message gave."""

    recorded: list[DeadLetter] = field(default_factory=list)
    not_on_record: list[tuple[DeadLetter, str]] = field(default_factory=list)
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def discarded(self) -> int:
        return len(self.recorded) + len(self.not_on_record)


class _UncheckableError(Exception):
    """The letter may be its record's request, but that cannot be checked now: it stays queued."""


def _not_its_request(
    letter: DeadLetter,
    record: AuditRecord,
    pepper: Callable[[], bytes] | None,
    workspaces: Sequence[str],
) -> str | None:
    """Why ``letter`` is not the request ``record`` holds (None when it is), whatever the letter's
    reason: its body must parse as a deletion request of the same request_id, action, set of
    workspaces and subject, as ``BaseAuditStore.begin`` judges a later message of a request.
    The set is the body's ``workspaces``, or every workspace of the stack (``workspaces``, the
    primary first) when it names none, compared with ``transitions.check_same_targets``; the
    subject through ``subject_hash`` with the stack's pepper, as the deletion function computes it.
    Raises _UncheckableError when the pepper cannot be had. The answer never holds an identifier
    or a workspace name (the body's come from its producer)."""
    request_id = record.request_id
    try:
        request = parse_deletion_message(letter.body)
    except DeletionMessageError:
        return f"its body is not a readable deletion request, so it cannot be {request_id}'s"
    if request.request_id != request_id:
        return f"its body names request {request.request_id}, not {request_id}"
    if request.action != record.action:
        return f"its action is not the one on record for {request_id}"
    resolved = request.workspaces if request.workspaces is not None else tuple(workspaces)
    try:
        transitions.check_same_targets(
            record, resolved, named=request.workspaces is not None, primary=workspaces[0]
        )
    except AuditConflictError:
        return f"its workspaces are not the ones on record for {request_id}"
    if pepper is None:
        raise _UncheckableError(
            f"cannot check that it is {request_id}'s request: the stack names no pepper secret"
        )
    try:
        key = pepper()
    except CioSecurityError as exc:
        raise _UncheckableError(
            f"cannot check that it is {request_id}'s request: the pepper secret could not be read "
            f"({type(exc).__name__})"
        ) from None
    digest = subject_hash(request.identifier_type or "id", request.identifier, key)
    if not hmac.compare_digest(digest.encode("ascii"), record.subject_hash.encode("ascii")):
        return f"its subject is not the one on record for {request_id}"
    return None


def discard(
    sqs: SQSClient,
    dlq_url: str,
    audit: DiscardAudit,
    *,
    message_ids: Collection[str],
    reason: str,
    pepper: Callable[[], bytes] | None,
    workspaces: Sequence[str],
    now: datetime | None = None,
    visibility_timeout: int = 120,
) -> DiscardResult:
    """Delete the dead letters ``message_ids`` (from a fresh receive of the queue, so their receipt
    handles are current) and record each discard in the audit (``record_discarded(request_id,
    reason=reason, now=now)``) first: a failure to write the audit leaves the message on the
    queue, so a discard is never without its record.

    Only a letter that is its record's request is written there, whatever its dead-letter reason:
    a ``schema_error`` may be the record's own request (a redelivery naming a workspace since
    removed from the stack), and a ``request_id_conflict`` may be too (a genuine copy refused in
    the same batch as an impostor). One without a readable request_id or without a record, and one
    whose body is unreadable (an ``invalid_json`` letter, a ``schema_error`` whose body is no
    deletion request) or names another request, action, set of workspaces or subject than the
    record (the set resolved against ``workspaces``, the stack's workspace names with the primary
    first, ``stack.workspace_set().names``; the subject compared through ``subject_hash`` with
    ``pepper()``, the stack's pepper) are discarded with nothing written (``not_on_record``, with
    why). A letter that needs the subject check while the pepper cannot be had (``pepper`` None,
    or raising), or whose request is being processed right now (its audit lease held), is left
    alone. Messages not chosen are made visible again at once."""
    moment = now or datetime.now(UTC)
    reason = discard_reason(reason)
    letters = [
        _dead_letter(m, show_identifiers=False)
        for m in _receive_all(sqs, dlq_url, limit=None, visibility_timeout=visibility_timeout)
    ]
    chosen, missing = select_dead_letters(letters, message_ids=message_ids)
    result = DiscardResult(missing=missing)
    untouched = [letter for letter in letters if letter not in chosen]
    ready: list[tuple[DeadLetter, str | None]] = []  # (letter, why nothing is written; None: recorded)

    def leave(letter: DeadLetter, why: str) -> None:
        result.failed.append((letter, why))
        untouched.append(letter)

    for letter in chosen:
        if letter.request_id is None:
            ready.append((letter, "no readable request_id"))
            continue
        request_id = letter.request_id
        try:
            record = audit.get(request_id)
            if record is None:
                ready.append((letter, f"no audit record of {request_id}"))
                continue
            mismatch = _not_its_request(letter, record, pepper, workspaces)
            if mismatch is not None:
                ready.append((letter, f"{mismatch}; {request_id}'s record is left as it is"))
                continue
            written = audit.record_discarded(request_id, reason=reason, now=moment)
        except _UncheckableError as exc:
            leave(letter, str(exc))
            continue
        except LeaseHeldError:
            leave(letter, "a delivery of it is being processed right now (audit lease held): try again later")
            continue
        except CioSecurityError as exc:
            leave(letter, f"the audit read or write failed ({type(exc).__name__})")
            continue
        ready.append((letter, None if written is not None else f"no audit record of {request_id}"))
    for chunk in _chunks(ready):
        response = sqs.delete_message_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": letter.receipt_handle} for i, (letter, _) in enumerate(chunk)
            ],
        )
        for entry in response.get("Successful", []):
            letter, why = chunk[int(entry["Id"])]
            if why is None:
                result.recorded.append(letter)
            else:
                result.not_on_record.append((letter, why))
        for entry in response.get("Failed", []):
            letter, _ = chunk[int(entry["Id"])]
            leave(letter, f"SQS refused the delete ({entry.get('Code', 'unknown')})")
    _make_visible(sqs, dlq_url, untouched)
    return result


@dataclass
class RedriveResult:
    """What ``redrive`` did, by request id (or message id when the body has none)."""

    moved: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def redrive(
    sqs: SQSClient,
    dlq_url: str,
    queue_url: str,
    *,
    reasons: Iterable[str] | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    visibility_timeout: int = 60,
) -> RedriveResult:
    """Move dead letters back to the deletion queue (only those whose reason is in ``reasons``
    when given). Each message is sent first and deleted from the DLQ only once the send succeeded,
    so a failure can duplicate a message (harmless: requests are idempotent) but never lose one.
    Messages not moved are made visible again."""
    wanted = set(reasons) if reasons else None
    letters = [
        _dead_letter(m, show_identifiers=False)
        for m in _receive_all(sqs, dlq_url, limit=limit, visibility_timeout=visibility_timeout)
    ]
    result = RedriveResult()
    chosen = [letter for letter in letters if wanted is None or letter.reason in wanted]
    untouched = [letter for letter in letters if letter not in chosen]
    result.skipped.extend(letter.request_id or letter.message_id for letter in untouched)
    if dry_run:
        result.moved.extend(letter.request_id or letter.message_id for letter in chosen)
        _make_visible(sqs, dlq_url, letters)
        return result
    for chunk in _chunks(chosen):
        sent = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": letter.body} for i, letter in enumerate(chunk)],
        )
        ok = [chunk[int(entry["Id"])] for entry in sent.get("Successful", [])]
        failed = [chunk[int(entry["Id"])] for entry in sent.get("Failed", [])]
        if ok:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": letter.receipt_handle} for i, letter in enumerate(ok)
                ],
            )
        result.moved.extend(letter.request_id or letter.message_id for letter in ok)
        result.failed.extend(letter.request_id or letter.message_id for letter in failed)
        untouched.extend(failed)
    _make_visible(sqs, dlq_url, untouched)
    return result
