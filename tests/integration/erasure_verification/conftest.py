"""Erasure verification end to end: the real deletion and verification handlers, moto for AWS (the
audit table, both queues and their DLQs and the App API key secret, as template.yaml declares
them) and the Customer.io sandbox over HTTP, Track and App API alike.

``VerificationStack`` plays both SQS event sources (``ciosec.emulator``'s ``SqsEventSource``, one
batch per ``poll_once``) in real time with short timings: the first check 1 s after the
submission, checks at most 1 s apart, a 4 s window, no-answer retries after 0.5 s. The sandbox's
``processing_delay`` keeps an erased person visible to its App API for that long, as Customer.io's
asynchronous Track API does.

The deletion function builds its verifier from its environment (``erasure_verifier``: the App
API key secret and the verification queue), as deployed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cio_security.audit.record import AuditRecord
from ciosec.emulator.sqs_event_source import SqsEventSource
from ciosec.sandbox import Sandbox
from fixtures.aws import REGION
from fixtures.functions import load_function
from fixtures.logs import sensitive
from fixtures.sandbox import SANDBOX_APP_KEY, SANDBOX_CREDENTIALS
from fixtures.template import queue_attributes, table_definition

TRACK_SECRET = "cio-security/customerio/track-credentials"
APP_KEY_SECRET = "cio-security/customerio/app-api-key"
PEPPER_SECRET = "cio-security/pepper"
PEPPER = "verification-pepper-0123456789abcdefghijklmnop"
AUDIT_TABLE = "cio-security-audit"
MAX_RECEIVE_COUNT = 5
TIMINGS = {
    "VERIFICATION_FIRST_CHECK_SECONDS": "1",
    "VERIFICATION_WINDOW_SECONDS": "4",
    "VERIFICATION_MAX_INTERVAL_SECONDS": "1",
    "VERIFICATION_RETRY_SECONDS": "0.5",
}


def _queue(sqs: Any, name: str, logical_id: str, dlq_logical_id: str) -> tuple[str, str]:
    """A queue and its DLQ as template.yaml declares them; returns (queue url, dlq url)."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq", Attributes=queue_attributes(dlq_logical_id))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = queue_attributes(logical_id, dead_letter_queue_arn=dlq_arn)
    attributes["VisibilityTimeout"] = "1"  # a batch item failure comes back at once, not in 750 s
    queue = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return queue, dlq


@dataclass
class VerificationStack:
    sandbox: Sandbox
    sqs: Any
    dynamodb: Any
    secretsmanager: Any
    deletion_app: ModuleType
    verification_app: ModuleType
    deletion_queue: str
    verification_queue: str
    verification_dlq: str
    sources: dict[str, SqsEventSource] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)

    def source(self, which: str) -> SqsEventSource:
        if which not in self.sources:
            app, url = (
                (self.deletion_app, self.deletion_queue)
                if which == "deletion"
                else (self.verification_app, self.verification_queue)
            )

            def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
                response: dict[str, Any] = app.handler(event, context)
                self.responses.append(response)
                return response

            self.sources[which] = SqsEventSource(
                self.sqs,
                url,
                lambda: handler,
                batch_size=100,
                wait_seconds=0,
                region=REGION,
                function_name=which,
                timeout_seconds=120,
            )
        return self.sources[which]

    # -- requests in, tickets through ---------------------------------------------------------------

    def erase(self, *requests: tuple[str, str]) -> None:
        """Send erase requests (request id, identifier) and let the deletion function take them."""
        for request_id, identifier in requests:
            sensitive(identifier)
            body = {
                "request_id": request_id,
                "identifier": identifier,
                "requested_at": "2026-11-28T10:00:00Z",
            }
            self.sqs.send_message(QueueUrl=self.deletion_queue, MessageBody=json.dumps(body))
        source = self.source("deletion")
        while source.poll_once(source.handler_factory()):
            pass

    def verify_until(self, done: Callable[[], bool], *, timeout: float = 15.0) -> None:
        """Run the verification function on whatever is due until ``done()`` (real time: tickets
        wait for their SQS timers)."""
        source = self.source("verification")
        handler = source.handler_factory()
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("verification did not finish in time")
            if not source.poll_once(handler):
                time.sleep(0.1)

    # -- inspection ---------------------------------------------------------------------------------

    def audit(self, request_id: str) -> AuditRecord:
        item = self.dynamodb.get_item(TableName=AUDIT_TABLE, Key={"request_id": {"S": request_id}})["Item"]
        return AuditRecord.from_item(item)

    def verification(self, request_id: str) -> str | None:
        return self.audit(request_id).verification

    def app_requests(self, operation: str | None = None) -> list[Any]:
        return [
            r
            for r in self.sandbox.requests()
            if r.operation is not None
            and r.operation.startswith("app_")
            and (operation is None or r.operation == operation)
        ]

    def dead_letters(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(
            QueueUrl=self.verification_dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return list(got.get("Messages", []))


@pytest.fixture
def verification_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    for name, value in {
        "TRACK_CREDENTIALS_SECRET_ID": TRACK_SECRET,
        "APP_API_KEY_SECRET_ID": APP_KEY_SECRET,
        "PEPPER_SECRET_ID": PEPPER_SECRET,
        "AUDIT_TABLE": AUDIT_TABLE,
        "CUSTOMERIO_TRACK_URL": sandbox.url,
        "CUSTOMERIO_APP_URL": sandbox.app_url,
        "CUSTOMERIO_RATE_LIMIT_RPS": "1000",
        "DELETION_MAX_CONCURRENCY": "2",
        "CUSTOMERIO_BACKOFF_BASE_SECONDS": "0.001",
        "CUSTOMERIO_TIMEOUT_SECONDS": "1",
        "VERIFICATION_MAX_RECEIVE_COUNT": str(MAX_RECEIVE_COUNT),
        "SECRETS_CACHE_SECONDS": "0",
        **TIMINGS,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EVENT_BUS_NAME", raising=False)
    sensitive(PEPPER, SANDBOX_APP_KEY.key)


def create_resources(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The AWS resources both functions use, in the active moto, as template.yaml declares them."""
    sm = boto3.client("secretsmanager", region_name=REGION)
    sm.create_secret(
        Name=TRACK_SECRET,
        SecretString=json.dumps(
            {
                "site_id": SANDBOX_CREDENTIALS.site_id,
                "api_key": SANDBOX_CREDENTIALS.api_key,
                "region": SANDBOX_CREDENTIALS.region,
            }
        ),
    )
    sm.create_secret(
        Name=APP_KEY_SECRET, SecretString=json.dumps({"app_api_key": SANDBOX_APP_KEY.key, "region": "us"})
    )
    sm.create_secret(Name=PEPPER_SECRET, SecretString=json.dumps({"pepper": PEPPER}))
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName=AUDIT_TABLE, **table_definition("AuditTable"))
    sqs = boto3.client("sqs", region_name=REGION)
    deletion_queue, deletion_dlq = _queue(sqs, "deletion", "DeletionQueue", "DeletionDeadLetterQueue")
    verification_queue, verification_dlq = _queue(
        sqs, "verification", "VerificationQueue", "VerificationDeadLetterQueue"
    )
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", deletion_dlq)
    monkeypatch.setenv("VERIFICATION_QUEUE_URL", verification_queue)
    monkeypatch.setenv("VERIFICATION_DEAD_LETTER_QUEUE_URL", verification_dlq)
    return {
        "sqs": sqs,
        "dynamodb": ddb,
        "secretsmanager": sm,
        "deletion_queue": deletion_queue,
        "verification_queue": verification_queue,
        "verification_dlq": verification_dlq,
    }


@pytest.fixture
def stack(
    verification_env: None, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[VerificationStack]:
    with mock_aws():
        resources = create_resources(sandbox, monkeypatch)
        deletion_app = load_function("gdpr_deletion")
        verification_app = load_function("erasure_verification")
        yield VerificationStack(
            sandbox=sandbox, deletion_app=deletion_app, verification_app=verification_app, **resources
        )
        if deletion_app.processor.cache_info().currsize:
            deletion_app.processor().client.close()  # every workspace's Track client built
        if verification_app.processor.cache_info().currsize:
            verification_app.processor().close()  # every workspace's App API client built
