"""``ciosec invoke FUNCTION EVENT.json``: run one function's handler in this process against the
local stack, with a sample event from events/ (what ``sam local invoke -e`` does with Docker).

The handler's module is imported under the same name in every run, and the webhook deduplicates
against the local stack's idempotency table as the deployed function does: invoking the same event
twice publishes it once (the second run answers 200 as a duplicate).

``ciosec invoke erasure_verification --from-queue`` runs the erasure verification function on the
tickets waiting on the local stack's verification queue, as its event source does: one batch (at
most ``--limit``, the template's BatchSize by default), the tickets it handled deleted, its batch
item failures left for redelivery. With an event file instead (SQS records whose bodies are
tickets) it runs on those. Either way it prints one line per ticket, never the identifier a ticket
holds: the request id, the workspace, the outcome the function reached (verified, unverified,
rescheduled, deferred, retry_later, already_done, dead_lettered, retry) with its reason, and the
checks counted so far. While ``make local`` runs, its own event source takes tickets as they come
due: ``--wait`` long-polls for them, in competition with it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config

from cio_security import config
from cio_security.deletion.request import readable_request_id
from cio_security.deletion.verification import InvalidTicketError, VerificationTicket
from ciosec import options
from ciosec.commands import Subcommands
from ciosec.emulator.functions import LambdaContext, function_timeout_ms, load_function
from ciosec.emulator.local_stack import LOCAL_VERIFICATION_TIMING
from ciosec.emulator.sqs_event_source import SqsEventSource
from ciosec.emulator.template import resource
from ciosec.mistakes import Mistake
from ciosec.operations.stack import StackInfo, resolve
from ciosec.sandbox import APP_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from cio_security.deletion.verification import VerificationOutcome

VERIFICATION: Final = "erasure_verification"
FUNCTIONS = ("webhook", "gdpr_deletion", "rotation", VERIFICATION)
EXAMPLE = "events/webhook/valid.json"
VERIFICATION_RESOURCE: Final = "ErasureVerificationFunction"
MAX_WAIT_SECONDS: Final = 20
"""SQS's longest long poll (ReceiveMessage ``WaitTimeSeconds``)."""
OUTCOME_COLUMNS: Final = ("REQUEST ID", "WORKSPACE", "OUTCOME", "REASON", "CHECKS")


def function_environment(stack: StackInfo) -> dict[str, str]:
    """The environment variables the template gives the functions, for this stack's resources."""
    return {
        "SIGNING_KEY_SECRET_ID": stack.signing_key_secret_id,
        "TRACK_CREDENTIALS_SECRET_ID": stack.track_credentials_secret_id,
        "PEPPER_SECRET_ID": stack.pepper_secret_id,
        "EVENT_BUS_NAME": stack.event_bus_name,
        "IDEMPOTENCY_TABLE": stack.idempotency_table,
        "WEBHOOK_QUARANTINE_BUCKET": stack.webhook_bucket,
        "AUDIT_TABLE": stack.audit_table,
        "DEAD_LETTER_QUEUE_URL": stack.deletion_dlq_url,
        "CUSTOMERIO_TRACK_URL": stack.sandbox_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "CioSecurity",
    }


def verification_environment(stack: StackInfo) -> dict[str, str]:
    """What the erasure verification function needs besides ``function_environment``, as the local
    stack gives it: the template's literal settings (``VERIFICATION_MAX_RECEIVE_COUNT``...), the
    local verification timing, the verification queue and its dead-letter queue, the App API key
    secret, the stack's workspaces and each region's sandbox App API."""
    if not (stack.verification_queue_url and stack.verification_dlq_url and stack.app_api_key_secret_id):
        raise Mistake(
            "the local stack's state file names no verification queue or App API key secret (a "
            "`make local` started before this ciosec): restart it with `make local`"
        )
    variables = resource(VERIFICATION_RESOURCE)["Properties"]["Environment"]["Variables"]
    env = {name: value for name, value in variables.items() if isinstance(value, str)}
    env.update(LOCAL_VERIFICATION_TIMING)
    env.update(
        {
            config.VERIFICATION_QUEUE_URL: stack.verification_queue_url,
            config.VERIFICATION_DEAD_LETTER_QUEUE_URL: stack.verification_dlq_url,
            config.APP_API_KEY_SECRET_ID: stack.app_api_key_secret_id,
            "CUSTOMERIO_WORKSPACES": ",".join(stack.workspace_names()),
            "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": stack.workspace_secret_prefix,
            # The primary's sandbox for every region, then one per region (as the local stack does);
            # none with the real Customer.io, whose App API hosts the key's region picks.
            config.CUSTOMERIO_APP_URL: f"{stack.sandbox_url}{APP_PREFIX}" if stack.sandbox_url else "",
        }
    )
    for region, url in stack.sandbox_urls().items():
        env[f"{config.CUSTOMERIO_APP_URL}_{region.upper()}"] = f"{url}{APP_PREFIX}"
    return env


def _read_event(path: str) -> Any:
    text = Path(path).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Mistake(f"{path}: not JSON (line {exc.lineno}): give an event file such as {EXAMPLE}") from None


def _assignments(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise Mistake(f"--env takes NAME=VALUE (got {pair[:40]!r})")
        values[name] = value
    return values


def _check_request(args: argparse.Namespace) -> None:
    """Refuse options that do not go together, before any file or stack is looked at."""
    if args.stack:
        raise Mistake("invoke runs handlers in this process against the local stack only: drop --stack")
    if args.from_queue and args.function != VERIFICATION:
        raise Mistake(f"--from-queue takes tickets off the verification queue: it goes with {VERIFICATION}")
    if args.from_queue and args.event:
        raise Mistake("give an event file or --from-queue, not both")
    if not args.from_queue and not args.event:
        alternative = " or --from-queue" if args.function == VERIFICATION else ""
        raise Mistake(f"give an event file (such as {EXAMPLE}){alternative}")
    if not args.from_queue and (args.limit is not None or args.wait is not None):
        raise Mistake("--limit and --wait go with --from-queue")


def _invoke(args: argparse.Namespace) -> int:
    # The options and the event first: a mistake in them is told before the stack is looked for.
    _check_request(args)
    event = _read_event(args.event) if args.event else None
    if args.function == VERIFICATION and event is not None and not _is_sqs_event(event):
        raise Mistake(
            f"{args.event}: not an SQS event (a Records list of messages, each with a messageId "
            "and a body, a verification ticket)"
        )
    extra = _assignments(args.env or [])
    stack = resolve(args)
    environment = function_environment(stack)
    if args.function == VERIFICATION:
        environment.update(verification_environment(stack))
    os.environ.update(environment)
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", f"cio-security-local-{args.function}")
    os.environ.update(extra)
    # Imported under the same module name in every run (ciosec.emulator.functions.module_name),
    # and deduplicated against the stack's idempotency table with the deployed function's key:
    # the same event invoked twice is published once.
    module = load_function(args.function)
    if args.function == VERIFICATION:
        return _verify(module, stack, event, args)
    context = LambdaContext(function_name=args.function, remaining_ms=function_timeout_ms(args.function))
    response = module.handler(event, context)
    print(json.dumps(response, indent=2, default=str))
    return 0


# -- erasure verification ------------------------------------------------------------------------


def _is_sqs_event(event: Any) -> bool:
    """A Records list of SQS messages, each with its messageId and body (what the handler reads)."""
    records = event.get("Records") if isinstance(event, dict) else None
    return isinstance(records, list) and all(
        isinstance(r, dict) and isinstance(r.get("messageId"), str) and isinstance(r.get("body"), str)
        for r in records
    )


def _batch_size() -> int:
    """The verification queue event source's BatchSize in template.yaml."""
    for spec in resource(VERIFICATION_RESOURCE)["Properties"].get("Events", {}).values():
        if spec.get("Type") == "SQS":
            return int(spec.get("Properties", {}).get("BatchSize", 10))
    return 10


def _verify(module: ModuleType, stack: StackInfo, event: Any, args: argparse.Namespace) -> int:
    """Run the verification handler on the event file's records or on one batch off the queue;
    print each ticket's outcome (``VerificationProcessor.process``: one per message, in order)."""
    processor = module.processor()  # the handler's own (cached), so its outcomes can be read
    outcomes: list[VerificationOutcome] = []
    process = processor.process

    def recorded(messages: Sequence[Any], **kwargs: Any) -> list[VerificationOutcome]:
        result: list[VerificationOutcome] = process(messages, **kwargs)
        outcomes.extend(result)
        return result

    processor.process = recorded
    events: list[dict[str, Any]] = []

    def handler(given: dict[str, Any], context: Any) -> Any:
        events.append(given)
        return module.handler(given, context)

    timeout_ms = function_timeout_ms(VERIFICATION)
    try:
        if event is not None:
            handler(event, LambdaContext(function_name=VERIFICATION, remaining_ms=timeout_ms))
        else:
            source = _queue_source(stack, handler, args, timeout_ms / 1000)
            if not source.poll_once(handler):
                print(
                    "no ticket waiting on the verification queue (a ticket is invisible until it "
                    "is due, and a running `make local` checks it as it comes due)"
                )
                return 0
            if source.stats.handler_errors:
                print("ciosec: the function raised: the tickets stay on the queue", file=sys.stderr)
                return 1
    finally:
        processor.close()
    records = [record for given in events for record in given["Records"]]
    if not records:
        print("no ticket in the event file")
        return 0
    _print_outcomes(records, outcomes, primary=stack.workspace_names()[0])
    return 0


def _queue_source(
    stack: StackInfo, handler: Callable[[dict[str, Any], Any], Any], args: argparse.Namespace, timeout: float
) -> SqsEventSource:
    """The verification queue's event source for one batch: what is waiting now (or within
    ``--wait`` seconds), no batching window."""
    # Long enough a read timeout for the long poll (the project's botocore settings allow 5 s).
    wait = args.wait or 0
    aws = config.boto_config().merge(Config(read_timeout=wait + 10))
    sqs: SQSClient = boto3.client("sqs", config=aws)
    return SqsEventSource(
        sqs,
        stack.verification_queue_url,
        lambda: handler,
        batch_size=args.limit or _batch_size(),
        wait_seconds=wait,
        region=stack.region or "eu-west-1",
        function_name=VERIFICATION,
        timeout_seconds=timeout,
    )


def _print_outcomes(
    records: Sequence[dict[str, Any]], outcomes: Sequence[VerificationOutcome], *, primary: str
) -> None:
    """One line per ticket and a count per outcome; request ids that could be personal data are
    withheld, identifiers never read."""
    rows = [list(OUTCOME_COLUMNS)]
    for record, outcome in zip(records, outcomes, strict=True):
        rows.append(
            [
                _shown_request_id(outcome.request_id),
                _workspace(record.get("body"), primary),
                outcome.kind,
                outcome.reason or "-",
                str(outcome.checks),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(OUTCOME_COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    counts = Counter(outcome.kind for outcome in outcomes)
    print(f"{len(outcomes)} ticket(s): " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


def _shown_request_id(request_id: str | None) -> str:
    if request_id is None:
        return "(no request id)"
    return readable_request_id({"request_id": request_id}) or "(request id withheld)"


def _workspace(body: Any, primary: str) -> str:
    """The workspace a ticket is checked in (the primary when it names none), "-" for a message
    that is not a ticket."""
    if not isinstance(body, str):
        return "-"
    try:
        ticket = VerificationTicket.from_body(body)
    except InvalidTicketError:
        return "-"
    return ticket.workspace or primary


def register(groups: Subcommands) -> None:
    parser = groups.add_parser(
        "invoke",
        help="run a function's handler on an event file, or verification on its queue (local stack)",
        description=(
            "Run a function's handler in this process against the local stack, on an event file "
            "such as events/webhook/valid.json, and print what it returns. For erasure_verification, "
            "--from-queue takes the tickets waiting on the local stack's verification queue (one "
            "batch, as its event source would: what it handled is deleted, its batch item failures "
            "stay for redelivery); with an event file, it runs on that file's SQS records. It prints "
            "one line per ticket, never the identifier it holds: the request id (withheld if shaped "
            "like personal data), the workspace, the outcome (verified, unverified, rescheduled, "
            "deferred, retry_later, already_done, dead_lettered, retry), its reason and the checks "
            "counted. Tickets wait on the queue, "
            "invisible, until they are due, and a running `make local` checks them as they come "
            "due: --wait long-polls for them, in competition with it."
        ),
    )
    parser.add_argument("function", choices=FUNCTIONS)
    parser.add_argument(
        "event", nargs="?", help="an event file, e.g. events/webhook/valid.json (none with --from-queue)"
    )
    parser.add_argument(
        "--env",
        action="append",
        metavar="NAME=VALUE",
        help=(
            "extra environment; to replay a signed sample past its timestamp: "
            "--env WEBHOOK_TOLERANCE_SECONDS=999999999 --env WEBHOOK_DEDUPE_SECONDS=999999999"
        ),
    )
    parser.add_argument(
        "--from-queue",
        action="store_true",
        help=f"{VERIFICATION} only: run it on the tickets waiting on the verification queue",
    )
    parser.add_argument(
        "--limit",
        type=options.count,
        help="with --from-queue: at most this many tickets (default: the template's BatchSize)",
    )
    parser.add_argument(
        "--wait",
        type=options.integer_between(0, MAX_WAIT_SECONDS),
        metavar="SECONDS",
        help=(
            "with --from-queue: wait up to this long for a ticket to come due "
            f"(0 to {MAX_WAIT_SECONDS}, default 0)"
        ),
    )
    parser.set_defaults(func=_invoke)
