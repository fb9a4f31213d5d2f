"""``make local``: the whole stack on 127.0.0.1, no AWS account needed.

- AWS is moto's server (``moto_server``: DynamoDB requests one at a time, each atomic as in
  DynamoDB); the secrets, queues, tables and bus are created from template.yaml, with
  ``Workspaces=us,eu``: the primary ``us`` keeps the stack's original secrets,
  ``eu`` gets its own (``.../customerio/workspaces/eu/...``), as a deployed stack would.
- Customer.io is the project's sandbox, one server per region on 127.0.0.1: ``us`` is a
  US workspace of the US sandbox, ``eu`` an EU workspace of the EU sandbox, each with its
  own Track credential set (its own environment id), App API key and webhook signing key (local
  test keys, never production ones), and the same few fictitious people (``demo-user-1``...,
  ``@example.invalid``) so an erasure removes someone real. The functions reach them through
  ``CUSTOMERIO_TRACK_URL_US``/``_EU`` and ``CUSTOMERIO_APP_URL_US``/``_EU``.
- With ``CUSTOMERIO_SITE_ID`` and ``CUSTOMERIO_API_KEY`` (and optionally ``CUSTOMERIO_REGION``)
  set, the real Track API is used instead, as one workspace (``default``), as before.
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
from typing import Any, Literal

import boto3
import httpx

from cio_security.workspaces import DEFAULT_WORKSPACE
from ciosec.emulator.api_gateway import ApiGatewayBridge
from ciosec.emulator.functions import load_function
from ciosec.emulator.moto_server import LocalMotoServer
from ciosec.emulator.provision import Provisioned, function_environment, provision
from ciosec.emulator.sqs_event_source import SqsEventSource
from ciosec.emulator.template import Resolver
from ciosec.operations.stack import LOCAL_STATE, StackInfo
from ciosec.sandbox import AppApiKey, CredentialSet, Sandbox

logger = logging.getLogger(__name__)

REGION = "eu-west-1"
STACK_NAME = "cio-security-local"
# The key events/webhook/*.json are signed with (the primary workspace's): a local test key, never
# a production one.
LOCAL_SIGNING_KEY = "local-test-signing-key-DO-NOT-USE-IN-PRODUCTION"
LOCAL_SITE_ID = "local-site"
LOCAL_ENVIRONMENT_ID = 100001
LOCAL_EU_SIGNING_KEY = "local-eu-test-signing-key-DO-NOT-USE-IN-PRODUCTION"
LOCAL_EU_SITE_ID = "local-eu-site"
LOCAL_EU_ENVIRONMENT_ID = 100002


@dataclass(frozen=True)
class LocalWorkspace:
    """One sandbox workspace of the local stack: its name in the stack's Workspaces, its region
    (which sandbox serves it), its Track site id, its Customer.io environment id (the workspace
    id the region call answers) and its webhook signing key (a local test key)."""

    name: str
    region: Literal["us", "eu"]
    site_id: str
    environment_id: int
    signing_key: str


LOCAL_WORKSPACES: tuple[LocalWorkspace, ...] = (
    LocalWorkspace("us", "us", LOCAL_SITE_ID, LOCAL_ENVIRONMENT_ID, LOCAL_SIGNING_KEY),
    LocalWorkspace("eu", "eu", LOCAL_EU_SITE_ID, LOCAL_EU_ENVIRONMENT_ID, LOCAL_EU_SIGNING_KEY),
)
"""The local stack's workspaces, primary first: one per sandbox region."""
SEEDED_PEOPLE: tuple[tuple[str, dict[str, Any]], ...] = tuple(
    (f"demo-user-{n}", {"email": f"demo-user-{n}@example.invalid", "first_name": "Demo", "plan": "trial"})
    for n in (1, 2, 3)
)
"""Fictitious people every sandbox workspace starts with (ids ``demo-user-N``, emails at the
reserved ``example.invalid`` domain), so a local erasure removes someone who exists."""
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
    sandbox_port: int = 0  # the US sandbox (the primary workspace's)
    eu_sandbox_port: int = 0
    workspaces: tuple[LocalWorkspace, ...] = LOCAL_WORKSPACES
    """The sandbox workspaces, primary first (the sandbox of a region serves all of that region's);
    unused with the real Customer.io."""
    seed_people: bool = True  # SEEDED_PEOPLE in every sandbox workspace
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
        self.moto: LocalMotoServer | None = None
        self.sandbox: Sandbox | None = None  # the primary workspace's (US) sandbox
        self.sandboxes: dict[str, Sandbox] = {}  # by region
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

    def _use_real_customerio(self) -> bool:
        real = self.options.use_real_customerio
        if real is None:
            real = bool(os.environ.get("CUSTOMERIO_SITE_ID") and os.environ.get("CUSTOMERIO_API_KEY"))
        return real

    def _start_sandboxes(self) -> None:
        """One sandbox per region, each holding its workspaces' credential set and App API key,
        seeded with SEEDED_PEOPLE."""
        ports = {"us": self.options.sandbox_port, "eu": self.options.eu_sandbox_port}
        for region in dict.fromkeys(w.region for w in self.options.workspaces):
            mine = [w for w in self.options.workspaces if w.region == region]
            sandbox = Sandbox(
                credentials=[
                    CredentialSet(
                        site_id=w.site_id,
                        api_key=f"local-{w.region}-" + random_tokens.token_hex(16),
                        environment_id=w.environment_id,
                        region=w.region,
                    )
                    for w in mine
                ],
                app_keys=[
                    AppApiKey(
                        key=f"local-app-{w.region}-" + random_tokens.token_hex(16),
                        environment_id=w.environment_id,
                        region=w.region,
                    )
                    for w in mine
                ],
                port=ports[region],
            )
            sandbox.start()
            self.sandboxes[region] = sandbox
            if self.options.seed_people:
                for workspace in mine:
                    for identifier, attributes in SEEDED_PEOPLE:
                        sandbox.add_person(identifier, attributes, environment_id=workspace.environment_id)
        self.sandbox = self.sandboxes[self.options.workspaces[0].region]

    def _sandbox_secrets(self, resolver: Resolver) -> dict[str, str]:
        """Each sandbox workspace's Track credentials, App API key and signing key, by the logical
        id of the secret that holds it (the primary's original secrets, the others' generated
        ones: the template's name with the workspace's hyphens dropped)."""
        values: dict[str, str] = {}
        created = resolver.resources()
        for index, workspace in enumerate(self.options.workspaces):
            sandbox = self.sandboxes[workspace.region]
            (creds,) = (c for c in sandbox.credentials if c.environment_id == workspace.environment_id)
            (app_key,) = (k for k in sandbox.app_keys if k.environment_id == workspace.environment_id)
            suffix = "" if index == 0 else workspace.name.replace("-", "")
            secrets = {
                "TrackCredentialsSecret": {
                    "site_id": creds.site_id,
                    "api_key": creds.api_key,
                    "region": creds.region,
                },
                "AppApiKeySecret": {"app_api_key": app_key.key, "region": app_key.region},
                "SigningKeySecret": {"signing_key": workspace.signing_key},
            }
            for stem, value in secrets.items():
                logical_id = stem + suffix
                if logical_id not in created:
                    raise RuntimeError(
                        f"template.yaml creates no {logical_id} for workspace {workspace.name}"
                    )
                values[logical_id] = json.dumps(value)
        return values

    def _real_customerio_secrets(self) -> dict[str, str]:
        """The real Track credentials (and App API key, when given) of the one workspace."""
        values = {
            "TrackCredentialsSecret": json.dumps(
                {
                    "site_id": os.environ["CUSTOMERIO_SITE_ID"],
                    "api_key": os.environ["CUSTOMERIO_API_KEY"],
                    "region": os.environ.get("CUSTOMERIO_REGION", "us"),
                }
            ),
            "SigningKeySecret": json.dumps({"signing_key": LOCAL_SIGNING_KEY}),
        }
        real_key = os.environ.get("CUSTOMERIO_APP_API_KEY", "").strip()
        if real_key:  # else the placeholder stays: verification is off
            values["AppApiKeySecret"] = json.dumps(
                {"app_api_key": real_key, "region": os.environ.get("CUSTOMERIO_REGION", "us")}
            )
        return values

    def start(self) -> StackInfo:
        """Start moto, the sandboxes, the resources, the webhook bridge and the SQS pollers."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        # A rejected webhook flushes only its single metric; Powertools warns about the rest.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        port = self.options.moto_port or free_port()
        self.moto = LocalMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
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
        real = self._use_real_customerio()
        names = (DEFAULT_WORKSPACE,) if real else tuple(w.name for w in self.options.workspaces)
        resolver = Resolver(STACK_NAME, region=REGION, parameters={"Workspaces": ",".join(names)})
        if real:
            overrides = self._real_customerio_secrets()
        else:
            self._start_sandboxes()
            overrides = self._sandbox_secrets(resolver)
        staging = [lid for lid, spec in resolver.resources().items() if _is_staging(resolver, lid, spec)]
        overrides.update(dict.fromkeys(staging, "{}"))
        self.provisioned = provision(resolver, region=REGION, overrides=overrides)
        self._configure_functions(resolver)
        self._start_functions(resolver)
        self.info = self._describe(endpoint, resolver)
        self.info.save(self.options.state_file)
        return self.info

    def _configure_functions(self, resolver: Resolver) -> None:
        env: dict[str, str] = {}
        for logical_id in FUNCTIONS:
            env.update(function_environment(resolver, logical_id))
        urls: dict[str, str] = {}
        if self.sandbox is not None:
            # The primary's sandbox for every region, as before workspaces; then one per region.
            urls = {"CUSTOMERIO_TRACK_URL": self.sandbox.url, "CUSTOMERIO_APP_URL": self.sandbox.app_url}
            for region, sandbox in self.sandboxes.items():
                urls[f"CUSTOMERIO_TRACK_URL_{region.upper()}"] = sandbox.url
                urls[f"CUSTOMERIO_APP_URL_{region.upper()}"] = sandbox.app_url
        env.update(
            {
                "CUSTOMERIO_TRACK_URL": "",
                "CUSTOMERIO_APP_URL": "",
                **urls,
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

    def _describe(self, endpoint: str, resolver: Resolver) -> StackInfo:
        if self.provisioned is None or self.bridge is None:
            raise RuntimeError("the local stack is not started")
        p = self.provisioned
        env = function_environment(resolver, "RotationFunction")
        us, eu = self.sandboxes.get("us"), self.sandboxes.get("eu")
        return StackInfo(
            deletion_queue_url=p.queues.get("DeletionQueue", ""),
            deletion_dlq_url=p.queues.get("DeletionDeadLetterQueue", ""),
            verification_queue_url=p.queues.get("VerificationQueue", ""),
            verification_dlq_url=p.queues.get("VerificationDeadLetterQueue", ""),
            audit_table=p.tables.get("AuditTable", ""),
            idempotency_table=p.tables.get("IdempotencyTable", ""),
            webhook_bucket=p.buckets.get("WebhookBucket", ""),
            event_bus_name=next(iter(p.buses.values()), ""),
            track_credentials_secret_id=p.secrets.get("TrackCredentialsSecret", ""),
            signing_key_secret_id=p.secrets.get("SigningKeySecret", ""),
            pepper_secret_id=p.secrets.get("PepperSecret", ""),
            app_api_key_secret_id=p.secrets.get("AppApiKeySecret", ""),
            webhook_url=f"{self.bridge.url}/webhooks/customerio",
            endpoint_url=endpoint,
            sandbox_url=self.sandbox.url if self.sandbox else "",
            sandbox_url_us=us.url if us else "",
            sandbox_url_eu=eu.url if eu else "",
            workspaces=env.get("CUSTOMERIO_WORKSPACES", ""),
            workspace_secret_prefix=env.get("CUSTOMERIO_WORKSPACE_SECRET_PREFIX", ""),
            region=REGION,
        )

    def stop(self) -> None:
        """Stop everything and restore the environment; leaves no thread, port or resource behind
        (moto's backends live in this process: the next local stack in it starts empty)."""
        if self.deletion_source:
            self.deletion_source.stop()
        if self.verification_source:
            self.verification_source.stop()
        if self.bridge:
            self.bridge.stop()
        for sandbox in self.sandboxes.values():
            sandbox.stop()
        self.sandboxes.clear()
        self.sandbox = None
        if self.moto:
            host, port = self.moto.get_host_and_port()
            httpx.post(f"http://{host}:{port}/moto-api/reset", timeout=10.0)
            self.moto.stop()
            self.moto = None
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
