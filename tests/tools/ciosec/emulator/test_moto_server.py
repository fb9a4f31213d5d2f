"""The local stack's moto server makes every DynamoDB request atomic, as DynamoDB does: of two
concurrent writes conditional on the same item state, one succeeds and the other fails its
condition, so the audit store's optimistic locking (``revision``) holds on the local stack too.

moto evaluates an UpdateItem's condition and then changes the item, without a lock; the tests
hold each write between the two (at UpdateExpressionExecutor.execute) until the other arrives, so
on moto's own threaded server both writes pass their condition every time (the local stack's flaky
"submitted/pending" erasure), deterministically rather than once in a while."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
from moto.server import ThreadedMotoServer

from cio_security.audit import transitions
from cio_security.audit.dynamodb import AuditStore
from cio_security.audit.record import AuditRecord
from cio_security.deletion.request import DeletionRequest
from ciosec.emulator.moto_server import LocalMotoServer, SerialisedDynamoDB
from fixtures.aws import REGION
from fixtures.template import table_definition

TABLE = "audit-local"
US, EU = "us", "eu"
START = datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
HOLD_SECONDS = 0.5
"""How long a write waits, condition passed, for the other write to reach the same point."""


def _server(kind: type[ThreadedMotoServer]) -> Iterator[Any]:
    server = kind(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://{host}:{port}",
        region_name=REGION,
        config=Config(max_pool_connections=4, retries={"max_attempts": 1}),
    )
    client.create_table(TableName=TABLE, **table_definition("AuditTable"))
    try:
        yield client
    finally:
        # moto's backends live in this process: leave none of this test's tables behind.
        httpx.post(f"http://{host}:{port}/moto-api/reset", timeout=10.0)
        server.stop()


@pytest.fixture
def local_dynamodb() -> Iterator[Any]:
    """A DynamoDB client on the local stack's moto server, with the audit table."""
    yield from _server(LocalMotoServer)


@pytest.fixture
def moto_dynamodb() -> Iterator[Any]:
    """The same on moto's own threaded server (the premise: it does not serialise)."""
    yield from _server(ThreadedMotoServer)


@pytest.fixture
def overlapping(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to hold each UpdateItem, its condition met, until a second one gets there too (or
    ``HOLD_SECONDS`` pass): two concurrent writes overlap whenever the server lets them."""

    def hold() -> None:
        barrier = threading.Barrier(2, timeout=HOLD_SECONDS)
        execute = UpdateExpressionExecutor.execute

        def held(self: UpdateExpressionExecutor, node: Any = None) -> None:
            if node is None:  # the whole update (execute recurses into its parts)
                # A broken barrier: the other write is not (and cannot be) in the middle of its own.
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()
            execute(self, node)

        monkeypatch.setattr(UpdateExpressionExecutor, "execute", held)

    return hold


def _conditional_writes(client: Any) -> list[bool]:
    """Two concurrent UpdateItems on one item, each conditional on ``revision = 0`` and setting it
    to 1 with its own attribute: which succeeded."""
    key = {"request_id": {"S": "race-1"}}
    client.put_item(TableName=TABLE, Item={**key, "revision": {"N": "0"}})

    def write(name: str) -> bool:
        try:
            client.update_item(
                TableName=TABLE,
                Key=key,
                UpdateExpression="SET #revision = :next, #mine = :yes",
                ConditionExpression="#revision = :seen",
                ExpressionAttributeNames={"#revision": "revision", "#mine": name},
                ExpressionAttributeValues={":next": {"N": "1"}, ":seen": {"N": "0"}, ":yes": {"S": "y"}},
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(write, ["first", "second"]))


def test_two_concurrent_conditional_writes_never_both_succeed(
    local_dynamodb: Any, overlapping: Callable[[], None]
) -> None:
    overlapping()
    assert sorted(_conditional_writes(local_dynamodb)) == [False, True]
    item = local_dynamodb.get_item(TableName=TABLE, Key={"request_id": {"S": "race-1"}})["Item"]
    assert item["revision"] == {"N": "1"}
    assert ("first" in item) != ("second" in item)  # the loser wrote nothing


def test_motos_own_threaded_server_lets_both_succeed(
    moto_dynamodb: Any, overlapping: Callable[[], None]
) -> None:
    """The premise of ``LocalMotoServer``. Should a moto upgrade make this fail, moto applies
    conditional writes atomically itself and ``SerialisedDynamoDB`` may be dropped."""
    overlapping()
    assert _conditional_writes(moto_dynamodb) == [True, True]


def _awaiting_verification_in_both(store: AuditStore) -> AuditRecord:
    """A request accepted in ``us`` and ``eu``, both awaiting verification (as the deletion
    function leaves it)."""
    request = DeletionRequest.model_validate(
        {"request_id": "local-race-1", "identifier": "demo-user-1", "requested_at": "2026-11-28T10:00:00Z"}
    )
    record = store.begin(request, START, "0" * 64, 60, workspaces=(US, EU), primary=US)

    def accept(r: AuditRecord) -> AuditRecord:
        for name in (US, EU):
            r = transitions.workspace_accepted(
                r, name, "suppress", START, status_code=200, customerio_request_id="c", verified=True
            )
        return transitions.settled(transitions.verification_scheduled(r, (US, EU), START), START)

    return store.write_held(record, accept)


def _verify_both_at_once(store: AuditStore, seen: AuditRecord) -> AuditRecord | None:
    """Both workspaces' checks of one request write "verified" at once, from the same read, as the
    verification function's thread pool does with both tickets in one batch."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(
            pool.map(
                lambda name: store.record_verified(
                    "local-race-1", START, checks=1, seen=seen, workspace=name
                ),
                (US, EU),
            )
        )
    return store.get("local-race-1")


def test_both_workspaces_verified_at_once_complete_the_request(
    local_dynamodb: Any, overlapping: Callable[[], None]
) -> None:
    store = AuditStore(TABLE, client=local_dynamodb)
    seen = _awaiting_verification_in_both(store)
    overlapping()
    record = _verify_both_at_once(store, seen)
    assert record is not None
    assert {name: state.verification for name, state in record.workspaces.items()} == {
        US: "verified",
        EU: "verified",
    }
    assert (record.status, record.verification) == ("completed", "verified")
    assert record.revision == seen.revision + 2  # two writes: the loser re-read and wrote again


def test_on_motos_own_server_one_workspaces_verification_is_lost(
    moto_dynamodb: Any, overlapping: Callable[[], None]
) -> None:
    """The local stack's flake, made certain: one write overwrites the other."""
    store = AuditStore(TABLE, client=moto_dynamodb)
    seen = _awaiting_verification_in_both(store)
    overlapping()
    record = _verify_both_at_once(store, seen)
    assert record is not None
    assert sorted(state.verification or "" for state in record.workspaces.values()) == [
        "pending",
        "verified",
    ]
    assert (record.status, record.verification) == ("submitted", "pending")


def start_response(*_: Any) -> Any:
    return None


def test_only_dynamodb_requests_are_serialised() -> None:
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ.get("HTTP_X_AMZ_TARGET", "none"))
        if environ.get("block"):
            entered.set()
            release.wait(5)
        start_response("200 OK", [])
        return [b"a", b"b"]

    wrapped = SerialisedDynamoDB(app)
    blocked = threading.Thread(
        target=wrapped,
        args=({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.UpdateItem", "block": True}, start_response),
    )
    blocked.start()
    assert entered.wait(5)
    # Another service is not held up by a DynamoDB request in progress; DynamoDB is.
    assert wrapped({"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage"}, start_response) == [b"a", b"b"]
    assert not wrapped.lock.acquire(blocking=False)
    release.set()
    blocked.join(5)
    assert wrapped({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.GetItem"}, start_response) == [b"ab"]
    assert calls == [
        "DynamoDB_20120810.UpdateItem",
        "AmazonSQS.SendMessage",
        "DynamoDB_20120810.GetItem",
    ]
