"""``ciosec invoke FUNCTION EVENT.json``: run one function's handler in this process against the
local stack, with a sample event from events/ (what ``sam local invoke -e`` does with Docker).

The handler's module is imported under the same name in every run, and the webhook deduplicates
against the local stack's idempotency table as the deployed function does: invoking the same event
twice publishes it once (the second run answers 200 as a duplicate)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from ciosec.commands import Subcommands
from ciosec.emulator.functions import LambdaContext, function_timeout_ms, load_function
from ciosec.mistakes import Mistake
from ciosec.operations.stack import StackInfo, resolve

FUNCTIONS = ("webhook", "gdpr_deletion", "rotation")
EXAMPLE = "events/webhook/valid.json"


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


def _invoke(args: argparse.Namespace) -> int:
    if args.stack:
        raise Mistake("invoke runs handlers in this process against the local stack only: drop --stack")
    # The event and the options first: a mistake in them is told before the stack is looked for.
    event = _read_event(args.event)
    extra = _assignments(args.env or [])
    stack = resolve(args)
    os.environ.update(function_environment(stack))
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", f"cio-security-local-{args.function}")
    os.environ.update(extra)
    # Imported under the same module name in every run (ciosec.emulator.functions.module_name),
    # and deduplicated against the stack's idempotency table with the deployed function's key:
    # the same event invoked twice is published once.
    handler = load_function(args.function).handler
    context = LambdaContext(function_name=args.function, remaining_ms=function_timeout_ms(args.function))
    response = handler(event, context)
    print(json.dumps(response, indent=2, default=str))
    return 0


def register(groups: Subcommands) -> None:
    parser = groups.add_parser("invoke", help="run a function's handler on an event file (local stack)")
    parser.add_argument("function", choices=FUNCTIONS)
    parser.add_argument("event", help="an event file, e.g. events/webhook/valid.json")
    parser.add_argument(
        "--env",
        action="append",
        metavar="NAME=VALUE",
        help=(
            "extra environment; to replay a signed sample past its timestamp: "
            "--env WEBHOOK_TOLERANCE_SECONDS=999999999 --env WEBHOOK_DEDUPE_SECONDS=999999999"
        ),
    )
    parser.set_defaults(func=_invoke)
