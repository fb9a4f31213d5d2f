"""The dead-letter queue of deletion requests: where permanent failures go at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cio_security import config
from cio_security.errors import DeadLetterError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["DeadLetterQueue"]


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
    ) -> str:
        """Send ``body`` unchanged with attributes ``reason`` and, when known, ``request_id``,
        ``source_message_id`` and ``last_error`` (the cause behind ``retries_exhausted``). Returns
        the new message id; raises DeadLetterError when SQS refuses or cannot be reached (the source
        message then stays on its queue, so nothing is lost)."""
        named = {
            "reason": reason,
            "request_id": request_id,
            "source_message_id": message_id,
            "last_error": last_error,
        }
        attributes: dict[str, Any] = {
            name: {"DataType": "String", "StringValue": value} for name, value in named.items() if value
        }
        try:
            response = self.client.send_message(
                QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes
            )
        except (ClientError, BotoCoreError) as exc:
            raise DeadLetterError(f"dead-letter queue refused the message (reason {reason})") from exc
        return str(response.get("MessageId", ""))
