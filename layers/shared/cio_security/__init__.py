"""cio_security: the shared library of the secure Customer.io integration.

Everything public is importable from here (``from cio_security import sanitize_attributes``).
Names resolve lazily, on first use, so a function pays at cold start only for the modules it
uses: the webhook never imports the HTTP client, the deletion function never imports the
verifier. Each concern is a package (``webhook``, ``sanitizer``, ``customerio``, ``secrets``,
``deletion``, ``audit``, ``rotation``) that re-exports its own public names the same way.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, where ``exports`` maps each public name to the
    module (relative to ``package``) that defines it.

    Every package of the library uses it (it lives here because importing a sub-package
    imports this module first, so it costs no extra module).

    >>> __getattr__, __dir__ = lazy_exports(__name__, {"TrackClient": "track"})  # doctest: +SKIP
    """

    def resolve(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def names() -> list[str]:
        return sorted(exports)

    return resolve, names


_EXPORTS: dict[str, str] = {
    "AuditBackend": "audit.base",
    "AuditRecord": "audit.record",
    "AuditStore": "audit.dynamodb",
    "subject_hash": "audit.record",
    "TokenBucket": "customerio.ratelimit",
    "RegionInfo": "customerio.responses",
    "TrackResponse": "customerio.responses",
    "RetryPolicy": "customerio.retry",
    "TrackClient": "customerio.track",
    "AppClient": "customerio.app_api",
    "TRACK_URLS": "customerio.urls",
    "Workspace": "workspaces",
    "Workspaces": "workspaces",
    "workspaces_from_env": "workspaces",
    "DeadLetterQueue": "deletion.dead_letters",
    "DeletionOutcome": "deletion.outcome",
    "DeletionProcessor": "deletion.processor",
    "DeletionRequest": "deletion.request",
    "parse_deletion_message": "deletion.request",
    "DeletionSettings": "deletion.settings",
    "rate_per_invocation": "deletion.settings",
    "VerificationPolicy": "deletion.verification",
    "VerificationProcessor": "deletion.verification_processor",
    "QueueVerifier": "deletion.verification_queue",
    "VerificationSettings": "deletion.verification_settings",
    "AuditConflictError": "errors",
    "AuditError": "errors",
    "AuthenticationError": "errors",
    "BadRequestError": "errors",
    "CioSecurityError": "errors",
    "ConfigurationError": "errors",
    "CustomerIOError": "errors",
    "DeadLetterError": "errors",
    "InvalidDeletionRequestError": "errors",
    "InvalidEventError": "errors",
    "LeaseHeldError": "errors",
    "LeaseLostError": "errors",
    "NotFoundError": "errors",
    "PayloadLimitError": "errors",
    "PermanentError": "errors",
    "PublishError": "errors",
    "RateLimitedError": "errors",
    "RedirectRefusedError": "errors",
    "RetryLaterError": "errors",
    "RotationError": "errors",
    "SecretError": "errors",
    "SecretFormatError": "errors",
    "SecretNotFoundError": "errors",
    "ServerError": "errors",
    "SignatureError": "errors",
    "TransientError": "errors",
    "TransportError": "errors",
    "keyed_hash": "hashing",
    "StepResult": "rotation.outcome",
    "rotate": "rotation.protocol",
    "RotationSettings": "rotation.settings",
    "staging_secret_name": "rotation.staging",
    "sanitize": "sanitizer.attributes",
    "sanitize_attributes": "sanitizer.attributes",
    "detect": "sanitizer.detectors",
    "is_card_number": "sanitizer.detectors",
    "is_iban": "sanitizer.detectors",
    "is_us_ssn": "sanitizer.detectors",
    "normalize_key": "sanitizer.keys",
    "SanitizerPolicy": "sanitizer.policy",
    "SanitizeReport": "sanitizer.report",
    "SanitizeResult": "sanitizer.report",
    "signing_key_loader": "secrets.loaders",
    "track_credentials_provider": "secrets.loaders",
    "Pepper": "secrets.models",
    "SigningKey": "secrets.models",
    "TrackCredentials": "secrets.models",
    "SecretStore": "secrets.store",
    "parse_secret": "secrets.store",
    "WebhookEvent": "webhook.event",
    "parse_webhook_event": "webhook.event",
    "WebhookSettings": "webhook.settings",
    "SigningKeyRing": "webhook.signature",
    "check_headers": "webhook.signature",
    "compute_signature": "webhook.signature",
    "read_body": "webhook.signature",
    "sign_webhook": "webhook.signature",
}

__all__ = [
    "TRACK_URLS",
    "AppClient",
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
    "NotFoundError",
    "PayloadLimitError",
    "Pepper",
    "PermanentError",
    "PublishError",
    "QueueVerifier",
    "RateLimitedError",
    "RedirectRefusedError",
    "RegionInfo",
    "RetryLaterError",
    "RetryPolicy",
    "RotationError",
    "RotationSettings",
    "SanitizeReport",
    "SanitizeResult",
    "SanitizerPolicy",
    "SecretError",
    "SecretFormatError",
    "SecretNotFoundError",
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
    "VerificationPolicy",
    "VerificationProcessor",
    "VerificationSettings",
    "WebhookEvent",
    "WebhookSettings",
    "Workspace",
    "Workspaces",
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
    "workspaces_from_env",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from cio_security.audit.base import AuditBackend
    from cio_security.audit.dynamodb import AuditStore
    from cio_security.audit.record import AuditRecord, subject_hash
    from cio_security.customerio.app_api import AppClient
    from cio_security.customerio.ratelimit import TokenBucket
    from cio_security.customerio.responses import RegionInfo, TrackResponse
    from cio_security.customerio.retry import RetryPolicy
    from cio_security.customerio.track import TrackClient
    from cio_security.customerio.urls import TRACK_URLS
    from cio_security.deletion.dead_letters import DeadLetterQueue
    from cio_security.deletion.outcome import DeletionOutcome
    from cio_security.deletion.processor import DeletionProcessor
    from cio_security.deletion.request import DeletionRequest, parse_deletion_message
    from cio_security.deletion.settings import DeletionSettings, rate_per_invocation
    from cio_security.deletion.verification import VerificationPolicy
    from cio_security.deletion.verification_processor import VerificationProcessor
    from cio_security.deletion.verification_queue import QueueVerifier
    from cio_security.deletion.verification_settings import VerificationSettings
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
        SecretNotFoundError,
        ServerError,
        SignatureError,
        TransientError,
        TransportError,
    )
    from cio_security.hashing import keyed_hash
    from cio_security.rotation.outcome import StepResult
    from cio_security.rotation.protocol import rotate
    from cio_security.rotation.settings import RotationSettings
    from cio_security.rotation.staging import staging_secret_name
    from cio_security.sanitizer.attributes import sanitize, sanitize_attributes
    from cio_security.sanitizer.detectors import detect, is_card_number, is_iban, is_us_ssn
    from cio_security.sanitizer.keys import normalize_key
    from cio_security.sanitizer.policy import SanitizerPolicy
    from cio_security.sanitizer.report import SanitizeReport, SanitizeResult
    from cio_security.secrets.loaders import signing_key_loader, track_credentials_provider
    from cio_security.secrets.models import Pepper, SigningKey, TrackCredentials
    from cio_security.secrets.store import SecretStore, parse_secret
    from cio_security.webhook.event import WebhookEvent, parse_webhook_event
    from cio_security.webhook.settings import WebhookSettings
    from cio_security.webhook.signature import (
        SigningKeyRing,
        check_headers,
        compute_signature,
        read_body,
        sign_webhook,
    )
    from cio_security.workspaces import Workspace, Workspaces, workspaces_from_env
