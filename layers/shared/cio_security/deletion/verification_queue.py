"""The verification queue: where tickets wait for their check (``VerificationQueue``), and the
deletion function's ``ErasureVerifier`` that puts each accepted erasure's first ticket there
(``QueueVerifier``).

SQS delays a message at most 900 s ("Valid values: 0 to 900", SendMessageBatch
``DelaySeconds``: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatchRequestEntry.html),
so a ticket due later is sent with the longest delay and put back by the verification function
until it is due. Tickets are sent 10 per ``SendMessageBatch`` call (the API's maximum); the queue
is encrypted with the stack's KMS key, since a ticket holds the identifier to look up.

>>> queue = VerificationQueue(queue_url, sqs)                                    # doctest: +SKIP
>>> QueueVerifier(queue, VerificationPolicy()).schedule(records, now, requests=requests)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cio_security import config
from cio_security.deletion.request import infer_identifier_type
from cio_security.deletion.verification import VerificationPolicy, VerificationTicket, delay_seconds
from cio_security.errors import CioSecurityError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

    from cio_security.audit.record import AuditRecord
    from cio_security.deletion.request import DeletionRequest

__all__ = ["MAX_ENTRIES_PER_CALL", "QueueVerifier", "VerificationQueue", "VerificationScheduleError"]

logger = logging.getLogger(__name__)

MAX_ENTRIES_PER_CALL: Final = 10
"""SendMessageBatch takes at most 10 entries."""


class VerificationScheduleError(CioSecurityError):
    """Some tickets could not be queued: the deletion processor releases those requests and
    their redelivery schedules them again (``verification_protocol``)."""


class VerificationQueue:
    """Tickets on the verification queue (``queue_url``), each delayed until it is due (at most
    900 s). ``client`` is a boto3 SQS client (created with ``config.boto_config()`` on first use
    when not given); it is thread-safe."""

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        if not queue_url:
            raise CioSecurityError("the verification queue URL is empty")
        self.queue_url = queue_url
        self._client = client

    def __repr__(self) -> str:
        return f"VerificationQueue(queue_url={self.queue_url!r})"

    @property
    def client(self) -> SQSClient:
        """The SQS client, created on first use."""
        if self._client is None:
            self._client = boto3.client("sqs", config=config.boto_config())
        return self._client

    def send(self, tickets: Sequence[VerificationTicket], now: datetime) -> list[bool]:
        """Queue ``tickets``, 10 per call, each with the delay left until its ``due_at`` (at most
        900 s). One flag per ticket, in order: True once SQS took it. Never raises for an AWS
        failure: it is logged (error codes and request ids only) and reported False."""
        sent = [False] * len(tickets)
        for start in range(0, len(tickets), MAX_ENTRIES_PER_CALL):
            chunk = tickets[start : start + MAX_ENTRIES_PER_CALL]
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {
                    "Id": str(offset),
                    "MessageBody": ticket.body(),
                    "DelaySeconds": delay_seconds(ticket.due_at, now),
                }
                for offset, ticket in enumerate(chunk)
            ]
            try:
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                logger.warning(
                    "verification tickets not queued: %s",
                    type(exc).__name__,
                    extra={"request_ids": [ticket.request_id for ticket in chunk]},
                )
                continue
            for entry in response.get("Successful", []):
                sent[start + int(entry["Id"])] = True
            for failure in response.get("Failed", []):
                logger.warning(
                    "verification ticket not queued",
                    extra={
                        "request_id": chunk[int(failure["Id"])].request_id,
                        "error_code": failure.get("Code", "unknown"),
                        "sender_fault": failure.get("SenderFault"),
                    },
                )
        return sent


class QueueVerifier:
    """The ``ErasureVerifier`` of the deletion function: each accepted erasure's first ticket on
    the verification queue, due ``policy.first_check_delay`` after its submission and checked
    until ``policy.window`` after it.

    ``schedule`` raises VerificationScheduleError when a ticket could not be queued: the processor
    then releases the whole call's requests, and their redelivery schedules them again (a request
    queued twice is checked twice; the second ticket is dropped at its first check, as one a
    check already superseded).
    """

    def __init__(
        self,
        queue: VerificationQueue,
        policy: VerificationPolicy | None = None,
        *,
        workspace: str | None = None,
    ) -> None:
        self.queue = queue
        self.policy = policy or VerificationPolicy()
        self.workspace = workspace

    def __repr__(self) -> str:
        return f"QueueVerifier(queue={self.queue!r}, workspace={self.workspace!r})"

    def schedule(
        self,
        records: Sequence[AuditRecord],
        now: datetime,
        *,
        requests: Mapping[str, DeletionRequest],
    ) -> None:
        """Queue the first check of each record in this verifier's workspace
        (``requests[record.request_id]`` names its subject), due after the workspace accepted the
        erasure. Raises VerificationScheduleError naming how many were not queued (never who)."""
        if not records:
            return
        tickets = []
        for record in records:
            if record.request_id not in requests:
                raise VerificationScheduleError(f"no deletion request given for {record.request_id}")
            request = requests[record.request_id]
            state = record.workspaces.get(self.workspace) if self.workspace else None
            accepted_at = state.submitted_at if state is not None else record.submitted_at
            submitted = datetime.fromisoformat(accepted_at) if accepted_at else now
            tickets.append(
                self.policy.first_ticket(
                    record.request_id,
                    request.identifier_type or infer_identifier_type(request.identifier),
                    request.identifier,
                    submitted,
                    workspace=self.workspace,
                )
            )
        sent = self.queue.send(tickets, now)
        missing = [ticket.request_id for ticket, ok in zip(tickets, sent, strict=True) if not ok]
        if missing:
            raise VerificationScheduleError(
                f"{len(missing)} of {len(tickets)} verification tickets could not be queued"
            )
        logger.info(
            "erasure verification scheduled", extra={"requests": len(tickets), "workspace": self.workspace}
        )
