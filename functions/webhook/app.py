"""Customer.io reporting webhook: API Gateway -> verify -> dedupe -> sanitize -> publish.

Wiring only: read the API Gateway event (HTTP API 2.0 or REST 1.0), hand it to
``cio_security.webhook.WebhookProcessor``, record the outcome (logs, metrics) and answer. The rules
are the processor's (DESIGN section 3): 401 for a request that does not verify, 403 outside the
optional source ranges, 200 for every request Customer.io signed that was published, a duplicate
or kept, 503 for our own failures. Nothing escapes the handler: an exception reaching Lambda
would make API Gateway answer 502, which Customer.io meets with a one-hour wait and a backlog
(https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).

A one-route function needs no API resolver: the route is checked here and the event's few fields
are read directly (the resolver cost 15 ms of cold import and a third of the per-request overhead).
"""

from __future__ import annotations

import contextlib
import json
import random
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from cio_security import config
from cio_security.sanitizer.policy import SanitizerPolicy
from cio_security.secrets.store import SecretStore
from cio_security.webhook.budget import WEBHOOK_TIME_BUDGET, Service
from cio_security.webhook.claims import ClaimCheck
from cio_security.webhook.dedupe import IdempotencyDeduplicator, dynamodb_deduplicator
from cio_security.webhook.keys import key_ring_for
from cio_security.webhook.processor import TRANSIENT_ERRORS, WebhookProcessor, WebhookRequest
from cio_security.webhook.quarantine import Quarantine
from cio_security.webhook.settings import WebhookSettings
from cio_security.webhook.storage.s3 import S3ObjectStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from cio_security.webhook.outcome import Outcome
    from cio_security.webhook.signature import SigningKeyRing, WorkspaceKeyRing
    from cio_security.webhook.sources import SourceAddressPolicy

ROUTE = "/webhooks/customerio"
# What json.loads can read (leading whitespace, an object, an array, a string, a number, true,
# false, null, Infinity, NaN): any other first character makes it fail.
_JSON_START = frozenset(' \t\n\r{["-0123456789tfnIN')


def _message_or_json(message: Any) -> Any:
    """Powertools' decoding of a log message, without its cost for plain text: Powertools tries
    ``json.loads`` on every message and catches the error (an exception per log line, several
    microseconds); a message that cannot be JSON is returned as it is, the same result."""
    if isinstance(message, str) and message[:1] not in _JSON_START:
        return message
    return json.loads(message)


logger = Logger(json_deserializer=_message_or_json)
# The library logs through the standard logging module under "cio_security": give that logger
# Powertools' JSON handler, so its structured fields (request_id, reason, status...) reach the
# function's output like the handler's own lines.
copy_config_to_registered_loggers(source_logger=logger, include={"cio_security"})
# Patch only what this function calls: patching everything imports every library X-Ray supports
# that happens to be installed (requests, sqlite3, ...) at cold start.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()


# -- collaborators, created on first use (tests and the benchmark replace them) -----------------


@cache
def settings() -> WebhookSettings:
    return WebhookSettings.from_env()


@cache
def aws_client(service: Service) -> Any:
    """A client with the webhook's time budget (short timeouts, one attempt), not the shared one."""
    return boto3.client(service, config=WEBHOOK_TIME_BUDGET.boto_config(service))


@cache
def secret_store() -> SecretStore:
    return SecretStore(client=aws_client("secretsmanager"))


def pepper() -> bytes:
    return secret_store().pepper().key_bytes()


@cache
def key_ring() -> SigningKeyRing | WorkspaceKeyRing:
    """Every configured workspace's signing keys (one workspace: the ring it always had)."""
    return key_ring_for(
        secret_store(),
        settings().workspace_set(),
        grace_seconds=settings().grace_seconds,
        refresh_interval=settings().key_refresh_seconds,
    )


@cache
def policy() -> SanitizerPolicy:
    raw = config.env_str(config.SANITIZER_POLICY)
    return SanitizerPolicy.from_json(raw) if raw else SanitizerPolicy.default()


@cache
def deduplicator() -> IdempotencyDeduplicator:
    return dynamodb_deduplicator(
        settings().idempotency_table,
        expires_after_seconds=settings().record_seconds,
        client=aws_client("dynamodb"),
    )


@cache
def sources() -> SourceAddressPolicy | None:
    if not settings().allowed_source_cidrs:
        return None
    from cio_security.webhook.sources import SourceAddressPolicy  # noqa: PLC0415 - only when configured

    return SourceAddressPolicy.parse(settings().allowed_source_cidrs)


@cache
def processor() -> WebhookProcessor:
    store = S3ObjectStore(settings().quarantine_bucket, aws_client("s3"))
    return WebhookProcessor(
        settings=settings(),
        key_ring=key_ring(),
        pepper=pepper,
        events=aws_client("events"),
        quarantine=Quarantine(store, pepper=pepper),
        claims=ClaimCheck(store, pepper=pepper),
        deduplicate=deduplicator(),
        policy=policy,
        sources=sources(),
    )


def _forget(*factories: Any) -> None:
    for factory in factories:
        clear = getattr(factory, "cache_clear", None)  # a test may have replaced one
        if clear is not None:
            clear()


def reset() -> None:
    """Forget every cached collaborator (tests change the environment between requests)."""
    _forget(settings, aws_client, secret_store, key_ring, policy, deduplicator, sources, processor)


# -- SnapStart (off by default: the WebhookSnapStart parameter) ---------------------------------


def prime() -> None:
    """Before the snapshot: create the settings and clients (loading botocore's service models)
    and warm the parsing and sanitizing code on a synthetic event, so a restored environment skips
    that work. No secret is read and no connection is opened: neither may be frozen into a
    snapshot that many environments resume from."""
    processor()
    from cio_security.sanitizer.attributes import sanitize  # noqa: PLC0415
    from cio_security.webhook.event import parse_webhook_event  # noqa: PLC0415

    body = b'{"event_id":"01J00000000000000000000000","object_type":"email","metric":"sent","timestamp":0,"data":{"customer_id":"x","phone":"0"}}'  # noqa: E501
    sanitize(parse_webhook_event(body).data, pepper=b"warm-up pepper, not the stack's", policy=policy())


def after_restore() -> None:
    """In each environment restored from the snapshot: reseed ``random`` (one snapshot, many
    environments), and drop the clients and everything cached with them so credentials are
    resolved and connections opened after the restore; botocore keeps the loaded service models,
    so recreating a client is cheap. The key ring and the secrets cache start empty (a key may
    have rotated since the snapshot)."""
    random.seed()
    _forget(aws_client, secret_store, key_ring, deduplicator, processor)


def _register_snapstart_hooks() -> None:
    try:
        # Shipped in Lambda's Python managed runtimes (3.12 and later); absent elsewhere.
        from snapshot_restore_py import (  # type: ignore[import-not-found]  # noqa: PLC0415
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return
    register_before_snapshot(prime)
    register_after_restore(after_restore)


_register_snapstart_hooks()


# -- the handler -----------------------------------------------------------------------------------


def _json_response(status: int, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}),
        "isBase64Encoded": False,
    }


_RESPONSES = {
    status: _json_response(status, message)
    for status, message in (
        (200, "ok"),
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "not found"),
        (503, "temporarily unavailable"),
    )
}


def _response(status: int) -> dict[str, Any]:
    """The answer for ``status`` (a fresh copy: API Gateway's caller may not share it)."""
    answer = _RESPONSES[status]
    return {**answer, "headers": dict(answer["headers"])}


def _request(event: dict[str, Any]) -> WebhookRequest | None:
    """The delivery in an API Gateway event, or None when it is not ``POST /webhooks/customerio``."""
    context = event.get("requestContext") or {}
    if event.get("version") == "2.0":
        http = context.get("http") or {}
        method, path, source_ip = http.get("method"), event.get("rawPath"), http.get("sourceIp")
    else:
        method, path = event.get("httpMethod"), event.get("path")
        source_ip = (context.get("identity") or {}).get("sourceIp")
    if method != "POST" or path != ROUTE:
        return None
    return WebhookRequest(
        body=event.get("body"),
        is_base64=bool(event.get("isBase64Encoded")),
        headers=event.get("headers"),
        source_ip=source_ip,
    )


def _record(outcome: Outcome) -> None:
    """Logs and metrics of one outcome: ids and reasons, never values."""
    kind = outcome.kind
    if kind in {"published", "duplicate", "kept"}:
        metrics.add_metric("WebhookVerified", MetricUnit.Count, 1)
    if kind == "published":
        if outcome.publish_ms is not None:
            metrics.add_metric("PublishLatency", MetricUnit.Milliseconds, outcome.publish_ms)
        logger.info(
            "event published",
            extra={
                "event_id": outcome.log_id,
                "metric": outcome.metric,
                "claim_checked": outcome.claim_checked,
                "workspace": outcome.workspace,
            },
        )
    elif kind == "duplicate":
        metrics.add_metric("WebhookDuplicate", MetricUnit.Count, 1)
        logger.info(
            "duplicate event acknowledged", extra={"event_id": outcome.log_id, "workspace": outcome.workspace}
        )
    elif kind == "kept":
        metrics.add_metric("WebhookQuarantined", MetricUnit.Count, 1)
        logger.warning(
            "verified body kept, not published",
            extra={
                "reason": outcome.reason,
                "detail": outcome.detail,
                "kept_id": outcome.kept_id,
                "event_id": outcome.log_id,
                "workspace": outcome.workspace,
            },
        )
    elif kind in {"rejected", "refused"}:
        logger.warning("webhook rejected", extra={"reason": outcome.reason})
        # Dimensions exactly {service, reason}: the template's rejection alarm selects on that schema.
        with single_metric(
            "WebhookRejected",
            MetricUnit.Count,
            1,
            namespace=metrics.namespace,
            default_dimensions={"service": metrics.service},
        ) as metric:
            metric.add_dimension("reason", outcome.reason)
    else:
        _unavailable(outcome.reason, outcome.detail)


def _unavailable(reason: str, detail: str) -> None:
    # The same event in progress elsewhere is Customer.io retrying a delivery we are still on.
    log = logger.warning if reason == "in_progress" else logger.error
    log("webhook not processed", extra={"reason": reason, "detail": detail})
    metrics.add_metric("WebhookFailed", MetricUnit.Count, 1)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = _request(event)
    if request is None:
        return _response(404)
    try:
        webhook = processor()
        deduplicator().register_lambda_context(context)
    except TRANSIENT_ERRORS as exc:  # configuration or a client that cannot be created
        _unavailable("configuration", f"{type(exc).__name__}: {exc}"[:200])
        return _response(503)
    outcome = webhook.handle(request)
    _record(outcome)
    return _response(outcome.status)


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for both API Gateway payload formats (HTTP API 2.0 and REST 1.0)."""
    try:
        response: dict[str, Any] = _handle(event, context)
    except Exception as exc:  # noqa: BLE001 - the last line: never let API Gateway answer 502
        with contextlib.suppress(Exception):  # logging itself failed: still answer
            logger.error("webhook handler failed", extra={"error": type(exc).__name__})
        return _response(503)
    return response
