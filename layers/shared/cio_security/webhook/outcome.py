"""What became of one webhook delivery, and the HTTP status it is answered with.

| kind | status | when |
|---|---|---|
| ``published`` | 200 | verified, published (or claim-checked and published as a reference) |
| ``duplicate`` | 200 | verified, its ``event_id`` already published |
| ``kept`` | 200 | verified, but not publishable: kept with its ``reason`` for the operator |
| ``rejected`` | 401 | not verified: missing, malformed or wrong signature, stale timestamp |
| ``refused`` | 403 | the source address is outside ``WEBHOOK_ALLOWED_SOURCE_CIDRS`` |
| ``unavailable`` | 503 | our own failure a retry can fix (a secret, DynamoDB, S3, EventBridge, the
  same event in progress elsewhere, configuration) |

A delivery Customer.io signed is never answered 4xx: it is published, a duplicate, kept, or, when
we failed, 503 (which Customer.io retries with its plain backoff, not the one-hour wait).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["STATUS", "Outcome", "OutcomeKind"]

OutcomeKind = Literal["published", "duplicate", "kept", "rejected", "refused", "unavailable"]

STATUS: Final[dict[OutcomeKind, int]] = {
    "published": 200,
    "duplicate": 200,
    "kept": 200,
    "rejected": 401,
    "refused": 403,
    "unavailable": 503,
}


@dataclass(frozen=True)
class Outcome:
    """One delivery's fate. Every text is safe to log: reasons, field names, error types, ids that
    have an id's shape (``log_id``); never a value from the body, a key or a secret."""

    kind: OutcomeKind
    reason: str = ""
    detail: str = ""
    log_id: str | None = None
    metric: str | None = None
    kept_id: str | None = None
    claim_checked: bool = False
    publish_ms: float | None = None
    workspace: str | None = None
    """The workspace whose key verified the delivery (None: not verified)."""

    @property
    def status(self) -> int:
        return STATUS[self.kind]
