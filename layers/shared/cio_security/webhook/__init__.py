"""Verifying and publishing Customer.io reporting webhooks (DESIGN section 3).

- ``signature``: the signing scheme, header checks, the key ring and its refresh.
- ``settings``: the function's settings; ``budget``: the AWS calls' timeouts against the 4 s.
- ``event``: the event model; ``publish``: EventBridge entries, their size, PutEvents.
- ``processor``: one delivery from raw request to ``Outcome`` (``outcome``), the rules in one place.
- ``quarantine`` (kept bodies) and ``claims`` (the claim check) over ``storage`` (S3).
- ``dedupe``: Powertools Idempotency on ``event_id``; ``sources``: the optional address check.

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "DEFAULT_DEDUPE_SECONDS": "settings",
    "EVENT_SOURCE": "publish",
    "MAX_ENTRY_BYTES": "publish",
    "WEBHOOK_TIME_BUDGET": "budget",
    "ClaimCheck": "claims",
    "ClaimPointer": "claims",
    "IdempotencyDeduplicator": "dedupe",
    "KeptBody": "quarantine",
    "Outcome": "outcome",
    "Quarantine": "quarantine",
    "QuarantineLookupError": "quarantine",
    "SigningKeyRing": "signature",
    "SigningKeysUnavailableError": "signature",
    "SourceAddressPolicy": "sources",
    "WebhookEvent": "event",
    "WebhookProcessor": "processor",
    "WebhookRequest": "processor",
    "WebhookSettings": "settings",
    "WebhookTimeBudget": "budget",
    "WorkspaceKeyRing": "signature",
    "check_headers": "signature",
    "claim_check_entry": "publish",
    "compute_signature": "signature",
    "dynamodb_deduplicator": "dedupe",
    "entry_size": "publish",
    "event_bridge_entry": "publish",
    "header": "signature",
    "key_ring_for": "keys",
    "matching_key_index": "signature",
    "parse_webhook_event": "event",
    "publish_entry": "publish",
    "read_body": "signature",
    "sign_webhook": "signature",
}

__all__ = [
    "DEFAULT_DEDUPE_SECONDS",
    "EVENT_SOURCE",
    "MAX_ENTRY_BYTES",
    "WEBHOOK_TIME_BUDGET",
    "ClaimCheck",
    "ClaimPointer",
    "IdempotencyDeduplicator",
    "KeptBody",
    "Outcome",
    "Quarantine",
    "QuarantineLookupError",
    "SigningKeyRing",
    "SigningKeysUnavailableError",
    "SourceAddressPolicy",
    "WebhookEvent",
    "WebhookProcessor",
    "WebhookRequest",
    "WebhookSettings",
    "WebhookTimeBudget",
    "WorkspaceKeyRing",
    "check_headers",
    "claim_check_entry",
    "compute_signature",
    "dynamodb_deduplicator",
    "entry_size",
    "event_bridge_entry",
    "header",
    "key_ring_for",
    "matching_key_index",
    "parse_webhook_event",
    "publish_entry",
    "read_body",
    "sign_webhook",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.webhook.budget import WEBHOOK_TIME_BUDGET, WebhookTimeBudget
    from cio_security.webhook.claims import ClaimCheck, ClaimPointer
    from cio_security.webhook.dedupe import IdempotencyDeduplicator, dynamodb_deduplicator
    from cio_security.webhook.event import WebhookEvent, parse_webhook_event
    from cio_security.webhook.keys import key_ring_for
    from cio_security.webhook.outcome import Outcome
    from cio_security.webhook.processor import WebhookProcessor, WebhookRequest
    from cio_security.webhook.publish import (
        EVENT_SOURCE,
        MAX_ENTRY_BYTES,
        claim_check_entry,
        entry_size,
        event_bridge_entry,
        publish_entry,
    )
    from cio_security.webhook.quarantine import KeptBody, Quarantine, QuarantineLookupError
    from cio_security.webhook.settings import DEFAULT_DEDUPE_SECONDS, WebhookSettings
    from cio_security.webhook.signature import (
        SigningKeyRing,
        SigningKeysUnavailableError,
        WorkspaceKeyRing,
        check_headers,
        compute_signature,
        header,
        matching_key_index,
        read_body,
        sign_webhook,
    )
    from cio_security.webhook.sources import SourceAddressPolicy
