"""``ciosec local``: run the whole stack on 127.0.0.1 until Ctrl-C (``make local``)."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from ciosec.commands import Subcommands
from ciosec.emulator.local_stack import LocalStack, LocalStackOptions
from ciosec.operations.stack import StackInfo

NEXT_STEPS = """\
Next, in another terminal (.venv/bin/ciosec or .venv/bin/python -m ciosec):
  ciosec webhook send                         a webhook signed with the current key -> 200
  ciosec webhook send --forge                 a forged one -> 401
  echo user-1 | ciosec deletion submit --request-id dsar-1 --identifier-stdin
  ciosec deletion status dsar-1               the audit record
  ciosec dlq list                             permanent failures and their reasons
  ciosec sandbox new-credentials | ciosec secrets stage track && ciosec secrets rotate track
  ciosec secrets status --workspace eu  the EU workspace's secrets
  ciosec sanitize events/webhook/valid.json --report
Events for `sam local invoke` (where Docker exists) are in events/.
"""


def describe(info: StackInfo) -> str:
    sandboxes = info.sandbox_urls()
    customerio = (
        [(f"Customer.io ({region.upper()})", url) for region, url in sandboxes.items()]
        if sandboxes
        else [("Customer.io", "the real Track API (CUSTOMERIO_SITE_ID is set)")]
    )
    rows = [
        ("webhook", f"POST {info.webhook_url}"),
        ("AWS (moto)", f"{info.endpoint_url}  region {info.region}"),
        *customerio,
        ("workspaces", ", ".join(info.workspace_names()) + "  (the first is the primary)"),
        ("deletion queue", info.deletion_queue_url),
        ("dead-letter queue", info.deletion_dlq_url),
        ("audit table", info.audit_table),
        ("event bus", info.event_bus_name),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def _run(args: argparse.Namespace) -> int:
    options = LocalStackOptions(webhook_port=args.port, state_file=Path(args.state))
    stack = LocalStack(options)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    info = stack.start()
    try:
        print("cio-security is running locally:\n" + describe(info) + "\n\n" + NEXT_STEPS, flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        print("stopped.", flush=True)
    return 0


def register(groups: Subcommands) -> None:
    parser = groups.add_parser("local", help="run the whole stack on 127.0.0.1 until Ctrl-C")
    parser.add_argument("--port", type=int, default=3000, help="webhook port (default 3000)")
    parser.set_defaults(func=_run)
