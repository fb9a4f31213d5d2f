"""The sandbox's data: credential sets and App API keys, people (with their identifiers) and their
workspaces, suppressions, the request log, and the ``Reply`` a route hands the HTTP server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Operation = Literal[
    "identify",
    "track",
    "suppress",
    "unsuppress",
    "delete",
    "region",
    "entity",
    "batch",
    "app_person",
    "app_people",
    "app_ip_addresses",
    "app_workspaces",
]
"""The operations the sandbox models: Track v1 (``ciosec.sandbox.track_api``), Track v2
(``entity``, ``batch``: ``ciosec.sandbox.track_v2``) and the App API (``app_*``:
``ciosec.sandbox.app_api``)."""

IdentifierType = Literal["id", "email", "cio_id", "phone"]
"""How a person is referenced: Track v1 infers it from the value's shape, v2 and the App API
name it."""

Reference = tuple[IdentifierType, str]
"""A typed identifier: ``("cio_id", "03000001")`` (a cio_id never carries its ``cio_`` prefix here)."""

MAX_ID_BYTES = 150
"""Customer.io's documented limit on a person's ``id`` (Journeys Track API, "Customer limits")."""


class CredentialSet(BaseModel):
    """One Track API credential set of a workspace (``environment_id``) in a region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site_id: str = Field(min_length=1)
    api_key: str = Field(min_length=1, repr=False)
    environment_id: int | str
    region: Literal["us", "eu"] = "us"

    def public(self) -> dict[str, Any]:
        """The set without its API key."""
        return {"site_id": self.site_id, "environment_id": self.environment_id, "region": self.region}


class AppApiKey(BaseModel):
    """One App API key (Bearer): scoped to one workspace, separate from its Track credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, repr=False)
    environment_id: int | str
    region: Literal["us", "eu"] = "us"

    def public(self) -> dict[str, Any]:
        """The key's workspace and region, without the key."""
        return {"environment_id": self.environment_id, "region": self.region}


@dataclass(frozen=True)
class RequestRecord:
    """One Track or App API request as the sandbox saw it. ``status`` is None when no answer
    was sent; ``site_id`` is the Track credential set that authenticated it (None otherwise)."""

    method: str
    raw_path: str
    operation: str | None
    identifier: str | None
    status: int | None
    site_id: str | None
    request_id: str
    fault: str | None = None
    body: Any = None
    received_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "raw_path": self.raw_path,
            "operation": self.operation,
            "identifier": self.identifier,
            "status": self.status,
            "site_id": self.site_id,
            "request_id": self.request_id,
            "fault": self.fault,
            "body": self.body,
            "received_at": self.received_at,
        }


@dataclass
class Person:
    """A person of a workspace: identifiers, merged attributes and tracked events.

    ``key`` is the identifier the person was created with, as a Track v1 path would name it
    (``people()`` is keyed by it). ``cio_id`` is assigned at creation, as Customer.io does.
    ``visible_from`` (the sandbox clock) is when the App API starts showing the person.
    """

    key: str
    cio_id: str
    id: str | None = None
    email: str | None = None
    phone: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    created_at: int = 0
    visible_from: float = 0.0

    def identifiers(self) -> dict[str, str | None]:
        return {"id": self.id, "email": self.email, "cio_id": self.cio_id, "phone": self.phone}


@dataclass(frozen=True)
class Departed:
    """A person deleted or suppressed through Track whom the App API still shows until
    ``visible_until`` (the processing delay: Track is asynchronous)."""

    person: Person
    visible_until: float


@dataclass
class Workspace:
    """One Customer.io workspace (an ``environment_id``): people by cio_id, an index of their
    identifiers, the suppressed identifiers and the recently departed (see ``ciosec.sandbox.people``)."""

    people: dict[str, Person] = field(default_factory=dict)
    index: dict[tuple[str, str], str] = field(default_factory=dict)
    """normalized identifier -> cio_id"""
    suppressed: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    """normalized identifier -> (suppression group, the identifier as given)"""
    departed: list[Departed] = field(default_factory=list)
    next_cio_id: int = 1
    next_group: int = 1


def workspace_key(environment_id: int | str) -> str:
    """The key of a workspace: ``100001`` and ``"100001"`` are the same environment."""
    return str(environment_id)


@dataclass
class Reply:
    """What the HTTP server does with a request: answer, hang then drop the connection, or reset it.

    ``body`` is JSON unless ``content_type`` says otherwise (then it is sent as text);
    None sends no body.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    action: Literal["respond", "hang", "reset"] = "respond"
    hang_seconds: float = 0.0
    content_type: str = "application/json"


def error_reply(status: int, message: str, **headers: str) -> Reply:
    """A Track v1 error, in the shape the Track API documents for its 400 answers:
    ``{"meta": {"errors": [message]}}``."""
    return Reply(status, {"meta": {"errors": [message]}}, dict(headers))


def v2_error_reply(status: int, reason: str, field_name: str, message: str) -> Reply:
    """A Track v2 whole-request error, as documented: ``{"errors": [{"reason", "field", "message"}]}``."""
    return Reply(status, {"errors": [{"reason": reason, "field": field_name, "message": message}]})


def app_error_reply(status: int, detail: str, **headers: str) -> Reply:
    """An App API error, in the shape the App API documents for its errors:
    ``{"errors": [{"detail", "status"}]}``."""
    return Reply(status, {"errors": [{"detail": detail, "status": status}]}, dict(headers))


def method_not_allowed(allowed: str) -> Reply:
    return error_reply(405, "method not allowed", Allow=allowed)
