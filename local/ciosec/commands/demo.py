"""``ciosec demo`` (``make demo``): start the local stack, drive one scenario end to end, print a
short report, stop everything.

The scenario: a valid and a forged webhook; 100 deletion requests while the Customer.io sandbox
injects faults (5xx, 429 with Retry-After, connection resets); a Track credential rotation while
those deletions run; then every request is accounted for (completed, or in the DLQ with a reason).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

from cio_security.errors import RotationError
from cio_security.rotation import RotationSettings
from cio_security.secrets.models import TrackCredentials
from ciosec.commands import Subcommands
from ciosec.commands.webhook import sample_event, send_webhook
from ciosec.emulator.local_stack import LOCAL_SIGNING_KEY, LocalStack, LocalStackOptions
from ciosec.operations.deletion import audit_status, build_request, list_dead_letters, submit_bulk
from ciosec.operations.rotation import discard_stale_pending, rotate_locally, stage

REQUESTS = 100
ROTATION_ATTEMPTS = 5
FAULTS = {"error_rate": 0.10, "rate_limited_rate": 0.05, "retry_after": 1, "reset_rate": 0.02, "seed": 7}


def _webhooks(stack: LocalStack) -> dict[str, int]:
    body = json.dumps(sample_event()).encode()
    return {
        "signed": send_webhook(stack.info.webhook_url, body, LOCAL_SIGNING_KEY.encode()).status_code,
        "forged": send_webhook(stack.info.webhook_url, body, None).status_code,
    }


def _rotate_track(stack: LocalStack) -> str:
    """Issue a new credential set in the sandbox, stage it, and run the four steps."""
    assert stack.sandbox is not None  # noqa: S101 - the demo always runs on the sandbox
    issued = stack.sandbox.add_credentials()
    client = boto3.client("secretsmanager")
    secret_id = stack.info.track_credentials_secret_id
    new = TrackCredentials.model_validate(
        {"site_id": issued.site_id, "api_key": issued.api_key, "region": issued.region}
    )
    stage(client, secret_id, "track", new)
    settings = RotationSettings(
        track_credentials_secret_id=secret_id,
        signing_key_secret_id=stack.info.signing_key_secret_id,
        track_url=stack.info.sandbox_url,
    )
    # The sandbox is injecting faults: a step may fail (nothing is promoted then), and Secrets
    # Manager would retry the rotation, so the demo does too.
    for attempt in range(1, ROTATION_ATTEMPTS + 1):
        discard_stale_pending(client, secret_id)
        try:
            results = rotate_locally(client, secret_id, settings)
        except RotationError as exc:
            if attempt == ROTATION_ATTEMPTS:
                return f"failed after {attempt} attempts: {exc}"
            continue
        return ", ".join(f"{r.step} {r.outcome}" for r in results)
    return "did not finish"


def _account(stack: LocalStack, request_ids: list[str], timeout: float) -> tuple[Counter[str], float]:
    """Wait until every request is completed or dead-lettered; count the outcomes."""
    ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    started = time.monotonic()
    outcomes: Counter[str] = Counter()
    while time.monotonic() - started < timeout:
        dead = {d.request_id for d in list_dead_letters(sqs, stack.info.deletion_dlq_url, limit=None)}
        outcomes = Counter()
        for request_id in request_ids:
            record = audit_status(ddb, stack.info.audit_table, request_id)
            if request_id in dead:
                outcomes["dead-lettered"] += 1
            elif record and record.get("status") == "completed":
                outcomes["completed"] += 1
            else:
                outcomes["in progress"] += 1
        if not outcomes["in progress"]:
            break
        time.sleep(1.0)
    return outcomes, time.monotonic() - started


def _run(args: argparse.Namespace) -> int:
    # The report is the demo's output: the functions' own logs and metrics (stdout) stay quiet.
    logging.getLogger().setLevel(logging.ERROR)
    print("starting the local stack and running the scenario...", file=sys.stderr, flush=True)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        report, outcomes = _scenario(args)
    print(json.dumps(report, indent=2))
    ok = (
        report["webhooks"] == {"signed": 200, "forged": 401}
        and outcomes["in progress"] == 0
        and outcomes["completed"] + outcomes["dead-lettered"] == REQUESTS
    )
    print("demo: every request accounted for" if ok else "demo: something is off (see above)")
    return 0 if ok else 1


def _scenario(args: argparse.Namespace) -> tuple[dict[str, Any], Counter[str]]:
    options = LocalStackOptions(webhook_port=0, state_file=Path(args.state))
    with LocalStack(options) as stack:
        assert stack.sandbox is not None  # noqa: S101
        report: dict[str, Any] = {"webhooks": _webhooks(stack)}

        people = [f"demo-user-{i:03d}" for i in range(REQUESTS)]
        for person in people:
            stack.sandbox.add_person(person)
        stack.sandbox.configure(faults=FAULTS)
        requests = [build_request(f"demo-{i:03d}", person) for i, person in enumerate(people)]
        submit_bulk(boto3.client("sqs"), stack.info.deletion_queue_url, requests)

        rotation: dict[str, str] = {}
        rotator = threading.Thread(target=lambda: rotation.update(result=_rotate_track(stack)))
        time.sleep(1.0)  # let deletions get under way first
        rotator.start()
        rotator.join(60)
        outcomes, seconds = _account(stack, [r.request_id for r in requests], timeout=args.timeout)

        faults = Counter(r.fault for r in stack.sandbox.requests() if r.fault)
        remaining = [p for p in people if p in stack.sandbox.people()]
        report.update(
            deletions={**outcomes, "seconds": round(seconds, 1)},
            faults_injected=dict(faults),
            customerio_calls=len(stack.sandbox.requests()),
            people_left_in_customerio=len(remaining),
            rotation=rotation.get("result", "did not finish"),
        )
    return report, outcomes


def register(groups: Subcommands) -> None:
    parser = groups.add_parser("demo", help="run one end-to-end scenario on a fresh local stack")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for the deletions")
    parser.set_defaults(func=_run)
