"""The deletion processor across several Customer.io workspaces (``WorkspaceRoutes``): one v2 batch
per workspace, a workspace done never sent to again, per-workspace verifiers, unknown or
conflicting workspace subsets, and the routes' lazy clients."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cio_security.deletion.outcome import QueueMessage
from cio_security.deletion.processor import DeletionProcessor
from cio_security.deletion.routing import WorkspaceRoutes
from cio_security.deletion.settings import DeletionSettings
from cio_security.deletion.verification_protocol import ErasureVerifier
from cio_security.deletion.verification_settings import VerificationSettings
from cio_security.errors import AuthenticationError, SecretError, ServerError
from cio_security.workspaces import UnknownWorkspaceError, workspaces_from_env
from fixtures.audit import MemoryAuditStore

from .conftest import PEPPER, FakeClock, FakeTrackClient, RecordingVerifier

US, EU = "prod-us", "prod-eu"
IDENTIFIER = "fan-out-person-1"


def body(request_id: str = "dsar-fan-1", **fields: Any) -> str:

    return json.dumps(
        {"request_id": request_id, "identifier": IDENTIFIER, "requested_at": "2026-11-28T10:00:00Z"} | fields
    )


def routes(
    clients: dict[str, FakeTrackClient], verifiers: dict[str, ErasureVerifier | None] | None = None
) -> WorkspaceRoutes:
    found = verifiers or {}
    return WorkspaceRoutes(list(clients), clients.__getitem__, found.get)


@pytest.fixture
def clients() -> dict[str, FakeTrackClient]:
    return {US: FakeTrackClient(), EU: FakeTrackClient()}


def processor(
    store: MemoryAuditStore, route: WorkspaceRoutes, clock: FakeClock | None = None, **kwargs: Any
) -> DeletionProcessor:
    return DeletionProcessor(route, store, PEPPER, clock=clock or FakeClock(), **kwargs)


def test_one_batch_per_workspace_and_one_record(clients: dict[str, FakeTrackClient]) -> None:
    store = MemoryAuditStore()
    outcomes = processor(store, routes(clients)).process_batch(
        [QueueMessage(body("dsar-a")), QueueMessage(body("dsar-b").replace(IDENTIFIER, "fan-out-person-2"))]
    )
    assert [o.kind for o in outcomes] == ["completed", "completed"]
    assert [len(batch) for batch in clients[US].batches] == [2]
    assert [len(batch) for batch in clients[EU].batches] == [2]
    assert {(c.workspace, c.status_code) for o in outcomes for c in o.calls} == {(US, 200), (EU, 200)}
    record = store.get("dsar-a")
    assert record is not None
    assert (record.status, set(record.workspaces)) == ("completed", {US, EU})


def test_a_subset_sends_to_its_workspaces_only(clients: dict[str, FakeTrackClient]) -> None:
    store = MemoryAuditStore()
    outcome = processor(store, routes(clients)).process_message(body(workspaces=[EU]))
    assert outcome.kind == "completed"
    assert (clients[US].batches, len(clients[EU].batches)) == ([], 1)


def test_unknown_workspaces_are_a_schema_error_naming_the_field(clients: dict[str, FakeTrackClient]) -> None:
    store = MemoryAuditStore()
    outcome = processor(store, routes(clients)).process_message(body(workspaces=[EU, "prod-apac"]))
    assert (outcome.kind, outcome.reason, outcome.fields) == ("permanent", "schema_error", ("workspaces",))
    assert clients[US].batches == clients[EU].batches == []
    assert store.records() == []


def test_another_subset_under_the_same_request_id_is_a_conflict(clients: dict[str, FakeTrackClient]) -> None:
    store = MemoryAuditStore()
    clients[EU].script(ServerError("x", status=503))
    clients[EU].script(ServerError("x", status=503), ServerError("x", status=503))
    run = processor(store, routes(clients))
    assert run.process_message(body()).kind == "retry"
    outcome = run.process_message(body(workspaces=[US]))
    assert (outcome.kind, outcome.reason) == ("permanent", "request_id_conflict")
    record = store.get("dsar-fan-1")
    assert record is not None and record.lease_token is None  # released, untouched otherwise


def test_a_transient_failure_resumes_the_failing_workspace_alone(clients: dict[str, FakeTrackClient]) -> None:
    store, clock = MemoryAuditStore(), FakeClock()
    clients[EU].script(ServerError("x", status=503))
    run = processor(store, routes(clients), clock)
    first = run.process_message(body())
    assert (first.kind, first.reason, first.workspace) == ("retry", "customerio_503", EU)
    clock.advance(seconds=1)
    assert run.process_message(body()).kind == "completed"
    assert (len(clients[US].batches), len(clients[EU].batches)) == (1, 2)


def test_a_permanent_failure_names_the_workspace(clients: dict[str, FakeTrackClient]) -> None:
    store = MemoryAuditStore()
    clients[EU].script(AuthenticationError("x", status=401))
    outcome = processor(store, routes(clients)).process_message(body())
    assert (outcome.kind, outcome.reason, outcome.workspace) == ("permanent", "customerio_401", EU)
    record = store.get("dsar-fan-1")
    assert record is not None
    assert (record.status, record.workspaces[US].status, record.workspaces[EU].status) == (
        "failed",
        "completed",
        "failed",
    )


def test_each_workspace_has_its_own_verifier(clients: dict[str, FakeTrackClient]) -> None:
    store, us_verifier = MemoryAuditStore(), RecordingVerifier()
    outcome = processor(store, routes(clients, {US: us_verifier, EU: None})).process_message(body())
    assert outcome.kind == "submitted"
    assert [rid for rid, _, _ in us_verifier.scheduled] == ["dsar-fan-1"]
    record = store.get("dsar-fan-1")
    assert record is not None
    assert (record.workspaces[US].verification, record.workspaces[EU].verification) == (
        "pending",
        "not_verified",
    )
    assert (record.status, record.verification) == ("submitted", "pending")


def test_a_verifier_that_cannot_be_built_is_decided_on_the_redelivery(
    clients: dict[str, FakeTrackClient],
) -> None:
    store, clock, verifier = MemoryAuditStore(), FakeClock(), RecordingVerifier()
    attempts: list[str] = []

    def flaky(name: str) -> ErasureVerifier | None:
        attempts.append(name)
        if len(attempts) == 1:
            raise SecretError("the App API key secret could not be read")
        return verifier if name == US else None

    run = processor(store, WorkspaceRoutes([US, EU], clients.__getitem__, flaky), clock)
    first = run.process_message(body())
    assert (first.kind, first.reason) == ("retry", "verification_unavailable")
    clock.advance(seconds=1)
    assert run.process_message(body()).kind == "submitted"
    assert (len(clients[US].batches), len(clients[EU].batches)) == (1, 1)  # no Track call again
    assert [rid for rid, _, _ in verifier.scheduled] == ["dsar-fan-1"]


ANSWER = st.sampled_from([200, 503, 401])


def answer(status: int) -> int | Exception:
    if status == 503:
        return ServerError("x", status=status)
    return status if status == 200 else AuthenticationError("x", status=status)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.dictionaries(st.sampled_from([US, EU]), st.lists(ANSWER, max_size=4), min_size=0))
def test_a_workspace_accepted_is_never_sent_to_again(answers: dict[str, list[int]]) -> None:
    fakes = {US: FakeTrackClient(), EU: FakeTrackClient()}
    for name, script in answers.items():
        fakes[name].script(
            *[
                s
                if s == 200
                else (ServerError("x", status=s) if s == 503 else AuthenticationError("x", status=s))
                for s in script
            ]
        )
    store, clock = MemoryAuditStore(), FakeClock()
    run = processor(store, routes(fakes), clock)
    for _ in range(6):
        outcome = run.process_message(body())
        clock.advance(seconds=1)
        if outcome.kind != "retry":
            break
    record = store.get("dsar-fan-1")
    assert record is not None
    for name, fake in fakes.items():
        sent = len(fake.batches)
        accepted_calls = sum(
            1 for index in range(sent) if (answers.get(name, [])[index : index + 1] or [200])[0] == 200
        )
        assert accepted_calls <= 1  # after the one accepted call, the workspace is never called again
        assert record.workspaces[name].accepted == (accepted_calls == 1)
    assert (record.status == "completed") == all(s.accepted for s in record.workspaces.values())


# -- the routes ----------------------------------------------------------------------------------------


def test_routes_build_each_client_once_and_retry_a_factory_that_failed() -> None:
    built: list[str] = []

    def factory(name: str) -> FakeTrackClient:
        built.append(name)
        if len(built) == 1:
            raise SecretError("not readable yet")
        return FakeTrackClient()

    route = WorkspaceRoutes([US, EU], factory)
    with pytest.raises(SecretError):
        route.client(EU)
    assert route.client(EU) is route.client(EU)
    assert built == [EU, EU]
    assert route.verifier(US) is None
    with pytest.raises(UnknownWorkspaceError):
        route.client("prod-apac")
    assert route.select(None) == (US, EU)
    assert route.select([EU, US]) == (US, EU)
    with pytest.raises(UnknownWorkspaceError) as caught:
        route.select(["prod-apac", EU])
    assert caught.value.names == ("prod-apac",)


def test_a_second_message_of_a_request_in_the_batch_naming_other_workspaces_is_a_conflict(
    clients: dict[str, FakeTrackClient],
) -> None:
    store = MemoryAuditStore()
    outcomes = processor(store, routes(clients)).process_batch(
        [
            QueueMessage(body()),
            QueueMessage(body(workspaces=[US, EU])),  # the same workspaces, named
            QueueMessage(body(workspaces=[EU])),
            QueueMessage(body(workspaces=["prod-apac"])),
        ]
    )
    assert [(o.kind, o.reason) for o in outcomes] == [
        ("completed", None),
        ("already_done", None),
        ("permanent", "request_id_conflict"),
        ("permanent", "schema_error"),
    ]
    assert (len(clients[US].batches), len(clients[EU].batches)) == (1, 1)


def test_each_workspace_gets_its_share_of_its_own_budget() -> None:

    stack = workspaces_from_env(
        {
            "CUSTOMERIO_WORKSPACES": f"{US},{EU}",
            "CUSTOMERIO_WORKSPACE_SECRET_PREFIX": "s/",
            "CUSTOMERIO_RATE_LIMIT_RPS": "100",
            "CUSTOMERIO_WORKSPACE_RATE_LIMITS": f"{EU}=30",
            "CUSTOMERIO_WORKSPACE_APP_RATE_LIMITS": f"{US}=4",
        }
    )
    deletion = DeletionSettings(audit_table="t", dead_letter_queue_url="q", max_concurrency=5)
    assert (deletion.rate_for(stack.get(US)), deletion.rate_for(stack.get(EU))) == (20.0, 6.0)
    verification = VerificationSettings(
        queue_url="q",
        dead_letter_queue_url="d",
        audit_table="t",
        app_api_key_secret_id="s",
        max_concurrency=2,
    )
    assert (verification.rate_for(stack.get(US)), verification.rate_for(stack.get(EU))) == (2.0, 5.0)
