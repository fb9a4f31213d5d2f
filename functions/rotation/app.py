"""Secrets Manager rotation of every configured workspace's Track API credentials, webhook
signing key and App API key (DESIGN 5; the workspaces: ``cio_security.workspaces``).

Secrets Manager invokes this function once per step (createSecret, setSecret, testSecret,
finishSecret) with ``{"SecretId", "ClientRequestToken", "Step"}``. The protocol lives in
``cio_security.rotation``; this module wires it up: one log line and one ``RotationStep`` metric
per finished step, a ``RotationFailed`` metric and a re-raised error for a failed one, so Secrets
Manager records the failure and the template's RotationFailedAlarm fires.

A failed step's log line says whether Secrets Manager's retry can still succeed (``retryable``:
it resumes while the value is still staged) or not. Either way the library removed AWSPENDING from
the version, so nothing blocks the next rotation; the detail says so.

Both metrics are emitted with two dimension sets: ``[service]`` (what the alarm and the dashboard
match) and ``[service, step]`` (which step).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes import SecretsManagerEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from cio_security import config
from cio_security.errors import CioSecurityError, RotationError
from cio_security.rotation import STEPS, RetryableRotationError, RotationSettings, StepResult, rotate

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

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
def settings() -> RotationSettings:
    return RotationSettings.from_env()


@cache
def secretsmanager() -> SecretsManagerClient:
    client: SecretsManagerClient = boto3.client("secretsmanager", config=config.boto_config())
    return client


def _count(name: str, step: str) -> None:
    """One ``name`` count under ``[service]`` (the alarm's dimensions, flushed with the
    invocation's metrics) and one under ``[service, step]``: CloudWatch matches dimension sets
    exactly, so both are written."""
    metrics.add_metric(name, MetricUnit.Count, 1)
    with single_metric(name, MetricUnit.Count, 1, namespace=metrics.namespace) as metric:
        metric.add_dimension("step", step if step in STEPS else "unknown")


def _run(event: SecretsManagerEvent) -> StepResult:
    try:
        secret_id, token, step = event.secret_id, event.client_request_token, event.step
    except KeyError:
        raise RotationError("event", "the event needs SecretId, ClientRequestToken and Step") from None
    logger.info("rotation step started", extra={"secret_id": secret_id})
    with tracer.provider.in_subsegment(f"rotation {step}"):
        return rotate(secretsmanager(), secret_id=secret_id, token=token, step=step, settings=settings())


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=SecretsManagerEvent)
def handler(event: SecretsManagerEvent, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point: run one rotation step; raise (so Secrets Manager records the failure
    and retries) when it fails."""
    step = str(event.get("Step") or "")
    logger.append_keys(rotation_step=step, version_id=str(event.get("ClientRequestToken") or ""))
    try:
        result = _run(event)
    except Exception as exc:
        # Our errors' texts are written to be safe to log; any other error's text is not known to be.
        detail = str(exc) if isinstance(exc, CioSecurityError) else "unexpected error (see the trace)"
        logger.error(
            "rotation step failed",
            extra={
                "error": type(exc).__name__,
                "detail": detail,
                "retryable": isinstance(exc, RetryableRotationError),
            },
        )
        _count("RotationFailed", step)
        raise
    logger.info(
        result.message,
        extra={
            "outcome": result.outcome,
            "kind": result.kind,
            "secret": result.secret_name,
            "workspace": result.workspace,
        },
    )
    _count("RotationStep", step)
    return {"step": result.step, "outcome": result.outcome, "kind": result.kind}
