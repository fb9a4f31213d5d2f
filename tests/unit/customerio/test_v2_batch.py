"""Track API v2 batches: the documented operation shape, the size limits, and what a 200, a 207
and a whole-request failure mean (httpx.MockTransport: the documented responses, no network)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cio_security.customerio.track import TrackClient
from cio_security.customerio.v2 import (
    MAX_BATCH_BYTES,
    MAX_OPERATION_BYTES,
    BatchResult,
    OperationError,
    PersonOperation,
    batch_body,
    chunk,
    parse_batch_errors,
)
from cio_security.errors import BadRequestError, NotFoundError, ServerError
from fixtures.sandbox import FAST_RETRY, SANDBOX_TRACK_CREDENTIALS

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler) -> TrackClient:
    return TrackClient(
        SANDBOX_TRACK_CREDENTIALS,
        retry=FAST_RETRY.with_changes(max_attempts=1),
        transport=httpx.MockTransport(handler),
    )


def test_documented_operation_shapes() -> None:
    # docs.customer.io Journeys Track API, "person_suppress"/"person_delete" examples.
    assert PersonOperation("suppress", "id", "42").payload() == {
        "type": "person",
        "identifiers": {"id": "42"},
        "action": "suppress",
    }
    assert PersonOperation("delete", "email", "a@example.com").payload()["identifiers"] == {
        "email": "a@example.com"
    }
    assert PersonOperation("delete", "phone", "+14155552671").payload()["identifiers"] == {
        "phone": "+14155552671"
    }
    # v2 cio_ids carry no "cio_" prefix (the documented example is "a3000001").
    assert PersonOperation("suppress", "cio_id", "cio_a3000001").payload()["identifiers"] == {
        "cio_id": "a3000001"
    }
    assert PersonOperation("suppress", "cio_id", "a3000001").payload()["identifiers"] == {
        "cio_id": "a3000001"
    }


def test_batch_posts_the_operations_in_order_and_a_200_accepts_them_all() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={}, headers={"x-request-id": "req-1"})

    ops = [PersonOperation("suppress", "id", "u1"), PersonOperation("delete", "email", "b@example.com")]
    with client_for(handler) as client:
        result = client.batch(ops)
    assert result == BatchResult(200, "req-1")
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/api/v2/batch")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"].startswith("Basic ")
    assert json.loads(request.content) == {"batch": [op.payload() for op in ops]}


def test_a_207_names_the_failed_operations_and_never_keeps_field_or_message() -> None:
    body = {
        "errors": [
            {"batch_index": 1, "reason": "invalid", "field": "identifiers", "message": "bad@x quoted"},
        ]
    }
    with client_for(lambda _: httpx.Response(207, json=body)) as client:
        result = client.batch([PersonOperation("delete", "id", str(i)) for i in range(3)])
    assert result.status == 207
    assert result.errors == {1: OperationError(1, "invalid")}
    assert result.failed(0) is None and result.failed(2) is None
    assert "bad@x" not in repr(result)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b'{"errors": []}',
        b'{"errors": [{"batch_index": 3}]}',
        b'{"errors": [{"batch_index": -1}]}',
        b'{"errors": [{"batch_index": true}]}',
        b'{"errors": [{"reason": "x"}]}',
    ],
)
def test_a_207_that_does_not_say_what_failed_counts_nothing_as_accepted(content: bytes) -> None:
    with client_for(lambda _: httpx.Response(207, content=content)) as client, pytest.raises(ServerError):
        client.batch([PersonOperation("delete", "id", str(i)) for i in range(3)])


@pytest.mark.parametrize(("status", "error"), [(400, BadRequestError), (404, NotFoundError)])
def test_whole_request_failures_raise(status: int, error: type[Exception]) -> None:
    with client_for(lambda _: httpx.Response(status, json={"errors": []})) as client, pytest.raises(error):
        client.batch([PersonOperation("delete", "id", "u1")])


def test_an_odd_reason_is_reported_as_unknown() -> None:
    errors = parse_batch_errors(b'{"errors": [{"batch_index": 0, "reason": "a@b.c quoted"}]}', 1)
    assert errors == {0: OperationError(0, "unknown")}


def test_sizes_are_checked_before_sending() -> None:
    with client_for(lambda _: httpx.Response(200)) as client:
        with pytest.raises(BadRequestError):
            client.batch([])
        with pytest.raises(BadRequestError, match="32 KB"):
            client.batch([PersonOperation("delete", "id", "x" * MAX_OPERATION_BYTES)])
        with pytest.raises(BadRequestError, match="UTF-8"):
            client.batch([PersonOperation("delete", "id", "\ud800")])  # json.loads('"\\ud800"')


@given(
    st.lists(
        st.builds(
            PersonOperation,
            st.sampled_from(["suppress", "delete"]),
            st.sampled_from(["id", "email", "cio_id", "phone"]),
            st.text(min_size=1, max_size=3000),
        ),
        min_size=1,
        max_size=300,
    ),
    st.integers(min_value=4_000, max_value=MAX_BATCH_BYTES),
    st.integers(min_value=1, max_value=50),
)
def test_chunks_keep_order_and_stay_within_both_limits(
    ops: list[PersonOperation], max_bytes: int, max_operations: int
) -> None:
    batches = chunk(ops, max_bytes=max_bytes, max_operations=max_operations)
    assert [op for batch in batches for op in batch] == ops
    for batch in batches:
        assert 1 <= len(batch) <= max_operations
        assert len(batch_body([op.encoded() for op in batch])) <= max_bytes
