"""The webhook function against moto: secrets, the idempotency table, the webhook bucket, and an
EventBridge bus whose rule routes every event to an SQS queue the tests read."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cio_security.webhook.dedupe import KEY_PREFIX
from cio_security.webhook.quarantine import Quarantine
from cio_security.webhook.signature import sign_webhook
from fixtures.apigw import EVENT_SHAPES
from fixtures.aws import REGION
from fixtures.functions import FakeLambdaContext, load_function
from fixtures.logs import sensitive

SIGNING_KEY = "test-signing-key-0123456789abcdefghijklmnop"
PEPPER = "test-pepper-0123456789abcdefghijklmnopqrstuvwxyz"
BUS = "cio-security-events"
TABLE = "cio-security-idempotency"
BUCKET = "cio-security-webhook"
SIGNING_SECRET = "cio-security/customerio/webhook-signing-key"
PEPPER_SECRET = "cio-security/pepper"
ULID = "01J0000000000000000000000A"


def sample_event(event_id: str = ULID, **data: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "object_type": "email",
        "metric": "delivered",
        "timestamp": 1_795_000_000,
        "data": data or {"customer_id": "user-1", "email_address": "person@example.com"},
    }


def emf_lines(out: str) -> list[dict[str, Any]]:
    """The CloudWatch EMF documents a test printed (Powertools Metrics writes them to stdout)."""
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


@dataclass
class WebhookStack:
    app: ModuleType
    queue_url: str
    sqs: Any
    secretsmanager: Any
    s3: Any
    dynamodb: Any
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
        source_ip: str | None = None,
    ) -> dict[str, Any]:
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        signed = sign_webhook(key, raw, timestamp=timestamp) if headers is None else headers
        event = EVENT_SHAPES[shape](raw, signed, base64_encoded=base64_encoded)
        if source_ip is not None:
            if shape == "http":
                event["requestContext"]["http"]["sourceIp"] = source_ip
            else:
                event["requestContext"]["identity"]["sourceIp"] = source_ip
        return self.invoke_raw(event)

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

    def objects(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        """The webhook bucket's objects under ``prefix``: key -> {"body", "metadata"}."""
        found: dict[str, dict[str, Any]] = {}
        for item in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
            obj = self.s3.get_object(Bucket=BUCKET, Key=item["Key"])
            found[item["Key"]] = {"body": obj["Body"].read(), "metadata": obj.get("Metadata", {})}
        return found

    def kept(self) -> dict[str, dict[str, Any]]:
        return self.objects("quarantine/")

    def is_kept(self, body: bytes) -> bool:
        """Whether ``body`` is in the bucket as a kept body (its key is the keyed hash of it)."""
        quarantine = Quarantine(self.app.processor().quarantine.store, pepper=PEPPER.encode)
        key = "quarantine/" + quarantine.body_id(body)
        return bool(self.s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0))

    def is_remembered(self, event_id: str) -> bool:
        """Whether an idempotency record for ``event_id`` is completed (a later delivery is a duplicate)."""
        item = self.dynamodb.get_item(TableName=TABLE, Key={"id": {"S": self.idempotency_key(event_id)}})
        return item.get("Item", {}).get("status", {}).get("S") == "COMPLETED"

    def reset(self) -> None:
        """Forget the function's cached settings and clients (after changing the environment)."""
        self.app.reset()

    @contextmanager
    def replacing_client(self, service: str, client: Any) -> Iterator[None]:
        """Make the function use ``client`` for ``service`` (a failing stand-in), then restore."""
        real = self.app.aws_client
        self.app.reset()
        self.app.aws_client = lambda name: client if name == service else real(name)
        try:
            yield
        finally:
            self.app.aws_client = real
            self.app.reset()

    def idempotency_key(self, event_id: str) -> str:
        """The idempotency record's id Powertools computes for ``event_id``."""
        digest = hashlib.md5(json.dumps(event_id, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
        return f"{KEY_PREFIX}#{digest}"

    def mark_in_progress(self, event_id: str) -> None:
        """An idempotency record in progress, as another invocation working on the event leaves it."""
        now = int(time.time())
        self.dynamodb.put_item(
            TableName=TABLE,
            Item={
                "id": {"S": self.idempotency_key(event_id)},
                "expiration": {"N": str(now + 3600)},
                "in_progress_expiration": {"N": str((now + 60) * 1000)},
                "status": {"S": "INPROGRESS"},
            },
        )

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
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
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
    monkeypatch.setenv("WEBHOOK_QUARANTINE_BUCKET", BUCKET)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "webhook")
    sensitive(SIGNING_KEY, PEPPER)


@pytest.fixture
def webhook(webhook_env: None) -> Iterator[WebhookStack]:
    with mock_aws():
        queue_url, sqs, sm = create_webhook_resources()
        yield WebhookStack(
            app=load_function("webhook"),
            queue_url=queue_url,
            sqs=sqs,
            secretsmanager=sm,
            s3=boto3.client("s3", region_name=REGION),
            dynamodb=boto3.client("dynamodb", region_name=REGION),
        )
