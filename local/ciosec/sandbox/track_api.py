"""The Track API v1 routes and their semantics, per workspace (``environment_id``):

==========================================  =================================================
``PUT /api/v1/customers/{id}``              identify: create or update a person (attributes
                                            merged, ``id``/``email`` in the body are identifiers)
``POST /api/v1/customers/{id}/events``      track: ``{"name", "data"}``; creates the person
``POST /api/v1/customers/{id}/suppress``    deletes the person and suppresses the identifier,
                                            with the person's id and email
``POST /api/v1/customers/{id}/unsuppress``  lifts the suppression (the person is not restored)
``DELETE /api/v1/customers/{id}``           deletes the person
``GET /api/v1/accounts/region``             ``{"url", "region", "environment_id"}`` of
                                            the authenticated credential set
==========================================  =================================================

Every Track request needs Basic auth with one of the configured credential sets (401
otherwise). ``{id}`` is percent-decoded exactly once and typed by its shape (``cio_`` prefix,
``@``, else an id: ``ciosec.sandbox.people``). Whatever the person's state, suppress, unsuppress,
delete and identify answer 200 with an empty object (the documented 200 and 401 are the only
answers: the Track API never says whether a person existed); calls referencing a suppressed
identifier are ignored. An id over 150 bytes (the documented limit) is refused: Customer.io does
not document the answer, the sandbox chooses 400 with the documented 400 body,
``{"meta": {"errors": [...]}}``. These are pure functions of the request and the workspace;
``Sandbox`` calls them with its lock held, after the fault injection.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from ciosec.sandbox import people
from ciosec.sandbox.models import (
    MAX_ID_BYTES,
    CredentialSet,
    Operation,
    Reply,
    Workspace,
    error_reply,
    method_not_allowed,
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
    workspace: Workspace,
    now: float,
    wall: int,
    delay: float,
) -> Reply:
    """The Track semantics of one authenticated request (``workspace``, the credential set's,
    is changed in place; ``now`` is the sandbox clock, ``wall`` unix seconds, ``delay`` the App
    API's processing delay)."""
    if operation == "region":
        return Reply(
            200,
            {
                # The documented body (Journeys Track API, "Find your account region"):
                # {"url": "https://track.customer.io", "region": "us", "environment_id": 3}.
                "url": TRACK_URLS[credentials.region],
                "region": credentials.region,
                "environment_id": credentials.environment_id,
            },
        )
    if operation is None or identifier is None:  # pragma: no cover - route() guarantees both
        return error_reply(404, "not found")
    if operation in {"identify", "track"} and body and not isinstance(payload, dict):
        return error_reply(400, "body must be a JSON object")
    attributes: dict[str, Any] = payload if isinstance(payload, dict) else {}
    reference = people.v1_reference(identifier)
    ids = [reference[1]] if reference[0] == "id" else []
    if operation == "identify" and isinstance(attributes.get("id"), str):
        ids.append(attributes["id"])
    if any(len(value.encode()) > MAX_ID_BYTES for value in ids):
        return error_reply(400, f"id is longer than {MAX_ID_BYTES} bytes")
    if operation == "identify":
        people.identify(workspace, reference, attributes, now=now, wall=wall, delay=delay)
    elif operation == "track":
        name = attributes.get("name")
        data = attributes.get("data", {})
        if not isinstance(name, str) or not name or not isinstance(data, dict):
            return error_reply(400, "an event needs a name and an object as data")
        timestamp = attributes.get("timestamp")
        event = {"name": name, "data": data, "timestamp": timestamp if isinstance(timestamp, int) else wall}
        people.track_event(workspace, reference, event, now=now, wall=wall, delay=delay)
    elif operation == "suppress":
        people.suppress(workspace, reference, now=now, delay=delay)
    elif operation == "unsuppress":
        people.unsuppress(workspace, reference)
    elif operation == "delete":
        people.delete(workspace, reference, now=now, delay=delay)
    return Reply(200, {})
