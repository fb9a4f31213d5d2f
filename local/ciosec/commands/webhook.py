"""``ciosec webhook send``: post a signed (or deliberately forged) test webhook to the stack.

``ciosec webhook tail``: print what reaches the stack's EventBridge bus, one JSON line per event
(``ciosec.operations.tail``): a webhook event's envelope with its data's structure (each value's
type and length), never the values, unless ``--show-identifiers`` asks for the events as the bus's
consumers get them (identifiers and email addresses included); erasure events whole. Ctrl-C,
``--count`` or ``--seconds`` stops it, and the temporary rule and queue it made are removed.

``ciosec webhook quarantine list | show ID | replay ID...``: the verified bodies the webhook kept
instead of publishing (not an event, too large to parse, refused by EventBridge, a bug), on the
local stack or, with ``--stack NAME``, a deployed one. ``show`` prints a body's structure, never its
values, unless ``--raw`` is given; ``replay`` runs bodies through the current code and key ring and
removes the ones published.
"""

from __future__ import annotations

import argparse
import json
import secrets as random_tokens
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx

from cio_security.config import boto_config
from cio_security.errors import CioSecurityError
from cio_security.secrets.store import SecretStore
from cio_security.webhook.quarantine import KeptBody, QuarantineLookupError
from cio_security.webhook.signature import sign_webhook
from ciosec.commands import Subcommands
from ciosec.mistakes import Mistake
from ciosec.operations.quarantine import StackClients, outline, quarantine_for, replay, replay_processor
from ciosec.operations.stack import resolve
from ciosec.operations.tail import ERASURE_SOURCE, POLLING_CONFIG, WEBHOOK_SOURCE, BusTail, shown
from ciosec.options import count, seconds


def sample_event(metric: str = "delivered") -> dict[str, Any]:
    """A reporting webhook body with a fresh event_id."""
    return {
        "event_id": "01LOCAL" + random_tokens.token_hex(10).upper(),
        "object_type": "email",
        "metric": metric,
        "timestamp": int(time.time()),
        "data": {"customer_id": "demo-user-1", "delivery_id": "dlv-1", "phone": "+1 555 0100"},
    }


def send_webhook(url: str, body: bytes, key: bytes | None, *, timeout: float = 10.0) -> httpx.Response:
    """POST ``body`` to ``url`` signed with ``key`` (or with a random key when ``key`` is None)."""
    signing_key = key if key is not None else random_tokens.token_bytes(32)
    headers = {"Content-Type": "application/json", **sign_webhook(signing_key, body)}
    return httpx.post(url, content=body, headers=headers, timeout=timeout)


def _send(args: argparse.Namespace) -> int:
    # The file first: a mistake in it is told before the stack is looked for.
    body = Path(args.file).read_bytes() if args.file else json.dumps(sample_event(args.metric)).encode()
    stack = resolve(args)
    url = args.url or stack.webhook_url
    if not url:
        raise Mistake("no webhook URL: pass --url")
    key = None
    if not args.forge:
        store = SecretStore(client=boto3.client("secretsmanager", config=boto_config()), max_age=0)
        key = store.signing_key(stack.signing_key_secret_id).key_bytes()
    response = send_webhook(url, body, key)
    print(f"{response.status_code} {response.text}")
    return 0 if response.status_code < 300 or args.forge else 1


def _tail(args: argparse.Namespace) -> int:
    stack = resolve(args)
    if not stack.event_bus_name:
        raise Mistake("the stack has no event bus output (EventBusName)")
    sources = [WEBHOOK_SOURCE, ERASURE_SOURCE] if args.erasures else [WEBHOOK_SOURCE]
    tail = BusTail(
        boto3.client("events", config=boto_config()),
        boto3.client("sqs", config=POLLING_CONFIG),
        stack.event_bus_name,
        sources=sources,
        detail_types=args.metric or (),
    )
    tail.open()
    printed = 0
    try:
        print(
            f"tailing {stack.event_bus_name} ({json.dumps(tail.pattern)}) through rule and queue "
            f"{tail.name}; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        if args.show_identifiers:
            print(
                "warning: printing each event's data as consumers get it: personal data",
                file=sys.stderr,
                flush=True,
            )
        else:
            print(
                "data values are shown as their type and length; --show-identifiers prints them",
                file=sys.stderr,
                flush=True,
            )
        for event in tail.events(count=args.count, seconds=args.seconds):
            line = shown(event, show_identifiers=args.show_identifiers)
            print(json.dumps(line, ensure_ascii=False), flush=True)
            printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        left = tail.close()
        for what in left:
            print(f"ciosec: could not remove the tail's {what}: remove it by hand", file=sys.stderr)
    print(
        f"{printed} event{'' if printed == 1 else 's'}; removed rule and queue {tail.name}", file=sys.stderr
    )
    return 1 if left else 0


def _clients() -> StackClients:
    return StackClients(
        s3=boto3.client("s3", config=boto_config()),
        secretsmanager=boto3.client("secretsmanager", config=boto_config()),
        events=boto3.client("events", config=boto_config()),
    )


def _quarantine_list(args: argparse.Namespace) -> int:
    kept = quarantine_for(resolve(args), _clients()).list(limit=args.limit)
    if args.json:
        print(json.dumps([k.public() for k in kept], indent=2))
        return 0
    if not kept:
        print("no kept bodies")
        return 0
    for k in kept:
        received = k.received_at.strftime("%Y-%m-%d %H:%M:%S") if k.received_at else "?"
        event_id = k.event_id or "-"
        print(f"{k.id[:16]}  {received}  {k.reason:<18} {k.size:>9} B  event_id={event_id}")
    print(f"{len(kept)} kept bod{'y' if len(kept) == 1 else 'ies'} (show or replay by id or a prefix of 8+)")
    return 0


def _fetch(args: argparse.Namespace, body_id: str) -> KeptBody | None:
    try:
        return quarantine_for(resolve(args), _clients()).get(body_id)
    except QuarantineLookupError as exc:
        print(str(exc), file=sys.stderr)
        return None


def _quarantine_show(args: argparse.Namespace) -> int:
    kept = _fetch(args, args.id)
    if kept is None or kept.body is None:
        return 1
    if args.raw:
        print("warning: printing a kept body as it arrived: customer data", file=sys.stderr)
        sys.stdout.buffer.write(kept.body)
        sys.stdout.buffer.flush()
        return 0
    shown = {**kept.public(), "signed_at": kept.timestamp, "outline": outline(kept.body)}
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 0


def _quarantine_replay(args: argparse.Namespace) -> int:
    stack = resolve(args)
    clients = _clients()
    quarantine = quarantine_for(stack, clients)
    if not args.all and not args.ids:
        print(
            "name the kept bodies to replay (ids from `ciosec webhook quarantine list`) or --all",
            file=sys.stderr,
        )
        return 2
    if args.all:
        bodies = [quarantine.get(k.id) for k in quarantine.list(limit=None)]
    else:
        found = [_fetch(args, body_id) for body_id in args.ids]
        if any(k is None for k in found):
            return 1
        bodies = [k for k in found if k is not None]
    if not bodies:
        print("no kept bodies to replay")
        return 0
    try:
        results = replay(replay_processor(stack, clients), bodies, keep=args.keep)
    except CioSecurityError as exc:
        print(f"replay stopped: {exc}", file=sys.stderr)
        return 1
    for result in results:
        print(result.line())
    return 0 if all(r.outcome.kind in {"published", "duplicate"} for r in results) else 1


def register(groups: Subcommands) -> None:
    parser = groups.add_parser("webhook", help="send test webhooks; inspect and replay kept bodies")
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="post a webhook signed with the stack's current signing key")
    send.add_argument("--file", help="JSON body to send (default: a sample event with a fresh event_id)")
    send.add_argument("--metric", default="delivered", help="metric of the sample event")
    send.add_argument("--url", help="webhook URL (default: the stack's WebhookUrl)")
    send.add_argument("--forge", action="store_true", help="sign with a random key: expect 401")
    send.set_defaults(func=_send)

    tail = commands.add_parser(
        "tail",
        help="print what reaches the stack's event bus, one JSON line per event (data values hidden)",
        description=(
            "Subscribes a temporary SQS queue to the stack's EventBridge bus (a rule matching source "
            "customerio, and cio-security.deletion with --erasures), prints each event as one JSON "
            "line, and removes the rule and the queue on exit (Ctrl-C, --count or --seconds). Only "
            "events published after it starts are shown. The sanitized data the bus's consumers get "
            "still holds identifiers and email addresses, so a webhook event is printed with every "
            "value under detail.data replaced by its type and length (the structure `webhook "
            "quarantine show` prints), its envelope as it is: source, detail-type, time, and the "
            "detail's event_id, object_type, metric, timestamp, workspace and sanitizer report. "
            "--show-identifiers prints the events as the bus's consumers get them. Erasure events "
            "hold request ids and statuses, no personal data, and are printed whole. On a deployed "
            "stack it needs the operator policy's tail permissions (rules and queues named "
            "ciosec-tail-*)."
        ),
    )
    tail.add_argument("--count", type=count, help="stop after this many events")
    tail.add_argument("--seconds", type=seconds(allow_zero=False), help="stop after this many seconds")
    tail.add_argument("--erasures", action="store_true", help="also the deletion function's erasure events")
    tail.add_argument(
        "--show-identifiers",
        action="store_true",
        help="print each event's data as the bus's consumers get it: identifiers, emails (personal data)",
    )
    tail.add_argument(
        "--metric",
        action="append",
        metavar="METRIC",
        help="only events of this detail-type (a Customer.io metric: sent, opened...); repeatable",
    )
    tail.set_defaults(func=_tail)

    quarantine = commands.add_parser(
        "quarantine", help="verified bodies kept instead of published: list, show, replay"
    )
    kept = quarantine.add_subparsers(dest="quarantine_command", required=True)
    listing = kept.add_parser("list", help="ids, reasons, sizes and event ids of the kept bodies")
    listing.add_argument("--limit", type=count, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_quarantine_list)
    show = kept.add_parser(
        "show", help="a kept body's reason and structure (keys, types, lengths), never its values"
    )
    show.add_argument("id", help="the body's id, or a prefix of at least 8 characters")
    show.add_argument(
        "--raw", action="store_true", help="print the body exactly as it arrived (customer data)"
    )
    show.set_defaults(func=_quarantine_show)
    again = kept.add_parser(
        "replay", help="run kept bodies through the current code and key ring; remove the published"
    )
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", default=[], help="ids (or prefixes of 8+) of the bodies")
    which.add_argument("--all", action="store_true", help="every kept body")
    again.add_argument("--keep", action="store_true", help="leave published bodies in the bucket")
    again.set_defaults(func=_quarantine_replay)
