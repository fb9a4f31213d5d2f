"""GDPR/CCPA deletion: SQS -> suppress + delete in Customer.io -> audit (DESIGN section 4).

The records of a batch are processed concurrently (Powertools AsyncBatchProcessor, each record's
blocking work on a worker thread) under one token bucket: this invocation's share of the
stack-wide Customer.io budget, ``CUSTOMERIO_RATE_LIMIT_RPS / DELETION_MAX_CONCURRENCY``.
Outcomes (``cio_security.deletion``): completed or already done -> handled; permanent -> sent
to the dead-letter queue with its reason, then handled; retry -> a batch item failure, so SQS
redelivers it, except on its last delivery (``DELETION_MAX_RECEIVE_COUNT``, the queue's
maxReceiveCount), where it is dead-lettered with reason ``retries_exhausted`` instead.
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from functools import cache, partial
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cio_security import config
from cio_security.audit.dynamodb import AuditStore
from cio_security.customerio.ratelimit import TokenBucket
from cio_security.customerio.track import TrackClient
from cio_security.deletion.dead_letters import DeadLetterQueue
from cio_security.deletion.outcome import DeletionOutcome
from cio_security.deletion.processor import DeletionProcessor
from cio_security.deletion.settings import DeletionSettings
from cio_security.errors import RetryLaterError
from cio_security.secrets.loaders import track_credentials_provider
from cio_security.secrets.store import SecretStore

MAX_PARALLEL_RECORDS = 10  # the event source's BatchSize: every record of a batch at once

logger = Logger()
# Patch only what this function calls: patching everything imports every library X-Ray supports
# that happens to be installed (requests, sqlite3, ...) at cold start.
tracer = Tracer(patch_modules=("botocore", "httpx"))
metrics = Metrics()
# A batch whose every record must be retried is still a partial response, not a function error.
batch = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def settings() -> DeletionSettings:
    return DeletionSettings.from_env()


@cache
def processor() -> DeletionProcessor:
    """One per execution environment: the HTTP pool, the token bucket and the secret cache live on."""
    s, secrets = settings(), SecretStore()
    client = TrackClient(
        track_credentials_provider(secrets),
        base_url=s.track_url,
        retry=s.retry,
        rate_limit=TokenBucket(s.rate_per_invocation),
    )
    return DeletionProcessor(
        client,
        AuditStore(
            s.audit_table,
            boto3.client("dynamodb", config=config.boto_config()),
            retention_days=s.retention_days,
        ),
        secrets.pepper().key_bytes(),
        dead_letters=DeadLetterQueue(
            s.dead_letter_queue_url, boto3.client("sqs", config=config.boto_config())
        ),
        deadline_warning=s.deadline_warning,
        step_budget_seconds=s.step_budget_seconds,
        max_receive_count=s.max_receive_count,
    )


@cache
def workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=MAX_PARALLEL_RECORDS, thread_name_prefix="deletion")


def count(outcome: DeletionOutcome) -> None:
    """The metrics the template's alarms and dashboard read."""
    if outcome.deadline_status != "ok":
        metrics.add_metric("DeadlineAtRisk", MetricUnit.Count, 1)
    if outcome.kind == "completed":
        metrics.add_metric("DeletionCompleted", MetricUnit.Count, 1)
        if outcome.age_seconds is not None:
            metrics.add_metric("DeletionAge", MetricUnit.Seconds, outcome.age_seconds)
    elif outcome.kind == "retry":
        metrics.add_metric("DeletionRetried", MetricUnit.Count, 1)
    elif outcome.kind == "permanent":
        metrics.add_metric("DeletionFailedPermanently", MetricUnit.Count, 1)
        metrics.add_metric("DeletionSentToDlq", MetricUnit.Count, 1)


def _receive_count(record: SQSRecord) -> int | None:
    """ApproximateReceiveCount, or None when the event source did not send it."""
    raw = record.attributes.get("ApproximateReceiveCount")  # absent in hand-made events
    return int(raw) if raw and raw.isdigit() else None


async def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> str:
    """Process one message on a worker thread; raise for a retry so Powertools reports it."""
    time_left = (lambda: lambda_context.get_remaining_time_in_millis() / 1000) if lambda_context else None
    work = partial(
        processor().process_message,
        record.body,
        message_id=record.message_id,
        receive_count=_receive_count(record),
        time_left=time_left,
    )
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(workers(), contextvars.copy_context().run, work)
    count(outcome)
    if outcome.kind == "retry":
        raise RetryLaterError(outcome.reason or "retry", request_id=outcome.request_id)
    return outcome.kind


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point for the deletion queue's event source (ReportBatchItemFailures)."""
    return async_process_partial_response(
        event=event, record_handler=record_handler, processor=batch, context=context
    )
