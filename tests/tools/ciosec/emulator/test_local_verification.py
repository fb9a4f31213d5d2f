"""The local stack runs erasure verification (issue 14): the verification function consumes the
verification queue as template.yaml's event source declares it, asks the sandbox's App API
(``{sandbox}/app``) with an App API key of the sandbox's workspace, and an erasure ends verified."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from ciosec.emulator.local_stack import LOCAL_VERIFICATION_TIMING, LocalStack, LocalStackOptions
from fixtures.logs import sensitive


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    for name in [n for n in os.environ if n.startswith("CUSTOMERIO_")]:
        monkeypatch.delenv(name)
    timing = {**LOCAL_VERIFICATION_TIMING, "VERIFICATION_FIRST_CHECK_SECONDS": "1"}
    options = LocalStackOptions(webhook_port=0, state_file=tmp_path / "stack.json", verification_env=timing)
    with LocalStack(options) as stack:
        yield stack


def test_an_erasure_on_the_local_stack_is_verified_through_the_sandboxs_app_api(local: LocalStack) -> None:
    assert local.sandbox is not None and local.provisioned is not None
    assert os.environ["CUSTOMERIO_APP_URL"] == local.sandbox.app_url
    (key,) = local.sandbox.app_keys
    sensitive(key.key, "local-verify-user")
    secret = boto3.client("secretsmanager").get_secret_value(
        SecretId=local.provisioned.secrets["AppApiKeySecret"]
    )["SecretString"]
    assert json.loads(secret) == {"app_api_key": key.key, "region": "us"}
    source = local.verification_source
    assert source is not None
    assert (source.batch_size, source.concurrency, source.batching_window) == (100, 2, 1.0)

    local.sandbox.add_person("local-verify-user")
    body = {
        "request_id": "local-v1",
        "identifier": "local-verify-user",
        "requested_at": "2026-11-28T10:00:00Z",
    }
    boto3.client("sqs").send_message(QueueUrl=local.info.deletion_queue_url, MessageBody=json.dumps(body))
    ddb = boto3.client("dynamodb")
    deadline = time.monotonic() + 30
    item: dict[str, dict[str, str]] = {}
    while time.monotonic() < deadline:
        item = ddb.get_item(TableName=local.info.audit_table, Key={"request_id": {"S": "local-v1"}}).get(
            "Item", {}
        )
        if item.get("verification", {}).get("S") == "verified":
            break
        time.sleep(0.3)
    assert item["status"]["S"] == "completed" and item["verification"]["S"] == "verified"
    operations = [
        r.operation for r in local.sandbox.requests() if r.operation and r.operation.startswith("app_")
    ]
    assert operations == ["app_workspaces", "app_people"]
