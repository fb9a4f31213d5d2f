"""The App API routes the project uses, as Customer.io documents them (App API,
docs.customer.io/integrations/api/app/), served under ``/app`` (``config.APP_PREFIX``: in reality
another host, ``https://api.customer.io``, EU ``https://api-eu.customer.io``):

=============================================  ==================================================
``GET /v1/customers/{id}/attributes``          ``?id_type=id|email|cio_id|phone`` (default id):
                                               200 ``{"customer": {"id", "attributes"}}``, 404
                                               once the person is gone
``POST /v1/customers/attributes``              ``{"ids": [...]}`` (1 to 100, of ``id_type``):
                                               200 ``{"customers": [{"customer": ...}]}``,
                                               missing people omitted; 400 for a malformed body
``GET /v1/info/ip_addresses``                  200 ``{"ip_addresses": [...]}``: the addresses
                                               Customer.io sends webhooks from (here, loopback)
``GET /v1/workspaces``                         200 ``{"workspaces": [{"id", "name", ...}]}``: the
                                               workspaces of the key's account (here, one
                                               account per workspace: the key's own)
=============================================  ==================================================

``Authorization: Bearer <App API key>``, a key of its own per workspace (never the Track
credentials): 401 otherwise. The documented request for the IP list sends no key, so that route
needs none. Each key is limited to 10 requests per second (``config.app_rate_limit_rps``): 429
beyond. The App API sees Track changes ``processing_delay`` seconds late (``people.lookup``).
Errors use the App API's documented error body, ``{"errors": [{"detail", "status"}]}``;
attribute values are strings, as in the documented example.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qs, unquote_to_bytes

from ciosec.sandbox import people
from ciosec.sandbox.config import APP_PREFIX
from ciosec.sandbox.models import (
    AppApiKey,
    IdentifierType,
    Operation,
    Person,
    Reference,
    Reply,
    Workspace,
    app_error_reply,
)

MAX_LOOKUP_IDS: Final = 100
ID_TYPES: Final[tuple[IdentifierType, ...]] = ("id", "email", "cio_id", "phone")


def is_app_path(path: str) -> bool:
    return path == APP_PREFIX or path.startswith(APP_PREFIX + "/")


def route(method: str, path: str) -> tuple[Operation | None, str | None, Reply | None]:
    """(operation, customer id, None) for an App API route, else (None, None, error reply).
    ``path`` has the ``/app`` prefix and no query string."""
    segments = path[len(APP_PREFIX) :].split("/")
    allowed: str
    if segments == ["", "v1", "info", "ip_addresses"]:
        operation: Operation = "app_ip_addresses"
        allowed, customer = "GET", None
    elif segments == ["", "v1", "workspaces"]:
        operation, allowed, customer = "app_workspaces", "GET", None
    elif segments == ["", "v1", "customers", "attributes"]:
        operation, allowed, customer = "app_people", "POST", None
    elif len(segments) == 5 and segments[:3] == ["", "v1", "customers"] and segments[4] == "attributes":
        try:
            customer = unquote_to_bytes(segments[3]).decode("utf-8")
        except UnicodeDecodeError:
            return None, None, app_error_reply(400, "customer_id is not valid UTF-8")
        if not customer:
            return None, None, app_error_reply(404, "not found")
        operation, allowed = "app_person", "GET"
    else:
        return None, None, app_error_reply(404, "not found")
    if method != allowed:
        reply = app_error_reply(405, "method not allowed", Allow=allowed)
        return None, None, reply
    return operation, customer, None


def authenticate(authorization: str | None, keys: Mapping[str, AppApiKey]) -> AppApiKey | None:
    """The App API key a ``Bearer`` header carries (compared in constant time), or None."""
    if not authorization or authorization[:7].lower() != "bearer ":
        return None
    presented = authorization[7:].strip().encode()
    found = None
    for key in keys.values():
        if hmac.compare_digest(presented, key.key.encode()):
            found = key
    return found


def id_type_of(query: str) -> IdentifierType | None:
    """The ``id_type`` query parameter (``id`` when absent), None when it is not one of the four."""
    values = parse_qs(query, keep_blank_values=True).get("id_type", ["id"])
    value = values[-1]
    return value if value in ID_TYPES else None


def _reference(id_type: IdentifierType, value: str) -> Reference:
    if id_type == "cio_id" and value.startswith("cio_"):
        value = value[len("cio_") :]
    return (id_type, value)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def customer(person: Person) -> dict[str, Any]:
    """A person as the App API shows them: ``{"id", "attributes"}``, identifiers among the
    attributes, every value a string."""
    attributes = {name: _text(value) for name, value in person.attributes.items()}
    for name, value in person.identifiers().items():
        if value is not None:
            attributes[name] = value
    attributes.setdefault("created_at", str(person.created_at))
    return {"id": person.id, "attributes": attributes}


def apply(
    operation: Operation,
    customer_id: str | None,
    query: str,
    payload: Any,
    *,
    workspace: Workspace,
    ip_addresses: tuple[str, ...],
    now: float,
    workspace_id: str = "",
) -> Reply:
    """The App API semantics of one authenticated request (nothing is changed). ``workspace_id``
    is the key's workspace (its ``environment_id``), which ``/v1/workspaces`` lists."""
    if operation == "app_ip_addresses":
        return Reply(200, {"ip_addresses": list(ip_addresses)})
    if operation == "app_workspaces":
        return Reply(200, {"workspaces": [_workspace_summary(workspace_id, workspace, now=now)]})
    id_type = id_type_of(query)
    if id_type is None:
        return app_error_reply(400, "id_type must be one of id, email, cio_id, phone")
    if operation == "app_person":
        if customer_id is None:  # pragma: no cover - route() guarantees it
            return app_error_reply(404, "not found")
        person = people.lookup(workspace, _reference(id_type, customer_id), now=now)
        if person is None:
            return app_error_reply(404, "the customer_id does not exist")
        return Reply(200, {"customer": customer(person)})
    ids = payload.get("ids") if isinstance(payload, dict) else None
    if (
        not isinstance(ids, list)
        or not 1 <= len(ids) <= MAX_LOOKUP_IDS
        or not all(isinstance(i, str) for i in ids)
    ):
        return app_error_reply(400, f"ids must be a list of 1 to {MAX_LOOKUP_IDS} strings")
    found: dict[str, Person] = {}
    for value in ids:
        person = people.lookup(workspace, _reference(id_type, value), now=now) if value else None
        if person is not None:
            found.setdefault(person.cio_id, person)
    return Reply(200, {"customers": [{"customer": customer(p)} for p in found.values()]})


def _workspace_summary(workspace_id: str, workspace: Workspace, *, now: float) -> dict[str, Any]:
    """A workspace as ``GET /v1/workspaces`` lists it (the documented example's fields)."""
    visible = sum(1 for person in workspace.people.values() if person.visible_from <= now)
    return {
        "id": workspace_id,
        "name": f"Workspace {workspace_id}",
        "messages_sent": 0,
        "billable_messages_sent": 0,
        "people": visible,
        "object_types": 0,
        "objects": 0,
    }
