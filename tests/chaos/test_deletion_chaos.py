"""Chaos: nothing lost (issues 7 and 14). Erase requests go through the deletion queue and the real
handler, fed by ``SqsEventSource`` exactly as Lambda's event source mapping feeds it (the
template's BatchSize, so each invocation sends its requests in one Track API v2 batch), while the
Customer.io sandbox injects seeded faults: for each batch request 10% 5xx, 5% 429 with
``Retry-After: 1``, 2% hangs past the client's read timeout and 1% connection resets (each fails
every request in the batch); for each operation of a batch that got through 2% refused in a 207
(``operation_error_rate``: that request alone is dead-lettered, its neighbours complete); and,
scripted so that even a short run has them, a few whole-batch 400s (the handler splits the batch
until each request is accepted) and two batches failing every attempt of the client (503s, then
hangs: every request of the batch goes back to SQS and completes on redelivery). 2% of the
messages are delivered twice.

Erasures are verified as deployed: the App API key secret holds a key of the sandbox's workspace,
so the deletion function records each accepted request ``submitted`` and queues a verification
ticket, and the real erasure verification function, fed from the verification queue by its own
``SqsEventSource`` (the template's BatchSize, ``CHAOS_VERIFICATION_POLLERS`` pollers), asks the
sandbox's App API whether the person is gone. The sandbox's ``processing_delay``
(``CHAOS_PROCESSING_DELAY``, 1.5 s) keeps an erased person visible to the App API for that long,
so the first check (1 s after acceptance) often still finds the person and reschedules; the
window is ``CHAOS_VERIFICATION_WINDOW`` seconds (6).

Every request must end either completed (audit record ``completed`` with verification
``verified``, the person suppressed and gone from the sandbox), ``unverified`` with a reason (and
the function's ``ErasureNotVerified`` metric counted for it), or on the deletion or verification
dead-letter queue with a reason; none lost, none left ``submitted``, none completed
without an audit record, and no Customer.io operation for a request after its audit record says
it was accepted (nor any after completion). The counts are printed in the terminal summary.

Size: ``CHAOS_REQUESTS`` (300 in ``make test``, 10,000 in ``make chaos``). Also tunable:
``CHAOS_POLLERS`` (concurrent invocations, default 4); ``CHAOS_VISIBILITY_SECONDS`` (the deletion
queue's visibility timeout, default 5: failed messages come back within seconds, yet above the
p95 invocation time here, ~3.5 s with 1 s Retry-After waits; at 2 s SQS also redelivers about a
third of the messages while they are still being processed, which the handler survives but which
doubles the work); ``CHAOS_BACKLOG`` (messages kept waiting on the queue while the rest are fed
in, default 100); ``CHAOS_CLIENT_ATTEMPTS`` (the Track client's attempts per call, default 3;
1 turns every fault into an SQS redelivery, so some messages reach their last delivery and are
dead-lettered by the handler with reason ``retries_exhausted``); ``CHAOS_OPERATION_ERROR_RATE``
(2% by default); ``CHAOS_BATCH_SIZE`` (the template's BatchSize by default); ``CHAOS_SEED``;
``CHAOS_DRAIN_SECONDS`` (how long the run may take) and ``CHAOS_VERIFICATION_DRAIN_SECONDS`` (how
long the verification queue may take after it).

AWS is moto's server in a child process on 127.0.0.1 (moto is the busiest part of the run, and
there it has a core of its own); the queues, tables and secrets are created from template.yaml
by ``ciosec.emulator.provision``, the redrive policy's maxReceiveCount included. The sandbox listens on
127.0.0.1. Everything started here is stopped at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import httpx
import pytest

import ciosec.sandbox.sandbox as sandbox_module
from cio_security.audit.record import AuditRecord, StepName, StepRecord, iso
from cio_security.deletion.request import DeletionRequest
from ciosec.emulator.functions import load_function
from ciosec.emulator.local_stack import free_port
from ciosec.emulator.provision import Provisioned, function_environment, provision
from ciosec.emulator.sqs_event_source import SqsEventSource
from ciosec.emulator.template import Resolver
from ciosec.sandbox import AppApiKey, CredentialSet, Faults, RequestRecord, Sandbox, SandboxConfig
from fixtures.aws import REGION
from fixtures.deletion_queues import DeletionQueues
from fixtures.logs import sensitive

from .conftest import ChaosReport

REQUESTS = int(os.environ.get("CHAOS_REQUESTS", "300"))
POLLERS = int(os.environ.get("CHAOS_POLLERS", "4"))
VISIBILITY_SECONDS = int(os.environ.get("CHAOS_VISIBILITY_SECONDS", "5"))
SEED = int(os.environ.get("CHAOS_SEED", "20261128"))
DRAIN_SECONDS = float(os.environ.get("CHAOS_DRAIN_SECONDS", str(60 + 0.25 * REQUESTS)))
BACKLOG = int(os.environ.get("CHAOS_BACKLOG", "100"))
CLIENT_ATTEMPTS = int(os.environ.get("CHAOS_CLIENT_ATTEMPTS", "3"))
OPERATION_ERROR_RATE = float(os.environ.get("CHAOS_OPERATION_ERROR_RATE", "0.02"))
BATCH_SIZE = int(os.environ.get("CHAOS_BATCH_SIZE", "0"))  # 0: the template's BatchSize
VERIFICATION_POLLERS = int(os.environ.get("CHAOS_VERIFICATION_POLLERS", "2"))
PROCESSING_DELAY = float(os.environ.get("CHAOS_PROCESSING_DELAY", "1.5"))
VERIFICATION_WINDOW = int(os.environ.get("CHAOS_VERIFICATION_WINDOW", "6"))
VERIFICATION_DRAIN_SECONDS = float(
    os.environ.get("CHAOS_VERIFICATION_DRAIN_SECONDS", str(VERIFICATION_WINDOW + 60 + 0.05 * REQUESTS))
)
WHOLE_BATCH_400S = 3
DUPLICATE_RATE = 0.02

STACK_NAME = "cio-security-chaos"
CLIENT_TIMEOUT_SECONDS = 0.5
FAULTS = Faults(
    error_rate=0.10,
    rate_limited_rate=0.05,
    retry_after=1,
    timeout_rate=0.02,
    hang_seconds=0.75,  # past the client's 0.5 s read timeout
    reset_rate=0.01,
    operation_error_rate=OPERATION_ERROR_RATE,
    seed=SEED,
)
# Every identifier starts with this: registering it as sensitive catches a leak of any of them
# with one search of the captured logs (not 10,000).
IDENTIFIER_PREFIX = "chaosperson-"
# The audit record's step times are ISO 8601 in whole milliseconds (truncated): a call the step
# was recorded for may carry a sandbox timestamp up to 1 ms past the recorded one.
RECORDED_TIME_SLACK = 0.0015
CREDENTIALS = CredentialSet(
    site_id="chaos-site", api_key="chaos-api-key-5b0e7d21c9a4f36e", environment_id=100001, region="us"
)
APP_KEY = AppApiKey(key="chaos-app-api-key-9d2f61c0b7e43a58", environment_id=100001, region="us")
# Short verification timings (the functions' environment): the first check 1 s after acceptance,
# checks at most 1 s apart, the window VERIFICATION_WINDOW seconds, no-answer retries after 0.5 s.
VERIFICATION_TIMINGS = {
    "VERIFICATION_FIRST_CHECK_SECONDS": "1",
    "VERIFICATION_WINDOW_SECONDS": str(VERIFICATION_WINDOW),
    "VERIFICATION_MAX_INTERVAL_SECONDS": "1",
    "VERIFICATION_RETRY_SECONDS": "0.5",
}


def identifier_for(index: int) -> str:
    """Mostly plain ids, with emails, cio_ ids and path-hostile ids mixed in."""
    base = f"{IDENTIFIER_PREFIX}{index:05d}"
    return {7: f"{base}@example.invalid", 8: f"cio_{base}", 9: f"{base}/../x?y#z%2F"}.get(index % 10, base)


def request_id_for(index: int) -> str:
    # Letters between the digit runs: "<seed>-<index>" would be 13 digits with a dash, which the
    # suite's log check reads as a card number whenever it happens to pass the Luhn check.
    return f"chaos-req{index:05d}-seed{SEED}"


@dataclass
class ChaosStack(DeletionQueues):
    """The deletion function's world for one run: moto (via the environment), the sandbox, the
    queues and tables, and the handler modules the pollers loaded."""

    sandbox: Sandbox
    provisioned: Provisioned
    sqs: Any
    dynamodb: Any
    queue_url: str
    dlq_url: str
    batch_size: int
    batching_window: float
    timeout_seconds: float
    max_receive_count: int
    verification_queue_url: str
    verification_dlq_url: str
    verification_batch_size: int
    verification_batching_window: float
    verification_timeout_seconds: float
    handlers: list[ModuleType] = field(default_factory=list)
    verification_handlers: list[ModuleType] = field(default_factory=list)
    invocation_seconds: list[float] = field(default_factory=list)
    verification_outcomes: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handler_factory(self) -> Callable[[dict[str, Any], Any], Any]:
        """One execution environment per poller: a freshly loaded handler module each."""
        module = load_function("gdpr_deletion")
        with self._lock:
            self.handlers.append(module)

        def timed(event: dict[str, Any], context: Any) -> Any:
            started = time.monotonic()
            try:
                return module.handler(event, context)
            finally:
                with self._lock:
                    self.invocation_seconds.append(time.monotonic() - started)

        return timed

    def verification_handler_factory(self) -> Callable[[dict[str, Any], Any], Any]:
        """One execution environment per verification poller; each outcome the function counts in
        its metrics (``count``) is also counted here, by kind."""
        module = load_function("erasure_verification")
        counted = vars(module)["count"]

        def count(outcome: Any) -> None:
            with self._lock:
                self.verification_outcomes[outcome.kind] += 1
            counted(outcome)

        vars(module)["count"] = count  # the handler looks it up in its module
        with self._lock:
            self.verification_handlers.append(module)
        handler: Callable[[dict[str, Any], Any], Any] = module.handler
        return handler

    def verification_depth(self) -> int:
        """Visible, in-flight and delayed (a ticket waiting for its check) verification tickets."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.verification_queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def verification_dead_letters(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while got := self.sqs.receive_message(
            QueueUrl=self.verification_dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            VisibilityTimeout=300,
        ).get("Messages", []):
            found.extend(got)
        return found

    def close(self) -> None:
        """Stop every handler's worker threads and close the clients this stack opened."""
        for module in self.verification_handlers:
            module.workers().shutdown(wait=True)
            if module.processor.cache_info().currsize:
                processor = module.processor()
                processor.close()
                processor.audit.client.close()
        self.verification_handlers.clear()
        for module in self.handlers:
            module.workers().shutdown(wait=True)
            if module.processor.cache_info().currsize:
                processor = module.processor()
                processor.client.close()
                processor.audit.client.close()
                if processor.dead_letters is not None:
                    processor.dead_letters.client.close()
        self.handlers.clear()
        self.sqs.close()
        self.dynamodb.close()

    def audit_records(self) -> dict[str, AuditRecord]:
        table = self.provisioned.tables["AuditTable"]
        records: dict[str, AuditRecord] = {}
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for item in page["Items"]:
                record = AuditRecord.from_item(item)
                records[record.request_id] = record
        return records


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server in a child process on 127.0.0.1, so AWS runs on the other core; yields its
    endpoint and stops the process on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/data.json", timeout=1.0)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
def chaos(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChaosStack]:
    # Keep every Track request of the run: the sandbox's default log keeps the last 10,000 only.
    monkeypatch.setattr(sandbox_module, "MAX_LOGGED_REQUESTS", None)
    sensitive(IDENTIFIER_PREFIX.rstrip("-"), CREDENTIALS.api_key, APP_KEY.key)
    config = SandboxConfig(faults=FAULTS, processing_delay=PROCESSING_DELAY)
    with moto_server() as endpoint, Sandbox([CREDENTIALS], app_keys=[APP_KEY], config=config) as sandbox:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        resolver = Resolver(STACK_NAME, region=REGION)
        provisioned = provision(
            resolver,
            region=REGION,
            overrides={
                "TrackCredentialsSecret": json.dumps(
                    {"site_id": CREDENTIALS.site_id, "api_key": CREDENTIALS.api_key, "region": "us"}
                ),
                # A key of the sandbox's workspace (not the template's placeholder): erasures are
                # verified.
                "AppApiKeySecret": json.dumps({"app_api_key": APP_KEY.key, "region": APP_KEY.region}),
            },
        )
        # Both functions share this process's environment: the verification function's own
        # variables (its DLQ, max receive count) on top of the deletion function's.
        for logical_id in ("GdprDeletionFunction", "ErasureVerificationFunction"):
            for name, value in function_environment(resolver, logical_id).items():
                monkeypatch.setenv(name, value)
        for name, value in {
            **VERIFICATION_TIMINGS,
            "CUSTOMERIO_APP_URL": sandbox.app_url,
            "CUSTOMERIO_TRACK_URL": sandbox.url,
            # No sandbox rate limit here: the budget only needs to stay out of the way.
            "CUSTOMERIO_RATE_LIMIT_RPS": "100000",
            "DELETION_MAX_CONCURRENCY": str(POLLERS),
            "VERIFICATION_MAX_CONCURRENCY": str(VERIFICATION_POLLERS),
            "CUSTOMERIO_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT_SECONDS),
            "CUSTOMERIO_MAX_ATTEMPTS": str(CLIENT_ATTEMPTS),
            "CUSTOMERIO_BACKOFF_BASE_SECONDS": "0.01",
            # Retry-After: 1 is honoured (waited for), a longer one would not be.
            "CUSTOMERIO_RETRY_AFTER_CAP_SECONDS": "1",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }.items():
            monkeypatch.setenv(name, value)
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = provisioned.queues["DeletionQueue"]
        # Failed messages come back after seconds, not the deployed 10 minutes.
        sqs.set_queue_attributes(
            QueueUrl=queue_url, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)}
        )
        redrive = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
        function = resolver.template["Resources"]["GdprDeletionFunction"]["Properties"]
        event = next(e["Properties"] for e in function["Events"].values() if e["Type"] == "SQS")
        where = "GdprDeletionFunction SQS event"
        verification_queue_url = provisioned.queues["VerificationQueue"]
        # A ticket whose lookup failed comes back after a second, like a failed deletion.
        sqs.set_queue_attributes(QueueUrl=verification_queue_url, Attributes={"VisibilityTimeout": "2"})
        verifier = resolver.template["Resources"]["ErasureVerificationFunction"]["Properties"]
        verifier_event = next(e["Properties"] for e in verifier["Events"].values() if e["Type"] == "SQS")
        stack = ChaosStack(
            sandbox=sandbox,
            provisioned=provisioned,
            sqs=sqs,
            dynamodb=boto3.client("dynamodb", region_name=REGION),
            queue_url=queue_url,
            dlq_url=provisioned.queues["DeletionDeadLetterQueue"],
            batch_size=BATCH_SIZE or int(resolver.resolve(event["BatchSize"], where=where)),
            # Lambda's window, scaled down like the visibility timeout: a busy queue fills a batch.
            batching_window=min(
                1.0, float(resolver.resolve(event["MaximumBatchingWindowInSeconds"], where=where))
            ),
            timeout_seconds=float(function["Timeout"]),
            verification_batching_window=min(
                1.0,
                float(
                    resolver.resolve(
                        verifier_event["MaximumBatchingWindowInSeconds"],
                        where="ErasureVerificationFunction SQS event",
                    )
                ),
            ),
            max_receive_count=int(json.loads(redrive["Attributes"]["RedrivePolicy"])["maxReceiveCount"]),
            verification_queue_url=verification_queue_url,
            verification_dlq_url=provisioned.queues["VerificationDeadLetterQueue"],
            verification_batch_size=int(
                resolver.resolve(verifier_event["BatchSize"], where="ErasureVerificationFunction SQS event")
            ),
            verification_timeout_seconds=float(verifier["Timeout"]),
        )
        try:
            yield stack
        finally:
            stack.close()


def _percentiles(values: list[float], quantiles: tuple[float, ...]) -> list[float]:
    ordered = sorted(values) or [0.0]
    return [ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in quantiles]


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _operations(call: RequestRecord) -> list[tuple[str | None, str]]:
    """(action, identifier as a v1 path names it) of each operation a Track request carried: every
    operation of a v2 batch (a request that got no answer or a whole-request error carried them
    all the same), or the one a v1 call names."""
    if call.operation == "batch" and isinstance(call.body, dict):
        found: list[tuple[str | None, str]] = []
        for op in call.body.get("batch", []):
            ((kind, value),) = op["identifiers"].items()
            found.append((op["action"], f"cio_{value}" if kind == "cio_id" else value))
        return found
    return [(call.operation, call.identifier)] if call.identifier is not None else []


def _batch_sizes(calls: list[RequestRecord]) -> str:
    sizes = [len(_operations(c)) for c in calls if c.operation == "batch"]
    return f"{sum(sizes) / len(sizes):.1f} / {max(sizes)}" if sizes else "none"


def _fault_kind(fault: str | None) -> str | None:
    if fault is None:
        return None
    source, _, kind = fault.partition(":")
    if source.endswith("operation"):
        return "207 (operation refused)"
    return "5xx" if kind.isdigit() and kind.startswith("5") else kind


@dataclass
class Observed:
    """Where the run left things: audit records, dead letters, the sandbox's log and people."""

    records: dict[str, AuditRecord]
    dead_letters: list[dict[str, Any]]
    calls: list[RequestRecord]
    people: set[str]
    suppressed: set[str]
    verification_dead_letters: list[dict[str, Any]] = field(default_factory=list)
    # Erasures are verified (an App API key is configured): completed means verified.
    verifying: bool = False

    def __post_init__(self) -> None:
        self.reasons: dict[str, set[str | None]] = defaultdict(set)
        for message in self.dead_letters:
            attributes = message.get("MessageAttributes", {})
            request_id = attributes.get("request_id", {}).get("StringValue")
            if request_id is None:  # redriven by SQS: the original message, unchanged
                request_id = json.loads(message["Body"])["request_id"]
            self.reasons[request_id].add(attributes.get("reason", {}).get("StringValue"))
        self.verification_reasons: dict[str, set[str | None]] = defaultdict(set)
        for message in self.verification_dead_letters:
            attributes = message.get("MessageAttributes", {})
            request_id = attributes.get("request_id", {}).get("StringValue")
            if request_id is None:  # redriven by SQS: the ticket, unchanged
                request_id = json.loads(message["Body"]).get("request_id")
            self.verification_reasons[request_id].add(attributes.get("reason", {}).get("StringValue"))
        self.calls_for: dict[str, list[RequestRecord]] = defaultdict(list)
        for call in self.calls:
            for operation, identifier in _operations(call):
                self.calls_for[identifier].append(replace(call, operation=operation, identifier=identifier))


@dataclass
class Verdict:
    """What became of every request, and every broken promise (by request id)."""

    completed: set[str] = field(default_factory=set)
    dead_lettered: set[str] = field(default_factory=set)
    completed_and_dead_lettered: set[str] = field(default_factory=set)
    unverified: set[str] = field(default_factory=set)
    verification_dead_lettered: set[str] = field(default_factory=set)
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def problem(self, kind: str, request_id: str) -> None:
        self.problems[kind].append(request_id)


def judge(requests: dict[str, str], observed: Observed) -> Verdict:
    """Hold every request (request_id -> identifier) to the promises in the module docstring."""
    verdict = Verdict()
    for request_id, identifier in requests.items():
        _judge_outcome(verdict, request_id, identifier, observed)
        record = observed.records.get(request_id)
        calls = observed.calls_for[identifier]
        if record is None:
            if calls:
                verdict.problem("Customer.io called without an audit record", request_id)
            continue
        if identifier in json.dumps(record.model_dump(mode="json")):
            verdict.problem("audit record holds the identifier", request_id)
        _judge_calls(verdict, record, calls)
    return verdict


def _judge_outcome(verdict: Verdict, request_id: str, identifier: str, observed: Observed) -> None:
    """Completed (and erased, and verified), unverified with a reason, or dead-lettered (by the
    deletion or the verification function) with a reason; anything else is lost."""
    record = observed.records.get(request_id)
    erased = identifier in observed.suppressed and identifier not in observed.people
    dead_lettered = request_id in observed.reasons
    if record is not None and record.status == "completed":
        _judge_completed(verdict, record, identifier, observed)
    elif record is not None and record.status == "unverified":
        # Still found by the App API after the window (or no answer by then): recorded, with why.
        verdict.unverified.add(request_id)
        if record.verification != "unverified" or not record.last_error:
            verdict.problem("unverified without a reason", request_id)
    elif record is not None and record.status == "submitted" and request_id in observed.verification_reasons:
        verdict.verification_dead_lettered.add(request_id)
        if not all(observed.verification_reasons[request_id]):
            verdict.problem("verification dead-lettered without a reason", request_id)
    elif record is not None and record.status == "submitted":
        verdict.problem("lost: accepted, verification never finished", request_id)
    elif dead_lettered:
        verdict.dead_lettered.add(request_id)
        # The handler dead-letters even a message on its last delivery itself, with a reason:
        # nothing may reach the DLQ through SQS's own redrive, reason-less.
        if not all(observed.reasons[request_id]):
            verdict.problem("dead-lettered without a reason", request_id)
    elif erased:
        verdict.problem("erased in Customer.io without a completed audit record", request_id)
    else:
        verdict.problem("lost: neither completed nor dead-lettered", request_id)


def _judge_completed(verdict: Verdict, record: AuditRecord, identifier: str, observed: Observed) -> None:
    """Completed: erased in Customer.io, its step recorded, and verified when erasures are."""
    request_id = record.request_id
    erased = identifier in observed.suppressed and identifier not in observed.people
    verdict.completed.add(request_id)
    if request_id in observed.reasons:  # a duplicate of it ran out of receives while it was being processed
        verdict.completed_and_dead_lettered.add(request_id)
    if not erased:
        verdict.problem("completed but not erased in Customer.io", request_id)
    step = record.steps.get("suppress")  # an erase is one v2 operation
    if (
        not record.completed_at
        or not record.submitted_at
        or step is None
        or step.status != "done"
        or step.status_code is None
    ):
        verdict.problem(
            "completed with its step, a status code, submitted_at or completed_at missing", request_id
        )
    if observed.verifying and (record.verification != "verified" or not record.verified_at):
        verdict.problem("completed without verification verified", request_id)


def _judge_calls(verdict: Verdict, record: AuditRecord, calls: list[RequestRecord]) -> None:
    """No call for a step after the record says it was done, none at all after completion. The
    verification function's App API lookups are reads, not operations: a second ticket for the
    same request may look again after the first recorded it verified."""
    calls = [c for c in calls if not str(c.operation).startswith("app_")]
    for step, step_record in record.steps.items():
        if step_record.status == "done" and step_record.at:
            done_at = _timestamp(step_record.at) + RECORDED_TIME_SLACK
            if any(c.operation == step and c.received_at > done_at for c in calls):
                verdict.problem(f"{step} called after it was recorded done", record.request_id)
    if record.completed_at:
        completed_at = _timestamp(record.completed_at) + RECORDED_TIME_SLACK
        if any(c.received_at > completed_at for c in calls):
            verdict.problem("Customer.io called after completion", record.request_id)


class LockedQueueWrites:
    """The deletion queue's SQS client, with sends and deletes made atomic.

    Real SQS applies each call atomically. moto's in-memory queue does not: a delete rebuilds the
    message list while a concurrent send appends to the old one, so the new message can vanish, and
    concurrent deletes can bring a deleted message back. Serialising the two writes rules out the
    harness losing a message on its own; receives (SQS's at-least-once delivery, duplicates
    included) stay concurrent.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def send_message_batch(self, **kwargs: Any) -> Any:
        with self._lock:
            return self._client.send_message_batch(**kwargs)

    def delete_message_batch(self, **kwargs: Any) -> Any:
        with self._lock:
            return self._client.delete_message_batch(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def feed_and_drain(stack: ChaosStack, sqs: LockedQueueWrites, messages: list[str], timeout: float) -> float:
    """Keep about BACKLOG messages on the queue until all are sent (moto's queue operations cost
    time in proportion to its length), then wait until nothing is visible or in flight, three
    checks in a row. Returns the seconds it took."""
    started = time.monotonic()
    pending = list(reversed(messages))
    empty_checks = 0
    while empty_checks < 3:
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            pytest.fail(
                f"deletion queue not drained after {timeout:.0f} s: {len(pending)} messages not sent yet, "
                f"{stack.queue_depth()} on the queue",
                pytrace=False,
            )
        depth = stack.queue_depth()
        if pending:
            room = BACKLOG - depth
            while room > 0 and pending:
                chunk = [pending.pop() for _ in range(min(10, room, len(pending)))]
                sqs.send_message_batch(
                    QueueUrl=stack.queue_url,
                    Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
                )
                room -= len(chunk)
            time.sleep(0.5)
            continue
        empty_checks = empty_checks + 1 if depth == 0 else 0
        time.sleep(0.5)
    return time.monotonic() - started


def drain_verification(stack: ChaosStack, timeout: float) -> float:
    """Wait until no verification ticket is visible, in flight or delayed, three checks in a row.
    Returns the seconds it took."""
    started = time.monotonic()
    empty_checks = 0
    while empty_checks < 3:
        if time.monotonic() - started > timeout:
            pytest.fail(
                f"verification queue not drained after {timeout:.0f} s: {stack.verification_depth()} tickets",
                pytrace=False,
            )
        empty_checks = empty_checks + 1 if stack.verification_depth() == 0 else 0
        time.sleep(0.5)
    return time.monotonic() - started


@pytest.mark.chaos
@pytest.mark.timeout(DRAIN_SECONDS + 300)
def test_no_deletion_request_is_lost_under_faults(chaos: ChaosStack, chaos_report: ChaosReport) -> None:
    rng = random.Random(SEED)
    requests: dict[str, str] = {}
    bodies: list[str] = []
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    for index in range(REQUESTS):
        request_id, identifier = request_id_for(index), identifier_for(index)
        requests[request_id] = identifier
        chaos.sandbox.add_person(identifier, {"plan": "pro"})
        bodies.append(
            json.dumps(
                {
                    "request_id": request_id,
                    "identifier": identifier,
                    "action": "erase",
                    "regulation": "gdpr" if index % 2 else "ccpa",
                    "requested_at": now,
                }
            )
        )
    # Duplicate delivery: these messages are sent twice, anywhere in the stream.
    duplicated = rng.sample(range(REQUESTS), max(1, round(REQUESTS * DUPLICATE_RATE)))
    messages = bodies + [bodies[i] for i in duplicated]
    rng.shuffle(messages)
    sqs = LockedQueueWrites(chaos.sqs)
    # The first two batches fail every attempt of the client: transient for every request in them.
    chaos.sandbox.fail_next(times=CLIENT_ATTEMPTS, status=503, operation="batch")
    chaos.sandbox.fail_next(times=CLIENT_ATTEMPTS, kind="timeout", hang_seconds=0.75, operation="batch")
    for _ in range(WHOLE_BATCH_400S):  # then whole-request 400s: the handler splits the batch
        chaos.sandbox.fail_next(status=400, operation="batch")
    source = SqsEventSource(
        sqs,
        chaos.queue_url,
        chaos.handler_factory,
        batch_size=chaos.batch_size,
        batching_window=chaos.batching_window,
        timeout_seconds=chaos.timeout_seconds,
        concurrency=POLLERS,
        wait_seconds=1,
        region=REGION,
    )
    verification_source = SqsEventSource(
        chaos.sqs,
        chaos.verification_queue_url,
        chaos.verification_handler_factory,
        batch_size=chaos.verification_batch_size,
        batching_window=chaos.verification_batching_window,
        timeout_seconds=chaos.verification_timeout_seconds,
        concurrency=VERIFICATION_POLLERS,
        wait_seconds=1,
        region=REGION,
        function_name="erasure-verification",
    )
    source.start()
    verification_source.start()
    try:
        try:
            elapsed = feed_and_drain(chaos, sqs, messages, DRAIN_SECONDS)
        finally:
            source.stop()
        # Every ticket's window ends VERIFICATION_WINDOW seconds after its acceptance; the App API's
        # 10 req/s budget and the redeliveries make the tail grow with the run's size.
        verification_elapsed = drain_verification(chaos, VERIFICATION_DRAIN_SECONDS)
    finally:
        verification_source.stop()

    observed = Observed(
        records=chaos.audit_records(),
        dead_letters=chaos.dead_letters(),
        calls=chaos.sandbox.requests(),
        people=set(chaos.sandbox.people()),
        suppressed=chaos.sandbox.suppressed(),
        verification_dead_letters=chaos.verification_dead_letters(),
        verifying=True,
    )
    verdict = judge(requests, observed)
    not_verified_counted = chaos.verification_outcomes["unverified"]

    calls = observed.calls
    faults = Counter(_fault_kind(label) for c in calls if c.fault for label in c.fault.split(","))
    dlq_reasons = Counter(
        m.get("MessageAttributes", {}).get("reason", {}).get("StringValue", "(redriven by SQS)")
        for m in observed.dead_letters
    )
    attempts = Counter(r.attempts for r in observed.records.values())
    stats = source.stats
    chaos_report(
        f"chaos: {REQUESTS} deletion requests under faults",
        {
            "requests": REQUESTS,
            "messages sent": len(messages),
            "duplicates sent": len(duplicated),
            "completed": len(verdict.completed),
            "dead-lettered": len(verdict.dead_lettered),
            "completed, duplicate also dead-lettered": len(verdict.completed_and_dead_lettered),
            "unverified (ErasureNotVerified counted)": f"{len(verdict.unverified)} ({not_verified_counted})",
            "verification dead-lettered": len(verdict.verification_dead_lettered),
            "lost": sum(len(ids) for kind, ids in verdict.problems.items() if kind.startswith("lost")),
            "dead-letter reasons": dict(sorted(dlq_reasons.items())),
            "records delivered (invocations x batch)": stats.records,
            "redeliveries": stats.records - len(messages),
            "batch item failures": stats.failed_records,
            "invocations": stats.batches,
            "handler errors (whole batch)": stats.handler_errors,
            "Customer.io calls": len(calls),
            "Customer.io calls by operation": dict(sorted(Counter(str(c.operation) for c in calls).items())),
            "operations sent (in all calls)": sum(len(_operations(c)) for c in calls),
            "operations per batch call (mean / max)": _batch_sizes(calls),
            "faults injected": dict(sorted((str(k), v) for k, v in faults.items())),
            "audit attempts (attempts: requests)": dict(sorted(attempts.items())),
            "pollers / visibility timeout / maxReceiveCount": (
                f"{POLLERS} / {VISIBILITY_SECONDS} s / {chaos.max_receive_count}"
            ),
            "invocation seconds (p50 / p95 / max)": " / ".join(
                f"{q:.2f}" for q in _percentiles(chaos.invocation_seconds, (0.5, 0.95, 1.0))
            ),
            "verification outcomes (metrics)": dict(sorted(chaos.verification_outcomes.items())),
            "verification checks (checks: requests)": dict(
                sorted(Counter(r.verification_checks for r in observed.records.values()).items())
            ),
            "App API calls by operation": dict(
                sorted(
                    Counter(str(c.operation) for c in calls if str(c.operation).startswith("app_")).items()
                )
            ),
            "drain time (deletion / verification after it)": (
                f"{elapsed:.1f} s / {verification_elapsed:.1f} s"
            ),
            "broken promises": {kind: len(ids) for kind, ids in verdict.problems.items()} or "none",
        },
    )

    assert not verdict.problems, {kind: sorted(ids)[:10] for kind, ids in verdict.problems.items()}
    ended = (
        verdict.completed | verdict.dead_lettered | verdict.unverified | verdict.verification_dead_lettered
    )
    assert len(ended) == REQUESTS
    assert not_verified_counted >= len(verdict.unverified)  # ErasureNotVerified for each
    assert chaos.verification_outcomes["verified"] >= len(verdict.completed)
    assert stats.handler_errors == 0
    assert stats.failed_records > 0  # the scripted whole-batch failures went back to SQS
    assert chaos.queue_depth() == 0
    assert chaos.verification_depth() == 0


# -- the judge itself: each broken promise is caught (fast, synthetic runs) ------------------------

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def _record(
    request_id: str, *, done: tuple[StepName, ...], completed: bool, last_error: str | None = None
) -> AuditRecord:
    request = DeletionRequest(request_id=request_id, identifier="x", requested_at=T0)
    record = AuditRecord.new(request, T0, subject_hash="0" * 64, lease_seconds=60)
    for step in done:
        record.steps[step] = StepRecord(status="done", status_code=200, at=iso(T0 + timedelta(seconds=1)))
    if completed:
        record.status, record.completed_at = "completed", iso(T0 + timedelta(seconds=2))
        record.submitted_at = record.completed_at
    record.last_error = last_error
    return record


def _call(operation: str, identifier: str, seconds: float) -> RequestRecord:
    return RequestRecord(
        method="POST",
        raw_path="/",
        operation=operation,
        identifier=identifier,
        status=200,
        site_id="s",
        request_id="r",
        received_at=(T0 + timedelta(seconds=seconds)).timestamp(),
    )


def _observed(**kwargs: Any) -> Observed:
    defaults: dict[str, Any] = {
        "records": {},
        "dead_letters": [],
        "calls": [],
        "people": set(),
        "suppressed": set(),
    }
    return Observed(**{**defaults, **kwargs})


def test_judge_accepts_a_completed_erasure() -> None:
    observed = _observed(
        records={"r1": _record("r1", done=("suppress", "delete"), completed=True)},
        calls=[_call("suppress", "p1", 0.5), _call("delete", "p1", 0.9)],
        suppressed={"p1"},
    )
    verdict = judge({"r1": "p1"}, observed)
    assert (verdict.completed, dict(verdict.problems)) == ({"r1"}, {})


def test_judge_flags_a_lost_request_and_a_person_erased_without_a_completed_record() -> None:
    observed = _observed(
        records={"r2": _record("r2", done=("suppress", "delete"), completed=False)}, suppressed={"p2"}
    )
    verdict = judge({"r1": "p1", "r2": "p2"}, observed)
    assert dict(verdict.problems) == {
        "lost: neither completed nor dead-lettered": ["r1"],
        "erased in Customer.io without a completed audit record": ["r2"],
    }


def test_judge_flags_calls_after_a_step_was_recorded_done_or_after_completion() -> None:
    observed = _observed(
        records={"r1": _record("r1", done=("suppress", "delete"), completed=True)},
        calls=[_call("suppress", "p1", 0.5), _call("suppress", "p1", 1.5), _call("delete", "p1", 3.0)],
        suppressed={"p1"},
    )
    verdict = judge({"r1": "p1"}, observed)
    assert set(verdict.problems) == {
        "suppress called after it was recorded done",
        "delete called after it was recorded done",
        "Customer.io called after completion",
    }


def test_judge_wants_a_reason_for_every_dead_letter_and_an_audit_record_for_every_call() -> None:
    body = json.dumps({"request_id": "r1", "identifier": "p1"})
    reasoned = {"reason": {"StringValue": "schema_error"}, "request_id": {"StringValue": "r3"}}
    observed = _observed(
        records={"r2": _record("r2", done=(), completed=False, last_error="customerio_503")},
        dead_letters=[
            {"Body": body},
            {"Body": json.dumps({"request_id": "r2"})},
            {"Body": "{", "MessageAttributes": reasoned},
        ],
        calls=[_call("suppress", "p1", 0.5)],
    )
    verdict = judge({"r1": "p1", "r2": "p2", "r3": "p3"}, observed)
    assert verdict.dead_lettered == {"r1", "r2", "r3"}
    # r2's cause is on its audit record, but the function dead-letters with a reason itself now:
    # a reason-less dead letter means SQS's redrive moved it, which the suite counts as a problem.
    assert dict(verdict.problems) == {
        "dead-lettered without a reason": ["r1", "r2"],
        "Customer.io called without an audit record": ["r1"],
    }


def _batch_call(identifiers: list[str], seconds: float, status: int = 200) -> RequestRecord:
    return RequestRecord(
        method="POST",
        raw_path="/api/v2/batch",
        operation="batch",
        identifier=None,
        status=status,
        site_id="s",
        request_id="r",
        body={
            "batch": [
                {"type": "person", "action": "suppress", "identifiers": {"id": identifier}}
                for identifier in identifiers
            ]
        },
        received_at=(T0 + timedelta(seconds=seconds)).timestamp(),
    )


def test_judge_reads_each_operation_of_a_batch_as_a_call_for_its_request() -> None:
    observed = _observed(
        records={
            "r1": _record("r1", done=("suppress",), completed=True),
            "r2": _record("r2", done=("suppress",), completed=True),
        },
        calls=[_batch_call(["p1", "p2"], 0.5), _batch_call(["p2"], 3.0)],  # p2 sent again, too late
        suppressed={"p1", "p2"},
    )
    verdict = judge({"r1": "p1", "r2": "p2"}, observed)
    assert verdict.completed == {"r1", "r2"}
    assert dict(verdict.problems) == {
        "suppress called after it was recorded done": ["r2"],
        "Customer.io called after completion": ["r2"],
    }
