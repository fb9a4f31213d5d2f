"""Deletion throughput against the Track API rate-limit ceiling, and against the naive approach.

Setup: the Customer.io sandbox limits the workspace to ``rate_limit`` requests per second (429 with
``Retry-After`` above it) and adds ``latency`` to every request. An erase is two Track calls, so
the ceiling is ``rate_limit / 2`` erasures per second. Secrets Manager and the DLQ are moto
in-process. The audit table is the test double ``MemoryAuditStore`` (tests/fixtures) with 5 ms
per storage operation (DynamoDB's usual latency): moto's DynamoDB costs ~11 ms of CPU per call,
which in one process (one GIL, shared with 50 worker threads and the sandbox) would cap the run
near 20 erasures/s whatever the handler did.

The handler: ``requests`` erase requests in SQS batches of 10, consumed by ``concurrency``
threads (the event source's ScalingConfig MaximumConcurrency), each thread one execution
environment with its own freshly loaded handler module (its own token bucket at
``rate_limit / concurrency``, HTTP pool and caches) invoked batch after batch, as Lambda reuses a
warm environment. Each environment's processor is built (secrets read, audit store swapped in)
before the clock starts; its first connection to Customer.io is inside the measurement.

The naive approach: one loop calling suppress then delete per person with a 100 ms sleep between
people, no token bucket (the usual hand-written script); ``naive_requests`` of them (fewer, the
rate is what matters).

Figures: erasures per second, as a fraction of the ceiling, and the 429s the sandbox answered;
``series`` holds erasures completed per second over time for the plot.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEPPER = "bench-pepper-0123456789abcdefghijklmnopqrstuv"
SITE_ID, API_KEY = "bench-site", "bench-api-key-5d1e0c2b7a9f4e36"
TABLE, DLQ = "bench-audit", "bench-deletion-dlq"
TRACK_SECRET, PEPPER_SECRET = "bench/track", "bench/pepper"


def _environment(sandbox_url: str, rate_limit: float, concurrency: int) -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="eu-west-1",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="Bench",
        POWERTOOLS_SERVICE_NAME="gdpr-deletion",
        LOG_LEVEL="WARNING",
        TRACK_CREDENTIALS_SECRET_ID=TRACK_SECRET,
        PEPPER_SECRET_ID=PEPPER_SECRET,
        AUDIT_TABLE=TABLE,
        CUSTOMERIO_TRACK_URL=sandbox_url,
        CUSTOMERIO_RATE_LIMIT_RPS=str(rate_limit),
        DELETION_MAX_CONCURRENCY=str(concurrency),
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def _aws_resources() -> None:
    import boto3

    sm = boto3.client("secretsmanager")
    sm.create_secret(
        Name=TRACK_SECRET, SecretString=json.dumps({"site_id": SITE_ID, "api_key": API_KEY, "region": "us"})
    )
    sm.create_secret(Name=PEPPER_SECRET, SecretString=json.dumps({"pepper": PEPPER}))
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    os.environ["DEAD_LETTER_QUEUE_URL"] = boto3.client("sqs").create_queue(QueueName=DLQ)["QueueUrl"]


def _batches(count: int, size: int = 10) -> list[dict[str, Any]]:
    """Lambda-shaped SQS events of ``size`` erase requests each."""
    events = []
    for start in range(0, count, size):
        records = []
        for i in range(start, min(count, start + size)):
            body = json.dumps(
                {
                    "request_id": f"bench-{i:06d}",
                    "identifier": f"bench-user-{i}",
                    "requested_at": "2026-11-28T10:00:00Z",
                }
            )
            records.append(
                {
                    "messageId": f"m-{i:06d}",
                    "receiptHandle": f"rh-{i:06d}",
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000"},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:bench-deletion",
                    "awsRegion": "eu-west-1",
                }
            )
        events.append({"Records": records})
    return events


def _series(times: list[float], start: float, bucket: float = 1.0) -> list[tuple[float, float]]:
    """Completions per second in ``bucket``-second windows since ``start``."""
    counts = Counter(int((t - start) // bucket) for t in times)
    if not counts:
        return []
    return [(round((b + 1) * bucket, 1), counts.get(b, 0) / bucket) for b in range(max(counts) + 1)]


def _run_handler(sandbox: Any, requests: int, concurrency: int, audit_latency: float) -> dict[str, Any]:
    from ciosec.emulator.functions import LambdaContext, load_function
    from fixtures.audit import MemoryAuditStore

    work: queue.Queue[dict[str, Any]] = queue.Queue()
    for event in _batches(requests):
        work.put(event)
    failures: list[str] = []
    lock = threading.Lock()
    environments = [load_function("gdpr_deletion") for _ in range(concurrency)]
    audit = MemoryAuditStore(latency=audit_latency)  # one table for every environment
    for app in environments:
        app.processor().audit = audit  # built now: secrets read, client and bucket created

    def environment(app: Any) -> None:
        while True:
            try:
                event = work.get_nowait()
            except queue.Empty:
                return
            response = app.handler(event, LambdaContext(function_name="gdpr-deletion", remaining_ms=90_000))
            with lock:
                failures.extend(f["itemIdentifier"] for f in response["batchItemFailures"])

    sandbox.clear_requests()
    threads = [threading.Thread(target=environment, args=(app,)) for app in environments]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.time() - started
    for app in environments:
        app.workers().shutdown(wait=True)
        if app.processor.cache_info().currsize:
            app.processor().client.close()
    log = sandbox.requests()
    deletes = [r.received_at for r in log if r.operation == "delete" and r.status == 200]
    return {
        "elapsed": elapsed,
        "completed": len(deletes),
        "rate": len(deletes) / elapsed,
        "status_429": sum(1 for r in log if r.status == 429),
        "batch_item_failures": len(failures),
        "series": _series(deletes, started),
    }


def _run_naive(sandbox: Any, requests: int, rate_limit: float) -> dict[str, Any]:
    """Sequential suppress + delete with a 100 ms sleep between people (no client pacing)."""
    from cio_security.customerio.track import TrackClient
    from cio_security.errors import CustomerIOError
    from cio_security.secrets.models import TrackCredentials

    credentials = TrackCredentials(site_id=SITE_ID, api_key=API_KEY, region="us")
    sandbox.clear_requests()
    completed: list[float] = []
    started = time.time()
    with TrackClient(credentials, base_url=sandbox.url) as client:
        for i in range(requests):
            try:
                client.suppress(f"naive-user-{i}")
                client.delete(f"naive-user-{i}")
                completed.append(time.time())
            except CustomerIOError:
                pass
            time.sleep(0.1)
    elapsed = time.time() - started
    log = sandbox.requests()
    return {
        "elapsed": elapsed,
        "completed": len(completed),
        "rate": len(completed) / elapsed,
        "status_429": sum(1 for r in log if r.status == 429),
        "series": _series(completed, started),
    }


def run(
    requests: int = 2000,
    *,
    rate_limit: float = 100.0,
    latency: float = 0.04,
    concurrency: int = 5,
    naive_requests: int = 100,
    audit_latency: float = 0.005,
) -> dict[str, Any]:
    """Run both approaches against one sandbox and return the figures (module docstring)."""
    for path in (ROOT / "layers" / "shared", ROOT / "local", ROOT / "tests"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from moto import mock_aws

    from ciosec.sandbox import CredentialSet, Sandbox, SandboxConfig

    ceiling = rate_limit / 2
    config = SandboxConfig(latency=latency, rate_limit_rps=rate_limit)
    credentials = CredentialSet(site_id=SITE_ID, api_key=API_KEY, environment_id=1, region="us")
    with (
        Sandbox([credentials], config=config) as sandbox,
        mock_aws(),
        open(os.devnull, "w") as devnull,
        contextlib.redirect_stdout(devnull),
    ):
        _environment(sandbox.url, rate_limit, concurrency)
        _aws_resources()
        for i in range(requests):
            sandbox.add_person(f"bench-user-{i}")
        handler = _run_handler(sandbox, requests, concurrency, audit_latency)
        time.sleep(1.0)  # let the sandbox's bucket refill between the runs
        naive = _run_naive(sandbox, naive_requests, rate_limit)
    return {
        "rate_limit_rps": rate_limit,
        "latency_ms": latency * 1000,
        "ceiling_per_second": ceiling,
        "handler_requests": requests,
        "handler_concurrency": concurrency,
        "handler_seconds": round(handler["elapsed"], 2),
        "handler_completed": handler["completed"],
        "handler_per_second": round(handler["rate"], 2),
        "handler_fraction_of_ceiling": round(handler["rate"] / ceiling, 3),
        "handler_429s": handler["status_429"],
        "handler_batch_item_failures": handler["batch_item_failures"],
        "naive_requests": naive_requests,
        "naive_per_second": round(naive["rate"], 2),
        "naive_fraction_of_ceiling": round(naive["rate"] / ceiling, 3),
        "naive_429s": naive["status_429"],
        "speedup_over_naive": round(handler["rate"] / naive["rate"], 2) if naive["rate"] else None,
        "target_met": handler["rate"] >= 0.9 * ceiling and handler["status_429"] == 0,
        "series": {"handler": handler["series"], "naive (100 ms sleep)": naive["series"]},
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    result = run(count)
    result.pop("series")
    print(json.dumps(result, indent=2))
