"""cio_security: the shared library of the secure Customer.io integration.

Everything public is importable from here (``from cio_security import sanitize_attributes``).
Names resolve lazily, on first use, so a function pays at cold start only for the modules it
uses: the webhook never imports the HTTP client, the deletion function never imports the
verifier.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # errors
    **dict.fromkeys(
        [
            "CioSecurityError",
            "ConfigurationError",
            "PayloadLimitError",
            "SignatureError",
            "InvalidEventError",
            "PublishError",
            "SecretError",
            "SecretFormatError",
            "RotationError",
            "CustomerIOError",
            "TransientError",
            "RateLimitedError",
            "ServerError",
            "TransportError",
            "PermanentError",
            "AuthenticationError",
            "NotFoundError",
            "BadRequestError",
            "RedirectRefusedError",
            "LeaseHeldError",
            "InvalidDeletionRequestError",
            "RetryLaterError",
            "DeadLetterError",
            "AuditError",
            "LeaseLostError",
            "AuditConflictError",
        ],
        "errors",
    ),
    # sanitizer and hashing
    **dict.fromkeys(
        [
            "sanitize_attributes",
            "sanitize",
            "SanitizerPolicy",
            "SanitizeReport",
            "SanitizeResult",
            "normalize_key",
        ],
        "sanitize",
    ),
    **dict.fromkeys(["detect", "is_card_number", "is_us_ssn", "is_iban"], "detectors"),
    "keyed_hash": "hashing",
    # webhook signatures and events
    **dict.fromkeys(
        ["SigningKeyRing", "sign_webhook", "compute_signature", "check_headers", "read_body"], "signature"
    ),
    **dict.fromkeys(["WebhookEvent", "WebhookSettings", "parse_webhook_event"], "webhook"),
    # Customer.io
    **dict.fromkeys(["TrackClient", "TrackResponse", "RegionInfo", "TRACK_URLS"], "customerio"),
    "TokenBucket": "ratelimit",
    # secrets and models
    **dict.fromkeys(
        ["SecretStore", "track_credentials_provider", "signing_key_loader", "parse_secret"], "secrets"
    ),
    **dict.fromkeys(["TrackCredentials", "SigningKey", "Pepper", "DeletionRequest"], "models"),
    # deletion, audit and rotation
    **dict.fromkeys(
        ["AuditRecord", "AuditStore", "MemoryAuditStore", "AuditBackend", "subject_hash"], "audit"
    ),
    **dict.fromkeys(
        [
            "DeletionProcessor",
            "DeletionOutcome",
            "DeletionSettings",
            "DeadLetterQueue",
            "parse_deletion_message",
            "rate_per_invocation",
        ],
        "deletion",
    ),
    **dict.fromkeys(["rotate", "RotationSettings", "StepResult", "staging_secret_name"], "rotation"),
}

__all__ = [
    "TRACK_URLS",
    "AuditBackend",
    "AuditConflictError",
    "AuditError",
    "AuditRecord",
    "AuditStore",
    "AuthenticationError",
    "BadRequestError",
    "CioSecurityError",
    "ConfigurationError",
    "CustomerIOError",
    "DeadLetterError",
    "DeadLetterQueue",
    "DeletionOutcome",
    "DeletionProcessor",
    "DeletionRequest",
    "DeletionSettings",
    "InvalidDeletionRequestError",
    "InvalidEventError",
    "LeaseHeldError",
    "LeaseLostError",
    "MemoryAuditStore",
    "NotFoundError",
    "PayloadLimitError",
    "Pepper",
    "PermanentError",
    "PublishError",
    "RateLimitedError",
    "RedirectRefusedError",
    "RegionInfo",
    "RetryLaterError",
    "RotationError",
    "RotationSettings",
    "SanitizeReport",
    "SanitizeResult",
    "SanitizerPolicy",
    "SecretError",
    "SecretFormatError",
    "SecretStore",
    "ServerError",
    "SignatureError",
    "SigningKey",
    "SigningKeyRing",
    "StepResult",
    "TokenBucket",
    "TrackClient",
    "TrackCredentials",
    "TrackResponse",
    "TransientError",
    "TransportError",
    "WebhookEvent",
    "WebhookSettings",
    "check_headers",
    "compute_signature",
    "detect",
    "is_card_number",
    "is_iban",
    "is_us_ssn",
    "keyed_hash",
    "normalize_key",
    "parse_deletion_message",
    "parse_secret",
    "parse_webhook_event",
    "rate_per_invocation",
    "read_body",
    "rotate",
    "sanitize",
    "sanitize_attributes",
    "sign_webhook",
    "signing_key_loader",
    "staging_secret_name",
    "subject_hash",
    "track_credentials_provider",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cio_security' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cio_security.{module}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from cio_security.audit import AuditBackend, AuditRecord, AuditStore, MemoryAuditStore, subject_hash
    from cio_security.customerio import TRACK_URLS, RegionInfo, TrackClient, TrackResponse
    from cio_security.deletion import (
        DeadLetterQueue,
        DeletionOutcome,
        DeletionProcessor,
        DeletionSettings,
        parse_deletion_message,
        rate_per_invocation,
    )
    from cio_security.detectors import detect, is_card_number, is_iban, is_us_ssn
    from cio_security.errors import (
        AuditConflictError,
        AuditError,
        AuthenticationError,
        BadRequestError,
        CioSecurityError,
        ConfigurationError,
        CustomerIOError,
        DeadLetterError,
        InvalidDeletionRequestError,
        InvalidEventError,
        LeaseHeldError,
        LeaseLostError,
        NotFoundError,
        PayloadLimitError,
        PermanentError,
        PublishError,
        RateLimitedError,
        RedirectRefusedError,
        RetryLaterError,
        RotationError,
        SecretError,
        SecretFormatError,
        ServerError,
        SignatureError,
        TransientError,
        TransportError,
    )
    from cio_security.hashing import keyed_hash
    from cio_security.models import DeletionRequest, Pepper, SigningKey, TrackCredentials
    from cio_security.ratelimit import TokenBucket
    from cio_security.rotation import RotationSettings, StepResult, rotate, staging_secret_name
    from cio_security.sanitize import (
        SanitizeReport,
        SanitizeResult,
        SanitizerPolicy,
        normalize_key,
        sanitize,
        sanitize_attributes,
    )
    from cio_security.secrets import SecretStore, parse_secret, signing_key_loader, track_credentials_provider
    from cio_security.signature import (
        SigningKeyRing,
        check_headers,
        compute_signature,
        read_body,
        sign_webhook,
    )
    from cio_security.webhook import WebhookEvent, WebhookSettings, parse_webhook_event
