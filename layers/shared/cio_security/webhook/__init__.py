"""Verifying and publishing Customer.io reporting webhooks (DESIGN section 3).

Public names are re-exported lazily: importing the package loads none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cio_security import lazy_exports

_EXPORTS: dict[str, str] = {
    "DEFAULT_DEDUPE_SECONDS": "settings",
    "EVENT_SOURCE": "publish",
    "MAX_ENTRY_BYTES": "publish",
    "SigningKeyRing": "signature",
    "WebhookEvent": "event",
    "WebhookSettings": "settings",
    "check_headers": "signature",
    "compute_signature": "signature",
    "event_bridge_entry": "publish",
    "header": "signature",
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
    "SigningKeyRing",
    "WebhookEvent",
    "WebhookSettings",
    "check_headers",
    "compute_signature",
    "event_bridge_entry",
    "header",
    "matching_key_index",
    "parse_webhook_event",
    "publish_entry",
    "read_body",
    "sign_webhook",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from cio_security.webhook.event import WebhookEvent, parse_webhook_event
    from cio_security.webhook.publish import EVENT_SOURCE, MAX_ENTRY_BYTES, event_bridge_entry, publish_entry
    from cio_security.webhook.settings import DEFAULT_DEDUPE_SECONDS, WebhookSettings
    from cio_security.webhook.signature import (
        SigningKeyRing,
        check_headers,
        compute_signature,
        header,
        matching_key_index,
        read_body,
        sign_webhook,
    )
