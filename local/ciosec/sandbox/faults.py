"""Misbehaviour on demand: random faults from a seeded RNG (5xx, 429, a hang past the client's read
timeout, a connection reset, a Track v2 operation refused in a 207) and scripted faults ("the
next 2 ``POST */suppress`` answer 503", "the next batch operation suppressing ``u1`` fails").
Latency, the rate limits and the processing delay are settings (``SandboxConfig``).

Customer.io documents no body and no ``Retry-After`` for a 429, so every 429 the sandbox sends
can take each form a server might use (``rate_limited_reply``): ``Retry-After`` absent, in
delta-seconds or as an HTTP-date; the body empty, JSON or plain text.
"""

from __future__ import annotations

import fnmatch
import random
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ciosec.sandbox.models import IdentifierType, Operation, Reply, error_reply

MAX_HANG_SECONDS = 30.0

RetryAfterFormat = Literal["seconds", "http-date", "none"]
"""How a 429 gives ``Retry-After``: delta-seconds, an HTTP-date, or not at all."""
ErrorBody = Literal["json", "empty", "text"]
"""The body of an injected error: the API's JSON error, nothing, or a plain-text line."""


def rate_limited_reply(
    seconds: int,
    retry_after: RetryAfterFormat = "seconds",
    body: ErrorBody = "json",
    *,
    wall: float | None = None,
    json_reply: Reply | None = None,
) -> Reply:
    """A 429 in one of the undocumented forms (see the module docstring); its JSON body is
    ``json_reply``'s (default: the Track v1 error shape).

    >>> rate_limited_reply(7).headers
    {'Retry-After': '7'}
    >>> rate_limited_reply(7, "http-date", "text", wall=0.0).headers
    {'Retry-After': 'Thu, 01 Jan 1970 00:00:07 GMT'}
    """
    reply = json_reply or error_reply(429, "rate limit exceeded")
    reply = with_body(reply, body, "Too Many Requests")
    if retry_after == "seconds":
        reply.headers["Retry-After"] = str(seconds)
    elif retry_after == "http-date":
        reply.headers["Retry-After"] = formatdate(
            (time.time() if wall is None else wall) + seconds, usegmt=True
        )
    return reply


def with_body(reply: Reply, body: ErrorBody, text: str) -> Reply:
    """``reply`` with its JSON body kept, dropped, or replaced by ``text`` as text/plain."""
    if body == "empty":
        reply.body = None
    elif body == "text":
        reply.body = text
        reply.content_type = "text/plain; charset=utf-8"
    return reply


class Faults(BaseModel):
    """Random faults: each Track request draws once from a RNG seeded with ``seed``.

    The request-level probabilities are exclusive and add up to at most 1.
    ``operation_error_rate`` is drawn for each Track v2 operation of a request that got through
    (a refused operation answers 207 in a batch, 400 from ``/api/v2/entity``, and is not applied).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: tuple[int, ...] = (500, 502, 503)
    rate_limited_rate: float = Field(default=0.0, ge=0, le=1)
    retry_after: int = Field(default=1, ge=0, le=3600)
    retry_after_format: RetryAfterFormat = "seconds"
    rate_limited_body: ErrorBody = "json"
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    hang_seconds: float = Field(default=5.0, ge=0, le=MAX_HANG_SECONDS)
    reset_rate: float = Field(default=0.0, ge=0, le=1)
    operation_error_rate: float = Field(default=0.0, ge=0, le=1)
    seed: int | None = None

    @field_validator("error_statuses")
    @classmethod
    def _server_errors(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 500 <= status <= 599 for status in value):
            raise ValueError("must be one or more 5xx statuses")
        return value

    @model_validator(mode="after")
    def _at_most_one(self) -> Faults:
        if self.error_rate + self.rate_limited_rate + self.timeout_rate + self.reset_rate > 1.0 + 1e-9:
            raise ValueError("fault probabilities add up to more than 1")
        return self


class ScriptedFault(BaseModel):
    """A deterministic fault for the next ``times`` Track or App API requests that match.

    ``method`` matches exactly, ``path`` is a glob on the raw path (``/api/v1/customers/*/suppress``,
    ``/app/v1/customers/*``), ``operation`` one of ``models.Operation``; unset ones match anything.
    ``kind`` is ``status`` (answer ``status`` with ``headers`` and a ``body`` of the kind asked:
    a 302 with ``Location``, a 429 with ``Retry-After``), ``timeout`` (hang ``hang_seconds``, then
    close without an answer) or ``reset`` (close the connection abruptly).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["status", "timeout", "reset"] = "status"
    status: int = Field(default=503, ge=200, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
    body: ErrorBody = "json"
    method: str | None = None
    path: str | None = None
    operation: Operation | None = None
    times: int = Field(default=1, ge=1)
    hang_seconds: float = Field(default=5.0, ge=0, le=MAX_HANG_SECONDS)

    def matches(self, method: str, raw_path: str, operation: str | None) -> bool:
        return (
            (self.method is None or self.method.upper() == method)
            and (self.path is None or fnmatch.fnmatchcase(raw_path, self.path))
            and (self.operation is None or self.operation == operation)
        )


class OperationFault(BaseModel):
    """A deterministic refusal of the next ``times`` Track v2 operations that match: they are
    not applied, and answer ``{"batch_index", "reason", "field", "message"}`` in a 207 (a batch)
    or a 400 (``/api/v2/entity``).

    ``action`` (identify, delete, suppress, ...), ``type`` (person, object, delivery),
    ``identifier_type`` and ``identifier`` (the value as sent) and ``batch_index`` narrow which
    operations match; unset ones match anything.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(default="injected", min_length=1)
    field: str = "identifiers"
    message: str = "injected operation fault"
    action: str | None = None
    type: Literal["person", "object", "delivery"] | None = None
    identifier_type: IdentifierType | None = None
    identifier: str | None = None
    batch_index: int | None = Field(default=None, ge=0)
    times: int = Field(default=1, ge=1)

    def matches(self, index: int, operation: dict[str, Any]) -> bool:
        identifiers = operation.get("identifiers")
        values = identifiers if isinstance(identifiers, dict) else {}
        return (
            (self.action is None or operation.get("action") == self.action)
            and (self.type is None or operation.get("type") == self.type)
            and (self.identifier_type is None or self.identifier_type in values)
            and (self.identifier is None or self.identifier in values.values())
            and (self.batch_index is None or self.batch_index == index)
        )

    def error(self) -> dict[str, str]:
        return {"reason": self.reason, "field": self.field, "message": self.message}


@dataclass
class _Queued:
    fault: ScriptedFault
    remaining: int


@dataclass
class _QueuedOperation:
    fault: OperationFault
    remaining: int


class FaultInjector:
    """Decides whether a request or a v2 operation misbehaves: the first queued scripted fault
    that matches, else one draw from the RNG against ``Faults``' probabilities.

    Not thread-safe: the sandbox calls it with its lock held.
    """

    def __init__(self, faults: Faults | None = None) -> None:
        self._faults = faults or Faults()
        self._rng = random.Random(self._faults.seed)  # noqa: S311 - reproducible faults, not cryptography
        self._queue: list[_Queued] = []
        self._operations: list[_QueuedOperation] = []

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, faults: Faults) -> None:
        """Use new probabilities, re-seeding the RNG with their ``seed``."""
        self._faults = faults
        self._rng = random.Random(faults.seed)  # noqa: S311 - reproducible faults, not cryptography

    def script(self, fault: ScriptedFault) -> None:
        """Queue a scripted fault; the first queued match wins."""
        self._queue.append(_Queued(fault, fault.times))

    def script_operation(self, fault: OperationFault) -> None:
        """Queue a scripted operation fault; the first queued match wins."""
        self._operations.append(_QueuedOperation(fault, fault.times))

    def clear_scripted(self) -> None:
        self._queue = []
        self._operations = []

    def scripted(self) -> list[tuple[ScriptedFault, int]]:
        """The queued scripted faults, each with how many more requests it will fail."""
        return [(queued.fault, queued.remaining) for queued in self._queue]

    def scripted_operations(self) -> list[tuple[OperationFault, int]]:
        """The queued operation faults, each with how many more operations it will refuse."""
        return [(queued.fault, queued.remaining) for queued in self._operations]

    def next_fault(
        self, method: str, raw_path: str, operation: str | None, *, random_faults: bool = True
    ) -> tuple[Reply | None, str | None]:
        """(the reply, a label for the request log) of a scripted fault, else of a random one
        (unless ``random_faults`` is False), else (None, None)."""
        for queued in self._queue:
            if queued.remaining > 0 and queued.fault.matches(method, raw_path, operation):
                queued.remaining -= 1
                self._queue = [q for q in self._queue if q.remaining > 0]
                return _scripted_reply(queued.fault)
        return self._random_fault() if random_faults else (None, None)

    def next_operation_fault(
        self, index: int, operation: dict[str, Any]
    ) -> tuple[dict[str, str] | None, str | None]:
        """(the error, a label) refusing one v2 operation, scripted or random, or (None, None)."""
        for queued in self._operations:
            if queued.remaining > 0 and queued.fault.matches(index, operation):
                queued.remaining -= 1
                self._operations = [q for q in self._operations if q.remaining > 0]
                return queued.fault.error(), f"scripted-operation:{queued.fault.reason}"
        rate = self._faults.operation_error_rate
        if rate and self._rng.random() < rate:
            error = {"reason": "injected", "field": "identifiers", "message": "injected operation fault"}
            return error, "random-operation:injected"
        return None, None

    def _random_fault(self) -> tuple[Reply | None, str | None]:
        faults = self._faults
        draw = self._rng.random()
        if draw < faults.error_rate:
            status = self._rng.choice(faults.error_statuses)
            return error_reply(status, "injected server error"), f"random:{status}"
        draw -= faults.error_rate
        if draw < faults.rate_limited_rate:
            reply = rate_limited_reply(
                faults.retry_after, faults.retry_after_format, faults.rate_limited_body
            )
            return reply, "random:429"
        draw -= faults.rate_limited_rate
        if draw < faults.timeout_rate:
            return Reply(action="hang", hang_seconds=faults.hang_seconds), "random:timeout"
        draw -= faults.timeout_rate
        if draw < faults.reset_rate:
            return Reply(action="reset"), "random:reset"
        return None, None


def _scripted_reply(fault: ScriptedFault) -> tuple[Reply, str]:
    if fault.kind == "reset":
        return Reply(action="reset"), "scripted:reset"
    if fault.kind == "timeout":
        return Reply(action="hang", hang_seconds=fault.hang_seconds), "scripted:timeout"
    if fault.status >= 300:
        reply = with_body(error_reply(fault.status, "scripted fault"), fault.body, "scripted fault")
    else:
        reply = with_body(Reply(fault.status, {}), fault.body, "")
    reply.headers.update(fault.headers)
    return reply, f"scripted:{fault.status}"
