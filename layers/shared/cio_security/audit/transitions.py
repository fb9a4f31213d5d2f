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
- ``dead_lettered``: the request's message went to the dead-letter queue (no lease involved).
- ``discarded``: an operator discarded that dead letter (no lease involved; never deleted).

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
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from cio_security.audit.record import (
    DEFAULT_RETENTION_DAYS,
    AuditRecord,
    RecordStatus,
    StepName,
    StepRecord,
    StepStatus,
    Verification,
    WorkspaceState,
    expiry_for,
    iso,
    submission_step,
)
from cio_security.deletion.request import DeletionRequest, infer_identifier_type
from cio_security.errors import AuditConflictError
from cio_security.workspaces import DEFAULT_WORKSPACE

__all__ = [
    "awaiting_verification",
    "awaiting_verification_check",
    "check_same_request",
    "check_same_targets",
    "completed",
    "dead_lettered",
    "discarded",
    "failed",
    "lease_expired",
    "lease_taken",
    "may_lease",
    "new_record",
    "released",
    "settled",
    "step_done",
    "submission_accepted",
    "transient_failure",
    "unverified",
    "verification_checked",
    "verification_scheduled",
    "verified",
    "workspace_accepted",
    "workspace_completed",
    "workspace_not_accepted",
]


_REDRIVABLE: frozenset[RecordStatus] = frozenset({"failed", "dead_lettered", "discarded"})
"""Statuses a later delivery of the request (an operator's redrive) lifts back to ``in_progress``."""


_PARKED: frozenset[RecordStatus] = frozenset({"dead_lettered", "discarded"})
"""Statuses no workspace's write changes until a redelivery leases the request again."""


def _changed(record: AuditRecord, **fields: Any) -> AuditRecord:
    """A copy of ``record`` with ``fields`` replaced and its ``revision`` counted up (the original is
    left as it was). Every other field is an immutable value (str, int, None) except ``steps`` and
    ``workspaces``, whose records are copied too: the result shares nothing mutable with
    ``record``, at a fraction of a deep copy's cost."""
    if "steps" not in fields:
        fields["steps"] = {name: step.model_copy() for name, step in record.steps.items()}
    if "workspaces" not in fields:
        fields["workspaces"] = {name: _copy_state(state) for name, state in record.workspaces.items()}
    fields["revision"] = record.revision + 1
    return record.model_copy(update=fields)


def _copy_state(state: WorkspaceState) -> WorkspaceState:
    return state.model_copy(update={"steps": {n: s.model_copy() for n, s in state.steps.items()}})


def _with_step(record: AuditRecord, step: StepName, status: StepRecord) -> dict[StepName, StepRecord]:
    """``record``'s steps (copies) with ``step`` set to ``status``."""
    steps = {name: existing.model_copy() for name, existing in record.steps.items()}
    steps[step] = status
    return steps


# -- workspaces ----------------------------------------------------------------------------------------


def _workspace_name(record: AuditRecord, workspace: str | None) -> str:
    """The workspace a transition applies to: ``workspace``, or the record's only one (a record
    written before workspaces existed: ``DEFAULT_WORKSPACE``, unless named)."""
    if workspace is not None:
        return workspace
    if not record.workspaces:
        return DEFAULT_WORKSPACE
    if len(record.workspaces) != 1:
        raise ValueError("the request targets several workspaces: name the one to change")
    return next(iter(record.workspaces))


def _state(record: AuditRecord, name: str) -> WorkspaceState:
    """A copy of workspace ``name``'s state (a record without workspaces is ``name``'s)."""
    return _copy_state(record.workspace(name, primary=name))


_STEP_RANK: Final[Mapping[str, int]] = {"failed": 2, "pending": 1, "done": 0}


def _derived(record: AuditRecord, states: Mapping[str, WorkspaceState], now: datetime) -> dict[str, Any]:
    """The request-level fields that follow from the workspaces' ``states``:

    - ``steps``: each step the worst of its workspaces' (failed, then pending, then done; the
      latest of equals), so a step is done only when every workspace's is;
    - ``status``: ``failed`` when a workspace failed; ``completed`` when every workspace is completed
      (``unverified`` when one of them ended unverified); ``submitted`` when every workspace was
      accepted and each is done or awaiting its verification; else ``in_progress``;
    - ``verification``: None until every workspace has one; ``pending`` while one is pending;
      ``unverified`` when one is; ``verified`` when all are; else ``not_verified``;
    - ``submitted_at``: when the last workspace was accepted (None until all were);
    - ``verified_at``: when the last was verified, once all are; ``verification_checks``: the sum;
    - ``completed_at``: ``now`` when the request becomes completed (kept once it is).
    """
    steps = {name: step.model_copy() for name, step in record.steps.items()}
    names = {step for state in states.values() for step in state.steps}
    for step in names:
        candidates = [state.steps[step] for state in states.values() if step in state.steps]
        if len(candidates) < len(states):
            candidates.append(StepRecord())
        steps[step] = max(candidates, key=lambda s: (_STEP_RANK[s.status], s.at or "")).model_copy()
    values = list(states.values())
    accepted = all(state.accepted for state in values)
    status: RecordStatus
    if any(state.status == "failed" for state in values):
        status = "failed"
    elif all(state.done for state in values):
        status = "unverified" if any(state.status == "unverified" for state in values) else "completed"
    elif accepted and all(state.done or state.awaiting_verification for state in values):
        status = "submitted"
    else:
        status = "in_progress"
    verifications = [state.verification for state in values]
    verification: Verification | None
    if any(v is None for v in verifications):
        verification = None
    elif "pending" in verifications:
        verification = "pending"
    elif "unverified" in verifications:
        verification = "unverified"
    elif all(v == "verified" for v in verifications):
        verification = "verified"
    else:
        verification = "not_verified"
    verified_times = [state.verified_at for state in values if state.verified_at]
    submitted_times = [state.submitted_at for state in values if state.submitted_at]
    completed_at = record.completed_at if record.status == "completed" else None
    if status == "completed" and completed_at is None:
        completed_at = iso(now)
    return {
        "steps": steps,
        "status": status,
        "verification": verification,
        "submitted_at": max(submitted_times) if accepted and submitted_times else None,
        "verified_at": max(verified_times) if verification == "verified" and verified_times else None,
        "verification_checks": sum(state.verification_checks for state in values),
        "completed_at": completed_at if status in {"completed", "unverified"} else record.completed_at,
    }


def _with_workspace(
    record: AuditRecord, name: str, state: WorkspaceState, now: datetime, **fields: Any
) -> AuditRecord:
    """``record`` with workspace ``name`` in ``state``, the request-level fields derived again
    (``_derived``), then ``fields`` set over them."""
    states = {n: _copy_state(s) for n, s in record.workspaces.items()}
    states[name] = state
    derived = _derived(record, states, now)
    if record.status in _PARKED and derived["status"] in {"failed", "in_progress"}:
        # A verifier's write to a dead-lettered request's accepted workspace leaves it dead-lettered.
        derived["status"] = record.status
    return _changed(record, workspaces=states, **(derived | {"updated_at": iso(now)} | fields))


def _step_record(
    status: StepStatus, status_code: int | None, customerio_request_id: str | None, now: datetime
) -> StepRecord:
    return StepRecord(
        status=status, status_code=status_code, customerio_request_id=customerio_request_id, at=iso(now)
    )


def workspace_accepted(
    record: AuditRecord,
    workspace: str,
    step: StepName,
    now: datetime,
    *,
    status_code: int | None,
    customerio_request_id: str | None,
    verified: bool,
) -> AuditRecord:
    """Customer.io accepted ``workspace``'s operation ``step``: the step done with the status code
    and Customer.io's request id, ``submitted_at``; the workspace is never sent to again. Without a
    verifier for it (``verified`` False) it is completed at once with verification
    ``not_verified``; otherwise it is ``submitted`` and its checks are yet to be scheduled. The
    lease is untouched (``settled`` ends the delivery)."""
    state = _state(record, workspace)
    state.steps[step] = _step_record("done", status_code, customerio_request_id, now)
    state.status, state.submitted_at = "submitted", iso(now)
    state.status_code, state.customerio_request_id = status_code, customerio_request_id
    state.attempts += 1
    state.failure_reason = state.last_error = None
    if not verified:
        state.status, state.verification, state.completed_at = "completed", "not_verified", iso(now)
    return _with_workspace(record, workspace, state, now, last_status_code=status_code)


def workspace_not_accepted(
    record: AuditRecord,
    workspace: str,
    reason: str,
    now: datetime,
    *,
    permanent: bool,
    step: StepName | None = None,
    status_code: int | None = None,
    customerio_request_id: str | None = None,
) -> AuditRecord:
    """``workspace``'s operation was not accepted (``reason``). ``permanent``: the workspace is
    ``failed`` (its ``step`` failed, when a call carried it); otherwise it stays ``pending`` with
    the last error (its ``step`` pending with the status code, when a call carried it). Workspaces
    already accepted are untouched. The lease is untouched (``settled`` ends the delivery)."""
    state = _state(record, workspace)
    if step is not None:
        state.steps[step] = _step_record(
            "failed" if permanent else "pending", status_code, customerio_request_id, now
        )
        state.attempts += 1
        state.status_code = status_code
        state.customerio_request_id = customerio_request_id
    state.last_error = reason
    if permanent:
        state.status, state.failure_reason = "failed", reason
    fields: dict[str, Any] = {"last_error": reason}
    if step is not None:
        fields["last_status_code"] = status_code
    return _with_workspace(record, workspace, state, now, **fields)


def workspace_completed(
    record: AuditRecord, workspace: str, now: datetime, *, verification: Verification
) -> AuditRecord:
    """``workspace`` (accepted) is done: ``completed`` with ``verification`` (``not_verified`` when
    nothing verifies its erasures). The lease is untouched (``settled`` ends the delivery)."""
    state = _state(record, workspace)
    state.status, state.verification, state.completed_at = "completed", verification, iso(now)
    return _with_workspace(record, workspace, state, now)


def verification_scheduled(record: AuditRecord, workspaces: Sequence[str], now: datetime) -> AuditRecord:
    """The checks of ``workspaces`` (accepted) are scheduled: their verification is ``pending``."""
    for name in workspaces:
        state = _state(record, name)
        state.verification = "pending"
        record = _with_workspace(record, name, state, now)
    return record


def settled(
    record: AuditRecord,
    now: datetime,
    *,
    reason: str | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> AuditRecord:
    """The end of a delivery: the lease given back and the request's status as its workspaces
    make it (``_derived``). ``failed`` (a workspace failed for good; ``failure_reason`` that
    workspace's reason), ``completed``/``unverified`` and ``submitted`` restart the retention
    period; ``in_progress`` (a workspace is to be sent again) keeps ``reason`` or the workspaces'
    last error as ``last_error`` for the redelivery."""
    states = record.workspace_states() if record.workspaces else {}
    if not states:
        return released(record, reason or "released", now)
    derived = _derived(record, states, now)
    fields: dict[str, Any] = derived | {"updated_at": iso(now), "lease_token": None}
    status = derived["status"]
    if status == "in_progress":
        fields["lease_until"] = iso(now)
        errors = [s.last_error for s in states.values() if not s.accepted and s.last_error]
        fields["last_error"] = reason or (errors[0] if errors else record.last_error)
        return _changed(record, **fields)
    fields["lease_until"] = None if status != "failed" else iso(now)
    fields["expires_at"] = expiry_for(now, retention_days)
    if status == "failed":
        failures = [s.failure_reason for s in states.values() if s.status == "failed" and s.failure_reason]
        fields["failure_reason"] = failures[0] if failures else (reason or "failed")
    else:
        fields["failure_reason"] = None
    return _changed(record, **fields)


# -- the request ---------------------------------------------------------------------------------------


def new_record(
    request: DeletionRequest,
    now: datetime,
    *,
    subject_hash: str,
    lease_seconds: float,
    lease_token: str,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    workspaces: Sequence[str] = (DEFAULT_WORKSPACE,),
) -> AuditRecord:
    """The first record of ``request``: every step of every targeted workspace (``workspaces``)
    pending, one attempt, leased to the caller (``lease_token``) until ``lease_seconds`` after
    ``now``."""
    if not workspaces:
        raise ValueError("a request targets at least one workspace")
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
        workspaces={
            name: WorkspaceState(steps={step: StepRecord() for step in request.steps}) for name in workspaces
        },
        workspaces_named=request.workspaces is not None,
    )


def check_same_request(existing: AuditRecord, new: AuditRecord) -> None:
    """Raise AuditConflictError unless ``new`` is the same request as ``existing``: the same
    subject (hashes compared in constant time) and the same action."""
    if not hmac.compare_digest(existing.subject_hash.encode("ascii"), new.subject_hash.encode("ascii")):
        raise AuditConflictError(new.request_id, "subject")
    if existing.action != new.action:
        raise AuditConflictError(new.request_id, "action")


def check_same_targets(
    existing: AuditRecord,
    targets: Sequence[str],
    *,
    named: bool,
    primary: str = DEFAULT_WORKSPACE,
) -> None:
    """Raise AuditConflictError(..., "workspaces") unless a later message of ``existing``'s request
    targets the workspaces its first delivery fixed (DESIGN section 8). ``targets`` is the message's
    resolved set: its ``workspaces`` (``named``), or every workspace the stack is configured with
    (not ``named``: the message has no ``workspaces``). Order does not matter.

    - A record with a per-workspace map targets the map's workspaces: any other resolved set is a
      conflict, whether the message names it or not (a message without ``workspaces`` means every
      configured workspace, so after ``["prod-us"]`` it is a conflict on a stack of two).
    - A record whose first message did not name its workspaces (``workspaces_named`` False, or
      None: a record that does not say, so the lenient reading) is no conflict with a later message
      that does not either: it means what the first one meant, the
      set the record holds, even on a stack that has gained a workspace since (a redrive finishes
      the request where it started). Naming a set is compared as above.
    - A record written before workspaces existed (no map) targets ``primary`` alone. A message
      without ``workspaces`` is no conflict with it whatever the stack is configured with now
      (it means what it meant when the record was written: a stack that gained a workspace
      since still finishes, or redrives, the old request in the primary alone); a message naming
      anything but exactly ``primary`` is a conflict.

    Names never appear in the error's text (they come from the message's producer)."""
    if existing.workspaces and existing.workspaces_named is not True and not named:
        return
    if existing.workspaces:
        recorded = set(existing.workspaces)
    elif named:
        recorded = {primary}
    else:
        return
    if set(targets) != recorded:
        raise AuditConflictError(existing.request_id, "workspaces")


def lease_expired(record: AuditRecord, now: datetime) -> bool:
    """True when no lease on ``record`` is unexpired at ``now`` (none, or ``lease_until`` past)."""
    return record.lease_until is None or record.lease_until <= iso(now)


def may_lease(record: AuditRecord, now: datetime) -> bool:
    """True when an invocation may take the lease on ``record`` at ``now``: it is unfinished and
    no other lease on it is unexpired."""
    return not record.finished and lease_expired(record, now)


def lease_taken(record: AuditRecord, now: datetime, *, lease_seconds: float, lease_token: str) -> AuditRecord:
    """``record`` leased again (call only when ``may_lease``): one more attempt, the lease
    ``lease_token`` until ``lease_seconds`` after ``now``; a ``failed``, ``dead_lettered`` or
    ``discarded`` status (an operator redrove the message) is lifted to ``in_progress`` and its
    ``failure_reason`` cleared, and a workspace that failed for good is ``pending`` again (the
    workspaces already accepted stay accepted: they are never sent to again)."""
    status: RecordStatus = "in_progress" if record.status in _REDRIVABLE else record.status
    fields: dict[str, Any] = {}
    if any(state.status == "failed" for state in record.workspaces.values()):
        states = {name: _copy_state(state) for name, state in record.workspaces.items()}
        for state in states.values():
            if state.status == "failed":
                state.status, state.failure_reason = "pending", None
                state.steps = {
                    n: step.model_copy(update={"status": "pending"}) if step.status == "failed" else step
                    for n, step in state.steps.items()
                }
        fields["workspaces"] = states
        fields["steps"] = _derived(record, states, now)["steps"]
    return _changed(
        record,
        **fields,
        attempts=record.attempts + 1,
        lease_until=iso(now + timedelta(seconds=lease_seconds)),
        lease_token=lease_token,
        status=status,
        updated_at=iso(now),
        failure_reason=None,
    )


def step_done(
    record: AuditRecord,
    step: StepName,
    status_code: int | None,
    now: datetime,
    *,
    workspace: str | None = None,
) -> AuditRecord:
    """``step`` of ``workspace`` (None: the record's only one) recorded done with Customer.io's
    status code: it is never called again."""
    name = _workspace_name(record, workspace)
    state = _state(record, name)
    state.steps[step] = StepRecord(status="done", status_code=status_code, at=iso(now))
    state.status_code = status_code
    if state.status == "pending" and step == submission_step(record.action):
        state.status = "submitted"
    return _with_workspace(record, name, state, now, status="in_progress", last_status_code=status_code)


def submission_accepted(
    record: AuditRecord,
    step: StepName,
    status_code: int | None,
    customerio_request_id: str | None,
    now: datetime,
    *,
    workspace: str | None = None,
) -> AuditRecord:
    """Customer.io accepted the request's operation ``step`` in ``workspace`` (None: the record's
    only one; a 200, or a 207 that names no error for it): ``workspace_accepted``, its checks yet to
    be scheduled. The lease is kept: ``completed`` or ``awaiting_verification`` follows (in the
    same write when nothing is scheduled in between)."""
    name = _workspace_name(record, workspace)
    return workspace_accepted(
        record,
        name,
        step,
        now,
        status_code=status_code,
        customerio_request_id=customerio_request_id,
        verified=True,
    )


def awaiting_verification(
    record: AuditRecord,
    now: datetime,
    *,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    workspace: str | None = None,
) -> AuditRecord:
    """The accepted request waits for its verification (the checks of ``workspace``, None: every
    accepted workspace without a verification yet, are scheduled): status ``submitted`` (once
    every workspace is accepted), verification ``pending``, the retention period counted from
    ``now``, the lease and any ``failure_reason`` cleared. No message of the request calls
    Customer.io again."""
    if workspace is not None:
        names = [workspace]
    else:
        names = [n for n, s in _states(record).items() if s.accepted and s.verification is None]
    return settled(verification_scheduled(record, names, now), now, retention_days=retention_days)


def _states(record: AuditRecord) -> dict[str, WorkspaceState]:
    name = _workspace_name(record, None) if not record.workspaces else None
    return record.workspace_states(name or DEFAULT_WORKSPACE)


def transient_failure(
    record: AuditRecord,
    step: StepName,
    status_code: int | None,
    reason: str,
    now: datetime,
    *,
    customerio_request_id: str | None = None,
    workspace: str | None = None,
) -> AuditRecord:
    """A failure a retry may fix (``reason`` a short code such as ``customerio_503``): ``step`` of
    ``workspace`` (None: the record's only one) stays pending with the status code, and the lease
    is given back (expires at ``now``)."""
    name = _workspace_name(record, workspace)
    state = _state(record, name)
    state.steps[step] = _step_record("pending", status_code, customerio_request_id, now)
    state.status_code, state.customerio_request_id = status_code, customerio_request_id
    state.last_error = reason
    state.attempts += 1
    return _with_workspace(
        record,
        name,
        state,
        now,
        status="in_progress",
        last_status_code=status_code,
        last_error=reason,
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
    workspace: str | None = None,
) -> AuditRecord:
    """A permanent failure: status ``failed`` with ``failure_reason`` (and ``step`` of
    ``workspace``, None: the record's only one, failed with its status code and Customer.io's
    request id, when given), the retention period counted from ``now``, the lease given back. A
    later delivery of the same request (an operator's redrive) may lease it again."""
    fields: dict[str, Any] = {
        "status": "failed",
        "failure_reason": reason,
        "updated_at": iso(now),
        "lease_until": iso(now),
        "lease_token": None,
        "expires_at": expiry_for(now, retention_days),
    }
    if step is None:
        return _changed(record, **fields)
    name = _workspace_name(record, workspace)
    state = _state(record, name)
    state.steps[step] = _step_record("failed", status_code, customerio_request_id, now)
    state.status, state.failure_reason, state.last_error = "failed", reason, reason
    state.status_code, state.customerio_request_id = status_code, customerio_request_id
    state.attempts += 1
    fields["last_status_code"] = status_code
    return _with_workspace(record, name, state, now, **fields)


def completed(
    record: AuditRecord,
    now: datetime,
    *,
    verification: Verification | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    workspace: str | None = None,
) -> AuditRecord:
    """``workspace`` (None: the record's only one) completed at ``now``, and with it the request
    once every workspace is: ``completed_at`` set, ``expires_at`` moved to the retention period
    after completion, the lease and any ``failure_reason`` cleared; ``verification`` set when given
    (``not_verified`` when nothing verifies erasures)."""
    name = _workspace_name(record, workspace)
    state = _state(record, name)
    state.status, state.completed_at = "completed", iso(now)
    if verification is not None:
        state.verification = verification
    return _with_workspace(
        record,
        name,
        state,
        now,
        expires_at=expiry_for(now, retention_days),
        lease_until=None,
        lease_token=None,
        failure_reason=None,
    )


# -- the erasure verifier's ------------------------------------------------------------------------------


def awaiting_verification_check(record: AuditRecord, workspace: str | None = None) -> bool:
    """True while the verifier may still write ``record``'s ``workspace`` (None: any of them):
    accepted, verification pending."""
    states = _states(record)
    if workspace is None:
        return any(state.awaiting_verification for state in states.values())
    if not record.workspaces:
        return record.workspace(workspace, primary=workspace).awaiting_verification
    state = states.get(workspace)
    return state is not None and state.awaiting_verification


def verification_checked(
    record: AuditRecord, now: datetime, *, checks: int, workspace: str | None = None
) -> AuditRecord:
    """A check at ``now`` found the person still there in ``workspace`` (None: the record's only
    one); ``checks`` checks of it made so far."""
    name = _workspace_name(record, workspace)
    state = _state(record, name)
    state.verification_checks = max(state.verification_checks, checks)
    return _with_workspace(record, name, state, now)


def verified(
    record: AuditRecord,
    now: datetime,
    *,
    checks: int,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    workspace: str | None = None,
) -> AuditRecord:
    """Check number ``checks`` at ``now`` found the person gone from ``workspace`` (None: the
    record's only one): that workspace is done and proved (``completed``, ``verified``,
    ``verified_at``); the request is ``completed`` once every workspace is."""
    name = _workspace_name(record, workspace)
    state = _state(record, name)
    state.status, state.verification = "completed", "verified"
    state.verified_at = state.completed_at = iso(now)
    state.verification_checks = max(state.verification_checks, checks)
    return _with_workspace(record, name, state, now, expires_at=expiry_for(now, retention_days))


def unverified(
    record: AuditRecord,
    reason: str,
    now: datetime,
    *,
    checks: int,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    workspace: str | None = None,
) -> AuditRecord:
    """The verification window of ``workspace`` (None: the record's only one) ended at ``now``
    without proof that the person is gone: that workspace ``unverified`` with ``reason``
    (``still_present``, or why the App API gave no answer, ``app_api_401``...); the request is
    ``unverified`` once every workspace is done, with ``reason`` in ``last_error``."""
    name = _workspace_name(record, workspace)
    state = _state(record, name)
    state.status, state.verification, state.last_error = "unverified", "unverified", reason
    state.verification_checks = max(state.verification_checks, checks)
    return _with_workspace(
        record, name, state, now, last_error=reason, expires_at=expiry_for(now, retention_days)
    )


def dead_lettered(
    record: AuditRecord, reason: str, now: datetime, *, retention_days: int = DEFAULT_RETENTION_DAYS
) -> AuditRecord:
    """The request's message went to the dead-letter queue with ``reason``: status
    ``dead_lettered``, ``failure_reason``, the retention period counted from ``now``. A record
    Customer.io already accepted (``finished``) keeps its status: nothing was lost."""
    if record.finished:
        return _changed(record, updated_at=iso(now))
    return _changed(
        record,
        status="dead_lettered",
        failure_reason=reason,
        updated_at=iso(now),
        expires_at=expiry_for(now, retention_days),
    )


def discarded(
    record: AuditRecord, reason: str, now: datetime, *, retention_days: int = DEFAULT_RETENTION_DAYS
) -> AuditRecord:
    """An operator discarded the request's dead letter (``reason``): ``discarded_at`` and
    ``discard_reason``, the retention period counted from ``now`` (the record is never deleted),
    and status ``discarded`` unless Customer.io already accepted the erasure (a ``finished``
    record keeps its status: the erasure stands, only its stale dead letter went)."""
    fields: dict[str, Any] = {} if record.finished else {"status": "discarded"}
    return _changed(
        record,
        **fields,
        discarded_at=iso(now),
        discard_reason=reason,
        updated_at=iso(now),
        expires_at=expiry_for(now, retention_days),
    )
