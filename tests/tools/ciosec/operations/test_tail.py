"""ciosec.operations.tail: a temporary rule and queue on the bus, events as consumers get them, and
nothing left behind, even when setting up fails half-way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ciosec.operations.tail import ERASURE_SOURCE, NAME_PREFIX, TAIL_PERMISSIONS, WEBHOOK_SOURCE, BusTail

REGION = "eu-west-1"
BUS = "stack-customerio"


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        yield events, sqs


def left_over(events: Any, sqs: Any) -> tuple[list[str], list[str]]:
    rules = [r["Name"] for r in events.list_rules(EventBusName=BUS)["Rules"]]
    return rules, sqs.list_queues(QueueNamePrefix=NAME_PREFIX).get("QueueUrls", [])


def put(events: Any, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    events.put_events(
        Entries=[
            {"EventBusName": BUS, "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
        ]
    )


def test_events_arrive_as_consumers_get_them_and_nothing_is_left(aws: tuple[Any, Any]) -> None:
    events, sqs = aws
    tail = BusTail(events, sqs, BUS, sources=(WEBHOOK_SOURCE, ERASURE_SOURCE), detail_types=("opened",))
    with tail:
        assert tail.name.startswith(NAME_PREFIX)
        (rule,) = events.list_rules(EventBusName=BUS)["Rules"]
        assert json.loads(rule["EventPattern"]) == {
            "source": [WEBHOOK_SOURCE, ERASURE_SOURCE],
            "detail-type": ["opened"],
        }
        attributes = sqs.get_queue_attributes(QueueUrl=tail.queue_url, AttributeNames=["All"])["Attributes"]
        statement = json.loads(attributes["Policy"])["Statement"][0]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == rule["Arn"]
        put(events, WEBHOOK_SOURCE, "opened", {"event_id": "e1"})
        put(events, WEBHOOK_SOURCE, "clicked", {"event_id": "e2"})  # another metric: not shown
        put(events, "someone-else", "opened", {"event_id": "e3"})
        put(events, WEBHOOK_SOURCE, "opened", {"event_id": "e4"})
        got = list(tail.events(count=2, seconds=10))
    assert [e["detail"]["event_id"] for e in got] == ["e1", "e4"]
    assert {e["source"] for e in got} == {WEBHOOK_SOURCE}
    assert left_over(events, sqs) == ([], [])


def test_seconds_end_a_quiet_tail(aws: tuple[Any, Any]) -> None:
    events, sqs = aws
    with BusTail(events, sqs, BUS) as tail:
        assert list(tail.events(seconds=0.5)) == []
    assert left_over(events, sqs) == ([], [])


def test_a_failure_half_way_removes_what_was_made(aws: tuple[Any, Any]) -> None:
    events, sqs = aws

    class Refusing:
        """The events client of an operator who may create rules but not add targets."""

        def __getattr__(self, name: str) -> Any:
            return getattr(events, name)

        def put_targets(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutTargets")

    with pytest.raises(ClientError):
        BusTail(Refusing(), sqs, BUS).open()
    assert left_over(events, sqs) == ([], [])


def test_the_permissions_listed_are_the_calls_made() -> None:
    assert set(TAIL_PERMISSIONS) == {"events", "sqs"}
    assert "events:PutRule" in TAIL_PERMISSIONS["events"]
    assert "sqs:DeleteQueue" in TAIL_PERMISSIONS["sqs"]
