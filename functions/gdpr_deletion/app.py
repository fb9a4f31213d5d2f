"""GDPR/CCPA deletion: SQS -> erase in Customer.io (Track API v2 batch) -> audit (DESIGN section 4).

The whole SQS batch goes to ``DeletionProcessor.process_batch`` at once, so one Track v2 request
per Customer.io workspace carries every request of the invocation (the event source's BatchSize
and batching window fill it). A request is erased in every configured workspace
(``CUSTOMERIO_WORKSPACES``) or the subset its ``workspaces`` names. Its audit writes run
concurrently on a small thread pool; each workspace's Track calls are paced by that workspace's
token bucket, this invocation's share of its stack-wide budget,
``CUSTOMERIO_WORKSPACE_RATE_LIMITS`` (default ``CUSTOMERIO_RATE_LIMIT_RPS``) ``/
DELETION_MAX_CONCURRENCY``. Outcomes (``cio_security.deletion``):
completed, submitted or already done -> handled; permanent -> sent to the dead-letter queue with
its reason, then handled; retry -> a batch item failure, so SQS redelivers it, except on its last
delivery (``DELETION_MAX_RECEIVE_COUNT``, the queue's maxReceiveCount), where it is dead-lettered
with reason ``retries_exhausted`` instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from cio_security import config
from cio_security.audit.dynamodb import AuditStore
from cio_security.deletion.dead_letters import DeadLetterQueue
from cio_security.deletion.events import ErasureEvents
from cio_security.deletion.outcome import DeletionOutcome, QueueMessage
from cio_security.deletion.processor import DeletionProcessor
from cio_security.deletion.routing import deletion_routes
from cio_security.deletion.settings import DeletionSettings
from cio_security.secrets.store import SecretStore
from cio_security.workspaces import region_url_overrides, workspaces_from_env

AUDIT_WRITE_CONCURRENCY = 25
"""A batch's audit writes in flight at once (the DynamoDB client's connection pool is as large)."""

logger = Logger()
# The library logs through the standard logging module under "cio_security": give that logger
# Powertools' JSON handler, so its structured fields (request_id, reason, status...) reach the
# function's output like the handler's own lines.
copy_config_to_registered_loggers(source_logger=logger, include={"cio_security"})
# Patch only what this function calls: patching everything imports every library X-Ray supports
# that happens to be installed (requests, sqlite3, ...) at cold start.
tracer = Tracer(patch_modules=("botocore", "httpx"))
metrics = Metrics()


@cache
def settings() -> DeletionSettings:
    return DeletionSettings.from_env()


@cache
def workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=AUDIT_WRITE_CONCURRENCY, thread_name_prefix="deletion")


@cache
def processor() -> DeletionProcessor:
    """One per execution environment: the HTTP pools, the token buckets and the secret cache live on.
    Each workspace's Track client (its own credentials and bucket) and verifier are built the first
    time a request needs them."""
    s, secrets = settings(), SecretStore()
    aws = config.boto_config()
    sqs = boto3.client("sqs", config=aws)
    return DeletionProcessor(
        # One Track client and one verifier per workspace (CUSTOMERIO_WORKSPACES); a workspace whose
        # App API key secret holds the template's placeholder completes its erasures not_verified.
        deletion_routes(
            workspaces_from_env(),
            secrets,
            s,
            sqs,
            track_urls=region_url_overrides(config.CUSTOMERIO_TRACK_URL),
        ),
        AuditStore(
            s.audit_table,
            boto3.client("dynamodb", config=aws.merge(Config(max_pool_connections=AUDIT_WRITE_CONCURRENCY))),
            retention_days=s.retention_days,
        ),
        secrets.pepper().key_bytes(),
        dead_letters=DeadLetterQueue(s.dead_letter_queue_url, sqs),
        events=ErasureEvents(s.event_bus_name, boto3.client("events", config=aws))
        if s.event_bus_name
        else None,
        executor=workers(),
        deadline_warning=s.deadline_warning,
        call_budget_seconds=s.call_budget_seconds,
        max_receive_count=s.max_receive_count,
    )


def count(outcome: DeletionOutcome) -> None:
    """The metrics the template's alarms and dashboard read."""
    if outcome.deadline_status != "ok":
        metrics.add_metric("DeadlineAtRisk", MetricUnit.Count, 1)
    if outcome.kind in {"completed", "submitted"}:
        metrics.add_metric(
            "DeletionCompleted" if outcome.kind == "completed" else "DeletionSubmitted", MetricUnit.Count, 1
        )
        if outcome.age_seconds is not None:
            metrics.add_metric("DeletionAge", MetricUnit.Seconds, outcome.age_seconds)
    elif outcome.kind == "retry":
        metrics.add_metric("DeletionRetried", MetricUnit.Count, 1)
    elif outcome.kind == "permanent":
        metrics.add_metric("DeletionFailedPermanently", MetricUnit.Count, 1)
        if outcome.dead_lettered:
            metrics.add_metric("DeletionSentToDlq", MetricUnit.Count, 1)
        if outcome.reason == "customerio_404":
            metrics.add_metric("DeletionWrongUrl", MetricUnit.Count, 1)
    if outcome.event_published is False:
        metrics.add_metric("ErasureEventFailed", MetricUnit.Count, 1)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point for the deletion queue's event source (ReportBatchItemFailures)."""
    records = list(SQSEvent(event).records)
    messages = [
        QueueMessage(r.body, r.message_id, _receive_count(r.raw_event.get("attributes", {}))) for r in records
    ]
    outcomes = processor().process_batch(
        messages, time_left=lambda: context.get_remaining_time_in_millis() / 1000
    )
    for outcome in outcomes:
        count(outcome)
    return {
        "batchItemFailures": [
            {"itemIdentifier": r.message_id} for r, o in zip(records, outcomes, strict=True) if not o.handled
        ]
    }


def _receive_count(attributes: dict[str, Any]) -> int | None:
    """ApproximateReceiveCount, or None when the event source did not send it (a hand-made event)."""
    raw = attributes.get("ApproximateReceiveCount")
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None
