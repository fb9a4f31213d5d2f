"""The sandbox's data: credential sets, people and their workspaces, the request log, and the
``Reply`` a route hands the HTTP server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Operation = Literal["identify", "track", "suppress", "unsuppress", "delete", "region"]
"""The Track operations the sandbox models (see ``ciosec.sandbox.track_api``)."""


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


@dataclass(frozen=True)
class RequestRecord:
    """One Track request as the sandbox saw it. ``status`` is None when no answer was sent."""

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
    """A person of a workspace: merged attributes and tracked events."""

    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Workspace:
    """One Customer.io workspace (an ``environment_id``): its people and suppressed identifiers."""

    people: dict[str, Person] = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)


def workspace_key(environment_id: int | str) -> str:
    """The key of a workspace: ``100001`` and ``"100001"`` are the same environment."""
    return str(environment_id)


@dataclass
class Reply:
    """What the HTTP server does with a request: answer, hang then drop the connection, or reset it."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    action: Literal["respond", "hang", "reset"] = "respond"
    hang_seconds: float = 0.0


def error_reply(status: int, message: str, **headers: str) -> Reply:
    """A Track-style error: ``{"meta": {"error": message}}``."""
    return Reply(status, {"meta": {"error": message}}, dict(headers))


def method_not_allowed(allowed: str) -> Reply:
    return error_reply(405, "method not allowed", Allow=allowed)
