"""The sandbox's admin API under ``/_sandbox/``: the ``Sandbox`` methods over HTTP, for the CLI
(``ciosec sandbox ...``) and for tests in another process.

It needs no Track auth: it is only ever bound on 127.0.0.1, and refuses a foreign ``Host`` header
(DNS rebinding) and non-JSON POSTs (cross-site forms)::

    GET    /_sandbox/state                  credentials and App API keys (no keys), people,
                                            identities, suppressed, config, faults, log
    GET    /_sandbox/requests               the request log
    POST   /_sandbox/config                 {"latency": .., "rate_limit_rps": ..,
                                            "processing_delay": .., "faults": {..}}
    POST   /_sandbox/faults                 a scripted fault (ScriptedFault as JSON)
    POST   /_sandbox/faults/reset           clear every fault and rate setting
                                            (``Sandbox.clear_faults``); answers the config
    POST   /_sandbox/operation-faults       a Track v2 operation fault (OperationFault as JSON):
                                            the matching operations answer in a 207
    POST   /_sandbox/people                 seed a person: {"identifier", "attributes",
                                            "environment_id"} (``Sandbox.add_person``)
    POST   /_sandbox/credentials            add a credential set (missing fields generated);
                                            answers it in full, api_key included
    DELETE /_sandbox/credentials/{site_id}  remove a credential set
    POST   /_sandbox/app-keys               add an App API key (missing fields generated);
                                            answers it in full, key included
    DELETE /_sandbox/app-keys/{key}         remove an App API key
    POST   /_sandbox/reset                  back to the state the sandbox started with
    POST   /_sandbox/webhooks               set up a workspace's reporting webhook and start its
                                            sender (ReportingWebhook: url, signing_key, ...);
                                            answers its settings, never the key
    POST   /_sandbox/webhooks/events        queue events: {"events": [QueuedWebhook, ...],
                                            "environment_id"}; answers {"queued": [event ids]}
    GET    /_sandbox/webhooks               the sender's settings, deliveries and attempts, never
                                            a body (``/webhooks/report/{environment_id}``: another
                                            workspace's)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from pydantic import ValidationError

from ciosec.sandbox.config import HOST
from ciosec.sandbox.faults import OperationFault, ScriptedFault
from ciosec.sandbox.models import Reply, error_reply
from ciosec.sandbox.webhooks import QueuedWebhook, ReportingWebhook

if TYPE_CHECKING:
    from ciosec.sandbox.sandbox import Sandbox

ADMIN_PREFIX = "/_sandbox"
_LOCAL_HOSTS = {HOST, "localhost"}
MAX_QUEUED_PER_REQUEST = 1000


def is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def handle(sandbox: Sandbox, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
    """Answer one admin request (``path`` without its query string)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    host = lowered.get("host", "").rsplit(":", 1)[0].strip("[]")
    if host not in _LOCAL_HOSTS:
        return error_reply(403, "the admin API answers only to 127.0.0.1")
    if method == "POST" and not lowered.get("content-type", "").startswith("application/json"):
        return error_reply(415, "admin requests must be application/json")
    data: Any = {}
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            return error_reply(400, "not JSON")
    if not isinstance(data, dict):
        return error_reply(400, "expected a JSON object")
    endpoint = path[len(ADMIN_PREFIX) :].rstrip("/")
    try:
        if endpoint == "/webhooks" or endpoint.startswith("/webhooks/"):
            return _webhooks(sandbox, method, endpoint, data)
        return _route(sandbox, method, endpoint, data)
    except ValidationError as exc:
        return Reply(400, {"meta": {"error": "invalid settings"}, "errors": json.loads(exc.json())})


def _route(sandbox: Sandbox, method: str, endpoint: str, data: dict[str, Any]) -> Reply:
    if (method, endpoint) == ("GET", "/state"):
        return Reply(200, sandbox.state())
    if (method, endpoint) == ("GET", "/requests"):
        return Reply(200, [r.as_dict() for r in sandbox.requests()])
    if (method, endpoint) == ("POST", "/config"):
        return Reply(200, sandbox.configure(**data).model_dump(mode="json"))
    if (method, endpoint) == ("POST", "/faults"):
        sandbox.script(ScriptedFault.model_validate(data))
        return Reply(200, {})
    if (method, endpoint) == ("POST", "/faults/reset"):
        return Reply(200, sandbox.clear_faults().model_dump(mode="json"))
    if (method, endpoint) == ("POST", "/operation-faults"):
        sandbox.script_operation(OperationFault.model_validate(data))
        return Reply(200, {})
    if (method, endpoint) == ("POST", "/people"):
        return _add_person(sandbox, data)
    if (method, endpoint) == ("POST", "/reset"):
        sandbox.reset()
        return Reply(200, {})
    if (method, endpoint) == ("POST", "/credentials"):
        return Reply(200, sandbox.add_credentials(**data).model_dump(mode="json"))
    if method == "DELETE" and endpoint.startswith("/credentials/"):
        site_id = unquote_to_bytes(endpoint[len("/credentials/") :]).decode("utf-8", "replace")
        return Reply(200, {}) if sandbox.remove_credentials(site_id) else error_reply(404, "no such site id")
    if (method, endpoint) == ("POST", "/app-keys"):
        return Reply(200, sandbox.add_app_key(**data).model_dump(mode="json"))
    if method == "DELETE" and endpoint.startswith("/app-keys/"):
        key = unquote_to_bytes(endpoint[len("/app-keys/") :]).decode("utf-8", "replace")
        return Reply(200, {}) if sandbox.remove_app_key(key) else error_reply(404, "no such App API key")
    return error_reply(404, "no such admin endpoint")


def _add_person(sandbox: Sandbox, data: dict[str, Any]) -> Reply:
    identifier, attributes = data.get("identifier"), data.get("attributes", {})
    environment_id = data.get("environment_id")
    if set(data) - {"identifier", "attributes", "environment_id"}:
        return error_reply(400, "expected identifier, attributes and environment_id only")
    if not isinstance(identifier, str) or not identifier or not isinstance(attributes, dict):
        return error_reply(400, "identifier must be a non-empty string and attributes an object")
    if environment_id is not None and not isinstance(environment_id, int | str):
        return error_reply(400, "environment_id must be an integer or a string")
    sandbox.add_person(identifier, attributes, environment_id)
    return Reply(200, {})


def _webhooks(sandbox: Sandbox, method: str, endpoint: str, data: dict[str, Any]) -> Reply:
    if (method, endpoint) == ("POST", "/webhooks"):
        setup = ReportingWebhook.model_validate(data)
        sender = sandbox.configure_webhooks(
            setup.url,
            setup.signing_key,
            environment_id=setup.environment_id,
            retry_signing=setup.retry_signing,
            policy=setup.policy,
            fast_forward=setup.fast_forward,
            max_real_wait=setup.max_real_wait,
        )
        return Reply(200, {**sender.public(), "fast_forward": setup.fast_forward})
    if (method, endpoint) == ("POST", "/webhooks/events"):
        events_in = data.get("events")
        if set(data) - {"events", "environment_id"} or not isinstance(events_in, list):
            return error_reply(400, "expected events (a list) and environment_id only")
        if len(events_in) > MAX_QUEUED_PER_REQUEST:
            return error_reply(400, f"at most {MAX_QUEUED_PER_REQUEST} events per request")
        events = [QueuedWebhook.model_validate(item) for item in events_in]
        try:
            sender = sandbox.webhooks(data.get("environment_id"))
        except LookupError:
            return error_reply(409, "set up the reporting webhook first (POST /_sandbox/webhooks)")
        queued = [
            sender.enqueue(e.body.encode(), event_id=e.event_id, lost_responses=e.lost_responses)
            for e in events
        ]
        return Reply(200, {"queued": queued})
    if method == "GET" and (endpoint == "/webhooks" or endpoint.startswith("/webhooks/report/")):
        named = unquote_to_bytes(endpoint[len("/webhooks/report/") :]).decode("utf-8", "replace")
        try:
            sender = sandbox.webhooks(named or None)
        except LookupError:
            return error_reply(404, "no reporting webhook is set up for that workspace")
        return Reply(200, sender.report())
    return error_reply(404, "no such admin endpoint")
