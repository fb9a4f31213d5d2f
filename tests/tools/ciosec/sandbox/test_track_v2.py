"""ciosec.sandbox.track_v2: /api/v2/entity and /api/v2/batch, explicit identifiers, the size
limits, 207 per-operation errors, and operation faults injected for the chaos suite."""

from __future__ import annotations

import httpx
import pytest

from ciosec.sandbox import Sandbox
from ciosec.sandbox.track_v2 import MAX_BATCH_BYTES, MAX_ENTITY_BYTES

from .conftest import CUSTOMERS, entity, identify


def person(action: str, **identifiers: str) -> dict:
    return {"type": "person", "identifiers": identifiers, "action": action}


def batch(http: httpx.Client, *operations: dict) -> httpx.Response:
    return http.post("/api/v2/batch", json={"batch": list(operations)})


# -- person actions ----------------------------------------------------------------------------------


def test_entity_identify_event_suppress_unsuppress_delete(sandbox: Sandbox, http: httpx.Client) -> None:
    response = entity(http, "identify", {"id": "42"}, attributes={"email": "j@example.com", "plan": "pro"})
    assert (response.status_code, response.json()) == (200, {})
    assert (
        entity(http, "event", {"email": "J@example.com"}, name="purchase", attributes={"n": 1}).json() == {}
    )
    assert [e["name"] for e in sandbox.events("42")] == ["purchase"]
    assert entity(http, "suppress", {"email": "j@example.com"}).status_code == 200
    assert sandbox.people() == {}
    assert sandbox.suppressed() == {"j@example.com", "42"}
    assert entity(http, "identify", {"id": "42"}).status_code == 200  # ignored: suppressed
    assert sandbox.people() == {}
    assert entity(http, "unsuppress", {"id": "42"}).status_code == 200
    assert sandbox.suppressed() == set()
    entity(http, "identify", {"phone": "+14155552671"})
    assert sandbox.person("+14155552671") is None  # v1 reads a phone number as an id
    assert entity(http, "delete", {"phone": "+14155552671"}).status_code == 200
    assert entity(http, "delete", {"id": "nobody"}).json() == {}  # 200 whether or not they existed
    assert sandbox.people() == {}


def test_identifiers_are_explicit_and_a_cio_id_has_no_prefix(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.add_person("cio_a3000001", {"plan": "pro"})
    assert entity(http, "suppress", {"cio_id": "cio_a3000001"}).status_code == 200  # names nobody
    assert set(sandbox.people()) == {"cio_a3000001"}
    assert entity(http, "suppress", {"cio_id": "a3000001"}).status_code == 200
    assert sandbox.people() == {}
    # No shape inference: an "id" that looks like an email is an id.
    entity(http, "identify", {"id": "x@example.com"})
    assert sandbox.person("x@example.com") is None


@pytest.mark.parametrize(
    ("identifiers", "field"),
    [
        ({}, "identifiers"),
        ({"id": "1", "email": "a@example.com"}, "identifiers"),
        ({"user_id": "1"}, "identifiers"),
        ({"id": 42}, "identifiers.id"),
        ({"email": ""}, "identifiers.email"),
        ({"id": "x" * 151}, "identifiers.id"),
    ],
)
def test_entity_refuses_a_person_without_exactly_one_identifier(
    sandbox: Sandbox, http: httpx.Client, identifiers: dict, field: str
) -> None:
    response = entity(http, "identify", identifiers)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == field
    assert error["reason"] == "invalid_identifiers"
    assert set(error) == {"reason", "field", "message"}
    assert sandbox.people() == {}


def test_other_documented_operations_are_accepted_but_not_modelled(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    response = batch(
        http,
        {**person("page", id="1"), "name": "/home"},
        {"type": "object", "identifiers": {"object_type_id": "1", "object_id": "acme"}, "action": "delete"},
        {"type": "delivery", "identifiers": {"id": "RPIyMTM6OjEyMzQ="}, "action": "event", "name": "opened"},
    )
    assert (response.status_code, response.json()) == (200, {})
    assert sandbox.people() == {}


# -- batches: 200, 207, 400 ----------------------------------------------------------------------------


def test_a_batch_applies_every_valid_operation_and_names_the_others_in_a_207(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    identify(http, "u1")
    identify(http, "u2")
    response = batch(
        http,
        person("suppress", id="u1"),
        person("suppress", id="u2", email="u2@example.com"),  # two identifiers
        {"type": "person", "identifiers": {"id": "u3"}, "action": "shred"},
        {"type": "account", "identifiers": {"id": "u3"}, "action": "delete"},
        person("delete", id="u2"),
        {**person("event", id="u4")},  # an event needs a name
    )
    assert response.status_code == 207
    errors = response.json()["errors"]
    assert [(e["batch_index"], e["reason"]) for e in errors] == [
        (1, "invalid_identifiers"),
        (2, "invalid_action"),
        (3, "invalid_type"),
        (5, "invalid_value"),
    ]
    assert all(set(e) == {"batch_index", "reason", "field", "message"} for e in errors)
    assert sandbox.people() == {}  # indexes 0 and 4 were applied
    assert sandbox.suppressed() == {"u1"}


def test_a_whole_batch_is_refused_for_what_is_not_a_batch(http: httpx.Client) -> None:
    for body in ({"batch": []}, {"batch": {}}, {"ops": []}):
        response = http.post("/api/v2/batch", json=body)
        assert response.status_code == 400
        assert set(response.json()["errors"][0]) == {"reason", "field", "message"}
    assert http.post("/api/v2/batch", content=b"[1]").status_code == 400
    assert http.post("/api/v2/batch", content=b"not json").status_code == 400
    assert http.post("/api/v2/entity", content=b"[]").status_code == 400


def test_v2_needs_basic_auth_and_post(sandbox: Sandbox, http: httpx.Client) -> None:
    assert (
        httpx.post(f"{sandbox.url}/api/v2/batch", json={"batch": [person("delete", id="1")]}).status_code
        == 401
    )
    assert httpx.post(f"{sandbox.url}/api/v2/entity", json=person("delete", id="1")).status_code == 401
    assert http.get("/api/v2/batch").status_code == 405
    assert http.post("/api/v2/other", json={}).status_code == 404


# -- size limits (the smaller reading of "KB": 500,000 and 32,000 bytes) -----------------------------


def padded(size: int, **identifiers: str) -> dict:
    """An identify operation whose compact JSON is exactly ``size`` bytes."""
    operation = {**person("identify", **identifiers), "attributes": {"pad": ""}}
    base = len(httpx.Request("POST", "/", json=operation).content)
    operation["attributes"]["pad"] = "x" * (size - base)
    return operation


def test_entity_is_limited_to_32_kb(sandbox: Sandbox, http: httpx.Client) -> None:
    fits = padded(MAX_ENTITY_BYTES, id="small")
    assert len(httpx.Request("POST", "/", json=fits).content) == MAX_ENTITY_BYTES
    assert http.post("/api/v2/entity", json=fits).status_code == 200
    over = http.post("/api/v2/entity", json=padded(MAX_ENTITY_BYTES + 1, id="big"))
    assert over.status_code == 400
    assert over.json()["errors"][0]["reason"] == "too_large"
    assert set(sandbox.people()) == {"small"}


def test_a_batch_is_limited_to_500_kb_and_each_operation_to_32_kb(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    response = batch(http, padded(MAX_ENTITY_BYTES + 1, id="big"), person("identify", id="small"))
    assert response.status_code == 207
    assert response.json()["errors"][0]["batch_index"] == 0
    assert response.json()["errors"][0]["reason"] == "too_large"
    assert set(sandbox.people()) == {"small"}
    operations = [padded(30_000, id=f"p{i}") for i in range(17)]  # about 510 KB in all
    assert len(httpx.Request("POST", "/", json={"batch": operations}).content) > MAX_BATCH_BYTES
    whole = batch(http, *operations)
    assert whole.status_code == 400
    assert whole.json()["errors"][0]["reason"] == "too_large"
    assert set(sandbox.people()) == {"small"}  # nothing of a refused request is applied


# -- injected operation faults -------------------------------------------------------------------------


def test_scripted_operation_faults_refuse_matching_operations_only(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    for pid in ("u1", "u2", "u3"):
        identify(http, pid)
    sandbox.fail_operations(action="suppress", identifier="u2", reason="internal_error", message="try again")
    response = batch(
        http, person("suppress", id="u1"), person("suppress", id="u2"), person("suppress", id="u3")
    )
    assert response.status_code == 207
    assert response.json() == {
        "errors": [
            {"batch_index": 1, "reason": "internal_error", "field": "identifiers", "message": "try again"}
        ]
    }
    assert set(sandbox.people()) == {"u2"}  # the refused operation was not applied
    assert sandbox.requests()[-1].fault == "scripted-operation:internal_error"
    assert batch(http, person("suppress", id="u2")).status_code == 200  # times=1: used up


def test_operation_faults_by_index_and_on_entity(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.fail_operations(2, batch_index=0)
    assert entity(http, "delete", {"id": "u1"}).status_code == 400  # /entity: the one operation's error
    response = batch(http, person("delete", id="a"), person("delete", id="b"))
    assert [e["batch_index"] for e in response.json()["errors"]] == [0]
    assert batch(http, person("delete", id="a")).status_code == 200


def test_random_operation_faults_are_seeded(sandbox: Sandbox, http: httpx.Client) -> None:
    def run() -> list[int]:
        sandbox.configure(faults={"operation_error_rate": 0.5, "seed": 7})
        ops = [person("delete", id=f"p{i}") for i in range(40)]
        return [e["batch_index"] for e in batch(http, *ops).json().get("errors", [])]

    first = run()
    assert first == run()
    assert 5 <= len(first) <= 35
    sandbox.configure(faults={"operation_error_rate": 1.0})
    assert len(batch(http, person("delete", id="x"), person("delete", id="y")).json()["errors"]) == 2


def test_whole_batch_failures_are_request_faults(sandbox: Sandbox, http: httpx.Client) -> None:
    identify(http, "u1")
    sandbox.fail_next(status=500, operation="batch")
    assert batch(http, person("suppress", id="u1")).status_code == 500
    assert set(sandbox.people()) == {"u1"}
    assert http.post(f"{CUSTOMERS}/u1/suppress").status_code == 200  # v1 is another operation
