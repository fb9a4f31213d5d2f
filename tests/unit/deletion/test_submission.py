"""submission.submit: the Track v2 batch answers, one result per operation, in order."""

from __future__ import annotations

from typing import Any

import pytest

from cio_security.customerio.v2 import MAX_BATCH_BYTES, PersonOperation
from cio_security.deletion.submission import Accepted, Refused, rejected_reason, submit
from cio_security.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    RateLimitedError,
    TransportError,
)

from .conftest import FakeTrackClient, Sent


def ops(count: int, action: str = "suppress") -> list[PersonOperation]:
    return [PersonOperation(action, "id", f"person-{i}") for i in range(count)]  # type: ignore[arg-type]


def test_a_200_accepts_every_operation_with_the_request_id() -> None:
    client = FakeTrackClient()
    assert submit(client, ops(3)) == [Accepted(200, "req-fake")] * 3
    assert len(client.batches) == 1


def test_a_207_refuses_only_what_it_names() -> None:
    client = FakeTrackClient()
    client.script({0: "invalid_identifiers", 2: "not a code!"})
    assert submit(client, ops(3)) == [
        Refused("permanent", "customerio_rejected_invalid_identifiers", 207, "req-fake"),
        Accepted(207, "req-fake"),
        Refused("permanent", "customerio_rejected_unknown", 207, "req-fake"),
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RateLimitedError("x", status=429, request_id="r9"), Refused("retry", "customerio_429", 429, "r9")),
        (TransportError("x"), Refused("retry", "customerio_unreachable")),
        (AuthenticationError("x", status=401), Refused("permanent", "customerio_401", 401)),
        (NotFoundError("x", status=404), Refused("permanent", "customerio_404", 404)),
        (ConfigurationError("no credentials"), Refused("retry", "configuration", sent=False)),
        (RuntimeError("bug"), Refused("retry", "unexpected_error", sent=False)),
    ],
)
def test_a_whole_request_failure_is_every_operations(error: Exception, expected: Refused) -> None:
    client = FakeTrackClient()
    client.script(error)
    assert submit(client, ops(4)) == [expected] * 4
    assert len(client.batches) == 1


def test_a_400_is_bisected_until_each_refused_operation_is_alone() -> None:
    bad = {"person-2", "person-7"}

    def refuse(sent: list[Sent]) -> Any:
        return BadRequestError("x", status=400) if bad & {v for _, _, v in sent} else 200

    client = FakeTrackClient()
    client.script(*[refuse] * 50)
    results = submit(client, ops(8))
    assert [i for i, r in enumerate(results) if isinstance(r, Refused)] == [2, 7]
    assert results[2] == Refused("permanent", "customerio_400", 400)
    assert sum(isinstance(r, Accepted) for r in results) == 6
    assert len(client.batches) < 2 * 8  # log-depth splits, not one request per operation


def test_operations_beyond_one_request_are_chunked_in_order() -> None:
    client = FakeTrackClient()
    big = [PersonOperation("delete", "id", f"{i:04d}" + "x" * 140) for i in range(4000)]
    results = submit(client, big)
    assert all(isinstance(r, Accepted) for r in results)
    assert len(client.batches) > 1
    assert [v for batch in client.batches for _, _, v in batch] == [op.identifier for op in big]
    for batch in client.batches:
        assert sum(len(v) for _, _, v in batch) < MAX_BATCH_BYTES


def test_no_request_without_time_for_it() -> None:
    client = FakeTrackClient()
    assert submit(client, ops(2), may_call=lambda: False) == [Refused("retry", "out_of_time", sent=False)] * 2
    assert client.batches == []


def test_an_operation_that_cannot_be_encoded_is_refused_before_sending() -> None:
    client = FakeTrackClient()
    results = submit(client, [PersonOperation("suppress", "id", "bad-\ud800"), *ops(1)])
    assert results == [Refused("permanent", "operation_invalid", sent=False), Accepted(200, "req-fake")]
    assert [len(b) for b in client.batches] == [1]


def test_rejected_reasons_are_short_codes() -> None:
    assert rejected_reason("invalid_identifiers") == "customerio_rejected_invalid_identifiers"
    assert rejected_reason("x" * 65) == "customerio_rejected_unknown"
    assert rejected_reason("a@b.c") == "customerio_rejected_unknown"
