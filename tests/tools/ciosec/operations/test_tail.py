"""ciosec.operations.tail: a temporary rule and queue on the bus, events as consumers get them, and
nothing left behind, even when setting up fails half-way; ``ciosec webhook tail`` prints a webhook
event's envelope and the structure of its data, its values only with ``--show-identifiers``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ciosec.cli import main
from ciosec.operations.quarantine import structure
from ciosec.operations.stack import StackInfo
from ciosec.operations.tail import (
    ERASURE_SOURCE,
    NAME_PREFIX,
    TAIL_PERMISSIONS,
    WEBHOOK_SOURCE,
    BusTail,
    shown,
)

REGION = "eu-west-1"
BUS = "stack-customerio"
PERSON = "tail.person@example.com"
DATA = {  # what the default sanitizer policy keeps of a delivery: identifiers and the address
    "identifiers": {"email": PERSON, "id": "user-77"},
    "customer_id": "user-77",
    "email_address": PERSON,
    "recipient": PERSON,
    "delivery_id": "dlv-1",
    "campaign_id": 42,
    "phone_hash": "ab" * 32,
}
DETAIL = {
    "event_id": "01JTAIL0000000000000000001",
    "object_type": "email",
    "metric": "delivered",
    "timestamp": 1795000000,
    "workspace": "prod-eu",
    "data": DATA,
    "sanitizer": {"dropped": ["$.note"], "hashed": ["$.phone"]},
}
ERASURE = {"request_id": "dsar-tail-1", "status": "completed", "action": "erase", "workspaces": ["prod-eu"]}


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


def bus_event(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """An event as the bus delivers it to a target."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-30T08:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def test_a_webhook_event_is_shown_without_its_data_values() -> None:
    event = bus_event(WEBHOOK_SOURCE, "delivered", DETAIL)
    masked = shown(event)
    assert PERSON not in json.dumps(masked) and "user-77" not in json.dumps(masked)
    assert masked["detail"]["data"] == structure(DATA)  # the rendering of `webhook quarantine show`
    assert masked["detail"]["data"]["identifiers"] == {"email": "string(23)", "id": "string(7)"}
    assert masked["detail"]["data"]["campaign_id"] == "number"
    # The envelope is kept as it is.
    assert {k: v for k, v in masked.items() if k != "detail"} == {
        k: v for k, v in event.items() if k != "detail"
    }
    assert {k: v for k, v in masked["detail"].items() if k != "data"} == {
        k: v for k, v in DETAIL.items() if k != "data"
    }
    assert event["detail"]["data"] == DATA  # the event itself is left alone
    assert shown(event, show_identifiers=True) == event


def test_a_claim_checked_event_and_an_erasure_event_are_shown_whole() -> None:
    pointer = {"bucket": "b", "key": "claims/ab.json", "size": 300000, "sha256": "cd" * 32}
    claim = bus_event(WEBHOOK_SOURCE, "delivered", {**DETAIL, "data": None, "claim_check": pointer})
    del claim["detail"]["data"]
    assert shown(claim) == claim
    erasure = bus_event(ERASURE_SOURCE, "ErasureCompleted", ERASURE)
    assert shown(erasure) == erasure


def test_a_detail_that_is_not_an_object_is_shown_as_its_type() -> None:
    odd = bus_event(WEBHOOK_SOURCE, "delivered", DETAIL)
    odd["detail"] = PERSON
    assert shown(odd)["detail"] == "string(23)"


@pytest.fixture
def state(aws: tuple[Any, Any], tmp_path: Path) -> str:
    path = tmp_path / "stack.json"
    StackInfo(event_bus_name=BUS, region=REGION).save(path)
    return str(path)


@pytest.fixture
def publishing(aws: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's tail, with a webhook event and an erasure event published once it is open."""
    events, _ = aws

    class Publishing(BusTail):
        def open(self) -> Self:
            opened = super().open()
            put(events, WEBHOOK_SOURCE, "delivered", DETAIL)
            put(events, ERASURE_SOURCE, "ErasureCompleted", ERASURE)
            return opened

    monkeypatch.setattr("ciosec.commands.webhook.BusTail", Publishing)


def tail_lines(state: str, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[list[Any], str]:
    argv = ["--state", state, "webhook", "tail", "--erasures", "--count", "2", "--seconds", "20", *options]
    assert main(argv) == 0
    out = capsys.readouterr()
    return [json.loads(line) for line in out.out.splitlines()], out.err


@pytest.mark.usefixtures("publishing")
def test_the_command_hides_data_values_by_default(state: str, capsys: pytest.CaptureFixture[str]) -> None:
    (webhook, erasure), err = tail_lines(state, capsys)
    assert PERSON not in json.dumps(webhook) + err
    assert webhook["detail"]["data"] == structure(DATA)
    assert webhook["detail"]["event_id"] == DETAIL["event_id"]
    assert webhook["detail"]["sanitizer"] == DETAIL["sanitizer"]
    assert (webhook["source"], webhook["detail-type"]) == (WEBHOOK_SOURCE, "delivered")
    assert erasure["detail"] == ERASURE
    assert "--show-identifiers" in err


@pytest.mark.usefixtures("publishing")
def test_the_command_shows_the_data_when_asked(state: str, capsys: pytest.CaptureFixture[str]) -> None:
    (webhook, erasure), err = tail_lines(state, capsys, "--show-identifiers")
    assert webhook["detail"] == DETAIL
    assert webhook["detail"]["data"]["identifiers"]["email"] == PERSON
    assert erasure["detail"] == ERASURE
    assert "personal data" in err


def test_the_help_says_what_is_hidden(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["webhook", "tail", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--show-identifiers" in text
    assert "type and length" in text
