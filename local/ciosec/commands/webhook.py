"""``ciosec webhook send``: post a signed (or deliberately forged) test webhook to the stack."""

from __future__ import annotations

import argparse
import json
import secrets as random_tokens
import time
from pathlib import Path
from typing import Any

import boto3
import httpx

from cio_security.config import boto_config
from cio_security.secrets.store import SecretStore
from cio_security.webhook.signature import sign_webhook
from ciosec.commands import Subcommands
from ciosec.operations.stack import resolve


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
    stack = resolve(args)
    url = args.url or stack.webhook_url
    if not url:
        raise SystemExit("no webhook URL: pass --url")
    body = Path(args.file).read_bytes() if args.file else json.dumps(sample_event(args.metric)).encode()
    key = None
    if not args.forge:
        store = SecretStore(client=boto3.client("secretsmanager", config=boto_config()), max_age=0)
        key = store.signing_key(stack.signing_key_secret_id).key_bytes()
    response = send_webhook(url, body, key)
    print(f"{response.status_code} {response.text}")
    return 0 if response.status_code < 300 or args.forge else 1


def register(groups: Subcommands) -> None:
    parser = groups.add_parser("webhook", help="send test webhooks to the stack")
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="post a webhook signed with the stack's current signing key")
    send.add_argument("--file", help="JSON body to send (default: a sample event with a fresh event_id)")
    send.add_argument("--metric", default="delivered", help="metric of the sample event")
    send.add_argument("--url", help="webhook URL (default: the stack's WebhookUrl)")
    send.add_argument("--forge", action="store_true", help="sign with a random key: expect 401")
    send.set_defaults(func=_send)
