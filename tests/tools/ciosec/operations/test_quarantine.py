"""``ciosec webhook quarantine list | show | replay`` against a stack provisioned from template.yaml
in moto (the local stack's provisioner), with the real webhook handler keeping the bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cio_security.webhook.signature import sign_webhook
from ciosec.cli import main
from ciosec.emulator.provision import function_environment, provision
from ciosec.emulator.template import Resolver
from ciosec.operations.quarantine import outline
from ciosec.operations.stack import StackInfo
from fixtures.apigw import http_api_event
from fixtures.aws import REGION
from fixtures.functions import FakeLambdaContext, load_function
from fixtures.logs import sensitive

KEY = "quarantine-ops-signing-key-0123456789abcdef"
ULID = "01JQKEPT000AAAAAAAAAAAAAAA"
PERSON = "kept.person@example.com"


@dataclass
class Stack:
    app: ModuleType
    state: Path
    info: StackInfo
    s3: Any
    queue_url: str
    sqs: Any

    def send(self, body: bytes) -> int:
        event = http_api_event(body, sign_webhook(KEY, body))
        status: int = self.app.handler(event, FakeLambdaContext())["statusCode"]
        return status

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        capsys.readouterr()  # what the function printed (logs, EMF) is not the command's output
        code = main(["--state", str(self.state), "webhook", "quarantine", *args])
        out, err = capsys.readouterr()
        return code, out, err

    def kept_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.info.webhook_bucket, Prefix="quarantine/")
        return [item["Key"] for item in listed.get("Contents", [])]

    def published(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Stack]:
    sensitive(KEY, PERSON)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        resolver = Resolver("cio-security-local", region=REGION)
        provisioned = provision(
            resolver, region=REGION, overrides={"SigningKeySecret": json.dumps({"signing_key": KEY})}
        )
        for name, value in function_environment(resolver, "WebhookFunction").items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        bus = next(iter(provisioned.buses.values()))
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events = boto3.client("events", region_name=REGION)
        events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": ["customerio"]}))
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
        info = StackInfo(
            idempotency_table=provisioned.tables["IdempotencyTable"],
            webhook_bucket=provisioned.buckets["WebhookBucket"],
            event_bus_name=bus,
            signing_key_secret_id=provisioned.secrets["SigningKeySecret"],
            pepper_secret_id=provisioned.secrets["PepperSecret"],
            region=REGION,
        )
        state = tmp_path / "stack.json"
        info.save(state)
        yield Stack(
            load_function("webhook"), state, info, boto3.client("s3", region_name=REGION), queue_url, sqs
        )


def invalid_event(event_id: str = ULID) -> bytes:
    """Signed, verifies, but not an event: the timestamp is text. It carries personal data."""
    return json.dumps(
        {
            "event_id": event_id,
            "object_type": "email",
            "metric": "delivered",
            "timestamp": "yesterday",
            "data": {"email": PERSON, "customer_id": "u-1"},
        }
    ).encode()


def test_the_local_stack_provisions_the_webhook_bucket_from_the_template(stack: Stack) -> None:
    bucket = stack.info.webhook_bucket
    assert bucket == "cio-security-local-webhookbucket"
    block = stack.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    (rule,) = stack.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["Expiration"]["Days"] == 14


def test_list_shows_ids_reasons_and_shaped_event_ids_only(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.send(invalid_event()) == 200
    assert stack.send(b"not json") == 200

    code, out, _ = stack.cli(capsys, "list")

    assert code == 0
    assert "invalid_event" in out and "not_json" in out and ULID in out
    assert PERSON not in out
    assert "2 kept bodies" in out
    code, out, _ = stack.cli(capsys, "list", "--json")
    assert {k["reason"] for k in json.loads(out)} == {"invalid_event", "not_json"}


def test_show_prints_the_structure_never_a_value(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.send(invalid_event())
    body_id = stack.kept_keys()[0].removeprefix("quarantine/")

    code, out, _ = stack.cli(capsys, "show", body_id[:10])

    assert code == 0
    shown = json.loads(out)
    assert shown["reason"] == "invalid_event" and "timestamp" in shown["detail"]
    assert shown["outline"]["event"] == {
        "event_id": ULID,
        "object_type": "email",
        "metric": "delivered",
        "timestamp": "string(9)",
    }
    assert shown["outline"]["structure"]["data"] == {"email": "string(23)", "customer_id": "string(3)"}
    assert PERSON not in out


def test_show_raw_prints_the_body_with_a_warning(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.send(invalid_event())
    body_id = stack.kept_keys()[0].removeprefix("quarantine/")
    code, out, err = stack.cli(capsys, "show", body_id, "--raw")
    assert code == 0
    assert PERSON in out and "customer data" in err


@pytest.mark.parametrize("wanted", ["0123456", "ffffffffffffffff", "not-hex!"])
def test_show_an_unknown_id_fails_cleanly(
    stack: Stack, capsys: pytest.CaptureFixture[str], wanted: str
) -> None:
    code, _, err = stack.cli(capsys, "show", wanted)
    assert code == 1 and err


def test_replay_publishes_a_body_once_fixed_and_removes_it(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Refusing:
        def put_events(self, **_: object) -> dict:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "MalformedDetail"}]}

    valid = json.dumps(
        {"event_id": ULID, "object_type": "email", "metric": "opened", "timestamp": 1, "data": {}}
    ).encode()
    real = stack.app.aws_client
    monkeypatch.setattr(stack.app, "aws_client", lambda name: Refusing() if name == "events" else real(name))
    stack.app.reset()
    assert stack.send(valid) == 200  # EventBridge refused it: kept as publish_refused
    monkeypatch.setattr(stack.app, "aws_client", real)
    (key,) = stack.kept_keys()

    code, out, _ = stack.cli(capsys, "replay", key.removeprefix("quarantine/")[:12])

    assert code == 0 and "published" in out and "removed" in out
    assert stack.kept_keys() == []
    (event,) = stack.published()
    assert event["detail"]["event_id"] == ULID
    # The function now sees the event as a duplicate: the replay shared its idempotency records.
    stack.app.reset()
    assert stack.send(valid) == 200
    assert stack.published() == []


def test_replay_leaves_a_body_that_still_cannot_be_published(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.send(invalid_event())
    code, out, _ = stack.cli(capsys, "replay", "--all")
    assert code == 1
    assert "still not publishable: invalid_event" in out
    assert len(stack.kept_keys()) == 1


def test_replay_refuses_a_body_the_stack_did_not_keep(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = json.dumps(
        {"event_id": ULID, "object_type": "email", "metric": "opened", "timestamp": 1}
    ).encode()
    stack.s3.put_object(
        Bucket=stack.info.webhook_bucket, Key="quarantine/" + "ab" * 32, Body=forged, Metadata={"reason": "x"}
    )
    code, out, _ = stack.cli(capsys, "replay", "abababab")
    assert code == 1 and "NOT replayed" in out
    assert stack.published() == []


def test_replay_without_ids_asks_for_them(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        stack.cli(capsys, "replay")
    assert exited.value.code == 2
    assert "--all" in capsys.readouterr().err


class TestOutline:
    def test_not_utf8(self) -> None:
        assert outline(b"\xff\xfe") == {"size": 2, "utf8": False, "error": "not UTF-8 at byte 0"}

    def test_not_json_says_where(self) -> None:
        assert outline(b'{"a": }')["error"] == "not JSON at line 1 column 7"

    def test_non_finite_numbers_are_pointed_at(self) -> None:
        shown = outline(b'{"data": {"k": NaN, "i": [Infinity]}}')
        assert shown["structure"]["data"] == {"k": "NaN (not JSON)", "i": ["Infinity (not JSON)"]}

    def test_keys_shaped_like_personal_data_are_withheld(self) -> None:
        shown = outline(json.dumps({"data": {PERSON: True}}).encode())
        assert shown["structure"]["data"] == {"<key withheld: email>": "boolean"}

    def test_large_and_deep_bodies_are_bounded(self) -> None:
        deep: dict[str, Any] = {}
        cursor = deep
        for _ in range(20):
            cursor["a"] = {}
            cursor = cursor["a"]
        shown = outline(json.dumps({"wide": list(range(100)), "deep": deep}).encode())
        assert shown["structure"]["wide"][-1] == "... 80 more items"
        assert "deeper levels not shown" in json.dumps(shown)
