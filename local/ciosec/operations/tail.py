"""What reaches the stack's EventBridge bus, as its consumers get it (``ciosec webhook tail``).

``BusTail`` subscribes a temporary SQS queue to the bus with a rule of its own, hands back each
event as it arrives, and removes the rule and the queue when it is closed::

    sqs = boto3.client("sqs", config=POLLING_CONFIG)  # its read timeout outlasts a long poll
    with BusTail(events, sqs, "cio-security-customerio", sources=("customerio",)) as tail:
        for event in tail.events(count=10, seconds=60):
            print(json.dumps(event))

The events are what the bus delivers to any target: the EventBridge envelope (``id``, ``source``,
``detail-type``, ``time``...) around the ``detail`` the webhook published, already sanitized. The
sanitizer keeps what consumers need, identifiers and email addresses among it, so ``shown`` is what
an operator sees of an event: a webhook event's ``detail.data`` as its structure without values
(``quarantine.structure``: each value's type, strings by length), the rest as it came; an erasure
event, which holds request ids and statuses and no personal data, whole. The
rule and the queue are named ``ciosec-tail-<random>``; the queue allows only that rule to send to
it and keeps messages 10 minutes. On AWS this needs, besides ``cloudformation:DescribeStacks``:
``events:PutRule``, ``events:PutTargets``, ``events:RemoveTargets`` and ``events:DeleteRule`` on
``rule/<bus>/ciosec-tail-*``, and ``sqs:CreateQueue``, ``sqs:GetQueueAttributes``,
``sqs:SetQueueAttributes``, ``sqs:ReceiveMessage``, ``sqs:DeleteMessage`` and ``sqs:DeleteQueue``
on ``ciosec-tail-*`` queues (``TAIL_PERMISSIONS``).
"""

from __future__ import annotations

import json
import logging
import secrets as random_tokens
import time
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Final, Self

from botocore.config import Config

from ciosec.operations.quarantine import structure

__all__ = [
    "ERASURE_SOURCE",
    "NAME_PREFIX",
    "POLLING_CONFIG",
    "TAIL_PERMISSIONS",
    "WEBHOOK_SOURCE",
    "BusTail",
    "shown",
]

logger = logging.getLogger(__name__)

WEBHOOK_SOURCE: Final = "customerio"
"""The ``source`` of the verified Customer.io events the webhook publishes."""
ERASURE_SOURCE: Final = "cio-security.deletion"
"""The ``source`` of the deletion function's erasure events."""
NAME_PREFIX: Final = "ciosec-tail-"
"""Every rule and queue a tail creates starts with it (what the operator policy grants)."""
RETENTION_SECONDS: Final = 600
LONGEST_POLL_SECONDS: Final = 5
POLLING_CONFIG: Final = Config(
    connect_timeout=2, read_timeout=LONGEST_POLL_SECONDS + 10, retries={"max_attempts": 3, "mode": "standard"}
)
"""The SQS client's settings for a tail: a read timeout longer than its long polls."""
TAIL_PERMISSIONS: Final = {
    "events": ("events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:DeleteRule"),
    "sqs": (
        "sqs:CreateQueue",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:DeleteQueue",
    ),
}
"""What a deployed stack's operator needs for a tail, on ``rule/<bus>/ciosec-tail-*`` and on the
``ciosec-tail-*`` queues."""


def event_pattern(sources: Sequence[str], detail_types: Sequence[str] = ()) -> dict[str, Any]:
    """The rule's pattern: these sources, and these detail-types (metrics) when given.

    >>> event_pattern(["customerio"], ["opened"])
    {'source': ['customerio'], 'detail-type': ['opened']}
    """
    pattern: dict[str, Any] = {"source": list(sources)}
    if detail_types:
        pattern["detail-type"] = list(detail_types)
    return pattern


def shown(event: dict[str, Any], *, show_identifiers: bool = False) -> dict[str, Any]:
    """What ``ciosec webhook tail`` prints of ``event``: by default a webhook event with every
    value under ``detail.data`` replaced by its type and length (``quarantine.structure``, as
    ``webhook quarantine show`` renders a kept body), the envelope kept (``source``,
    ``detail-type``, ``time``, ``detail.event_id``, ``metric``, ``object_type``, ``workspace``,
    ``timestamp``, the ``sanitizer`` report, a claim check); an erasure event whole, as it holds no
    personal data. ``show_identifiers``: every event as the bus's consumers get it. ``event``
    itself is left unchanged.

    >>> shown({"source": "customerio", "detail": {"event_id": "e1", "data": {"email": "a@b.c"}}})
    {'source': 'customerio', 'detail': {'event_id': 'e1', 'data': {'email': 'string(5)'}}}
    """
    if show_identifiers or event.get("source") == ERASURE_SOURCE:
        return event
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return {**event, "detail": structure(detail)}
    if "data" not in detail:
        return event
    return {**event, "detail": {**detail, "data": structure(detail["data"])}}


class BusTail:
    """A temporary subscription to an EventBridge bus: ``open()`` (or ``with``), ``events()``,
    ``close()``. ``close`` removes whatever ``open`` created, even after a failure half-way."""

    def __init__(
        self,
        events: Any,
        sqs: Any,
        bus: str,
        *,
        sources: Sequence[str] = (WEBHOOK_SOURCE,),
        detail_types: Sequence[str] = (),
    ) -> None:
        self._events = events
        self._sqs = sqs
        self.bus = bus
        self.pattern = event_pattern(sources, detail_types)
        self.name = NAME_PREFIX + random_tokens.token_hex(6)
        self.queue_url: str | None = None
        self._rule_created = False
        self._target_added = False

    def open(self) -> Self:
        """Create the queue, the rule and its target; events published from now on arrive."""
        try:
            self.queue_url = self._sqs.create_queue(
                QueueName=self.name,
                Attributes={
                    "MessageRetentionPeriod": str(RETENTION_SECONDS),
                    "SqsManagedSseEnabled": "true",
                },
            )["QueueUrl"]
            queue_arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            rule_arn = self._events.put_rule(
                Name=self.name,
                EventBusName=self.bus,
                EventPattern=json.dumps(self.pattern),
                State="ENABLED",
                Description="ciosec webhook tail: removed when the tail stops",
            )["RuleArn"]
            self._rule_created = True
            self._sqs.set_queue_attributes(
                QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(_queue_policy(queue_arn, rule_arn))}
            )
            self._events.put_targets(
                Rule=self.name, EventBusName=self.bus, Targets=[{"Id": "tail", "Arn": queue_arn}]
            )
            self._target_added = True
        except BaseException:
            self.close()
            raise
        return self

    def events(self, *, count: int | None = None, seconds: float | None = None) -> Iterator[dict[str, Any]]:
        """Each event as it arrives (deleted from the queue once handed over), until ``count``
        events or ``seconds`` have passed; without either, until the caller stops."""
        if self.queue_url is None:
            raise RuntimeError("open the tail first")
        deadline = None if seconds is None else time.monotonic() + seconds
        seen = 0
        while count is None or seen < count:
            wait = LONGEST_POLL_SECONDS
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait = max(0, min(wait, int(left)))
            wanted = 10 if count is None else max(1, min(10, count - seen))
            answer = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=wanted, WaitTimeSeconds=wait
            )
            messages = answer.get("Messages", [])
            if not messages and deadline is not None and wait == 0:
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            for message in messages:
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                event: dict[str, Any] = json.loads(message["Body"])
                seen += 1
                yield event
                if count is not None and seen >= count:
                    return

    def close(self) -> list[str]:
        """Remove the target, the rule and the queue; returns what could not be removed."""
        left: list[str] = []
        if self._target_added:
            left += self._attempt(
                f"target of rule {self.name}",
                lambda: self._events.remove_targets(Rule=self.name, EventBusName=self.bus, Ids=["tail"]),
            )
            self._target_added = False
        if self._rule_created:
            left += self._attempt(
                f"rule {self.name} on bus {self.bus}",
                lambda: self._events.delete_rule(Name=self.name, EventBusName=self.bus),
            )
            self._rule_created = False
        if self.queue_url is not None:
            url = self.queue_url
            left += self._attempt(f"queue {url}", lambda: self._sqs.delete_queue(QueueUrl=url))
            self.queue_url = None
        return left

    @staticmethod
    def _attempt(what: str, action: Any) -> list[str]:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - cleanup goes on; the caller reports what is left
            logger.warning("could not remove %s: %s", what, type(exc).__name__)
            return [what]
        return []

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _queue_policy(queue_arn: str, rule_arn: str) -> dict[str, Any]:
    """Only this rule may send to the queue (EventBridge delivers with the queue's policy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "FromTheTailRule",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
