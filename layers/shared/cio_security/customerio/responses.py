"""What a Track response means: the outcome of a successful call, the region body, the request id
that may be logged, and the error each unsuccessful status maps to (see ``cio_security.errors``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

import httpx
from pydantic import BaseModel, ConfigDict, field_validator

from cio_security.customerio.retry import parse_retry_after
from cio_security.errors import (
    AuthenticationError,
    BadRequestError,
    CustomerIOError,
    NotFoundError,
    RateLimitedError,
    RedirectRefusedError,
    ServerError,
    TransientError,
)

__all__ = [
    "Operation",
    "RegionInfo",
    "TrackResponse",
    "error_for",
    "request_id_of",
]

REQUEST_ID_HEADERS: Final = ("x-request-id", "x-amzn-requestid", "x-amz-request-id", "cf-ray")
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")

Operation = Literal[
    "identify", "track", "suppress", "unsuppress", "delete", "region", "batch", "lookup", "workspaces"
]
"""The name of a Track call, as logs and errors give it."""


@dataclass(frozen=True, slots=True)
class TrackResponse:
    """The outcome of a successful call: the HTTP status and Customer.io's request id if any."""

    status: int
    request_id: str | None = None


class RegionInfo(BaseModel):
    """``GET /api/v1/accounts/region``: where a credential set's workspace lives.

    Customer.io documents the 200 body as ``{"url": "https://track.customer.io", "region": "us",
    "environment_id": 3}``, on either regional host, ``environment_id`` being "the workspace the
    credentials are valid for" (Journeys Track API, "Find your account region":
    https://docs.customer.io/integrations/api/track/tag/trackregion/getRegion/). ``region`` is
    ``us`` or ``eu``. Unknown fields are ignored and ``url`` is optional (nothing reads it).

    Where the documentation is silent, an answer that means the same thing reads the same (an id
    sent as a string of ASCII digits, ``"3"``, is workspace 3; a region in another case or with
    spaces is that region) and anything else is refused (another region name, an id that is not
    a whole number, a boolean, null, a missing field): the rotation compares workspaces by these
    values, so one it could not compare exactly must never pass.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    region: Literal["us", "eu"]
    environment_id: int
    url: str | None = None

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("environment_id", mode="before")
    @classmethod
    def _environment_id(cls, value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            digits = value.strip()
            if digits.isascii() and digits.isdigit():
                return int(digits)
        raise ValueError("environment_id must be a whole number")


def request_id_of(response: httpx.Response) -> str | None:
    """The response's request id when it is a short, plain token (it ends up in logs and errors)."""
    for name in REQUEST_ID_HEADERS:
        value: str | None = response.headers.get(name)
        if value and _REQUEST_ID.match(value):
            return value
    return None


def error_for(operation: Operation, response: httpx.Response) -> CustomerIOError:
    """The error for a non-2xx response: TransientError subclasses are retried, the rest raised."""
    status = response.status_code
    request_id = request_id_of(response)
    if 300 <= status < 400:
        return RedirectRefusedError(
            "Customer.io answered with a redirect; not followed",
            status=status,
            request_id=request_id,
            operation=operation,
        )
    if status in {401, 403}:
        return AuthenticationError(
            "Customer.io rejected the credentials", status=status, request_id=request_id, operation=operation
        )
    if status == 404:
        return NotFoundError(
            "Customer.io found no such resource", status=status, request_id=request_id, operation=operation
        )
    if status == 429:
        return RateLimitedError(
            "Customer.io rate limit exceeded",
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            status=status,
            request_id=request_id,
            operation=operation,
        )
    if status == 408:
        return TransientError(
            "Customer.io timed out reading the request",
            status=status,
            request_id=request_id,
            operation=operation,
        )
    if status >= 500:
        return ServerError(
            "Customer.io server error", status=status, request_id=request_id, operation=operation
        )
    return BadRequestError(
        "Customer.io rejected the request", status=status, request_id=request_id, operation=operation
    )
