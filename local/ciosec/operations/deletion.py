"""The operator's side of deletion requests (``ciosec deletion ...`` and ``ciosec dlq ...``):
submit one request or a CSV of them, look up an audit record, report every request since a date
for a data-protection officer, list and redrive the dead-letter queue. Every function takes boto3
clients, so it runs against AWS, the local stack or moto alike.

Identifiers are personal data: they are read from standard input or a hidden prompt rather than
the command line (where shell history and process listings keep them), and the dead-letter queue
listing shows request ids and reasons, never an identifier unless explicitly asked to.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import AuditRecord, iso
from cio_security.deletion.request import DeletionRequest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

SQS_BATCH = 10
BULK_COLUMNS = ("request_id", "identifier", "identifier_type", "action", "regulation", "requested_at")
REDRIVE_POLICY_REASON = "max_receives"
"""The reason shown for a message the queue's redrive policy moved (it carries no attribute)."""


class RequestInputError(ValueError):
    """A request or a CSV row cannot be used; the message names fields and rows, never values."""


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


def _invalid_fields(exc: ValidationError) -> str:
    known = set(DeletionRequest.model_fields)
    names = sorted(
        {str(e["loc"][0]) if e["loc"] and e["loc"][0] in known else "(unknown)" for e in exc.errors()}
    )
    return ", ".join(names)


def build_request(
    request_id: str,
    identifier: str,
    *,
    identifier_type: str | None = None,
    action: str = "erase",
    regulation: str = "gdpr",
    requested_at: str | None = None,
) -> DeletionRequest:
    """Validate a request exactly as the deletion function will (``requested_at`` defaults to now).
    Raises RequestInputError naming the invalid fields."""
    data: dict[str, Any] = {
        "request_id": request_id,
        "identifier": identifier,
        "action": action,
        "regulation": regulation,
        "requested_at": requested_at or datetime.now(UTC).isoformat(),
    }
    if identifier_type:
        data["identifier_type"] = identifier_type
    try:
        return DeletionRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestInputError(f"invalid request: {_invalid_fields(exc)}") from None


def message_body(request: DeletionRequest) -> str:
    """The queue message body for a request (DESIGN section 4's JSON)."""
    return request.model_dump_json()


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
) -> list[DeletionRequest]:
    """Requests from a CSV: either one identifier per row (request ids ``{id_prefix}-{row:06d}``,
    so a re-run of the same file submits the same ids) or a header row naming columns among
    ``BULK_COLUMNS`` (``identifier`` required; ``request_id`` or ``id_prefix`` required).

    Every row is validated before anything is returned; RequestInputError lists the bad rows by
    number and field, never by value. Duplicate request ids are refused.
    """
    records, first_row = _csv_records(list(csv.reader(lines)))
    requests: list[DeletionRequest] = []
    problems: list[str] = []
    for offset, record in enumerate(records):
        number = first_row + offset
        request_id = (record.get("request_id") or "").strip()
        if not request_id:
            if not id_prefix:
                problems.append(f"row {number}: no request_id (give --id-prefix)")
                continue
            request_id = f"{id_prefix}-{number:06d}"
        try:
            requests.append(
                build_request(
                    request_id,
                    record.get("identifier", ""),
                    identifier_type=(record.get("identifier_type") or "").strip() or None,
                    action=(record.get("action") or "").strip() or action,
                    regulation=(record.get("regulation") or "").strip() or regulation,
                    requested_at=(record.get("requested_at") or "").strip() or None,
                )
            )
        except RequestInputError as exc:
            problems.append(f"row {number}: {exc}")
    seen: set[str] = set()
    for request in requests:
        if request.request_id in seen:
            problems.append(f"request_id {request.request_id} appears more than once")
        seen.add(request.request_id)
    if problems:
        raise RequestInputError("; ".join(problems))
    return requests


def _csv_records(rows: list[list[str]]) -> tuple[list[dict[str, str]], int]:
    """The CSV's rows as column -> value, and the file row number of the first one."""
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise RequestInputError("the file holds no rows")
    header = [cell.strip().lower() for cell in rows[0]]
    if "identifier" in header:
        unknown = sorted(set(header) - set(BULK_COLUMNS))
        if unknown:
            raise RequestInputError(
                f"unknown column(s): {', '.join(unknown)} (allowed: {', '.join(BULK_COLUMNS)})"
            )
        return [dict(zip(header, row, strict=False)) for row in rows[1:]], 2
    if any(len(row) != 1 for row in rows):
        raise RequestInputError("without a header row, each row must hold exactly one identifier")
    return [{"identifier": row[0]} for row in rows], 1


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
    """One message of the dead-letter queue, as an operator sees it."""

    message_id: str
    reason: str
    request_id: str | None
    receive_count: int
    sent_at: str | None
    last_error: str | None = None  # the cause behind retries_exhausted
    identifier: str | None = None  # only with show_identifiers
    body: str = field(default="", repr=False)
    receipt_handle: str = field(default="", repr=False)

    def public(self) -> dict[str, Any]:
        """JSON-ready, without the body (and without the identifier unless it was asked for)."""
        data = {
            "message_id": self.message_id,
            "reason": self.reason,
            "request_id": self.request_id,
            "receive_count": self.receive_count,
            "sent_at": self.sent_at,
            "last_error": self.last_error,
        }
        if self.identifier is not None:
            data["identifier"] = self.identifier
        return data


def _attribute(message: MessageTypeDef, name: str) -> str | None:
    attribute = message.get("MessageAttributes", {}).get(name)
    value = attribute.get("StringValue") if attribute else None
    return str(value) if value else None


def _dead_letter(message: MessageTypeDef, *, show_identifiers: bool) -> DeadLetter:
    body = message.get("Body", "")
    parsed: Any = None
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    request_id = _attribute(message, "request_id")
    identifier = None
    if isinstance(parsed, dict):
        if request_id is None and isinstance(parsed.get("request_id"), str):
            request_id = parsed["request_id"][:128]
        if show_identifiers and isinstance(parsed.get("identifier"), str):
            identifier = parsed["identifier"]
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        reason=_attribute(message, "reason") or REDRIVE_POLICY_REASON,
        request_id=request_id,
        receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC).isoformat() if sent else None,
        last_error=_attribute(message, "last_error"),
        identifier=identifier,
        body=body,
        receipt_handle=message["ReceiptHandle"],
    )


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
) -> list[DeadLetter]:
    """The messages of the dead-letter queue (``limit`` at most), left on the queue: they are read
    with a short visibility timeout and made visible again at once."""
    letters = [
        _dead_letter(m, show_identifiers=show_identifiers)
        for m in _receive_all(sqs, dlq_url, limit=limit, visibility_timeout=visibility_timeout)
    ]
    _make_visible(sqs, dlq_url, letters)
    return letters


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
