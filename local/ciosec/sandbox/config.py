"""How the sandbox behaves (``SandboxConfig``) and where it listens (``HOST``)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cio_security.customerio.ratelimit import TokenBucket
from ciosec.sandbox.faults import Faults

HOST = "127.0.0.1"
"""The only address the sandbox binds: its admin API needs no authentication."""
MAX_LATENCY_SECONDS = 30.0


class SandboxConfig(BaseModel):
    """How the sandbox behaves; change it with ``Sandbox.configure`` or ``POST /_sandbox/config``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency: float = Field(default=0.0, ge=0, le=MAX_LATENCY_SECONDS)
    rate_limit_rps: float | None = Field(default=None, gt=0)
    rate_limit_burst: float | None = Field(default=None, ge=1)
    delete_missing_status: Literal[200, 204, 404] = 200
    faults: Faults = Field(default_factory=Faults)

    @field_validator("rate_limit_rps")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be finite")
        return value


def rate_limiter(config: SandboxConfig) -> TokenBucket | None:
    """The sandbox's rate limiter; the default burst is one second's worth of requests."""
    if not config.rate_limit_rps:
        return None
    return TokenBucket(config.rate_limit_rps, config.rate_limit_burst or max(1.0, config.rate_limit_rps))
