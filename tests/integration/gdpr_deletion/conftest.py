"""The deletion function against moto (SQS queue + DLQ with the template's redrive policy,
the audit table from template.yaml, Secrets Manager) and the Customer.io sandbox over HTTP.

``DeletionStack`` plays Lambda's SQS event source: ``send`` puts messages on the queue,
``deliver`` receives a batch, invokes the real handler with a Lambda-shaped event and deletes
the records not reported in ``batchItemFailures``, ``expire_failures`` makes the failed ones
visible again (their visibility timeout passing), so the next ``deliver`` redelivers them.

The client's retry sleeps are kept tiny through the handler's own environment variables
(``CUSTOMERIO_BACKOFF_BASE_SECONDS``, ``CUSTOMERIO_TIMEOUT_SECONDS``), so the suite is fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cio_security.audit.record import AuditRecord
from ciosec.emulator.sqs_event_source import sqs_record
from ciosec.sandbox import CredentialSet, Sandbox
from fixtures.aws import REGION
from fixtures.deletion_queues import DeletionQueues
from fixtures.functions import FakeLambdaContext, load_function
from fixtures.logs import sensitive
from fixtures.sandbox import SANDBOX_CREDENTIALS
from fixtures.template import load_template, queue_attributes, table_definition

TRACK_SECRET = "cio-security/customerio/track-credentials"
PEPPER_SECRET = "cio-security/pepper"
PEPPER = "deletion-pepper-0123456789abcdefghijklmnopqrstuv"
AUDIT_TABLE = "cio-security-audit"
QUEUE = "cio-security-deletion"
DLQ = "cio-security-deletion-dlq"
ROTATED = CredentialSet(
    site_id="site-rotated", api_key="rotated-key-4c1f9a7e2b6d8053", environment_id=100001, region="us"
)

# Identifiers the suite deletes: each is registered as sensitive, so no log line may hold one.
HOSTILE_IDENTIFIERS = (
    "a/b",
    "../accounts/region",
    "x?y#z",
    "Zoë-東京-🙂",
    "first+last@example.com",
    "..",
    "%2F%2e%2e",
    "cio_03000001",
    " spaced id ",
)


def track_json(credentials: CredentialSet) -> str:
    return json.dumps(
        {"site_id": credentials.site_id, "api_key": credentials.api_key, "region": credentials.region}
    )


def deletion_body(request_id: str, identifier: str, **fields: Any) -> str:
    """A deletion queue message body."""
    data = {
        "request_id": request_id,
        "identifier": identifier,
        "requested_at": "2026-11-28T10:00:00Z",
        **fields,
    }
    return json.dumps(data)


# What template.yaml gives the function and the queue's redrive policy alike.
MAX_RECEIVE_COUNT = int(load_template()["Parameters"]["DeletionMaxReceiveCount"]["Default"])
# An invocation starts with the function's whole Timeout left.
FUNCTION_TIMEOUT_MS = (
    int(load_template()["Resources"]["GdprDeletionFunction"]["Properties"]["Timeout"]) * 1000
)


@dataclass
class DeletionStack(DeletionQueues):
    app: ModuleType
    sandbox: Sandbox
    sqs: Any
    dynamodb: Any
    secretsmanager: Any
    queue_url: str
    queue_arn: str
    dlq_url: str
    context: FakeLambdaContext = field(
        default_factory=lambda: FakeLambdaContext(
            function_name="gdpr-deletion", remaining_ms=FUNCTION_TIMEOUT_MS
        )
    )
    responses: list[dict[str, Any]] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)

    # -- the event source -------------------------------------------------------------------------

    def send(self, *bodies: str) -> list[str]:
        """Put messages on the deletion queue; returns their message ids."""
        return [self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=b)["MessageId"] for b in bodies]

    def receive(self, max_messages: int = 10) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=0,  # the template's queue long-polls for 20 s
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(got.get("Messages", []))

    def invoke(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """Invoke the handler with these received messages and settle them as Lambda does."""
        event = {"Records": [sqs_record(m, queue_arn=self.queue_arn, region=REGION) for m in messages]}
        response: dict[str, Any] = self.app.handler(event, self.context)
        self.responses.append(response)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                self.in_flight.append(message["ReceiptHandle"])
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return response

    def deliver(self, max_messages: int = 10) -> dict[str, Any]:
        """Receive one batch and invoke the handler with it."""
        messages = self.receive(max_messages)
        assert messages, "nothing to deliver"
        return self.invoke(messages)

    def drain(self, rounds: int = 10) -> None:
        """Deliver until the queue is empty, letting failed messages come back between rounds."""
        for _ in range(rounds):
            while messages := self.receive():
                self.invoke(messages)
            if not self.in_flight:
                return
            self.expire_failures()
        raise AssertionError(f"queue not drained after {rounds} rounds")

    def expire_failures(self) -> None:
        """Make the failed messages visible again, as their visibility timeout passing would."""
        handles, self.in_flight = self.in_flight, []
        for handle in handles:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=0
            )

    # -- inspection -------------------------------------------------------------------------------

    def audit(self, request_id: str) -> AuditRecord | None:
        item = self.dynamodb.get_item(TableName=AUDIT_TABLE, Key={"request_id": {"S": request_id}}).get(
            "Item"
        )
        return AuditRecord.from_item(item) if item else None

    def audit_items(self) -> list[dict[str, Any]]:
        return list(self.dynamodb.scan(TableName=AUDIT_TABLE)["Items"])

    def calls(self, identifier: str | None = None) -> list[tuple[str | None, str | None, int | None]]:
        """(action, identifier, status) of every Track operation the sandbox received: each
        operation of a v2 batch (a cio_id with its ``cio_`` prefix back on) with its request's
        status, and each v1 call."""
        found: list[tuple[str | None, str | None, int | None]] = []
        for r in self.sandbox.requests():
            if r.operation == "batch" and isinstance(r.body, dict):
                for op in r.body.get("batch", []):
                    ((kind, value),) = op["identifiers"].items()
                    found.append((op["action"], f"cio_{value}" if kind == "cio_id" else value, r.status))
            else:
                found.append((r.operation, r.identifier, r.status))
        return [c for c in found if identifier is None or c[1] == identifier]

    def batches(self) -> list[tuple[int | None, int]]:
        """(status, number of operations) of every Track v2 batch request the sandbox received."""
        return [
            (r.status, len(r.body.get("batch", [])) if isinstance(r.body, dict) else 0)
            for r in self.sandbox.requests()
            if r.operation == "batch"
        ]


def create_deletion_resources() -> tuple[Any, Any, Any, str, str, str]:
    """Create the deletion function's AWS resources in the active moto, as template.yaml declares
    them; returns (sqs, dynamodb, secretsmanager, queue url, queue arn, dlq url)."""
    sm = boto3.client("secretsmanager", region_name=REGION)
    sm.create_secret(Name=TRACK_SECRET, SecretString=track_json(SANDBOX_CREDENTIALS))
    sm.create_secret(Name=PEPPER_SECRET, SecretString=json.dumps({"pepper": PEPPER}))
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName=AUDIT_TABLE, **table_definition("AuditTable"))
    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = sqs.create_queue(QueueName=DLQ, Attributes=queue_attributes("DeletionDeadLetterQueue"))[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=QUEUE, Attributes=queue_attributes("DeletionQueue", dead_letter_queue_arn=dlq_arn)
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return sqs, ddb, sm, queue_url, queue_arn, dlq_url


@pytest.fixture
def deletion_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    monkeypatch.setenv("TRACK_CREDENTIALS_SECRET_ID", TRACK_SECRET)
    monkeypatch.setenv("PEPPER_SECRET_ID", PEPPER_SECRET)
    monkeypatch.setenv("AUDIT_TABLE", AUDIT_TABLE)
    monkeypatch.setenv("CUSTOMERIO_TRACK_URL", sandbox.url)
    monkeypatch.setenv("CUSTOMERIO_RATE_LIMIT_RPS", "1000")
    monkeypatch.setenv("DELETION_MAX_CONCURRENCY", "2")
    monkeypatch.setenv("CUSTOMERIO_BACKOFF_BASE_SECONDS", "0.001")
    monkeypatch.setenv("CUSTOMERIO_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("CUSTOMERIO_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "gdpr-deletion")
    monkeypatch.setenv("DELETION_MAX_RECEIVE_COUNT", str(MAX_RECEIVE_COUNT))
    sensitive(PEPPER, ROTATED.api_key, *HOSTILE_IDENTIFIERS)


@pytest.fixture
def deletion(
    deletion_env: None, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DeletionStack]:
    with mock_aws():
        sqs, ddb, sm, queue_url, queue_arn, dlq_url = create_deletion_resources()
        monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq_url)
        app = load_function("gdpr_deletion")
        yield DeletionStack(
            app=app,
            sandbox=sandbox,
            sqs=sqs,
            dynamodb=ddb,
            secretsmanager=sm,
            queue_url=queue_url,
            queue_arn=queue_arn,
            dlq_url=dlq_url,
        )
        app.workers().shutdown(wait=True)
        if app.processor.cache_info().currsize:
            app.processor().client.close()
