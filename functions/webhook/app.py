"""Customer.io reporting webhook: API Gateway -> verify -> dedupe -> sanitize -> publish.

Responses follow DESIGN section 3: 401 (one generic body) for a missing, malformed or wrong
signature or a stale timestamp, 413 over the size limit, 400 for a verified body that is not an
event, 200 for a duplicate or after publishing. The reason for a rejection goes to logs and the
``WebhookRejected`` metric, never to the caller. Our own failures (publish, idempotency store,
configuration) answer 5xx so Customer.io retries.
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import BaseError as IdempotencyBaseError
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cio_security import config
from cio_security.errors import CioSecurityError, InvalidEventError, PayloadLimitError, SignatureError
from cio_security.sanitizer.attributes import sanitize
from cio_security.sanitizer.policy import SanitizerPolicy
from cio_security.secrets.loaders import signing_key_loader
from cio_security.secrets.store import SecretStore
from cio_security.webhook.event import WebhookEvent, parse_webhook_event
from cio_security.webhook.publish import event_bridge_entry, publish_entry
from cio_security.webhook.settings import WebhookSettings
from cio_security.webhook.signature import SigningKeyRing, read_body

ROUTE = "/webhooks/customerio"

logger = Logger()
# Patch only what this function calls: patching everything imports every library X-Ray supports
# that happens to be installed (requests, sqlite3, ...) at cold start.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
secrets = SecretStore()


@cache
def settings() -> WebhookSettings:
    return WebhookSettings.from_env()


@cache
def key_ring() -> SigningKeyRing:
    loader = signing_key_loader(
        secrets, settings().signing_key_secret_id, grace_seconds=settings().grace_seconds
    )
    return SigningKeyRing(loader, refresh_interval=settings().key_refresh_seconds)


@cache
def events_client() -> Any:
    return boto3.client("events", config=config.boto_config())


@cache
def policy() -> SanitizerPolicy:
    raw = config.env_str(config.SANITIZER_POLICY)
    return SanitizerPolicy.from_json(raw) if raw else SanitizerPolicy.default()


def _mark_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools calls this only when it returns a stored result: the event was a duplicate."""
    return {**response, "duplicate": True}


@cache
def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="event_id",
        expires_after_seconds=settings().dedupe_seconds,
        raise_on_no_idempotency_key=True,
        response_hook=_mark_duplicate,
    )


@cache
def idempotent_publish() -> Any:
    persistence = DynamoDBPersistenceLayer(
        table_name=settings().idempotency_table, boto_config=config.boto_config()
    )
    # Powertools deep-copies and hashes the data argument: give it the key alone, not the event.
    return idempotent_function(
        data_keyword_argument="key", persistence_store=persistence, config=idempotency_config()
    )(_sanitize_and_publish)


def _sanitize_and_publish(*, key: dict[str, str], event: WebhookEvent) -> dict[str, Any]:
    result = sanitize(event.data, pepper=secrets.pepper().key_bytes(), policy=policy())
    report = {"dropped": list(result.report.dropped), "hashed": list(result.report.hashed)}
    entry = event_bridge_entry(event, result.data, bus_name=settings().event_bus_name, report=report)
    started = time.perf_counter()
    event_id = publish_entry(events_client(), entry)  # traced by the botocore patch
    metrics.add_metric("PublishLatency", MetricUnit.Milliseconds, (time.perf_counter() - started) * 1000)
    return {"published": event_id}


def _json(status: int, message: str) -> Response[str]:
    return Response(status, "application/json", json.dumps({"message": message}))


def _reject(reason: str, status: int, message: str) -> Response[str]:
    logger.warning("webhook rejected", extra={"reason": reason})
    # Dimensions exactly {service, reason}: the template's rejection alarm selects on that schema.
    with single_metric(
        "WebhookRejected",
        MetricUnit.Count,
        1,
        namespace=metrics.namespace,
        default_dimensions={"service": metrics.service},
    ) as metric:
        metric.add_dimension("reason", reason)
    return _json(status, message)


def receive(resolver: ApiGatewayResolver) -> Response[str]:
    request = resolver.current_event
    try:
        body = read_body(
            request.body, is_base64=bool(request.is_base64_encoded), max_bytes=settings().max_body_bytes
        )
        key_ring().verify(request.headers, body, tolerance=settings().tolerance_seconds)
        event = parse_webhook_event(body)
    except SignatureError as exc:
        if exc.reason == "too_large":
            return _reject(exc.reason, 413, "payload too large")
        return _reject(exc.reason, 401, "unauthorized")
    except InvalidEventError as exc:
        logger.warning("verified body is not a valid event", extra={"detail": str(exc)})
        return _reject("invalid_event", 400, "invalid event")

    metrics.add_metric("WebhookVerified", MetricUnit.Count, 1)
    idempotency_config().register_lambda_context(resolver.lambda_context)
    try:
        outcome = idempotent_publish()(key={"event_id": event.event_id}, event=event)
    except IdempotencyAlreadyInProgressError:
        # The same event is being published right now; a retry will find its outcome.
        return _reject("in_progress", 409, "in progress")
    except PayloadLimitError:
        return _reject("too_large", 413, "payload too large")
    except InvalidEventError:
        return _reject("invalid_event", 400, "invalid event")
    if outcome.get("duplicate"):
        metrics.add_metric("WebhookDuplicate", MetricUnit.Count, 1)
        logger.info("duplicate event acknowledged", extra={"event_id": event.log_id})
    else:
        logger.info("event published", extra={"event_id": event.log_id, "metric": event.metric})
    return _json(200, "ok")


def _our_failure(exc: Exception) -> Response[str]:
    """Publish, idempotency-store, secret or configuration failure: not the caller's doing."""
    logger.error("webhook not processed", extra={"error": type(exc).__name__, "detail": str(exc)})
    metrics.add_metric("WebhookFailed", MetricUnit.Count, 1)
    return _json(503, "temporarily unavailable")


def _resolver(resolver: ApiGatewayResolver) -> ApiGatewayResolver:
    resolver.post(ROUTE)(lambda: receive(resolver))
    resolver.exception_handler([CioSecurityError, IdempotencyBaseError])(_our_failure)
    return resolver


http_api = _resolver(APIGatewayHttpResolver())
rest_api = _resolver(APIGatewayRestResolver())


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point for both API Gateway payload formats (HTTP API 2.0 and REST 1.0)."""
    resolver = http_api if event.get("version") == "2.0" else rest_api
    return resolver.resolve(event, context)
