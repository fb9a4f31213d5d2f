"""Erasure verification: SQS verification tickets -> App API lookups -> audit (DESIGN section 4).

The whole SQS batch goes to ``VerificationProcessor.process`` at once, so its ``id`` lookups share
batched App API requests (up to 100 ids each). A ticket is checked in its Customer.io workspace,
with that workspace's App API key, and every App API request is paced by that workspace's token
bucket, this invocation's share of its stack-wide App API budget,
``CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS`` (default ``CUSTOMERIO_APP_RATE_LIMIT_RPS``) ``/
VERIFICATION_MAX_CONCURRENCY``. Outcomes
(``cio_security.deletion.verification``): verified, unverified, rescheduled, deferred, retry later,
already done, dead-lettered -> handled (the ticket's successor, if any, is already queued);
retry -> a batch item failure, so SQS delivers it again, except on its last delivery
(``VERIFICATION_MAX_RECEIVE_COUNT``), where it is dead-lettered with reason ``retries_exhausted``.
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
from cio_security.deletion.verification import TicketMessage, VerificationOutcome
from cio_security.deletion.verification_processor import CONFIGURATION_REASONS, VerificationProcessor
from cio_security.deletion.verification_queue import VerificationQueue
from cio_security.deletion.verification_settings import VerificationSettings, app_clients
from cio_security.secrets.store import SecretStore
from cio_security.workspaces import region_url_overrides, workspaces_from_env

# A batch's audit reads and writes (100 tickets) and its lookups run on this many threads, and the
# AWS clients keep as many connections (botocore keeps 10 by default), so 100 audit writes take
# 5 calls' time and a batch's work fits between two of the bucket's requests; lookups stay paced by
# the bucket, so the App API's latency never slows the pace.
WORKERS = 20

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
def settings() -> VerificationSettings:
    return VerificationSettings.from_env()


@cache
def workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="verification")


@cache
def processor() -> VerificationProcessor:
    """One per execution environment: the HTTP pools, the token buckets and the secret cache live
    on. Each workspace's App API client (its own key and bucket) is built when a ticket needs it."""
    s, secrets = settings(), SecretStore()
    aws = config.boto_config().merge(Config(max_pool_connections=WORKERS))
    stack = workspaces_from_env()
    sqs = boto3.client("sqs", config=aws)
    return VerificationProcessor(
        None,
        AuditStore(s.audit_table, boto3.client("dynamodb", config=aws), retention_days=s.retention_days),
        VerificationQueue(s.queue_url, sqs),
        secrets.pepper().key_bytes(),
        policy=s.policy,
        dead_letters=DeadLetterQueue(s.dead_letter_queue_url, sqs),
        events=ErasureEvents(s.event_bus_name, boto3.client("events", config=aws))
        if s.event_bus_name
        else None,
        lookup_budget_seconds=s.lookup_budget_seconds,
        max_receive_count=s.max_receive_count,
        executor=workers(),
        # One App API client per workspace (its own key and bucket), built when a ticket needs it.
        workspace_lookups=app_clients(
            stack, secrets, s, app_urls=region_url_overrides(config.CUSTOMERIO_APP_URL)
        ),
        primary=stack.primary.name,
    )


def count(outcome: VerificationOutcome) -> None:
    """The metrics the template's alarms and dashboard read."""
    name = {
        "verified": "ErasureVerified",
        "unverified": "ErasureNotVerified",
        "rescheduled": "VerificationRescheduled",
        "retry_later": "VerificationLookupFailed",
        "dead_lettered": "VerificationDeadLettered",
        "retry": "VerificationRetried",
    }.get(outcome.kind)
    if name is not None:
        metrics.add_metric(name, MetricUnit.Count, 1)
    if outcome.kind == "verified" and outcome.age_seconds is not None:
        metrics.add_metric("VerificationAge", MetricUnit.Seconds, outcome.age_seconds)
    if outcome.kind in {"retry_later", "unverified"} and outcome.reason in CONFIGURATION_REASONS:
        metrics.add_metric("AppApiRejected", MetricUnit.Count, 1)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point for the verification queue's event source (ReportBatchItemFailures)."""
    records = list(SQSEvent(event).records)
    messages = [
        TicketMessage(r.body, r.message_id, _receive_count(r.raw_event.get("attributes", {})))
        for r in records
    ]
    outcomes = processor().process(messages, time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    for outcome in outcomes:
        count(outcome)
    return {
        "batchItemFailures": [
            {"itemIdentifier": r.message_id}
            for r, o in zip(records, outcomes, strict=True)
            if o.kind == "retry"
        ]
    }


def _receive_count(attributes: dict[str, Any]) -> int | None:
    """ApproximateReceiveCount, or None when the event source did not send it (a hand-made event)."""
    raw = attributes.get("ApproximateReceiveCount")
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None
