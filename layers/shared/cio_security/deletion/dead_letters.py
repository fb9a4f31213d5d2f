"""The dead-letter queue of deletion requests: where permanent failures go at once.

A dead letter is the original body, unchanged, with message attributes that say why (names and
codes only, never a value of the body):

- ``reason`` (always): why it can never succeed as it is (``schema_error``, ``invalid_json``,
  ``customerio_401``, ``retries_exhausted``...);
- ``fields`` (a schema error): the failing field names, comma-separated (``identifier,requested_at``);
- ``request_id`` (when readable): the request's id;
- ``workspace`` (a failure in one workspace): the Customer.io workspace it failed in;
- ``source_message_id`` (when known): its message id on the deletion queue;
- ``receive_count`` (when known, a Number): how many times the deletion queue had delivered it;
- ``last_error`` (``retries_exhausted``): the cause of the last retry.

``ciosec dlq list`` shows them; a message that the queue's redrive policy moved carries none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cio_security import config
from cio_security.errors import DeadLetterError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["DEAD_LETTER_ATTRIBUTES", "FIELDS_SEPARATOR", "DeadLetterQueue"]

FIELDS_SEPARATOR: Final = ","
DEAD_LETTER_ATTRIBUTES: Final = (
    "reason",
    "fields",
    "request_id",
    "workspace",
    "source_message_id",
    "receive_count",
    "last_error",
)
"""Every message attribute a dead letter may carry (SQS allows ten)."""


class DeadLetterQueue:
    """Where permanent failures go at once: the original body, with the reason as an attribute."""

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        """The SQS client, created on first use with ``config.boto_config()``."""
        if self._client is None:
            self._client = boto3.client("sqs", config=config.boto_config())
        return self._client

    def send(
        self,
        body: str,
        *,
        reason: str,
        request_id: str | None = None,
        message_id: str | None = None,
        last_error: str | None = None,
        fields: Sequence[str] = (),
        workspace: str | None = None,
        receive_count: int | None = None,
    ) -> str:
        """Send ``body`` unchanged with attributes ``reason`` and, when known, ``fields`` (the
        failing field names, comma-separated), ``request_id``, ``workspace`` (the Customer.io
        workspace it failed in), ``source_message_id``, ``receive_count`` (the deletion queue's
        deliveries so far) and ``last_error`` (the cause behind ``retries_exhausted``). Returns the
        new message id; raises DeadLetterError when SQS refuses or cannot be reached (the source
        message then stays on its queue, so nothing is lost).

        >>> queue = DeadLetterQueue("https://sqs.eu-west-1.amazonaws.com/123456789012/dlq")
        >>> queue.attributes(reason="schema_error", fields=("requested_at", "identifier"))["fields"]
        {'DataType': 'String', 'StringValue': 'identifier,requested_at'}
        """
        attributes = self.attributes(
            reason=reason,
            request_id=request_id,
            message_id=message_id,
            last_error=last_error,
            fields=fields,
            workspace=workspace,
            receive_count=receive_count,
        )
        try:
            response = self.client.send_message(
                QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes
            )
        except (ClientError, BotoCoreError) as exc:
            raise DeadLetterError(f"dead-letter queue refused the message (reason {reason})") from exc
        return str(response.get("MessageId", ""))

    @staticmethod
    def attributes(
        *,
        reason: str,
        request_id: str | None = None,
        message_id: str | None = None,
        last_error: str | None = None,
        fields: Sequence[str] = (),
        workspace: str | None = None,
        receive_count: int | None = None,
    ) -> dict[str, Any]:
        """The message attributes of a dead letter (see ``send``); empty values are left out."""
        named = {
            "reason": reason,
            "fields": FIELDS_SEPARATOR.join(sorted(dict.fromkeys(fields))),
            "request_id": request_id,
            "workspace": workspace,
            "source_message_id": message_id,
            "last_error": last_error,
        }
        attributes: dict[str, Any] = {
            name: {"DataType": "String", "StringValue": value} for name, value in named.items() if value
        }
        if receive_count is not None and receive_count > 0:
            attributes["receive_count"] = {"DataType": "Number", "StringValue": str(receive_count)}
        return attributes
