"""The verification processor across Customer.io workspaces: each ticket checked with its
workspace's App API client, each workspace's outcome recorded on its own (two checks of one request
in one batch, concurrently, never undo each other), the request's event once every workspace is
done, tickets written before workspaces existed, and tickets naming a workspace the request does
not target."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cio_security.audit import transitions
from cio_security.audit.base import ConditionNotMetError, RecordChanges, WriteCondition
from cio_security.audit.record import AuditRecord, subject_hash
from cio_security.deletion.request import DeletionRequest
from cio_security.deletion.routing import PerWorkspace
from cio_security.deletion.verification import VerificationTicket
from fixtures.audit import MemoryAuditStore

from .test_verification_processor import PEPPER, POLICY, FakeAppApi, Harness

US, EU = "prod-us", "prod-eu"


class TwoWorkspaces(Harness):
    """A processor whose lookups are per workspace: ``apps[name]``."""

    def __init__(self, **options: Any) -> None:
        self.apps = {US: FakeAppApi(), EU: FakeAppApi()}
        super().__init__(
            lookup=None,
            workspace_lookups=PerWorkspace([US, EU], self.apps.__getitem__),
            primary=US,
            **options,
        )

    def submit_everywhere(
        self, request_id: str, identifier: str, other: str = EU
    ) -> dict[str, VerificationTicket]:
        """A request accepted in ``prod-us`` and ``other``, both awaiting verification; a ticket for
        each."""
        request = DeletionRequest.model_validate(
            {"request_id": request_id, "identifier": identifier, "requested_at": "2026-11-30T10:00:00Z"}
        )
        now, targets = self.clock(), (US, other)
        record = self.store.begin(
            request, now, subject_hash("id", identifier, PEPPER), 60, workspaces=targets
        )

        def accept(r: Any) -> Any:
            for name in targets:
                r = transitions.workspace_accepted(
                    r, name, "suppress", now, status_code=200, customerio_request_id="c", verified=True
                )
            return transitions.settled(transitions.verification_scheduled(r, targets, now), now)

        self.store.write_held(record, accept)
        return {
            name: POLICY.first_ticket(request_id, "id", identifier, now, workspace=name) for name in targets
        }


def test_each_ticket_is_checked_with_its_workspaces_client_and_recorded_on_its_own() -> None:
    h = TwoWorkspaces(executor=ThreadPoolExecutor(max_workers=4))
    tickets = h.submit_everywhere("dsar-vws-1", "user-vws-1")
    h.apps[EU].present.add(("id", "user-vws-1"))
    h.clock.advance(minutes=15)
    outcomes = h.run(tickets[US], tickets[EU])
    assert [o.kind for o in outcomes] == ["verified", "rescheduled"]
    assert h.apps[US].calls == [("id", ("user-vws-1",))]
    assert h.apps[EU].calls == [("id", ("user-vws-1",))]
    record = h.record("dsar-vws-1")
    assert (record.workspaces[US].verification, record.workspaces[EU].verification) == ("verified", "pending")
    assert record.workspaces[EU].verification_checks == 1
    assert (record.status, record.verification) == ("submitted", "pending")
    assert h.events.published == []  # the request is not done yet
    (sent,) = h.queue.take()
    assert (sent.workspace, sent.checks) == (EU, 1)


def test_two_workspaces_verified_in_one_batch_complete_the_request_once() -> None:
    h = TwoWorkspaces(executor=ThreadPoolExecutor(max_workers=4))
    tickets = h.submit_everywhere("dsar-vws-2", "user-vws-2")
    h.clock.advance(minutes=15)
    assert [o.kind for o in h.run(tickets[US], tickets[EU])] == ["verified", "verified"]
    record = h.record("dsar-vws-2")
    assert (record.status, record.verification) == ("completed", "verified")
    assert {s.verification for s in record.workspaces.values()} == {"verified"}
    assert [(e.kind, e.record.request_id) for e in h.events.published] == [("ErasureVerified", "dsar-vws-2")]


def test_a_ticket_without_a_workspace_is_the_primarys() -> None:
    h = TwoWorkspaces()
    tickets = h.submit_everywhere("dsar-vws-3", "user-vws-3")
    old = VerificationTicket.from_body(tickets[US].model_dump_json(exclude={"workspace"}))
    assert old.workspace is None
    h.clock.advance(minutes=15)
    (outcome,) = h.run(old)
    assert outcome.kind == "verified"
    assert h.apps[US].calls and not h.apps[EU].calls
    assert h.record("dsar-vws-3").workspaces[US].verification == "verified"


def test_a_ticket_for_a_workspace_the_request_does_not_target_is_dead_lettered() -> None:
    h = TwoWorkspaces()
    ticket = h.submit("dsar-vws-4", "user-vws-4")  # a one-workspace ("default") record
    stray = ticket.model_copy(update={"workspace": EU})
    h.clock.advance(minutes=15)
    (outcome,) = h.run(stray)
    assert (outcome.kind, outcome.reason) == ("dead_lettered", "workspace_not_targeted")
    assert h.apps[EU].calls == []


def test_a_workspace_no_longer_configured_gets_no_answer_and_the_other_is_checked() -> None:
    h = TwoWorkspaces()
    tickets = h.submit_everywhere("dsar-vws-5", "user-vws-5", other="prod-apac")
    h.clock.advance(minutes=15)
    outcomes = h.run(tickets[US], tickets["prod-apac"])
    assert [(o.kind, o.reason) for o in outcomes] == [
        ("verified", None),
        ("retry_later", "app_api_configuration"),  # ends unverified with it if never fixed
    ]
    record = h.record("dsar-vws-5")
    assert (record.workspaces[US].verification, record.workspaces["prod-apac"].verification) == (
        "verified",
        "pending",
    )


def test_an_old_record_verified_on_a_stack_whose_primary_is_produs_is_produs_in_its_event() -> None:
    """A record written before workspaces existed (no ``workspaces``), checked on a stack whose
    primary is ``produs``: the record and its event name ``produs``, never ``default``."""
    h = Harness(primary="produs")
    ticket = h.submit("dsar-vws-old", "user-vws-old")
    old = h.record("dsar-vws-old").model_copy(update={"workspaces": {}, "revision": 0})
    h.store._records["dsar-vws-old"] = old  # as the code before workspaces stored it
    assert old.workspace_names("produs") == ("produs",)
    h.clock.advance(minutes=15)
    (outcome,) = h.run(ticket)
    assert outcome.kind == "verified"
    assert set(h.record("dsar-vws-old").workspaces) == {"produs"}
    (event,) = h.events.published
    detail = json.loads(event.entry("bus")["Detail"])
    assert (detail["workspaces"], list(detail["workspace_results"])) == (["produs"], ["produs"])


class RacingStore(MemoryAuditStore):
    """Counts reads, writes and writes refused by their condition. Once ``race()`` is called, each
    write waits (up to ``HOLD_SECONDS``) for a second one before either is applied: two writes the
    processor makes at once always interleave the worst way, one made alone goes on after the
    wait."""

    HOLD_SECONDS = 0.3

    def __init__(self) -> None:
        super().__init__()
        self.reads = self.writes = self.conflicts = 0
        self._barrier: threading.Barrier | None = None
        self._counting = threading.Lock()

    def race(self) -> None:
        self.reads = self.writes = self.conflicts = 0
        self._barrier = threading.Barrier(2, timeout=self.HOLD_SECONDS)

    def _get_record(self, request_id: str) -> AuditRecord | None:
        with self._counting:
            self.reads += 1
        return super()._get_record(request_id)

    def _replace_record(
        self, request_id: str, changes: RecordChanges, condition: WriteCondition
    ) -> AuditRecord:
        if self._barrier is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                self._barrier.wait()
        with self._counting:
            self.writes += 1
        try:
            return super()._replace_record(request_id, changes, condition)
        except ConditionNotMetError:
            with self._counting:
                self.conflicts += 1
            raise


def _racing() -> tuple[TwoWorkspaces, RacingStore]:
    h = TwoWorkspaces(executor=ThreadPoolExecutor(max_workers=4))
    store = RacingStore()
    h.store = h.processor.audit = store
    return h, store


def test_one_requests_workspaces_in_one_batch_are_written_one_after_another_without_conflict() -> None:
    """Both workspaces' checks of one request in one batch: the second write is made over the
    record the first returned, never from the same read (which always conflicts on the revision:
    a failed write and a read more, and with several workspaces tries that could run out)."""
    h, store = _racing()
    tickets = h.submit_everywhere("dsar-vws-seq", "user-vws-seq")
    h.clock.advance(minutes=15)
    store.race()
    assert [o.kind for o in h.run(tickets[US], tickets[EU])] == ["verified", "verified"]
    assert (store.reads, store.writes, store.conflicts) == (2, 2, 0)  # a read per ticket, a write each
    record = h.record("dsar-vws-seq")
    assert (record.status, record.verification) == ("completed", "verified")
    assert [e.record.request_id for e in h.events.published] == ["dsar-vws-seq"]


def test_a_rescheduled_workspaces_check_is_written_over_the_batchs_verification() -> None:
    h, store = _racing()
    tickets = h.submit_everywhere("dsar-vws-seq2", "user-vws-seq2")
    h.apps[EU].present.add(("id", "user-vws-seq2"))
    h.clock.advance(minutes=15)
    store.race()
    assert [o.kind for o in h.run(tickets[US], tickets[EU])] == ["verified", "rescheduled"]
    assert (store.writes, store.conflicts) == (2, 0)
    record = h.record("dsar-vws-seq2")
    assert (record.workspaces[US].verification, record.workspaces[EU].verification) == ("verified", "pending")
    assert record.workspaces[EU].verification_checks == 1


def test_different_requests_in_one_batch_are_still_written_concurrently() -> None:
    h, store = _racing()
    first = h.submit_everywhere("dsar-vws-par1", "user-vws-par1")
    second = h.submit_everywhere("dsar-vws-par2", "user-vws-par2")
    h.clock.advance(minutes=15)
    store.race()
    started = time.monotonic()
    outcomes = h.run(first[US], second[US])
    assert [o.kind for o in outcomes] == ["verified", "verified"]
    # The two writes met at the barrier (concurrent), so neither waited it out.
    assert time.monotonic() - started < RacingStore.HOLD_SECONDS
    assert (store.writes, store.conflicts) == (2, 0)


def test_four_workspaces_verified_in_one_batch_are_all_recorded_at_once() -> None:
    """Written at once from one read, four writes of one request conflict up to three times each:
    the last ran out of tries and came back (``retry``, ``audit_unavailable``) for nothing."""
    names = ["prod-us", "prod-eu", "prod-apac", "prod-ca"]
    apps = {name: FakeAppApi() for name in names}
    h = Harness(
        lookup=None,
        workspace_lookups=PerWorkspace(names, apps.__getitem__),
        primary=names[0],
        executor=ThreadPoolExecutor(max_workers=8),
    )
    h.store = h.processor.audit = MemoryAuditStore(latency=0.01)  # DynamoDB's round trip
    request = DeletionRequest.model_validate(
        {"request_id": "dsar-vws-4ws", "identifier": "user-vws-4ws", "requested_at": "2026-11-30T10:00:00Z"}
    )
    now = h.clock()
    record = h.store.begin(request, now, subject_hash("id", "user-vws-4ws", PEPPER), 60, workspaces=names)

    def accept(r: Any) -> Any:
        for name in names:
            r = transitions.workspace_accepted(
                r, name, "suppress", now, status_code=200, customerio_request_id="c", verified=True
            )
        return transitions.settled(transitions.verification_scheduled(r, names, now), now)

    h.store.write_held(record, accept)
    tickets = [POLICY.first_ticket("dsar-vws-4ws", "id", "user-vws-4ws", now, workspace=n) for n in names]
    h.clock.advance(minutes=15)
    assert [o.kind for o in h.run(*tickets)] == ["verified"] * 4
    done = h.record("dsar-vws-4ws")
    assert (done.status, done.verification) == ("completed", "verified")
    assert len(h.events.published) == 1
