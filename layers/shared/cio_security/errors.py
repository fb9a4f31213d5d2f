"""The exception hierarchy of cio_security: one base error, then transient versus permanent.

Every error text is safe to log: it names a status, a request id or a reason, never a payload,
an identifier, a credential or a secret value.

```
CioSecurityError
├── ConfigurationError          missing or invalid setting (environment variable, policy file)
├── PayloadLimitError           input too deep or too large for the sanitizer or the verifier
├── SignatureError              webhook verification failed; .reason is one of REJECTION_REASONS
├── InvalidEventError           a verified webhook body is not a valid reporting event
├── PublishError                a verified event could not be published (the caller should retry)
├── SecretError                 a secret is missing, unreadable or not of its documented shape
│   ├── SecretNotFoundError     the secret or that version stage does not exist
│   └── SecretFormatError
├── RotationError               a rotation step refused to continue; .step says which
├── InvalidDeletionRequestError a deletion message is not valid JSON or not a DeletionRequest;
│                               .reason (invalid_json, schema_error), .request_id when readable
├── RetryLaterError             a deletion message must be redelivered later; .reason
├── DeadLetterError             a permanent failure could not be sent to the dead-letter queue
├── AuditError                  the audit store (DynamoDB) failed: retry later
│   ├── LeaseHeldError          another invocation is processing this request_id right now
│   │   └── LeaseLostError      our lease was taken over before the step could be recorded
│   └── AuditConflictError      request_id already used for another subject or action (permanent)
└── CustomerIOError             a Track API call failed; .status and .request_id when known
    ├── TransientError          retry later: 408, 429, 5xx, timeouts, connection errors
    │   ├── RateLimitedError    429, or any retried status asking to wait past the cap; .retry_after
    │   ├── ServerError         5xx
    │   └── TransportError      timeout or connection failure before a response
    └── PermanentError          no retry fixes it: send to the dead-letter queue
        ├── AuthenticationError 401 and 403
        ├── NotFoundError       404
        ├── BadRequestError     400 and other 4xx
        └── RedirectRefusedError a redirect to another host (credentials never follow it)
```

The deletion handler's retry decision is one ``except TransientError`` away; audit failures and a
held lease (``AuditError`` but not ``AuditConflictError``) are retried the same way.
"""

from __future__ import annotations

from typing import Final, Literal

RejectionReason = Literal["missing", "malformed", "mismatch", "stale", "too_large"]
REJECTION_REASONS: Final[tuple[RejectionReason, ...]] = (
    "missing",
    "malformed",
    "mismatch",
    "stale",
    "too_large",
)


class CioSecurityError(Exception):
    """Base class of every error raised by cio_security."""


class ConfigurationError(CioSecurityError):
    """A required setting is missing or invalid."""


class PayloadLimitError(CioSecurityError):
    """Input exceeds a configured bound (nesting depth, node count, byte size)."""


class SignatureError(CioSecurityError):
    """A webhook failed verification. ``reason`` is for logs and metrics, never for the caller."""

    def __init__(self, reason: RejectionReason, message: str | None = None) -> None:
        self.reason: RejectionReason = reason
        super().__init__(message or f"webhook rejected: {reason}")


class InvalidEventError(CioSecurityError):
    """A verified webhook body is not a valid Customer.io reporting event."""


class PublishError(CioSecurityError):
    """Publishing a verified event failed; nothing was marked done, so a retry publishes it."""


class SecretError(CioSecurityError):
    """A secret could not be read."""


class SecretNotFoundError(SecretError):
    """The secret, or the asked version stage of it, does not exist (Secrets Manager's
    ResourceNotFoundException): unlike any other SecretError, reading again will not help."""


class SecretFormatError(SecretError):
    """A secret's value is not of its documented JSON shape (the value itself is never quoted)."""


class RotationError(CioSecurityError):
    """A rotation step refused to continue. The message tells the operator what to do."""

    def __init__(self, step: str, message: str) -> None:
        self.step = step
        super().__init__(f"{step}: {message}")


DeletionRejection = Literal["invalid_json", "schema_error"]


class InvalidDeletionRequestError(CioSecurityError):
    """A deletion queue message is not valid JSON or not a valid DeletionRequest (permanent).

    ``reason`` is ``invalid_json`` or ``schema_error``; ``request_id`` is the message's request id
    when one could be read, for the dead-letter queue's attributes. ``fields`` names the invalid
    fields (never their values).
    """

    def __init__(
        self,
        reason: DeletionRejection,
        *,
        request_id: str | None = None,
        fields: tuple[str, ...] = (),
    ) -> None:
        self.reason: DeletionRejection = reason
        self.request_id = request_id
        self.fields = fields
        detail = f" (fields: {', '.join(fields)})" if fields else ""
        super().__init__(f"deletion request rejected: {reason}{detail}")


class RetryLaterError(CioSecurityError):
    """The message must be redelivered later (a transient failure or a held lease); ``reason`` is
    a short code safe to log, such as ``customerio_503`` or ``lease_held``."""

    def __init__(self, reason: str, *, request_id: str | None = None) -> None:
        self.reason = reason
        self.request_id = request_id
        suffix = f" request_id={request_id}" if request_id else ""
        super().__init__(f"retry later: {reason}{suffix}")


class DeadLetterError(CioSecurityError):
    """Sending a message to the dead-letter queue failed: leave it on the source queue (retry)."""


class AuditError(CioSecurityError):
    """The audit store could not be read or written (DynamoDB unreachable, throttled): retry later."""


class LeaseHeldError(AuditError):
    """Another invocation holds the lease on this request until ``lease_until`` (ISO 8601): the
    concurrent duplicate is reported for redelivery and finds the outcome then."""

    def __init__(self, request_id: str, lease_until: str | None = None) -> None:
        self.request_id = request_id
        self.lease_until = lease_until
        until = f" until {lease_until}" if lease_until else ""
        super().__init__(f"request_id={request_id} is being processed by another invocation{until}")


class LeaseLostError(LeaseHeldError):
    """Our lease expired and another invocation took the request over before a write."""


class AuditConflictError(AuditError):
    """The request_id already belongs to a request for another subject or action. Permanent: a
    request_id is the idempotency key end to end and is never reused for another request."""

    def __init__(self, request_id: str, what: str) -> None:
        self.request_id = request_id
        super().__init__(f"request_id={request_id} already used with a different {what}")


class CustomerIOError(CioSecurityError):
    """A Customer.io Track API call failed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.status = status
        self.request_id = request_id
        self.operation = operation
        parts = [message]
        if operation:
            parts.append(f"operation={operation}")
        if status is not None:
            parts.append(f"status={status}")
        if request_id:
            parts.append(f"request_id={request_id}")
        super().__init__(" ".join(parts))


class TransientError(CustomerIOError):
    """Retrying later may succeed (408, 429, 5xx, timeouts, connection errors)."""


class RateLimitedError(TransientError):
    """429 Too Many Requests, or any retried status (408, 5xx) whose Retry-After asks for a wait
    beyond the retry policy's cap (raised at once, without waiting)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class ServerError(TransientError):
    """5xx from Customer.io."""


class TransportError(TransientError):
    """No response: timeout, connection refused or reset."""


class PermanentError(CustomerIOError):
    """No retry can fix this request."""


class AuthenticationError(PermanentError):
    """401 or 403: the credentials are wrong, revoked or lack permission."""


class NotFoundError(PermanentError):
    """404."""


class BadRequestError(PermanentError):
    """400 or another 4xx that a retry cannot fix."""


class RedirectRefusedError(PermanentError):
    """The API answered with a redirect; credentials are never sent after one."""
