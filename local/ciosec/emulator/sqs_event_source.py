"""An SQS event source that feeds a handler exactly as Lambda's event source mapping does:
batches of up to BatchSize records (gathered ten at a time, SQS's ReceiveMessage maximum, for at
most the batching window), ``batchItemFailures`` stay on the queue for redelivery after
their visibility timeout, every other record is deleted, and the queue's redrive policy (applied
by SQS itself) moves a message to the DLQ after maxReceiveCount receives. A handler exception
fails the whole batch, as in Lambda."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ciosec.emulator.functions import LambdaContext

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


def sqs_record(message: MessageTypeDef, *, queue_arn: str, region: str) -> dict[str, Any]:
    """A received SQS message in the shape Lambda gives a handler."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
            "SenderId": attributes.get("SenderId", "local"),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
            ),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody")
        or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass
class PollStats:
    """What an event source has done so far."""

    batches: int = 0
    records: int = 0
    failed_records: int = 0
    handler_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class SqsEventSource:
    """Polls ``queue_url`` and invokes ``handler`` with Lambda-shaped SQS events.

    ``concurrency`` pollers run at once, each with its own handler from ``handler_factory`` (one
    execution environment each, like the ScalingConfig's MaximumConcurrency). ``batch_size`` and
    ``batching_window`` are the event source's BatchSize and MaximumBatchingWindowInSeconds;
    ``timeout_seconds`` the function's Timeout (what the context says is left at the start).
    """

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler_factory: Callable[[], Handler],
        *,
        batch_size: int = 10,
        batching_window: float = 0.0,
        concurrency: int = 1,
        wait_seconds: int = 1,
        region: str = "eu-west-1",
        function_name: str = "gdpr-deletion",
        timeout_seconds: float = 900.0,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.handler_factory = handler_factory
        self.batch_size = batch_size
        self.batching_window = batching_window
        self.concurrency = concurrency
        self.wait_seconds = wait_seconds
        self.region = region
        self.function_name = function_name
        self.timeout_seconds = timeout_seconds
        self.stats = PollStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def poll_once(self, handler: Handler) -> int:
        """Receive one batch, invoke the handler, delete what succeeded. Returns records seen."""
        messages = self._receive(min(10, self.batch_size), self.wait_seconds)
        if not messages:
            return 0
        # Like Lambda's batching window: keep gathering until the batch is full, the window is
        # over, or (without a window) the queue has nothing more to give at once.
        closes = time.monotonic() + self.batching_window
        while len(messages) < self.batch_size:
            more = self._receive(min(10, self.batch_size - len(messages)), 0)
            if more:
                messages.extend(more)
            elif time.monotonic() >= closes:
                break
            else:
                self._stop.wait(0.05)
        event = {"Records": [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in messages]}
        # Each invocation starts with the function's whole Timeout left, as in Lambda.
        context = LambdaContext(
            function_name=self.function_name, remaining_ms=int(self.timeout_seconds * 1000)
        )
        try:
            response = handler(event, context) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception:  # a crashed invocation: Lambda retries the whole batch
            logger.exception("handler raised: the whole batch stays on the queue")
            failed = {m["MessageId"] for m in messages}
            with self.stats.lock:
                self.stats.handler_errors += 1
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        with self.stats.lock:
            self.stats.batches += 1
            self.stats.records += len(messages)
            self.stats.failed_records += len(failed)
        return len(messages)

    def _receive(self, count: int, wait_seconds: int) -> list[MessageTypeDef]:
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(received.get("Messages", []))

    def _run(self) -> None:
        handler = self.handler_factory()
        while not self._stop.is_set():
            try:
                self.poll_once(handler)
            except Exception:  # the queue endpoint went away: keep polling until stopped
                logger.exception("SQS poll failed")
                self._stop.wait(1.0)

    def start(self) -> None:
        for i in range(self.concurrency):
            thread = threading.Thread(target=self._run, name=f"sqs-poller-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
