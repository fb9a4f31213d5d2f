"""The Track API v1 routes and their semantics, per workspace (``environment_id``):

==========================================  =================================================
``PUT /api/v1/customers/{id}``              identify: create or update a person (attributes
                                            merged); a suppressed id is silently ignored (200)
``POST /api/v1/customers/{id}/events``      track: ``{"name", "data"}``; creates the person;
                                            ignored (200) for a suppressed id
``POST /api/v1/customers/{id}/suppress``    deletes the person and blocks re-adding the id
``POST /api/v1/customers/{id}/unsuppress``  lifts the block (the person is not restored)
``DELETE /api/v1/customers/{id}``           deletes; ``delete_missing_status`` (200) if absent
``GET /api/v1/accounts/region``             ``{"url", "data_center", "environment_id"}`` of
                                            the authenticated credential set
==========================================  =================================================

Every Track request needs Basic auth with one of the configured credential sets (401
otherwise). ``{id}`` is percent-decoded exactly once. These are pure functions of the request
and the workspaces; ``Sandbox`` calls them with its lock held, after the fault injection.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import unquote_to_bytes

from ciosec.sandbox.models import (
    CredentialSet,
    Operation,
    Person,
    Reply,
    Workspace,
    error_reply,
    method_not_allowed,
    workspace_key,
)

TRACK_URLS = {"us": "https://track.customer.io", "eu": "https://track-eu.customer.io"}
_CUSTOMER_ACTIONS: dict[str, Operation] = {
    "events": "track",
    "suppress": "suppress",
    "unsuppress": "unsuppress",
}


def authenticate(authorization: str | None, credentials: Mapping[str, CredentialSet]) -> CredentialSet | None:
    """The credential set a Basic ``Authorization`` header names (by site id, key compared in
    constant time), or None."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    site_id, sep, api_key = decoded.partition(":")
    if not sep:
        return None
    candidate = credentials.get(site_id)
    if candidate is not None and hmac.compare_digest(api_key.encode(), candidate.api_key.encode()):
        return candidate
    return None


def route(method: str, path: str) -> tuple[Operation | None, str | None, Reply | None]:
    """(operation, identifier, None) for a Track route, else (None, None, error reply)."""
    segments = path.split("/")
    if segments == ["", "api", "v1", "accounts", "region"]:
        return ("region", None, None) if method == "GET" else (None, None, method_not_allowed("GET"))
    if len(segments) not in {5, 6} or segments[:4] != ["", "api", "v1", "customers"] or not segments[4]:
        return None, None, error_reply(404, "not found")
    try:
        identifier = unquote_to_bytes(segments[4]).decode("utf-8")
    except UnicodeDecodeError:
        return None, None, error_reply(400, "identifier is not valid UTF-8")
    if len(segments) == 5:
        allowed: dict[str, Operation] = {"PUT": "identify", "DELETE": "delete"}
    else:
        action = _CUSTOMER_ACTIONS.get(segments[5])
        if action is None:
            return None, None, error_reply(404, "not found")
        allowed = {"POST": action}
    operation = allowed.get(method)
    if operation is None:
        return None, None, method_not_allowed(", ".join(allowed))
    return operation, identifier, None


def parse_body(body: bytes) -> Any:
    """The body as JSON, else as text (recorded either way), or None when empty."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def apply(
    operation: Operation | None,
    identifier: str | None,
    *,
    payload: Any,
    body: bytes,
    credentials: CredentialSet,
    workspaces: dict[str, Workspace],
    delete_missing_status: Literal[200, 204, 404],
) -> Reply:
    """The Track semantics of one authenticated request (workspaces are changed in place)."""
    if operation == "region":
        return Reply(
            200,
            {
                "url": TRACK_URLS[credentials.region],
                "data_center": credentials.region,
                "environment_id": credentials.environment_id,
            },
        )
    if operation is None or identifier is None:  # pragma: no cover - route() guarantees both
        return error_reply(404, "not found")
    ws = workspaces.setdefault(workspace_key(credentials.environment_id), Workspace())
    if operation in {"identify", "track"} and body and not isinstance(payload, dict):
        return error_reply(400, "body must be a JSON object")
    attributes: dict[str, Any] = payload if isinstance(payload, dict) else {}
    if operation == "identify":
        if identifier not in ws.suppressed:
            ws.people.setdefault(identifier, Person()).attributes.update(attributes)
    elif operation == "track":
        name = attributes.get("name")
        data = attributes.get("data", {})
        if not isinstance(name, str) or not name or not isinstance(data, dict):
            return error_reply(400, "an event needs a name and an object as data")
        if identifier not in ws.suppressed:
            person = ws.people.setdefault(identifier, Person())
            person.events.append({"name": name, "data": data, "timestamp": int(time.time())})
    elif operation == "suppress":
        ws.people.pop(identifier, None)
        ws.suppressed.add(identifier)
    elif operation == "unsuppress":
        ws.suppressed.discard(identifier)
    elif operation == "delete" and ws.people.pop(identifier, None) is None:
        if delete_missing_status == 404:
            return error_reply(404, "not found")
        return Reply(delete_missing_status, {} if delete_missing_status == 200 else None)
    return Reply(200, {})
