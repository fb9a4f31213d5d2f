"""Webhook handler cost per request (AWS stubbed) as a ratio to json.loads of the same 4 KiB body
and to the floor every implementation pays; the handler module's cold import against the libraries
it needs; and a cold start plus first request in a Lambda-like environment, with and without the
SnapStart priming.

``python -m benchmarks.webhook`` measures this module alone and fills only the webhook's marked
tables of BENCHMARKS.md (and its entry in benchmarks/results.json); ``make bench`` runs everything."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
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


def handler_cost(iterations: int = 2000, rounds: int = 10) -> dict[str, float]:
    """Median per-request seconds of the handler, of the library's processor alone, of json.loads
    and of the floor on the same body, measured in ``rounds`` that take turns, so that a busy
    machine slows them all alike and the ratios hold."""
    from cio_security.webhook.processor import WebhookRequest
    from cio_security.webhook.signature import sign_webhook

    devnull = open(os.devnull, "w")  # noqa: SIM115 - kept open for the run: logs and EMF go nowhere
    stdout, sys.stdout = sys.stdout, devnull
    stub = _stubbed_handler()
    app, context = stub.app, stub.context
    from fixtures.apigw import http_api_event

    body = four_kib_event()
    per_round = iterations // rounds
    samples: dict[str, list[float]] = {"handler": [], "processor": [], "loads": [], "floor": []}
    key, timestamp = KEY.encode(), str(int(time.time()))

    def signed(tag: str, i: int) -> dict[str, Any]:
        raw = body.replace(b"0000000000000000001", f"{tag}{i:018d}".encode())
        return http_api_event(raw, sign_webhook(KEY, raw, timestamp=int(timestamp)))

    try:
        for i in range(50):  # warm-up: first-call caches, pydantic schema, regexes
            app.handler(signed("w", i), context)
        for r in range(rounds):
            # In Lambda the records and entries live in DynamoDB and EventBridge, not in the heap:
            # keep the in-memory stand-ins from growing it (and the garbage collector's work).
            stub.persistence.items.clear()
            stub.events.entries.clear()
            events = [signed("h", r * per_round + i) for i in range(per_round)]
            for event in events:
                start = time.perf_counter()
                response = app.handler(event, context)
                samples["handler"].append(time.perf_counter() - start)
                assert response["statusCode"] == 200, response
            # The library's part alone (verify, parse, sanitize, dedupe, publish), without the Lambda
            # wrapper (Powertools' logger context, tracer, metrics flush, the log line, two metrics).
            for i in range(per_round):
                event = signed("p", r * per_round + i)
                request = WebhookRequest(body=event["body"], is_base64=False, headers=event["headers"])
                start = time.perf_counter()
                outcome = stub.processor.handle(request)
                samples["processor"].append(time.perf_counter() - start)
                assert outcome.kind == "published", outcome
            for _ in range(per_round):
                start = time.perf_counter()
                json.loads(body)
                samples["loads"].append(time.perf_counter() - start)
            samples["floor"].extend(_floor_samples(body, key, timestamp, per_round))
    finally:
        sys.stdout = stdout
        devnull.close()
    handler_s, processor_s = statistics.median(samples["handler"]), statistics.median(samples["processor"])
    loads_s, floor_s = statistics.median(samples["loads"]), statistics.median(samples["floor"])
    return {
        "body_bytes": len(body),
        "handler_us": handler_s * 1e6,
        "processor_us": processor_s * 1e6,
        "wrapper_us": (handler_s - processor_s) * 1e6,
        "json_loads_us": loads_s * 1e6,
        "ratio": handler_s / loads_s,
        "floor_us": floor_s * 1e6,
        "floor_ratio": floor_s / loads_s,
    }


def _floor_samples(body: bytes, key: bytes, timestamp: str, iterations: int) -> list[float]:
    """Per-request seconds of the work no implementation of the issue can skip: the HMAC check,
    the pydantic model over the body and serialising ``data`` for EventBridge (no sanitizer, no
    idempotency, no logs, metrics or routing)."""
    import hmac

    from cio_security.webhook.event import WebhookEvent
    from cio_security.webhook.signature import compute_signature

    expected = compute_signature(key, timestamp, body)
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        assert hmac.compare_digest(compute_signature(key, timestamp, body), expected)
        json.dumps(WebhookEvent.model_validate_json(body).data)
        times.append(time.perf_counter() - start)
    return times


def _import_env(*, tracing: bool) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "shared"),
        "PYTHONDONTWRITEBYTECODE": "0",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "AWS_DEFAULT_REGION": "eu-west-1",
        # What Lambda sets: the X-Ray SDK then uses Lambda's sampling decision instead of building
        # a sampling client (botocore session, endpoint data, X-Ray service model) at import.
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "webhook"),
        "AWS_LAMBDA_FUNCTION_NAME": "webhook",
        # As the template sets it for the webhook (no pydantic plugins to discover).
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }


def _import_once(statement: str, *, tracing: bool = True) -> float:
    code = f"import time; s = time.perf_counter(); {statement}; print(time.perf_counter() - s)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_import_env(tracing=tracing),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out)


def _import_seconds(statements: dict[str, tuple[str, bool]], runs: int) -> dict[str, float]:
    """Median import seconds of each named statement (with tracing or not), the statements taking
    turns run after run so that a busy machine slows them all alike and the ratios hold."""
    for statement, tracing in statements.values():  # populate .pyc caches
        subprocess.run([sys.executable, "-c", statement], env=_import_env(tracing=tracing), check=True)
    samples: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(runs):
        for name, (statement, tracing) in statements.items():
            samples[name].append(_import_once(statement, tracing=tracing))
    return {name: statistics.median(values) for name, values in samples.items()}


# The libraries the issue prescribes for this handler, imported as the handler needs them and no
# project code: boto3, pydantic (a model: the first model class builds pydantic's schema machinery,
# about 25 ms, which any use of pydantic pays), Powertools' Logger, Metrics, Tracer, event handler,
# idempotency and parameters.
DEPENDENCIES = (
    "import boto3; from pydantic import BaseModel; "
    "exec('class Model(BaseModel):\\n    x: int'); "
    "from aws_lambda_powertools import Logger, Metrics, Tracer; "
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; "
    "from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer; "
    "from aws_lambda_powertools.utilities import parameters; "
    "Tracer(patch_modules=('botocore',))"
)


# What the handler itself imports of those: the same, without the API resolver (a one-route function
# reads the event's few fields itself).
USED_DEPENDENCIES = DEPENDENCIES.replace(
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; ", ""
)


def cold_import(runs: int = 15) -> dict[str, float]:
    """Median cold import (fresh interpreter each run) of the handler module versus the libraries
    it needs and versus boto3 alone."""
    app_path = ROOT / "functions" / "webhook" / "app.py"
    load = (
        f"import importlib.util as u; s_ = u.spec_from_file_location('app', r'{app_path}'); "
        "m = u.module_from_spec(s_); s_.loader.exec_module(m)"
    )
    medians = _import_seconds(
        {
            "boto3": ("import boto3", True),
            "dependencies": (DEPENDENCIES, True),
            "used": (USED_DEPENDENCIES, True),
            "handler": (load, True),
            "untraced": (load, False),
            "xray": ("import aws_xray_sdk.core", True),
        },
        runs,
    )
    boto3_s, dependencies_s, used_s = medians["boto3"], medians["dependencies"], medians["used"]
    handler_s, untraced_s, xray_s = medians["handler"], medians["untraced"], medians["xray"]
    return {
        "boto3_ms": boto3_s * 1e3,
        "handler_ms": handler_s * 1e3,
        "ratio": handler_s / boto3_s,
        "dependencies_ms": dependencies_s * 1e3,
        "dependencies_ratio": dependencies_s / boto3_s,
        "handler_to_dependencies": handler_s / dependencies_s,
        "used_dependencies_ms": used_s * 1e3,
        "handler_to_used_dependencies": handler_s / used_s,
        "handler_untraced_ms": untraced_s * 1e3,
        "ratio_untraced": untraced_s / boto3_s,
        "xray_sdk_alone_ms": xray_s * 1e3,
    }


# A fresh interpreter set up like a Lambda execution environment (LAMBDA_TASK_ROOT, a function name,
# an X-Ray trace header, tracing on): the handler module is imported (the Init phase), then the
# first request is answered with AWS emulated in-process by moto, imported after the handler so its
# own import is not counted. The first request pays what a cold environment pays besides imports:
# creating the boto3 clients, reading the secrets, building validators. With BENCH_PRIME=1 the
# SnapStart hook ``prime`` runs before the request, as it would before the snapshot.
_COLD_START_PROBE = r"""
import importlib.util, json, os, sys, time
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
t1 = time.perf_counter()
from moto import mock_aws
import boto3
with mock_aws():
    primed_ms = None
    if os.environ.get("BENCH_PRIME") == "1":
        p0 = time.perf_counter(); app.prime(); primed_ms = (time.perf_counter() - p0) * 1e3
    region = os.environ["AWS_DEFAULT_REGION"]
    sm = boto3.client("secretsmanager", region_name=region)
    sm.create_secret(Name="sk", SecretString=json.dumps({"signing_key": sys.argv[2]}))
    sm.create_secret(Name="pepper", SecretString=json.dumps({"pepper": sys.argv[3]}))
    boto3.client("dynamodb", region_name=region).create_table(
        TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    boto3.client("s3", region_name=region).create_bucket(
        Bucket="webhook-bucket", CreateBucketConfiguration={"LocationConstraint": region})
    boto3.client("events", region_name=region).create_event_bus(Name="bus")
    from cio_security.webhook.signature import sign_webhook
    body = sys.stdin.buffer.read()
    headers = {k.lower(): v for k, v in sign_webhook(sys.argv[2], body).items()}
    event = {"version": "2.0", "rawPath": "/webhooks/customerio", "headers": headers,
             "requestContext": {"http": {"method": "POST", "sourceIp": "192.0.2.1"}},
             "body": body.decode(), "isBase64Encoded": False}
    class Context:
        function_name = "webhook"; memory_limit_in_mb = 1024; aws_request_id = "bench"
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:webhook"
        def get_remaining_time_in_millis(self): return 3000
    t2 = time.perf_counter(); response = app.handler(event, Context()); t3 = time.perf_counter()
    event["body"] = event["body"].replace("01JBENCH", "01JBENCX")
    event["headers"] = {k.lower(): v for k, v in sign_webhook(sys.argv[2], event["body"].encode()).items()}
    t4 = time.perf_counter(); app.handler(event, Context()); t5 = time.perf_counter()
assert response["statusCode"] == 200, response
print(json.dumps({"init_ms": (t1 - t0) * 1e3, "first_request_ms": (t3 - t2) * 1e3,
                  "second_request_ms": (t5 - t4) * 1e3, "prime_ms": primed_ms}))
"""


def _cold_start_once(*, prime: bool) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers" / "shared"),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "webhook"),
        "AWS_LAMBDA_FUNCTION_NAME": "webhook",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        "POWERTOOLS_TRACE_DISABLED": "false",
        "POWERTOOLS_SERVICE_NAME": "webhook",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "SIGNING_KEY_SECRET_ID": "sk",
        "PEPPER_SECRET_ID": "pepper",
        "EVENT_BUS_NAME": "bus",
        "IDEMPOTENCY_TABLE": "t",
        "WEBHOOK_QUARANTINE_BUCKET": "webhook-bucket",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
        "BENCH_PRIME": "1" if prime else "0",
    }
    app_path = ROOT / "functions" / "webhook" / "app.py"
    out = subprocess.run(
        [sys.executable, "-c", _COLD_START_PROBE, str(app_path), KEY, PEPPER],
        env=env,
        input=four_kib_event(),
        check=True,
        capture_output=True,
    ).stdout
    # The function's own log lines and EMF documents come first: the figures are the last line.
    result: dict[str, float] = json.loads(out.splitlines()[-1])
    return result


def cold_start(runs: int = 9) -> dict[str, float]:
    """Median Init (the handler's import) and first request of a fresh Lambda-like environment,
    without and with SnapStart's priming (``prime``: what would be in the snapshot)."""
    _cold_start_once(prime=False)  # populate .pyc caches, as a deployed package has them
    plain = [_cold_start_once(prime=False) for _ in range(runs)]
    primed = [_cold_start_once(prime=True) for _ in range(runs)]

    def median(samples: list[dict[str, float]], key: str) -> float:
        return statistics.median(sample[key] for sample in samples)

    init, first = median(plain, "init_ms"), median(plain, "first_request_ms")
    return {
        "init_ms": init,
        "first_request_ms": first,
        "cold_total_ms": init + first,
        "warm_request_ms": median(plain, "second_request_ms"),
        "prime_ms": median(primed, "prime_ms"),
        "first_request_after_prime_ms": median(primed, "first_request_ms"),
    }


def run() -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    result: dict[str, Any] = {"cost": handler_cost(), "import": cold_import(), "cold_start": cold_start()}
    # Ratios are measured side by side, but a machine shared with other work still skews them.
    result["machine"] = {"cpus": os.cpu_count(), "load_average": max(load_before, os.getloadavg()[0])}
    return result


def update_benchmarks_md(result: dict[str, Any]) -> None:
    """Record this run in benchmarks/results.json and fill the webhook's blocks of BENCHMARKS.md
    (and its rows of the at-a-glance table), leaving the prose and the other benchmarks' figures as
    they are."""
    from benchmarks import report

    machine = result.get("machine", {})
    run = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "arch": platform.machine(),
        "cpus": machine.get("cpus"),
        "load_average": [round(machine["load_average"], 2)] if "load_average" in machine else [],
    }
    report.update({"webhook": result}, {"webhook": run})


if __name__ == "__main__":
    measured = run()
    print(json.dumps(measured, indent=2))
    update_benchmarks_md(measured)
