"""The dead-letter queue (moto SQS): the body unchanged, and attributes that say why, naming the
failing fields and the workspace, never a value."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cio_security.deletion.dead_letters import DEAD_LETTER_ATTRIBUTES, DeadLetterQueue
from cio_security.deletion.request import parse_deletion_message
from cio_security.errors import DeadLetterError, InvalidDeletionRequestError
from fixtures.aws import REGION

BODY = json.dumps(
    {"request_id": "dsar-dl-1", "identifier": "person@example.com", "requested_at": "2026-11-28T10:00"}
)


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queue(sqs: Any) -> DeadLetterQueue:
    return DeadLetterQueue(sqs.create_queue(QueueName="dlq")["QueueUrl"], sqs)


def received(queue: DeadLetterQueue) -> tuple[str, dict[str, tuple[str, str]]]:
    (message,) = queue.client.receive_message(
        QueueUrl=queue.queue_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    attributes = {
        name: (value["DataType"], value["StringValue"])
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return message["Body"], attributes


def test_a_schema_error_carries_its_failing_fields(queue: DeadLetterQueue) -> None:
    with pytest.raises(InvalidDeletionRequestError) as caught:
        parse_deletion_message(BODY)
    queue.send(
        BODY,
        reason=caught.value.reason,
        request_id=caught.value.request_id,
        message_id="m-1",
        fields=caught.value.fields,
        receive_count=1,
    )
    body, attributes = received(queue)
    assert body == BODY
    assert attributes == {
        "reason": ("String", "schema_error"),
        "fields": ("String", "requested_at"),
        "request_id": ("String", "dsar-dl-1"),
        "source_message_id": ("String", "m-1"),
        "receive_count": ("Number", "1"),
    }
    assert "person@example.com" not in json.dumps(attributes)


def test_fields_are_sorted_distinct_and_comma_separated(queue: DeadLetterQueue) -> None:
    queue.send("{}", reason="schema_error", fields=("requested_at", "identifier", "requested_at"))
    assert received(queue)[1]["fields"] == ("String", "identifier,requested_at")


def test_a_failure_in_one_workspace_names_it(queue: DeadLetterQueue) -> None:
    queue.send(BODY, reason="customerio_401", request_id="dsar-dl-1", workspace="prod-eu")
    attributes = received(queue)[1]
    assert attributes["workspace"] == ("String", "prod-eu")
    assert "fields" not in attributes


def test_existing_calls_keep_working(queue: DeadLetterQueue) -> None:
    message_id = queue.send(BODY, reason="retries_exhausted", request_id="r", last_error="customerio_503")
    assert message_id
    assert received(queue)[1] == {
        "reason": ("String", "retries_exhausted"),
        "request_id": ("String", "r"),
        "last_error": ("String", "customerio_503"),
    }


def test_every_attribute_fits_sqs_limit_of_ten() -> None:
    everything = DeadLetterQueue.attributes(
        reason="schema_error",
        request_id="r",
        message_id="m",
        last_error="e",
        fields=("identifier",),
        workspace="prod-eu",
        receive_count=3,
    )
    assert set(everything) == set(DEAD_LETTER_ATTRIBUTES)
    assert len(everything) <= 10


def test_sqs_refusing_is_a_dead_letter_error(sqs: Any) -> None:
    queue = DeadLetterQueue(f"https://sqs.{REGION}.amazonaws.com/123456789012/missing", sqs)
    with pytest.raises(DeadLetterError) as caught:
        queue.send(BODY, reason="schema_error", fields=("requested_at",))
    assert isinstance(caught.value.__cause__, ClientError)
    assert "person@example.com" not in str(caught.value)
