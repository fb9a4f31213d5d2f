"""``ciosec deletion submit|status|bulk|report`` and ``ciosec dlq list|redrive|discard``:
GDPR/CCPA requests and their dead letters.

Identifiers are personal data: ``submit`` reads one from standard input (``--identifier-stdin``,
e.g. ``pbpaste | ciosec deletion submit --request-id dsar-1 --identifier-stdin``) or from a
hidden prompt when neither option is given. ``--identifier X`` works too, but leaves the value in
shell history and process listings, so it prints a warning. Works against the local stack (the
default) and, with ``--stack NAME``, against a deployed one with the usual AWS credentials.

A request or a CSV file that cannot be used is refused whole, before anything is sent, with one
line per problem naming the row, the field and the rule (never a value), and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cio_security.audit.dynamodb import AuditStore
from cio_security.config import boto_config
from cio_security.secrets.store import SecretStore
from ciosec import options
from ciosec.commands import Subcommands
from ciosec.mistakes import Mistake
from ciosec.operations.deletion import (
    MAX_REPORTED_PROBLEMS,
    DeadLetter,
    RequestInputError,
    audit_status,
    build_request,
    compliance_report,
    discard,
    discard_reason,
    list_dead_letters,
    max_receive_count,
    parse_since,
    read_bulk_csv,
    read_identifier,
    redrive,
    report_csv,
    report_json,
    report_summary,
    select_dead_letters,
    submit,
    submit_bulk,
)
from ciosec.operations.quarantine import pepper_of
from ciosec.operations.stack import resolve

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient


def _sqs() -> SQSClient:
    client: SQSClient = boto3.client("sqs", config=boto_config())
    return client


def _dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = boto3.client("dynamodb", config=boto_config())
    return client


def _secretsmanager() -> SecretsManagerClient:
    client: SecretsManagerClient = boto3.client("secretsmanager", config=boto_config())
    return client


def _need(value: str, what: str) -> str:
    if not value:
        raise SystemExit(f"the stack has no {what}")
    return value


def _refuse(what: str, problems: tuple[str, ...]) -> int:
    """Print why nothing was done: one line for one problem, else a count and one line each (the
    first MAX_REPORTED_PROBLEMS). Returns the exit status, 1."""
    if len(problems) == 1:
        print(f"{what}: {problems[0]}", file=sys.stderr)
        return 1
    print(f"{what}: {len(problems)} problems", file=sys.stderr)
    for problem in problems[:MAX_REPORTED_PROBLEMS]:
        print(f"  {problem}", file=sys.stderr)
    if len(problems) > MAX_REPORTED_PROBLEMS:
        print(f"  ... and {len(problems) - MAX_REPORTED_PROBLEMS} more", file=sys.stderr)
    return 1


def _slug(value: str) -> str:
    """argparse type: the operator's discard reason (``discard_reason``)."""
    try:
        return discard_reason(value)
    except RequestInputError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--reason ")) from None


def _submit(args: argparse.Namespace) -> int:
    if args.identifier is not None:
        print(
            "warning: --identifier leaves personal data in shell history; prefer --identifier-stdin",
            file=sys.stderr,
        )
    try:
        identifier = read_identifier(
            identifier=args.identifier,
            from_stdin=args.identifier_stdin,
            stdin=sys.stdin,
            interactive=sys.stdin.isatty(),
        )
        request = build_request(
            args.request_id,
            identifier,
            identifier_type=args.identifier_type,
            action=args.action,
            regulation=args.regulation,
            requested_at=args.requested_at,
            workspaces=args.workspace,
        )
    except RequestInputError as exc:
        return _refuse("not submitted", exc.problems)
    stack = resolve(args)  # after the request is valid: a mistake in it needs no stack to be found
    message_id = submit(_sqs(), _need(stack.deletion_queue_url, "deletion queue"), request)
    print(
        f"submitted {request.request_id} ({request.action}, {request.regulation}, deadline "
        f"{request.deadline:%Y-%m-%d}) as message {message_id}"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    stack = resolve(args)
    record = audit_status(_dynamodb(), _need(stack.audit_table, "audit table"), args.request_id)
    if record is None:
        print(
            f"no audit record for {args.request_id} (not processed yet, or never submitted)", file=sys.stderr
        )
        return 1
    print(json.dumps(record, indent=2))
    return 0


def _report(args: argparse.Namespace) -> int:
    stack = resolve(args)
    try:
        since = parse_since(args.since)
    except RequestInputError as exc:
        print(f"no report: {exc}", file=sys.stderr)
        return 1
    rows = compliance_report(_dynamodb(), _need(stack.audit_table, "audit table"), since=since)
    print(
        report_csv(rows) if args.format == "csv" else report_json(rows),
        end="" if args.format == "csv" else "\n",
    )
    print(report_summary(rows), file=sys.stderr)
    return 0


def _bulk(args: argparse.Namespace) -> int:
    try:
        with Path(args.file).open(newline="", encoding="utf-8-sig") as lines:
            requests = read_bulk_csv(
                lines,
                id_prefix=args.id_prefix,
                action=args.action,
                regulation=args.regulation,
                workspaces=args.workspace,
            )
    except RequestInputError as exc:
        return _refuse(f"nothing submitted from {args.file}", exc.problems)
    stack = resolve(args)  # after the file is valid: a mistake in it needs no stack to be found
    columns = (TextColumn("submitting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task("submit", total=len(requests))
        result = submit_bulk(
            _sqs(),
            _need(stack.deletion_queue_url, "deletion queue"),
            requests,
            on_progress=lambda n: progress.advance(task, n),
        )
    print(f"submitted {result.sent} of {len(requests)} request(s)")
    for request_id, code in result.failed:
        print(f"failed: {request_id} ({code})", file=sys.stderr)
    return 1 if result.failed else 0


_LISTING_COLUMNS = ("MESSAGE ID", "REQUEST ID", "REASON", "FIELDS", "WORKSPACE", "FIRST SENT", "DELIVERIES")


def _letter_cells(letter: DeadLetter) -> list[str]:
    reason = f"{letter.reason} ({letter.last_error})" if letter.last_error else letter.reason
    cells = [
        letter.message_id,
        letter.request_id or "(no request_id)",
        reason,
        ",".join(letter.fields) or "-",
        letter.workspace or "-",
        f"{letter.sent_at[:19]}Z" if letter.sent_at else "-",
        "?" if letter.receive_count is None else str(letter.receive_count),
    ]
    if letter.identifier is not None:
        cells.append(f"identifier={letter.identifier}")
    return cells


def _table(rows: list[list[str]]) -> list[str]:
    """Rows as aligned columns, two spaces apart."""
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows)))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def _dlq_list(args: argparse.Namespace) -> int:
    stack = resolve(args)
    sqs = _sqs()
    letters = list_dead_letters(
        sqs,
        _need(stack.deletion_dlq_url, "dead-letter queue"),
        show_identifiers=args.show_identifiers,
        limit=args.limit,
        max_receive_count=max_receive_count(sqs, stack.deletion_queue_url),
    )
    if args.json:
        print(json.dumps([letter.public() for letter in letters], indent=2))
        return 0
    if not letters:
        print("the dead-letter queue is empty")
        return 0
    for line in _table([list(_LISTING_COLUMNS), *(_letter_cells(letter) for letter in letters)]):
        print(line)
    print(f"{len(letters)} message(s)")
    return 0


def _confirmed(question: str, *, assume_yes: bool) -> bool | None:
    """True when confirmed (``--yes`` or "y" at the prompt), False when refused, None when there
    is no terminal to ask."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        return None
    return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}


def _dlq_discard(args: argparse.Namespace) -> int:
    if not args.message_ids and not args.all_reason:
        raise Mistake(
            "dlq discard: name the dead letters, by message id (from `ciosec dlq list`) or with "
            "--all-reason REASON"
        )
    stack = resolve(args)
    sqs = _sqs()
    dlq_url = _need(stack.deletion_dlq_url, "dead-letter queue")
    audit = AuditStore(_need(stack.audit_table, "audit table"), client=_dynamodb())
    workspaces = stack.workspace_set().names  # primary first: a body naming none means them all
    # A fresh listing says what would go (and releases the messages at once).
    letters = list_dead_letters(sqs, dlq_url, limit=None)
    chosen, missing = select_dead_letters(letters, message_ids=args.message_ids, reasons=args.all_reason)
    for message_id in missing:
        print(f"not on the dead-letter queue: {message_id}", file=sys.stderr)
    if not chosen:
        return _refuse("nothing discarded", ("no dead letter matches (see `ciosec dlq list`)",))
    print(
        f"to discard, recorded in the audit with reason {args.reason} when a letter is its record's request:",
        file=sys.stderr,
    )
    for letter in chosen:
        request_id = letter.request_id or "(no request_id)"
        print(f"  {letter.message_id}  {request_id}  {letter.reason}", file=sys.stderr)
    question = f"discard these {len(chosen)} dead letter(s)? This cannot be undone"
    answer = _confirmed(question, assume_yes=args.yes)
    if answer is None:
        raise Mistake("dlq discard: nothing discarded; confirm with --yes (there is no terminal to ask)")
    if not answer:
        print("nothing discarded", file=sys.stderr)
        return 1
    ids = [letter.message_id for letter in chosen]
    # The pepper and the stack's workspaces check that a letter is its record's request (its
    # subject and set of workspaces) before the discard is written there.
    pepper = None
    if stack.pepper_secret_id:
        pepper = pepper_of(SecretStore(client=_secretsmanager()), stack)
    result = discard(
        sqs, dlq_url, audit, message_ids=ids, reason=args.reason, pepper=pepper, workspaces=workspaces
    )
    for letter in result.recorded:
        print(f"discarded {letter.message_id}: {letter.request_id} recorded in the audit as discarded")
    for letter, why in result.not_on_record:
        print(f"discarded {letter.message_id}: nothing was on record ({why}), nothing written to the audit")
    for message_id in result.missing:
        print(f"not discarded: {message_id} left the queue meanwhile", file=sys.stderr)
    for letter, why in result.failed:
        print(f"not discarded: {letter.message_id} stays on the queue: {why}", file=sys.stderr)
    print(f"discarded {result.discarded} of {len(chosen)} dead letter(s)")
    return 1 if result.failed or result.missing else 0


def _dlq_redrive(args: argparse.Namespace) -> int:
    stack = resolve(args)
    result = redrive(
        _sqs(),
        _need(stack.deletion_dlq_url, "dead-letter queue"),
        _need(stack.deletion_queue_url, "deletion queue"),
        reasons=args.reason or None,
        limit=args.limit,
        dry_run=args.dry_run,
    )
    verb = "would move" if args.dry_run else "moved"
    print(f"{verb} {len(result.moved)} message(s) to the deletion queue; left {len(result.skipped)}")
    for request_id in result.failed:
        print(f"not moved (SQS refused it): {request_id}", file=sys.stderr)
    return 1 if result.failed else 0


def register(groups: Subcommands) -> None:
    deletion = groups.add_parser(
        "deletion", help="submit GDPR/CCPA deletion requests and read their audit records"
    )
    commands = deletion.add_subparsers(dest="command", required=True)

    sub = commands.add_parser("submit", help="validate a request, then send it to the deletion queue")
    sub.add_argument("--request-id", required=True, help="your DSAR reference: the idempotency key")
    source = sub.add_mutually_exclusive_group()
    source.add_argument(
        "--identifier-stdin", action="store_true", help="read the identifier from standard input"
    )
    source.add_argument("--identifier", help="the identifier itself (lands in shell history: avoid)")
    sub.add_argument(
        "--identifier-type",
        choices=("id", "email", "cio_id", "phone"),
        help="default: inferred from the shape (state it when ids look like emails or phone numbers)",
    )
    sub.add_argument("--action", choices=("erase", "delete"), default="erase")
    sub.add_argument("--regulation", choices=("gdpr", "ccpa"), default="gdpr")
    sub.add_argument("--requested-at", help="ISO 8601 with a timezone (default: now)")
    sub.add_argument(
        "--workspace",
        action="append",
        metavar="NAME",
        help="erase only in this Customer.io workspace (repeatable; default: every workspace)",
    )
    sub.set_defaults(func=_submit)

    status = commands.add_parser("status", help="print a request's audit record as JSON")
    status.add_argument("request_id")
    status.set_defaults(func=_status)

    report = commands.add_parser(
        "report",
        help="every request since a date: status, deadline, whether it was met, verification (for a DPO)",
    )
    report.add_argument("--since", required=True, help="ISO 8601 date (UTC) or date-time with a timezone")
    report.add_argument("--format", choices=("csv", "json"), default="csv")
    report.set_defaults(func=_report)

    bulk = commands.add_parser("bulk", help="submit every request of a CSV file (validated first)")
    bulk.add_argument(
        "file",
        help=(
            "one identifier per row, or a header row of columns among request_id, identifier, "
            "identifier_type, action, regulation, requested_at, workspaces (names separated by ;)"
        ),
    )
    bulk.add_argument("--id-prefix", help="request ids PREFIX-000001... for rows without a request_id")
    bulk.add_argument("--action", choices=("erase", "delete"), default="erase", help="for rows without one")
    bulk.add_argument("--regulation", choices=("gdpr", "ccpa"), default="gdpr", help="for rows without one")
    bulk.add_argument(
        "--workspace",
        action="append",
        metavar="NAME",
        help="for rows without workspaces: erase only in this workspace (repeatable; default: every one)",
    )
    bulk.set_defaults(func=_bulk)

    dlq = groups.add_parser("dlq", help="inspect, redrive and discard the deletion dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="command", required=True)
    listing = dlq_commands.add_parser(
        "list",
        help="the dead letters: reason, failing fields, workspace, request id, first sent, deliveries",
        description=(
            "List the dead letters, leaving them on the queue. SQS has no peek: the listing "
            "receives each message and makes it visible again at once, and every receive raises "
            "SQS's ApproximateReceiveCount. So DELIVERIES is not that count: it is how many times "
            "the deletion queue delivered the request before it was dead-lettered (from the "
            "dead letter's receive_count attribute, or the deletion queue's maxReceiveCount for "
            "a message its redrive policy moved; ? when unknown), which no listing changes. "
            "FIRST SENT is SQS's SentTimestamp: when the dead letter was sent to the dead-letter "
            "queue or, for a message the redrive policy moved, to the deletion queue. FIELDS are "
            "the failing fields of a schema error; WORKSPACE the Customer.io workspace a failure "
            "happened in."
        ),
    )
    listing.add_argument(
        "--show-identifiers", action="store_true", help="also print identifiers (personal data)"
    )
    listing.add_argument("--limit", type=options.count, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_dlq_list)
    moving = dlq_commands.add_parser("redrive", help="move dead letters back to the deletion queue")
    moving.add_argument(
        "--reason", action="append", help="only this reason (repeatable), e.g. customerio_401"
    )
    moving.add_argument("--limit", type=options.count, default=None)
    moving.add_argument("--dry-run", action="store_true")
    moving.set_defaults(func=_dlq_redrive)
    dropping = dlq_commands.add_parser(
        "discard",
        help="delete dead letters that can never succeed, each recorded in the audit",
        description=(
            "Delete dead letters that can never succeed (a duplicate, a request withdrawn, a body "
            "no retry can fix). Each discard is written to the request's audit record with your "
            "--reason first, and only then deleted, once the letter is checked to be that record's "
            "request, whatever its dead-letter reason: its body must name the same request id, "
            "action, set of workspaces (the body's, or every workspace of the stack when it names "
            "none) and subject (compared through the subject hash, with the stack's pepper secret). "
            "A schema_error or request_id_conflict letter can be its record's own request (a "
            "redelivery naming a workspace since removed from the stack, a genuine copy refused "
            "beside an impostor) and is then recorded like any other. A dead letter with nothing "
            "of its own on record is deleted without an audit write, one line saying why: no "
            "readable request_id, no record, a body that cannot be read as a deletion request "
            "(invalid_json, or a schema_error body that does not parse), or one that is not the "
            "record's request (another message that reused its request_id: a genuine request's "
            "record is never marked by it). Asks for confirmation unless --yes."
        ),
    )
    dropping.add_argument(
        "message_ids", nargs="*", metavar="MESSAGE_ID", help="message ids from `ciosec dlq list`"
    )
    dropping.add_argument(
        "--all-reason",
        action="append",
        default=[],
        metavar="REASON",
        help="every dead letter with this reason (repeatable), e.g. schema_error",
    )
    dropping.add_argument(
        "--reason",
        required=True,
        type=_slug,
        help="why they are discarded, recorded in the audit: a short slug such as duplicate-request",
    )
    dropping.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    dropping.set_defaults(func=_dlq_discard)


__all__ = ["register"]
