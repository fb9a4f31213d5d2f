"""A Customer.io sandbox on 127.0.0.1, for tests, ``make local`` and ``make demo``. It follows
Customer.io's published API documentation (shared/CUSTOMERIO.md; tests/contract/ holds each
documented example and runs it against the sandbox), never our own assumptions.

It models, per workspace, people with their id, email, phone and cio_id, suppressions and the
App API's delayed view (``people``); the Track API v1 (``track_api``) and v2 (``track_v2``) with
Basic auth; the App API under ``/app`` (``app_api``) with its own Bearer keys and rate limit. It
records every request as it arrived (the raw path included, so tests can check what a hostile
identifier turned into on the wire), and misbehaves on demand: latency, rate limits, random and
scripted faults, 429s in every undocumented form, refused v2 operations (``faults``). It sends a
workspace's reporting webhooks as Customer.io does (``webhooks``). An admin API under
``/_sandbox/`` (``admin_api``) drives it from another process; the same operations are methods
of ``Sandbox``.

- ``models``: credential sets, App API keys, people and workspaces, the request log, replies.
- ``people``: identifiers, identify, suppress, delete, and what the App API sees when.
- ``faults``: random and scripted faults, and the injector that applies them.
- ``config``: ``SandboxConfig`` (latency, rate limits, processing delay, faults), the bind
  address and the App API prefix.
- ``track_api``: the Track v1 routes; ``track_v2``: ``/api/v2/entity`` and ``/api/v2/batch``.
- ``app_api``: the App API routes (person lookups, the IP list).
- ``webhooks``: Customer.io's reporting webhooks for a workspace (``WebhookSender``): signed,
  strictly in order, 4 s timeout, retries, the backlog behind a failed call, the one-hour wait.
- ``admin_api``: ``/_sandbox/...``.
- ``server``: the HTTP server and request handler.
- ``sandbox``: ``Sandbox`` itself (state, Python API, lifecycle).
- ``cli``: ``python -m ciosec.sandbox --port 0``.

>>> creds = CredentialSet(site_id="site", api_key="key", environment_id=1)
>>> with Sandbox([creds]) as sandbox:                                          # doctest: +SKIP
...     httpx.put(f"{sandbox.url}/api/v1/customers/u1", json={}, auth=("site", "key"))
...     sandbox.people()
{'u1': {}}
"""

from ciosec.sandbox.cli import main
from ciosec.sandbox.config import APP_PREFIX, HOST, SandboxConfig
from ciosec.sandbox.faults import Faults, OperationFault, ScriptedFault
from ciosec.sandbox.models import AppApiKey, CredentialSet, RequestRecord
from ciosec.sandbox.sandbox import Sandbox
from ciosec.sandbox.webhooks import (
    DeliveryAttempt,
    DeliveryPolicy,
    DeliveryRecord,
    FastForwardClock,
    ReportingWebhook,
    WebhookSender,
)

__all__ = [
    "APP_PREFIX",
    "HOST",
    "AppApiKey",
    "CredentialSet",
    "DeliveryAttempt",
    "DeliveryPolicy",
    "DeliveryRecord",
    "FastForwardClock",
    "Faults",
    "OperationFault",
    "ReportingWebhook",
    "RequestRecord",
    "Sandbox",
    "SandboxConfig",
    "ScriptedFault",
    "WebhookSender",
    "main",
]
