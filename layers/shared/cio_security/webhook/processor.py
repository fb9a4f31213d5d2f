"""One webhook delivery from raw request to Outcome (DESIGN section 3). No AWS event shapes: the
function hands in the body, headers and source address; the operator's replay hands in a kept
body. The rule it enforces: **a request Customer.io really signed never gets a 4xx**.

1. Source address (optional): outside ``WEBHOOK_ALLOWED_SOURCE_CIDRS`` -> ``refused`` (403),
   before any other work.
2. Signature and timestamp: missing, malformed, wrong, or outside the tolerance -> ``rejected``
   (401). From here on the request is Customer.io's, and of the workspace whose key verified it
   (``detail.workspace``; the key ring's order decides, see ``signature.WorkspaceKeyRing``).
3. Prepare: size bound, event model, sanitizer, JSON for EventBridge. A body that cannot become an
   event (``KeepReason``) is kept and answered 200 (``kept``).
4. Deduplicate on ``event_id`` (within the workspace: the primary's keys as a single-workspace
   stack always had them, the others' namespaced) and publish: a duplicate -> ``duplicate``; too
   large for one entry -> claim check, then publish the reference; EventBridge refusing the entry
   itself -> ``kept``.
5. Our own failures (a secret, DynamoDB, S3, EventBridge, configuration, the same event in progress
   elsewhere) -> ``unavailable`` (503): Customer.io retries them with its plain backoff. Anything
   unexpected after verification (a bug) keeps the body as ``unexpected_error`` rather than holding
   up Customer.io's stream: fix, deploy, replay.

>>> processor = WebhookProcessor(settings=..., key_ring=..., pepper=..., events=..., quarantine=...,
...                              claims=..., deduplicate=...)                    # doctest: +SKIP
>>> processor.handle(WebhookRequest(body=raw, is_base64=False, headers=headers)).status  # doctest: +SKIP
200
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from cio_security.errors import (
    ConfigurationError,
    InvalidEventError,
    PayloadLimitError,
    PublishError,
    SecretError,
    SignatureError,
)
from cio_security.sanitizer.attributes import sanitize
from cio_security.webhook.claims import ClaimCheck
from cio_security.webhook.event import WebhookEvent, parse_webhook_event
from cio_security.webhook.outcome import Outcome
from cio_security.webhook.publish import (
    claim_check_entry,
    event_bridge_entry,
    event_detail,
    publish_entry,
    serialize_detail,
)
from cio_security.webhook.quarantine import KeepReason, KeptBody, Quarantine, event_id_of, id_shaped
from cio_security.webhook.signature import (
    KeyRing,
    check_headers,
    read_body,
    signature_headers,
)
from cio_security.webhook.storage.base import ObjectStoreError

if TYPE_CHECKING:
    from cio_security.sanitizer.policy import SanitizerPolicy
    from cio_security.webhook.dedupe import Deduplicator
    from cio_security.webhook.settings import WebhookSettings
    from cio_security.webhook.sources import SourceAddressPolicy

__all__ = ["TRANSIENT_ERRORS", "WebhookProcessor", "WebhookRequest"]

logger = logging.getLogger(__name__)


def _idempotency_errors() -> tuple[type[Exception], ...]:
    # Powertools wraps every idempotency-store failure (and "already in progress") in its BaseError.
    from aws_lambda_powertools.utilities.idempotency.exceptions import BaseError  # noqa: PLC0415

    return (BaseError,)


TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    SecretError,
    ConfigurationError,
    PublishError,  # EventBridge and S3 (ObjectStoreError) failures
    BotoCoreError,
    ClientError,
    *_idempotency_errors(),
)
"""Our own failures: a retry can succeed once AWS recovers or the stack is fixed (503)."""


@dataclass(frozen=True)
class WebhookRequest:
    """What the function hands in: the body as API Gateway delivered it, its headers (any case),
    and the caller's address."""

    body: str | bytes | None
    is_base64: bool
    headers: Mapping[str, str] | None
    source_ip: str | None = None


@dataclass(frozen=True)
class _Signed:
    """The signature headers a verified delivery came with (kept with the body for replay)."""

    timestamp: str | None
    signature: str | None


@dataclass(frozen=True)
class _Prepared:
    event: WebhookEvent
    detail_json: str
    workspace: str


class _Unpublishable(Exception):  # noqa: N818 - an internal signal, not an error for callers
    """A verified body that cannot become a published event; it is kept with ``reason``."""

    def __init__(self, reason: KeepReason, detail: str = "", event_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason: KeepReason = reason
        self.detail = detail
        self.event_id = event_id


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


class WebhookProcessor:
    """Verifies, keeps or publishes webhook deliveries; see the module docstring for the rules.

    Collaborators are injected: ``key_ring`` (signing keys), ``pepper`` (a callable returning the
    pepper's bytes, cached by the caller), ``policy`` (the sanitizer policy or a callable returning
    it), ``events`` (an EventBridge client), ``quarantine`` and ``claims`` (the webhook bucket),
    ``deduplicate`` (Powertools Idempotency in the stack) and optionally ``sources``. ``clock``
    (unix seconds) defaults to ``time.time`` as the signature module reads it.
    """

    def __init__(
        self,
        *,
        settings: WebhookSettings,
        key_ring: KeyRing,
        pepper: Callable[[], bytes],
        events: Any,
        quarantine: Quarantine,
        claims: ClaimCheck,
        deduplicate: Deduplicator,
        policy: SanitizerPolicy | Callable[[], SanitizerPolicy | None] | None = None,
        sources: SourceAddressPolicy | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.key_ring = key_ring
        self.quarantine = quarantine
        self.claims = claims
        self._pepper = pepper
        self._events = events
        self._deduplicate = deduplicate
        self._policy = policy
        self._sources = sources
        self._clock = clock

    # -- a delivery --------------------------------------------------------------------------------

    def handle(self, request: WebhookRequest) -> Outcome:
        """Answer one delivery. Never raises for anything a caller can send; an unexpected error
        before verification is ``unavailable`` (we cannot tell whose request it was)."""
        if self._sources is not None and not self._sources.allows(request.source_ip):
            return Outcome("refused", reason="source_address")
        try:
            # Headers first: a request without plausible, fresh signature headers is refused
            # before its body is even decoded.
            timestamp, digest = check_headers(
                request.headers,
                tolerance=self.settings.tolerance_seconds,
                future_skew=self.settings.future_skew_seconds,
                now=self._clock() if self._clock is not None else None,
            )
            body = read_body(request.body, is_base64=request.is_base64)
            workspace = self.key_ring.match(timestamp, digest, body)
            if workspace is None:
                raise SignatureError("mismatch")
        except SignatureError as exc:
            return Outcome("rejected", reason=exc.reason)
        except TRANSIENT_ERRORS as exc:
            return Outcome("unavailable", reason="verification", detail=type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - a bug before verification: retryable, never a 5xx of API Gateway's
            logger.error(
                "unexpected error before verification",
                extra={"error": type(exc).__name__, "stack": _stack(exc)},
            )
            return Outcome("unavailable", reason="verification", detail=type(exc).__name__)
        signed = _Signed(timestamp=timestamp, signature=digest.hex())
        return self._verified(body, signed, workspace)

    def replay(self, kept: KeptBody) -> Outcome:
        """Run a kept body through the current code and key ring (the operator's ``replay``).

        The body must be authentic: its stored signature verifies with the current key ring
        (freshness is not checked: it was when the body arrived), or, once the key has rotated
        out, its id is the stack's keyed hash of its bytes. Its workspace is the one whose key
        verifies it now, else the one recorded when it was kept (else the primary: kept before
        workspaces were recorded). A body that still cannot be published comes back ``kept``
        (not stored again) with its reason.
        """
        if kept.body is None:
            raise ValueError("replay needs the kept body itself (Quarantine.get)")
        workspace = self._signature_workspace(kept)
        if workspace is None:
            if not self.quarantine.authentic(kept):
                return Outcome("rejected", reason="not_authentic")
            workspace = kept.workspace or self.settings.primary_workspace
        return self._verified(kept.body, _Signed(kept.timestamp, kept.signature), workspace, replay=True)

    # -- after verification ------------------------------------------------------------------------

    def _verified(self, body: bytes, signed: _Signed, workspace: str, *, replay: bool = False) -> Outcome:
        try:
            prepared = self._prepare(body, workspace)
            return self._publish_once(prepared)
        except _Unpublishable as bad:
            return self._keep(
                body, bad.reason, bad.detail, bad.event_id, signed, workspace=workspace, replay=replay
            )
        except TRANSIENT_ERRORS as exc:
            return Outcome("unavailable", reason=_cause(exc), detail=str(exc)[:200])
        except Exception as exc:  # noqa: BLE001 - a bug must not hold up Customer.io's stream
            logger.error(
                "unexpected error after verification: the body is kept",
                extra={"error": type(exc).__name__, "stack": _stack(exc)},
            )
            return self._keep(
                body,
                "unexpected_error",
                type(exc).__name__,
                event_id_of(body),
                signed,
                workspace=workspace,
                replay=replay,
            )

    def _prepare(self, body: bytes, workspace: str) -> _Prepared:
        """Size, model, sanitizer, JSON: everything that can reject the body before DynamoDB."""
        if len(body) > self.settings.max_body_bytes:
            raise _Unpublishable(
                "too_large", f"{len(body)} bytes, above WEBHOOK_MAX_BODY_BYTES", event_id_of(body)
            )
        try:
            event = parse_webhook_event(body)
        except InvalidEventError as exc:
            reason: KeepReason = "invalid_event" if _is_json(body) else "not_json"
            raise _Unpublishable(reason, str(exc), event_id_of(body)) from None
        policy = self._policy() if callable(self._policy) else self._policy
        try:
            result = sanitize(event.data, pepper=self._pepper(), policy=policy)
        except PayloadLimitError as exc:
            raise _Unpublishable("sanitizer_limit", str(exc), event_id_of(body)) from None
        report = {"dropped": list(result.report.dropped), "hashed": list(result.report.hashed)}
        try:
            detail_json = serialize_detail(event_detail(event, result.data, report, workspace=workspace))
        except InvalidEventError as exc:
            raise _Unpublishable("non_finite_number", str(exc), event_id_of(body)) from None
        return _Prepared(event, detail_json, workspace)

    def _namespace(self, workspace: str) -> str | None:
        """The dedupe and claim-check namespace of ``workspace``: none for the primary (the keys
        a single-workspace stack always had), the workspace's name for the others."""
        return None if workspace == self.settings.primary_workspace else workspace

    def _publish_once(self, prepared: _Prepared) -> Outcome:
        event, workspace = prepared.event, prepared.workspace
        started = time.perf_counter()
        result, duplicate = self._deduplicate(
            event.event_id, lambda: self._publish(prepared), workspace=self._namespace(workspace)
        )
        if duplicate:
            return Outcome("duplicate", log_id=event.log_id, metric=event.metric, workspace=workspace)
        return Outcome(
            "published",
            log_id=event.log_id,
            metric=event.metric,
            claim_checked=bool(result.get("claim_checked")),
            publish_ms=(time.perf_counter() - started) * 1000,
            workspace=workspace,
        )

    def _publish(self, prepared: _Prepared) -> dict[str, Any]:
        """Inside the idempotency record: claim check when needed, then PutEvents."""
        event, bus = prepared.event, self.settings.event_bus_name
        try:
            entry = event_bridge_entry(event, {}, bus_name=bus, detail_json=prepared.detail_json)
            claim_checked = False
        except PayloadLimitError:
            pointer = self.claims.put(
                event.event_id,
                prepared.detail_json.encode("utf-8"),
                workspace=prepared.workspace,
                namespace=self._namespace(prepared.workspace),
            )
            entry = claim_check_entry(event, pointer, bus_name=bus)
            claim_checked = True
        try:
            published = publish_entry(self._events, entry)
        except InvalidEventError as exc:
            raise _Unpublishable("publish_refused", str(exc), _log_safe(event)) from None
        return {"published": published, "claim_checked": claim_checked}

    def _keep(
        self,
        body: bytes,
        reason: KeepReason,
        detail: str,
        event_id: str | None,
        signed: _Signed,
        *,
        workspace: str,
        replay: bool,
    ) -> Outcome:
        if replay:
            return Outcome("kept", reason=reason, detail=detail, log_id=event_id, workspace=workspace)
        try:
            kept_id = self.quarantine.keep(
                body,
                reason=reason,
                detail=detail,
                event_id=event_id,
                timestamp=signed.timestamp,
                signature=signed.signature,
                workspace=workspace,
            )
        except TRANSIENT_ERRORS as exc:
            return Outcome("unavailable", reason=_cause(exc), detail=f"keeping a {reason} body: {exc}"[:200])
        return Outcome(
            "kept", reason=reason, detail=detail, log_id=event_id, kept_id=kept_id, workspace=workspace
        )

    def _signature_workspace(self, kept: KeptBody) -> str | None:
        """The workspace whose current keys verify the kept body's stored signature (None when
        none does or the ring cannot be read: the integrity tag then decides)."""
        if not kept.timestamp or not kept.signature or kept.body is None:
            return None
        try:
            timestamp, digest = signature_headers(
                {"x-cio-timestamp": kept.timestamp, "x-cio-signature": kept.signature}
            )
            return self.key_ring.match(timestamp, digest, kept.body)
        except SignatureError:
            return None
        except TRANSIENT_ERRORS:
            return None


def _log_safe(event: WebhookEvent) -> str | None:
    return event.event_id if id_shaped(event.event_id) else None


def _stack(exc: BaseException) -> list[str]:
    """Where an unexpected error was raised: file, line and function of each frame, never the
    exception's message or a local variable (either may hold a value from the body)."""
    return [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)]


def _cause(exc: Exception) -> str:
    """The reason of an ``unavailable`` outcome: which of our dependencies failed."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
        IdempotencyAlreadyInProgressError,
    )

    if isinstance(exc, IdempotencyAlreadyInProgressError):
        return "in_progress"
    if isinstance(exc, SecretError):
        return "secret"
    if isinstance(exc, ConfigurationError):
        return "configuration"
    if isinstance(exc, PublishError):
        return "storage" if isinstance(exc, ObjectStoreError) else "publish"
    if isinstance(exc, _idempotency_errors()):
        return "idempotency_store"
    return "aws"
