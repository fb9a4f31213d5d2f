"""The webhook function against moto: secrets, the idempotency table, and an EventBridge bus whose
rule routes every event to an SQS queue the tests read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cio_security.webhook.signature import sign_webhook
from fixtures.apigw import EVENT_SHAPES
from fixtures.aws import REGION
from fixtures.functions import FakeLambdaContext, load_function
from fixtures.logs import sensitive

SIGNING_KEY = "test-signing-key-0123456789abcdefghijklmnop"
PEPPER = "test-pepper-0123456789abcdefghijklmnopqrstuvwxyz"
BUS = "cio-security-events"
TABLE = "cio-security-idempotency"
SIGNING_SECRET = "cio-security/customerio/webhook-signing-key"
PEPPER_SECRET = "cio-security/pepper"


def sample_event(event_id: str = "01J0000000000000000000000A", **data: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "object_type": "email",
        "metric": "delivered",
        "timestamp": 1_795_000_000,
        "data": data or {"customer_id": "user-1", "email_address": "person@example.com"},
    }


@dataclass
class WebhookStack:
    app: ModuleType
    queue_url: str
    sqs: Any
    secretsmanager: Any
    now: float | None = None
    context: FakeLambdaContext = field(default_factory=FakeLambdaContext)

    def invoke_raw(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.app.handler(event, self.context)

    def send(
        self,
        body: bytes | dict[str, Any],
        *,
        key: str = SIGNING_KEY,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        shape: str = "http",
        base64_encoded: bool = False,
    ) -> dict[str, Any]:
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        signed = sign_webhook(key, raw, timestamp=timestamp) if headers is None else headers
        return self.invoke_raw(EVENT_SHAPES[shape](raw, signed, base64_encoded=base64_encoded))

    def published(self) -> list[dict[str, Any]]:
        """Every event the bus delivered to the test queue (drained)."""
        events = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def stage_key(self, key: str, stages: list[str]) -> str:
        version = self.secretsmanager.put_secret_value(
            SecretId=SIGNING_SECRET, SecretString=json.dumps({"signing_key": key}), VersionStages=stages
        )
        return version["VersionId"]

    def promote(self, version_id: str) -> None:
        """Make ``version_id`` AWSCURRENT the way finishSecret does (the old one becomes AWSPREVIOUS)."""
        describe = self.secretsmanager.describe_secret(SecretId=SIGNING_SECRET)
        current = next(v for v, s in describe["VersionIdsToStages"].items() if "AWSCURRENT" in s)
        self.secretsmanager.update_secret_version_stage(
            SecretId=SIGNING_SECRET,
            VersionStage="AWSCURRENT",
            MoveToVersionId=version_id,
            RemoveFromVersionId=current,
        )


def create_webhook_resources(*, signing_key: str = SIGNING_KEY) -> tuple[str, Any, Any]:
    """Create the webhook's AWS resources in the active moto and return (queue url, sqs, sm)."""
    sm = boto3.client("secretsmanager", region_name=REGION)
    sm.create_secret(Name=SIGNING_SECRET, SecretString=json.dumps({"signing_key": signing_key}))
    sm.create_secret(Name=PEPPER_SECRET, SecretString=json.dumps({"pepper": PEPPER}))
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    events = boto3.client("events", region_name=REGION)
    events.create_event_bus(Name=BUS)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="published-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="all-customerio", EventBusName=BUS, EventPattern=json.dumps({"source": ["customerio"]})
    )
    events.put_targets(Rule="all-customerio", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
    return queue_url, sqs, sm


@pytest.fixture
def webhook_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNING_KEY_SECRET_ID", SIGNING_SECRET)
    monkeypatch.setenv("PEPPER_SECRET_ID", PEPPER_SECRET)
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "webhook")
    sensitive(SIGNING_KEY, PEPPER)


@pytest.fixture
def webhook(webhook_env: None) -> Iterator[WebhookStack]:
    with mock_aws():
        queue_url, sqs, sm = create_webhook_resources()
        yield WebhookStack(app=load_function("webhook"), queue_url=queue_url, sqs=sqs, secretsmanager=sm)
