"""Webhook handler cost per request (AWS stubbed) as a ratio to json.loads of the same 4 KiB body,
and the handler module's cold import time as a ratio to ``import boto3`` alone."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-signing-key-0123456789abcdefghijklmnop"
PEPPER = "bench-pepper-0123456789abcdefghijklmnopqrstuv"


def four_kib_event() -> bytes:
    """A realistic reporting webhook padded to 4 KiB with a mix of allowed, hashed and plain fields."""
    data: dict[str, Any] = {
        "customer_id": "user-123",
        "email_address": "person@example.com",
        "delivery_id": "dgKZAgAAAAGT",
        "campaign_id": 42,
        "phone": "+44 20 7946 0000",
        "ip_address": "203.0.113.9",
        "identifiers": {"id": "user-123", "cio_id": "cio_03000001"},
        "recipient": "person@example.com",
        "subject": "Your order has shipped",
        "links": [],
    }
    i = 0
    while True:
        body = {
            "event_id": "01JBENCH0000000000000000001",
            "object_type": "email",
            "metric": "clicked",
            "timestamp": 1_795_000_000,
            "data": data,
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        if len(raw) >= 4096:
            return raw
        data["links"].append(
            {"href": f"https://shop.example.com/product/{i}?utm_source=email", "position": i}
        )
        i += 1


def _stubbed_handler() -> Any:
    """The real handler with every AWS call replaced by an in-memory stand-in."""
    sys.path[:0] = [str(ROOT / "layers" / "shared"), str(ROOT / "tests")]
    from fixtures.stubbed_webhook import stubbed_webhook

    return stubbed_webhook(signing_key=KEY, pepper=PEPPER)


def handler_cost(iterations: int = 2000) -> dict[str, float]:
    """Median per-request seconds of the handler and of json.loads on the same body."""
    from cio_security.webhook.signature import sign_webhook

    devnull = open(os.devnull, "w")  # noqa: SIM115 - kept open for the run: logs and EMF go nowhere
    stdout, sys.stdout = sys.stdout, devnull
    stub = _stubbed_handler()
    app, persistence, context = stub.app, stub.persistence, stub.context
    from fixtures.apigw import http_api_event

    body = four_kib_event()
    try:
        events = []
        for i in range(iterations):
            raw = body.replace(b"0000000000000000001", f"{i:019d}".encode())
            events.append(http_api_event(raw, sign_webhook(KEY, raw, timestamp=int(time.time()))))
        for event in events[:50]:  # warm-up: first-call caches, pydantic schema, regexes
            app.handler(event, context)
        persistence.items.clear()
        handler_times = []
        for event in events:
            start = time.perf_counter()
            response = app.handler(event, context)
            handler_times.append(time.perf_counter() - start)
            assert response["statusCode"] == 200, response
    finally:
        sys.stdout = stdout
        devnull.close()
    loads_times = []
    for _ in range(iterations):
        start = time.perf_counter()
        json.loads(body)
        loads_times.append(time.perf_counter() - start)
    handler_s, loads_s = statistics.median(handler_times), statistics.median(loads_times)
    floor_s = _floor_seconds(body, iterations)
    return {
        "body_bytes": len(body),
        "handler_us": handler_s * 1e6,
        "json_loads_us": loads_s * 1e6,
        "ratio": handler_s / loads_s,
        "floor_us": floor_s * 1e6,
        "floor_ratio": floor_s / loads_s,
    }


def _floor_seconds(body: bytes, iterations: int) -> float:
    """Median per-request seconds of the work no implementation of the issue can skip: the HMAC
    check, the pydantic model over the body and serialising ``data`` for EventBridge (no
    sanitizer, no idempotency, no logs, metrics or routing)."""
    import hmac

    from cio_security.webhook.event import WebhookEvent
    from cio_security.webhook.signature import compute_signature

    key, timestamp = KEY.encode(), "1795000000"
    expected = compute_signature(key, timestamp, body)
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        assert hmac.compare_digest(compute_signature(key, timestamp, body), expected)
        json.dumps(WebhookEvent.model_validate_json(body).data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _import_seconds(statement: str, runs: int, *, tracing: bool = True) -> float:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "shared"),
        "PYTHONDONTWRITEBYTECODE": "0",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "AWS_DEFAULT_REGION": "eu-west-1",
        # What Lambda sets: the X-Ray SDK then uses Lambda's sampling decision instead of building
        # a sampling client (botocore session, endpoint data, X-Ray service model) at import.
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "webhook"),
        "AWS_LAMBDA_FUNCTION_NAME": "webhook",
    }
    code = f"import time; s = time.perf_counter(); {statement}; print(time.perf_counter() - s)"
    subprocess.run([sys.executable, "-c", statement], env=env, check=True)  # populate .pyc caches
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(samples)


# The libraries the issue prescribes for this handler, imported as the handler needs them and no
# project code: boto3, pydantic (a model), Powertools' Logger, Metrics, Tracer, event handler,
# idempotency and parameters.
DEPENDENCIES = (
    "import boto3; from pydantic import BaseModel; "
    "from aws_lambda_powertools import Logger, Metrics, Tracer; "
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; "
    "from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer; "
    "from aws_lambda_powertools.utilities import parameters; "
    "Tracer(patch_modules=('botocore',))"
)


def cold_import(runs: int = 15) -> dict[str, float]:
    """Median cold import (fresh interpreter each run) of the handler module versus boto3 alone."""
    app_path = ROOT / "functions" / "webhook" / "app.py"
    load = (
        f"import importlib.util as u; s_ = u.spec_from_file_location('app', r'{app_path}'); "
        "m = u.module_from_spec(s_); s_.loader.exec_module(m)"
    )
    boto3_s = _import_seconds("import boto3", runs)
    dependencies_s = _import_seconds(DEPENDENCIES, runs)
    handler_s = _import_seconds(load, runs)
    untraced_s = _import_seconds(load, runs, tracing=False)
    xray_s = _import_seconds("import aws_xray_sdk.core", runs)
    return {
        "boto3_ms": boto3_s * 1e3,
        "handler_ms": handler_s * 1e3,
        "ratio": handler_s / boto3_s,
        "dependencies_ms": dependencies_s * 1e3,
        "dependencies_ratio": dependencies_s / boto3_s,
        "handler_untraced_ms": untraced_s * 1e3,
        "ratio_untraced": untraced_s / boto3_s,
        "xray_sdk_alone_ms": xray_s * 1e3,
    }


def run() -> dict[str, Any]:
    return {"cost": handler_cost(), "import": cold_import()}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
