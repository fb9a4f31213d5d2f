"""Erasure verification throughput against the App API's 10 requests per second, with batched
lookups.

Setup: the Customer.io sandbox's App API with its documented limit, 10 requests per second per key
(429 beyond), and ``latency`` added to every request; every person already gone (the check that
ends an erasure). Secrets Manager and the queues are moto in-process; the audit table is the test
double ``MemoryAuditStore`` (tests/fixtures) with 5 ms per storage operation, DynamoDB's usual
latency, as in the deletion benchmark (moto's DynamoDB would cost more CPU than the work measured).

The handler: the real verification handler in ``concurrency`` execution environments (the
template's ScalingConfig MaximumConcurrency, 2), each its own freshly loaded module with its own
token bucket at ``10 / concurrency`` requests per second, invoked batch after batch with
Lambda-shaped events of up to 100 tickets (the template's BatchSize), as Lambda reuses a warm
environment. Each environment's processor is built before the clock starts.

Two runs: ``id`` tickets, looked up 100 per ``POST /v1/customers/attributes``, whose ceiling is
``10 x 100 = 1,000`` checks per second; and ``email`` tickets, one ``GET`` per person (an answer
can be matched to an email only one by one), whose ceiling is the limit itself, 10 per second: what
every check would cost without batching.

Figures: checks per second against each ceiling, the App API requests and the 429s the sandbox
answered (target zero).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEPPER = "bench-pepper-0123456789abcdefghijklmnopqrstuv"
APP_KEY = "bench-app-api-key-8c2e4a6f1b3d"
APP_SECRET, PEPPER_SECRET = "bench/app-api-key", "bench/pepper"
APP_RATE_LIMIT_RPS = 10.0
LOOKUP_IDS = 100


def _environment(app_url: str, concurrency: int) -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="eu-west-1",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="Bench",
        POWERTOOLS_SERVICE_NAME="erasure-verification",
        LOG_LEVEL="WARNING",
        APP_API_KEY_SECRET_ID=APP_SECRET,
        PEPPER_SECRET_ID=PEPPER_SECRET,
        AUDIT_TABLE="bench-audit",
        CUSTOMERIO_APP_URL=app_url,
        CUSTOMERIO_APP_RATE_LIMIT_RPS=str(APP_RATE_LIMIT_RPS),
        VERIFICATION_MAX_CONCURRENCY=str(concurrency),
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "EVENT_BUS_NAME"):
        os.environ.pop(name, None)


def _aws_resources() -> None:
    import boto3

    sm = boto3.client("secretsmanager")
    sm.create_secret(Name=APP_SECRET, SecretString=json.dumps({"app_api_key": APP_KEY, "region": "us"}))
    sm.create_secret(Name=PEPPER_SECRET, SecretString=json.dumps({"pepper": PEPPER}))
    sqs = boto3.client("sqs")
    os.environ["VERIFICATION_QUEUE_URL"] = sqs.create_queue(QueueName="bench-verification")["QueueUrl"]
    os.environ["VERIFICATION_DEAD_LETTER_QUEUE_URL"] = sqs.create_queue(QueueName="bench-verification-dlq")[
        "QueueUrl"
    ]


def _tickets(store: Any, prefix: str, count: int, identifier_type: str) -> list[str]:
    """``count`` erasures awaiting verification in ``store``, submitted 20 minutes ago (their first
    check is due); returns their tickets' bodies."""
    from cio_security.audit.record import subject_hash
    from cio_security.deletion.request import DeletionRequest
    from cio_security.deletion.verification import VerificationPolicy

    policy = VerificationPolicy()
    submitted = datetime.now(UTC) - timedelta(minutes=20)
    bodies = []
    for i in range(count):
        identifier = f"{prefix}-{i:06d}" + ("@example.invalid" if identifier_type == "email" else "")
        request = DeletionRequest.model_validate(
            {
                "request_id": f"{prefix}-r{i:06d}",
                "identifier": identifier,
                "identifier_type": identifier_type,
                "requested_at": "2026-11-28T10:00:00Z",
            }
        )
        record = store.begin(request, submitted, subject_hash(identifier_type, identifier, PEPPER), 60)
        record = store.accept(record, "suppress", 200, None, submitted, complete=False)
        store.await_verification(record, submitted)
        bodies.append(policy.first_ticket(request.request_id, identifier_type, identifier, submitted).body())  # type: ignore[arg-type]
    return bodies


def _events(bodies: list[str], size: int = LOOKUP_IDS) -> list[dict[str, Any]]:
    """Lambda-shaped SQS events of up to ``size`` tickets each."""
    events = []
    for start in range(0, len(bodies), size):
        records = [
            {
                "messageId": f"m-{start + i:06d}",
                "receiptHandle": f"rh-{start + i:06d}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:bench-verification",
                "awsRegion": "eu-west-1",
            }
            for i, body in enumerate(bodies[start : start + size])
        ]
        events.append({"Records": records})
    return events


def _run(sandbox: Any, environments: list[Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Invoke the environments' handlers on ``events`` until none is left; the figures."""
    from ciosec.emulator.functions import LambdaContext

    work: queue.Queue[dict[str, Any]] = queue.Queue()
    for event in events:
        work.put(event)
    outcomes = {"failures": 0}
    lock = threading.Lock()

    def environment(app: Any) -> None:
        while True:
            try:
                event = work.get_nowait()
            except queue.Empty:
                return
            context = LambdaContext(function_name="erasure-verification", remaining_ms=120_000)
            response = app.handler(event, context)
            with lock:
                outcomes["failures"] += len(response["batchItemFailures"])

    sandbox.clear_requests()
    threads = [threading.Thread(target=environment, args=(app,)) for app in environments]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    log = [r for r in sandbox.requests() if r.operation and r.operation.startswith("app_")]
    return {
        "elapsed": elapsed,
        "requests": len(log),
        "lookups": sum(1 for r in log if r.operation in {"app_people", "app_person"}),
        "status_429": sum(1 for r in log if r.status == 429),
        "batch_item_failures": outcomes["failures"],
    }


def run(
    ids: int = 10_000,
    emails: int = 200,
    *,
    latency: float = 0.05,
    concurrency: int = 2,
    audit_latency: float = 0.005,
) -> dict[str, Any]:
    """Both runs against one sandbox; the figures (module docstring)."""
    for path in (ROOT / "layers" / "shared", ROOT / "local", ROOT / "tests"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from moto import mock_aws

    from ciosec.emulator.functions import load_function
    from ciosec.sandbox import AppApiKey, Sandbox, SandboxConfig
    from fixtures.audit import MemoryAuditStore

    key = AppApiKey(key=APP_KEY, environment_id=1, region="us")
    with (
        Sandbox(app_keys=[key], config=SandboxConfig(latency=latency)) as sandbox,
        mock_aws(),
        open(os.devnull, "w") as devnull,
        contextlib.redirect_stdout(devnull),
    ):
        _environment(sandbox.app_url, concurrency)
        _aws_resources()
        figures: dict[str, dict[str, Any]] = {}
        for label, count, identifier_type in (("ids", ids, "id"), ("emails", emails, "email")):
            store = MemoryAuditStore()
            events = _events(_tickets(store, f"bench-{label}", count, identifier_type))
            store.latency = audit_latency
            environments = [load_function("erasure_verification") for _ in range(concurrency)]
            for app in environments:
                app.processor().audit = store  # built now: secrets read, client and bucket created
            figures[label] = _run(sandbox, environments, events)
            verified = sum(1 for r in store.records() if r.verification == "verified")
            figures[label].update(checked=count, verified=verified, rate=verified / figures[label]["elapsed"])
            for app in environments:
                app.workers().shutdown(wait=True)
                app.processor().close()
            time.sleep(1.0)  # let the sandbox's bucket refill between the runs
    id_ceiling = APP_RATE_LIMIT_RPS * LOOKUP_IDS
    by_id, by_email = figures["ids"], figures["emails"]
    return {
        "app_rate_limit_rps": APP_RATE_LIMIT_RPS,
        "latency_ms": latency * 1000,
        "concurrency": concurrency,
        "ids_checked": by_id["checked"],
        "ids_verified": by_id["verified"],
        "ids_seconds": round(by_id["elapsed"], 2),
        "ids_per_second": round(by_id["rate"], 1),
        "ids_ceiling_per_second": id_ceiling,
        "ids_fraction_of_ceiling": round(by_id["rate"] / id_ceiling, 3),
        "ids_app_api_requests": by_id["requests"],
        "ids_requests_per_second": round(by_id["requests"] / by_id["elapsed"], 2),
        "ids_429s": by_id["status_429"],
        "emails_checked": by_email["checked"],
        "emails_verified": by_email["verified"],
        "emails_per_second": round(by_email["rate"], 2),
        "emails_ceiling_per_second": APP_RATE_LIMIT_RPS,
        "emails_fraction_of_ceiling": round(by_email["rate"] / APP_RATE_LIMIT_RPS, 3),
        "emails_429s": by_email["status_429"],
        "batch_item_failures": by_id["batch_item_failures"] + by_email["batch_item_failures"],
        "speedup_of_batching": round(by_id["rate"] / by_email["rate"], 1) if by_email["rate"] else None,
        "target_met": by_id["rate"] >= 0.9 * id_ceiling
        and by_id["status_429"] == by_email["status_429"] == 0
        and by_id["verified"] == by_id["checked"],
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(json.dumps(run(count), indent=2))
