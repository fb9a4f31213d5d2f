"""The verification processor across Customer.io workspaces: each ticket checked with its
workspace's App API client, each workspace's outcome recorded on its own (two checks of one request
in one batch, concurrently, never undo each other), the request's event once every workspace is
done, tickets written before workspaces existed, and tickets naming a workspace the request does
not target."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cio_security.audit import transitions
from cio_security.audit.record import subject_hash
from cio_security.deletion.request import DeletionRequest
from cio_security.deletion.routing import PerWorkspace
from cio_security.deletion.verification import VerificationTicket

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
