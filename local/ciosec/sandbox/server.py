"""The sandbox's HTTP server: a threaded server on 127.0.0.1 that hands each request to the
``Sandbox`` (a Track route, an App API route under ``/app``, or the admin API) and turns its
``Reply`` into an answer, a hang or a connection reset. It tracks its threads and connections so
``Sandbox.stop()`` ends them all.

Every response carries an ``X-Request-Id``. Nothing is logged per request: the request line holds
identifiers and headers hold credentials.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from ciosec.sandbox.admin_api import is_admin_path
from ciosec.sandbox.app_api import is_app_path
from ciosec.sandbox.models import Reply, error_reply

if TYPE_CHECKING:
    from ciosec.sandbox.sandbox import Sandbox

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
IDLE_CONNECTION_SECONDS = 30.0


class SandboxHTTPServer(ThreadingHTTPServer):
    """Serves one ``Sandbox``; tracks its handler threads and open connections."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, sandbox: Sandbox, address: tuple[str, int]) -> None:
        self.sandbox = sandbox
        self.threads: set[threading.Thread] = set()
        self.connections: set[socket.socket] = set()
        self.tracking = threading.Lock()
        super().__init__(address, RequestHandler)

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._run, args=(request, client_address), name="cio-sandbox-request", daemon=True
        )
        with self.tracking:
            self.threads.add(thread)
            self.connections.add(request)
        thread.start()

    def _run(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.tracking:
                self.threads.discard(threading.current_thread())
                self.connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; an error text may quote a path or a body.
        logger.debug("sandbox: a connection ended with an error")


class RequestHandler(BaseHTTPRequestHandler):
    """One connection: reads the request, asks the sandbox, writes (or withholds) the answer."""

    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "cio-sandbox"
    sys_version = ""
    timeout = IDLE_CONNECTION_SECONDS
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request line holds identifiers, and headers hold credentials."""

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        request_id = f"sbx-{uuid.uuid4().hex[:20]}"
        path = self.path.partition("?")[0]
        if is_admin_path(path):
            body = self._read_body(request_id)
            if body is None:
                return
            reply = sandbox.handle_admin(self.command, path, dict(self.headers.items()), body)
        else:
            if sandbox.config.latency:
                sandbox.pause(sandbox.config.latency)
            body = self._read_body(request_id)
            if body is None:
                return
            handle = sandbox.handle_app if is_app_path(path) else sandbox.handle_track
            reply = handle(self.command, self.path, self.headers.get("Authorization"), body, request_id)
        if reply.action == "reset":
            self._reset()
            return
        if reply.action == "hang":
            sandbox.pause(reply.hang_seconds)
            self.close_connection = True
            return
        self._respond(reply, request_id)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _dispatch  # noqa: N815

    def _read_body(self, request_id: str) -> bytes | None:
        """The request body, or None after answering 411/413 for one that cannot be read."""
        if self.headers.get("Transfer-Encoding"):
            self._respond(error_reply(411, "length required"), request_id)
            self.close_connection = True
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._respond(error_reply(413 if length > 0 else 400, "bad content length"), request_id)
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _respond(self, reply: Reply, request_id: str) -> None:
        if reply.body is None:
            data = b""
        elif reply.content_type == "application/json":
            data = json.dumps(reply.body).encode()
        else:
            data = str(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("X-Request-Id", request_id)
        if data:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _reset(self) -> None:
        """Close abruptly: SO_LINGER 0 makes close() send a TCP RST instead of a FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
