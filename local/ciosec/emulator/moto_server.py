"""moto's server for the local stack, with every DynamoDB request atomic, as in DynamoDB.

DynamoDB applies a write and its ``ConditionExpression`` as one atomic operation: of two
concurrent conditional writes on one item that the same item state satisfies, one succeeds and
the other fails with ConditionalCheckFailedException (the audit store's optimistic locking on
``revision`` relies on it). moto's ``ThreadedMotoServer`` serves each request on its own thread
and its DynamoDB backend takes no lock: ``UpdateItem`` reads the item, evaluates the condition,
then changes the item in place, so two concurrent writes can both pass the condition and the
second overwrites the first (a lost update no real table makes), and a read can see a write half
applied. ``LocalMotoServer`` serves DynamoDB requests one at a time (one lock for the service,
held while moto handles the request and builds the response); every other service is served
concurrently, as before.

>>> server = LocalMotoServer(ip_address="127.0.0.1", port=0, verbose=False)   # doctest: +SKIP
>>> server.start()                                                           # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from moto.server import ThreadedMotoServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["DYNAMODB_TARGET_PREFIX", "LocalMotoServer", "SerialisedDynamoDB"]

DYNAMODB_TARGET_PREFIX: Final = "DynamoDB_"
"""How every DynamoDB request's ``X-Amz-Target`` header starts (``DynamoDB_20120810.UpdateItem``;
DynamoDB Streams' is ``DynamoDBStreams_...``)."""


class SerialisedDynamoDB:
    """WSGI middleware over moto's application: a DynamoDB request (by its ``X-Amz-Target``) is
    handled under one lock, its response body read in full before the lock is released; any other
    request goes straight through."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(DYNAMODB_TARGET_PREFIX):
            return self.app(environ, start_response)
        with self.lock:
            body = self.app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                close: Any = getattr(body, "close", None)
                if callable(close):
                    close()


class LocalMotoServer(ThreadedMotoServer):
    """``ThreadedMotoServer`` whose DynamoDB requests are served one at a time
    (``SerialisedDynamoDB``; module docstring)."""

    def start(self) -> None:
        super().start()
        # No request reaches the server before start() returns: wrap its application now. The
        # request handler reads ``server.app`` for every request.
        server = self._server
        if server is None:  # pragma: no cover - start() waits until the server exists
            raise RuntimeError("moto's server did not start")
        server.app = SerialisedDynamoDB(server.app)
