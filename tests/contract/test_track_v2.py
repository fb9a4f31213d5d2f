"""Track API v2 contract: the documented entity and batch examples and the documented person
operations (tests/contract/documented.py, with their sources), (a) sent verbatim to the sandbox,
(b) the documented 200, 207 and 400 answers parsed by the client (``TrackClient.batch``)."""

from __future__ import annotations

import json

import httpx
import pytest

from cio_security.customerio.track import TrackClient
from cio_security.customerio.v2 import BatchResult, OperationError, PersonOperation, parse_batch_errors
from cio_security.errors import AuthenticationError, BadRequestError
from ciosec.sandbox import Sandbox
from fixtures.sandbox import (
    FAST_RETRY,
    SANDBOX_API_KEY,
    SANDBOX_ENVIRONMENT_ID,
    SANDBOX_SITE_ID,
    SANDBOX_TRACK_CREDENTIALS,
)

from .documented import (
    BATCH,
    BATCH_207_ERROR_FIELDS,
    ENTITY,
    IDENTIFIER_EXAMPLES,
    PERSON_OPERATION_EXAMPLES,
    V2_400_ERROR_FIELDS,
    Exchange,
    conforms,
)

AUTH = (SANDBOX_SITE_ID, SANDBOX_API_KEY)


def send(sandbox: Sandbox, exchange: Exchange, auth: tuple[str, str] | None = AUTH) -> httpx.Response:
    return httpx.request(
        exchange.method, f"{sandbox.url}{exchange.path}", json=exchange.request, auth=auth, timeout=2
    )


def post(sandbox: Sandbox, path: str, body: object) -> httpx.Response:
    return httpx.post(f"{sandbox.url}{path}", json=body, auth=AUTH, timeout=2)


def mock_client(status: int, body: object) -> TrackClient:
    content = json.dumps(body).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    return TrackClient(
        SANDBOX_TRACK_CREDENTIALS,
        retry=FAST_RETRY.with_changes(max_attempts=1),
        transport=httpx.MockTransport(handler),
    )


# -- (a) the sandbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize("exchange", [ENTITY, BATCH], ids=["entity", "batch"])
def test_the_documented_request_gets_the_documented_200(sandbox: Sandbox, exchange: Exchange) -> None:
    response = send(sandbox, exchange)
    assert (response.status_code, response.json()) == (exchange.status, exchange.response)
    assert sandbox.people()["42"]["first_name"] == "Jane"
    assert send(sandbox, exchange, None).status_code == 401


@pytest.mark.parametrize("name", list(PERSON_OPERATION_EXAMPLES))
@pytest.mark.parametrize("path", ["/api/v2/entity", "/api/v2/batch"])
def test_each_documented_person_operation_is_accepted(sandbox: Sandbox, name: str, path: str) -> None:
    operation = PERSON_OPERATION_EXAMPLES[name]
    body = operation if path.endswith("entity") else {"batch": [operation]}
    response = post(sandbox, path, body)
    assert (response.status_code, response.json()) == (200, {})


def test_the_documented_person_operations_do_what_they_say(sandbox: Sandbox) -> None:
    ops = PERSON_OPERATION_EXAMPLES
    post(sandbox, "/api/v2/batch", {"batch": [ops["identify_person"], ops["person_event"]]})
    assert sandbox.people() == {"42": {"first_name": "Jane", "last_name": "Doe", "plan": "premium"}}
    assert [(e["name"], e["data"]) for e in sandbox.events("42")] == [
        ("purchase", {"product": "Widget", "price": 29.99})
    ]
    post(sandbox, "/api/v2/entity", ops["person_suppress"])
    assert (sandbox.people(), sandbox.suppressed()) == ({}, {"42"})
    post(sandbox, "/api/v2/entity", ops["identify_person"])
    assert sandbox.people() == {}  # a suppressed identifier is ignored
    post(sandbox, "/api/v2/entity", ops["person_unsuppress"])
    post(sandbox, "/api/v2/entity", ops["identify_person"])
    post(sandbox, "/api/v2/entity", ops["person_delete"])
    assert sandbox.people() == {}


@pytest.mark.parametrize(("id_type", "value"), list(IDENTIFIER_EXAMPLES.items()))
def test_each_documented_identifier_type_names_a_person(sandbox: Sandbox, id_type: str, value: str) -> None:
    if id_type == "cio_id":
        sandbox.add_person(f"cio_{value}")  # identify by cio_id only updates: someone must exist
    operation = {
        "type": "person",
        "identifiers": {id_type: value},
        "action": "identify",
        "attributes": {"a": 1},
    }
    assert post(sandbox, "/api/v2/entity", operation).json() == {}
    identities = sandbox.state()["identities"][str(SANDBOX_ENVIRONMENT_ID)]
    found = [p for p in identities.values() if p[id_type] == value]
    assert len(found) == 1


def test_the_207_answer_has_the_documented_shape_and_the_others_are_applied(sandbox: Sandbox) -> None:
    ops = PERSON_OPERATION_EXAMPLES
    broken = {
        "type": "person",
        "identifiers": {"id": "42", "email": "test@example.com"},
        "action": "suppress",
    }
    response = post(
        sandbox, "/api/v2/batch", {"batch": [ops["identify_person"], broken, ops["person_event"]]}
    )
    assert response.status_code == 207
    errors = response.json()["errors"]
    assert conforms(errors, [BATCH_207_ERROR_FIELDS])
    assert [e["batch_index"] for e in errors] == [1]
    assert "42" in sandbox.people()  # "all other requests are accepted"
    assert len(sandbox.events("42")) == 1


@pytest.mark.parametrize("path", ["/api/v2/entity", "/api/v2/batch"])
def test_a_whole_request_failure_has_the_documented_400_shape(sandbox: Sandbox, path: str) -> None:
    response = post(sandbox, path, ["not", "an", "object"])
    assert response.status_code == 400
    assert conforms(response.json(), {"errors": [V2_400_ERROR_FIELDS]})


# -- (b) the client's parsing ------------------------------------------------------------------------

OPERATIONS = [PersonOperation("suppress", "id", "42"), PersonOperation("delete", "email", "test@example.com")]


def test_the_client_reads_the_documented_200() -> None:
    with mock_client(200, {}) as client:
        assert client.batch(OPERATIONS) == BatchResult(200)


def test_the_client_reads_a_207_of_the_documented_shape() -> None:
    body = {
        "errors": [{"batch_index": 1, "reason": "invalid", "field": "identifiers.email", "message": "bad"}]
    }
    assert conforms(body["errors"], [BATCH_207_ERROR_FIELDS])
    assert parse_batch_errors(json.dumps(body).encode(), 2) == {1: OperationError(1, "invalid")}
    with mock_client(207, body) as client:
        result = client.batch(OPERATIONS)
    assert (result.status, result.failed(0), result.failed(1)) == (207, None, OperationError(1, "invalid"))


@pytest.mark.parametrize(("status", "error"), [(400, BadRequestError), (401, AuthenticationError)])
def test_the_client_reads_a_whole_request_failure(status: int, error: type[Exception]) -> None:
    body = {"errors": [{"reason": "invalid", "field": "batch", "message": "bad"}]}
    with mock_client(status, body) as client, pytest.raises(error):
        client.batch(OPERATIONS)


def test_the_client_and_the_sandbox_agree_on_a_207(sandbox: Sandbox, track_client: TrackClient) -> None:
    sandbox.add_person("42")
    sandbox.add_person("test@example.com")
    sandbox.fail_operations(identifier="test@example.com", reason="internal_error")
    result = track_client.batch(OPERATIONS)
    assert result.status == 207
    assert dict(result.errors) == {1: OperationError(1, "internal_error")}
    assert set(sandbox.people()) == {"test@example.com"}  # only the refused operation was not applied
    body = sandbox.requests()[-1].body
    assert body == {"batch": [op.payload() for op in OPERATIONS]}
    assert conforms(body["batch"][0], {"type": str, "identifiers": {"id": str}, "action": str})
