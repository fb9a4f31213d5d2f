"""Misbehaviour on demand: random faults from a seeded RNG (5xx, 429 with ``Retry-After``, a hang
past the client's read timeout, a connection reset) and scripted faults ("the next 2
``POST */suppress`` answer 503"). Latency and the rate limit are settings (``SandboxConfig``)."""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ciosec.sandbox.models import Operation, Reply, error_reply

MAX_HANG_SECONDS = 30.0


class Faults(BaseModel):
    """Random faults: each Track request draws once from a RNG seeded with ``seed``.

    The probabilities are exclusive and add up to at most 1.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: tuple[int, ...] = (500, 502, 503)
    rate_limited_rate: float = Field(default=0.0, ge=0, le=1)
    retry_after: int = Field(default=1, ge=0, le=3600)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    hang_seconds: float = Field(default=5.0, ge=0, le=MAX_HANG_SECONDS)
    reset_rate: float = Field(default=0.0, ge=0, le=1)
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
    """A deterministic fault for the next ``times`` Track requests that match.

    ``method`` matches exactly, ``path`` is a glob on the raw path (``/api/v1/customers/*/suppress``),
    ``operation`` one of identify, track, suppress, unsuppress, delete, region; unset ones match
    anything. ``kind`` is ``status`` (answer ``status`` with ``headers``: a 302 with ``Location``,
    a 429 with ``Retry-After``), ``timeout`` (hang ``hang_seconds``, then close without an
    answer) or ``reset`` (close the connection abruptly).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["status", "timeout", "reset"] = "status"
    status: int = Field(default=503, ge=200, le=599)
    headers: dict[str, str] = Field(default_factory=dict)
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


@dataclass
class _Queued:
    fault: ScriptedFault
    remaining: int


class FaultInjector:
    """Decides whether a Track request misbehaves: the first queued scripted fault that matches,
    else one draw from the RNG against ``Faults``' probabilities.

    Not thread-safe: the sandbox calls it with its lock held.
    """

    def __init__(self, faults: Faults | None = None) -> None:
        self._faults = faults or Faults()
        self._rng = random.Random(self._faults.seed)  # noqa: S311 - reproducible faults, not cryptography
        self._queue: list[_Queued] = []

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

    def clear_scripted(self) -> None:
        self._queue = []

    def scripted(self) -> list[tuple[ScriptedFault, int]]:
        """The queued scripted faults, each with how many more requests it will fail."""
        return [(queued.fault, queued.remaining) for queued in self._queue]

    def next_fault(
        self, method: str, raw_path: str, operation: str | None
    ) -> tuple[Reply | None, str | None]:
        """(the reply, a label for the request log) of a scripted fault, else of a random one,
        else (None, None)."""
        for queued in self._queue:
            if queued.remaining > 0 and queued.fault.matches(method, raw_path, operation):
                queued.remaining -= 1
                self._queue = [q for q in self._queue if q.remaining > 0]
                return _scripted_reply(queued.fault)
        return self._random_fault()

    def _random_fault(self) -> tuple[Reply | None, str | None]:
        faults = self._faults
        draw = self._rng.random()
        if draw < faults.error_rate:
            status = self._rng.choice(faults.error_statuses)
            return error_reply(status, "injected server error"), f"random:{status}"
        draw -= faults.error_rate
        if draw < faults.rate_limited_rate:
            return error_reply(
                429, "injected rate limit", **{"Retry-After": str(faults.retry_after)}
            ), "random:429"
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
    reply = error_reply(fault.status, "scripted fault") if fault.status >= 300 else Reply(fault.status, {})
    reply.headers.update(fault.headers)
    return reply, f"scripted:{fault.status}"
