"""Per-workspace state in an audit record: the request-level fields derived from the workspaces,
records written before workspaces existed (the primary workspace's state), the storage of the
workspace map on each backend, and properties over any order of per-workspace outcomes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cio_security.audit import transitions
from cio_security.audit.base import AuditBackend
from cio_security.audit.record import AuditRecord, StepRecord, attribute_value, iso, subject_hash
from cio_security.deletion.request import DeletionRequest
from cio_security.errors import AuditConflictError, LeaseHeldError
from cio_security.workspaces import DEFAULT_WORKSPACE
from fixtures.audit import MemoryAuditStore

from .conftest import PEPPER, START

US, EU, APAC = "prod-us", "prod-eu", "prod-apac"
LATER = START + timedelta(seconds=5)


def request(request_id: str = "dsar-ws-unit") -> DeletionRequest:
    return DeletionRequest.model_validate(
        {"request_id": request_id, "identifier": "cust-ws-1", "requested_at": "2026-11-28T10:00:00Z"}
    )


def new(workspaces: tuple[str, ...] = (US, EU)) -> AuditRecord:
    req = request()
    return transitions.new_record(
        req,
        START,
        subject_hash=subject_hash("id", req.identifier, PEPPER),
        lease_seconds=60,
        lease_token="t1",
        workspaces=workspaces,
    )


def accepted(record: AuditRecord, name: str, *, verified: bool = False) -> AuditRecord:
    return transitions.workspace_accepted(
        record,
        name,
        "suppress",
        LATER,
        status_code=200,
        customerio_request_id=f"cio-{name}",
        verified=verified,
    )


def legacy(**fields: Any) -> AuditRecord:
    """A record as the code before workspaces stored it (no ``workspaces``, no ``revision``)."""
    data = new((US,)).model_dump(mode="json", exclude_none=True, exclude={"workspaces", "revision"})
    data.update(fields)
    item = {name: attribute_value(value) for name, value in data.items()}
    return AuditRecord.from_item(item)


# -- derived request-level fields -----------------------------------------------------------------------


def test_a_new_record_targets_each_workspace_with_its_steps_pending() -> None:
    record = new()
    assert set(record.workspaces) == {US, EU}
    assert all(
        s.status == "pending" and s.steps == {"suppress": StepRecord()} for s in record.workspaces.values()
    )
    assert record.workspace_names() == (EU, US)  # sorted: DynamoDB keeps no order


def test_the_request_completes_only_when_every_workspace_has() -> None:
    one = transitions.settled(accepted(new(), US), LATER)
    assert (one.status, one.submitted_at, one.steps["suppress"].status) == ("in_progress", None, "pending")
    assert one.lease_until == iso(LATER) and one.lease_token is None  # retried for EU
    both = transitions.settled(accepted(one, EU), LATER)
    assert (both.status, both.verification, both.submitted_at) == ("completed", "not_verified", iso(LATER))
    assert both.steps["suppress"].status == "done"
    assert both.completed_at == iso(LATER)
    assert both.lease_until is None


def test_a_permanent_failure_in_one_workspace_fails_the_request_and_keeps_the_other_done() -> None:
    record = transitions.workspace_not_accepted(
        accepted(new(), US), EU, "customerio_401", LATER, permanent=True, step="suppress", status_code=401
    )
    failed = transitions.settled(record, LATER)
    assert (failed.status, failed.failure_reason) == ("failed", "customerio_401")
    assert (failed.workspaces[US].status, failed.workspaces[EU].status) == ("completed", "failed")
    assert failed.steps["suppress"].status == "failed"
    redriven = transitions.lease_taken(failed, LATER, lease_seconds=60, lease_token="t2")
    assert (redriven.status, redriven.failure_reason) == ("in_progress", None)
    assert (redriven.workspaces[US].status, redriven.workspaces[EU].status) == ("completed", "pending")
    assert redriven.workspaces[EU].steps["suppress"].status == "pending"


def test_verification_per_workspace_and_the_request_unverified_only_when_all_are_done() -> None:
    waiting = transitions.settled(
        transitions.verification_scheduled(
            accepted(accepted(new(), US, verified=True), EU, verified=True), [US, EU], LATER
        ),
        LATER,
    )
    assert (waiting.status, waiting.verification) == ("submitted", "pending")
    assert waiting.finished
    eu_unverified = transitions.unverified(waiting, "still_present", LATER, checks=3, workspace=EU)
    assert (eu_unverified.status, eu_unverified.verification) == ("submitted", "pending")  # US still to check
    assert transitions.awaiting_verification_check(eu_unverified, US)
    assert not transitions.awaiting_verification_check(eu_unverified, EU)
    done = transitions.verified(eu_unverified, LATER, checks=1, workspace=US)
    assert (done.status, done.verification, done.last_error) == ("unverified", "unverified", "still_present")
    assert (done.workspaces[US].verification, done.workspaces[EU].verification) == ("verified", "unverified")
    assert done.verification_checks == 4


def test_every_transition_counts_a_revision() -> None:
    record = new()
    assert record.revision == 0
    assert transitions.settled(accepted(record, US), LATER).revision == 2


# -- records written before workspaces ---------------------------------------------------------------


def test_an_old_record_parses_and_is_the_primary_workspaces_state() -> None:
    record = legacy(
        status="submitted",
        verification="pending",
        submitted_at=iso(LATER),
        steps={"suppress": {"status": "done", "status_code": 200, "customerio_request_id": "cio-old"}},
        verification_checks=2,
    )
    assert (record.workspaces, record.revision) == ({}, 0)
    assert record.workspace_names(primary=US) == (US,)
    state = record.workspace(US, primary=US)
    assert (state.status, state.verification, state.submitted_at) == ("submitted", "pending", iso(LATER))
    assert (state.status_code, state.customerio_request_id, state.verification_checks) == (200, "cio-old", 2)
    assert record.workspace(primary=US) == state
    assert transitions.awaiting_verification_check(record, US)
    # The verifier's write turns it into a one-workspace record, completed as before.
    verified = transitions.verified(record, LATER, checks=3, workspace=US)
    assert set(verified.workspaces) == {US}
    assert (verified.status, verified.verification, verified.verified_at) == (
        "completed",
        "verified",
        iso(LATER),
    )
    assert verified.verification_checks == 3


def test_an_old_record_accepted_but_not_yet_scheduled_is_accepted() -> None:
    record = legacy(
        status="in_progress",
        submitted_at=iso(LATER),
        steps={"suppress": {"status": "done", "status_code": 200}},
    )
    assert record.workspace(US, primary=US).accepted
    assert record.submitted and not record.finished


def test_an_old_record_round_trips_through_each_backend(any_store: AuditBackend) -> None:
    stored = new((US,)).model_copy(update={"workspaces": {}, "lease_until": iso(START)})
    any_store._create_record(stored)
    leased = any_store.begin(request(), LATER, stored.subject_hash, 60, workspaces=(US, EU))
    assert leased.workspaces == {}  # the targets stay as first recorded: the primary alone
    assert leased.attempts == 2
    done = any_store.write_held(
        leased, lambda r: transitions.settled(accepted(r, US), LATER, retention_days=any_store.retention_days)
    )
    assert (done.status, set(done.workspaces)) == ("completed", {US})
    assert any_store.get(done.request_id) == done


# -- properties ------------------------------------------------------------------------------------------

WORKSPACES = st.lists(st.sampled_from([US, EU, APAC]), min_size=1, max_size=3, unique=True)
OUTCOME = st.sampled_from(["accepted", "accepted_verified", "retry", "permanent", "not_sent"])
CHECK = st.sampled_from(["verified", "unverified", "checked"])


@settings(max_examples=200, deadline=None)
@given(names=WORKSPACES, data=st.data())
def test_any_order_of_outcomes_completes_the_request_iff_every_workspace_completed(
    names: list[str], data: st.DataObject
) -> None:
    record = new(tuple(names))
    accepted_once: set[str] = set()
    for delivery in range(6):
        record = (
            transitions.lease_taken(record, LATER, lease_seconds=60, lease_token=f"t{delivery}")
            if delivery
            else record
        )
        # The processor sends only to the workspaces not yet accepted.
        to_send = [n for n in names if not record.workspaces[n].accepted]
        assert not set(to_send) & accepted_once  # a done workspace is never sent again
        for name in to_send:
            outcome = data.draw(OUTCOME)
            if outcome.startswith("accepted"):
                record = accepted(record, name, verified=outcome == "accepted_verified")
                accepted_once.add(name)
            elif outcome in {"retry", "permanent", "not_sent"}:
                record = transitions.workspace_not_accepted(
                    record,
                    name,
                    f"customerio_{outcome}",
                    LATER,
                    permanent=outcome == "permanent",
                    step=None if outcome == "not_sent" else "suppress",
                    status_code=None if outcome == "not_sent" else 503,
                )
        scheduled = [
            n for n in names if record.workspaces[n].accepted and record.workspaces[n].verification is None
        ]
        record = transitions.settled(transitions.verification_scheduled(record, scheduled, LATER), LATER)
        for name in [n for n in names if record.workspaces[n].awaiting_verification]:
            check = data.draw(CHECK)
            if check == "verified":
                record = transitions.verified(record, LATER, checks=1, workspace=name)
            elif check == "unverified":
                record = transitions.unverified(record, "still_present", LATER, checks=1, workspace=name)
        final = record.workspaces.values()
        assert (record.status == "completed") == all(s.status == "completed" for s in final)
        assert (record.status == "unverified") == (
            all(s.done for s in final) and any(s.status == "unverified" for s in final)
        )
        assert (record.submitted_at is not None) == all(s.accepted for s in final)
        assert record.finished == all(s.done or s.awaiting_verification for s in final)
        assert accepted_once == {n for n in names if record.workspaces[n].accepted}
        if record.status == "failed":
            break


def test_a_dead_lettered_request_stays_so_while_its_accepted_workspace_is_verified() -> None:
    us_waiting = transitions.verification_scheduled(accepted(new(), US, verified=True), [US], LATER)
    eu_failed = transitions.workspace_not_accepted(
        us_waiting, EU, "customerio_403", LATER, permanent=True, step="suppress", status_code=403
    )
    dead = transitions.dead_lettered(transitions.settled(eu_failed, LATER), "customerio_403", LATER)
    assert (dead.status, dead.failure_reason) == ("dead_lettered", "customerio_403")
    assert transitions.awaiting_verification_check(dead, US)
    verified = transitions.verified(dead, LATER, checks=1, workspace=US)
    assert verified.status == "dead_lettered"
    assert (verified.workspaces[US].verification, verified.workspaces[EU].status) == ("verified", "failed")


# -- the targets are fixed by the first delivery -----------------------------------------------------------


def named(*names: str) -> DeletionRequest:
    """The request of ``request()``, its message naming ``names`` (none: no ``workspaces``)."""
    data = request().model_dump(mode="json", exclude_none=True)
    return DeletionRequest.model_validate(data | ({"workspaces": list(names)} if names else {}))


def stored_as(store: AuditBackend, record: AuditRecord) -> AuditRecord:
    store._create_record(record)
    found = store.get(record.request_id)
    assert found is not None
    return found


def begin_with(store: AuditBackend, req: DeletionRequest, targets: tuple[str, ...]) -> AuditRecord:
    """``begin`` as the processor calls it on a stack of ``US`` (the primary) and ``EU``: ``targets``
    is the message's resolved set (its ``workspaces``, or every configured one)."""
    return store.begin(
        req, LATER, subject_hash("id", req.identifier, PEPPER), 60, workspaces=targets, primary=US
    )


def done(record: AuditRecord, *names: str) -> AuditRecord:
    for name in names:
        record = accepted(record, name)
    return transitions.settled(record, LATER)


@pytest.mark.parametrize(
    ("message", "targets"),
    [((EU,), (EU,)), ((), (US, EU)), ((US, EU), (US, EU))],
    ids=["another-subset", "absent-means-all", "all-named"],
)
def test_a_finished_request_with_another_target_set_is_a_conflict_not_already_done(
    any_store: AuditBackend, message: tuple[str, ...], targets: tuple[str, ...]
) -> None:
    # The first message named its subset (["prod-us"]).
    before = stored_as(any_store, done(new((US,)), US).model_copy(update={"workspaces_named": True}))
    assert before.status == "completed"
    with pytest.raises(AuditConflictError, match="workspaces") as caught:
        begin_with(any_store, named(*message), targets)
    assert EU not in str(caught.value)  # names stay out of the error's text
    assert any_store.get(before.request_id) == before


def test_a_message_without_workspaces_means_what_the_first_one_meant(any_store: AuditBackend) -> None:
    # The first message named none on a one-workspace stack; EU was added since: a redrive without
    # workspaces carries on with the record's set, one naming another set is a conflict.
    before = stored_as(any_store, new((US,)))
    assert before.workspaces_named is False
    with pytest.raises(LeaseHeldError):  # the targets pass; only the first delivery's lease stops it
        begin_with(any_store, named(), (US, EU))
    with pytest.raises(AuditConflictError, match="workspaces"):
        begin_with(any_store, named(US, EU), (US, EU))


def test_a_record_that_does_not_say_whether_its_workspaces_were_named_lets_a_redrive_through(
    any_store: AuditBackend,
) -> None:
    # Written before ``workspaces_named`` existed (None), then a workspace was added: the unchanged
    # body redriven is no conflict (it would otherwise be stuck for good); naming another set is.
    before = stored_as(any_store, new((US,)).model_copy(update={"workspaces_named": None}))
    assert before.workspaces_named is None
    with pytest.raises(LeaseHeldError):  # the targets pass; only the first delivery's lease stops it
        begin_with(any_store, named(), (US, EU))
    with pytest.raises(AuditConflictError, match="workspaces"):
        begin_with(any_store, named(EU), (US, EU))


@pytest.mark.parametrize("status", ["in_progress", "failed", "completed"])
def test_the_same_target_set_named_or_not_is_no_conflict(any_store: AuditBackend, status: str) -> None:
    record = new((US, EU))
    if status == "failed":
        record = transitions.settled(
            transitions.workspace_not_accepted(
                accepted(record, US), EU, "customerio_401", LATER, permanent=True
            ),
            LATER,
        )
    elif status == "completed":
        record = done(record, US, EU)
    else:
        record = transitions.released(record, "customerio_503", START)
    stored_as(any_store, record)
    for message in [(), (EU, US)]:
        got = begin_with(any_store, named(*message), (US, EU))
        assert set(got.workspaces) == {US, EU}
        if got.lease_token is not None:
            any_store.release(got.request_id, "test", LATER, lease_token=got.lease_token)


def test_a_conflict_is_decided_before_a_held_lease() -> None:
    store = MemoryAuditStore()
    held = stored_as(store, new((US, EU)))  # leased until START + 60s
    with pytest.raises(AuditConflictError, match="workspaces"):
        begin_with(store, named(EU), (EU,))
    with pytest.raises(LeaseHeldError):
        begin_with(store, named(), (US, EU))
    assert store.get(held.request_id) == held


# A record written before workspaces existed targets the primary alone.


def old_record(**fields: Any) -> AuditRecord:
    """``legacy``, its lease long expired."""
    return legacy(**({"lease_until": iso(START)} | fields))


def test_an_old_record_goes_on_in_the_primary_for_a_message_without_workspaces(
    any_store: AuditBackend,
) -> None:
    """The stack gained ``EU`` after the record was written: a redelivered or redriven message
    without ``workspaces`` means what it meant when first received, the primary alone."""
    old = stored_as(any_store, old_record(status="dead_lettered", failure_reason="customerio_401"))
    leased = begin_with(any_store, named(), (US, EU))
    assert (leased.status, leased.workspaces, leased.attempts) == ("in_progress", {}, old.attempts + 1)
    assert leased.workspace_names(US) == (US,)


def test_an_old_finished_record_is_already_done_for_a_message_without_workspaces(
    any_store: AuditBackend,
) -> None:
    old = stored_as(
        any_store,
        old_record(
            status="completed",
            verification="not_verified",
            completed_at=iso(LATER),
            steps={"suppress": {"status": "done", "status_code": 200}},
        ),
    )
    assert begin_with(any_store, named(), (US, EU)) == old
    assert begin_with(any_store, named(US), (US,)) == old  # the primary, named


@pytest.mark.parametrize("message", [(EU,), (US, EU)])
def test_an_old_record_named_with_another_set_than_the_primary_is_a_conflict(
    any_store: AuditBackend, message: tuple[str, ...]
) -> None:
    old = stored_as(
        any_store,
        old_record(
            status="completed",
            verification="not_verified",
            completed_at=iso(LATER),
            steps={"suppress": {"status": "done", "status_code": 200}},
        ),
    )
    with pytest.raises(AuditConflictError, match="workspaces"):
        begin_with(any_store, named(*message), message)
    assert any_store.get(old.request_id) == old


def test_on_a_single_workspace_stack_nothing_changes(any_store: AuditBackend) -> None:
    """One workspace, no ``workspaces`` in the messages, as before: an old record and a new one are
    both the primary's, never a conflict."""
    old = stored_as(any_store, old_record(request_id="dsar-old", status="failed"))
    req = DeletionRequest.model_validate(
        {"request_id": "dsar-old", "identifier": "cust-ws-1", "requested_at": "2026-11-28T10:00:00Z"}
    )
    leased = any_store.begin(req, LATER, old.subject_hash, 60)  # the defaults: DEFAULT_WORKSPACE
    assert leased.attempts == old.attempts + 1
    fresh = any_store.begin(request("dsar-new"), LATER, old.subject_hash, 60)
    assert set(fresh.workspaces) == {DEFAULT_WORKSPACE}
    any_store.release("dsar-new", "test", LATER, lease_token=fresh.lease_token)
    again = any_store.begin(request("dsar-new"), LATER, old.subject_hash, 60)
    assert again.attempts == 2
