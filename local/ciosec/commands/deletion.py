"""``ciosec deletion submit|status|bulk|report`` and ``ciosec dlq list|redrive``: GDPR/CCPA
requests.

Identifiers are personal data: ``submit`` reads one from standard input (``--identifier-stdin``,
e.g. ``pbpaste | ciosec deletion submit --request-id dsar-1 --identifier-stdin``) or from a
hidden prompt when neither option is given. ``--identifier X`` works too, but leaves the value in
shell history and process listings, so it prints a warning. Works against the local stack (the
default) and, with ``--stack NAME``, against a deployed one with the usual AWS credentials.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cio_security.config import boto_config
from ciosec.commands import Subcommands
from ciosec.operations.deletion import (
    RequestInputError,
    audit_status,
    build_request,
    compliance_report,
    list_dead_letters,
    parse_since,
    read_bulk_csv,
    read_identifier,
    redrive,
    report_csv,
    report_json,
    report_summary,
    submit,
    submit_bulk,
)
from ciosec.operations.stack import resolve

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient


def _sqs() -> SQSClient:
    client: SQSClient = boto3.client("sqs", config=boto_config())
    return client


def _dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = boto3.client("dynamodb", config=boto_config())
    return client


def _need(value: str, what: str) -> str:
    if not value:
        raise SystemExit(f"the stack has no {what}")
    return value


def _submit(args: argparse.Namespace) -> int:
    stack = resolve(args)
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
        )
    except RequestInputError as exc:
        print(f"not submitted: {exc}", file=sys.stderr)
        return 1
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
    stack = resolve(args)
    try:
        with Path(args.file).open(newline="", encoding="utf-8-sig") as lines:
            requests = read_bulk_csv(
                lines, id_prefix=args.id_prefix, action=args.action, regulation=args.regulation
            )
    except RequestInputError as exc:
        print(f"nothing submitted: {exc}", file=sys.stderr)
        return 1
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


def _dlq_list(args: argparse.Namespace) -> int:
    stack = resolve(args)
    letters = list_dead_letters(
        _sqs(),
        _need(stack.deletion_dlq_url, "dead-letter queue"),
        show_identifiers=args.show_identifiers,
        limit=args.limit,
    )
    if args.json:
        print(json.dumps([letter.public() for letter in letters], indent=2))
        return 0
    if not letters:
        print("the dead-letter queue is empty")
        return 0
    for letter in letters:
        request_id = letter.request_id or "(no request_id)"
        reason = f"{letter.reason} ({letter.last_error})" if letter.last_error else letter.reason
        line = f"{request_id:<40} {reason:<22} received {letter.receive_count}x"
        if letter.identifier is not None:
            line += f"  identifier={letter.identifier}"
        print(line)
    print(f"{len(letters)} message(s)")
    return 0


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
        "file", help="one identifier per row, or a header row with columns such as request_id,identifier"
    )
    bulk.add_argument("--id-prefix", help="request ids PREFIX-000001... for rows without a request_id")
    bulk.add_argument("--action", choices=("erase", "delete"), default="erase", help="for rows without one")
    bulk.add_argument("--regulation", choices=("gdpr", "ccpa"), default="gdpr", help="for rows without one")
    bulk.set_defaults(func=_bulk)

    dlq = groups.add_parser("dlq", help="inspect and redrive the deletion dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="command", required=True)
    listing = dlq_commands.add_parser("list", help="request ids and reasons of the dead letters")
    listing.add_argument(
        "--show-identifiers", action="store_true", help="also print identifiers (personal data)"
    )
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_dlq_list)
    moving = dlq_commands.add_parser("redrive", help="move dead letters back to the deletion queue")
    moving.add_argument(
        "--reason", action="append", help="only this reason (repeatable), e.g. customerio_401"
    )
    moving.add_argument("--limit", type=int, default=None)
    moving.add_argument("--dry-run", action="store_true")
    moving.set_defaults(func=_dlq_redrive)


__all__ = ["register"]
