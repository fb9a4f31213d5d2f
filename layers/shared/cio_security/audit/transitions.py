"""The lease state machine of an audit record, as pure functions: record in, new record out.

No I/O and no clock: ``now`` and lease tokens are arguments, and the record passed in is never
modified. Storage (``base.BaseAuditStore`` and its backends) applies a transition with a
conditional write, so concurrent deliveries of one request cannot both call Customer.io.

- ``new_record``: every step pending, one attempt, leased to its creator.
- ``lease_taken``: one more attempt under a new lease; lifts a ``failed`` status. Allowed only
  when ``may_lease`` (unfinished, no unexpired lease).
- ``step_done``: the step will never be sent to Customer.io again.
- ``submission_accepted``: Customer.io accepted the request's one operation (Track v2 batch): the
  step done with the status code and Customer.io's request id, ``submitted_at``; the lease is kept
  for what follows, one of:
- ``completed`` (with ``verification="not_verified"`` when nothing verifies erasures), or
- ``awaiting_verification``: status ``submitted``, verification ``pending``, the lease given back;
  the verifier's checks take it from there.
- ``transient_failure``: the step stays pending with the last error; the lease is given back.
- ``released``: the lease is given back, steps untouched.
- ``failed``: permanent failure (``failure_reason``), lease given back.
- ``completed``: ``completed_at``; the retention period restarts; lease given back.

The erasure verifier's transitions, allowed only while ``awaiting_verification_check`` (status
``submitted``, verification ``pending``); none of them touches the lease or the steps, and each
sets ``verification_checks`` to the checks made (never fewer than recorded: a duplicate ticket
cannot lower it):

- ``verification_checked``: one more check found the person still there.
- ``verified``: the App API no longer finds the person: status ``completed``, verification
  ``verified``, ``verified_at`` and ``completed_at``; the retention period restarts.
- ``unverified``: the window ended without that proof: status and verification ``unverified``,
  the reason in ``last_error``; the retention period restarts.

>>> record = new_record(request, now, subject_hash=h, lease_seconds=120, lease_token="t1")  # doctest: +SKIP
>>> record = submission_accepted(record, "suppress", 200, "req-1", now)                    # doctest: +SKIP
>>> completed(record, now, verification="not_verified").status                            # doctest: +SKIP
'completed'
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any

from cio_security.audit.record import (
    DEFAULT_RETENTION_DAYS,
    AuditRecord,
    RecordStatus,
    StepName,
    StepRecord,
    Verification,
    expiry_for,
    iso,
)
from cio_security.deletion.request import DeletionRequest, infer_identifier_type
from cio_security.errors import AuditConflictError

__all__ = [
    "awaiting_verification",
    "awaiting_verification_check",
    "check_same_request",
    "completed",
    "failed",
    "lease_expired",
    "lease_taken",
    "may_lease",
    "new_record",
    "released",
    "step_done",
    "submission_accepted",
    "transient_failure",
    "unverified",
    "verification_checked",
    "verified",
]


def _changed(record: AuditRecord, **fields: Any) -> AuditRecord:
    """A copy of ``record`` with ``fields`` replaced (the original is left as it was). Every other
    field is an immutable value (str, int, None) except ``steps``, whose records are copied too:
    the result shares nothing mutable with ``record``, at a fraction of a deep copy's cost."""
    if "steps" not in fields:
        fields["steps"] = {name: step.model_copy() for name, step in record.steps.items()}
    return record.model_copy(update=fields)


def _with_step(record: AuditRecord, step: StepName, status: StepRecord) -> dict[StepName, StepRecord]:
    """``record``'s steps (copies) with ``step`` set to ``status``."""
    steps = {name: existing.model_copy() for name, existing in record.steps.items()}
    steps[step] = status
    return steps


def new_record(
    request: DeletionRequest,
    now: datetime,
    *,
    subject_hash: str,
    lease_seconds: float,
    lease_token: str,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> AuditRecord:
    """The first record of ``request``: every step pending, one attempt, leased to the caller
    (``lease_token``) until ``lease_seconds`` after ``now``."""
    return AuditRecord(
        request_id=request.request_id,
        subject_hash=subject_hash,
        identifier_type=request.identifier_type or infer_identifier_type(request.identifier),
        action=request.action,
        regulation=request.regulation,
        steps={step: StepRecord() for step in request.steps},
        status="received",
        attempts=1,
        requested_at=iso(request.requested_at),
        received_at=iso(now),
        updated_at=iso(now),
        deadline=iso(request.deadline),
        lease_until=iso(now + timedelta(seconds=lease_seconds)),
        lease_token=lease_token,
        expires_at=expiry_for(now, retention_days),
    )


def check_same_request(existing: AuditRecord, new: AuditRecord) -> None:
    """Raise AuditConflictError unless ``new`` is the same request as ``existing``: the same
    subject (hashes compared in constant time) and the same action."""
    if not hmac.compare_digest(existing.subject_hash.encode("ascii"), new.subject_hash.encode("ascii")):
        raise AuditConflictError(new.request_id, "subject")
    if existing.action != new.action:
        raise AuditConflictError(new.request_id, "action")


def lease_expired(record: AuditRecord, now: datetime) -> bool:
    """True when no lease on ``record`` is unexpired at ``now`` (none, or ``lease_until`` past)."""
    return record.lease_until is None or record.lease_until <= iso(now)


def may_lease(record: AuditRecord, now: datetime) -> bool:
    """True when an invocation may take the lease on ``record`` at ``now``: it is unfinished and
    no other lease on it is unexpired."""
    return not record.finished and lease_expired(record, now)


def lease_taken(record: AuditRecord, now: datetime, *, lease_seconds: float, lease_token: str) -> AuditRecord:
    """``record`` leased again (call only when ``may_lease``): one more attempt, the lease
    ``lease_token`` until ``lease_seconds`` after ``now``; a ``failed`` status (an operator
    redrove the message) is lifted to ``in_progress`` and its ``failure_reason`` cleared."""
    status: RecordStatus = "in_progress" if record.status == "failed" else record.status
    return _changed(
        record,
        attempts=record.attempts + 1,
        lease_until=iso(now + timedelta(seconds=lease_seconds)),
        lease_token=lease_token,
        status=status,
        updated_at=iso(now),
        failure_reason=None,
    )


def step_done(record: AuditRecord, step: StepName, status_code: int | None, now: datetime) -> AuditRecord:
    """``step`` recorded done with Customer.io's status code: it is never called again."""
    return _changed(
        record,
        steps=_with_step(record, step, StepRecord(status="done", status_code=status_code, at=iso(now))),
        status="in_progress",
        last_status_code=status_code,
        updated_at=iso(now),
    )


def submission_accepted(
    record: AuditRecord,
    step: StepName,
    status_code: int | None,
    customerio_request_id: str | None,
    now: datetime,
) -> AuditRecord:
    """Customer.io accepted the request's operation ``step`` (a 200, or a 207 that names no error
    for it): the step done with the status code and Customer.io's request id, ``submitted_at``.
    The step is never sent again. The lease is kept: ``completed`` or ``awaiting_verification``
    follows (in the same write when nothing is scheduled in between)."""
    done = StepRecord(
        status="done", status_code=status_code, customerio_request_id=customerio_request_id, at=iso(now)
    )
    return _changed(
        record,
        steps=_with_step(record, step, done),
        status="in_progress",
        submitted_at=iso(now),
        last_status_code=status_code,
        updated_at=iso(now),
    )


def awaiting_verification(
    record: AuditRecord, now: datetime, *, retention_days: int = DEFAULT_RETENTION_DAYS
) -> AuditRecord:
    """The accepted request waits for its verification (the checks are scheduled): status
    ``submitted``, verification ``pending``, the retention period counted from ``now``, the lease
    and any ``failure_reason`` cleared. No message of the request calls Customer.io again."""
    return _changed(
        record,
        status="submitted",
        verification="pending",
        updated_at=iso(now),
        expires_at=expiry_for(now, retention_days),
        lease_until=None,
        lease_token=None,
        failure_reason=None,
    )


def transient_failure(
    record: AuditRecord,
    step: StepName,
    status_code: int | None,
    reason: str,
    now: datetime,
    *,
    customerio_request_id: str | None = None,
) -> AuditRecord:
    """A failure a retry may fix (``reason`` a short code such as ``customerio_503``): ``step``
    stays pending with the status code, and the lease is given back (expires at ``now``)."""
    pending = StepRecord(
        status="pending", status_code=status_code, customerio_request_id=customerio_request_id, at=iso(now)
    )
    return _changed(
        record,
        steps=_with_step(record, step, pending),
        status="in_progress",
        last_status_code=status_code,
        last_error=reason,
        updated_at=iso(now),
        lease_until=iso(now),
        lease_token=None,
    )


def released(record: AuditRecord, reason: str, now: datetime) -> AuditRecord:
    """The lease given back without touching the steps (``reason`` kept as the last error)."""
    return _changed(record, last_error=reason, updated_at=iso(now), lease_until=iso(now), lease_token=None)


def failed(
    record: AuditRecord,
    reason: str,
    now: datetime,
    *,
    step: StepName | None = None,
    status_code: int | None = None,
    customerio_request_id: str | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> AuditRecord:
    """A permanent failure: status ``failed`` with ``failure_reason`` (and ``step`` failed with
    its status code and Customer.io's request id, when given), the retention period counted from
    ``now``, the lease given back. A later delivery of the same request (an operator's redrive)
    may lease it again."""
    fields: dict[str, Any] = {
        "status": "failed",
        "failure_reason": reason,
        "updated_at": iso(now),
        "lease_until": iso(now),
        "lease_token": None,
        "expires_at": expiry_for(now, retention_days),
    }
    if step is not None:
        fields["steps"] = _with_step(
            record,
            step,
            StepRecord(
                status="failed",
                status_code=status_code,
                customerio_request_id=customerio_request_id,
                at=iso(now),
            ),
        )
        fields["last_status_code"] = status_code
    return _changed(record, **fields)


def completed(
    record: AuditRecord,
    now: datetime,
    *,
    verification: Verification | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> AuditRecord:
    """The request completed at ``now``: ``completed_at`` set, ``expires_at`` moved to the
    retention period after completion, the lease and any ``failure_reason`` cleared;
    ``verification`` set when given (``not_verified`` when nothing verifies erasures)."""
    fields: dict[str, Any] = {} if verification is None else {"verification": verification}
    return _changed(
        record,
        **fields,
        status="completed",
        completed_at=iso(now),
        updated_at=iso(now),
        expires_at=expiry_for(now, retention_days),
        lease_until=None,
        lease_token=None,
        failure_reason=None,
    )


def awaiting_verification_check(record: AuditRecord) -> bool:
    """True while the verifier may still write ``record``: submitted, verification pending."""
    return record.status == "submitted" and record.verification == "pending"


def verification_checked(record: AuditRecord, now: datetime, *, checks: int) -> AuditRecord:
    """A check at ``now`` found the person still there; ``checks`` checks made so far."""
    return _changed(record, verification_checks=max(record.verification_checks, checks), updated_at=iso(now))


def verified(
    record: AuditRecord, now: datetime, *, checks: int, retention_days: int = DEFAULT_RETENTION_DAYS
) -> AuditRecord:
    """Check number ``checks`` at ``now`` found the person gone: the erasure is done and proved
    (status ``completed``, verification ``verified``, ``verified_at`` and ``completed_at``)."""
    return _changed(
        record,
        status="completed",
        verification="verified",
        verified_at=iso(now),
        completed_at=iso(now),
        verification_checks=max(record.verification_checks, checks),
        updated_at=iso(now),
        expires_at=expiry_for(now, retention_days),
    )


def unverified(
    record: AuditRecord,
    reason: str,
    now: datetime,
    *,
    checks: int,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> AuditRecord:
    """The verification window ended at ``now`` without proof that the person is gone: status and
    verification ``unverified``, ``reason`` (``still_present``, or why the App API gave no answer,
    ``app_api_401``...) in ``last_error``."""
    return _changed(
        record,
        status="unverified",
        verification="unverified",
        last_error=reason,
        verification_checks=max(record.verification_checks, checks),
        updated_at=iso(now),
        expires_at=expiry_for(now, retention_days),
    )
