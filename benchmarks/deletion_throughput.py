"""Deletion throughput: the Track API v2 batch path against the Track v1 path it replaced, side by
side in one run, through the real handlers at the same request budget and latency.

Setup: one Customer.io sandbox (in this process) limits the workspace to ``rate_limit`` requests
per second (429 with ``Retry-After`` above it) and adds ``latency`` to every request. Each path
runs in a fresh interpreter of its own (a child process, so the two ``cio_security`` versions
never meet and the sandbox has this process to itself): ``concurrency`` threads, each one
execution environment with its own freshly loaded handler module (its own token bucket at
``rate_limit / concurrency``, HTTP pool and caches), invoked batch after batch as Lambda reuses a
warm environment, on Lambda-shaped SQS events of the path's BatchSize. Secrets Manager and the DLQ
are moto in-process; the audit table is the test double ``MemoryAuditStore`` (tests/fixtures)
with ``audit_latency`` per storage operation, DynamoDB's usual single-digit milliseconds (moto's
DynamoDB costs ~11 ms of CPU per call, which would measure moto).

- **v1**: the handler and library of commit ``V1_COMMIT`` (the last before Track v2), taken from
  git: suppress then delete per request, two Track v1 calls and three audit writes (each a read
  and a write), BatchSize 10. Its ceiling is ``rate_limit / 2`` erasures per second.
- **v2**: this tree's handler: one Track v2 batch request per invocation (the template's
  BatchSize), one suppress per request, the acceptance and completion in one audit write.

Figures: erasures per second (completed audit records over wall time), the 429s the sandbox
answered, whether every request was audited ``completed``, and what bounds the run: the child's
CPU (seconds per erasure, share of one core: a Python process runs on one core at a time), the
share of that CPU spent in the audit store, the Track client and message parsing (thread CPU time
inside them), audit storage operations per erasure, Track requests per second against the
budget, and operations per Track request. ``series`` holds erasures completed per second.

``python -m benchmarks.deletion_throughput`` runs it; ``child`` is the entry point of each path.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import queue
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
V1_COMMIT = "aafc515917b6f1df59fdbb923d28813e4da1de83"
"""The last commit whose deletion path is Track v1 (suppress + delete per request)."""
V1_BATCH_SIZE = 10
PEPPER = "bench-pepper-0123456789abcdefghijklmnopqrstuv"
SITE_ID, API_KEY = "bench-site", "bench-api-key-5d1e0c2b7a9f4e36"
DLQ = "bench-deletion-dlq"
TRACK_SECRET, PEPPER_SECRET = "bench/track", "bench/pepper"
CHILD_TIMEOUT_SECONDS = 600


# -- the parent: the sandbox, one child per path --------------------------------------------------


def _template_event() -> tuple[int, int]:
    """(BatchSize default, the deletion function's Timeout) from template.yaml."""
    sys.path.insert(0, str(ROOT / "local"))
    from ciosec.emulator.template import load_template

    template = load_template()
    size = template["Parameters"]["DeletionBatchSize"]["Default"]
    timeout = template["Resources"]["GdprDeletionFunction"]["Properties"]["Timeout"]
    return int(size), int(timeout)


def _v1_tree(directory: Path) -> Path | None:
    """The v1 layer and handler extracted from git into ``directory``; None without git history."""
    git = shutil.which("git")
    if git is None:
        return None
    paths = ["layers/shared/cio_security", "functions/gdpr_deletion"]
    try:
        archive = subprocess.run(
            [git, "-C", str(ROOT), "archive", V1_COMMIT, *paths], check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    return directory


def _child(
    variant: str,
    layer: Path,
    function: Path,
    sandbox_url: str,
    *,
    requests: int,
    concurrency: int,
    rate_limit: float,
    audit_latency: float,
    batch_size: int,
    timeout: int,
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.deletion_throughput",
        "child",
        "--variant",
        variant,
        "--layer",
        str(layer),
        "--function",
        str(function),
        "--sandbox",
        sandbox_url,
        "--requests",
        str(requests),
        "--concurrency",
        str(concurrency),
        "--rate-limit",
        str(rate_limit),
        "--audit-latency",
        str(audit_latency),
        "--batch-size",
        str(batch_size),
        "--timeout",
        str(timeout),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    done = subprocess.run(
        command, cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _sandbox_figures(log: list[Any]) -> dict[str, Any]:
    batches = [
        len(r.body.get("batch", [])) for r in log if r.operation == "batch" and isinstance(r.body, dict)
    ]
    sizes = [
        len(json.dumps(r.body, separators=(",", ":")))
        for r in log
        if r.operation == "batch" and isinstance(r.body, dict)
    ]
    figures: dict[str, Any] = {
        "track_requests": len(log),
        "status_429": sum(1 for r in log if r.status == 429),
        "operations_per_request": round(sum(batches) / len(batches), 1) if batches else 1.0,
    }
    if sizes:  # v1 calls carry their identifier in the path, no body
        figures["request_bytes_max"] = max(sizes)
    return figures


def run(
    requests: int = 4_000,
    *,
    v1_requests: int = 1_000,
    rate_limit: float = 100.0,
    latency: float = 0.04,
    concurrency: int = 5,
    audit_latency: float = 0.005,
) -> dict[str, Any]:
    """Run both paths against one sandbox and return the figures (module docstring)."""
    for path in (ROOT / "local", ROOT / "layers" / "shared"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from ciosec.sandbox import CredentialSet, Sandbox, SandboxConfig

    batch_size, timeout = _template_event()
    ceiling = rate_limit / 2
    config = SandboxConfig(latency=latency, rate_limit_rps=rate_limit)
    credentials = CredentialSet(site_id=SITE_ID, api_key=API_KEY, environment_id=1, region="us")
    common: dict[str, Any] = {
        "concurrency": concurrency,
        "rate_limit": rate_limit,
        "audit_latency": audit_latency,
        "timeout": timeout,
    }
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        v1_tree = _v1_tree(Path(tmp))
        runs = [("v2", ROOT, requests, batch_size)]
        if v1_tree is not None:
            runs.insert(0, ("v1", v1_tree, v1_requests, V1_BATCH_SIZE))
        for variant, tree, count, size in runs:
            # A fresh workspace for each path: the sandbox's suppression list grows with every
            # erasure and each suppress scans it, so an earlier run would slow the next one.
            with Sandbox([credentials], config=config) as sandbox:
                for i in range(count):
                    sandbox.add_person(f"{variant}-user-{i}")
                started = time.process_time()
                child = _child(
                    variant,
                    tree / "layers" / "shared",
                    tree / "functions" / "gdpr_deletion",
                    sandbox.url,
                    requests=count,
                    batch_size=size,
                    **common,
                )
                child["sandbox_cpu_seconds"] = round(time.process_time() - started, 2)
                child.update(_sandbox_figures(sandbox.requests()))
                child["people_left"] = sum(1 for key in sandbox.people() if key.startswith(f"{variant}-"))
            results[variant] = child
    v1, v2 = results.get("v1"), results["v2"]
    figures: dict[str, Any] = {
        "rate_limit_rps": rate_limit,
        "latency_ms": latency * 1000,
        "concurrency": concurrency,
        "audit_latency_ms": audit_latency * 1000,
        "v1_commit": V1_COMMIT[:12],
        "v1_ceiling_per_second": ceiling,
        "v2_target_per_second": 20 * ceiling,
        "v1": v1 or {"skipped": "no git history for the v1 commit"},
        "v2": v2,
        "v2_over_v1_ceiling": round(v2["rate"] / ceiling, 1),
        "v2_over_v1_measured": round(v2["rate"] / v1["rate"], 1) if v1 and v1["rate"] else None,
        "target_met": v2["rate"] >= 20 * ceiling and v2["status_429"] == 0 and v2["all_audited"],
        "series": {f"v2 batch (BatchSize {batch_size})": v2.pop("series")},
    }
    if v1:
        figures["series"][f"v1 (BatchSize {V1_BATCH_SIZE})"] = v1.pop("series")
    return figures


# -- a child: one path, measured -----------------------------------------------------------------


@dataclass
class _Cpu:
    """Thread CPU time spent inside wrapped callables, by component."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    def wrap(
        self, component: str, target: Callable[..., Any], *, count: str | None = None
    ) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self.local, "depth", 0)
            self.local.depth = depth + 1
            started = time.thread_time()
            try:
                return target(*args, **kwargs)
            finally:
                self.local.depth = depth
                spent = time.thread_time() - started
                with self.lock:
                    if depth == 0:  # only the outermost wrapped call counts its CPU
                        self.seconds[component] += spent
                    if count:
                        self.calls[count] += 1

        return timed


def _load(function: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, function / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _events(variant: str, count: int, size: int) -> list[dict[str, Any]]:
    """Lambda-shaped SQS events of ``size`` erase requests each."""
    events = []
    for start in range(0, count, size):
        records = []
        for i in range(start, min(count, start + size)):
            body = json.dumps(
                {
                    "request_id": f"bench-{variant}-{i:06d}",
                    "identifier": f"{variant}-user-{i}",
                    "requested_at": "2026-11-28T10:00:00Z",
                }
            )
            records.append(
                {
                    "messageId": str(uuid.uuid4()),
                    "receiptHandle": f"rh-{i}",
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


@dataclass
class _Context:
    remaining_ms: int
    function_name: str = "gdpr-deletion"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:gdpr-deletion"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _instrument(app: Any, audit: Any, cpu: _Cpu) -> None:
    processor = app.processor()
    processor.audit = audit
    client = processor.routes.client(processor.routes.primary)  # built now: secrets read, bucket created
    for name in ("batch", "suppress", "delete"):
        if hasattr(client, name):
            setattr(client, name, cpu.wrap("track client", getattr(client, name), count="track"))
    module: Any = sys.modules[type(processor).__module__]
    module.parse_deletion_message = cpu.wrap("parsing", module.parse_deletion_message)


def _child_main(args: argparse.Namespace) -> None:
    sys.path[:0] = [str(args.layer), str(ROOT / "tests")]
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
        AUDIT_TABLE="bench-audit",
        CUSTOMERIO_TRACK_URL=args.sandbox,
        CUSTOMERIO_RATE_LIMIT_RPS=str(args.rate_limit),
        DELETION_MAX_CONCURRENCY=str(args.concurrency),
    )
    import boto3
    from moto import mock_aws

    from fixtures.audit import MemoryAuditStore  # type: ignore[import-not-found]

    with mock_aws(), open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        sm = boto3.client("secretsmanager")
        sm.create_secret(
            Name=TRACK_SECRET,
            SecretString=json.dumps({"site_id": SITE_ID, "api_key": API_KEY, "region": "us"}),
        )
        sm.create_secret(Name=PEPPER_SECRET, SecretString=json.dumps({"pepper": PEPPER}))
        os.environ["DEAD_LETTER_QUEUE_URL"] = boto3.client("sqs").create_queue(QueueName=DLQ)["QueueUrl"]
        cpu = _Cpu()
        audit = MemoryAuditStore(latency=args.audit_latency)  # one table for every environment
        for primitive in ("_get_record", "_create_record", "_replace_record"):
            setattr(audit, primitive, cpu.wrap("audit store", getattr(audit, primitive), count=primitive))
        for method in ("begin", "mark_step", "complete", "accept", "await_verification", "release", "fail"):
            if hasattr(audit, method):
                setattr(audit, method, cpu.wrap("audit store", getattr(audit, method)))
        environments = [_load(args.function, f"bench_app_{i}") for i in range(args.concurrency)]
        for app in environments:
            _instrument(app, audit, cpu)
        work: queue.Queue[dict[str, Any]] = queue.Queue()
        for event in _events(args.variant, args.requests, args.batch_size):
            work.put(event)
        failures: list[str] = []
        lock = threading.Lock()

        def environment(app: Any) -> None:
            while True:
                try:
                    event = work.get_nowait()
                except queue.Empty:
                    return
                response = app.handler(event, _Context(remaining_ms=args.timeout * 1000))
                with lock:
                    failures.extend(f["itemIdentifier"] for f in response["batchItemFailures"])

        threads = [threading.Thread(target=environment, args=(app,)) for app in environments]
        cpu_started, started = time.process_time(), time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed, cpu_seconds = time.time() - started, time.process_time() - cpu_started
        for app in environments:
            with contextlib.suppress(Exception):
                app.workers().shutdown(wait=True)
            app.processor().client.close()
    records = audit.records()
    completed = [r for r in records if r.status == "completed" and r.completed_at]
    times = [datetime.fromisoformat(r.completed_at).timestamp() for r in completed]
    rate = len(completed) / elapsed
    storage_ops = sum(cpu.calls[p] for p in ("_get_record", "_create_record", "_replace_record"))
    result = {
        "requests": args.requests,
        "batch_size": args.batch_size,
        "seconds": round(elapsed, 2),
        "completed": len(completed),
        "rate": round(rate, 1),
        "all_audited": len(completed) == args.requests,
        "batch_item_failures": len(failures),
        "track_requests_per_second": round(cpu.calls["track"] / elapsed, 1),
        "budget_used": round(cpu.calls["track"] / elapsed / args.rate_limit, 3),
        "cpu_seconds": round(cpu_seconds, 2),
        "cpu_share_of_one_core": round(cpu_seconds / elapsed, 2),
        "cpu_us_per_erasure": round(cpu_seconds / max(1, len(completed)) * 1e6),
        "cpu_share": {
            component: round(seconds / cpu_seconds, 2) for component, seconds in sorted(cpu.seconds.items())
        },
        "audit_reads_per_erasure": round(cpu.calls["_get_record"] / max(1, len(completed)), 2),
        "audit_writes_per_erasure": round(
            (cpu.calls["_create_record"] + cpu.calls["_replace_record"]) / max(1, len(completed)), 2
        ),
        "audit_storage_ops_per_erasure": round(storage_ops / max(1, len(completed)), 2),
        "series": _series(times, started),
    }
    print(json.dumps(result))


def _series(times: list[float], start: float, bucket: float = 1.0) -> list[tuple[float, float]]:
    """Completions per second in ``bucket``-second windows since ``start``."""
    counts = Counter(int((t - start) // bucket) for t in times if t >= start)
    if not counts:
        return []
    return [(round((b + 1) * bucket, 1), counts.get(b, 0) / bucket) for b in range(max(counts) + 1)]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.deletion_throughput")
    commands = parser.add_subparsers(dest="command")
    child = commands.add_parser("child", help="one path, measured (run by run())")
    child.add_argument("--variant", choices=("v1", "v2"), required=True)
    child.add_argument("--layer", type=Path, required=True)
    child.add_argument("--function", type=Path, required=True)
    child.add_argument("--sandbox", required=True)
    child.add_argument("--requests", type=int, required=True)
    child.add_argument("--concurrency", type=int, required=True)
    child.add_argument("--rate-limit", type=float, required=True)
    child.add_argument("--audit-latency", type=float, required=True)
    child.add_argument("--batch-size", type=int, required=True)
    child.add_argument("--timeout", type=int, required=True)
    parser.add_argument("--requests", type=int, default=4_000)
    args = parser.parse_args(argv)
    if args.command == "child":
        _child_main(args)
        return
    figures = run(args.requests)
    figures.pop("series")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
