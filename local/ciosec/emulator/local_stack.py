"""``make local``: the whole stack on 127.0.0.1, no AWS account needed.

- AWS is moto's server; the secrets, queues, tables and bus are created from template.yaml.
- Customer.io is the project's sandbox, unless ``CUSTOMERIO_SITE_ID`` and ``CUSTOMERIO_API_KEY``
  (and optionally ``CUSTOMERIO_REGION``) are set: then the real Track API is used.
- The webhook function answers on ``http://127.0.0.1:3000/webhooks/customerio``.
- An SQS event source feeds the deletion function as Lambda's event source mapping would, and
  another the erasure verification function from the verification queue; the App API it asks is
  the sandbox's (``{sandbox}/app``), with an App API key of the sandbox's workspace. With the real
  Track API, ``CUSTOMERIO_APP_API_KEY`` (optional) is the App API key; without it, erasures are
  recorded ``not_verified``.
- Rotation runs through the CLI (``ciosec secrets stage/rotate``), which drives the four steps.
"""

from __future__ import annotations

import json
import logging
import os
import secrets as random_tokens
import socket
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from ciosec.emulator.api_gateway import ApiGatewayBridge
from ciosec.emulator.functions import load_function
from ciosec.emulator.provision import Provisioned, function_environment, provision
from ciosec.emulator.sqs_event_source import SqsEventSource
from ciosec.emulator.template import Resolver
from ciosec.operations.stack import LOCAL_STATE, StackInfo
from ciosec.sandbox import AppApiKey, CredentialSet, Sandbox

logger = logging.getLogger(__name__)

REGION = "eu-west-1"
STACK_NAME = "cio-security-local"
# The key events/webhook/*.json are signed with: a local test key, never a production one.
LOCAL_SIGNING_KEY = "local-test-signing-key-DO-NOT-USE-IN-PRODUCTION"
LOCAL_SITE_ID = "local-site"
LOCAL_ENVIRONMENT_ID = 100001
LOCAL_VERIFICATION_TIMING = {
    "VERIFICATION_FIRST_CHECK_SECONDS": "5",
    "VERIFICATION_WINDOW_SECONDS": "600",
    "VERIFICATION_MAX_INTERVAL_SECONDS": "60",
}
"""Erasure verification on the local stack: the first check 5 s after Customer.io accepted the
erasure, checks at most a minute apart, a 10-minute window."""
FUNCTIONS = {
    "WebhookFunction": "webhook",
    "GdprDeletionFunction": "gdpr_deletion",
    "RotationFunction": "rotation",
    "ErasureVerificationFunction": "erasure_verification",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LocalStackOptions:
    """How to run the local stack."""

    webhook_port: int = 3000
    moto_port: int = 0
    sandbox_port: int = 0
    retry_visibility_seconds: int = 2  # how soon a failed deletion is redelivered locally
    deletion_concurrency: int | None = None  # default: the template's DeletionMaxConcurrency
    state_file: Path = LOCAL_STATE
    use_real_customerio: bool | None = None  # default: when CUSTOMERIO_SITE_ID/API_KEY are set
    verification_concurrency: int | None = None  # default: the template's MaximumConcurrency (2)
    verification_env: dict[str, str] = field(default_factory=lambda: dict(LOCAL_VERIFICATION_TIMING))
    """The verification timing locally (``VERIFICATION_FIRST_CHECK_SECONDS``...): the template's
    15 minutes and 24 hours are long for a local session."""
    verification_batching_window: float = 1.0  # the template's 10 s, shortened for a local session


class LocalStack:
    """Start and stop everything; ``info`` says where it all listens."""

    def __init__(self, options: LocalStackOptions | None = None) -> None:
        self.options = options or LocalStackOptions()
        self.moto: ThreadedMotoServer | None = None
        self.sandbox: Sandbox | None = None
        self.bridge: ApiGatewayBridge | None = None
        self.deletion_source: SqsEventSource | None = None
        self.verification_source: SqsEventSource | None = None
        self.provisioned: Provisioned | None = None
        self.info = StackInfo()
        self._saved_env: dict[str, str | None] = {}

    def _setenv(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _track_credentials(self) -> tuple[dict[str, str], str]:
        """The Track credentials to store, and the base URL override ('' for the real API)."""
        real = self.options.use_real_customerio
        if real is None:
            real = bool(os.environ.get("CUSTOMERIO_SITE_ID") and os.environ.get("CUSTOMERIO_API_KEY"))
        if real:
            creds = {
                "site_id": os.environ["CUSTOMERIO_SITE_ID"],
                "api_key": os.environ["CUSTOMERIO_API_KEY"],
                "region": os.environ.get("CUSTOMERIO_REGION", "us"),
            }
            return creds, ""
        credential = CredentialSet(
            site_id=LOCAL_SITE_ID,
            api_key="local-" + random_tokens.token_hex(16),
            environment_id=LOCAL_ENVIRONMENT_ID,
            region="us",
        )
        app_key = AppApiKey(
            key="local-app-" + random_tokens.token_hex(16), environment_id=LOCAL_ENVIRONMENT_ID, region="us"
        )
        self.sandbox = Sandbox(credentials=[credential], app_keys=[app_key], port=self.options.sandbox_port)
        self.sandbox.start()
        creds = {"site_id": credential.site_id, "api_key": credential.api_key, "region": credential.region}
        return creds, self.sandbox.url

    def start(self) -> StackInfo:
        """Start moto, the sandbox, the resources, the webhook bridge and the SQS poller."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        # A rejected webhook flushes only its single metric; Powertools warns about the rest.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        port = self.options.moto_port or free_port()
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.moto.start()
        endpoint = f"http://127.0.0.1:{port}"
        self._setenv(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        creds, track_url = self._track_credentials()
        resolver = Resolver(STACK_NAME, region=REGION)
        staging = [
            lid for lid, spec in resolver.template["Resources"].items() if _is_staging(resolver, lid, spec)
        ]
        overrides = {
            "TrackCredentialsSecret": json.dumps(creds),
            "SigningKeySecret": json.dumps({"signing_key": LOCAL_SIGNING_KEY}),
        }
        overrides.update(dict.fromkeys(staging, "{}"))
        app_key = self._app_api_key()
        if app_key is not None:
            overrides["AppApiKeySecret"] = json.dumps(app_key)
        self.provisioned = provision(resolver, region=REGION, overrides=overrides)
        self._configure_functions(resolver, track_url)
        self._start_functions(resolver)
        self.info = self._describe(endpoint)
        self.info.save(self.options.state_file)
        return self.info

    def _app_api_key(self) -> dict[str, str] | None:
        """The App API key secret's value: the sandbox's key, or ``CUSTOMERIO_APP_API_KEY`` with the
        real Customer.io (None: the template's placeholder stays, verification is off)."""
        if self.sandbox is not None:
            (key,) = self.sandbox.app_keys
            return {"app_api_key": key.key, "region": key.region}
        real_key = os.environ.get("CUSTOMERIO_APP_API_KEY", "").strip()
        if not real_key:
            return None
        return {"app_api_key": real_key, "region": os.environ.get("CUSTOMERIO_REGION", "us")}

    def _configure_functions(self, resolver: Resolver, track_url: str) -> None:
        env: dict[str, str] = {}
        for logical_id in FUNCTIONS:
            env.update(function_environment(resolver, logical_id))
        env.update(
            {
                "CUSTOMERIO_TRACK_URL": track_url,
                "CUSTOMERIO_APP_URL": self.sandbox.app_url if self.sandbox else "",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_SERVICE_NAME": "cio-security-local",
                "SECRETS_CACHE_SECONDS": "5",
                "SIGNING_KEY_REFRESH_SECONDS": "1",
            }
        )
        env.update(self.options.verification_env)
        self._setenv(env)

    def _start_functions(self, resolver: Resolver) -> None:
        webhook = load_function("webhook")
        self.bridge = ApiGatewayBridge(webhook.handler, port=self.options.webhook_port)
        self.bridge.start()
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = self.provisioned.queues["DeletionQueue"] if self.provisioned else ""
        # Failed deletions come back after a short visibility timeout locally, not the deployed one.
        sqs.set_queue_attributes(
            QueueUrl=queue_url, Attributes={"VisibilityTimeout": str(self.options.retry_visibility_seconds)}
        )
        event = _sqs_event(resolver)
        where = "resource GdprDeletionFunction, SQS event"
        concurrency = self.options.deletion_concurrency or int(
            resolver.resolve(event.get("ScalingConfig", {}).get("MaximumConcurrency", 2), where=where)
        )
        self.deletion_source = SqsEventSource(
            sqs,
            queue_url,
            lambda: load_function("gdpr_deletion").handler,
            batch_size=int(resolver.resolve(event.get("BatchSize", 10), where=where)),
            concurrency=concurrency,
            region=REGION,
            timeout_seconds=float(
                resolver.template["Resources"]["GdprDeletionFunction"]["Properties"].get("Timeout", 900)
            ),
        )
        self.deletion_source.start()
        self.verification_source = self._verification_source(resolver, sqs)
        self.verification_source.start()

    def _verification_source(self, resolver: Resolver, sqs: Any) -> SqsEventSource:
        """The verification queue's event source, as template.yaml declares it."""
        logical_id = "ErasureVerificationFunction"
        queue_url = self.provisioned.queues["VerificationQueue"] if self.provisioned else ""
        sqs.set_queue_attributes(
            QueueUrl=queue_url, Attributes={"VisibilityTimeout": str(self.options.retry_visibility_seconds)}
        )
        event = _sqs_event(resolver, logical_id)
        where = f"resource {logical_id}, SQS event"
        concurrency = self.options.verification_concurrency or int(
            resolver.resolve(event.get("ScalingConfig", {}).get("MaximumConcurrency", 2), where=where)
        )
        return SqsEventSource(
            sqs,
            queue_url,
            lambda: load_function("erasure_verification").handler,
            batch_size=int(resolver.resolve(event.get("BatchSize", 10), where=where)),
            batching_window=min(
                self.options.verification_batching_window,
                float(resolver.resolve(event.get("MaximumBatchingWindowInSeconds", 0), where=where)),
            ),
            concurrency=concurrency,
            region=REGION,
            function_name="erasure-verification",
            timeout_seconds=float(
                resolver.template["Resources"][logical_id]["Properties"].get("Timeout", 900)
            ),
        )

    def _describe(self, endpoint: str) -> StackInfo:
        if self.provisioned is None or self.bridge is None:
            raise RuntimeError("the local stack is not started")
        p = self.provisioned
        return StackInfo(
            deletion_queue_url=p.queues.get("DeletionQueue", ""),
            deletion_dlq_url=p.queues.get("DeletionDeadLetterQueue", ""),
            audit_table=p.tables.get("AuditTable", ""),
            idempotency_table=p.tables.get("IdempotencyTable", ""),
            webhook_bucket=p.buckets.get("WebhookBucket", ""),
            event_bus_name=next(iter(p.buses.values()), ""),
            track_credentials_secret_id=p.secrets.get("TrackCredentialsSecret", ""),
            signing_key_secret_id=p.secrets.get("SigningKeySecret", ""),
            pepper_secret_id=p.secrets.get("PepperSecret", ""),
            webhook_url=f"{self.bridge.url}/webhooks/customerio",
            endpoint_url=endpoint,
            sandbox_url=self.sandbox.url if self.sandbox else "",
            region=REGION,
        )

    def stop(self) -> None:
        """Stop everything and restore the environment; leaves no thread or port behind."""
        if self.deletion_source:
            self.deletion_source.stop()
        if self.verification_source:
            self.verification_source.stop()
        if self.bridge:
            self.bridge.stop()
        if self.sandbox:
            self.sandbox.stop()
        if self.moto:
            self.moto.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self.options.state_file.exists():
            self.options.state_file.unlink()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _is_staging(resolver: Resolver, logical_id: str, spec: dict[str, Any]) -> bool:
    if spec.get("Type") != "AWS::SecretsManager::Secret":
        return False
    name = resolver.properties(logical_id, "Name").get("Name", "")
    return isinstance(name, str) and name.endswith("/staged")


def _sqs_event(resolver: Resolver, logical_id: str = "GdprDeletionFunction") -> dict[str, Any]:
    """A function's SQS event properties (BatchSize, ScalingConfig...): the deletion function's by
    default."""
    props = resolver.template["Resources"][logical_id]["Properties"]
    for event in props.get("Events", {}).values():
        if event.get("Type") == "SQS":
            found: dict[str, Any] = event.get("Properties", {})
            return found
    return {}
